"""Receptive fields from the layers' window geometry (Zeiler & Fergus 2014, section 4; Araujo et
al., "Computing receptive fields of convolutional neural networks", Distill 2019): the input
rows and columns a unit of a sliding-window layer can see, through every layer before it."""

from __future__ import annotations

from .networks import Sequential


def receptive_span(net: Sequential, layer: str, y: int, x: int) -> tuple[int, int, int, int]:
    """``(y0, x0, y1, x1)``, ends exclusive, in the network's input: the pixels output position
    ``(y, x)`` of ``layer`` depends on. May reach past the input's border (padding).

    Backwards through each windowed layer (kernel K, stride S, padding P) an inclusive span
    ``[a, b]`` of its output reads ``[a·S − P, b·S − P + K − 1]`` of its input; elementwise and
    across-channel layers keep the span. A layer after a dense one sees the whole input.
    """
    names = [name for name, _ in net.layers]
    if layer not in names:
        raise ValueError(f"unknown layer {layer!r}; layers: {', '.join(names)}")
    at = names.index(layer)
    if len(net.shapes[layer]) != 3:
        raise ValueError(f"{layer!r} has no spatial positions (output {net.shapes[layer]})")
    spans = [[y, y], [x, x]]
    for _, found in reversed(net.layers[:at + 1]):
        window = found.window()
        if window is None:
            continue
        k, s, p = window["kernel"], window["stride"], window["padding"]
        for span in spans:
            span[0] = span[0] * s - p
            span[1] = span[1] * s - p + k - 1
    (y0, y1), (x0, x1) = spans
    return y0, x0, y1 + 1, x1 + 1


def whole_input(net: Sequential) -> tuple[int, int, int, int]:
    """The box of a unit that sees every pixel (a dense unit): the whole input."""
    _, h, w = net.input_shape
    return 0, 0, h, w
