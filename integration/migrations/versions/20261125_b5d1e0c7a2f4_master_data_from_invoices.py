"""master data learnt from invoices

Revision ID: b5d1e0c7a2f4
Revises: 6226106a7dea
Create Date: 2026-11-25 19:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b5d1e0c7a2f4"
down_revision = "6226106a7dea"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("counterparty", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=10), nullable=False, server_default="file")
        )
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=10), nullable=False, server_default="file")
        )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("master_data_at", sa.DateTime(timezone=True), nullable=True))
    # The defaults were only for the rows that existed; the models set the value.
    with op.batch_alter_table("counterparty", schema=None) as batch_op:
        batch_op.alter_column("source", server_default=None)
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.alter_column("source", server_default=None)


def downgrade():
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("master_data_at")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_column("source")
    with op.batch_alter_table("counterparty", schema=None) as batch_op:
        batch_op.drop_column("source")
