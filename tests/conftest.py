"""Every test's training runs live in one temporary directory (never the user's data directory),
and servers started by the tests, in process or live, train nothing unless a test asks for it
(``CNNVIS_MAX_RUNS=0`` in the environment, ``max_runs`` in Settings). Under pytest-xdist each
worker gets its own directory, so two workers' runs registries never meet.

Under ``--dist loadfile`` (scripts/test) a worker takes whole files, so their module-scoped
servers start once, and all the browser tests as one unit, largest first: two Chromiums rendering
WebGL in software on two cores would only slow each other down, while the other worker runs the
rest. (xdist's own ``loadgroup`` cannot do this under pytest 9: it renames node ids the old way.)"""

import os
import shutil
import tempfile

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
    """Under ``--dist loadfile``: whole files, except that every browser test is one unit."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FilesAndOneBrowser(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(BROWSER_PREFIX):
                return "browser"
            return super()._split_scope(nodeid)

    return FilesAndOneBrowser(config, log)
