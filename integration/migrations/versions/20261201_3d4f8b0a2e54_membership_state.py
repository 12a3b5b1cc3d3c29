"""memberships have a state: invited (an existing account yet to accept), active, inactive

Revision ID: 3d4f8b0a2e54
Revises: 2c3e7a9f1d43
Create Date: 2026-12-01 19:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3d4f8b0a2e54"
down_revision = "2c3e7a9f1d43"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=10), server_default="active", nullable=False)
        )
        batch_op.add_column(sa.Column("invited_first_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("invited_last_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("invite_token_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_membership_invite_token_hash"), ["invite_token_hash"]
        )
    # A deactivated account was deactivated in its only tenant.
    op.execute(
        "UPDATE membership SET state = 'inactive' WHERE user_id IN "
        "(SELECT id FROM user_account WHERE is_active = false)"
    )


def downgrade():
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_membership_invite_token_hash"), type_="unique")
        batch_op.drop_column("invite_token_hash")
        batch_op.drop_column("invited_last_name")
        batch_op.drop_column("invited_first_name")
        batch_op.drop_column("state")
