"""a sending job's claim on its invoices: token, lease and when each was handed to KSeF

Revision ID: 9d0f4b6a8e1a
Revises: 8c9e3a5f7d09
Create Date: 2026-12-01 23:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "9d0f4b6a8e1a"
down_revision = "8c9e3a5f7d09"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invoice") as batch:
        batch.add_column(sa.Column("claim", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("handed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("invoice") as batch:
        batch.drop_column("handed_at")
        batch.drop_column("lease_until")
        batch.drop_column("claim")
