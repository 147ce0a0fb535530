"""Training support: settings, schedules, progress reporting and the history of a run."""

from __future__ import annotations

import contextlib
import ctypes
import math
import signal
import threading
from typing import Any, Callable, Mapping, Sequence

from . import _lib
from ._handle import to_float, to_int, to_int32
from .errors import InvalidArgumentError, check

__all__ = ["History", "recipe", "schedule_lr", "train_defaults"]

_lib_ = _lib.lib

SCHEDULES = {
    "constant": _lib.SN_SCHEDULE_CONSTANT,
    "step": _lib.SN_SCHEDULE_STEP,
    "cosine": _lib.SN_SCHEDULE_COSINE,
    "exponential": _lib.SN_SCHEDULE_EXPONENTIAL,
    "one-cycle": _lib.SN_SCHEDULE_ONE_CYCLE,
    "plateau": _lib.SN_SCHEDULE_REDUCE_ON_PLATEAU,
}
_SCHEDULE_NAMES = {value: name for name, value in SCHEDULES.items()}
_ANNEALING = {"cos": _lib.SN_ANNEAL_COS, "linear": _lib.SN_ANNEAL_LINEAR}
# Settings of sn_schedule, then of sn_schedule_options (PyTorch's names).
_SCHEDULE_INTS = ("step_size",)
_SCHEDULE_FLOATS = ("gamma", "warmup_epochs", "min_lr")
_OPTION_INTS = ("patience", "cooldown")
_OPTION_FLOATS = ("pct_start", "div_factor", "final_div_factor", "factor", "threshold")
_SCHEDULE_KEYS = ("kind", *_SCHEDULE_INTS, *_SCHEDULE_FLOATS, *_OPTION_INTS, *_OPTION_FLOATS, "anneal_strategy")


def arch_code(arch: str) -> int:
    """``SN_ARCH_*`` for "fcn" or "cnn"."""
    if arch not in _lib.ARCH_CODES:
        raise InvalidArgumentError(f"arch must be 'fcn' or 'cnn', got {arch!r}")
    return _lib.ARCH_CODES[arch]

def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


class History(list):
    """The per-epoch records of :meth:`smallnet.Model.fit`: a list of dicts.

    Each entry has the keys ``epoch``, ``train_loss``, ``train_accuracy``, ``eval_loss``,
    ``eval_accuracy`` (None without validation data), ``lr`` (at the epoch's last step) and
    ``seconds``. :attr:`history` gives the same figures as Keras does, a dict of lists.

    Example:
        >>> history = model.fit(train, epochs=3, validation=test)
        >>> history.column("eval_accuracy")
        [0.81, 0.84, 0.85]
        >>> history.history["val_accuracy"]
        [0.81, 0.84, 0.85]
    """

    KEYS = ("epoch", "train_loss", "train_accuracy", "eval_loss", "eval_accuracy", "lr", "seconds")

    #: Keras' names for the entries' keys, in the order of :attr:`history`.
    KERAS_KEYS = {"loss": "train_loss", "accuracy": "train_accuracy", "val_loss": "eval_loss",
                  "val_accuracy": "eval_accuracy", "lr": "lr"}

    def column(self, key: str) -> list[Any]:
        """The values of ``key`` over all epochs, in order."""
        if key not in self.KEYS:
            raise KeyError(f"unknown history key {key!r}; keys are {', '.join(self.KEYS)}")
        return [entry[key] for entry in self]

    @property
    def history(self) -> dict[str, list[float]]:
        """Keras' dict of lists: ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` (only
        with validation data) and ``lr``, one value per epoch."""
        validated = any(entry["eval_loss"] is not None for entry in self)
        return {name: self.column(key) for name, key in self.KERAS_KEYS.items()
                if validated or not name.startswith("val_")}

    @classmethod
    def from_records(cls, records: ctypes.Array, count: int) -> History:
        history = cls()
        for record in records[:count]:
            history.append({
                "epoch": int(record.epoch),
                "train_loss": float(record.train_loss),
                "train_accuracy": float(record.train_accuracy),
                "eval_loss": _none_if_nan(record.eval_loss),
                "eval_accuracy": _none_if_nan(record.eval_accuracy),
                "lr": float(record.learning_rate),
                "seconds": float(record.seconds),
            })
        return history


def train_defaults(arch: str = "fcn", budget: int | None = None) -> _lib.sn_train_params:
    """A fresh ``sn_train_params`` with the recipe's settings: ``sn_train_params_default`` for
    "fcn", ``sn_recipe_train_params`` otherwise; with ``budget``, the recipe for a model of
    that many parameters (``sn_recipe_train_params_for_budget``)."""
    code = arch_code(arch)
    params = _lib.sn_train_params()
    params.struct_size = ctypes.sizeof(params)
    if budget is not None:
        check(_lib_.sn_recipe_train_params_for_budget(code, int(budget), ctypes.byref(params)))
    elif code == _lib.SN_ARCH_FCN:
        check(_lib_.sn_train_params_default(ctypes.byref(params)))
    else:
        check(_lib_.sn_recipe_train_params(code, ctypes.byref(params)))
    return params


def recipe(arch: str = "fcn", budget: int | None = None) -> dict[str, Any]:
    """The settings ``smallnet train --arch <arch>`` uses by default, as a dict: epochs,
    batch_size, seed, schedule (a dict), label_smoothing, crop_padding, horizontal_flip,
    threads, and optimizer (a dict with kind and hyper-parameters); with ``budget``, those of
    ``--params <budget>`` (the CNN recipe leaves out crops under 15,000 weights).

    Example:
        >>> smallnet.recipe("cnn")["optimizer"]["kind"]
        'sgd'
    """
    params = train_defaults(arch, budget)
    optimizer = _lib.sn_optimizer_params()
    optimizer.struct_size = ctypes.sizeof(optimizer)
    if budget is None:
        check(_lib_.sn_recipe_optimizer_params(arch_code(arch), ctypes.byref(optimizer)))
    else:
        check(_lib_.sn_recipe_optimizer_params_for_budget(arch_code(arch), int(budget), ctypes.byref(optimizer)))
    names = {code: name for name, code in _lib.OPTIMIZER_CODES.items()}
    return {
        "epochs": params.epochs,
        "batch_size": params.batch_size,
        "seed": params.seed,
        "schedule": schedule_dict(params.schedule),
        "label_smoothing": params.label_smoothing,
        "crop_padding": params.crop_padding,
        "horizontal_flip": bool(params.horizontal_flip),
        "threads": params.threads,
        "optimizer": {"kind": names.get(optimizer.kind, optimizer.kind),
                      **{name: getattr(optimizer, name) for name, _ in optimizer._fields_[2:]}},
    }


def schedule_options_default() -> _lib.sn_schedule_options:
    """A fresh ``sn_schedule_options`` with PyTorch's defaults (``sn_schedule_options_default``)."""
    options = _lib.sn_schedule_options()
    options.struct_size = ctypes.sizeof(options)
    check(_lib_.sn_schedule_options_default(ctypes.byref(options)))
    return options


def schedule_structs(schedule: str | Mapping[str, Any] | None,
                     base: _lib.sn_schedule | None = None) -> tuple[_lib.sn_schedule, _lib.sn_schedule_options]:
    """An ``sn_schedule`` and its ``sn_schedule_options`` from a name, a dict, or None (the
    default schedule).

    Fields not given keep the values of ``base`` (default: ``sn_schedule_default``), except
    that a kind from "exponential" on, other than ``base``'s, starts from
    ``sn_schedule_params_default`` (without the default's warm-up). A warm-up given for
    "constant" or "step" applies to them (``warmup_every_kind``).
    """
    if base is None:
        out = _lib.sn_schedule()
        out.struct_size = ctypes.sizeof(out)
        check(_lib_.sn_schedule_default(ctypes.byref(out)))
    else:
        out = _lib.sn_schedule.from_buffer_copy(base)
    options = schedule_options_default()
    if schedule is None:
        return out, options
    if isinstance(schedule, str):
        schedule = {"kind": schedule}
    if not isinstance(schedule, Mapping):
        raise InvalidArgumentError(
            f"schedule must be one of {', '.join(SCHEDULES)} or a dict, got {type(schedule).__name__}"
        )
    unknown = set(schedule) - set(_SCHEDULE_KEYS)
    if unknown:
        raise InvalidArgumentError(f"unknown schedule keys {sorted(unknown)}; use {', '.join(_SCHEDULE_KEYS)}")
    if "kind" in schedule:
        kind = schedule["kind"]
        if isinstance(kind, str):
            if kind not in SCHEDULES:
                raise InvalidArgumentError(f"schedule kind must be one of {', '.join(SCHEDULES)}, got {kind!r}")
            code = SCHEDULES[kind]
        else:
            code = to_int32(kind, "schedule kind")
        if code >= _lib.SN_SCHEDULE_EXPONENTIAL and code != out.kind:
            check(_lib_.sn_schedule_params_default(code, ctypes.byref(out)))
        out.kind = code
    for name in _SCHEDULE_INTS:
        if schedule.get(name) is not None:
            setattr(out, name, to_int32(schedule[name], name))
    for name in _SCHEDULE_FLOATS:
        if schedule.get(name) is not None:
            setattr(out, name, to_float(schedule[name], name))
    for name in _OPTION_INTS:
        if schedule.get(name) is not None:
            setattr(options, name, to_int32(schedule[name], name))
    for name in _OPTION_FLOATS:
        if schedule.get(name) is not None:
            setattr(options, name, to_float(schedule[name], name))
    if schedule.get("anneal_strategy") is not None:
        strategy = schedule["anneal_strategy"]
        if strategy not in _ANNEALING:
            raise InvalidArgumentError(f"anneal_strategy must be 'cos' or 'linear', got {strategy!r}")
        options.anneal_strategy = _ANNEALING[strategy]
    if out.kind in (_lib.SN_SCHEDULE_CONSTANT, _lib.SN_SCHEDULE_STEP) and schedule.get("warmup_epochs"):
        options.warmup_every_kind = 1  # asked for by name: constant and step warm up too
    return out, options


def schedule_lr(schedule: str | Mapping[str, Any] | None, base_lr: float, step: int, total_steps: int,
                steps_per_epoch: int) -> float:
    """The learning rate a schedule gives at global step ``step`` (0-based) of ``total_steps``.

    Args:
        schedule: a name ("constant", "step", "cosine", "exponential", "one-cycle",
            "plateau"), a dict with ``kind`` and settings, or None for the default (cosine,
            one warm-up epoch). Settings, named as PyTorch's schedulers name them:
            step_size, gamma (step; gamma also exponential, per epoch), min_lr (cosine,
            plateau), warmup_epochs (a linear warm-up before any kind; constant and step
            warm up only when it is given), pct_start, anneal_strategy ("cos" or "linear"),
            div_factor, final_div_factor (one-cycle: OneCycleLR with max_lr = base_lr, per
            step), factor, patience, threshold, cooldown (plateau: ReduceLROnPlateau on the
            validation loss, per epoch, inside ``fit`` only; here the rate before any
            reduction).
        base_lr: the optimizer's base learning rate.
        step, total_steps, steps_per_epoch: where in training.

    Example:
        >>> schedule_lr("cosine", 0.002, 0, 9380, 938)   # first warm-up step
        >>> schedule_lr({"kind": "one-cycle", "pct_start": 0.25}, 0.1, 10, 100, 10)
    """
    s, options = schedule_structs(schedule)
    out = ctypes.c_float()
    big = (-(2**63), 2**63 - 1)
    check(_lib_.sn_schedule_lr_with_options(ctypes.byref(s), ctypes.byref(options), to_float(base_lr, "base_lr"),
                                            to_int(step, "step", *big), to_int(total_steps, "total_steps", *big),
                                            to_int(steps_per_epoch, "steps_per_epoch", *big), ctypes.byref(out)))
    return out.value


def schedule_dict(s: _lib.sn_schedule, options: _lib.sn_schedule_options | None = None) -> dict[str, Any]:
    """A schedule as a dict (with its further settings when ``options`` is given)."""
    out = {
        "kind": _SCHEDULE_NAMES.get(s.kind, s.kind),
        "step_size": s.step_size,
        "gamma": s.gamma,
        "warmup_epochs": s.warmup_epochs,
        "min_lr": s.min_lr,
    }
    if options is not None:
        out["warmup_every_kind"] = bool(options.warmup_every_kind)
        out.update({name: getattr(options, name) for name in _OPTION_FLOATS + _OPTION_INTS})
        names = {code: name for name, code in _ANNEALING.items()}
        out["anneal_strategy"] = names.get(options.anneal_strategy, options.anneal_strategy)
    return out


def progress_dict(p: _lib.sn_progress) -> dict[str, Any]:
    """What a Python progress callable receives."""
    info: dict[str, Any] = {
        "epoch": p.epoch,
        "epochs": p.epochs,
        "step": p.step,
        "steps_per_epoch": p.steps_per_epoch,
        "loss": p.loss,
        "learning_rate": p.learning_rate,
        "images_per_second": p.images_per_second,
        "epoch_end": bool(p.epoch_end),
    }
    if p.epoch_end:
        info.update({
            "train_loss": p.train_loss,
            "train_accuracy": p.train_accuracy,
            "eval_loss": _none_if_nan(p.eval_loss),
            "eval_accuracy": _none_if_nan(p.eval_accuracy),
            "epoch_seconds": p.epoch_seconds,
        })
    return info


def epoch_logs(p: _lib.sn_progress) -> dict[str, Any]:
    """What callbacks receive at an epoch's end: Keras' names (``loss``, ``accuracy``,
    ``val_loss``, ``val_accuracy`` with validation data, ``lr``) and ``seconds``."""
    logs = {"loss": float(p.train_loss), "accuracy": float(p.train_accuracy)}
    if not math.isnan(p.eval_loss):
        logs.update(val_loss=float(p.eval_loss), val_accuracy=float(p.eval_accuracy))
    logs.update(lr=float(p.learning_rate), seconds=float(p.epoch_seconds))
    return logs


class ProgressReporter:
    """The C progress callback of one ``sn_fit`` call.

    Shows a tqdm bar per epoch (``progress=True``), or hands a dict to a Python callable that
    returns True/None to go on and False to stop. At each epoch's end it then calls
    ``on_epoch_end(epoch, logs)`` of every callback; training stops when one of them sets
    ``model.stop_training``. Any exception (KeyboardInterrupt included) is caught, stored in
    :attr:`error` and stops training; the caller re-raises it.
    """

    def __init__(self, progress: bool | Callable[[dict[str, Any]], Any], callbacks: Sequence[Any] = (),
                 model: Any = None):
        if not (isinstance(progress, bool) or callable(progress)):
            raise InvalidArgumentError(f"progress must be True, False or a callable, got {progress!r}")
        self.progress = progress
        self.callbacks = list(callbacks)
        self.model = model
        self.error: BaseException | None = None
        self.bar = None
        self.calls = 0
        self.stopped = False
        #: The epoch training was stopped in before its end, if it was.
        self.stopped_in_epoch: int | None = None
        # Referenced for as long as the reporter lives: the library calls it during sn_fit.
        self.c_callback = _lib.sn_progress_fn(self._callback)

    def _callback(self, pointer, _user) -> int:
        if self.stopped or self.error is not None:  # asked to stop already: no more user code
            self.stopped = True
            return 1
        p = None
        try:
            self.calls += 1
            p = pointer[0]
            if self._report(p) and self._epoch_end(p):
                return 0
        except BaseException as error:  # noqa: BLE001  (re-raised by fit after sn_fit returns)
            self.error = error
        self.stopped = True
        if p is not None and not p.epoch_end:
            self.stopped_in_epoch = int(p.epoch)
        return 1

    def _report(self, p: _lib.sn_progress) -> bool:
        """Shows the bar or calls the progress callable; False to stop training."""
        if self.progress is True:
            self._show(p)
            return True
        if self.progress is False:
            return True
        result = self.progress(progress_dict(p))
        return result is None or bool(result)

    def _epoch_end(self, p: _lib.sn_progress) -> bool:
        """At an epoch's end, calls every callback; False when one of them stopped training."""
        if not (p.epoch_end and self.callbacks):
            return True
        logs = epoch_logs(p)
        for callback in self.callbacks:
            callback.on_epoch_end(int(p.epoch), logs)
        return not getattr(self.model, "stop_training", False)

    def _show(self, p: _lib.sn_progress) -> None:
        if p.epoch_end:
            bar = self.bar if self.bar is not None else self._open(p)
            postfix = {"loss": f"{p.train_loss:.4f}", "acc": f"{p.train_accuracy:.2%}"}
            if not math.isnan(p.eval_accuracy):
                postfix["eval_loss"] = f"{p.eval_loss:.4f}"
                postfix["eval_acc"] = f"{p.eval_accuracy:.2%}"
            bar.set_postfix(postfix, refresh=False)
            bar.update(bar.total - bar.n)
            self.close()
            return
        if self.bar is None or p.step == 1:
            self.close()
            self._open(p)
        self.bar.set_postfix({"loss": f"{p.loss:.4f}", "img/s": f"{p.images_per_second:,.0f}"}, refresh=False)
        self.bar.update(int(p.step) - self.bar.n)

    def _open(self, p: _lib.sn_progress):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=int(p.steps_per_epoch), desc=f"epoch {p.epoch}/{p.epochs}", unit="step",
                        leave=True, dynamic_ncols=True)
        return self.bar

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    @contextlib.contextmanager
    def catching_interrupts(self):
        """While the library trains, Ctrl-C stops training at the next step and ``fit`` raises
        KeyboardInterrupt afterwards (Python's own handler could fire where nothing can catch it)."""
        if threading.current_thread() is not threading.main_thread() or \
                signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            yield
            return

        def on_interrupt(_signum, _frame):
            if self.error is None:
                self.error = KeyboardInterrupt()

        signal.signal(signal.SIGINT, on_interrupt)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
