"""A sequential network of named layers and a registry of architectures by name.

Reference: Saito, "Deep Learning from Scratch", ch. 7.5 (SimpleConvNet). Parameter names come from
the structure (``conv1.weight``) and are the keys of the npz, the optimizer and the API.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .channels_last import ChainCache, ChannelsLastChain, plan_chains
from .functional import softmax
from .fused import ConvReluPool, FusedCache, fusable
from .layers import Affine, Convolution, Layer, MaxPooling, Params, ReLU, Shape, SoftmaxWithLoss
from .runtime import single_threaded_blas, thread_pool

# In a fused forward_train's caches, the layers folded into the block before them.
FOLDED = "folded into the fused block before"

Step = Layer | ConvReluPool | ChannelsLastChain


class Sequential:
    """Layers applied in order; owns the flat parameter dict ``{"conv1.weight": array, ...}``.

    The forward and backward passes keep nothing on ``self``: per-call intermediates are returned
    to the caller, so concurrent ``predict`` calls on one shared network are safe.
    """

    def __init__(self, layers: list[tuple[str, Layer]], input_shape: Shape = (1, 28, 28),
                 arch: str = "custom", config: dict[str, Any] | None = None,
                 rng: np.random.Generator | None = None, dtype=np.float32):
        names = [name for name, _ in layers]
        if len(set(names)) != len(names):
            raise ValueError(f"layer names must be unique: {names}")
        self.layers = list(layers)
        self.input_shape = tuple(input_shape)
        self.arch = arch
        self.config = dict(config or {})
        self.loss_layer = SoftmaxWithLoss()
        rng = rng if rng is not None else np.random.default_rng(0)
        self.params: Params = {}
        self.shapes: dict[str, Shape] = {}
        self._param_keys: dict[str, list[tuple[str, str]]] = {}  # layer → [(local, full name)]
        shape = self.input_shape
        in_shapes = []
        for name, layer in self.layers:
            in_shapes.append(shape)
            self._param_keys[name] = []
            for key, value in layer.init_params(shape, rng, dtype).items():
                self.params[f"{name}.{key}"] = value
                self._param_keys[name].append((key, f"{name}.{key}"))
            shape = layer.output_shape(shape)
            self.shapes[name] = shape
        self.output_size = int(np.prod(shape))
        # conv → ReLU → tiling max-pool triples, run as one block when no feature map is needed
        self._fused: dict[int, ConvReluPool] = {
            i: ConvReluPool(self.layers[i][1], self.layers[i + 2][1])
            for i in range(len(self.layers) - 2)
            if fusable(self.layers[i][1], self.layers[i + 1][1], self.layers[i + 2][1],
                       in_shapes[i][0])}
        self._fused_steps = self._plan_fused_steps()

    def _plan_fused_steps(self) -> list[tuple[str, Step]]:
        """(parameter owner's name, layer or fused block) in order: the fused pass. Besides the
        single-channel conv → ReLU → max-pool blocks, runs of two or more convolutions (each
        with its ReLU and max pooling) go channels-last (``model/channels_last.py``)."""
        covered = {i + j for i in self._fused for j in range(3)}
        chains = plan_chains(self.layers, covered)
        steps: list[tuple[str, Step]] = []
        i = 0
        while i < len(self.layers):
            name, layer = self.layers[i]
            if i in chains:
                steps.append((name, chains[i]))
                i += chains[i].span
            else:
                steps.append((name, self._fused.get(i, layer)))
                i += 3 if i in self._fused else 1
        return steps

    def _step_params(self, name: str, step: Step) -> Params | list[Params]:
        """A step's parameters: its layer's, or one dict per convolution of a chain."""
        if isinstance(step, ChannelsLastChain):
            return [self.layer_params(owner) for owner in step.names]
        return self.layer_params(name)

    # ----- parameters -----------------------------------------------------------------------
    def expected_params(self) -> dict[str, Shape]:
        """Every parameter name and shape this architecture needs."""
        out: dict[str, Shape] = {}
        shape = self.input_shape
        for name, layer in self.layers:
            for key, pshape in layer.param_shapes(shape).items():
                out[f"{name}.{key}"] = tuple(pshape)
            shape = layer.output_shape(shape)
        return out

    def layer_params(self, name: str) -> Params:
        """The parameters of one layer keyed by local name (``weight``, ``bias``)."""
        return {local: self.params[full] for local, full in self._param_keys[name]}

    @property
    def dtype(self):
        return next(iter(self.params.values())).dtype if self.params else np.dtype(np.float32)

    def param_count(self) -> int:
        return int(sum(v.size for v in self.params.values()))

    def astype(self, dtype) -> "Sequential":
        """A copy of this network with every parameter cast (float64 for gradient checks)."""
        clone = object.__new__(Sequential)
        clone.__dict__.update(self.__dict__)
        clone.params = {k: v.astype(dtype) for k, v in self.params.items()}
        return clone

    def freeze(self) -> None:
        """Make every parameter read-only: serving must never write weights."""
        for value in self.params.values():
            value.flags.writeable = False

    def describe(self) -> list[dict[str, Any]]:
        """Per layer: name, kind, role, window geometry, hyperparameters, per-sample output shape,
        parameter count."""
        rows = []
        for name, layer in self.layers:
            count = sum(v.size for v in self.layer_params(name).values())
            rows.append({"name": name, "kind": layer.kind, "role": layer.role,
                         "window": layer.window(), "hyperparams": layer.hyperparams(),
                         "output_shape": list(self.shapes[name]), "params": int(count)})
        return rows

    # ----- passes ---------------------------------------------------------------------------
    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != len(self.input_shape) + 1 or tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"expected input of shape (N, {', '.join(map(str, self.input_shape))})"
                             f", got {x.shape}")
        return x.astype(self.dtype, copy=False)

    def forward(self, x: np.ndarray,
                keep: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Inference pass. Returns ``(logits, outputs)``; ``outputs`` maps every layer name to its
        output when ``keep`` is true (for the feature-map views), else it is empty and fusable
        conv → ReLU → max-pool triples run as one block (same values, faster).

        Input: (N, *input_shape) -> logits (N, output_size)
        """
        x = self._check_input(x)
        outputs: dict[str, np.ndarray] = {}
        if not keep:
            for name, step in self._fused_steps:
                x, _ = step.forward(self._step_params(name, step), x)
            return x, outputs
        for name, layer in self.layers:
            x, _ = layer.forward(self.layer_params(name), x, train=False)
            outputs[name] = x
        return x, outputs

    def logits(self, x: np.ndarray, batch_size: int = 50, threads: int = 1) -> np.ndarray:
        """Inference logits for a batch of any size. Input: (N, *input_shape) -> (N, output_size).

        Big batches go through in chunks of ``batch_size``: small enough that each layer's
        output stays in cache. With ``threads`` > 1 a batch of at least that many chunks is
        split over as many threads, BLAS held to one thread each (process-wide, restored
        after): NumPy's elementwise loops use one core, so this puts every core on all of the
        work, not only on the GEMMs.
        """
        x = self._check_input(x)
        if len(x) == 0:
            return np.zeros((0, self.output_size), dtype=self.dtype)
        if threads > 1 and len(x) >= threads * batch_size:
            parts = np.array_split(x, threads)
            with single_threaded_blas():
                return np.concatenate(list(thread_pool(threads).map(
                    lambda part: self.logits(part, batch_size), parts)))
        if len(x) <= batch_size:
            return self.forward(x)[0]
        return np.concatenate([self.forward(x[i:i + batch_size])[0]
                               for i in range(0, len(x), batch_size)])

    def predict(self, x: np.ndarray, batch_size: int = 50, threads: int = 1) -> np.ndarray:
        """Class probabilities. Input: (N, 1, 28, 28) float in [0, 1], ink = 1 -> (N, 10);
        chunks and threads as in :meth:`logits`."""
        return softmax(self.logits(x, batch_size, threads))

    def forward_train(self, x: np.ndarray, rng: np.random.Generator | None = None,
                      fuse: bool = False) -> tuple[np.ndarray, list[Any]]:
        """Forward pass that also returns every layer's backward cache (in layer order).

        With ``rng`` dropout is active (training); without it the pass is deterministic, as
        for inference, but still differentiable (saliency, Grad-CAM). With ``fuse`` (training)
        the fused blocks of :meth:`forward` run: a block's first layer's cache holds the block's
        and the layers folded into it have ``FOLDED``; gradients per layer output then do not
        exist.
        """
        x = self._check_input(x)
        caches: list[Any] = []
        for name, step in (self._fused_steps if fuse else self.layers):
            if isinstance(step, ConvReluPool):
                x, cache = step.forward(self.layer_params(name), x, train=True)
                caches += [cache, FOLDED, FOLDED]
            elif isinstance(step, ChannelsLastChain):
                x, cache = step.forward(self._step_params(name, step), x, train=True)
                caches += [cache] + [FOLDED] * (step.span - 1)
            else:
                x, cache = step.forward(self.layer_params(name), x, train=True, rng=rng)
                caches.append(cache)
        return x, caches

    def backward(self, caches: list[Any], dout: np.ndarray, input_grad: bool = False,
                 output_grads: dict[str, np.ndarray] | None = None,
                 ) -> tuple[Params, np.ndarray | None]:
        """Backpropagate ``dout`` (gradient w.r.t. the logits) through every layer.

        Returns ``(grads, dx)``: grads keyed like ``params``; dx is the input gradient when
        ``input_grad`` (saliency), else None and the first layer skips computing it. If
        ``output_grads`` is a dict, it receives the gradient w.r.t. each layer's output (Grad-CAM;
        needs caches from an unfused ``forward_train``).
        """
        grads: Params = {}
        for i in range(len(self.layers) - 1, -1, -1):
            name, layer = self.layers[i]
            if caches[i] is FOLDED:
                if output_grads is not None:
                    raise ValueError("per-layer output gradients need forward_train(fuse=False)")
                continue  # dout passes on to the fused block's backward
            if output_grads is not None:
                output_grads[name] = dout
            need_dx = input_grad or i > 0
            if isinstance(caches[i], FusedCache):
                dout, local = self._fused[i].backward(self.layer_params(name), caches[i], dout,
                                                      need_dx=need_dx)
            elif isinstance(caches[i], ChainCache):
                chain = caches[i].chain
                dout, per_conv = chain.backward(self._step_params(name, chain), caches[i], dout,
                                                need_dx=need_dx)
                for owner, local in zip(chain.names, per_conv, strict=True):
                    for key, value in local.items():
                        grads[f"{owner}.{key}"] = value
                continue
            else:
                dout, local = layer.backward(self.layer_params(name), caches[i], dout,
                                             need_dx=need_dx)
            for key, value in local.items():
                grads[f"{name}.{key}"] = value
        return grads, dout

    def loss(self, x: np.ndarray, labels: np.ndarray) -> float:
        logits, _ = self.forward(x)
        return self.loss_layer.forward(logits, labels)[0]

    def loss_and_grads(self, x: np.ndarray, labels: np.ndarray,
                       rng: np.random.Generator | None = None,
                       threads: int = 1) -> tuple[float, Params, np.ndarray]:
        """One training forward + backward (fused blocks). Returns (loss, grads, logits).

        With ``threads`` > 1 the batch is split into that many parts computed at once (BLAS on
        one thread each, as in :meth:`logits`), and their mean-loss gradients are combined
        weighted by part size: the same gradient up to float rounding. Dropout then draws each
        part's mask from its own stream spawned from ``rng`` (reproducible for a fixed count).
        """
        if threads <= 1 or len(x) < 2 * threads:
            logits, caches = self.forward_train(x, rng=rng, fuse=True)
            loss, lcache = self.loss_layer.forward(logits, labels)
            grads, _ = self.backward(caches, self.loss_layer.backward(lcache))
            return loss, grads, logits
        parts = np.array_split(np.arange(len(x)), threads)
        rngs = rng.spawn(threads) if rng is not None else [None] * threads
        with single_threaded_blas():
            results = list(thread_pool(threads).map(
                lambda i: self.loss_and_grads(x[parts[i]], labels[parts[i]], rngs[i]),
                range(threads)))
        shares = [len(part) / len(x) for part in parts]
        loss = sum(share * part_loss
                   for share, (part_loss, _, _) in zip(shares, results, strict=True))
        grads = {}
        for key, value in self.params.items():
            total = np.multiply(results[0][1][key], shares[0], dtype=value.dtype)
            for share, (_, part_grads, _) in zip(shares[1:], results[1:], strict=True):
                part = part_grads[key]
                part *= share  # the part's own fresh array
                total += part
            grads[key] = total
        return float(loss), grads, np.concatenate([logits for _, _, logits in results])


# ----- registry ------------------------------------------------------------------------------
ARCHITECTURES: dict[str, Callable[..., Sequential]] = {}
ARCH_INFO: dict[str, str] = {}


def _as_json(value: Any) -> Any:
    """Tuples (shapes, channel widths) as lists, as the manifest's JSON stores them."""
    if isinstance(value, (tuple, list)):
        return [_as_json(v) for v in value]
    return value


def register(name: str, description: str):
    """Decorator adding an architecture builder ``f(rng=None, **config) -> Sequential``.

    The built network records ``name`` as its ``arch`` and every constructor argument but
    ``rng`` (defaults filled in, in signature order) as its ``config``: what the manifest stores
    and :func:`build` takes back.
    """
    def deco(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def builder(*args, **kwargs) -> Sequential:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            net = fn(*bound.args, **bound.kwargs)
            net.arch = name
            net.config = {key: _as_json(value) for key, value in bound.arguments.items()
                          if key != "rng"}
            return net

        ARCHITECTURES[name] = builder
        ARCH_INFO[name] = description
        return builder
    return deco


def build(arch: str, config: dict[str, Any] | None = None,
          rng: np.random.Generator | None = None) -> Sequential:
    """Instantiate a registered architecture by name with constructor arguments ``config``."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; "
                         f"known: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[arch](rng=rng, **(config or {}))


@register("simple_convnet", "The book's SimpleConvNet (ch. 7.5): "
                            "conv-ReLU-maxpool-affine-ReLU-affine.")
def simple_convnet(rng: np.random.Generator | None = None, input_shape: Shape = (1, 28, 28),
                   filter_num: int = 30, filter_size: int = 5, pad: int = 0, stride: int = 1,
                   hidden_size: int = 100, output_size: int = 10,
                   weight_init: str | float = "he") -> Sequential:
    """conv1 (filter_num@filter_size) → relu1 → pool1 (2×2/2) → fc1 (hidden) → relu2 → fc2."""
    layers: list[tuple[str, Layer]] = [
        ("conv1", Convolution(filter_num, filter_size, stride, pad, weight_init)),
        ("relu1", ReLU()),
        ("pool1", MaxPooling(2, 2)),
        ("fc1", Affine(hidden_size, weight_init)),
        ("relu2", ReLU()),
        ("fc2", Affine(output_size, weight_init)),
    ]
    return Sequential(layers, tuple(input_shape), rng=rng)
