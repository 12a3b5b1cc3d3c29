"""The KSeF client maps answers to typed errors; the sandbox is the peer."""

from __future__ import annotations

import httpx
import pytest
from flask import Flask

from integration.ksef import errors
from integration.ksef.client import KsefClient
from integration.ksef.transport import KsefHttp, parse_retry_after


@pytest.fixture
def client(ksef_sandbox: Flask) -> KsefClient:
    return KsefClient(
        KsefHttp("http://ksef.test/v2", transport=httpx.WSGITransport(app=ksef_sandbox))
    )


def test_exception_codes_become_typed_errors(client: KsefClient) -> None:
    with pytest.raises(errors.PublicKeyUnknown) as unknown_key:
        client.auth_ksef_token(
            challenge=client.challenge().challenge,
            context_nip="5260250274",
            encrypted_token="AAAA",
            public_key_id="nope",
        )
    assert unknown_key.value.code == 21470
    init = client.auth_ksef_token(
        challenge=client.challenge().challenge,
        context_nip="5260250274",
        encrypted_token="AAAA",
        public_key_id=client.public_key("KsefTokenEncryption").public_key_id,
    )
    with pytest.raises(errors.AuthOperationNotFound):
        client.auth_status(
            "20260101-AU-0000000000-0000000000-00",
            authentication_token=init.authentication_token.token,
        )


def test_missing_bearer_is_unauthorized(client: KsefClient) -> None:
    with pytest.raises(errors.KsefUnauthorized):
        client.list_sessions(access_token="not-a-jwt")


def test_unreachable_ksef_is_unavailable() -> None:
    dead = KsefClient(KsefHttp("http://127.0.0.1:1/v2"))
    with pytest.raises(errors.KsefUnavailable):
        dead.challenge()


@pytest.mark.parametrize(("value", "seconds"), [("7", 7), (" 30 ", 30), (None, 5), ("soon", 5)])
def test_retry_after_is_parsed(value: str | None, seconds: int) -> None:
    assert parse_retry_after(value) == seconds
