"""The ``cnnvis`` command line: data, train, evaluate, serve, predict, misclassified, units,
neighbors."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import typing
from dataclasses import fields, replace
from pathlib import Path

from model.data import DatasetError
from model.dataset_registry import DATASETS, DEFAULT_DATASET
from model.train import TrainConfig
from model.weights import DEFAULT_MODEL


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    envs = ", ".join(f"${d.env} for {d.title}" for d in DATASETS.values())
    p.add_argument("--data-dir", help=f"the dataset's directory (default: {envs}, else the "
                                      f"shipped datasets/<name>)")


def cmd_data(args: argparse.Namespace) -> int:
    from model import data

    directory = data.resolve_data_dir(args.data_dir, args.dataset)
    if args.fetch:
        written = data.fetch(directory, dataset=args.dataset)
        print(f"downloaded {len(written)} file(s) into {directory}")
    report = data.verify(directory, args.dataset)
    arrays, _ = data.load_dataset(args.dataset, directory, check=False)
    for key, info in report.items():
        print(f"ok  {key:13s} {tuple(arrays[key].shape)!s:18s} {info['path']}  "
              f"sha256 {info['sha256'][:16]}…")
    return 0


def add_config_options(p: argparse.ArgumentParser, config_class: type) -> None:
    """One ``--flag-name`` per dataclass field: its type, default, help and choices."""
    hints = typing.get_type_hints(config_class)
    for f in fields(config_class):
        kind = hints[f.name]
        options = {"help": f.metadata.get("help"), "choices": f.metadata.get("choices")}
        if kind is dict or typing.get_origin(kind) is dict:
            options.update(type=json.loads, default="{}")  # parsed like a typed value
        elif typing.get_origin(kind) is list:
            options.update(type=typing.get_args(kind)[0], nargs="*", default=f.default_factory())
        else:
            optional = [t for t in typing.get_args(kind) if t is not type(None)]
            options.update(type=optional[0] if optional else kind, default=f.default)
        p.add_argument("--" + f.name.replace("_", "-"), **options)


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The config a parsed ``cnnvis train`` command line asks for (weights named after the
    architecture unless ``--name`` says otherwise)."""
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    return replace(config, name=config.name or config.arch)


def cmd_train(args: argparse.Namespace) -> int:
    from model.runtime import keep_freed_memory
    from model.train import train

    keep_freed_memory()

    config = train_config(args)
    command = "cnnvis " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    _, info = train(config, command=command, progress=not args.quiet)
    m = info["metrics"]
    print(f"selected epoch {info['training']['selected_epoch']} (val {m['val_accuracy']:.4f}); "
          f"test accuracy {m['test_accuracy']:.4f}; "
          f"wrote {Path(args.out_dir) / config.name}.npz/.json")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from model.data import load_dataset, to_float
    from model.dataset_registry import dataset_of
    from model.train import evaluate
    from model.weights import load_checked

    net, manifest, _ = load_checked(args.model, args.weights_dir)
    dataset = dataset_of(manifest)
    arrays, _ = load_dataset(dataset, args.data_dir)
    result = evaluate(net, to_float(arrays["test_images"]), arrays["test_labels"].astype("int64"))
    recorded = manifest.get("metrics", {}).get("test_accuracy")
    if args.json:
        print(json.dumps({"model": manifest["name"], **result, "manifest_test_accuracy": recorded}))
    else:
        print(f"{manifest['name']} ({dataset.title}): test accuracy {result['accuracy']:.4f} "
              f"(manifest: {recorded if recorded is None else f'{recorded:.4f}'}), "
              f"loss {result['loss']:.4f}")
        print("per class: " + ", ".join(f"{c} {a:.3f}" for c, a in
                                        zip(dataset.classes, result["per_class_accuracy"],
                                            strict=True)))
    if recorded is not None and abs(recorded - result["accuracy"]) > 1e-9:
        print("warning: differs from the manifest", file=sys.stderr)
        return 1
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import tempfile

    from app.config import Settings, available_cores
    from app.server import serve
    from app.startup import load_registry

    if args.weights_dir:
        os.environ["CNNVIS_WEIGHTS_DIR"] = str(Path(args.weights_dir).resolve())
    if args.workers > 1:
        # Admission control is per process: the workers share the cores between them.
        os.environ.setdefault("CNNVIS_MAX_INFLIGHT", str(max(1, available_cores() // args.workers)))
    # Load once up front so a bad weights file is one clear line, not a worker's traceback.
    settings = Settings.from_env()
    load_registry(settings)
    with tempfile.TemporaryDirectory(prefix="cnnvis-metrics-") as metrics_dir:
        if args.workers > 1:
            # Workers write their metrics here and /metrics sums them, whichever one answers.
            os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
        serve(args.host, args.port, args.workers, args.limit_concurrency, settings)
    return 0


IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def _predict_local(paths: list[str], model_name: str | None, weights_dir: str | None):
    """Yield ``(path, answer, error)`` per image, classified in this process."""
    import numpy as np

    from app.config import Settings
    from model.inputs import fit_input
    from model.preprocess import PreprocessError, preprocess_image
    from model.weights import load_checked

    name = model_name or Settings.from_env().default_model or DEFAULT_MODEL
    net, manifest, _ = load_checked(name, weights_dir)
    for path in paths:
        try:
            prepared = preprocess_image(Path(path).read_bytes())
        except (OSError, PreprocessError) as exc:
            yield path, None, str(exc)
            continue
        probs = net.predict(fit_input(prepared.image[None], net.input_shape))[0]
        yield path, {"model": Path(name).stem, "label": int(np.argmax(probs)),
                     "probabilities": [round(float(p), 6) for p in probs]}, None


def _predict_remote(paths: list[str], model_name: str | None, url: str):
    """Yield ``(path, answer, error)`` per image, classified by a running server."""
    import httpx

    with httpx.Client(base_url=url.rstrip("/"), timeout=60.0) as client:
        for path in paths:
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                yield path, None, str(exc)
                continue
            mime = IMAGE_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")
            form = {"model": model_name} if model_name else None
            files = {"file": (Path(path).name, data, mime)}
            response = client.post("/api/predict/file", files=files, data=form)
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:200]}
            if response.status_code != 200:
                yield path, None, f"HTTP {response.status_code}: {body.get('detail', body)}"
                continue
            yield path, {k: body[k] for k in ("model", "label", "probabilities")}, None


def cmd_predict(args: argparse.Namespace) -> int:
    import httpx

    if args.url:
        results = _predict_remote(args.images, args.model, args.url)
    else:
        results = _predict_local(args.images, args.model, args.weights_dir)
    failed = 0
    try:
        for path, answer, error in results:
            if error is not None:
                failed += 1
                if args.json:
                    print(json.dumps({"file": path, "error": error}))
                else:
                    print(f"{path}: error: {error}", file=sys.stderr)
                continue
            if args.json:
                print(json.dumps({"file": path, **answer}))
            else:
                probs = answer["probabilities"]
                print(f"{path}: {answer['label']}  (p={probs[answer['label']]:.3f}, "
                      f"model {answer['model']})")
                print("  " + " ".join(f"{d}:{p:.3f}" for d, p in enumerate(probs)))
    except httpx.HTTPError as exc:
        print(f"cnnvis: cannot reach {args.url} ({exc})", file=sys.stderr)
        return 2
    return 1 if failed else 0


def cmd_misclassified(args: argparse.Namespace) -> int:
    import numpy as np

    from model.data import load_dataset, to_float
    from model.dataset_registry import dataset_of
    from model.inputs import fit_input
    from model.misclassified import errors_path, find_misclassified, save_misclassified
    from model.runtime import available_cores
    from model.weights import default_weights_dir, load_checked

    manifest_path = Path(args.weights_dir or default_weights_dir()) / f"{args.model}.json"
    net, manifest, _ = load_checked(manifest_path)
    arrays, _ = load_dataset(dataset_of(manifest), args.data_dir)
    images = arrays["test_images"]
    probs = net.predict(fit_input(to_float(images)[:, 0], net.input_shape),
                        threads=available_cores())
    found = find_misclassified(probs, images, arrays["test_labels"], limit=args.limit)
    out = save_misclassified(errors_path(manifest_path), found, manifest["sha256"])
    wrong = int(np.sum(probs.argmax(axis=1) != arrays["test_labels"]))
    print(f"{args.model}: {wrong} of {len(images)} test images misclassified; wrote the "
          f"{len(found['labels'])} most confident mistakes to {out}")
    return 0


def cmd_units(args: argparse.Namespace) -> int:
    import time

    from model.runtime import available_cores
    from model.units import build_units_file
    from model.weights import default_weights_dir

    manifest_path = Path(args.weights_dir or default_weights_dir()) / f"{args.model}.json"
    started = time.perf_counter()
    out = build_units_file(manifest_path, threads=args.threads or available_cores())
    print(f"{args.model}: wrote {out} in {time.perf_counter() - started:.1f} s and recorded it "
          f"in {manifest_path.name}")
    return 0


def cmd_neighbors(args: argparse.Namespace) -> int:
    from model.reference import load
    from model.reference_build import build_file
    from model.runtime import available_cores
    from model.weights import default_weights_dir

    manifest_path = Path(args.weights_dir or default_weights_dir()) / f"{args.model}.json"
    out = build_file(manifest_path, threads=args.threads or available_cores(),
                     data_dir=args.data_dir)
    made = load(out)
    print(f"{args.model}: {len(made)} reference digits ({made.layer}, "
          f"{made.components.shape[0]} components), atypical beyond {made.threshold:.4f}; "
          f"wrote {out} and recorded it in {manifest_path.name}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import subprocess

    from model.data import REPO_ROOT

    script = REPO_ROOT / "benchmarks" / f"{args.suite}.py"
    if not script.is_file():
        print(f"cnnvis: {script} not found (benchmarks run from a source checkout)",
              file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(script), *args.options])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnvis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="show and verify a dataset's files (optionally download them)")
    p.add_argument("--dataset", default=DEFAULT_DATASET, choices=tuple(DATASETS))
    _add_data_dir(p)
    p.add_argument("--fetch", action="store_true", help="download from public mirrors first")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="train a network on a dataset and write weights + manifest")
    add_config_options(p, TrainConfig)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score weights on their dataset's 10k test images")
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="name or path")
    p.add_argument("--weights-dir")
    p.add_argument("--json", action="store_true")
    _add_data_dir(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("serve", help="run the web app and API (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes; each admits cores/workers inferences at once")
    p.add_argument("--limit-concurrency", type=int, default=1000,
                   help="connections at once per worker; beyond, uvicorn answers 503 at once")
    p.add_argument("--weights-dir", help="directory of <name>.json/.npz (default: "
                                         "$CNNVIS_WEIGHTS_DIR or the repository's weights/)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("predict", help="classify image files, locally or through a running server")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    p.add_argument("--model", help="model name or manifest path (default: simple_convnet, or the "
                                   "server's default with --url)")
    p.add_argument("--url", help="a running cnnvis server, e.g. http://127.0.0.1:8000")
    p.add_argument("--weights-dir", help="for local prediction")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("misclassified", help="write <name>.errors.npz: the test digits a model "
                                             "gets wrong, most confident first")
    p.add_argument("model", metavar="NAME", help="a model in the weights directory")
    p.add_argument("--weights-dir", help="where NAME.json is and the .errors.npz goes (default: "
                                         "$CNNVIS_WEIGHTS_DIR or the repository's weights/)")
    p.add_argument("--limit", type=int, default=500, help="keep at most this many mistakes")
    _add_data_dir(p)
    p.set_defaults(func=cmd_misclassified)

    p = sub.add_parser("units", help="write <name>.units.npz: each unit's top test images, value "
                                     "distribution and (first conv layer, outputs) ideal input")
    p.add_argument("model", metavar="NAME", help="a model in the weights directory")
    p.add_argument("--weights-dir", help="where NAME.json is and the .units.npz goes (default: "
                                         "$CNNVIS_WEIGHTS_DIR or the repository's weights/)")
    p.add_argument("--threads", type=int, default=0, help="threads (default: every core)")
    p.set_defaults(func=cmd_units)

    p = sub.add_parser("neighbors", help="write <name>.neighbors.npz: the training digits' "
                                         "features, the data map and the atypical threshold")
    p.add_argument("model", metavar="NAME", help="a model in the weights directory")
    p.add_argument("--weights-dir", help="where NAME.json is and the .neighbors.npz goes "
                                         "(default: $CNNVIS_WEIGHTS_DIR or the repository's "
                                         "weights/)")
    p.add_argument("--threads", type=int, default=0, help="threads (default: every core)")
    _add_data_dir(p)
    p.set_defaults(func=cmd_neighbors)

    p = sub.add_parser("bench", help="run a benchmark suite from benchmarks/ (speed, load, ...)")
    p.add_argument("suite", nargs="?", default="speed", help="script name in benchmarks/ "
                   "(speed = NumPy vs PyTorch, load = HTTP load, frame_time = 3D view)")
    p.add_argument("options", nargs=argparse.REMAINDER, help="passed to the script")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    from app.config import SettingsError
    from app.registry import StartupError
    from model.weights import WeightsError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DatasetError, WeightsError, StartupError, SettingsError) as exc:
        print(f"cnnvis: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
