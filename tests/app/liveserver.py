"""Waiting for and stopping a real server process that a test started (``cnnvis serve``,
uvicorn, an installed wheel's ``cnnvis``), so each live-server fixture only says how to start it."""

import subprocess
import time
from collections.abc import Callable

import httpx
import pytest


def wait_ready(proc: subprocess.Popen, url: str, within_s: float,
               output: Callable[[], str]) -> None:
    """Poll ``url``/readyz until it answers 200; fail with the server's last output if it exits
    or is not ready within ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the server exited: {output()[-2000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"not ready within {within_s} s: {output()[-2000:]}"
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 20 s."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
