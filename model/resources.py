"""Where the files that ship beside the code live: ``weights/``, ``datasets/`` (MNIST),
``static/`` and ``templates/``.

In a checkout (and an editable install) they are top-level folders of the repository; a built
wheel carries them inside the packages (``model/weights``, ``model/datasets``, ``app/static``,
``app/templates``, mapped by the wheel target in pyproject.toml). Paths are found beside this
file, so no import of ``app``.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_path

WEIGHTS_ENV = "CNNVIS_WEIGHTS_DIR"
RUNS_ENV = "CNNVIS_RUNS_DIR"
# The folder that holds the ``model`` and ``app`` packages: the checkout, or site-packages.
_ROOT = Path(__file__).resolve().parent.parent
# Each shipped folder and the package a wheel puts it in.
_PACKAGE_OF = {"weights": "model", "datasets": "model", "static": "app", "templates": "app"}


def shipped_dir(name: str) -> Path:
    """The installed ``weights``, ``datasets``, ``static`` or ``templates`` folder (inside its
    package in a wheel, at the top of the repository in a checkout)."""
    packaged = _ROOT / _PACKAGE_OF[name] / name
    return packaged if packaged.is_dir() else _ROOT / name


def weights_dir(env: dict[str, str] | os._Environ[str] | None = None) -> Path:
    """``$CNNVIS_WEIGHTS_DIR`` if set, else the shipped weights."""
    raw = (os.environ if env is None else env).get(WEIGHTS_ENV, "").strip()
    return Path(raw).expanduser() if raw else shipped_dir("weights")


def runs_dir(env: dict[str, str] | os._Environ[str] | None = None) -> Path:
    """``$CNNVIS_RUNS_DIR`` if set, else ``cnnvis/runs`` in the per-user data directory
    (``~/.local/share`` on Linux, as platformdirs says for each system)."""
    raw = (os.environ if env is None else env).get(RUNS_ENV, "").strip()
    return Path(raw).expanduser() if raw else user_data_path("cnnvis", appauthor=False) / "runs"
