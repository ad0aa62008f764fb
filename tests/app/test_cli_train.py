"""``cnnvis train`` flags come from ``TrainConfig``: every shipped manifest's recorded command
parses back to the config recorded beside it, and each field has its flag, default and help."""

import json
import shlex
from dataclasses import asdict, fields

import pytest

from app.cli import build_parser, train_config
from model.data import REPO_ROOT
from model.optim import OPTIMIZERS
from model.train import TrainConfig

MANIFESTS = sorted((REPO_ROOT / "weights").glob("*.json"))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.stem)
def test_a_shipped_command_parses_to_its_recorded_config(path):
    training = json.loads(path.read_text())["training"]
    words = shlex.split(training["command"])
    assert words[:2] == ["cnnvis", "train"]
    config = asdict(train_config(build_parser().parse_args(words[1:])))
    # Older manifests predate some fields (threads, elastic distortion): compare what they record.
    recorded = {key: training[key] for key in config if key in training}
    assert len(recorded) >= 14  # the oldest manifest records 14 of the fields
    assert {key: config[key] for key in recorded} == recorded


def test_every_config_field_is_a_flag_with_its_default_and_help(capsys):
    assert asdict(train_config(build_parser().parse_args(["train"]))) == {
        **asdict(TrainConfig()), "name": TrainConfig().arch}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split()).replace("- ", "-")  # argparse wraps lines
    for f in fields(TrainConfig):
        assert f"--{f.name.replace('_', '-')} " in shown
        assert f.metadata["help"].replace("- ", "-") in shown


def test_typed_values_and_optimizer_choices():
    config = train_config(build_parser().parse_args(
        ["train", "--arch-config", '{"filter_num": 4}', "--decay-epochs", "3", "5",
         "--lr", "0.01", "--optimizer", "momentum", "--data-dir", "/data"]))
    assert (config.arch_config, config.decay_epochs, config.lr) == ({"filter_num": 4}, [3, 5], 0.01)
    assert (config.optimizer, config.data_dir, config.name) == ("momentum", "/data",
                                                                 "simple_convnet")
    for name in OPTIMIZERS:
        assert build_parser().parse_args(["train", "--optimizer", name]).optimizer == name
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--optimizer", "rmsprop"])
