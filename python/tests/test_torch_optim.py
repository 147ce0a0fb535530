"""Optimizers, schedules, gradient clipping and initialisations against PyTorch.

Optimizers: smallnet and torch get the same 50 gradients (set on both, then one step each) and
must hold the same parameters after every step, within 1e-5 of the tensor's scale. Schedules:
the rate of every step against torch's scheduler (warm-ups against LinearLR in a SequentialLR).
Initialisations: different generators, so the distributions are compared (moments within
sampling error, orthogonality). Run with ``-s`` for the table of the largest differences.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import smallnet

from conftest import synthetic

torch = pytest.importorskip("torch")

STEPS = 50
TABLE: list[tuple[str, float]] = []


@pytest.fixture(scope="module", autouse=True)
def print_table():
    yield
    if TABLE:
        print("\n\nLargest differences against PyTorch (relative unless stated)")
        for label, value in TABLE:
            print(f"{label:<62} {value:>10.3e}")


def small_model() -> smallnet.Model:
    model = smallnet.Model((1, 3, 3))
    model.add_linear(7, init="pytorch", seed=1).add_relu().add_linear(4, init="pytorch", seed=2)
    return model


def torch_parameters(model: smallnet.Model) -> dict[str, "torch.Tensor"]:
    return {name: torch.tensor(value.astype(np.float64).astype(np.float32), requires_grad=True)
            for name, value in model.state_dict().items()}


OPTIMIZERS = [
    ("SGD", dict(lr=0.05), torch.optim.SGD, dict(lr=0.05)),
    ("SGD momentum nesterov", dict(lr=0.05, momentum=0.9, nesterov=True), torch.optim.SGD,
     dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD momentum dampening wd", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01), torch.optim.SGD,
     dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD maximize", dict(lr=0.05, momentum=0.9, maximize=True), torch.optim.SGD,
     dict(lr=0.05, momentum=0.9, maximize=True)),
    ("Adam", dict(lr=0.01), torch.optim.Adam, dict(lr=0.01)),
    ("Adam amsgrad", dict(lr=0.01, amsgrad=True), torch.optim.Adam, dict(lr=0.01, amsgrad=True)),
    ("Adam amsgrad wd", dict(lr=0.01, amsgrad=True, weight_decay=0.1), torch.optim.Adam,
     dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam maximize", dict(lr=0.01, maximize=True), torch.optim.Adam, dict(lr=0.01, maximize=True)),
    ("AdamW", dict(lr=0.01), torch.optim.AdamW, dict(lr=0.01)),
    ("AdamW amsgrad maximize", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.1), torch.optim.AdamW,
     dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.1)),
    ("RMSProp", dict(lr=0.01), torch.optim.RMSprop, dict(lr=0.01)),
    ("RMSProp centered momentum", dict(lr=0.01, centered=True, momentum=0.9), torch.optim.RMSprop,
     dict(lr=0.01, centered=True, momentum=0.9)),
    ("RMSProp maximize", dict(lr=0.01, maximize=True, weight_decay=0.01), torch.optim.RMSprop,
     dict(lr=0.01, maximize=True, weight_decay=0.01)),
    ("Adagrad", dict(), torch.optim.Adagrad, dict()),
    ("Adagrad lr_decay wd init", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1),
     torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1)),
    ("Adagrad maximize eps", dict(lr=0.1, eps=1e-6, maximize=True), torch.optim.Adagrad,
     dict(lr=0.1, eps=1e-6, maximize=True)),
]

CLASSES = {"SGD": smallnet.SGD, "Adam": smallnet.Adam, "AdamW": smallnet.AdamW, "RMSProp": smallnet.RMSProp,
           "Adagrad": smallnet.Adagrad}


@pytest.mark.parametrize("label, ours, reference, theirs", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_optimizer_matches_torch_over_50_steps(label, ours, reference, theirs):
    model = small_model()
    params = torch_parameters(model)
    optimizer = CLASSES[label.split()[0]](model, **ours)
    torch_optimizer = reference(list(params.values()), **theirs)
    rng = np.random.default_rng(7)
    worst = 0.0
    for step in range(STEPS):
        for name, p in params.items():
            grad = rng.normal(0, 1 + step % 5, size=p.shape).astype(np.float32)
            model.set_grad(name, grad)
            p.grad = torch.from_numpy(grad.copy())
        optimizer.step()
        torch_optimizer.step()
        for name, p in params.items():
            expected = p.detach().numpy()
            got = model.get_tensor(name)
            # Relative to the tensor's scale: elementwise ratios blow up where a value crosses zero.
            difference = float(np.max(np.abs(got - expected)) / max(np.max(np.abs(expected)), 1e-6))
            worst = max(worst, difference)
            assert difference < 1e-5, f"{label}: {name} differs by {difference:.2e} (relative) at step {step + 1}"
    TABLE.append((f"{label} (50 steps, parameters)", worst))


def test_defaults_are_torchs():
    model = small_model()
    for ours, theirs in [(smallnet.Adagrad, torch.optim.Adagrad), (smallnet.Adam, torch.optim.Adam),
                         (smallnet.SGD, torch.optim.SGD)]:
        hyper = ours(model).hyperparameters
        defaults = theirs([torch.zeros(1, requires_grad=True)], **({"lr": 0.001} if theirs is torch.optim.SGD else {})).defaults
        for key in ("lr", "eps", "weight_decay", "lr_decay", "initial_accumulator_value", "amsgrad", "maximize"):
            if key in defaults and key in hyper:
                if isinstance(defaults[key], bool):
                    assert bool(hyper[key]) == defaults[key], (ours.__name__, key)
                else:
                    assert hyper[key] == pytest.approx(defaults[key], rel=1e-6), (ours.__name__, key)


# ------------------------------------------------------------------------------- schedules


def torch_rates(make, base: float, total: int, steps_per_epoch: int, per_step: bool) -> list[float]:
    """The rate torch trains each step with, its scheduler stepped per step or per epoch."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    scheduler = make(optimizer)
    rates = []
    for step in range(total):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if per_step or (step + 1) % steps_per_epoch == 0:
            if not per_step or step + 1 < total:
                scheduler.step()
    return rates


SCHEDULES = [
    ("step", {"kind": "step", "step_size": 2, "gamma": 0.3}, False,
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.3)),
    ("cosine, no warm-up", {"kind": "cosine", "warmup_epochs": 0, "min_lr": 0.001}, True,
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=60, eta_min=0.001)),
    ("exponential", {"kind": "exponential", "gamma": 0.7}, False,
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.7)),
    ("one-cycle", "one-cycle", True,
     lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=60, cycle_momentum=False)),
    ("one-cycle linear", {"kind": "one-cycle", "anneal_strategy": "linear", "pct_start": 0.25, "div_factor": 10,
                          "final_div_factor": 100}, True,
     lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=60, pct_start=0.25,
                                                   anneal_strategy="linear", div_factor=10, final_div_factor=100,
                                                   cycle_momentum=False)),
]


@pytest.mark.parametrize("label, schedule, per_step, make", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedule_matches_torch(label, schedule, per_step, make):
    total, per_epoch, base = 60, 6, 0.1
    expected = torch_rates(make, base, total, per_epoch, per_step)
    got = [smallnet.schedule_lr(schedule, base, step, total, per_epoch) for step in range(total)]
    difference = max(abs(a - b) / b for a, b in zip(got, expected))
    TABLE.append((f"schedule {label} (60 steps, rates)", difference))
    assert difference < 1e-5, (label, got[:8], expected[:8])


def warmed_up(make_after, warmup_steps: int):
    """torch's warm-up: LinearLR from lr/W to lr over W steps, then the scheduler `make_after`
    makes, stepped per step (SequentialLR)."""
    def make(optimizer):
        linear = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / warmup_steps, end_factor=1.0,
                                                   total_iters=warmup_steps - 1)
        return torch.optim.lr_scheduler.SequentialLR(optimizer, [linear, make_after(optimizer)],
                                                     milestones=[warmup_steps])
    return make


WARMUPS = [
    # Per-epoch decays as StepLR over steps: the rates they give, stepped every step.
    ("exponential, warm-up 1 epoch", {"kind": "exponential", "gamma": 0.5, "warmup_epochs": 1},
     warmed_up(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=6, gamma=0.5), 6)),
    ("step, warm-up 2 epochs", {"kind": "step", "step_size": 2, "gamma": 0.3, "warmup_epochs": 2},
     warmed_up(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=12, gamma=0.3), 12)),
    ("cosine, its own warm-up 1 epoch", {"kind": "cosine", "warmup_epochs": 1, "min_lr": 0.001},
     warmed_up(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=54, eta_min=0.001), 6)),
    ("constant, warm-up 1.5 epochs", {"kind": "constant", "warmup_epochs": 1.5},
     warmed_up(lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor=1.0, total_iters=0), 9)),
]


@pytest.mark.parametrize("label, schedule, make", WARMUPS, ids=[w[0] for w in WARMUPS])
def test_warmup_matches_torch(label, schedule, make):
    total, per_epoch, base = 60, 6, 0.1
    expected = torch_rates(make, base, total, per_epoch, per_step=True)
    got = [smallnet.schedule_lr(schedule, base, step, total, per_epoch) for step in range(total)]
    difference = max(abs(a - b) / b for a, b in zip(got, expected))
    TABLE.append((f"schedule {label} (60 steps, rates)", difference))
    assert difference < 1e-5, (label, got[:14], expected[:14])


def test_warmup_before_one_cycle_and_plateau():
    # Warm-up rises to the schedule's first rate: OneCycleLR's lr / div_factor.
    one_cycle = {"kind": "one-cycle", "warmup_epochs": 1}
    rates = [smallnet.schedule_lr(one_cycle, 0.1, s, 60, 6) for s in range(60)]
    assert rates[:6] == pytest.approx([0.004 * (s + 1) / 6 for s in range(6)], rel=1e-6)
    expected = torch_rates(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=54,
                                                                          cycle_momentum=False), 0.1, 54, 6, True)
    assert rates[6:] == pytest.approx(expected, rel=1e-5)
    # Reduce on plateau: before any reduction, the base rate after the warm-up.
    assert smallnet.schedule_lr({"kind": "plateau", "warmup_epochs": 1}, 0.1, 2, 60, 6) == pytest.approx(0.05)
    assert smallnet.schedule_lr({"kind": "plateau", "warmup_epochs": 1}, 0.1, 30, 60, 6) == pytest.approx(0.1)
    # Constant and step ignore a warm-up they are not given by name (as before).
    assert smallnet.schedule_lr("step", 0.1, 0, 60, 6) == pytest.approx(0.1)


def test_plateau_in_fit_matches_torch():
    images, labels = synthetic(96, seed=3)
    model = smallnet.Model((1, 8, 8)).add_flatten().add_linear(3, init="pytorch", seed=1)
    # A tiny rate: the validation loss barely moves, so plateaus come every patience + 1 epochs.
    optimizer = smallnet.SGD(model, lr=1e-6)
    history = model.fit(images, labels, optimizer, epochs=9, batch_size=32, progress=False,
                        schedule={"kind": "plateau", "patience": 1, "factor": 0.5, "cooldown": 1},
                        label_smoothing=0, validation_data=(images, labels))
    reference_optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-6)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(reference_optimizer, patience=1, factor=0.5, cooldown=1)
    expected = []
    for entry in history:
        expected.append(reference_optimizer.param_groups[0]["lr"])
        scheduler.step(entry["eval_loss"])
    got = history.column("lr")
    assert len(set(expected)) > 2, "the run must reduce the rate more than once"
    difference = max(abs(a - b) / b for a, b in zip(got, expected))
    TABLE.append(("schedule plateau in fit (9 epochs, rates)", difference))
    assert difference < 1e-5, (got, expected)
    with pytest.raises(smallnet.InvalidArgumentError, match="validation"):
        model.fit(images, labels, optimizer, epochs=1, progress=False, schedule="plateau")


# -------------------------------------------------------------------------------- clipping


def set_same_gradients(model, params, scale: float, seed: int):
    rng = np.random.default_rng(seed)
    for name, p in params.items():
        grad = (scale * rng.normal(size=p.shape)).astype(np.float32)
        model.set_grad(name, grad)
        p.grad = torch.from_numpy(grad.copy())


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e3])
def test_clip_grad_norm_matches_torch(max_norm):
    model = small_model()
    params = torch_parameters(model)
    set_same_gradients(model, params, 1.0, seed=1)
    total = smallnet.clip_grad_norm_(model, max_norm)
    expected_total = float(torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm))
    worst = abs(total - expected_total) / expected_total
    for name, p in params.items():
        expected = p.grad.numpy()
        worst = max(worst, float(np.max(np.abs(model.grad(name) - expected)) / np.max(np.abs(expected))))
    TABLE.append((f"clip_grad_norm_ max_norm {max_norm} (gradients, total)", worst))
    assert worst < 1e-5


def test_clip_grad_value_matches_torch():
    model = small_model()
    params = torch_parameters(model)
    set_same_gradients(model, params, 2.0, seed=2)
    smallnet.clip_grad_value_(model, 0.7)
    torch.nn.utils.clip_grad_value_(list(params.values()), 0.7)
    worst = max(float(np.max(np.abs(model.grad(name) - p.grad.numpy()))) for name, p in params.items())
    TABLE.append(("clip_grad_value_ 0.7 (gradients)", worst))
    assert worst == 0
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.clip_grad_value_(model, -1)


def test_fit_with_clipping_runs_and_validates():
    images, labels = synthetic(64, seed=4)
    model = smallnet.Model((1, 8, 8)).add_flatten().add_linear(3, seed=1)
    history = model.fit(images, labels, smallnet.SGD(model, lr=0.1), epochs=2, progress=False,
                        clip_grad_norm=0.5, clip_grad_value=0.05)
    assert len(history) == 2
    with pytest.raises(smallnet.InvalidArgumentError, match="clip_grad_norm"):
        model.fit(images, labels, smallnet.SGD(model), epochs=1, progress=False, clip_grad_norm=-1)


# -------------------------------------------------------------------------- initialisation


def weight(init: str, shape=(1, 16, 16), out=64, seed=0) -> tuple[np.ndarray, np.ndarray]:
    model = smallnet.Model(shape).add_linear(out, init=init, seed=seed)
    return model.get_tensor("0.weight"), model.get_tensor("0.bias")


def conv_weight(init: str, seed=0) -> np.ndarray:
    model = smallnet.Model((8, 6, 6)).add_conv2d(32, 3, padding=1, init=init, seed=seed)
    return model.get_tensor("0.weight")


TORCH_INITS = {
    "kaiming": lambda t: torch.nn.init.kaiming_normal_(t, nonlinearity="relu"),
    "xavier_normal": torch.nn.init.xavier_normal_,
    "xavier_uniform": torch.nn.init.xavier_uniform_,
    "kaiming_fan_out": lambda t: torch.nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
    "kaiming_uniform": lambda t: torch.nn.init.kaiming_uniform_(t, nonlinearity="relu"),
}


def expected_std(init: str, fan_in: int, fan_out: int) -> float:
    return {"kaiming": math.sqrt(2 / fan_in), "xavier_normal": math.sqrt(2 / (fan_in + fan_out)),
            "xavier_uniform": math.sqrt(6 / (fan_in + fan_out)) / math.sqrt(3),
            "kaiming_fan_out": math.sqrt(2 / fan_out), "kaiming_uniform": math.sqrt(6 / fan_in) / math.sqrt(3)}[init]


def assert_moments(values: np.ndarray, std: float, uniform: bool, label: str) -> float:
    """Mean and standard deviation within four standard errors of the distribution's; returns
    the standard deviation's relative difference."""
    n = values.size
    kurtosis = 1.8 if uniform else 3.0
    mean_error = std / math.sqrt(n)
    std_error = std * math.sqrt((kurtosis - 1) / (4 * n))
    assert abs(float(values.mean())) < 4 * mean_error, (label, float(values.mean()), mean_error)
    assert abs(float(values.std()) - std) < 4 * std_error, (label, float(values.std()), std, std_error)
    if uniform:
        assert np.abs(values).max() <= std * math.sqrt(3) * (1 + 1e-6), label
    return abs(float(values.std()) - std) / std


@pytest.mark.parametrize("init", sorted(TORCH_INITS))
def test_init_distributions_match_torch(init):
    uniform = "uniform" in init
    worst = 0.0
    for seed in range(3):
        w, b = weight(init, seed=seed)                       # Linear 256 → 64
        worst = max(worst, assert_moments(w, expected_std(init, 256, 64), uniform, f"{init} linear"))
        assert not b.any(), "biases start at zero"
        c = conv_weight(init, seed=seed)                     # Conv2d 8 → 32, 3×3: fans 72 and 288
        worst = max(worst, assert_moments(c, expected_std(init, 72, 288), uniform, f"{init} conv"))
    # The reference meets the same bounds (the test measures what torch draws).
    torch.manual_seed(0)
    reference = torch.empty(64, 256)
    TORCH_INITS[init](reference)
    assert_moments(reference.numpy(), expected_std(init, 256, 64), uniform, f"torch {init}")
    TABLE.append((f"init {init}: std vs formula (linear, conv; 3 seeds)", worst))


def test_orthogonal_like_torch():
    worst = 0.0
    for out, shape in [(16, (1, 8, 8)), (64, (1, 4, 4)), (12, (3, 2, 2))]:
        for seed in range(3):
            w, b = weight("orthogonal", shape=shape, out=out, seed=seed)
            reference = torch.nn.init.orthogonal_(torch.empty(w.shape)).numpy()
            for matrix, who in ((w, "smallnet"), (reference, "torch")):
                gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
                error = float(np.abs(gram - np.eye(gram.shape[0])).max())
                assert error < 1e-5, (who, w.shape, error)
                if who == "smallnet":
                    worst = max(worst, error)
            assert not b.any()
    c = conv_weight("orthogonal").reshape(32, -1)            # (32, 72): orthonormal rows
    worst = max(worst, float(np.abs(c @ c.T - np.eye(32)).max()))
    assert worst < 1e-5
    TABLE.append(("init orthogonal: max |W·Wᵀ − I| (absolute)", worst))
    with pytest.raises(smallnet.InvalidArgumentError, match="init"):
        smallnet.Model((1, 4, 4)).add_linear(3, init="he")
