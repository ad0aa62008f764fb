"""Freed memory back to the system after a burst: glibc's heap keeps what requests freed (on
purpose, see app/main.py), so once no request has run for a while, ``malloc_trim(0)`` (glibc
malloc(3)) hands the free pages back and the resident size returns near its warm level."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util

from starlette.types import ASGIApp, Receive, Scope, Send


def _malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


MALLOC_TRIM = _malloc_trim()


class IdleTrim:
    """Pure ASGI middleware counting HTTP requests in progress: ``idle_seconds`` after the last
    one ends with none begun since, the heap is trimmed once (in a worker thread; ctypes lets go
    of the GIL). A new request cancels a pending trim. ``idle_seconds`` 0 turns it off."""

    def __init__(self, app: ASGIApp, idle_seconds: float):
        self.app = app
        self.idle_seconds = idle_seconds
        self.active = 0
        self.timer: asyncio.TimerHandle | None = None
        self.trims = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.idle_seconds or MALLOC_TRIM is None:
            await self.app(scope, receive, send)
            return
        self.active += 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            if self.active == 0:
                loop = asyncio.get_running_loop()
                self.timer = loop.call_later(self.idle_seconds, self._trim, loop)

    def _trim(self, loop: asyncio.AbstractEventLoop) -> None:
        self.timer = None
        self.trims += 1
        loop.run_in_executor(None, MALLOC_TRIM, 0)
