"""Optimizers over a model's trainable parameters: SGD, RMSProp, Adam, AdamW, Adagrad; gradient
clipping.

Each follows its PyTorch counterpart's update rule, and every hyper-parameter left out takes
PyTorch's default (as reported by ``sn_optimizer_params_default`` and
``sn_optimizer_options_default``).
"""

from __future__ import annotations

import ctypes
from typing import Any

from . import _lib
from ._handle import Handle, new_pointer, to_flag, to_float, to_int32
from .errors import InvalidArgumentError, check
from .training import arch_code

#: A smallnet.Model (named, not imported: the model module builds on this one).
Model = Handle

__all__ = ["SGD", "RMSProp", "Adam", "AdamW", "Adagrad", "Optimizer", "optimizer_defaults", "clip_grad_norm_",
           "clip_grad_value_"]

_lib_ = _lib.lib

_FLOAT_FIELDS = ("lr", "momentum", "dampening", "weight_decay", "alpha", "beta1", "beta2", "eps")
_FLAG_FIELDS = ("nesterov", "centered")
# Settings of sn_optimizer_options.
_OPTION_FLOAT_FIELDS = ("lr_decay", "initial_accumulator_value")
_OPTION_FLAG_FIELDS = ("amsgrad", "maximize")
_ALL_FIELDS = _FLOAT_FIELDS + _FLAG_FIELDS + _OPTION_FLOAT_FIELDS + _OPTION_FLAG_FIELDS


#: Optimizer names and their SN_OPTIMIZER_* codes.
KINDS = _lib.OPTIMIZER_CODES


def optimizer_defaults(kind: str | int) -> dict[str, Any]:
    """The library's (PyTorch's) default hyper-parameters for an optimizer.

    Args:
        kind: "sgd", "rmsprop", "adam", "adamw", "adagrad", or an ``SN_OPTIMIZER_*`` value.

    Example:
        >>> optimizer_defaults("adam")["lr"]
        0.0010000000474974513
    """
    if isinstance(kind, str):
        if kind.lower() not in KINDS:
            raise InvalidArgumentError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        code = KINDS[kind.lower()]
    else:
        code = to_int32(kind, "kind")
    params = _lib.sn_optimizer_params()
    params.struct_size = ctypes.sizeof(params)
    check(_lib_.sn_optimizer_params_default(code, ctypes.byref(params)))
    return _settings(params, _options_default())


def _options_default() -> _lib.sn_optimizer_options:
    options = _lib.sn_optimizer_options()
    options.struct_size = ctypes.sizeof(options)
    check(_lib_.sn_optimizer_options_default(ctypes.byref(options)))
    return options


def _settings(params: _lib.sn_optimizer_params, options: _lib.sn_optimizer_options) -> dict[str, Any]:
    values = {name: getattr(params, name) for name in _FLOAT_FIELDS + _FLAG_FIELDS}
    values.update({name: getattr(options, name) for name in _OPTION_FLOAT_FIELDS + _OPTION_FLAG_FIELDS})
    return values


class Optimizer(Handle):
    """Base class: an optimizer handle over all trainable parameters of one model.

    The library keeps the parameters alive, so model and optimizer may be closed in either
    order. Subclasses choose the kind and which hyper-parameters apply.
    """

    _noun = "optimizer"
    _kind: int = -1

    def __init__(self, model: Model, **hyper: Any):
        params = _lib.sn_optimizer_params()
        params.struct_size = ctypes.sizeof(params)
        check(_lib_.sn_optimizer_params_default(self._kind, ctypes.byref(params)))
        options = _options_default()
        for name, value in hyper.items():
            if value is None:
                continue
            target = options if name in _OPTION_FLOAT_FIELDS + _OPTION_FLAG_FIELDS else params
            if name in _FLAG_FIELDS + _OPTION_FLAG_FIELDS:
                setattr(target, name, to_flag(value, name))
            else:
                setattr(target, name, to_float(value, name))
        self._create(model, params, options)

    @classmethod
    def from_recipe(cls, model: Model, arch: str = "fcn", budget: int | None = None) -> Optimizer:
        """The optimizer ``smallnet train --arch <arch> --params <budget>`` uses by default
        (``sn_recipe_optimizer_params_for_budget``; the budget defaults to the model's
        parameter count): for "fcn" AdamW lr 0.002; for "cnn" SGD lr 0.05, momentum 0.9,
        weight decay 1e-4.

        Example:
            >>> optimizer = Optimizer.from_recipe(model, "cnn")   # an SGD
        """
        params = _lib.sn_optimizer_params()
        params.struct_size = ctypes.sizeof(params)
        if budget is None:
            budget = getattr(model, "n_params", None)
            if budget is None:
                raise InvalidArgumentError(f"an optimizer needs a smallnet.Model, got {type(model).__name__}")
        check(_lib_.sn_recipe_optimizer_params_for_budget(arch_code(arch), int(budget), ctypes.byref(params)))
        subclass = {c._kind: c for c in (SGD, RMSProp, Adam, AdamW, Adagrad)}.get(params.kind, Optimizer)
        optimizer = subclass.__new__(subclass)
        optimizer._create(model, params, _options_default())
        return optimizer

    def _create(self, model: Model, params: _lib.sn_optimizer_params, options: _lib.sn_optimizer_options) -> None:
        out = new_pointer()
        handle = _model_handle(model, "an optimizer needs")
        check(_lib_.sn_optimizer_create_with_options(handle, ctypes.byref(params), ctypes.byref(options),
                                                     ctypes.byref(out)))
        super().__init__(out.value, _lib_.sn_optimizer_free)
        self.model = model
        self._params = _settings(params, options)
        self._kind_code = params.kind

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The hyper-parameters the optimizer was created with (lr: the current one)."""
        values = dict(self._params)
        values["lr"] = self.lr
        return values

    def step(self) -> None:
        """Applies one update from the current gradients."""
        check(_lib_.sn_optimizer_step(self._handle))

    def zero_grad(self) -> None:
        """Sets the model's parameter gradients to zero (as ``model.zero_grad()``)."""
        self.model.zero_grad()

    @property
    def lr(self) -> float:
        """The learning rate (schedules change it during ``fit`` and restore it afterwards)."""
        out = ctypes.c_float()
        check(_lib_.sn_optimizer_get_lr(self._handle, ctypes.byref(out)))
        return out.value

    @lr.setter
    def lr(self, value: float) -> None:
        check(_lib_.sn_optimizer_set_lr(self._handle, to_float(value, "lr")))

    @property
    def kind(self) -> str:
        """"sgd", "rmsprop", "adam", "adamw" or "adagrad"."""
        return {code: name for name, code in KINDS.items()}[self._kind_code]

    def __repr__(self) -> str:
        if self.closed:
            return f"{type(self).__name__}(closed)"
        shown = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in self._shown().items())
        return f"{type(self).__name__}({shown})"

    def _shown(self) -> dict[str, Any]:
        return {"lr": self.lr}


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay.

    Args:
        model: the model whose parameters are updated.
        lr: learning rate (default 0.001).
        momentum: momentum factor (default 0).
        dampening: dampening of the momentum (default 0).
        weight_decay: L2 penalty added to the gradient (default 0).
        nesterov: Nesterov momentum (default False).
        maximize: ascend the objective instead of descending it (default False).

    Example:
        >>> opt = SGD(model, lr=0.05, momentum=0.9)
    """

    _kind = _lib.SN_OPTIMIZER_SGD

    def __init__(self, model: Model, lr: float | None = None, momentum: float | None = None,
                 dampening: float | None = None, weight_decay: float | None = None,
                 nesterov: bool | None = None, maximize: bool | None = None):
        super().__init__(model, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, maximize=maximize)

    def _shown(self) -> dict[str, Any]:
        p = self._params
        return {"lr": self.lr, "momentum": p["momentum"], "dampening": p["dampening"],
                "weight_decay": p["weight_decay"], "nesterov": bool(p["nesterov"]), "maximize": bool(p["maximize"])}


class RMSProp(Optimizer):
    """RMSProp, optionally centred and with momentum.

    Args:
        model: the model whose parameters are updated.
        lr: learning rate (default 0.01).
        alpha: smoothing constant of the squared-gradient average (default 0.99).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalise by the estimated variance of the gradient (default False).
        maximize: ascend the objective instead of descending it (default False).
    """

    _kind = _lib.SN_OPTIMIZER_RMSPROP

    def __init__(self, model: Model, lr: float | None = None, alpha: float | None = None, eps: float | None = None,
                 weight_decay: float | None = None, momentum: float | None = None, centered: bool | None = None,
                 maximize: bool | None = None):
        super().__init__(model, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                         centered=centered, maximize=maximize)

    def _shown(self) -> dict[str, Any]:
        p = self._params
        return {"lr": self.lr, "alpha": p["alpha"], "eps": p["eps"], "weight_decay": p["weight_decay"],
                "momentum": p["momentum"], "centered": bool(p["centered"]), "maximize": bool(p["maximize"])}


class _AdamBase(Optimizer):
    def __init__(self, model: Model, lr: float | None = None, betas: tuple[float, float] | None = None,
                 eps: float | None = None, weight_decay: float | None = None, amsgrad: bool | None = None,
                 maximize: bool | None = None):
        beta1 = beta2 = None
        if betas is not None:
            try:
                beta1, beta2 = betas
            except (TypeError, ValueError):
                raise InvalidArgumentError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
        super().__init__(model, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)

    @property
    def betas(self) -> tuple[float, float]:
        return self._params["beta1"], self._params["beta2"]

    def _shown(self) -> dict[str, Any]:
        p = self._params
        return {"lr": self.lr, "betas": (round(p["beta1"], 6), round(p["beta2"], 6)), "eps": p["eps"],
                "weight_decay": p["weight_decay"], "amsgrad": bool(p["amsgrad"]), "maximize": bool(p["maximize"])}


class Adam(_AdamBase):
    """Adam with L2 weight decay added to the gradient.

    Args:
        model: the model whose parameters are updated.
        lr: learning rate (default 0.001).
        betas: decay rates of the first and second moments (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty (default 0).
        amsgrad: divide by the largest second moment so far (AMSGrad; default False).
        maximize: ascend the objective instead of descending it (default False).

    Example:
        >>> opt = Adam(model, lr=1e-3, betas=(0.9, 0.99))
    """

    _kind = _lib.SN_OPTIMIZER_ADAM


class AdamW(_AdamBase):
    """Adam with decoupled weight decay.

    Args:
        model: the model whose parameters are updated.
        lr: learning rate (default 0.001).
        betas: decay rates of the first and second moments (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: decoupled decay factor (default 0.01).
        amsgrad: divide by the largest second moment so far (AMSGrad; default False).
        maximize: ascend the objective instead of descending it (default False).

    Example:
        >>> opt = AdamW(model, lr=0.002)
    """

    _kind = _lib.SN_OPTIMIZER_ADAMW


class Adagrad(Optimizer):
    """Adagrad: per-coordinate rates that shrink with the sum of squared gradients
    (``torch.optim.Adagrad``).

    Args:
        model: the model whose parameters are updated.
        lr: learning rate (default 0.01).
        lr_decay: the rate at step t is lr / (1 + (t − 1)·lr_decay) (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: where the sum of squared gradients starts (default 0).
        eps: added to the denominator (default 1e-10).
        maximize: ascend the objective instead of descending it (default False).

    Example:
        >>> opt = Adagrad(model, lr=0.05)
    """

    _kind = _lib.SN_OPTIMIZER_ADAGRAD

    def __init__(self, model: Model, lr: float | None = None, lr_decay: float | None = None,
                 weight_decay: float | None = None, initial_accumulator_value: float | None = None,
                 eps: float | None = None, maximize: bool | None = None):
        super().__init__(model, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)

    def _shown(self) -> dict[str, Any]:
        p = self._params
        return {"lr": self.lr, "lr_decay": p["lr_decay"], "weight_decay": p["weight_decay"],
                "initial_accumulator_value": p["initial_accumulator_value"], "eps": p["eps"],
                "maximize": bool(p["maximize"])}


def clip_grad_norm_(model: Model, max_norm: float) -> float:
    """Scales the model's gradients to a total 2-norm of at most ``max_norm``, as
    ``torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)``: when
    max_norm / (total + 1e-6) < 1, every gradient is multiplied by it.

    Args:
        model: a smallnet.Model whose gradients are clipped in place.
        max_norm: the largest total norm, >= 0.

    Returns:
        The total norm before clipping.

    Example:
        >>> model.backward(dlogits); clip_grad_norm_(model, 1.0); opt.step()
    """
    out = ctypes.c_float()
    check(_lib_.sn_model_clip_grad_norm(_model_handle(model), to_float(max_norm, "max_norm"), ctypes.byref(out)))
    return out.value


def clip_grad_value_(model: Model, clip_value: float) -> None:
    """Clamps every gradient element of the model to [−clip_value, clip_value], as
    ``torch.nn.utils.clip_grad_value_``.

    Example:
        >>> model.backward(dlogits); clip_grad_value_(model, 0.1); opt.step()
    """
    check(_lib_.sn_model_clip_grad_value(_model_handle(model), to_float(clip_value, "clip_value")))


def _model_handle(model: Model, what: str = "expected") -> Any:
    if not (isinstance(model, Handle) and model._noun == "model"):
        raise InvalidArgumentError(f"{what} a smallnet.Model, got {type(model).__name__}")
    return model._handle
