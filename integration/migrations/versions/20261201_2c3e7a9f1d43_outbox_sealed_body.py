"""e-mails carrying one-time links are kept encrypted, a redacted copy in clear

Revision ID: 2c3e7a9f1d43
Revises: 1b2d6f8e0c32
Create Date: 2026-12-01 19:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "2c3e7a9f1d43"
down_revision = "1b2d6f8e0c32"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_body", sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_column("sealed_body")
