"""A request a key sent before is answered again from the replay cache (service/replay.py) with the
very bytes the full path gave, and never to another key, a revoked key or after another model."""

from __future__ import annotations

from litestar.testing import TestClient

from service import auth
from tests.service.conftest import Keys, bearer

BODY = b'{"horizon": 2, "levels": [0.8], "partners": ["p01", "p02"]}'
JSON = {"content-type": "application/json"}


def _post(client: TestClient, token: str, body: bytes = BODY, path: str = "/v1/forecasts"):
    return client.post(path, content=body, headers={**JSON, **bearer(token)})


def test_a_repeated_request_gets_the_same_bytes_and_headers(client: TestClient, keys: Keys) -> None:
    served = client.app.state.services.holder.served
    first = _post(client, keys.reader)
    hits = served.replay.hits
    again = _post(client, keys.reader)
    assert served.replay.hits == hits + 1  # answered by the replay
    assert again.status_code == 200 and again.content == first.content
    for header in ("content-type", "content-length"):
        assert again.headers[header] == first.headers[header]
    block = b'{"levels": [0.9], "partners": ["p01"]}'
    assert (
        _post(client, keys.reader, block, "/v1/block-buys").content
        == _post(client, keys.reader, block, "/v1/block-buys").content
    )


def test_another_key_never_gets_a_replay_of_this_one(client: TestClient, keys: Keys) -> None:
    everyone = b'{"horizon": 1, "levels": [0.8]}'
    wide = _post(client, keys.reader, everyone).json()
    _post(client, keys.reader, everyone)  # now in the replay cache for the reader's key
    scoped = _post(client, keys.scoped, everyone).json()
    assert {c["partner"] for c in scoped["cells"]} == {"p01", "p02"}
    assert len({c["partner"] for c in wide["cells"]}) > 2


def test_a_revoked_key_is_refused_not_replayed(client: TestClient, app_and_keys) -> None:
    services = app_and_keys[0].state.services
    issued = auth.create_key(services.engine, "soon revoked", "reader")
    assert _post(client, issued.token).status_code == 200
    assert _post(client, issued.token).status_code == 200
    auth.revoke_key(services.engine, issued.caller.key_id)
    services.keys.forget()  # what DELETE /v1/keys/{id} does in this process
    assert _post(client, issued.token).status_code == 401


def test_requests_the_replay_leaves_to_the_full_path(client: TestClient, keys: Keys) -> None:
    # a body over the replay's size, a doubled key header: the full path answers (and checks) them
    big = b'{"horizon": 1, "levels": [0.8], "partners": ["p01"]' + b" " * 5000 + b"}"
    assert _post(client, keys.reader, big).status_code == 200
    doubled = [("authorization", f"Bearer {keys.scoped}"), ("authorization", f"Bearer {keys.reader}")]
    response = client.post("/v1/forecasts", content=BODY, headers=[*JSON.items(), *doubled])
    assert response.status_code in (200, 401, 403)
    if response.status_code == 200:  # whichever key counted, its own view and no wider
        assert {c["partner"] for c in response.json()["cells"]} <= {"p01", "p02"}


def test_large_answers_are_gzipped_for_clients_that_take_it(client: TestClient, keys: Keys) -> None:
    body = b'{"horizon": 3, "levels": [0.5, 0.8, 0.95]}'  # every cell: hundreds of kilobytes
    plain = client.post("/v1/forecasts", content=body, headers={**JSON, "accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.headers["vary"] == "accept-encoding"
    for _ in range(2):  # the full path, then the replay
        packed = client.post("/v1/forecasts", content=body, headers={**JSON, "accept-encoding": "gzip"})
        assert packed.headers["content-encoding"] == "gzip"
        assert int(packed.headers["content-length"]) < len(plain.content) / 4
        assert packed.json() == plain.json()  # httpx unpacks it
    refused = client.post("/v1/forecasts", content=body, headers={**JSON, "accept-encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
