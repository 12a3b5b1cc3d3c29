"""the first answers of requests sent with an Idempotency-Key

Revision ID: 8c9e3a5f7d09
Revises: 7b8d2f4e6c98
Create Date: 2026-12-01 22:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8c9e3a5f7d09"
down_revision = "7b8d2f4e6c98"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "idempotent_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotent_request")),
        sa.UniqueConstraint(
            "owner",
            "key",
            "request_hash",
            name=op.f("uq_idempotent_request_owner_key_request_hash"),
        ),
    )


def downgrade():
    op.drop_table("idempotent_request")
