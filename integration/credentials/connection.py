"""A KSeF call made by a background job within the context's shared rate budget.

The job never sleeps and never earns a 429 it could have avoided: when the budget is spent
it re-enqueues itself for the moment a slot frees up; a 429 that still happens is honoured
(Retry-After) and tightens the budget for every worker.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from integration.accounts.models import ClientCompany
from integration.core.db import transaction
from integration.core.errors import NotFound
from integration.credentials.service import access_token_for
from integration.jobs import enqueue_after_commit, job_id
from integration.jobs.runtime import current_runtime
from integration.ksef.budget import LIMITS, RateBudget, group_of
from integration.ksef.errors import KsefRateLimited, KsefUnavailable
from integration.ksef.runtime import current_client

log = logging.getLogger(__name__)
LIMITS_TTL = 3600
FALLBACK_TTL = 60


def budget_for(context: str, access_token: str) -> RateBudget:
    """The budget with the limits KSeF publishes for this context (cached in Redis)."""
    redis = current_runtime().redis()
    key = f"delegat:ksef-limits:{context}"
    cached = redis.get(key)
    if cached is None:
        try:
            limits = current_client().rate_limits(access_token=access_token) or LIMITS
            kept = LIMITS_TTL
        except (KsefRateLimited, KsefUnavailable):  # KSeF's published limits, asked again soon
            limits, kept = LIMITS, FALLBACK_TTL
        redis.set(key, json.dumps(limits), ex=kept)
    else:
        limits = {g: tuple(v) for g, v in json.loads(cached).items()}
    return RateBudget(redis, limits)


def _again(client_id: int, chain: str, attempt: int, delay: float) -> None:
    """Enqueue the next attempt of this chain for when a slot frees up."""
    with transaction() as s:
        enqueue_after_commit(
            s,
            "integration.credentials.jobs.check_connection",
            job_id=job_id("ksef-check", client_id, chain, attempt + 1),
            queue="ksef",
            delay=timedelta(seconds=max(delay, 0.5)),
            client_id=client_id,
            chain=chain,
            attempt=attempt + 1,
        )


def check_connection(client_id: int, chain: str = "c", attempt: int = 0) -> str:
    """List the context's online sessions: a cheap call proving the credentials work."""
    with transaction() as s:
        client = s.get(ClientCompany, client_id)
        if client is None:
            raise NotFound("no such client company")
        context = client.nip
    access = access_token_for(client_id)
    budget = budget_for(context, access)
    group = group_of("GET", "/sessions")
    wait = budget.take(context, group)
    if wait:
        _again(client_id, chain, attempt, wait)
        return "rescheduled"
    try:
        current_client().list_sessions(access_token=access)
    except KsefRateLimited as exc:
        log.warning("KSeF answered 429 for %s; waiting %s s", context, exc.retry_after)
        budget.penalise(context, group, exc.retry_after)
        _again(client_id, chain, attempt, exc.retry_after)
        return "rate-limited"
    return "ok"
