"""SMTP delivery of the outbox: sent, attempts, last error, bounced

Revision ID: b2f6d8e4c321
Revises: a1e5c7d3b210
Create Date: 2026-12-02 10:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b2f6d8e4c321"
down_revision = "a1e5c7d3b210"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mail_outbox") as batch:
        batch.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(
            sa.Column("last_error", sa.String(length=500), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("mail_outbox") as batch:
        batch.drop_column("bounced_at")
        batch.drop_column("last_error")
        batch.drop_column("attempts")
        batch.drop_column("sent_at")
