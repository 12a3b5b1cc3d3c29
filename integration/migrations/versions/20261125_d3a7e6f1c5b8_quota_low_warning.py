"""warning when a KSeF package runs low; invoice counts by state

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
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_client_states", ["client_id", "direction", "state"])


def downgrade():
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_client_states")
    with op.batch_alter_table("quota_account", schema=None) as batch_op:
        batch_op.drop_column("low_warned_at")
