"""Admission control for inference: a bounded number of requests run, a bounded number wait a
bounded time, the rest are refused at once with 503 + ``Retry-After`` (load shedding as in
TorchServe/Triton queues; Retry-After is Little's law, W = L/λ, with λ the drain rate). Live
previews (``Cnnvis-Preview: 1``) wait behind every other request, as a lower priority class."""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import Metrics
from .middleware import read_body, replay

# The operations that run a network: every POST under /api/. And the GETs that cost as much:
# a layer's filters or a parameter array, and one unit's answer (its ideal input may be computed)
# (rendered once, then served from app/weightcache.py without a slot).
INFERENCE_METHOD = "POST"
INFERENCE_PREFIX = "/api/"
COSTLY_GET = re.compile(
    r"^/api/models/[^/]+/(filters|filters\.png|params/[^/]+|units/[^/]+/[^/]+)$")
# The queue's drain rate is measured over the last HANDOFFS slots passed from a finished request
# to a waiting one (so only while saturated), if at least MIN_HANDOFFS of them are recent.
HANDOFFS = 32
# The header by which the page marks the requests it makes while a stroke is being drawn: a
# preview that the stroke's final request will supersede, so it yields to everything else.
PREVIEW_HEADER = b"cnnvis-preview"
MIN_HANDOFFS = 8
RECENT_S = 2.0


class Busy(Exception):
    """No inference slot within the bounds; ``reason`` is ``queue_full`` or ``timeout``."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Limiter:
    """At most ``capacity`` holders; at most ``max_waiting`` waiters, each for at most
    ``max_wait`` seconds. Nobody is refused on a forecast of the wait: closed-loop clients retry
    at once, so a refusal on a noisy forecast (this machine's scheduler alone makes the drain
    rate jump) turns into a storm of retries that lowers the rate further.

    Loop-agnostic: waiters are futures of the running loop, created per wait, so one limiter
    can serve successive event loops (tests start one per client). A released slot is handed to
    the oldest waiter directly, so a newcomer can never overtake the queue.

    Two classes of waiters: previews (a drawing's live updates while a stroke goes on) are served
    only when no other request waits, so under load the previews thin out while the answers
    people wait for (a stroke's end) stay quick. Previews have their own bound, the bytes of
    their bodies waiting (at most ``max_preview_bytes``; the page has one preview in flight per
    person, a few KB each), and do not count toward ``max_waiting``.
    """

    def __init__(self, capacity: int, max_waiting: int, max_wait: float,
                 max_preview_bytes: int = 16 * 1024 * 1024):
        self.capacity = capacity
        self.max_waiting = max_waiting
        self.max_wait = max_wait
        self.max_preview_bytes = max_preview_bytes
        self.in_flight = 0
        self._waiters: deque[asyncio.Future] = deque()
        self._previews: deque[asyncio.Future] = deque()
        self._preview_sizes: dict[asyncio.Future, int] = {}
        self.preview_bytes = 0  # body bytes of the previews waiting
        self._handoffs: deque[float] = deque(maxlen=HANDOFFS)

    @property
    def waiting(self) -> int:
        return len(self._waiters) + len(self._previews)

    def drain_rate(self) -> float | None:
        """Waiters served per second lately, or None when the queue has not been busy enough
        to tell."""
        now = time.monotonic()
        recent = [t for t in self._handoffs if now - t <= RECENT_S]
        if len(recent) < MIN_HANDOFFS or recent[-1] <= recent[0]:
            return None
        return (len(recent) - 1) / (recent[-1] - recent[0])

    def expected_wait(self, position: int) -> float:
        """Seconds until the waiter at ``position`` (1 = next) gets a slot, by Little's law."""
        rate = self.drain_rate()
        return 0.0 if rate is None else position / rate

    def try_acquire(self, preview: bool = False, size: int = 0) -> bool:
        """Take a free slot now (True), or say the caller must wait (False); raise Busy when
        its queue is full (a preview of ``size`` body bytes: the previews' bytes)."""
        if self.in_flight < self.capacity and not self.waiting:
            self.in_flight += 1
            return True
        if preview and self.preview_bytes + size > self.max_preview_bytes:
            raise Busy("queue_full", f"the server is busy: {self.in_flight} inferences running "
                                     f"and {len(self._previews)} previews waiting; the next "
                                     "drawing's answer will come")
        if not preview and len(self._waiters) >= self.max_waiting:
            raise Busy("queue_full", f"the server is busy: {self.in_flight} inferences running "
                                     f"and {len(self._waiters)} waiting; retry shortly")
        return False

    async def acquire(self, preview: bool = False, size: int = 0) -> None:
        """Take a slot, waiting if need be, or raise Busy; cancellation leaves no slot taken and
        no waiter behind. A ``preview`` (of ``size`` body bytes) waits behind every other
        waiter."""
        if self.try_acquire(preview, size):
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        if preview:
            self._previews.append(waiter)
            self._preview_sizes[waiter] = size
            self.preview_bytes += size
        else:
            self._waiters.append(waiter)
        timer = loop.call_later(self.max_wait, self._expire, waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()  # the slot was handed over just as we were cancelled
            else:
                self._forget(waiter)
            raise
        finally:
            timer.cancel()

    def _expire(self, waiter: asyncio.Future) -> None:
        if not waiter.done():
            self._forget(waiter)
            waiter.set_exception(Busy("timeout", f"the server is busy: no inference slot "
                                                 f"within {self.max_wait:g} s; retry shortly"))

    def _forget(self, waiter: asyncio.Future) -> None:
        for queue in (self._waiters, self._previews):
            try:
                queue.remove(waiter)
                break
            except ValueError:
                pass
        self.preview_bytes -= self._preview_sizes.pop(waiter, 0)

    def release(self) -> None:
        """Give the slot back: to the oldest waiter, previews last, if any, else to the pool."""
        for queue in (self._waiters, self._previews):
            while queue:
                waiter = queue.popleft()
                self.preview_bytes -= self._preview_sizes.pop(waiter, 0)
                if not waiter.done():
                    waiter.set_result(None)  # the slot passes on; in_flight is unchanged
                    self._handoffs.append(time.monotonic())
                    return
        self.in_flight -= 1


def retry_after(limiter: Limiter) -> int:
    """Whole seconds after which a retry has a fair chance: the time to drain the queue."""
    return max(1, math.ceil(limiter.expected_wait(limiter.waiting + 1)))


def is_preview(scope: Scope) -> bool:
    """Whether the request says it is a live preview (``Cnnvis-Preview: 1``)."""
    return any(name == PREVIEW_HEADER and value.strip() == b"1" for name, value in scope["headers"])


def costly(scope: Scope) -> bool:
    """Whether the request runs a network or costs as much (see COSTLY_GET)."""
    if scope["method"] == INFERENCE_METHOD:
        return scope["path"].startswith(INFERENCE_PREFIX)
    return scope["method"] in ("GET", "HEAD") and COSTLY_GET.match(scope["path"]) is not None


class AdmissionControl:
    """Pure ASGI middleware around the inference operations.

    The body is read in full first (bounded by the body-size limit outside), so a slow upload
    never holds a slot; then a slot is taken, or the request waits, or it is refused with 503.
    A client that disconnects while waiting leaves the queue. The slot is given back when the
    route's answer starts (the work is done by then), not when a slow reader has taken it all.
    """

    def __init__(self, app: ASGIApp, limiter: Limiter, metrics: Metrics):
        self.app = app
        self.limiter = limiter
        self.metrics = metrics
        metrics.capacity.set(limiter.capacity)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not costly(scope):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return  # the client left before its body arrived
        gone: asyncio.Task | None = None
        preview = is_preview(scope)
        try:
            admitted = self.limiter.try_acquire(preview, len(body))
            if not admitted:
                # Wait for a slot, and at the same time for the client to give up.
                gone = asyncio.ensure_future(receive())
                admitted = await self._wait(gone, preview, len(body))
        except Busy as busy:
            await self._refuse(send, busy)
            admitted = False
        if not admitted:
            if gone is not None:
                gone.cancel()
            return
        await self._run(scope, receive, send, body, gone)

    async def _wait(self, gone: asyncio.Task, preview: bool, size: int) -> bool:
        """True once a slot is held; False if the client left first. Raises Busy."""
        acquire = asyncio.ensure_future(self.limiter.acquire(preview, size))
        await asyncio.sleep(0)  # let the waiter join the queue before it is counted
        self.metrics.waiting.set(self.limiter.waiting)
        try:
            await asyncio.wait({acquire, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not acquire.done():
                acquire.cancel()  # the client left: leave the queue (or pass a slot on)
                await asyncio.wait({acquire})
            self.metrics.waiting.set(self.limiter.waiting)
        if acquire.cancelled():
            self.metrics.rejected.labels(reason="client_left").inc()
            return False
        exc = acquire.exception()
        if exc is not None:
            raise exc
        return True

    async def _refuse(self, send: Send, busy: Busy) -> None:
        self.metrics.rejected.labels(reason=busy.reason).inc()
        body = json.dumps({"detail": busy.detail}).encode()
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(retry_after(self.limiter)).encode()),
                                (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})

    async def _run(self, scope: Scope, receive: Receive, send: Send, body: bytes,
                   gone: asyncio.Task | None) -> None:
        self.metrics.in_flight.set(self.limiter.in_flight)
        started = time.perf_counter()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.limiter.release()
                self.metrics.observe_inference(scope, time.perf_counter() - started)
                self.metrics.in_flight.set(self.limiter.in_flight)

        async def releasing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()
            await send(message)

        async def later_receive() -> Message:
            nonlocal gone
            if gone is not None:  # the receive started while waiting has the next message
                task, gone = gone, None
                return await task
            return await receive()

        try:
            await self.app(scope, replay(body, later_receive), releasing_send)
        finally:
            release()
            if gone is not None:
                gone.cancel()
