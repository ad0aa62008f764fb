"""Why did the network say that? Attributions from the network's own backward pass, and the
im2col / pooling matrices of one input, made visible.

References: Simonyan et al. 2014 (saliency maps), Selvaraju et al. 2017 (Grad-CAM),
Zeiler & Fergus 2014 (occlusion), Saito ch. 7.4 (im2col).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .augment import affine_warp
from .functional import im2col, windows
from .inputs import fit_input, round_input
from .layers import Convolution, MaxPooling, Pooling
from .networks import Sequential


def _single(net: Sequential, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=net.dtype)
    if x.shape == net.input_shape[1:]:
        x = x.reshape(1, *net.input_shape)
    if x.shape != (1, *net.input_shape):
        raise ValueError(f"expected one input of shape {net.input_shape}, got {x.shape}")
    return x


def _target(logits: np.ndarray, target: int | None) -> int:
    k = logits.shape[-1]
    if target is None:
        return int(logits[0].argmax())
    if not 0 <= int(target) < k:
        raise ValueError(f"target class must be in 0..{k - 1}, got {target}")
    return int(target)


def score_gradients(net: Sequential, x: np.ndarray, target: int | None = None) -> dict[str, Any]:
    """Gradient of the target class score (its logit) w.r.t. the input and every layer output.

    Input: x (1, C, H, W). Returns logits (K,), target, input_grad (C, H, W), and per-layer
    ``outputs`` and ``output_grads`` (each without the batch axis).
    """
    x = _single(net, x)
    logits, caches = net.forward_train(x)  # deterministic: dropout off without an rng
    cls = _target(logits, target)
    dout = np.zeros_like(logits)
    dout[0, cls] = 1.0
    output_grads: dict[str, np.ndarray] = {}
    _, dx = net.backward(caches, dout, input_grad=True, output_grads=output_grads)
    _, outputs = net.forward(x, keep=True)
    return {"logits": logits[0], "target": cls, "input_grad": dx[0],
            "outputs": {k: v[0] for k, v in outputs.items()},
            "output_grads": {k: v[0] for k, v in output_grads.items()}}


def saliency(net: Sequential, x: np.ndarray, target: int | None = None) -> dict[str, Any]:
    """Simonyan et al.: |∂ score / ∂ input|, max over channels. ``map`` is (H, W) in [0, 1]."""
    g = score_gradients(net, x, target)
    grad = g["input_grad"]  # (C, H, W)
    heat = np.abs(grad).max(axis=0)
    peak = float(heat.max())
    return {"target": g["target"], "logits": g["logits"], "gradient": grad,
            "map": heat / peak if peak > 0 else heat}


def default_cam_layer(net: Sequential) -> str:
    """The output of the last convolution (after its activation, if one follows directly)."""
    names = [name for name, _ in net.layers]
    convs = [i for i, (_, layer) in enumerate(net.layers) if isinstance(layer, Convolution)]
    if not convs:
        raise ValueError("Grad-CAM needs a convolutional layer")
    i = convs[-1]
    if i + 1 < len(names) and net.layers[i + 1][1].kind in ("relu", "tanh", "sigmoid"):
        i += 1
    return names[i]


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of (h, w) to (height, width), pixel centres aligned."""
    h, w = image.shape
    ys = np.clip((np.arange(height) + 0.5) * h / height - 0.5, 0, h - 1)
    xs = np.clip((np.arange(width) + 0.5) * w / width - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = image[y0][:, x0] * (1 - fx) + image[y0][:, x1] * fx
    bottom = image[y1][:, x0] * (1 - fx) + image[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def gradcam(net: Sequential, x: np.ndarray, target: int | None = None,
            layer: str | None = None) -> dict[str, Any]:
    """Selvaraju et al.: weight each feature map A_k by α_k = mean(∂ score / ∂ A_k), then
    ReLU(Σ α_k A_k), upsampled to the input size. ``map`` is (H, W) in [0, 1]."""
    name = layer or default_cam_layer(net)
    if name not in net.shapes:
        raise KeyError(name)
    if len(net.shapes[name]) != 3:
        raise ValueError(f"Grad-CAM needs a layer with feature maps, {name} has shape "
                         f"{net.shapes[name]}")
    g = score_gradients(net, x, target)
    acts, grads = g["outputs"][name], g["output_grads"][name]  # (K, h, w)
    alpha = grads.mean(axis=(1, 2))
    cam = np.maximum(np.tensordot(alpha, acts, axes=1), 0)  # (h, w)
    peak = float(cam.max())
    coarse = cam / peak if peak > 0 else cam
    _, h, w = net.input_shape
    return {"target": g["target"], "logits": g["logits"], "layer": name, "weights": alpha,
            "coarse": coarse, "map": np.clip(resize_bilinear(coarse, h, w), 0, 1)}


def occlusion(net: Sequential, x: np.ndarray, target: int | None = None, patch: int = 6,
              stride: int = 2, fill: float = 0.0) -> dict[str, Any]:
    """Zeiler & Fergus: slide a ``patch``×``patch`` square of ``fill`` over the input, all
    positions in one batched forward; ``map`` (H, W) is the mean drop of the target
    probability over the patches covering each pixel (negative: occluding helped)."""
    x = _single(net, x)
    _, c, h, w = x.shape
    if not (1 <= patch <= min(h, w) and stride >= 1):
        raise ValueError(f"patch must be in 1..{min(h, w)} and stride >= 1")
    base = net.predict(x)[0]
    cls = _target(base[None], target)
    ys = list(range(0, h - patch + 1, stride))
    xs = list(range(0, w - patch + 1, stride))
    batch = np.repeat(x, len(ys) * len(xs), axis=0)
    masks = np.zeros((len(ys) * len(xs), 1, h, w), dtype=bool)
    for i, y0 in enumerate(ys):
        for j, x0 in enumerate(xs):
            masks[i * len(xs) + j, 0, y0:y0 + patch, x0:x0 + patch] = True
    batch = np.where(masks, np.asarray(fill, dtype=x.dtype), batch)
    probs = net.predict(batch)[:, cls]
    drop = (base[cls] - probs).reshape(len(ys), len(xs))
    total = (masks[:, 0] * (base[cls] - probs)[:, None, None]).sum(axis=0)
    count = masks[:, 0].sum(axis=0)
    heat = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    return {"target": cls, "probability": float(base[cls]), "grid": drop, "map": heat,
            "positions": len(ys) * len(xs), "patch": patch, "stride": stride}


def layer_input(net: Sequential, x: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(input, output) of layer ``name`` for one input, each without the batch axis."""
    x = _single(net, x)
    names = [n for n, _ in net.layers]
    if name not in names:
        raise KeyError(name)
    _, outputs = net.forward(x, keep=True)
    i = names.index(name)
    before = x if i == 0 else outputs[names[i - 1]]
    return before[0], outputs[name][0]


def conv_matrices(net: Sequential, x: np.ndarray, name: str) -> dict[str, Any]:
    """The book's im2col view of one conv layer for one input:
    cols (OH*OW, C*KH*KW) @ weightᵀ (C*KH*KW, F) + bias = product (OH*OW, F) → output (F, OH, OW).
    """
    layer = dict(net.layers)[name]
    if not isinstance(layer, Convolution):
        raise ValueError(f"{name} is a {layer.kind} layer, not a convolution")
    inp, out = layer_input(net, x, name)
    k = layer.kernel_size
    cols = im2col(inp[None], k, k, layer.stride, layer.pad)  # (OH*OW, C*KH*KW)
    params = net.layer_params(name)
    w_mat = params["weight"].reshape(layer.out_channels, -1)  # (F, C*KH*KW)
    product = cols @ w_mat.T + params["bias"]  # (OH*OW, F)
    return {"input": inp, "cols": cols, "weight": w_mat, "bias": params["bias"],
            "product": product, "output": out, "kernel": k, "stride": layer.stride,
            "pad": layer.pad}


def pool_matrices(net: Sequential, x: np.ndarray, name: str) -> dict[str, Any]:
    """Pooling as a matrix: one row per (channel, output position) holding its K*K window,
    the row-wise max (or mean) and, for max pooling, the winning column and a winner map."""
    layer = dict(net.layers)[name]
    if not isinstance(layer, Pooling):
        raise ValueError(f"{name} is a {layer.kind} layer, not pooling")
    inp, out = layer_input(net, x, name)
    k, s, p = layer.pool_size, layer.stride, layer.pad
    fill = -np.inf if isinstance(layer, MaxPooling) else 0.0
    win = windows(inp[None], k, k, s, p, pad_value=fill)[0]  # (C, OH, OW, K, K)
    c, oh, ow = win.shape[:3]
    rows = win.reshape(c * oh * ow, k * k)  # (C*OH*OW, K*K)
    result = {"input": inp, "windows": np.where(np.isfinite(rows), rows, 0.0), "output": out,
              "pool": k, "stride": s, "pad": p, "kind": layer.kind}
    if isinstance(layer, MaxPooling):
        arg = rows.argmax(axis=1)
        winners = np.zeros(inp.shape, dtype=bool)
        ci, yi, xi = np.unravel_index(np.arange(c * oh * ow), (c, oh, ow))
        wy = yi * s + arg // k - p
        wx = xi * s + arg % k - p
        winners[ci, wy, wx] = True
        result.update(argmax=arg, winners=winners)
    return result


def thicken(images: np.ndarray, amount: int) -> np.ndarray:
    """Grey-level dilation (amount > 0) or erosion (< 0) by a 3×3 square, |amount| times.

    Input: (N, C, H, W) -> Output: same shape
    """
    out = images
    for _ in range(abs(int(amount))):
        win = windows(out, 3, 3, 1, 1)  # (N, C, H, W, 3, 3)
        out = win.max(axis=(4, 5)) if amount > 0 else win.min(axis=(4, 5))
    return out


def transform(x: np.ndarray, dx: float | np.ndarray = 0.0, dy: float | np.ndarray = 0.0,
              angle: float = 0.0, scale: float = 1.0, thickness: int = 0) -> np.ndarray:
    """Shift (pixels), rotate (degrees), scale and thicken one or many images; ``dx`` and ``dy``
    are one shift for all or one per image.

    Input: x (N, 1, H, W); dx, dy scalars or (N,) -> Output: (N, 1, H, W) float32 in [0, 1]
    """
    x = np.asarray(x, dtype=np.float32)
    n = x.shape[0]
    shift = np.stack([np.broadcast_to(dy, (n,)), np.broadcast_to(dx, (n,))], axis=1)  # (N, 2)
    warped = affine_warp(x, np.full(n, angle), np.full(n, scale), shift)
    return np.clip(thicken(warped, thickness), 0.0, 1.0).astype(np.float32)


def probe_robustness(net: Sequential, digit: np.ndarray, dx: float = 0.0, dy: float = 0.0,
                     angle: float = 0.0, scale: float = 1.0, thickness: int = 0,
                     target: int | None = None, max_shift: int = 8) -> dict[str, Any]:
    """Does the prediction survive a moved digit? The digit as given, transformed as asked, and
    transformed with each horizontal shift of -max_shift..max_shift pixels in place of ``dx``
    and each vertical one in place of ``dy``: every variant made in one batch, rounded as every
    echoed input is, placed in the network's input and classified in one forward pass.

    Input: digit (28, 28) float32 in [0, 1], ink = 1. Returns ``target`` (default: the digit's
    own prediction), ``shifts`` (S,), ``original`` and ``probabilities`` (K,) of the digit as
    given and as transformed, ``input`` (28, 28) the transformed digit the network saw, and per
    shift the target's probability (``horizontal``, ``vertical``, (S,)) and the predicted digit
    (``labels_horizontal``, ``labels_vertical``, (S,)).
    """
    shifts = np.arange(-max_shift, max_shift + 1)
    n = len(shifts)
    original = np.asarray(digit, dtype=np.float32)[None, None]  # (1, 1, 28, 28)
    dxs = np.concatenate([[dx], shifts, np.full(n, dx)])  # as asked, horizontal, vertical
    dys = np.concatenate([[dy], np.full(n, dy), shifts])
    moved = transform(np.repeat(original, 1 + 2 * n, axis=0), dxs, dys, angle, scale, thickness)
    batch = round_input(np.concatenate([original, moved])[:, 0])  # (2 + 2S, 28, 28)
    probs = net.predict(fit_input(batch, net.input_shape))
    cls = _target(probs[:1], target)
    horizontal, vertical = probs[2:2 + n], probs[2 + n:]
    return {"target": cls, "shifts": shifts, "original": probs[0], "probabilities": probs[1],
            "input": batch[1], "horizontal": horizontal[:, cls], "vertical": vertical[:, cls],
            "labels_horizontal": horizontal.argmax(axis=1),
            "labels_vertical": vertical.argmax(axis=1)}
