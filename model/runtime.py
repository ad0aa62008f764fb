"""Process-level tuning for long NumPy loops (training, benchmarks): glibc's malloc and BLAS's
thread count.

glibc returns every large temporary (> 128 KB by default) to the OS with munmap, so each training
step page-faults all of its temporaries in again as fresh zeroed memory; keeping freed memory in the
heap removes that.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=8)
def thread_pool(threads: int) -> ThreadPoolExecutor:
    """One shared pool per thread count, so that per-step work does not start threads."""
    return ThreadPoolExecutor(threads, thread_name_prefix="cnnvis-batch")


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS held to one thread inside the block, for code that brings its own threads.

    Process-wide (threadpoolctl), restored on exit. The controller finds the BLAS libraries
    once, on first use; each limit after that is cheap next to a batch.
    """
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 1 << 30, trim_threshold: int = 2 << 30,
                      top_pad: int = 64 << 20) -> bool:
    """Ask glibc's malloc to serve arrays below ``mmap_threshold`` bytes from the heap and to
    keep up to ``trim_threshold`` bytes of it free instead of returning them; True if applied.

    A no-op (False) on other platforms or C libraries.
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(M_MMAP_THRESHOLD, min(mmap_threshold, 2**31 - 1))
    ok &= mallopt(M_TRIM_THRESHOLD, min(trim_threshold, 2**31 - 1))
    ok &= mallopt(M_TOP_PAD, min(top_pad, 2**31 - 1))
    return bool(ok)
