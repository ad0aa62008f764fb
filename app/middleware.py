"""Limits enforced before heavy work, as pure ASGI middleware: one reading of each framing
header and a URL cap (400, 414), the request body's size (413 before anything parses it), the
time it may take to arrive (408) and the bytes all bodies hold at once (503), the number of
values in a JSON body (422, as validation would say after parsing), the answer's size, and
redirects that never name the Host header's server."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_STRUCTURE = (b",", b"[", b"{")
# Headers that say how to read the body: one of each, or the readers could disagree (a JSON
# body checked as text/plain here, parsed as JSON by FastAPI).
SINGLE_HEADERS = (b"content-type", b"content-length", b"transfer-encoding")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


class BodyTooSlow(HTTPException):
    def __init__(self, limit: float):
        super().__init__(408, f"the request body did not arrive within {limit:g} s")


class BodyBudgetExceeded(HTTPException):
    def __init__(self, limit: int):
        super().__init__(503, f"the server holds {limit} bytes of request bodies already; "
                              f"retry shortly", headers={"Retry-After": "1"})


class BodyBudget:
    """The bytes of request bodies the process holds at once, at most ``limit``: a body is
    counted from its declared length before it is read (or as it arrives without one) until its
    request is answered, so many clients each sending a large body cannot add up without bound."""

    def __init__(self, limit: int):
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        self.held -= size


class RequestHeadCheck:
    """Pure ASGI middleware: a request with two ``Content-Type``, ``Content-Length`` or
    ``Transfer-Encoding`` headers is refused with 400, and one whose target is longer than
    ``max_url_bytes`` with 414 (the guarded protocol refuses both earlier; this holds for any
    server)."""

    def __init__(self, app: ASGIApp, max_url_bytes: int):
        self.app = app
        self.max_url_bytes = max_url_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("raw_path") or b"") + len(scope["query_string"]) > self.max_url_bytes:
            await reply(send, 414, f"the URL is longer than {self.max_url_bytes} bytes")
            return
        names = [name for name, _ in scope["headers"] if name in SINGLE_HEADERS]
        if len(names) != len(set(names)):
            twice = sorted({n.decode() for n in names if names.count(n) > 1})
            await reply(send, 400, f"the request has more than one {' and '.join(twice)} "
                                   f"header")
            return
        await self.app(scope, receive, send)


class RelativeRedirects:
    """Pure ASGI middleware: a redirect's ``Location`` is made a path on this server (Starlette
    builds it from the Host header, so ``Host: evil.example`` would send the client there), with
    leading slashes folded so ``//evil.example`` cannot become a scheme-relative address."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def relative_send(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                message = {**message, "headers": [
                    (name, _local(value) if name == b"location" else value)
                    for name, value in message.get("headers") or []]}
            await send(message)

        await self.app(scope, receive, relative_send)


def _local(location: bytes) -> bytes:
    parts = urlsplit(location.decode("latin-1"))
    path = "/" + parts.path.lstrip("/")
    return urlunsplit(("", "", path, parts.query, parts.fragment)).encode("latin-1")


class BodySizeLimit:
    """Pure ASGI middleware: a declared Content-Length over ``max_bytes`` is answered at once;
    a body streamed without one is counted as it arrives and cut off at the limit; a body not
    all there ``timeout`` seconds after the request began is cut off too (a client trickling its
    body holds no task for longer). Both are raised as HTTPExceptions from ``receive``, so
    whichever reader waits on the body passes them on, and answered 413 or 408 here. The body
    is counted against ``budget`` while its request runs (503 + Retry-After when it is spent)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float,
                 budget: BodyBudget | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.budget = budget if budget is not None else BodyBudget(sys.maxsize)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        reserved = 0
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await reply(send, 400, "the Content-Length header is not a number")
                return
            if length > self.max_bytes:
                await reply(send, 413, str(BodyTooLarge(self.max_bytes).detail))
                return
            if not self.budget.take(length):
                refused = BodyBudgetExceeded(self.budget.limit)
                await reply(send, 503, str(refused.detail), headers=refused.headers)
                return
            reserved = length
        received = 0
        started = False
        complete = False
        deadline = asyncio.get_running_loop().time() + self.timeout

        async def limited_receive() -> Message:
            nonlocal received, complete, reserved
            if complete:  # only a disconnect is left to wait for: no deadline
                return await receive()
            try:  # asyncio.timeout, unlike wait_for, starts no task per message
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
                if received > reserved:
                    if not self.budget.take(received - reserved):
                        raise BodyBudgetExceeded(self.budget.limit)
                    reserved = received
                complete = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (BodyTooLarge, BodyTooSlow, BodyBudgetExceeded) as exc:
            if started:
                raise
            await reply(send, exc.status_code, str(exc.detail), headers=exc.headers)
        finally:
            self.budget.give(reserved)


class JsonItemLimit:
    """Refuse a JSON body holding more than ``max_items`` values with 422, before it is parsed:
    the count is of ``,``, ``[`` and ``{`` bytes (an upper bound on array elements plus object
    members plus containers), which C-speed ``bytes.count`` gives for a 2 MB body in about a
    millisecond, where parsing a million-element list would hold the event loop for 100 ms."""

    def __init__(self, app: ASGIApp, max_items: int):
        self.app = app
        self.max_items = max_items

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return
        items = sum(body.count(mark) for mark in JSON_STRUCTURE)
        if items > self.max_items:
            await reply(send, 422, f"the JSON body holds about {items} values; at most "
                                   f"{self.max_items} are accepted (28×28 pixels are 812)",
                        close=False)  # the body was read: the connection can serve on
            return
        await self.app(scope, replay(body, receive), send)


class ResponseSizeLimit:
    """An answer declaring more than ``max_bytes`` is replaced by a 422 naming both sizes, so a
    model with huge layers cannot make the service send (or a client take) without bound.
    Every answer of this app declares its length; the check costs nothing."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dropped = False

        async def limited_send(message: Message) -> None:
            nonlocal dropped
            if message["type"] == "http.response.start":
                length = dict(message.get("headers") or []).get(b"content-length")
                if length is not None and length.isdigit() and int(length) > self.max_bytes:
                    dropped = True
                    await reply(send, 422, f"the answer would be {int(length)} bytes, more than "
                                           f"the response limit of {self.max_bytes} bytes",
                                close=False)
                    return
            if not dropped:
                await send(message)

        await self.app(scope, receive, limited_send)


class StartupFailureMessage:
    """Lifespan only: when startup fails, hand the server one line (``state.startup_error``)
    instead of the traceback, so uvicorn prints the file and the problem and exits."""

    def __init__(self, app: ASGIApp, state):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def concise_send(message: Message) -> None:
            error = getattr(self.state, "startup_error", None)
            if message["type"] == "lifespan.startup.failed" and error:
                message = {**message, "message": error}
            await send(message)

        await self.app(scope, receive, concise_send)


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (RequestHeadCheck refuses a second one of the
    framing headers, so first and last agree for them)."""
    return next((value for key, value in scope.get("headers") or [] if key == name), None)


def _is_json(scope: Scope) -> bool:
    media = header(scope, b"content-type") or b""
    media = media.split(b";")[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/")
                                            and media.endswith(b"+json"))


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client disconnected before sending it all."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A ``receive`` that gives ``body`` as one message, then whatever ``receive`` gives."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def reply(send: Send, status: int, detail: str, close: bool = True,
                headers: Mapping[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()),
               *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
