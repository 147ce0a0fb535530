"""Where a model's training step spends its time: ``smallnet.profile(model, batch_size)``."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from . import _lib
from ._handle import to_float, to_int32
from .errors import InvalidArgumentError, check
from .model import Model

_lib_ = _lib.lib


@dataclass(frozen=True)
class LayerProfile:
    """One step of a training step, in seconds per batch (medians over the steps): a layer, or
    the layers one fused pass computes (BatchNorm2d → ReLU → MaxPool2d(2), or BatchNorm2d → ReLU)."""

    index: int           # of the (first) layer in the model
    summary: str         # the layer's, or the fused layers' joined by " → "
    forward_seconds: float
    backward_seconds: float
    forward_flops: int   # matrix-product FLOPs of the batch's forward pass
    backward_flops: int  # twice forward_flops; once for a layer that computes no input gradient
    share: float         # of the step
    layer_count: int = 1


@dataclass(frozen=True)
class StepProfile:
    """A training step taken apart; ``str()`` prints it as ``smallnet profile`` does."""

    batch_size: int
    threads: int
    steps: int
    step_seconds: float
    loss_seconds: float
    optimizer_seconds: float
    fma_limit_gflops: float  # register-only FMA loop on the same threads, measured in the same call
    layers: list[LayerProfile]

    @property
    def images_per_second(self) -> float:
        return self.batch_size / self.step_seconds

    @property
    def gflops(self) -> float:
        """The step's matrix-product GFLOP/s."""
        return sum(l.forward_flops + l.backward_flops for l in self.layers) / self.step_seconds / 1e9

    @property
    def fraction_of_fma_limit(self) -> float:
        return self.gflops / self.fma_limit_gflops

    def __str__(self) -> str:
        def rate(flops: int, seconds: float) -> str:
            return f"{flops / seconds / 1e9:.1f}" if flops and seconds > 0 else ""

        lines = [f"FMA limit {self.fma_limit_gflops:.0f} GFLOP/s; batch {self.batch_size}, {self.threads} threads, {self.steps} steps",
                 f" #  {'layer':40} forward µs  backward µs   share  fwd GFLOP/s  bwd GFLOP/s"]
        for l in self.layers:
            lines.append(f"{l.index:<3} {l.summary:40} {l.forward_seconds * 1e6:<11.1f} {l.backward_seconds * 1e6:<12.1f} "
                         f"{100 * l.share:5.1f} % {rate(l.forward_flops, l.forward_seconds):12} "
                         f"{rate(l.backward_flops, l.backward_seconds)}")
        lines.append(f"    {'loss (softmax cross-entropy)':40} {self.loss_seconds * 1e6:<24.1f} "
                     f"{100 * self.loss_seconds / self.step_seconds:5.1f} %")
        lines.append(f"    {'optimizer (zero grad + update)':40} {self.optimizer_seconds * 1e6:<24.1f} "
                     f"{100 * self.optimizer_seconds / self.step_seconds:5.1f} %")
        lines.append(f"step {self.step_seconds * 1e3:.3f} ms = {self.images_per_second:.0f} images/s, "
                     f"{self.gflops:.1f} GFLOP/s = {100 * self.fraction_of_fma_limit:.1f} % of the FMA limit")
        return "\n".join(lines)


def profile(model: Model, batch_size: int = 64, optimizer: str = "adamw", lr: float = 0.001,
            seconds: float = 2.0) -> StepProfile:
    """Times training steps of a copy of ``model`` (``model`` is not changed) on random inputs.

    Args:
        model: any model; its input shape and outputs set the random batch's shape.
        batch_size: images per step (1..65536).
        optimizer: "sgd", "rmsprop", "adam", "adamw" or "adagrad", set up as ``smallnet train``
            does, at learning rate ``lr``.
        seconds: about how long to measure (at least 3 steps, after a warm-up step).

    Returns:
        per layer (one entry for the layers of a fused pass), forward and backward seconds per
        batch, FLOPs and share of the step; the
        loss and optimizer times; the machine's FMA limit on the same threads.

    Raises:
        InvalidArgumentError: a bad argument, or a batch BatchNorm refuses in training mode.
    """
    if not isinstance(model, Model):
        raise InvalidArgumentError(f"model must be a smallnet.Model, got {type(model).__name__}")
    if optimizer not in _lib.OPTIMIZER_CODES:
        raise InvalidArgumentError(f"optimizer must be one of {sorted(_lib.OPTIMIZER_CODES)}, got {optimizer!r}")
    summaries = [layer["summary"] for layer in model.layers]
    out = _lib.sn_step_profile()
    out.struct_size = ctypes.sizeof(out)
    entries = (_lib.sn_layer_profile * max(len(summaries), 1))()
    count = ctypes.c_size_t()
    check(_lib_.sn_model_profile(model._handle, _lib.OPTIMIZER_CODES[optimizer], to_float(lr, "lr"),
                                 to_int32(batch_size, "batch_size"), to_float(seconds, "seconds"), ctypes.byref(out),
                                 entries, len(summaries), ctypes.byref(count)))
    step = out.step_seconds
    # A fused pass reports on its first layer's entry and zeros on the others (smallnet.h).
    groups: list[list[int]] = []
    for i, e in enumerate(entries[:count.value]):
        if groups and e.forward_seconds == 0 and e.backward_seconds == 0 and e.forward_flops == 0:
            groups[-1].append(i)
        else:
            groups.append([i])
    layers = []
    for group in groups:
        e = entries[group[0]]
        layers.append(LayerProfile(group[0], " → ".join(summaries[i] for i in group), e.forward_seconds,
                                   e.backward_seconds, e.forward_flops, e.backward_flops,
                                   (e.forward_seconds + e.backward_seconds) / step, len(group)))
    return StepProfile(out.batch_size, out.threads, out.steps, step, out.loss_seconds, out.optimizer_seconds,
                       out.fma_limit_gflops, layers)
