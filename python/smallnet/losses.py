"""Loss functions as PyTorch names them, computed by the library: the value and, on request,
the gradient with respect to the input, in one call.

Each function mirrors ``torch.nn.functional`` (same names, arguments and defaults) and returns
numpy values: a float for ``reduction="mean"`` or ``"sum"``, an array for ``"none"`` (one value
per row for :func:`cross_entropy` and :func:`nll_loss`, one per element for the others). With
``return_grad=True`` it returns ``(value, grad)``, grad being the gradient of the reduced loss
(of ``value.sum()`` for ``"none"``) with respect to the input, float32 of the input's shape.

A :class:`Loss` holds a loss with its options; ``Model.fit(..., loss=...)`` takes one (or a
kind's name such as ``"mse"``).

Example:
    >>> from smallnet import losses
    >>> losses.cross_entropy(np.zeros((2, 10)), [3, 7])                      # log(10)
    >>> value, grad = losses.mse_loss(pred, target, reduction="sum", return_grad=True)
    >>> model.fit(train, loss=losses.Loss("cross_entropy", weight=class_weights))
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from . import _lib
from ._handle import float_array, float_pointer, int32_pointer, label_array, to_float, to_int32
from .errors import InvalidArgumentError, ShapeMismatchError, check

__all__ = [
    "KINDS",
    "Loss",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]

_lib_ = _lib.lib

#: Loss kinds by name, as the C constants SN_LOSS_*.
KINDS = {
    "cross_entropy": _lib.SN_LOSS_CROSS_ENTROPY,
    "nll": _lib.SN_LOSS_NLL,
    "mse": _lib.SN_LOSS_MSE,
    "l1": _lib.SN_LOSS_L1,
    "smooth_l1": _lib.SN_LOSS_SMOOTH_L1,
    "huber": _lib.SN_LOSS_HUBER,
    "bce_with_logits": _lib.SN_LOSS_BCE_WITH_LOGITS,
}
_REDUCTIONS = {"mean": _lib.SN_REDUCTION_MEAN, "sum": _lib.SN_REDUCTION_SUM, "none": _lib.SN_REDUCTION_NONE}
_LABEL_KINDS = {"cross_entropy", "nll"}


class Loss:
    """A loss and its options, as ``torch.nn.CrossEntropyLoss``, ``NLLLoss``, ``MSELoss``,
    ``L1Loss``, ``SmoothL1Loss``, ``HuberLoss`` and ``BCEWithLogitsLoss``.

    Args:
        kind: one of :data:`KINDS`: "cross_entropy", "nll", "mse", "l1", "smooth_l1", "huber",
            "bce_with_logits".
        reduction: "mean", "sum" or "none".
        weight: class weights (C values): of each label (cross-entropy, NLL) or of each column
            (BCE with logits); None for none.
        ignore_index: rows with this label cost nothing (cross-entropy, NLL).
        label_smoothing: in [0, 1) (cross-entropy).
        beta: smooth L1's threshold, ≥ 0.
        delta: Huber's threshold, > 0.
        pos_weight: weight of positive targets per column, C values or 1 (BCE with logits).

    Shape:
        input (N, C); target: N integer labels (cross-entropy, NLL) or (N, C) floats (the others).

    Raises:
        InvalidArgumentError: an unknown kind or reduction, an option the kind does not have.

    Example:
        >>> loss = Loss("huber", delta=0.5, reduction="sum")
        >>> value, grad = loss(prediction, target, return_grad=True)
    """

    def __init__(self, kind: str = "cross_entropy", *, reduction: str = "mean", weight: Any = None,
                 ignore_index: int = -100, label_smoothing: float = 0.0, beta: float = 1.0, delta: float = 1.0,
                 pos_weight: Any = None):
        if kind not in KINDS:
            raise InvalidArgumentError(f"loss must be one of {sorted(KINDS)}, got {kind!r}")
        if reduction not in _REDUCTIONS:
            raise InvalidArgumentError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.kind = kind
        self.reduction = reduction
        self.weight = None if weight is None else float_array(weight, "weight").reshape(-1)
        self.ignore_index = to_int32(ignore_index, "ignore_index")
        self.label_smoothing = to_float(label_smoothing, "label_smoothing")
        self.beta = to_float(beta, "beta")
        self.delta = to_float(delta, "delta")
        self.pos_weight = None if pos_weight is None else float_array(pos_weight, "pos_weight").reshape(-1)

    def __repr__(self) -> str:
        return f"Loss({self.kind!r}, reduction={self.reduction!r})"

    def params(self) -> _lib.sn_loss_params:
        """The C options; its weight pointers borrow this object's arrays (keep it alive)."""
        p = _lib.sn_loss_params()
        check(_lib_.sn_loss_params_default(KINDS[self.kind], ctypes.byref(p)))
        p.reduction = _REDUCTIONS[self.reduction]
        p.ignore_index = self.ignore_index
        p.label_smoothing = self.label_smoothing
        p.beta = self.beta
        p.delta = self.delta
        if self.weight is not None:
            p.class_weights, p.n_class_weights = float_pointer(self.weight), self.weight.size
        if self.pos_weight is not None:
            p.pos_weight, p.n_pos_weight = float_pointer(self.pos_weight), self.pos_weight.size
        return p

    def __call__(self, input: Any, target: Any, return_grad: bool = False):
        """The loss of ``input`` (N, C) against ``target``; see the module's docstring."""
        x = float_array(input, "input")
        if x.ndim == 1 and self.kind not in _LABEL_KINDS:
            x = x.reshape(-1, 1)
        if x.ndim != 2:
            raise ShapeMismatchError(f"input must be (N, C), got shape {x.shape}")
        n, c = x.shape
        labels = targets = None
        if self.kind in _LABEL_KINDS:
            labels = label_array(target, "target")
            if labels.shape[0] != n:
                raise ShapeMismatchError(f"{n} rows of input but {labels.shape[0]} labels")
        else:
            targets = float_array(target, "target")
            if targets.size != x.size or (targets.shape != np.shape(input) and targets.shape != x.shape):
                raise ShapeMismatchError(f"target must have the input's shape {np.shape(input)}, got {targets.shape}")
        count = 1 if self.reduction != "none" else (n if self.kind in _LABEL_KINDS else n * c)
        out = np.empty(count, dtype=np.float32)
        grad = np.empty_like(x) if return_grad else None
        params = self.params()
        check(_lib_.sn_loss(ctypes.byref(params), float_pointer(x), n, c,
                            int32_pointer(labels) if labels is not None else None,
                            float_pointer(targets) if targets is not None else None,
                            float_pointer(out), out.size, float_pointer(grad) if grad is not None else None))
        if self.reduction == "none":
            value = out if self.kind in _LABEL_KINDS else out.reshape(np.shape(input))
        else:
            value = float(out[0])
        if return_grad:
            return value, grad.reshape(np.shape(input))
        return value


def cross_entropy(input: Any, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0, *, return_grad: bool = False):
    """Softmax cross-entropy of logits (N, C) against N labels, as ``torch.nn.functional.cross_entropy``
    with class indices: class weights, an ignored label, label smoothing; mean = weighted mean
    over the rows not ignored. See :class:`Loss`.

    Example:
        >>> value, dlogits = cross_entropy(logits, labels, label_smoothing=0.1, return_grad=True)
    """
    return Loss("cross_entropy", reduction=reduction, weight=weight, ignore_index=ignore_index,
                label_smoothing=label_smoothing)(input, target, return_grad)


def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean", *,
             return_grad: bool = False):
    """Negative log-likelihood of log-probabilities (N, C) (after a LogSoftmax) against N labels,
    as ``torch.nn.functional.nll_loss``. See :class:`Loss`."""
    return Loss("nll", reduction=reduction, weight=weight, ignore_index=ignore_index)(input, target, return_grad)


def mse_loss(input: Any, target: Any, reduction: str = "mean", *, return_grad: bool = False):
    """(input − target)², as ``torch.nn.functional.mse_loss``; input and target of one shape."""
    return Loss("mse", reduction=reduction)(input, target, return_grad)


def l1_loss(input: Any, target: Any, reduction: str = "mean", *, return_grad: bool = False):
    """|input − target|, as ``torch.nn.functional.l1_loss`` (gradient sign(input − target))."""
    return Loss("l1", reduction=reduction)(input, target, return_grad)


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0, *,
                   return_grad: bool = False):
    """0.5·d²/beta where |d| < beta, else |d| − 0.5·beta, as ``torch.nn.functional.smooth_l1_loss``."""
    return Loss("smooth_l1", reduction=reduction, beta=beta)(input, target, return_grad)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0, *, return_grad: bool = False):
    """0.5·d² where |d| < delta, else delta·(|d| − 0.5·delta), as ``torch.nn.functional.huber_loss``."""
    return Loss("huber", reduction=reduction, delta=delta)(input, target, return_grad)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None, reduction: str = "mean",
                                     pos_weight: Any = None, *, return_grad: bool = False):
    """Binary cross-entropy on logits, as ``torch.nn.functional.binary_cross_entropy_with_logits``:
    weight and pos_weight per column (C values; pos_weight may be one value)."""
    return Loss("bce_with_logits", reduction=reduction, weight=weight, pos_weight=pos_weight)(
        input, target, return_grad)
