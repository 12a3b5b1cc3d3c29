"""an index of invoices by direction and arrival, for "new since your last visit"

Revision ID: c3a7e9f5d432
Revises: b2f6d8e4c321
Create Date: 2026-12-02 11:00:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "c3a7e9f5d432"
down_revision = "b2f6d8e4c321"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_invoice_arrivals", "invoice", ["created_at", "direction", "client_id"])


def downgrade():
    op.drop_index("ix_invoice_arrivals", table_name="invoice")
