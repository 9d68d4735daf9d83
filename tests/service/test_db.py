"""Migrations build exactly the schema the code describes, and running them again changes nothing."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from service.db import engine_for, migrate
from service.tables import metadata


def test_migrated_database_matches_the_schema(tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'td.db'}")
    migrate(engine)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert diff == []
    assert version == "0003" and journal == "wal"
    assert {"lors", "evidence", "models", "jobs", "api_keys", "audit"} <= set(
        inspect(engine).get_table_names()
    )
