"""uvicorn's httptools protocol with the limits of nginx's client_header_timeout,
large_client_header_buffers and limit_conn: a head deadline and size cap, idle connections closed
first at the connection limit, a per-address share, and JSON for answers given before the app."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from .metrics import CLIENT_LEFT_KEY
from .security import API_HEADERS

logger = logging.getLogger("uvicorn.error")
MAX_HEADERS = 100  # header fields in one request head (Apache's LimitRequestFields)
RETRY_AFTER_S = 1


@dataclass(frozen=True)
class GuardLimits:
    """``header_timeout`` seconds for a request head to arrive in full, counted from the
    connection's start or the end of its previous answer; ``max_head_bytes`` for the request
    line and headers together, ``max_url_bytes`` for the request target; one client address may
    hold at most ``address_share`` of the connection limit. Defaults: app/config.py."""

    header_timeout: float
    max_head_bytes: int
    max_url_bytes: int
    address_share: float

    @classmethod
    def from_settings(cls, settings: Any) -> "GuardLimits":
        return cls(header_timeout=settings.header_timeout_seconds,
                   max_head_bytes=settings.max_head_bytes, max_url_bytes=settings.max_url_bytes,
                   address_share=settings.address_share)


class Refused(Exception):
    """Answer ``status`` with ``detail`` and close: the request cannot be read further."""

    def __init__(self, status: int, detail: str, headers: tuple = ()):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def answer_bytes(status: int, detail: str, extra: list[tuple[bytes, bytes]]) -> bytes:
    """A complete HTTP/1.1 answer: JSON ``{"detail": ...}``, the security headers, close."""
    body = json.dumps({"detail": detail}).encode()
    headers = [*extra, (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
               (b"cache-control", b"no-store"), *API_HEADERS]
    return b"".join([STATUS_LINE[status], *(b"%s: %s\r\n" % h for h in headers), b"\r\n", body])


async def busy_app(scope, receive, send) -> None:
    """The answer when the server already runs as many requests as it may (uvicorn's own is
    text/plain): JSON 503 with Retry-After; the connection closes after it."""
    body = json.dumps({"detail": "the server is at its connection limit; retry shortly"}).encode()
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(RETRY_AFTER_S).encode()),
                            (b"connection", b"close"), (b"cache-control", b"no-store"),
                            *API_HEADERS]})
    await send({"type": "http.response.body", "body": body})


class Shared:
    """State of one server's connections: how many each address holds, and the connections
    waiting for a request head, oldest first (a dict keeps insertion order)."""

    def __init__(self) -> None:
        self.by_address: Counter[str] = Counter()
        self.idle: dict[HttpGuard, None] = {}


class HttpGuard(HttpToolsProtocol):
    """Per connection: while a request head is awaited, the bytes fed to the parser are counted
    and cut at the limit (the parser never sees more, so a huge header costs what was read), and
    a timer closes the connection when the head is late. uvicorn's own concurrency check (which
    counts idle connections and answers text/plain) is replaced: a new connection past the limit
    closes the longest-idle one; a request past the task limit gets a JSON 503."""

    limits: ClassVar[GuardLimits | None] = None

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_connections = self.limit_concurrency
        self.limit_concurrency = None  # checked here instead, see on_headers_complete
        if not hasattr(server_state, "guard"):
            server_state.guard = Shared()
        self.shared: Shared = server_state.guard
        self.guard = type(self).configured()
        self.address: str | None = None
        self.counted = False
        self.in_head = True
        self.head_bytes = 0
        self.header_count = 0
        self.head_timer: asyncio.TimerHandle | None = None

    @classmethod
    def configured(cls) -> GuardLimits:
        """The limits, read once per process from the service's settings (``CNNVIS_*``)."""
        if cls.limits is None:
            from .config import Settings

            cls.limits = GuardLimits.from_settings(Settings.from_env())
        return cls.limits

    # Connections ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.address = self.client[0] if self.client else None
        self.shared.by_address[self.address] += 1
        self.counted = True
        limit = self.max_connections
        if limit is not None:
            share = max(1, int(limit * self.guard.address_share))
            if self.shared.by_address[self.address] > share:
                self.refuse(Refused(503, f"too many connections from one address (at most "
                                         f"{share}); retry shortly",
                                    ((b"retry-after", str(RETRY_AFTER_S).encode()),)))
                return
            if len(self.connections) > limit and not self.evict_idle():
                self.refuse(Refused(503, "the server is at its connection limit; retry shortly",
                                    ((b"retry-after", str(RETRY_AFTER_S).encode()),)))
                return
        self.await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_waiting()
        self.client_left()
        self.uncount()
        super().connection_lost(exc)

    def uncount(self) -> None:
        if self.counted:
            self.counted = False
            self.shared.by_address[self.address] -= 1
            if self.shared.by_address[self.address] <= 0:
                del self.shared.by_address[self.address]

    def handle_websocket_upgrade(self) -> None:
        # The connection passes to a WebSocket protocol, which will not call connection_lost
        # here (cnnvis serve turns WebSockets off; a plain uvicorn may not).
        self.stop_waiting()
        self.uncount()
        super().handle_websocket_upgrade()

    def eof_received(self) -> None:
        """The client closed its side: the transport closes after this returns, so the answer
        in progress can no longer be sent; say so now rather than when writing fails."""
        self.client_left()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()

    def client_left(self) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.scope[CLIENT_LEFT_KEY] = True  # type: ignore[typeddict-unknown-key]

    def evict_idle(self) -> bool:
        """Close the connection that has waited longest for a request head; False if none."""
        for other in self.shared.idle:
            if other is not self:
                other.stop_waiting()
                other.transport.close()
                return True
        return False

    # Request heads ----------------------------------------------------------------------------
    def await_head(self) -> None:
        self.stop_waiting()
        self.shared.idle[self] = None
        self.head_timer = self.loop.call_later(self.guard.header_timeout, self.head_late)

    def stop_waiting(self) -> None:
        self.shared.idle.pop(self, None)
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def head_late(self) -> None:
        self.head_timer = None
        self.shared.idle.pop(self, None)
        if self.head_bytes:  # a request began: say why it ends
            self.refuse(Refused(408, f"the request head did not arrive within "
                                     f"{self.guard.header_timeout:g} s"))
        elif not self.transport.is_closing():
            self.transport.close()  # idle: nothing was asked, nothing to answer

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            while data and self.in_head:
                room = self.guard.max_head_bytes - self.head_bytes
                if room <= 0:
                    raise Refused(431, f"the request line and headers are larger than "
                                       f"{self.guard.max_head_bytes} bytes")
                piece, data = data[:room], data[room:]
                self.head_bytes += len(piece)
                self.parser.feed_data(piece)
            if data:
                self.parser.feed_data(data)
        except Refused as refused:
            self.refuse(refused)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            self.refuse(cause if isinstance(cause, Refused)
                        else Refused(400, "invalid HTTP request"))
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as exc:
            self.refuse(Refused(400, f"invalid HTTP request: {str(exc)[:100]}"))

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > self.guard.max_url_bytes:
            raise Refused(414, f"the URL is longer than {self.guard.max_url_bytes} bytes")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_count += 1
        if self.header_count > MAX_HEADERS:
            raise Refused(431, f"the request has more than {MAX_HEADERS} header fields")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_bytes = 0
        self.header_count = 0
        self.stop_waiting()
        if self.max_connections is not None and len(self.tasks) >= self.max_connections:
            app, self.app = self.app, busy_app
            try:
                super().on_headers_complete()
            finally:
                self.app = app
            return
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.in_head = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:  # no pipelined request: wait for the next
            self.await_head()

    # Answers before the app -------------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        self.refuse(Refused(400, msg))

    def refuse(self, refused: Refused) -> None:
        """Answer in JSON and close (uvicorn's own answers here are text/plain)."""
        self.stop_waiting()
        self.in_head = False
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            headers = [*self.server_state.default_headers, *refused.headers]
            self.transport.write(answer_bytes(refused.status, refused.detail, headers))
        self.transport.close()
