"""smallnet.losses against torch.nn.functional: value and input gradient of every loss ×
reduction × weights (within 1e-5 relative for values, 1e-4 for gradients), the large-logit
cross-entropy, and training with another loss through Model.fit."""

from __future__ import annotations

import numpy as np
import pytest

import smallnet
from smallnet import losses

torch = pytest.importorskip("torch")
F = torch.nn.functional

N, C = 7, 5
RNG = np.random.default_rng(0)
LOGITS = (2 * RNG.normal(size=(N, C))).astype(np.float32)
LABELS = np.array([0, 4, 2, 2, 1, 3, 2])
TARGETS = RNG.normal(size=(N, C)).astype(np.float32)
PROBS = RNG.uniform(size=(N, C)).astype(np.float32)
WEIGHT = np.array([0.5, 2.0, 1.0, 0.25, 1.5], np.float32)
POS_WEIGHT = np.array([3.0, 0.5, 1.0, 2.0, 1.2], np.float32)


def _cases():
    """(name, smallnet call, torch call, input, target) for every loss × options × reduction."""
    log_probs = torch.log_softmax(torch.from_numpy(LOGITS), 1).numpy()
    for reduction in ("mean", "sum", "none"):
        for options in ({}, {"label_smoothing": 0.1}, {"weight": WEIGHT}, {"ignore_index": 2},
                        {"weight": WEIGHT, "ignore_index": 2, "label_smoothing": 0.2}):
            yield (f"cross_entropy {reduction} {sorted(options)}", losses.cross_entropy, F.cross_entropy,
                   LOGITS, LABELS, reduction, options)
        for options in ({}, {"weight": WEIGHT}, {"weight": WEIGHT, "ignore_index": 2}):
            yield (f"nll_loss {reduction} {sorted(options)}", losses.nll_loss, F.nll_loss, log_probs, LABELS,
                   reduction, options)
        yield f"mse_loss {reduction}", losses.mse_loss, F.mse_loss, LOGITS, TARGETS, reduction, {}
        yield f"l1_loss {reduction}", losses.l1_loss, F.l1_loss, LOGITS, TARGETS, reduction, {}
        for beta in (1.0, 0.5, 0.0):
            yield (f"smooth_l1_loss {reduction} beta={beta}", losses.smooth_l1_loss, F.smooth_l1_loss, LOGITS,
                   TARGETS, reduction, {"beta": beta})
        for delta in (1.0, 0.7):
            yield (f"huber_loss {reduction} delta={delta}", losses.huber_loss, F.huber_loss, LOGITS, TARGETS,
                   reduction, {"delta": delta})
        for options in ({}, {"weight": WEIGHT}, {"pos_weight": POS_WEIGHT}, {"weight": WEIGHT, "pos_weight": POS_WEIGHT}):
            yield (f"bce_with_logits {reduction} {sorted(options)}", losses.binary_cross_entropy_with_logits,
                   F.binary_cross_entropy_with_logits, LOGITS, PROBS, reduction, options)


CASES = list(_cases())
RESULTS: dict[str, tuple[float, float]] = {}


def _relative(ours: np.ndarray, theirs: np.ndarray) -> float:
    """max |ours − theirs| / max |theirs| (the tensor's scale, so zeros do not blow it up)."""
    scale = max(float(np.max(np.abs(theirs))), 1e-30)
    return float(np.max(np.abs(np.asarray(ours, np.float64) - theirs))) / scale


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_value_and_gradient_match_torch(case):
    name, ours, theirs, x, target, reduction, options = case
    value, grad = ours(x, target, reduction=reduction, return_grad=True, **options)
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    t_target = torch.from_numpy(target) if target.dtype.kind == "i" else torch.tensor(target, dtype=torch.float64)
    t_options = {k: torch.tensor(v, dtype=torch.float64) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    expected = theirs(tx, t_target, reduction=reduction, **t_options)
    expected.sum().backward()
    expected_value = expected.detach().numpy()
    assert np.shape(value) == expected_value.shape
    value_difference = _relative(value, expected_value)
    grad_difference = _relative(grad, tx.grad.numpy())
    RESULTS[name] = (value_difference, grad_difference)
    assert value_difference < 1e-5, name
    assert grad_difference < 1e-4, name


def test_zz_print_the_table():
    """The largest differences from PyTorch (float64), one row per case (run with -s)."""
    assert len(RESULTS) == len(CASES), "run the whole file"
    print(f"\n{'case':<72} {'value':>9} {'gradient':>9}")
    for name, (v, g) in RESULTS.items():
        print(f"{name:<72} {v:9.1e} {g:9.1e}")
    worst_value = max(v for v, _ in RESULTS.values())
    worst_grad = max(g for _, g in RESULTS.values())
    print(f"{'largest':<72} {worst_value:9.1e} {worst_grad:9.1e}")
    assert worst_value < 1e-5 and worst_grad < 1e-4


def test_cross_entropy_keeps_its_precision_at_large_logits():
    logits = np.array([[1e4 + 20] + [1e4] * 9], np.float32)
    expected = F.cross_entropy(torch.from_numpy(logits), torch.tensor([0]), label_smoothing=0.1).item()
    assert abs(expected - 1.8) < 1e-6
    assert abs(losses.cross_entropy(logits, [0], label_smoothing=0.1) - expected) < 1e-5
    assert abs(smallnet.cross_entropy(logits, [0], 0.1)[0] - expected) < 1e-5


def test_bad_arguments_raise_typed_errors():
    with pytest.raises(smallnet.InvalidArgumentError):
        losses.Loss("hinge")
    with pytest.raises(smallnet.InvalidArgumentError):
        losses.mse_loss(LOGITS, TARGETS, reduction="avg")
    with pytest.raises(smallnet.ShapeMismatchError):
        losses.mse_loss(LOGITS, TARGETS[:3])
    with pytest.raises(smallnet.ShapeMismatchError):
        losses.cross_entropy(LOGITS, LABELS[:3])
    with pytest.raises(smallnet.ShapeMismatchError):
        losses.cross_entropy(LOGITS, LABELS, weight=WEIGHT[:3])
    with pytest.raises(smallnet.InvalidArgumentError):
        losses.cross_entropy(LOGITS, np.full(N, 9))
    with pytest.raises(smallnet.InvalidArgumentError):
        losses.huber_loss(LOGITS, TARGETS, delta=0)
    with pytest.raises(smallnet.InvalidArgumentError):
        losses.smooth_l1_loss(LOGITS, TARGETS, beta=-1)


def test_fit_with_another_loss():
    from conftest import synthetic

    images, labels = synthetic(n=300, classes=3, shape=(1, 4, 4), seed=1)
    for loss in ("mse", losses.Loss("cross_entropy", weight=[1.0, 2.0, 1.0]), "bce_with_logits"):
        model = smallnet.fcn([16], input_shape=(1, 4, 4), classes=3, seed=0)
        history = model.fit(images, labels, epochs=10, batch_size=30, progress=False, loss=loss,
                            validation_data=(images, labels))
        assert history[-1]["train_loss"] < history[0]["train_loss"], loss
        assert history[-1]["eval_accuracy"] > 0.7, loss  # chance: 1/3
    # A Loss's own label smoothing is the one used: the same run as label_smoothing=0.3.
    runs = []
    for kwargs in ({"loss": losses.Loss("cross_entropy", label_smoothing=0.3)}, {"label_smoothing": 0.3}):
        model = smallnet.fcn([16], input_shape=(1, 4, 4), classes=3, seed=0)
        runs.append(model.fit(images, labels, epochs=2, batch_size=30, progress=False, **kwargs).column("train_loss"))
    assert runs[0] == runs[1]
    with pytest.raises(smallnet.InvalidArgumentError):
        model.fit(images, labels, epochs=1, progress=False, label_smoothing=0.1,
                  loss=losses.Loss("cross_entropy", label_smoothing=0.3))
    with pytest.raises(smallnet.InvalidArgumentError):
        model.fit(images, labels, epochs=1, progress=False, loss=losses.Loss("mse", reduction="none"))
    with pytest.raises(smallnet.InvalidArgumentError):
        model.fit(images, labels, epochs=1, progress=False, loss="hinge")
