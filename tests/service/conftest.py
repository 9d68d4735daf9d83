"""Service fixtures: a database seeded from the simulated world with its fit registered and active,
API keys of every role, the app under Litestar's test client, and a real server in a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from litestar.testing import TestClient

from service import auth
from service.app import create_app
from service.testing import LiveServer, admin_token
from totaldemand.settings import Settings

__all__ = ["Keys", "LiveServer", "admin_token", "bearer"]


@dataclass(frozen=True)
class Keys:
    admin: str
    analyst: str
    reader: str
    scoped: str  # a reader limited to p01 and p02


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def settings(sim_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        home=tmp_path_factory.mktemp("home"), data=sim_world, reload_seconds=0.2, max_body_bytes=2_000_000
    )


@pytest.fixture(scope="module")
def app_and_keys(settings: Settings, fitted_path: Path):
    app = create_app(settings, fitted_path)
    engine = app.state.services.engine
    keys = Keys(
        *(auth.create_key(engine, role, role).token for role in ("admin", "analyst", "reader")),
        auth.create_key(engine, "scoped", "reader", ["p01", "p02"]).token,
    )
    return app, keys


@pytest.fixture(scope="module")
def keys(app_and_keys) -> Keys:
    return app_and_keys[1]


@pytest.fixture(scope="module")
def client(app_and_keys) -> Iterator[TestClient]:
    """The app as an admin sees it (override the header per request for other roles)."""
    app, keys = app_and_keys
    with TestClient(app=app) as c:
        c.headers.update(bearer(keys.admin))
        yield c


@pytest.fixture(scope="session")
def systems_client(
    sim_world: Path, systems_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, str]]:
    settings = Settings(home=tmp_path_factory.mktemp("systems_home"), data=sim_world)
    app = create_app(settings, systems_path)
    engine = app.state.services.engine
    admin = auth.create_key(engine, "admin", "admin").token
    scoped = auth.create_key(engine, "scoped", "reader", ["p01", "p02"]).token
    with TestClient(app=app) as c:
        c.headers.update(bearer(admin))
        yield c, scoped
