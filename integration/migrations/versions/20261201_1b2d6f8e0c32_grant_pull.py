"""how the last reading of a client's grants from KSeF went

Revision ID: 1b2d6f8e0c32
Revises: 0a1c5e7d9b21
Create Date: 2026-12-01 18:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "1b2d6f8e0c32"
down_revision = "0a1c5e7d9b21"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "grant_pull",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False),
        sa.Column("credentials_mark", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client_company.id"],
            name=op.f("fk_grant_pull_client_id_client_company"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_grant_pull")),
    )


def downgrade():
    op.drop_table("grant_pull")
