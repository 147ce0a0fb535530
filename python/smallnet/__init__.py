"""smallnet: train small image classifiers fast on the CPU.

Example:
    >>> import smallnet
    >>> train = smallnet.Dataset.fashion_mnist(train=True)
    >>> test = smallnet.Dataset.fashion_mnist(train=False)
    >>> model = smallnet.fcn_for_budget(100_000)
    >>> history = model.fit(train, epochs=10, validation=test)
    >>> model.evaluate(test)["accuracy"]
    >>> model.save("fcn100k.safetensors")        # with its preprocessing and class names
    >>> smallnet.Model.load("fcn100k.safetensors").predict(raw_uint8_images)
    >>> smallnet.sweep(smallnet.grid(arch="fcn", params=[50_000, 100_000], seed=[0, 1]), out="sweep")
"""

from . import _lib  # noqa: F401  (smallnet._lib: the low-level binding)
from . import callbacks, init, losses
from .data import Dataset
from .errors import (
    BadStateError,
    DivergedError,
    InputStatisticsWarning,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    OutOfMemoryError,
    ShapeMismatchError,
    SmallNetError,
    SmallNetIOError,
    UnsupportedCPUError,
)
from .functional import cross_entropy, get_num_threads, info, set_num_threads, version
from .builders import cnn, cnn_for_budget, fcn, fcn_for_budget
from .model import IncompatibleKeys, Model, checkpoint_metadata
from .optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSProp, clip_grad_norm_, clip_grad_value_, optimizer_defaults
from .preprocessing import Preprocessing
from .profiling import LayerProfile, StepProfile, profile
from .sweeps import grid, study_runs, sweep
from .training import History, recipe, schedule_lr

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "BadStateError",
    "Dataset",
    "DivergedError",
    "History",
    "IncompatibleKeys",
    "InputStatisticsWarning",
    "InternalError",
    "InvalidArgumentError",
    "LayerProfile",
    "Model",
    "NotFoundError",
    "Optimizer",
    "OutOfMemoryError",
    "Preprocessing",
    "RMSProp",
    "ShapeMismatchError",
    "SmallNetError",
    "SmallNetIOError",
    "StepProfile",
    "UnsupportedCPUError",
    "__version__",
    "callbacks",
    "checkpoint_metadata",
    "clip_grad_norm_",
    "clip_grad_value_",
    "cnn",
    "cnn_for_budget",
    "cross_entropy",
    "fcn",
    "fcn_for_budget",
    "init",
    "losses",
    "get_num_threads",
    "grid",
    "info",
    "optimizer_defaults",
    "profile",
    "recipe",
    "schedule_lr",
    "set_num_threads",
    "study_runs",
    "sweep",
    "version",
]


def __getattr__(name: str):
    # smallnet.sklearn imports scikit-learn and smallnet.plots matplotlib: loaded on first use only.
    if name in ("sklearn", "plots"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
