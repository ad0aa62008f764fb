"""benchmarks/torch_twin.py: the PyTorch twin the speed benchmark times against is the same
network, for every registered architecture: equal outputs (inference) and equal
parameter gradients of the loss. Optional: skipped unless torch is installed (the ``bench``
extra)."""

import sys

import numpy as np
import pytest

from model import ARCHITECTURES, build
from model.data import REPO_ROOT

torch = pytest.importorskip("torch")
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from torch_twin import twin  # noqa: E402


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_the_twin_is_the_same_network(arch):
    net = build(arch, rng=np.random.default_rng(0))
    for key, value in net.params.items():  # nonzero biases, so a misplaced bias shows
        if key.endswith(".bias"):
            value += np.linspace(-0.1, 0.1, value.size, dtype=value.dtype)
    torch_net = twin(net, torch).eval()
    rng = np.random.default_rng(1)
    x = rng.random((3, *net.input_shape), dtype=np.float32)
    t = np.array([1, 4, 9])
    logits = torch_net(torch.from_numpy(x))
    # float32 both sides, summed in different orders
    np.testing.assert_allclose(logits.detach().numpy(), net.logits(x), rtol=1e-4, atol=1e-5)
    torch.nn.functional.cross_entropy(logits, torch.from_numpy(t)).backward()
    _, grads, _ = net.loss_and_grads(x, t)  # no rng: dropout is the identity, as eval() makes it
    torch_grads = [p.grad.numpy() for p in torch_net.parameters()]
    ours = [grads[f"{name}.{key}"] for name, layer in net.layers if layer.kind in
            ("conv", "affine") for key in ("weight", "bias")]
    assert len(ours) == len(torch_grads)
    for mine, theirs in zip(ours, torch_grads, strict=True):
        mine = mine.T if mine.ndim == 2 else mine  # affine weights are (D, out) here
        np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1e-6)
