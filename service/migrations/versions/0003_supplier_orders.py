"""Every supplier's orders per partner × family × year × supplier, which the U.S. share model reads, and
each LOR's channel (fms, hybrid, or blank where not stated).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supplier_orders",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("supplier", sa.String(length=64), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch"], ["batches.id"]),
        sa.ForeignKeyConstraint(["family"], ["families.id"]),
        sa.ForeignKeyConstraint(["partner"], ["partners.id"]),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("partner", "family", "year", "supplier", name="uq_supplier_orders_cell"),
    )
    with op.batch_alter_table("supplier_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supplier_orders_partner"), ["partner"], unique=False)
    with op.batch_alter_table("lors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("lors", schema=None) as batch_op:
        batch_op.drop_column("channel")
    with op.batch_alter_table("supplier_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supplier_orders_partner"))
    op.drop_table("supplier_orders")
