"""Every test's training runs live in one temporary directory (never the user's data directory),
and servers started by the tests, in process or live, train nothing unless a test asks for it
(``CNNVIS_MAX_RUNS=0`` in the environment, ``max_runs`` in Settings). Under pytest-xdist each
worker gets its own directory, so two workers' runs registries never meet."""

import os
import shutil
import tempfile

RUNS_ENV = {"CNNVIS_RUNS_DIR": "", "CNNVIS_MAX_RUNS": "0"}


def pytest_configure(config):
    # A worker inherits the controller's environment: its own directory replaces the inherited one.
    RUNS_ENV["CNNVIS_RUNS_DIR"] = tempfile.mkdtemp(prefix="cnnvis-test-runs-")
    os.environ["CNNVIS_RUNS_DIR"] = RUNS_ENV["CNNVIS_RUNS_DIR"]
    os.environ.setdefault("CNNVIS_MAX_RUNS", RUNS_ENV["CNNVIS_MAX_RUNS"])


def pytest_unconfigure(config):
    shutil.rmtree(RUNS_ENV["CNNVIS_RUNS_DIR"], ignore_errors=True)
