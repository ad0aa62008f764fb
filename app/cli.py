"""The ``cnnvis`` command line: data, train, evaluate, serve, predict."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from model.data import DATA_ENV, DatasetError


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help=f"MNIST directory (default: ${DATA_ENV})")


def cmd_data(args: argparse.Namespace) -> int:
    from model import data

    directory = data.resolve_data_dir(args.data_dir)
    if args.fetch:
        written = data.fetch(directory)
        print(f"downloaded {len(written)} file(s) into {directory}")
    report = data.verify(directory)
    arrays, _ = data.load_mnist(directory, check=False)
    for key, info in report.items():
        print(f"ok  {key:13s} {tuple(arrays[key].shape)!s:18s} {info['path']}  sha256 {info['sha256'][:16]}…")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from model.train import TrainConfig, train

    config = TrainConfig(
        arch=args.arch, arch_config=json.loads(args.arch_config), epochs=args.epochs,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, lr_decay=args.lr_decay,
        decay_epochs=args.decay_epochs, shift=args.shift, rotation=args.rotation, scale=args.scale,
        elastic_alpha=args.elastic_alpha, elastic_sigma=args.elastic_sigma,
        weight_decay=args.weight_decay, val_size=args.val_size, seed=args.seed,
        name=args.name or args.arch, out_dir=args.out_dir, data_dir=args.data_dir)
    command = "cnnvis " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    _, info = train(config, command=command, progress=not args.quiet)
    m = info["metrics"]
    print(f"selected epoch {info['training']['selected_epoch']} (val {m['val_accuracy']:.4f}); "
          f"test accuracy {m['test_accuracy']:.4f}; wrote {Path(args.out_dir) / config.name}.npz/.json")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from model.data import load_mnist, to_float
    from model.train import evaluate
    from model.weights import load_checked

    net, manifest, _ = load_checked(args.model, args.weights_dir)
    arrays, _ = load_mnist(args.data_dir)
    result = evaluate(net, to_float(arrays["test_images"]), arrays["test_labels"].astype("int64"))
    recorded = manifest.get("metrics", {}).get("test_accuracy")
    if args.json:
        print(json.dumps({"model": manifest["name"], **result, "manifest_test_accuracy": recorded}))
    else:
        print(f"{manifest['name']}: test accuracy {result['accuracy']:.4f} "
              f"(manifest: {recorded if recorded is None else f'{recorded:.4f}'}), loss {result['loss']:.4f}")
        print("per class: " + " ".join(f"{c}:{a:.3f}" for c, a in enumerate(result["per_class_accuracy"])))
    if recorded is not None and abs(recorded - result["accuracy"]) > 1e-9:
        print("warning: differs from the manifest", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnvis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="show and verify the MNIST files (optionally download them)")
    _add_data_dir(p)
    p.add_argument("--fetch", action="store_true", help="download from public mirrors first")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="train a network on MNIST and write weights + manifest")
    p.add_argument("--arch", default="simple_convnet")
    p.add_argument("--arch-config", default="{}", help="JSON constructor arguments")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--optimizer", default="adam", choices=["sgd", "momentum", "adam"])
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--lr-decay", type=float, default=0.3)
    p.add_argument("--decay-epochs", type=int, nargs="*", default=[],
                   help="epochs (from 1) at which lr is multiplied by --lr-decay")
    p.add_argument("--shift", type=int, default=0, help="random shift augmentation (pixels)")
    p.add_argument("--rotation", type=float, default=0.0,
                   help="random rotation augmentation, at most this many degrees")
    p.add_argument("--scale", type=float, default=0.0,
                   help="random scaling augmentation by a factor in [1 - scale, 1 + scale]")
    p.add_argument("--elastic-alpha", type=float, default=0.0,
                   help="elastic distortion strength in pixels (Simard et al. 2003; 0: off)")
    p.add_argument("--elastic-sigma", type=float, default=4.0,
                   help="elastic distortion smoothness in pixels")
    p.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty on weights")
    p.add_argument("--val-size", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", help="weights name (default: the architecture)")
    p.add_argument("--out-dir", default="weights")
    p.add_argument("--quiet", action="store_true")
    _add_data_dir(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score shipped weights on the 10k MNIST test set")
    p.add_argument("model", nargs="?", default="simple_convnet", help="name or path")
    p.add_argument("--weights-dir")
    p.add_argument("--json", action="store_true")
    _add_data_dir(p)
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    from model.weights import WeightsError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DatasetError, WeightsError) as exc:
        print(f"cnnvis: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
