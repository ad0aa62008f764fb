"""Every test's training runs live in one temporary directory (never the user's data directory),
and servers started by the tests, in process or live, train nothing unless a test asks for it
(``CNNVIS_MAX_RUNS=0`` in the environment, ``max_runs`` in Settings)."""

import os
import shutil
import tempfile

RUNS_ENV = {"CNNVIS_RUNS_DIR": "", "CNNVIS_MAX_RUNS": "0"}


def pytest_configure(config):
    RUNS_ENV["CNNVIS_RUNS_DIR"] = tempfile.mkdtemp(prefix="cnnvis-test-runs-")
    for key, value in RUNS_ENV.items():
        os.environ.setdefault(key, value)


def pytest_unconfigure(config):
    shutil.rmtree(RUNS_ENV["CNNVIS_RUNS_DIR"], ignore_errors=True)
