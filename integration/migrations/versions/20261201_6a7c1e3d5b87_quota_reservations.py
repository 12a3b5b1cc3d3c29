"""reservations of the KSeF package: work under way sets its operation aside

Revision ID: 6a7c1e3d5b87
Revises: 5f6b0d2c4a76
Create Date: 2026-12-01 21:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "6a7c1e3d5b87"
down_revision = "5f6b0d2c4a76"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("quota_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reserved", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reserved", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("reserved")
    with op.batch_alter_table("quota_account", schema=None) as batch_op:
        batch_op.drop_column("reserved")
