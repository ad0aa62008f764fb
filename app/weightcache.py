"""Answers that depend only on a model's weights (a conv layer's filters, their PNG, a parameter
array, what its units mean), computed once per URL and kept in a bounded LRU, with an ETag from
the weights' sha256 so ``If-None-Match`` is answered 304 without computing anything (RFC 9110
§8.8.3, §13.1.2)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import OrderedDict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEIGHT_ONLY = re.compile(r"^/api/models/(?P<name>[^/]+)/"
                         r"(?:filters|filters\.png|params/[^/]+|units/[^/]+(?:/[^/]+)?)$")
CACHE_CONTROL = b"public, max-age=3600"
MAX_BYTES = 32 * 1024 * 1024  # per worker; one answer may take at most a quarter
Stored = tuple[list[tuple[bytes, bytes]], bytes]


class WeightAnswers:
    """Pure ASGI middleware, outside admission control: a cached answer takes no slot; of
    concurrent requests for an answer not yet cached, one computes it and the others wait for
    it. The ETag hashes the model's sha256 with the path and query, so new weights under the
    same name change it."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BYTES):
        self.app = app
        self.max_bytes = max_bytes
        self.held = 0
        self.entries: OrderedDict[tuple[str, bytes], Stored] = OrderedDict()
        self.pending: dict[tuple[str, bytes], asyncio.Future] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (WEIGHT_ONLY.match(scope["path"])
                 if scope["type"] == "http" and scope["method"] == "GET" else None)
        registry = getattr(scope["app"].state, "registry", None) if found else None
        loaded = registry.models.get(found["name"]) if registry is not None else None
        if loaded is None:
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope["query_string"])
        tag = hashlib.sha256(b"\0".join([loaded.sha256.encode(), key[0].encode(), key[1]]))
        etag = b'"' + tag.hexdigest()[:32].encode() + b'"'
        ours = [(b"etag", etag), (b"cache-control", CACHE_CONTROL)]
        if etag in _tags(scope):
            await send({"type": "http.response.start", "status": 304, "headers": ours})
            await send({"type": "http.response.body", "body": b""})
            return
        while key not in self.entries and key in self.pending:
            await asyncio.shield(self.pending[key])
        stored = self.entries.get(key)
        if stored is not None:
            self.entries.move_to_end(key)
            # A copy: middleware outside (gzip) edits the headers of what it is sent in place.
            await send({"type": "http.response.start", "status": 200, "headers": list(stored[0])})
            await send({"type": "http.response.body", "body": stored[1]})
            return
        self.pending[key] = asyncio.get_running_loop().create_future()
        try:
            await self._compute(scope, receive, send, key, ours)
        finally:
            self.pending.pop(key).set_result(None)

    async def _compute(self, scope: Scope, receive: Receive, send: Send,
                       key: tuple[str, bytes], ours: list[tuple[bytes, bytes]]) -> None:
        start: Message | None = None
        saved_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def keeping_send(message: Message) -> None:
            nonlocal start, saved_headers
            if message["type"] == "http.response.start":
                if message["status"] == 200:
                    headers = [(k, v) for k, v in message.get("headers") or []
                               if k not in (b"etag", b"cache-control")] + ours
                    message = start = {**message, "headers": headers}
                    saved_headers = list(headers)  # before gzip outside rewrites them
            elif start is not None:
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keeping_send)
        if start is not None:
            self._keep(key, (saved_headers, b"".join(chunks)))

    def _keep(self, key: tuple[str, bytes], stored: Stored) -> None:
        size = len(stored[1]) + len(key[0]) + len(key[1])
        if size > self.max_bytes // 4:
            return
        self.entries[key] = stored
        self.held += size
        while self.held > self.max_bytes:
            (path, query), (_, body) = self.entries.popitem(last=False)
            self.held -= len(body) + len(path) + len(query)


def _tags(scope: Scope) -> list[bytes]:
    """The entity tags of the request's If-None-Match headers."""
    return [tag.strip().removeprefix(b"W/") for name, value in scope["headers"]
            if name == b"if-none-match" for tag in value.split(b",")]
