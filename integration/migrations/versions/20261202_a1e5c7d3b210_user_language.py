"""the language a person chose for the pages and e-mails

Revision ID: a1e5c7d3b210
Revises: 9d0f4b6a8e1a
Create Date: 2026-12-02 09:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a1e5c7d3b210"
down_revision = "9d0f4b6a8e1a"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("language", sa.String(length=5), nullable=True))


def downgrade():
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("language")
