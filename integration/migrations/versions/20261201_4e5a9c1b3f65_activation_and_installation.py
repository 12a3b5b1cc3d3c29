"""licence numbers of 29 symbols; licensees who sign in; this installation's identity

Revision ID: 4e5a9c1b3f65
Revises: 3d4f8b0a2e54
Create Date: 2026-12-01 20:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "4e5a9c1b3f65"
down_revision = "3d4f8b0a2e54"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("licence", schema=None) as batch_op:
        batch_op.alter_column(
            "number", existing_type=sa.String(length=25), type_=sa.String(length=29)
        )
    with op.batch_alter_table("licence_contract", schema=None) as batch_op:
        batch_op.add_column(sa.Column("licensee_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("licensee_user_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_licence_contract_licensee_user_id"), ["licensee_user_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_licence_contract_licensee_user_id_user_account"),
            "user_account",
            ["licensee_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
        sa.UniqueConstraint("installation_id", name=op.f("uq_installation_installation_id")),
    )


def downgrade():
    op.drop_table("installation")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
    with op.batch_alter_table("licence_contract", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_licence_contract_licensee_user_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_licence_contract_licensee_user_id"))
        batch_op.drop_column("licensee_user_id")
        batch_op.drop_column("licensee_email")
    with op.batch_alter_table("licence", schema=None) as batch_op:
        batch_op.alter_column(
            "number", existing_type=sa.String(length=29), type_=sa.String(length=25)
        )
