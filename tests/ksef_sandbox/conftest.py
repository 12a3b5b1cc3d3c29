"""A live sandbox on a loopback port, driven by the independent ksef-client package."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from flask import Flask, Response, request
from ksef_client import KsefClient, KsefClientOptions
from ksef_client.services.auth import build_ksef_token_auth_request, encrypt_ksef_token
from werkzeug.serving import make_server

from integration.ksef_sandbox.app import SandboxConfig, create_sandbox_app
from integration.ksef_sandbox.state import Store
from tests.ksef_sandbox import conformance
from tests.reference import reference_dir


@dataclass
class Recorded:
    method: str
    rule: str
    status: int
    mimetype: str
    body: Any


@dataclass
class LiveSandbox:
    app: Flask
    url: str
    store: Store
    responses: list[Recorded] = field(default_factory=list)

    def client(self) -> KsefClient:
        return KsefClient(
            KsefClientOptions(
                base_url=self.url,
                allow_private_network_presigned_urls=True,
                strict_presigned_url_validation=False,
            )
        )

    def drain(self) -> None:
        self.app.extensions["ksef_sandbox.processor"].drain()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandbox]:
    db = tmp_path_factory.mktemp("sandbox") / "state.db"
    app = create_sandbox_app(
        SandboxConfig(
            database_url=f"sqlite:///{db}",
            permanent_storage_delay=dt.timedelta(0),
            hwm_lag=dt.timedelta(0),
            token_activation_delay=dt.timedelta(milliseconds=300),
        )
    )
    recorded: list[Recorded] = []

    @app.after_request
    def _record(response: Response) -> Response:
        if response.mimetype in ("application/json", "application/problem+json"):
            rule = request.url_rule.rule if request.url_rule else request.path
            recorded.append(
                Recorded(
                    request.method,
                    rule,
                    response.status_code,
                    response.mimetype,
                    json.loads(response.get_data() or b"null"),
                )
            )
        return response

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live = LiveSandbox(
        app,
        f"http://127.0.0.1:{server.server_port}",
        app.extensions["ksef_sandbox.store"],
        recorded,
    )
    yield live
    server.shutdown()


@pytest.fixture(autouse=True)
def _answers_match_open_api(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every JSON answer the live sandbox gives in a test validates against open-api.json
    (when the Ministry's reference files are at hand; the conformance tests say otherwise)."""
    if "sandbox" not in request.fixturenames or reference_dir() is None:
        yield
        return
    live: LiveSandbox = request.getfixturevalue("sandbox")
    start = len(live.responses)
    yield
    conformance.check(live.responses[start:])


class PresignedHttp:
    """ksef-client refuses pre-signed URLs on loopback hosts (a sound rule against SSRF in
    production); the sandbox lives on loopback in tests, so its helpers get this transport."""

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        skip_auth: bool = False,
        expected_status: set[int] | None = None,
        **_: Any,
    ) -> Any:
        response = httpx.request(method, url, headers=headers or {}, content=data)
        if expected_status and response.status_code not in expected_status:
            raise AssertionError(f"{method} {url}: {response.status_code} {response.text}")
        return response


_counter = iter(range(1, 10_000))


def fresh_nip() -> str:
    """A valid NIP not used by any other test."""
    base = 312_000_000 + next(_counter) * 7
    while True:
        base += 1
        digits = str(base)
        check = (
            sum(int(d) * w for d, w in zip(digits, (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
        )
        if check != 10:
            return digits + str(check)


def fresh_pesel() -> str:
    n = next(_counter)
    first = f"8501{(n % 28) + 1:02d}{n % 10000:04d}"
    total = sum(int(d) * w for d, w in zip(first, (1, 3, 7, 9, 1, 3, 7, 9, 1, 3), strict=True))
    return first + str((10 - total % 10) % 10)


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def authenticate_with_token(client: KsefClient, nip: str, token: str) -> dict[str, Any]:
    """The KSeF-token flow done with ksef-client; returns the redeemed tokens."""
    certs = client.security.get_public_key_certificates()
    cert = next(
        c for c in certs if "KsefTokenEncryption" in [str(getattr(u, "value", u)) for u in c.usage]
    )
    challenge = client.auth.get_challenge()
    encrypted = encrypt_ksef_token(
        public_certificate=cert.certificate, token=token, timestamp_ms=challenge.timestamp_ms
    )
    init = client.auth.submit_ksef_token_auth(
        build_ksef_token_auth_request(
            challenge=challenge.challenge,
            context_identifier_type="nip",
            context_identifier_value=nip,
            encrypted_token_base64=encrypted,
            public_key_id=cert.public_key_id,
        )
    )
    status = wait_for(
        lambda: (
            (
                s := client.auth.get_auth_status(
                    init.reference_number, init.authentication_token.token
                )
            ).status.code
            != 100
            and s
        )
    )
    assert status.status.code == 200, status
    tokens = client.auth.redeem_token(init.authentication_token.token)
    return {
        "access": tokens.access_token.token,
        "refresh": tokens.refresh_token.token,
        "reference": init.reference_number,
    }
