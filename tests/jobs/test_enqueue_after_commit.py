"""Jobs leave for Redis only after the commit; ids are deterministic; the worker runs them."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import flask_migrate
import pytest
from flask import Flask
from redis import Redis
from rq.job import Job
from rq.utils import utcformat
from sqlalchemy import select

from integration.accounts.jobs import reconcile_welcome_emails
from integration.accounts.models import Bureau, UserAccount
from integration.core import clock
from integration.core.db import db
from integration.jobs import enqueue_after_commit, job_id
from integration.jobs.runtime import current_runtime
from integration.mail.models import MailOutbox
from tests.conftest import World, setup_token


def _queued_ids(app: Flask, queue: str = "default") -> list[str]:
    with app.app_context():
        return list(current_runtime().queue(queue).job_ids)


def test_rolled_back_transaction_enqueues_nothing(app: Flask) -> None:
    with app.app_context():
        s = db.session
        s.add(Bureau(nip="5260250274", name="Doomed"))
        enqueue_after_commit(
            s, "integration.accounts.jobs.reconcile_welcome_emails", job_id=job_id("probe", 1)
        )
        s.rollback()
        # a later, unrelated commit must not carry the forgotten job along
        s.add(Bureau(nip="1234563218", name="Kept"))
        s.commit()
    assert _queued_ids(app) == []


def test_committed_transaction_enqueues_with_the_deterministic_id(app: Flask) -> None:
    with app.app_context():
        s = db.session
        enqueue_after_commit(
            s, "integration.accounts.jobs.reconcile_welcome_emails", job_id=job_id("probe", 7)
        )
        assert _queued_ids(app) == []  # not before the commit
        s.commit()
    assert _queued_ids(app) == ["probe_7"]


def test_same_job_id_is_not_enqueued_twice_while_waiting(app: Flask) -> None:
    for _ in range(3):
        with app.app_context():
            enqueue_after_commit(
                db.session,
                "integration.accounts.jobs.reconcile_welcome_emails",
                job_id=job_id("probe", 8),
            )
            db.session.commit()
    assert _queued_ids(app) == ["probe_8"]


def test_job_id_refuses_separator_characters() -> None:
    with pytest.raises(ValueError, match="letters, digits and dashes"):
        job_id("welcome-email", "1_2")
    assert job_id("welcome-email", 42) == "welcome-email_42"


def test_failed_enqueue_does_not_fail_the_commit(settings, tmp_path, make_app) -> None:  # type: ignore[no-untyped-def]

    broken = make_app(
        settings.replace(
            database_url=f"sqlite:///{tmp_path / 'b.db'}", redis_url="redis://127.0.0.1:1/0"
        )
    )
    with broken.app_context():
        flask_migrate.upgrade()
        db.session.add(Bureau(nip="5260250274", name="Saved"))
        enqueue_after_commit(
            db.session,
            "integration.accounts.jobs.reconcile_welcome_emails",
            job_id=job_id("probe", 9),
        )
        db.session.commit()
        assert db.session.scalar(select(Bureau.name)) == "Saved"


def test_new_user_gets_one_welcome_email_with_a_working_setup_link(
    app: Flask, make_world: Callable[..., World], login, run_jobs
) -> None:  # type: ignore[no-untyped-def]
    w = make_world()
    created = login(w.admin_email).post(
        f"/api/v1/bureaus/{w.bureau_id}/users",
        json={
            "email": "Nowa@Bilans.example",
            "first_name": "Nowa",
            "last_name": "K",
            "role": "accountant",
        },
    )
    assert created.status_code == 201
    assert created.json["email"] == "nowa@bilans.example"
    assert created.json["has_password"] is False
    assert _queued_ids(app, "mail") == [f"welcome-email_{created.json['id']}"]

    assert run_jobs() == 1
    with app.app_context():
        mails = db.session.scalars(select(MailOutbox)).all()
        user = db.session.scalar(
            select(UserAccount).where(UserAccount.email == "nowa@bilans.example")
        )
    assert [m.recipient for m in mails] == ["nowa@bilans.example"]
    token = setup_token(app, "nowa@bilans.example")
    assert token not in mails[0].body  # kept in clear with the code blanked out
    assert user.setup_token_hash is not None
    assert token not in user.setup_token_hash

    # a retried job (same id, run again) sends nothing more
    with app.app_context():
        current_runtime().queue("mail").enqueue(
            "integration.accounts.jobs.send_welcome_email",
            job_id="retry",
            kwargs={"user_id": user.id},
        )
    run_jobs()
    with app.app_context():
        assert db.session.query(MailOutbox).count() == 1

    anonymous = app.test_client()
    set_pw = anonymous.post(
        "/api/v1/auth/password-setup", json={"token": token, "password": "a long new password"}
    )
    assert set_pw.status_code == 204
    again = anonymous.post(
        "/api/v1/auth/password-setup", json={"token": token, "password": "another long password"}
    )
    assert again.status_code == 422
    assert (
        anonymous.post(
            "/api/v1/auth/login",
            json={"email": "nowa@bilans.example", "password": "a long new password"},
        ).status_code
        == 204
    )


def test_rolled_back_user_creation_sends_no_welcome(app: Flask, make_world, login) -> None:  # type: ignore[no-untyped-def]
    w = make_world()
    http = login(w.admin_email)
    # the e-mail is taken: the service raises inside its transaction, which rolls back
    r = http.post(
        f"/api/v1/bureaus/{w.bureau_id}/users",
        json={
            "email": w.accountant_email,
            "first_name": "A",
            "last_name": "B",
            "role": "accountant",
        },
    )
    assert r.status_code == 409
    assert _queued_ids(app, "mail") == []


def test_reconciler_re_enqueues_a_lost_welcome_job(
    app: Flask, make_world, login, redis: Redis, run_jobs
) -> None:  # type: ignore[no-untyped-def]
    w = make_world()
    created = login(w.admin_email).post(
        f"/api/v1/bureaus/{w.bureau_id}/users",
        json={"email": "lost@x.example", "first_name": "L", "last_name": "O", "role": "accountant"},
    )
    uid = created.json["id"]
    # the job is lost (Redis restarted without persistence)
    redis.flushdb()
    previous = clock.install(clock.FrozenClock(clock.now() + timedelta(minutes=10)))
    try:
        with app.app_context():
            assert reconcile_welcome_emails() == 1
        assert _queued_ids(app, "mail") == [f"welcome-email_{uid}"]
        assert Job.exists(f"welcome-email_{uid}", connection=redis)
        run_jobs()
    finally:
        clock.install(previous)
    with app.app_context():
        assert db.session.scalar(select(MailOutbox.recipient)) == "lost@x.example"


def _started(app: Flask, beat_age: timedelta) -> None:
    """Leave job ``probe_9`` as a worker would that claimed it ``beat_age`` ago."""
    with app.app_context():
        enqueue_after_commit(
            db.session,
            "integration.accounts.jobs.reconcile_welcome_emails",
            job_id=job_id("probe", 9),
        )
        db.session.commit()
        redis = current_runtime().redis()
        job = Job.fetch("probe_9", connection=redis)
        current_runtime().queue("default").remove(job)
        beat = utcformat(datetime.now(UTC) - beat_age)  # the worker's clock, not the app's
        job.set_status("started")
        redis.hset(job.key, mapping={"started_at": beat, "last_heartbeat": beat})


def test_a_running_job_is_not_enqueued_again(app: Flask) -> None:
    _started(app, timedelta(seconds=20))
    with app.app_context():
        enqueue_after_commit(
            db.session,
            "integration.accounts.jobs.reconcile_welcome_emails",
            job_id=job_id("probe", 9),
        )
        db.session.commit()
    assert _queued_ids(app) == []


def test_a_job_whose_worker_died_is_enqueued_again(app: Flask) -> None:
    _started(app, timedelta(minutes=10))  # no heartbeat for ten minutes: its worker is gone
    with app.app_context():
        enqueue_after_commit(
            db.session,
            "integration.accounts.jobs.reconcile_welcome_emails",
            job_id=job_id("probe", 9),
        )
        db.session.commit()
    assert _queued_ids(app) == ["probe_9"]
