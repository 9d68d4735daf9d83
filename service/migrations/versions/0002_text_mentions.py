"""Text mentions: what each ingested notification or document said, where, how urgently, and the
relation (threat -> capability gap -> system) read from its sentence, so answers can cite them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 00:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "text_mentions",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("doc_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("designation", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("span_start", sa.Integer(), nullable=True),
        sa.Column("span_end", sa.Integer(), nullable=True),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("sentence", sa.Text(), nullable=False),
        sa.Column("urgency", sa.Float(), nullable=True),
        sa.Column("threat", sa.Text(), nullable=True),
        sa.Column("gap", sa.Text(), nullable=True),
        sa.Column("system", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch"], ["batches.id"]),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("text_mentions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_text_mentions_partner"), ["partner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("text_mentions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_text_mentions_partner"))
    op.drop_table("text_mentions")
