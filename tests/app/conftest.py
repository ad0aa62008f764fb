"""App fixtures: small untrained networks of several architectures in a temporary weights
directory (self-test threshold 0), and the shipped weights with the real settings."""

import pytest
from fastapi.testclient import TestClient
from tiny_models import TINY, write_tiny, write_tiny_units

from app.config import Settings
from app.main import create_app
from model.data import REPO_ROOT


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("weights")
    for i, (name, (arch, config)) in enumerate(TINY.items()):
        write_tiny(directory, name, arch, config, seed=i, initial=name != "tiny_lenet")
        if name != "tiny_lenet":  # one model without a units file
            write_tiny_units(directory, name)
    (directory / "notes.json").write_text('{"not": "a manifest"}')
    return directory


@pytest.fixture(scope="session")
def tiny_settings(tiny_dir):
    return Settings(weights_dir=tiny_dir, default_model="tiny", min_self_test_accuracy=0.0)


@pytest.fixture(scope="session")
def client(tiny_settings):
    with TestClient(create_app(tiny_settings)) as c:
        yield c


@pytest.fixture(scope="session")
def real_app():
    return create_app(Settings(weights_dir=REPO_ROOT / "weights"))


@pytest.fixture(scope="session")
def real_client(real_app):
    with TestClient(real_app) as c:
        yield c
