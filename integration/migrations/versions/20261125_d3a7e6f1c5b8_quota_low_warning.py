"""warning when a KSeF package runs low

Revision ID: d3a7e6f1c5b8
Revises: c81f4a2b9d36
Create Date: 2026-11-25 21:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d3a7e6f1c5b8"
down_revision = "c81f4a2b9d36"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("quota_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("low_warned_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("quota_account", schema=None) as batch_op:
        batch_op.drop_column("low_warned_at")
