"""master data learnt from invoices follows newer invoices

Revision ID: e52c0b9a4f17
Revises: d3a7e6f1c5b8
Create Date: 2026-11-25 21:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e52c0b9a4f17"
down_revision = "d3a7e6f1c5b8"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("counterparty", "product"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("learnt_on", sa.Date(), nullable=True))


def downgrade():
    for table in ("product", "counterparty"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("learnt_on")
