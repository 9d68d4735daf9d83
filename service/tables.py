"""The database schema (SQLAlchemy Core). Alembic migrations in ``service/migrations`` create it;
a test checks that the migrated database and this metadata agree.

Record tables mirror the dataset layouts of :mod:`evidence.records` (plus ``seq``, which keeps
insertion order so an exported dataset reproduces the panel it was seeded from, and ``batch``,
the ingest that stored the row).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # lors | evidence | plans | supplier-orders | seed
    Column("rows", Integer, nullable=False),
    Column("key_id", String(32)),
    Column("created_at", String(32), nullable=False),
    Column("source", Text, nullable=False, default=""),
)

partners = Table(
    "partners",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("region", String(64), nullable=False),
    Column("iso3", String(8), nullable=False, default=""),
    Column("alliances", Text, nullable=False, default=""),  # ';'-separated, as in the dataset files
    Column("is_state", Boolean, nullable=False, default=True),
    Column("seq", Integer, nullable=False),
)

families = Table(
    "families",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("category", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
)

lors = Table(
    "lors",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(128), nullable=False, unique=True),
    Column("partner", String(64), ForeignKey("partners.id"), nullable=False, index=True),
    Column("family", String(64), ForeignKey("families.id"), nullable=False),
    Column("received", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("quantity", Integer),
    Column("designation", Text, nullable=False, default=""),
    Column("estimated_value_usd", Float),
    Column("source", Text, nullable=False, default=""),
    Column("year_uncertain", Boolean, nullable=False, default=False),
    Column("quantity_uncertain", Boolean, nullable=False, default=False),
    Column("batch", Integer, ForeignKey("batches.id"), nullable=False),
    Column("channel", String(16), nullable=False, default="", server_default=""),  # fms | hybrid | ""
)

evidence = Table(
    "evidence",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("partner", String(64), ForeignKey("partners.id"), nullable=False, index=True),
    Column("family", String(64), nullable=False, default=""),  # empty: the partner as a whole
    Column("date", Date, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("batch", Integer, ForeignKey("batches.id"), nullable=False),
)

text_mentions = Table(  # what ingested texts said, where (character span) and how urgently
    "text_mentions",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("doc_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),  # notification | document
    Column("partner", String(64), nullable=False, index=True),
    Column("family", String(64), nullable=False),
    Column("date", Date, nullable=False),
    Column("designation", Text, nullable=False),
    Column("quantity", Integer),
    Column("span_start", Integer),
    Column("span_end", Integer),
    Column("quote", Text, nullable=False),
    Column("sentence", Text, nullable=False),
    Column("urgency", Float),
    Column("threat", Text),
    Column("gap", Text),
    Column("system", Text),
    Column("source", Text, nullable=False),
    Column("batch", Integer, ForeignKey("batches.id"), nullable=False),
)

domestic_plans = Table(
    "domestic_plans",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("family", String(64), ForeignKey("families.id"), nullable=False),
    Column("fiscal_year", Integer, nullable=False),
    Column("quantity", Float, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("batch", Integer, ForeignKey("batches.id"), nullable=False),
    UniqueConstraint("family", "fiscal_year", name="uq_domestic_plans_family_year"),
)

line_capacities = Table(
    "line_capacities",
    metadata,
    Column("family", String(64), ForeignKey("families.id"), primary_key=True),
    Column("min_sustaining_rate", Float, nullable=False),
    Column("max_rate", Float, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("seq", Integer, nullable=False),
)

supplier_orders = Table(  # every supplier's orders (sources.suppliers), for the U.S. share model
    "supplier_orders",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("partner", String(64), ForeignKey("partners.id"), nullable=False, index=True),
    Column("family", String(64), ForeignKey("families.id"), nullable=False),
    Column("year", Integer, nullable=False),
    Column("supplier", String(64), nullable=False),
    Column("orders", Integer, nullable=False),
    Column("units", Integer),
    Column("source", Text, nullable=False, default=""),
    Column("batch", Integer, ForeignKey("batches.id"), nullable=False),
    UniqueConstraint("partner", "family", "year", "supplier", name="uq_supplier_orders_cell"),
)

models = Table(
    "models",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("status", String(16), nullable=False),  # fitting | ok | failed
    Column("path", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("fitted_at", String(32)),
    Column("data_hash", String(32)),
    Column("priors_hash", String(32)),
    Column("code_version", String(32)),
    Column("approximate", Boolean, nullable=False, default=False),
    Column("diagnostics", Text, nullable=False, default="{}"),  # JSON
    Column("job_id", String(32)),
)

active_model = Table(
    "active_model",
    metadata,
    Column("slot", Integer, primary_key=True),  # always 1: one active model per deployment
    Column("model_id", String(32), ForeignKey("models.id"), nullable=False),
    Column("activated_at", String(32), nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | succeeded | failed
    Column("stage", String(64), nullable=False, default=""),
    Column("progress", Float, nullable=False, default=0.0),
    Column("params", Text, nullable=False, default="{}"),  # JSON
    Column("created_at", String(32), nullable=False),
    Column("started_at", String(32)),
    Column("finished_at", String(32)),
    Column("pid", Integer),
    Column("model_id", String(32)),
    Column("error", Text),
    Column("key_id", String(32)),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # reader | analyst | admin
    Column("partners", Text),  # JSON list, or NULL for every partner
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("key_id", String(32)),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default="{}"),  # JSON
)

RECORD_TABLES = {
    "partners": partners,
    "families": families,
    "lors": lors,
    "evidence": evidence,
    "domestic_plans": domestic_plans,
    "line_capacities": line_capacities,
    "supplier_orders": supplier_orders,
}
