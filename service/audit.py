"""The audit trail: every write says who (API key), when, what and to which target, in the same
transaction as the write itself, so a write and its audit row land together or not at all."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from service import tables as s
from service.db import now


def record(conn: Connection, key_id: str | None, action: str, target: str = "", **detail: Any) -> None:
    conn.execute(
        insert(s.audit).values(
            at=now(), key_id=key_id, action=action, target=target, detail=json.dumps(detail, default=str)
        )
    )


def trail(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(s.audit).order_by(s.audit.c.id.desc()).limit(limit)).all()
    return [{**r._mapping, "detail": json.loads(r._mapping["detail"])} for r in rows]
