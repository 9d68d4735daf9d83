"""API keys: random tokens shown once, stored as SHA-256 hashes, with a role and optionally a set of
partners the key is limited to.

Roles are ordered: ``reader`` (forecasts, dimensions) < ``analyst`` (+ ingest, fits, posterior files)
< ``admin`` (+ keys, activation). Tokens are 32 random bytes, so a plain hash is enough: there is
nothing to brute-force that a slow password hash would protect."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, func, insert, select, update

from service import audit
from service import tables as s
from service.db import now
from service.registry import RegistryError, new_id

ROLES = ("reader", "analyst", "admin")
TOKEN_PREFIX = "td_"


@dataclass(frozen=True)
class Caller:
    """Who is asking: the key's id, name, role and partner scope (None: every partner)."""

    key_id: str
    name: str
    role: str
    partners: frozenset[str] | None

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class IssuedKey:
    caller: Caller
    token: str  # shown once; only its hash is stored


def token_from(headers: Mapping[str, str]) -> str:
    """The API key a request carries: ``Authorization: Bearer <key>``, or ``X-API-Key: <key>``."""
    header = headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else headers.get("x-api-key", "")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(
    engine: Engine,
    name: str,
    role: str,
    partners: list[str] | None = None,
    issued_by: str | None = None,
) -> IssuedKey:
    if role not in ROLES:
        raise RegistryError(f"role {role!r}: must be one of {list(ROLES)}", 400)
    if role == "admin" and partners is not None:
        raise RegistryError("partners: an admin key sees every partner; limit reader or analyst keys", 400)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key_id = new_id()
    scope = sorted(set(partners)) if partners is not None else None
    with engine.begin() as conn:
        if scope is not None:
            known = set(conn.execute(select(s.partners.c.id)).scalars())
            unknown = [p for p in scope if p not in known]
            if unknown:
                raise RegistryError(f"partners: unknown partner id(s) {unknown}", 400)
        conn.execute(
            insert(s.api_keys).values(
                id=key_id,
                name=name,
                hash=hash_token(token),
                role=role,
                partners=None if scope is None else json.dumps(scope),
                created_at=now(),
            )
        )
        audit.record(conn, issued_by, "key.create", key_id, name=name, role=role, partners=scope)
    return IssuedKey(Caller(key_id, name, role, None if scope is None else frozenset(scope)), token)


def revoke_key(engine: Engine, key_id: str, revoked_by: str | None = None) -> None:
    with engine.begin() as conn:
        done = conn.execute(
            update(s.api_keys)
            .where(s.api_keys.c.id == key_id, s.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now())
        )
        if not done.rowcount:
            raise RegistryError(f"unknown or already revoked key id {key_id!r}", 404)
        audit.record(conn, revoked_by, "key.revoke", key_id)


def list_keys(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(s.api_keys).order_by(s.api_keys.c.created_at)).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "role": r.role,
            "partners": None if r.partners is None else json.loads(r.partners),
            "created_at": r.created_at,
            "revoked_at": r.revoked_at,
        }
        for r in rows
    ]


def has_keys(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(s.api_keys)).scalar())


class KeyCache:
    """Token hash → caller, for a few seconds, so a request costs no database round trip; a revoked
    key stops working within ``ttl`` seconds."""

    # async callers: ``cached`` on the event loop, ``lookup`` (a query) in a worker thread

    def __init__(self, engine: Engine, ttl: float = 5.0) -> None:
        self.engine = engine
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Caller | None]] = {}

    def forget(self) -> None:
        """Drop every cached key (after a revocation in this process: effective at once here)."""
        self._cache.clear()

    def cached(self, token: str) -> Caller | bool | None:
        """The caller of ``token`` if known within ``ttl`` (None: known to be no key); False when the
        database has to be asked (:meth:`lookup`), which the event loop leaves to a thread."""
        hit = self._cache.get(hash_token(token))
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return False

    def lookup(self, token: str) -> Caller | None:
        digest = hash_token(token)
        hit = self._cache.get(digest)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        with self.engine.connect() as conn:
            row = conn.execute(
                select(s.api_keys).where(s.api_keys.c.hash == digest, s.api_keys.c.revoked_at.is_(None))
            ).first()
        caller = None
        if row is not None:
            scope = None if row.partners is None else frozenset(json.loads(row.partners))
            caller = Caller(row.id, row.name, row.role, scope)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (time.monotonic(), caller)
        return caller
