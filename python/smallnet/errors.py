"""Exceptions raised by smallnet, one per status code of the C API.

Each class also derives from the built-in exception a Python caller would expect, so
``except ValueError`` catches a bad shape and ``except FileNotFoundError`` a missing file.
Errors found in Python before the library is called raise the same classes.
"""

from __future__ import annotations

from . import _lib

__all__ = [
    "BadStateError",
    "DivergedError",
    "InputStatisticsWarning",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "OutOfMemoryError",
    "ShapeMismatchError",
    "SmallNetError",
    "SmallNetIOError",
    "UnsupportedCPUError",
    "check",
]


class SmallNetError(Exception):
    """Base class of every smallnet error.

    Attributes:
        status: the C API's status code (``SN_ERR_*``).
        message: the library's message (``sn_last_error()``), or the Python-side one.
    """

    status: int = _lib.SN_ERR_INTERNAL

    def __init__(self, message: str = "", status: int | None = None):
        if status is not None:
            self.status = status
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(SmallNetError, ValueError):
    """A NULL or closed handle, a value out of range, a bad enum (``SN_ERR_INVALID_ARGUMENT``)."""

    status = _lib.SN_ERR_INVALID_ARGUMENT


class ShapeMismatchError(SmallNetError, ValueError):
    """Sizes or shapes that do not fit together (``SN_ERR_SHAPE_MISMATCH``)."""

    status = _lib.SN_ERR_SHAPE_MISMATCH


class OutOfMemoryError(SmallNetError, MemoryError):
    """A request larger than smallnet allows itself (``SN_ERR_OUT_OF_MEMORY``)."""

    status = _lib.SN_ERR_OUT_OF_MEMORY


class SmallNetIOError(SmallNetError, OSError):
    """A file that cannot be read or written, or is malformed (``SN_ERR_IO``)."""

    status = _lib.SN_ERR_IO


class NotFoundError(SmallNetError, FileNotFoundError):
    """A named tensor, file or directory that does not exist (``SN_ERR_NOT_FOUND``)."""

    status = _lib.SN_ERR_NOT_FOUND


class BadStateError(SmallNetError, RuntimeError):
    """A call in the wrong order, or on a closed object (``SN_ERR_BAD_STATE``)."""

    status = _lib.SN_ERR_BAD_STATE


class InternalError(SmallNetError, RuntimeError):
    """A bug in smallnet (``SN_ERR_INTERNAL``); please report it."""

    status = _lib.SN_ERR_INTERNAL


class DivergedError(SmallNetError, ArithmeticError):
    """Training stopped because the loss became NaN or infinite (``SN_ERR_DIVERGED``).

    Attributes:
        history: the epochs completed before it diverged (a :class:`smallnet.History`), when
            raised by :meth:`smallnet.Model.fit`.
    """

    status = _lib.SN_ERR_DIVERGED
    history = None


class InputStatisticsWarning(UserWarning):
    """Inputs whose statistics are far from what the model was trained on: floats on another
    scale (pixels in [0, 1] for a model that expects ``(x/255 - 0.2860)/0.3530``), or raw uint8
    pixels for a model trained on floats used as given. The message names the preprocessing the
    model expects.

    Example:
        >>> warnings.simplefilter("error", smallnet.InputStatisticsWarning)   # make it an error
    """


class UnsupportedCPUError(SmallNetError, RuntimeError):
    """This CPU cannot run the library (it needs x86-64-v2), or ``SMALLNET_ISA`` names a kernel
    variant it cannot run (``SN_ERR_UNSUPPORTED_CPU``). Importing smallnet raises ImportError first."""

    status = _lib.SN_ERR_UNSUPPORTED_CPU


_BY_STATUS: dict[int, type[SmallNetError]] = {
    _lib.SN_ERR_INVALID_ARGUMENT: InvalidArgumentError,
    _lib.SN_ERR_SHAPE_MISMATCH: ShapeMismatchError,
    _lib.SN_ERR_OUT_OF_MEMORY: OutOfMemoryError,
    _lib.SN_ERR_IO: SmallNetIOError,
    _lib.SN_ERR_BAD_STATE: BadStateError,
    _lib.SN_ERR_NOT_FOUND: NotFoundError,
    _lib.SN_ERR_INTERNAL: InternalError,
    _lib.SN_ERR_DIVERGED: DivergedError,
    _lib.SN_ERR_UNSUPPORTED_CPU: UnsupportedCPUError,
}


def error_for(status: int) -> SmallNetError:
    """The exception for a failed call's ``status``, carrying ``sn_last_error()``'s message."""
    message = _lib.last_error() or _lib.status_string(status)
    cls = _BY_STATUS.get(status)
    if cls is None:
        return InternalError(f"unknown status {status}: {message}", status)
    return cls(message, status)


def check(status: int) -> None:
    """Raises the exception matching ``status`` unless it is ``SN_OK``.

    Example:
        >>> check(_lib.lib.sn_set_num_threads(0))
    """
    if status != _lib.SN_OK:
        raise error_for(status)
