"""Every test's training runs live in one temporary directory (never the user's data directory),
and servers started by the tests, in process or live, train nothing unless a test asks for it
(``CNNVIS_MAX_RUNS=0`` in the environment, ``max_runs`` in Settings). Under pytest-xdist each
worker gets its own directory, so two workers' runs registries never meet.

Under ``--dist loadgroup`` (scripts/test) each file is one group, so its module-scoped servers
start once, and every browser test is in one group "browser": two Chromiums rendering WebGL in
software on two cores would only slow each other down, while the other worker runs the rest."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

BROWSER_TESTS = Path(__file__).parent / "browser"

RUNS_ENV = {"CNNVIS_RUNS_DIR": "", "CNNVIS_MAX_RUNS": "0"}


def pytest_configure(config):
    # A worker inherits the controller's environment: its own directory replaces the inherited one.
    RUNS_ENV["CNNVIS_RUNS_DIR"] = tempfile.mkdtemp(prefix="cnnvis-test-runs-")
    os.environ["CNNVIS_RUNS_DIR"] = RUNS_ENV["CNNVIS_RUNS_DIR"]
    os.environ.setdefault("CNNVIS_MAX_RUNS", RUNS_ENV["CNNVIS_MAX_RUNS"])


def pytest_unconfigure(config):
    shutil.rmtree(RUNS_ENV["CNNVIS_RUNS_DIR"], ignore_errors=True)


def pytest_collection_modifyitems(items):
    for item in items:
        path = Path(item.fspath)
        group = "browser" if BROWSER_TESTS in path.parents else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
