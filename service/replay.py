"""A forecast request a key has sent before, byte for byte, answered again before the framework runs.

Dashboards poll: most forecast requests repeat one a key sent a moment ago. Their answer is in the
response cache, yet each still paid for Litestar's routing, signature parsing and response assembly:
four tenths of a cached answer's CPU, which under 50 clients was the p99's margin. This middleware
keeps, per served model, the body each (key, path, request body) got, and sends it straight back.

What the full path would check still holds for a replay:
- the key: looked up in the key cache on every replay, so a revoked key stops as it does elsewhere;
  one the cache must first ask the database about takes the full path;
- its role and partner scope: a key's are fixed, and the entry was made for this very key;
- the body: the very bytes that passed the strict checks before;
- the model: the entries live with one served model and go when another is activated.
Anything added to the request path later (rate limits, audited reads) must be added here too, or must
switch replay off for the requests it concerns.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from litestar import Request, Response
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.auth import hash_token, token_from
from service.response_cache import accepts_gzip

PATHS = frozenset({"/v1/forecasts", "/v1/block-buys"})
MAX_BODY = 4 * 1024  # larger requests are not dashboards' and take the full path
_HEADERS = [(b"content-type", b"application/json"), (b"vary", b"accept-encoding")]


def key_of(token: str, path: str, body: bytes, gzip: bool) -> Hashable:
    return (hash_token(token), path, body, gzip)


def remember(request: Request, body: bytes, cache, response: Response) -> None:
    """Keep a 200 ``response`` for the request that got it (``body``: its bytes), as the full path
    answered it; ``cache`` is the served model's replay cache (service.response_cache.ResponseCache)."""
    if request.url.path in PATHS and len(body) <= MAX_BODY:
        token = token_from(request.headers)
        if token:
            gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
            encoding = response.headers.get("content-encoding", "")
            cache.put(key_of(token, request.url.path, body, gzip), (response.content, encoding))


def middleware(served: Callable[[], object | None], keys) -> Callable[[ASGIApp], ASGIApp]:
    """The replaying middleware, around an app whose served model ``served()`` gives (None: none yet)
    and whose keys ``keys`` (service.auth.KeyCache) holds."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def replaying(scope: Scope, receive: Receive, send: Send) -> None:
            current = served()
            if (
                current is None
                or scope["type"] != "http"
                or scope["method"] != "POST"
                or scope["path"] not in PATHS
            ):
                await app(scope, receive, send)
                return
            names = [k.lower() for k, _ in scope["headers"]]
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            length = headers.get("content-length", "")
            token = token_from(headers)
            if (
                not token
                or names.count(b"authorization") + names.count(b"x-api-key") > 1  # which would count?
                or not length.isdigit()
                or int(length) > MAX_BODY
                or keys.cached(token) in (None, False)  # unknown, or not looked up lately: full path
            ):
                await app(scope, receive, send)
                return
            chunks, more = [], True
            while more:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    return
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
            gzip = accepts_gzip(headers.get("accept-encoding", ""))
            hit = current.replay.get(key_of(token, scope["path"], body, gzip))  # type: ignore[attr-defined]
            if hit is None:
                await app(scope, _replayed(body, receive), send)
                return
            answer, encoding = hit
            sent = [*_HEADERS, (b"content-length", str(len(answer)).encode())]
            if encoding:
                sent.append((b"content-encoding", encoding.encode()))
            await send({"type": "http.response.start", "status": 200, "headers": sent})
            await send({"type": "http.response.body", "body": answer})

        return replaying

    return wrap


def _replayed(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the full path, which reads the body this middleware has read already."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


__all__ = ["MAX_BODY", "PATHS", "middleware", "remember"]
