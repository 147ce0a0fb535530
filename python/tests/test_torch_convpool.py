"""Convolution and pooling options against PyTorch: dilated, grouped and "same" convolutions,
padded and ceil-mode pooling, adaptive pooling, BatchNorm without affine parameters or running
statistics; forward outputs and gradients, and a depthwise-separable model trained here and
loaded into torch.nn.Sequential."""

from __future__ import annotations

import numpy as np
import pytest

import smallnet

from conftest import synthetic

torch = pytest.importorskip("torch")

VALUE_TOLERANCE = 1e-5
GRADIENT_TOLERANCE = 1e-4
ROWS: list[tuple[str, str, float]] = []


@pytest.fixture(scope="module", autouse=True)
def difference_table():
    """Prints the largest relative differences of the module's comparisons (run with -s)."""
    yield
    if ROWS:
        width = max(len(case) for case, _, _ in ROWS)
        print(f"\n{'case':<{width}}  {'quantity':<28} max |a − b| / max |b| (gradients: / max(|b|, 0.01))")
        for case, quantity, value in ROWS:
            print(f"{case:<{width}}  {quantity:<28} {value:.2e}")


def relative(a, b, floor: float = 1e-12) -> float:
    """max |a − b| / max |b|, the denominator at least `floor` (a gradient that is zero in exact
    arithmetic, such as a convolution bias before BatchNorm, is compared to its neighbours' scale)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), floor))


def torch_state(model: smallnet.Model, reference: torch.nn.Module) -> None:
    target = reference.state_dict()
    reference.load_state_dict(
        {name: torch.from_numpy(np.asarray(value)).to(target[name].dtype).reshape(target[name].shape)
         for name, value in model.state_dict().items()},
        strict=True,
    )


def compare(case: str, model: smallnet.Model, reference: torch.nn.Sequential, x: np.ndarray,
            training: bool = True, seed: int = 0) -> None:
    """Same parameters in both; forward, then backward of random output gradients: logits and
    every parameter gradient. The first layer is a plain convolution whose weight gradient
    carries the input gradient of the layer under test."""
    torch_state(model, reference)
    model.train(training)
    reference.train(training)
    logits = model.forward(x)
    dlogits = np.random.default_rng(seed).normal(size=logits.shape).astype(np.float32)
    model.zero_grad()
    model.backward(dlogits)
    tx = torch.from_numpy(x)
    expected = reference(tx)
    expected.backward(torch.from_numpy(dlogits))
    difference = relative(logits, expected.detach().numpy())
    ROWS.append((case, "output", difference))
    assert difference <= VALUE_TOLERANCE, case
    torch_params = dict(reference.named_parameters())
    names = [name for name in model.state_dict() if name in torch_params]
    assert names, case
    for name in names:
        difference = relative(model.grad(name), torch_params[name].grad.numpy(), floor=1e-2)
        ROWS.append((case, f"grad {name}", difference))
        assert difference <= GRADIENT_TOLERANCE, (case, name)
    for name, buffer in reference.named_buffers():
        if name.endswith("num_batches_tracked"):
            continue
        difference = relative(model.get_tensor(name), buffer.numpy())
        ROWS.append((case, name, difference))
        assert difference <= VALUE_TOLERANCE, (case, name)


def images(shape, n=6, seed=1):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype(np.float32)


CONVOLUTIONS = [
    # (case, C, H, W, out, kernel, stride, padding, dilation, groups)
    ("conv dilation 2", 3, 9, 8, 4, 3, 1, 2, 2, 1),
    ("conv groups 2", 4, 7, 7, 6, 3, 1, 1, 1, 2),
    ("conv depthwise same", 4, 8, 6, 4, 3, 1, "same", 1, 4),
    ("conv depthwise ×2 stride 2 dil 2", 3, 11, 10, 6, 3, 2, 1, 2, 3),
    ("conv same k5 dilation 2", 2, 9, 9, 3, 5, 1, "same", 2, 1),
    ("conv same k3 (plain path)", 2, 6, 7, 3, 3, 1, "same", 1, 1),
]


@pytest.mark.parametrize("case,c,h,w,out,k,s,p,d,g", CONVOLUTIONS, ids=[c[0] for c in CONVOLUTIONS])
def test_convolutions_match_torch(case, c, h, w, out, k, s, p, d, g):
    model = (smallnet.Model((c, h, w)).add_conv2d(c, 3, padding=1, init="pytorch", seed=1)
             .add_conv2d(out, k, stride=s, padding=p, dilation=d, groups=g, init="pytorch", seed=2)
             .add_flatten())
    model.add_linear(5, init="pytorch", seed=3)
    reference = torch.nn.Sequential(
        torch.nn.Conv2d(c, c, 3, padding=1),
        torch.nn.Conv2d(c, out, k, stride=s, padding=p, dilation=d, groups=g),
        torch.nn.Flatten(), torch.nn.LazyLinear(5))
    reference(torch.zeros(1, c, h, w))  # materialise the lazy layer
    assert model.get_tensor("1.weight").shape == (out, c // g, k, k)
    compare(case, model, reference, images((c, h, w)))


POOLS = [
    ("maxpool k3 s2 p1 ceil", lambda m: m.add_maxpool2d(3, 2, padding=1, ceil_mode=True),
     torch.nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), (3, 8, 7)),
    ("maxpool k2 ceil", lambda m: m.add_maxpool2d(2, ceil_mode=True), torch.nn.MaxPool2d(2, ceil_mode=True), (2, 7, 5)),
    ("avgpool k3 s2 p1 ceil", lambda m: m.add_avgpool2d(3, 2, padding=1, ceil_mode=True),
     torch.nn.AvgPool2d(3, 2, padding=1, ceil_mode=True), (3, 8, 7)),
    ("avgpool k3 s2 p1 no pad count", lambda m: m.add_avgpool2d(3, 2, padding=1, count_include_pad=False),
     torch.nn.AvgPool2d(3, 2, padding=1, count_include_pad=False), (2, 7, 6)),
    ("avgpool k2 p1 ceil no pad count", lambda m: m.add_avgpool2d(2, padding=1, ceil_mode=True, count_include_pad=False),
     torch.nn.AvgPool2d(2, padding=1, ceil_mode=True, count_include_pad=False), (2, 5, 5)),
    ("adaptive avg (3, 2)", lambda m: m.add_adaptive_avgpool2d((3, 2)), torch.nn.AdaptiveAvgPool2d((3, 2)), (3, 7, 5)),
    ("adaptive avg 4 on 3×3", lambda m: m.add_adaptive_avgpool2d(4), torch.nn.AdaptiveAvgPool2d(4), (2, 3, 3)),
    ("adaptive avg (5, 3) on 10×9", lambda m: m.add_adaptive_avgpool2d((5, 3)), torch.nn.AdaptiveAvgPool2d((5, 3)),
     (2, 10, 9)),
]


@pytest.mark.parametrize("case,add,layer,shape", POOLS, ids=[p[0] for p in POOLS])
def test_pooling_matches_torch(case, add, layer, shape):
    c, h, w = shape
    model = add(smallnet.Model(shape).add_conv2d(c, 3, padding=1, init="pytorch", seed=1)).add_flatten()
    model.add_linear(4, init="pytorch", seed=3)
    reference = torch.nn.Sequential(torch.nn.Conv2d(c, c, 3, padding=1), layer, torch.nn.Flatten(),
                                    torch.nn.LazyLinear(4))
    reference(torch.zeros(1, *shape))
    compare(case, model, reference, images(shape))


BATCHNORMS = [
    ("bn2d", {}, True),
    ("bn2d eval", {}, False),
    ("bn2d affine=False", {"affine": False}, True),
    ("bn2d no running stats, eval", {"track_running_stats": False}, False),
    ("bn2d no affine, no stats, train", {"affine": False, "track_running_stats": False}, True),
]


@pytest.mark.parametrize("case,options,training", BATCHNORMS, ids=[b[0] for b in BATCHNORMS])
def test_batchnorm2d_options_match_torch(case, options, training):
    shape = (3, 5, 6)
    model = (smallnet.Model(shape).add_conv2d(3, 3, padding=1, init="pytorch", seed=1)
             .add_batchnorm2d(momentum=0.2, **options).add_flatten().add_linear(4, init="pytorch", seed=3))
    reference = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.BatchNorm2d(3, momentum=0.2, **options),
                                    torch.nn.Flatten(), torch.nn.Linear(90, 4))
    if options.get("affine", True):
        rng = np.random.default_rng(5)
        model.set_tensor("1.weight", 1 + 0.3 * rng.normal(size=3))
        model.set_tensor("1.bias", 0.3 * rng.normal(size=3))
    if options.get("track_running_stats", True) and not training:
        model.set_tensor("1.running_mean", [0.1, -0.2, 0.3])
        model.set_tensor("1.running_var", [0.5, 1.5, 2.0])
    compare(case, model, reference, images(shape), training=training)


@pytest.mark.parametrize("options,training", [({"affine": False}, True), ({"track_running_stats": False}, False),
                                              ({"affine": False, "track_running_stats": False}, True)])
def test_batchnorm1d_options_match_torch(options, training):
    case = "bn1d " + ", ".join(f"{k}={v}" for k, v in options.items()) + (" train" if training else " eval")
    model = (smallnet.Model((1, 4, 4)).add_flatten().add_linear(6, init="pytorch", seed=1)
             .add_batchnorm1d(**options).add_linear(3, init="pytorch", seed=2))
    reference = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 6), torch.nn.BatchNorm1d(6, **options),
                                    torch.nn.Linear(6, 3))
    compare(case, model, reference, images((1, 4, 4), n=7), training=training)
    names = set(model.state_dict())
    assert ("2.weight" in names) == options.get("affine", True)
    assert ("2.running_mean" in names) == options.get("track_running_stats", True)


def test_batch_of_one_follows_torch():
    """A training batch of one: BatchNorm1d refuses it, BatchNorm2d takes it when H·W > 1."""
    x = images((2, 3, 3), n=1)
    planes = smallnet.Model((2, 3, 3)).add_batchnorm2d()
    reference = torch.nn.BatchNorm2d(2).train()
    np.testing.assert_allclose(planes.forward(x), reference(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    flat = smallnet.Model((2, 3, 3)).add_flatten().add_batchnorm1d()
    with pytest.raises(ValueError):
        torch.nn.BatchNorm1d(18).train()(torch.from_numpy(x.reshape(1, -1)))
    with pytest.raises(smallnet.InvalidArgumentError):
        flat.forward(x)
    dots = smallnet.Model((2, 3, 3)).add_maxpool2d(3).add_batchnorm2d()
    with pytest.raises(smallnet.InvalidArgumentError):
        dots.forward(x)
    assert dots.eval().forward(x).shape == (1, 2, 1, 1)


def depthwise_separable(c: int, classes: int) -> smallnet.Model:
    return (smallnet.Model((c, 12, 12))
            .add_conv2d(c, 3, padding="same", groups=c, seed=1)
            .add_conv2d(8, 1, seed=2)
            .add_batchnorm2d()
            .add_relu()
            .add_maxpool2d(3, stride=2, padding=1, ceil_mode=True)
            .add_adaptive_avgpool2d((2, 2))
            .add_flatten()
            .add_linear(classes, seed=3))


def test_depthwise_separable_model_trains_saves_and_loads_into_torch(tmp_path):
    c, classes = 4, 3
    x, y = synthetic(96, classes=classes, shape=(c, 12, 12), seed=4)
    model = depthwise_separable(c, classes)
    assert [layer["kind"] for layer in model.layers] == [
        "Conv2d", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "AdaptiveAvgPool2d", "Flatten", "Linear"]
    with smallnet.Dataset.from_numpy(x, y) as data:
        before = model.evaluate(data)["loss"]
        model.fit(data, epochs=3, batch_size=16, progress=False)
        after = model.evaluate(data)["loss"]
    assert after < before
    path = tmp_path / "depthwise.safetensors"
    model.save(path)
    loaded = smallnet.Model.load(path)
    reference = torch.nn.Sequential(
        torch.nn.Conv2d(c, c, 3, padding="same", groups=c), torch.nn.Conv2d(c, 8, 1), torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(), torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), torch.nn.AdaptiveAvgPool2d((2, 2)),
        torch.nn.Flatten(), torch.nn.Linear(32, classes))
    torch_state(loaded, reference)  # load_state_dict(strict=True)
    loaded.eval()
    logits = loaded.forward(x)
    with torch.no_grad():
        expected = reference.eval()(torch.from_numpy(x)).numpy()
    difference = relative(logits, expected)
    ROWS.append(("depthwise-separable model", "eval logits after load", difference))
    assert difference <= 1e-5
    assert np.array_equal(logits, model.eval().forward(x))


def test_bad_options_raise_typed_errors():
    model = smallnet.Model((4, 8, 8))
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_conv2d(6, 3, groups=4)
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_conv2d(4, 3, stride=2, padding="same")
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_conv2d(4, 2, padding="same")
    with pytest.raises(ValueError):
        model.add_conv2d(4, 3, padding="valid")
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_maxpool2d(3, padding=2)
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_avgpool2d(2, ceil_mode=2)
    with pytest.raises(smallnet.InvalidArgumentError):
        model.add_adaptive_avgpool2d((0, 2))
    with pytest.raises(ValueError):
        model.add_adaptive_avgpool2d((1, 2, 3))
    with pytest.raises(smallnet.ShapeMismatchError):
        smallnet.Model((1, 4, 4)).add_flatten().add_adaptive_avgpool2d(2)
    assert len(model.layers) == 0
