"""Every test's training runs live in one temporary directory (never the user's data directory),
and servers started by the tests, in process or live, train nothing unless a test asks for it
(``CNNVIS_MAX_RUNS=0`` in the environment, ``max_runs`` in Settings). Under pytest-xdist each
worker gets its own directory, so two workers' runs registries never meet.

Under ``--dist loadfile`` (scripts/test) a worker takes whole files, so their module-scoped
servers start once. The browser files are dealt into one unit per worker, which start first: each
worker then starts one page server and one Chromium, and the browser tests, which mostly wait on
rendering and animations, overlap with each other and then with the rest. (One browser unit for
all left the suite's CPU 43 % used: the browser tests alone took 17 minutes.)"""

import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).parent
BROWSER_PREFIX = "tests/browser/"  # node ids are relative to the rootdir

RUNS_ENV = {"CNNVIS_RUNS_DIR": "", "CNNVIS_MAX_RUNS": "0"}


def pytest_configure(config):
    # A worker inherits the controller's environment: its own directory replaces the inherited one.
    RUNS_ENV["CNNVIS_RUNS_DIR"] = tempfile.mkdtemp(prefix="cnnvis-test-runs-")
    os.environ["CNNVIS_RUNS_DIR"] = RUNS_ENV["CNNVIS_RUNS_DIR"]
    os.environ.setdefault("CNNVIS_MAX_RUNS", RUNS_ENV["CNNVIS_MAX_RUNS"])


def pytest_unconfigure(config):
    shutil.rmtree(RUNS_ENV["CNNVIS_RUNS_DIR"], ignore_errors=True)


def pytest_xdist_make_scheduler(config, log):
    """Under ``--dist loadfile``: whole files, except that the browser files make one unit per
    worker (alternate files by name), which go first, being the largest."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    workers = max(1, int(config.getvalue("numprocesses") or 1))
    browser_files = sorted(p.name for p in (ROOT / "browser").glob("test_*.py"))

    class BrowserUnits(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(BROWSER_PREFIX):
                name = nodeid[len(BROWSER_PREFIX):].split("::")[0]
                return f"browser-{browser_files.index(name) % workers}"
            return super()._split_scope(nodeid)

    return BrowserUnits(config, log)
