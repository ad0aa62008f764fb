"""Process-level tuning for long NumPy loops (training, benchmarks).

glibc returns every large temporary (> 128 KB by default) to the OS with munmap, so each training
step page-faults ~100 MB of fresh zeroed memory; keeping freed memory in the heap removes that.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 1 << 30, trim_threshold: int = 2 << 30) -> bool:
    """Ask glibc's malloc to serve big arrays from the heap and not trim it; True if applied.

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
    ok &= mallopt(M_TOP_PAD, 64 << 20)
    return bool(ok)
