"""daily invoice e-mails: how far each has told

Revision ID: f6b1d8c2e930
Revises: e52c0b9a4f17
Create Date: 2026-11-25 22:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f6b1d8c2e930"
down_revision = "e52c0b9a4f17"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "invoice_digest",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("last_invoice_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_invoice_digest")),
    )


def downgrade():
    op.drop_table("invoice_digest")
