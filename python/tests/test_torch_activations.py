"""Activations, softmax layers, Dropout2d and LayerNorm against PyTorch: outputs, input and
parameter gradients, and a mixed model whose state_dict loads into torch.nn.Sequential."""

from __future__ import annotations

import numpy as np
import pytest

import smallnet

from conftest import synthetic

torch = pytest.importorskip("torch")

VALUE_TOLERANCE = 1e-5
GRADIENT_TOLERANCE = 1e-4
_table: list[tuple[str, str, float, float]] = []


def close(case: str, what: str, ours, reference, tolerance: float) -> None:
    """Asserts max|ours − reference| ≤ tolerance · max(1, max|reference|) and records the row."""
    ours = np.asarray(ours, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    assert ours.shape == reference.shape, (case, what, ours.shape, reference.shape)
    diff = float(np.max(np.abs(ours - reference))) if ours.size else 0.0
    scale = max(1.0, float(np.max(np.abs(reference))) if reference.size else 0.0)
    _table.append((case, what, diff, diff / scale))
    assert diff <= tolerance * scale, f"{case} {what}: max difference {diff:.3g} (scale {scale:.3g})"


@pytest.fixture(scope="module", autouse=True)
def print_table():
    yield
    if _table:
        print("\n\nLargest differences against PyTorch")
        print(f"{'case':<34} {'quantity':<22} {'max |diff|':>11} {'relative':>11}")
        for case, what, diff, rel in _table:
            print(f"{case:<34} {what:<22} {diff:>11.3e} {rel:>11.3e}")


def flat_layer_case(name: str, add, module, features: int = 24, seed: int = 0, scale: float = 2.0):
    """Runs one flat layer behind Linear(F → F, no bias) fed the identity: sample i's layer
    input is the weight's column i, so the weight gradient's column i is that sample's input
    gradient. Compares output and input gradient (and the layer's parameters') with torch."""
    rng = np.random.default_rng(seed)
    z = (scale * rng.normal(size=(features, features))).astype(np.float32)
    z[0, :4] = [0.0, -30.0, 30.0, 1e-3]  # a zero, saturation and a tiny value
    model = smallnet.Model((features, 1, 1)).add_linear(features, bias=False)
    add(model)
    model.set_tensor("0.weight", z.T.copy())
    reference_params = {}
    for name_, value in module.state_dict().items():  # the layer's own parameters, random
        value = torch.from_numpy(rng.normal(1.0 if name_ == "weight" else 0.0, 0.3, size=value.shape).astype(np.float32))
        reference_params[name_] = value
        model.set_tensor(f"1.{name_}", value.numpy())
    module.load_state_dict(reference_params, strict=True)
    model.eval()
    model.zero_grad()
    y = model.forward(np.eye(features, dtype=np.float32).reshape(features, features, 1, 1))
    dy = rng.normal(size=y.shape).astype(np.float32)
    model.backward(dy)

    zt = torch.from_numpy(z).requires_grad_(True)
    module.eval()
    yt = module(zt)
    yt.backward(torch.from_numpy(dy))
    close(name, "output", y, yt.detach().numpy(), VALUE_TOLERANCE)
    close(name, "input gradient", model.grad("0.weight").T, zt.grad.numpy(), GRADIENT_TOLERANCE)
    for name_, p in module.named_parameters():
        close(name, f"{name_} gradient", model.grad(f"1.{name_}"), p.grad.numpy(), GRADIENT_TOLERANCE)


ELEMENTWISE = [
    ("LeakyReLU()", lambda m: m.add_leaky_relu(), torch.nn.LeakyReLU()),
    ("LeakyReLU(0.2)", lambda m: m.add_leaky_relu(0.2), torch.nn.LeakyReLU(0.2)),
    ("ELU()", lambda m: m.add_elu(), torch.nn.ELU()),
    ("ELU(alpha=0.5)", lambda m: m.add_elu(alpha=0.5), torch.nn.ELU(alpha=0.5)),
    ("GELU()", lambda m: m.add_gelu(), torch.nn.GELU()),
    ("GELU('tanh')", lambda m: m.add_gelu(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
    ("SiLU()", lambda m: m.add_silu(), torch.nn.SiLU()),
    ("Tanh()", lambda m: m.add_tanh(), torch.nn.Tanh()),
    ("Sigmoid()", lambda m: m.add_sigmoid(), torch.nn.Sigmoid()),
    ("Softmax(dim=1)", lambda m: m.add_softmax(), torch.nn.Softmax(dim=1)),
    ("LogSoftmax(dim=1)", lambda m: m.add_log_softmax(), torch.nn.LogSoftmax(dim=1)),
    ("LayerNorm(24)", lambda m: m.add_layernorm(), torch.nn.LayerNorm(24)),
    ("LayerNorm(24, eps=1e-3, no affine)", lambda m: m.add_layernorm(eps=1e-3, elementwise_affine=False),
     torch.nn.LayerNorm(24, eps=1e-3, elementwise_affine=False)),
]


@pytest.mark.parametrize("name,add,module", ELEMENTWISE, ids=[case[0] for case in ELEMENTWISE])
def test_flat_layers_match_torch(name, add, module):
    flat_layer_case(name, add, module)


def test_softmax_large_logits_match_torch():
    flat_layer_case("Softmax(dim=1) ×40", lambda m: m.add_softmax(), torch.nn.Softmax(dim=1), scale=40.0, seed=3)
    flat_layer_case("LogSoftmax(dim=1) ×40", lambda m: m.add_log_softmax(), torch.nn.LogSoftmax(dim=1), scale=40.0, seed=3)


def conv_then(add, modules, *, training: bool, seed: int = 1):
    """Conv2d(3 → 4, 3×3, pad 1) on (3, 6, 5) inputs, then the layer(s) under test, in both
    libraries with the same tensors; returns outputs and the state dicts' gradients."""
    torch.manual_seed(seed)
    reference = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), *modules)
    for name, p in reference.named_parameters():  # LayerNorm's weight and bias away from 1 and 0
        if not name.startswith("0."):
            with torch.no_grad():
                p.add_(0.3 * torch.randn_like(p))
    model = smallnet.Model((3, 6, 5)).add_conv2d(4, 3, padding=1)
    add(model)
    model.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()}, strict=True)
    model.train(training)
    reference.train(training)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(5, 3, 6, 5)).astype(np.float32)
    model.zero_grad()
    y = model.forward(x)
    dy = rng.normal(size=y.shape).astype(np.float32)
    model.backward(dy)
    return model, reference, x, y, dy


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_layernorm_over_feature_maps_matches_torch(dims):
    shape = (4, 6, 5)[3 - dims:]
    model, reference, x, y, dy = conv_then(lambda m: m.add_layernorm(dims), [torch.nn.LayerNorm(shape)], training=True)
    yt = reference(torch.from_numpy(x))
    yt.backward(torch.from_numpy(dy))
    case = f"Conv2d → LayerNorm{shape}"
    close(case, "output", y, yt.detach().numpy(), VALUE_TOLERANCE)
    for name, p in reference.named_parameters():  # conv gradients carry LayerNorm's input gradient
        close(case, f"{name} gradient", model.grad(name), p.grad.numpy(), GRADIENT_TOLERANCE)


def test_dropout2d_matches_torch_given_its_channels():
    p = 0.4
    model, reference, x, y, dy = conv_then(lambda m: m.add_dropout2d(p), [], training=True)
    conv = reference[0]
    xt = torch.from_numpy(x)
    pre = conv(xt)
    # The channels smallnet kept: whole planes, nonzero; torch's Dropout2d with that mask.
    kept = np.abs(y).reshape(5, 4, -1).max(axis=2) > 0
    assert 0 < kept.sum() < kept.size, "some channels dropped, some kept"
    mask = torch.from_numpy(kept.astype(np.float32) / (1 - p))[:, :, None, None]
    yt = pre * mask
    yt.backward(torch.from_numpy(dy))
    case = f"Conv2d → Dropout2d({p}) train"
    close(case, "output", y, yt.detach().numpy(), VALUE_TOLERANCE)
    for name, param in conv.named_parameters():
        close(case, f"0.{name} gradient", model.grad(f"0.{name}"), param.grad.numpy(), GRADIENT_TOLERANCE)
    # Eval mode: the identity, as torch.
    model.eval()
    reference.append(torch.nn.Dropout2d(p)).eval()
    close("Conv2d → Dropout2d eval", "output", model.forward(x), reference(xt).detach().numpy(), VALUE_TOLERANCE)


def test_kinds_summaries_and_errors():
    model = (smallnet.Model((2, 4, 4)).add_dropout2d(0.1).add_layernorm(3).add_gelu("tanh").add_flatten()
             .add_leaky_relu().add_elu().add_silu().add_tanh().add_sigmoid().add_softmax().add_log_softmax())
    kinds = [layer["kind"] for layer in model.layers]
    assert kinds == ["Dropout2d", "LayerNorm", "GELU", "Flatten", "LeakyReLU", "ELU", "SiLU", "Tanh", "Sigmoid",
                     "Softmax", "LogSoftmax"]
    assert model.layers[1]["n_params"] == 64
    assert sorted(model.state_dict()) == ["1.bias", "1.weight"]
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_gelu("erf")
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_dropout2d(1.0)
    with pytest.raises(smallnet.ShapeMismatchError):
        model.add_dropout2d(0.5)  # flat output
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_layernorm(2)  # the output has one dimension
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_layernorm(eps=0.0)
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_layernorm(elementwise_affine=2)
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_leaky_relu(float("nan"))
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_elu(float("inf"))
    with pytest.raises(smallnet.ShapeMismatchError):
        smallnet.Model((1, 4, 4)).add_softmax()
    with pytest.raises(smallnet.ShapeMismatchError):
        smallnet.Model((1, 4, 4)).add_log_softmax()
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.Model((1, 4, 4)).add_layernorm(4)
    assert len(model.layers) == 11, "failed calls append nothing"


def test_mixed_model_trains_saves_and_loads_into_torch(tmp_path):
    """Conv2d → BatchNorm2d → GELU → Dropout2d → MaxPool2d → Conv2d → LayerNorm(C, H, W) → SiLU
    → Flatten → LayerNorm → Linear → LeakyReLU → Linear: trained a few steps, saved, loaded back
    and into the equivalent torch.nn.Sequential."""
    model = (smallnet.Model((1, 8, 8))
             .add_conv2d(6, 3, padding=1, seed=1).add_batchnorm2d().add_gelu().add_dropout2d(0.2).add_maxpool2d(2)
             .add_conv2d(8, 3, padding=1, seed=2).add_layernorm(3).add_silu()
             .add_flatten().add_layernorm().add_linear(24, seed=3).add_leaky_relu(0.1).add_linear(3, seed=4))
    images, labels = synthetic(96, classes=3, shape=(1, 8, 8))
    before = model.state_dict()
    with smallnet.Dataset.from_numpy(images, labels) as data:
        history = model.fit(data, epochs=2, batch_size=32, progress=False, seed=0)
    after = model.state_dict()
    for name in ("6.weight", "6.bias", "9.weight", "9.bias"):
        assert not np.array_equal(before[name], after[name]), f"{name} trained"
    losses = history.column("train_loss")
    assert len(losses) == 2 and all(np.isfinite(losses))

    model.eval()
    logits = model.forward(images[:16])
    path = tmp_path / "mixed.safetensors"
    model.save(path)
    with smallnet.Model.load(path) as loaded:
        assert [layer["summary"] for layer in loaded.layers] == [layer["summary"] for layer in model.layers]
        np.testing.assert_array_equal(loaded.eval().forward(images[:16]), logits)

    reference = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.BatchNorm2d(6), torch.nn.GELU(), torch.nn.Dropout2d(0.2),
        torch.nn.MaxPool2d(2), torch.nn.Conv2d(6, 8, 3, padding=1), torch.nn.LayerNorm((8, 4, 4)), torch.nn.SiLU(),
        torch.nn.Flatten(), torch.nn.LayerNorm(128), torch.nn.Linear(128, 24), torch.nn.LeakyReLU(0.1),
        torch.nn.Linear(24, 3))
    target = reference.state_dict()
    reference.load_state_dict(
        {k: torch.from_numpy(np.asarray(v)).to(target[k].dtype).reshape(target[k].shape) for k, v in after.items()},
        strict=True)
    reference.eval()
    with torch.no_grad():
        expected = reference(torch.from_numpy(images[:16])).numpy()
    close("mixed model (eval)", "logits", logits, expected, VALUE_TOLERANCE)
