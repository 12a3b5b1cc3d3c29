"""The schema comes from the migrations alone, and the models agree with it."""

from collections.abc import Callable
from pathlib import Path

import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from integration.core.db import Base, db
from integration.core.settings import Settings


def test_models_match_the_migrated_schema(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_migrations_reach_head_on_the_test_database(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        tables = set(sa.inspect(conn).get_table_names())
    assert current is not None
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_downgrade_to_base_and_upgrade_again_on_a_fresh_database(
    tmp_path: Path, settings: Settings, make_app: Callable[..., Flask]
) -> None:
    fresh = make_app(settings.replace(database_url=f"sqlite:///{tmp_path / 'm.db'}"))
    with fresh.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        flask_migrate.upgrade()
        assert "user_account" in sa.inspect(db.engine).get_table_names()
