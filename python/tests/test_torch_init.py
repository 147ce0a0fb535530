"""smallnet.init against torch.nn.init.

Different generators, so values differ; the distributions must not. For each function, tensor
shape (a Linear's and a Conv2d's weight) and arguments, the std (and bound, for uniform ones)
torch's formula gives for that tensor (torch's own fan and gain helpers) is compared with
smallnet's sample, and with torch's own sample as a yardstick; orthogonal with gain must give
W·Wᵀ = gain²·I; calculate_gain must equal torch's for every nonlinearity. Run with ``-s`` for
the table of the largest differences.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import smallnet
from smallnet import init

torch = pytest.importorskip("torch")

TABLE: list[tuple[str, float]] = []
# Relative sampling error allowed on a std from ≥ 51,200 values (its own error is ≈ 0.3 %).
STD_TOLERANCE = 0.02


@pytest.fixture(scope="module", autouse=True)
def print_table():
    yield
    if TABLE:
        print("\n\nsmallnet.init against torch.nn.init: |sample std / formula − 1| (smallnet, torch)")
        for label, value in TABLE:
            print(f"{label:<70} {value}")


SHAPES = {
    "linear": ((1, 20, 20), lambda m: m.add_linear(300), (300, 400)),
    "conv": ((32, 8, 8), lambda m: m.add_conv2d(64, 5), (64, 32, 5, 5)),
}


def model_with(kind: str) -> tuple[smallnet.Model, tuple[int, ...]]:
    input_shape, add, shape = SHAPES[kind]
    m = smallnet.Model(input_shape)
    add(m)
    assert m.get_tensor("0.weight").shape == shape
    return m, shape


def compare(label: str, ours: np.ndarray, theirs: torch.Tensor, std: float, bound: float | None = None):
    ours = ours.astype(np.float64)
    theirs_np = theirs.double().numpy()
    ours_error = abs(ours.std() / std - 1)
    theirs_error = abs(theirs_np.std() / std - 1)
    TABLE.append((label, f"{ours_error:.2e}  {theirs_error:.2e}"))
    assert ours_error < STD_TOLERANCE, f"{label}: std {ours.std()} against {std}"
    assert theirs_error < STD_TOLERANCE, f"{label}: torch's own std {theirs_np.std()} against {std}"
    assert abs(ours.mean()) < 5 * std / math.sqrt(ours.size), f"{label}: mean {ours.mean()}"
    if bound is not None:
        assert np.abs(ours).max() <= bound * (1 + 1e-6), f"{label}: beyond ±{bound}"
        assert np.abs(ours).max() > 0.99 * bound, f"{label}: does not reach ±{bound}"
        assert np.abs(theirs_np).max() <= bound * (1 + 1e-6)


KAIMING = [
    (0.0, "fan_in", "leaky_relu"),
    (0.2, "fan_out", "leaky_relu"),
    (math.sqrt(5), "fan_in", "leaky_relu"),
    (0.0, "fan_in", "relu"),
    (0.0, "fan_out", "tanh"),
    (0.0, "fan_in", "selu"),
    (0.0, "fan_out", "sigmoid"),
    (0.0, "fan_in", "conv2d"),
    (0.0, "fan_in", "linear"),
]


@pytest.mark.parametrize("kind", SHAPES)
@pytest.mark.parametrize("a, mode, nonlinearity", KAIMING)
@pytest.mark.parametrize("uniform", [False, True], ids=["normal", "uniform"])
def test_kaiming(kind, a, mode, nonlinearity, uniform):
    m, shape = model_with(kind)
    t = torch.empty(shape)
    fan = torch.nn.init._calculate_correct_fan(t, mode)
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    if uniform:
        init.kaiming_uniform_(m, "0.weight", a=a, mode=mode, nonlinearity=nonlinearity, seed=3)
        torch.nn.init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity)
        bound = gain * math.sqrt(3.0 / fan)
        compare(f"kaiming_uniform_ {kind} a={a:.3g} {mode} {nonlinearity}", m.get_tensor("0.weight"), t,
                bound / math.sqrt(3), bound)
    else:
        init.kaiming_normal_(m, "0.weight", a=a, mode=mode, nonlinearity=nonlinearity, seed=3)
        torch.nn.init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity)
        compare(f"kaiming_normal_ {kind} a={a:.3g} {mode} {nonlinearity}", m.get_tensor("0.weight"), t,
                gain / math.sqrt(fan))


@pytest.mark.parametrize("kind", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier(kind, gain):
    m, shape = model_with(kind)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    t = torch.empty(shape)
    init.xavier_normal_(m, "0.weight", gain=gain, seed=4)
    torch.nn.init.xavier_normal_(t, gain=gain)
    compare(f"xavier_normal_ {kind} gain={gain}", m.get_tensor("0.weight"), t, std)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    init.xavier_uniform_(m, "0.weight", gain=gain, seed=4)
    torch.nn.init.xavier_uniform_(t, gain=gain)
    compare(f"xavier_uniform_ {kind} gain={gain}", m.get_tensor("0.weight"), t, bound / math.sqrt(3), bound)


@pytest.mark.parametrize("kind", SHAPES)
def test_uniform_and_normal(kind):
    m, shape = model_with(kind)
    t = torch.empty(shape)
    init.uniform_(m, "0.weight", -2.0, 3.0, seed=5)
    torch.nn.init.uniform_(t, -2.0, 3.0)
    ours = m.get_tensor("0.weight")
    assert ours.min() >= -2.0 and ours.max() <= 3.0
    assert abs(ours.mean() - 0.5) < 5 * (5 / math.sqrt(12)) / math.sqrt(ours.size)
    compare(f"uniform_ {kind} (-2, 3), centred", ours - 0.5, t - 0.5, 5 / math.sqrt(12), 2.5)
    init.normal_(m, "0.weight", mean=1.0, std=0.3, seed=5)
    torch.nn.init.normal_(t, mean=1.0, std=0.3)
    ours = m.get_tensor("0.weight")
    assert abs(ours.mean() - 1.0) < 5 * 0.3 / math.sqrt(ours.size)
    compare(f"normal_ {kind} (1, 0.3), centred", ours - 1.0, t - 1.0, 0.3)


@pytest.mark.parametrize("input_shape, add, gain", [
    ((1, 6, 10), lambda m: m.add_linear(40), 1.0),            # (40, 60): orthonormal rows
    ((1, 5, 8), lambda m: m.add_linear(60), 1.7),             # (60, 40): orthonormal columns
    ((8, 5, 5), lambda m: m.add_conv2d(16, 3), 0.5),          # (16, 8, 3, 3) as (16, 72)
    ((1, 12, 12), lambda m: m.add_linear(144), 2.0),          # square
])
def test_orthogonal_with_gain(input_shape, add, gain):
    m = smallnet.Model(input_shape)
    add(m)
    init.orthogonal_(m, "0.weight", gain=gain, seed=6)
    w = m.get_tensor("0.weight").astype(np.float64)
    w = w.reshape(w.shape[0], -1)
    t = torch.empty(w.shape)
    torch.nn.init.orthogonal_(t, gain=gain)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    theirs = t.double().numpy()
    theirs_gram = theirs @ theirs.T if w.shape[0] <= w.shape[1] else theirs.T @ theirs
    error = np.abs(gram - gain**2 * np.eye(len(gram))).max()
    TABLE.append((f"orthogonal_ {w.shape} gain={gain}: max |W·Wᵀ − gain²·I|",
                  f"{error:.2e}  {np.abs(theirs_gram - gain**2 * np.eye(len(gram))).max():.2e}"))
    assert error < 1e-5


def test_calculate_gain_equals_torchs():
    for nonlinearity in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                         "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]:
        assert init.calculate_gain(nonlinearity) == torch.nn.init.calculate_gain(nonlinearity), nonlinearity
    for param in [0, 0.2, 1, -0.5, 3]:
        assert init.calculate_gain("leaky_relu", param) == torch.nn.init.calculate_gain("leaky_relu", param)
    for bad in [("gelu", None), ("leaky_relu", "0.1"), ("leaky_relu", True)]:
        with pytest.raises(ValueError):
            torch.nn.init.calculate_gain(*bad)
        with pytest.raises(ValueError):
            init.calculate_gain(*bad)


def test_one_dimensional_tensors_refused_as_torch_refuses():
    m = smallnet.Model((1, 4, 4)).add_linear(8)
    for ours, theirs in [(init.kaiming_normal_, torch.nn.init.kaiming_normal_),
                         (init.xavier_uniform_, torch.nn.init.xavier_uniform_),
                         (init.orthogonal_, torch.nn.init.orthogonal_)]:
        with pytest.raises(ValueError):
            theirs(torch.empty(8))
        with pytest.raises(smallnet.InvalidArgumentError):
            ours(m, "0.bias")
