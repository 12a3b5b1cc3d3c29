"""while a sales invoice is open, no other of its client has its type and number

Revision ID: 7b8d2f4e6c98
Revises: 6a7c1e3d5b87
Create Date: 2026-12-01 21:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7b8d2f4e6c98"
down_revision = "6a7c1e3d5b87"
branch_labels = None
depends_on = None

OPEN = "('queued', 'sending', 'processing', 'accepted')"


def upgrade():
    # Submissions that raced each other before: the later ones give way to the first.
    op.execute(
        "UPDATE invoice SET state = 'rejected', "
        "error_description = 'a second submission of an invoice already on its way' "
        "WHERE direction = 'sales' AND state IN ('queued', 'sending', 'processing') "
        "AND EXISTS (SELECT 1 FROM invoice AS earlier WHERE earlier.client_id = invoice.client_id "
        "AND earlier.invoice_type = invoice.invoice_type AND earlier.number = invoice.number "
        "AND earlier.direction = 'sales' AND earlier.id < invoice.id AND earlier.state IN "
        "('queued', 'sending', 'processing', 'accepted'))"
    )
    where = sa.text(f"direction = 'sales' AND state IN {OPEN}")
    op.create_index(
        "uq_invoice_open_number",
        "invoice",
        ["client_id", "invoice_type", "number"],
        unique=True,
        postgresql_where=where,
        sqlite_where=where,
    )


def downgrade():
    op.drop_index("uq_invoice_open_number", table_name="invoice")
