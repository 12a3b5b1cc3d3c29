"""Authentication flows over the typed client: KSeF token and signed AuthTokenRequest."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from integration.ksef import crypto
from integration.ksef.client import AuthInit, KsefClient, TokenPair
from integration.ksef.errors import PUBLIC_KEY_UNKNOWN, KsefError, KsefRejected

# What each final authentication status means for the person who asked for it.
STATUS_MESSAGES = {
    415: "The signer holds no permission in this client's context in KSeF. The client must "
    "grant it (or your bureau must pass its delegation on to you) first.",
    425: "The authentication was revoked.",
    450: "KSeF refused the token: it is wrong, inactive, revoked, or the challenge expired.",
    460: "KSeF refused the certificate (invalid, untrusted, revoked or suspended).",
    470: "The credentials belong to a deceased person.",
    480: "Authentication in this context is blocked; contact the Ministry of Finance.",
}


class AuthenticationFailed(KsefError):
    """The flow ended with a final status other than 200."""

    def __init__(self, status_code: int, description: str) -> None:
        super().__init__(STATUS_MESSAGES.get(status_code, description), status=status_code)
        self.status_code = status_code


@dataclass(frozen=True)
class Authenticated:
    reference_number: str
    tokens: TokenPair


def wait_and_redeem(
    client: KsefClient,
    init: AuthInit,
    *,
    timeout: float = 20.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Authenticated:
    """Poll the status (short back-off) and redeem once it succeeds.

    Used where a person waits for the answer; background jobs reschedule instead.
    """
    deadline, delay = time.monotonic() + timeout, 0.2
    while True:
        status = client.auth_status(
            init.reference_number, authentication_token=init.authentication_token.token
        )
        if status.code == 200:
            break
        if status.code != 100:
            raise AuthenticationFailed(status.code, status.description)
        if time.monotonic() > deadline:
            raise AuthenticationFailed(100, "KSeF is still verifying; try again in a minute.")
        sleep(delay)
        delay = min(delay * 2, 2.0)
    tokens = client.redeem(authentication_token=init.authentication_token.token)
    return Authenticated(init.reference_number, tokens)


def authenticate_with_token(
    client: KsefClient,
    *,
    context_nip: str,
    ksef_token: str,
    sleep: Callable[[float], None] = time.sleep,
) -> Authenticated:
    """challenge → encrypted token → status → redeem; once more with fresh keys on 21470."""
    for attempt in range(2):
        key = client.public_key("KsefTokenEncryption")
        challenge = client.challenge()
        try:
            init = client.auth_ksef_token(
                challenge=challenge.challenge,
                context_nip=context_nip,
                encrypted_token=crypto.encrypt_ksef_token(
                    key.certificate, ksef_token, challenge.timestamp_ms
                ),
                public_key_id=key.public_key_id,
            )
        except KsefRejected as exc:
            if exc.code == PUBLIC_KEY_UNKNOWN and attempt == 0:
                continue
            raise
        return wait_and_redeem(client, init, sleep=sleep)
    raise AssertionError("unreachable")  # pragma: no cover
