"""A scikit-learn estimator: smallnet models in ``GridSearchCV``, ``cross_val_score`` and pipelines.

scikit-learn is optional: this module imports without it (``Classifier`` then provides
``get_params``, ``set_params`` and ``score`` itself), and with it ``Classifier`` is a
``ClassifierMixin`` + ``BaseEstimator``, so ``sklearn.base.clone`` and the model-selection
tools work.

Example:
    >>> from sklearn.model_selection import GridSearchCV
    >>> from smallnet.sklearn import Classifier
    >>> search = GridSearchCV(Classifier(epochs=5), {"budget": [20_000, 50_000]}, cv=3)
    >>> search.fit(x_train, y_train)          # uint8 (N, 28, 28) pixels, any label values
    >>> search.best_estimator_.score(x_test, y_test)
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Sequence

import numpy as np

from .builders import cnn_for_budget, fcn_for_budget
from .errors import InvalidArgumentError
from .model import Model
from .optim import KINDS, SGD, Adagrad, Adam, AdamW, Optimizer, RMSProp

__all__ = ["Classifier"]

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
except ImportError:  # scikit-learn is optional

    class ClassifierMixin:  # type: ignore[no-redef]
        """Stands in for scikit-learn's: accuracy as the score."""

        def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
            predicted = self.predict(X)
            weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
            return float(np.average(predicted == np.asarray(y), weights=weights))

    class BaseEstimator:  # type: ignore[no-redef]
        """Stands in for scikit-learn's: parameters are the arguments of ``__init__``."""

        def get_params(self, deep: bool = True) -> dict[str, Any]:
            names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
            return {name: getattr(self, name) for name in names}

        def set_params(self, **params: Any):
            valid = self.get_params()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {sorted(valid)}")
                setattr(self, name, value)
            return self


_OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSProp, "adam": Adam, "adamw": AdamW, "adagrad": Adagrad}


def _input_shape(X: np.ndarray, arch: str) -> tuple[int, int, int]:
    """(C, H, W) from the images' shape: (N, C, H, W), (N, H, W), or square rows (N, H·W)."""
    if X.ndim == 4:
        return tuple(int(d) for d in X.shape[1:])  # type: ignore[return-value]
    if X.ndim == 3:
        return (1, int(X.shape[1]), int(X.shape[2]))
    if X.ndim == 2:
        features = int(X.shape[1])
        side = math.isqrt(features)
        if side * side == features:
            return (1, side, side)
        if arch == "fcn":
            return (1, 1, features)
        raise InvalidArgumentError(
            f"rows of {features} values are not square images; give input_shape=(C, H, W) for a CNN"
        )
    raise InvalidArgumentError(f"X must be images (N, H·W), (N, H, W) or (N, C, H, W), got shape {X.shape}")


class Classifier(ClassifierMixin, BaseEstimator):
    """A smallnet FCN or CNN sized to a parameter budget, as a scikit-learn classifier.

    ``fit`` builds a new model (``fcn_for_budget`` / ``cnn_for_budget``) and trains it with the
    architecture's recipe; every setting left as None takes the recipe's default. Labels may be
    any values: they are mapped to classes through :attr:`classes_` (sorted, as in
    scikit-learn). uint8 images are raw pixels (the model records their statistics as its
    preprocessing); float images are used as given.

    Args:
        arch: "fcn" or "cnn".
        budget: the parameter budget the model is sized to.
        epochs, batch_size: training length and batch (None: the recipe's, 30 and 64).
        lr: the learning rate (None: the recipe's).
        optimizer: "sgd", "rmsprop", "adam", "adamw" or "adagrad" (None: the recipe's: AdamW for
            "fcn", SGD with momentum for "cnn"); another kind than the recipe's starts from
            PyTorch's defaults.
        seed: seeds the initialisation and training.
        threads: threads for training (None: :func:`smallnet.get_num_threads`).
        input_shape: (C, H, W) of the images; None: from X (square rows become (1, H, W)).
        progress: show a progress bar while training.

    Attributes:
        model_: the trained :class:`smallnet.Model`.
        classes_: the label values, sorted; ``predict`` returns them.
        history_: the training :class:`smallnet.History`.

    Example:
        >>> clf = Classifier(arch="fcn", budget=50_000, epochs=3).fit(x_train, y_train)
        >>> clf.predict(x_test[:5]), clf.score(x_test, y_test)
    """

    def __init__(self, arch: str = "fcn", budget: int = 100_000, epochs: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, optimizer: str | None = None,
                 seed: int = 0, threads: int | None = None, input_shape: Sequence[int] | None = None,
                 progress: bool = False):
        self.arch = arch
        self.budget = budget
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.seed = seed
        self.threads = threads
        self.input_shape = input_shape
        self.progress = progress

    def fit(self, X: Any, y: Any) -> Classifier:
        """Builds and trains a new model on images X with labels y; returns self."""
        if self.arch not in ("fcn", "cnn"):
            raise InvalidArgumentError(f"arch must be 'fcn' or 'cnn', got {self.arch!r}")
        X = np.asarray(X)
        labels = np.asarray(y)
        if labels.ndim != 1 or len(labels) != len(X):
            raise InvalidArgumentError(f"y must hold one label per image: {len(X)} images, y of shape {labels.shape}")
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise InvalidArgumentError(f"a classifier needs at least 2 classes, got {len(self.classes_)}")
        shape = tuple(self.input_shape) if self.input_shape is not None else _input_shape(X, self.arch)
        build = fcn_for_budget if self.arch == "fcn" else cnn_for_budget
        model = build(self.budget, input_shape=shape, classes=len(self.classes_), seed=self.seed)
        model.class_names = [str(c) for c in self.classes_]
        optimizer = self._optimizer(model)
        try:
            self.history_ = model.fit(X, np.searchsorted(self.classes_, labels), optimizer, epochs=self.epochs,
                                      batch_size=self.batch_size, seed=self.seed, threads=self.threads,
                                      progress=self.progress, recipe=self.arch)
        finally:
            if optimizer is not None:
                optimizer.close()
        self.model_ = model.eval()
        return self

    def _optimizer(self, model: Model) -> Optimizer | None:
        """The optimizer asked for, or None for the recipe's as it is."""
        if self.optimizer is None and self.lr is None:
            return None
        if self.optimizer is not None and self.optimizer not in KINDS:
            raise InvalidArgumentError(f"optimizer must be one of {', '.join(KINDS)}, got {self.optimizer!r}")
        optimizer = Optimizer.from_recipe(model, self.arch)
        if self.optimizer is not None and self.optimizer != optimizer.kind:
            optimizer.close()
            optimizer = _OPTIMIZERS[self.optimizer](model)
        if self.lr is not None:
            optimizer.lr = self.lr
        return optimizer

    def _fitted(self) -> Model:
        model = getattr(self, "model_", None)
        if model is None:
            try:
                from sklearn.exceptions import NotFittedError
            except ImportError:
                NotFittedError = AttributeError  # noqa: N806
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")
        return model

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of :attr:`classes_`.

        Shape:
            returns (N, len(classes_)) float32.
        """
        return self._fitted().predict(X)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label of each image (values of :attr:`classes_`)."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
