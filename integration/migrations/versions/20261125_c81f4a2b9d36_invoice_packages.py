"""sales invoices sent in KSeF batch sessions

Revision ID: c81f4a2b9d36
Revises: b5d1e0c7a2f4
Create Date: 2026-11-25 20:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c81f4a2b9d36"
down_revision = "b5d1e0c7a2f4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "channel",
                sa.Enum("online", "batch", name="invoice_channel", native_enum=False, length=8),
                nullable=False,
                server_default="online",
            )
        )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.alter_column("channel", server_default=None)


def downgrade():
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("channel")
