"""Callbacks for :meth:`smallnet.Model.fit`: early stopping, checkpoints, a log line per epoch.

``fit(..., callbacks=[...])`` calls, on each callback, ``on_train_begin()``, then
``on_epoch_end(epoch, logs)`` after every epoch (with validation done), then ``on_train_end()``.
``epoch`` counts from 1, as in :class:`smallnet.History`; ``logs`` holds Keras' names:
``loss``, ``accuracy``, ``val_loss`` and ``val_accuracy`` (with validation data), ``lr`` and
``seconds``. A callback stops training by setting ``self.model.stop_training = True``.

Example:
    >>> from smallnet.callbacks import EarlyStopping, EpochLogger, ModelCheckpoint
    >>> model.fit(train, validation=val, epochs=30, callbacks=[
    ...     EarlyStopping(patience=3, restore_best_weights=True),
    ...     ModelCheckpoint("best.safetensors", save_best_only=True),
    ...     EpochLogger()])
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from typing import Any, TextIO

from .errors import InvalidArgumentError

__all__ = ["Callback", "EarlyStopping", "EpochLogger", "ModelCheckpoint"]


class Callback:
    """Base class: every hook does nothing. ``fit`` sets :attr:`model` (the model being
    trained) and :attr:`params` (``epochs``) before training starts."""

    model: Any = None
    params: dict[str, Any] = {}

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """Called after every epoch (1-based ``epoch``)."""

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Called once when training ends (after the last epoch, or when stopped)."""


class _Monitor(Callback):
    """Tracks the best value of one entry of the logs."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        if mode not in ("auto", "min", "max"):
            raise InvalidArgumentError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(float(min_delta))
        self.best: float | None = None
        self._warned = False

    def _value(self, logs: dict[str, Any]) -> float | None:
        value = logs.get(self.monitor)
        if value is None:
            if not self._warned:
                warnings.warn(f"{type(self).__name__} monitors {self.monitor!r}, which is not in the logs "
                              f"(available: {', '.join(logs)}); pass validation data for 'val_*'", RuntimeWarning,
                              stacklevel=2)
                self._warned = True
            return None
        return float(value)

    def _improves(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stops training when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: the entry of the logs to watch ("val_loss", "val_accuracy", "loss", …).
        patience: epochs without improvement before stopping.
        min_delta: the least change that counts as an improvement.
        mode: "min", "max", or "auto" (max for accuracies, min otherwise).
        restore_best_weights: at the end of training, put back the weights (and BatchNorm
            statistics) of the best epoch.

    Attributes:
        best_epoch: the epoch with the best value (None before the first).
        stopped_epoch: the epoch training stopped after (None if it ran to the end).

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
        >>> model.fit(train, validation=val, callbacks=[stop])
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False):
        super().__init__(monitor, mode, min_delta)
        if int(patience) < 0:
            raise InvalidArgumentError(f"patience must be at least 0, got {patience}")
        self.patience = int(patience)
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.best = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.best_weights: dict[str, Any] | None = None
        self._wait = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        value = self._value(logs)
        if value is None:
            return
        if self._improves(value):
            self.best, self.best_epoch, self._wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            return
        self._wait += 1
        if self._wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Saves the model after each epoch, or only when ``monitor`` improves.

    Args:
        path: the ``.safetensors`` file; may name the epoch and logs as in
            ``"ckpt-{epoch:02d}-{val_loss:.3f}.safetensors"``.
        monitor: the entry of the logs that decides what is best.
        save_best_only: save only when ``monitor`` improves.
        mode: "min", "max", or "auto" (max for accuracies, min otherwise).

    Attributes:
        saved: the paths written, in order.

    Example:
        >>> model.fit(train, validation=val, callbacks=[ModelCheckpoint("best.safetensors", save_best_only=True)])
        >>> best = smallnet.Model.load("best.safetensors")
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto"):
        super().__init__(monitor, mode)
        self.path = os.fspath(path)
        self.save_best_only = save_best_only
        self.saved: list[str] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.best = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.save_best_only:
            value = self._value(logs)
            if value is None or not self._improves(value):
                return
            self.best = value
        path = self.path.format(epoch=epoch, **logs)
        self.model.save(path, training_config={"epoch": epoch, **logs})
        self.saved.append(path)


class EpochLogger(Callback):
    """Writes one line per epoch, for logs:
    ``epoch 3/10  loss 0.4121  accuracy 85.31 %  val_loss 0.4410  val_accuracy 84.20 %  lr 0.00181  4.2 s``.

    Args:
        file: where to write; default ``sys.stdout`` at the time of writing.

    Example:
        >>> model.fit(train, validation=test, progress=False, callbacks=[EpochLogger()])
    """

    def __init__(self, file: TextIO | None = None):
        self.file = file

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        parts = [f"epoch {epoch}/{self.params.get('epochs', '?')}"]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if key in logs:
                value = logs[key]
                parts.append(f"{key} {100 * value:.2f} %" if key.endswith("accuracy") else f"{key} {value:.4f}")
        parts.append(f"lr {logs['lr']:.3g}")
        parts.append(f"{logs['seconds']:.1f} s")
        print("  ".join(parts), file=self.file if self.file is not None else sys.stdout, flush=True)
