"""smallnet.sklearn.Classifier: parameters, any label values, GridSearchCV, cross_val_score, clone."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

import smallnet
from smallnet.sklearn import Classifier

from conftest import read_idx, requires_data, synthetic


def test_parameters_without_sklearn():
    """The module imports and works with scikit-learn hidden."""
    script = """
import sys
sys.modules["sklearn"] = None   # import sklearn now fails
from smallnet.sklearn import Classifier
clf = Classifier(budget=5_000, epochs=2)
assert clf.get_params()["budget"] == 5_000
assert clf.set_params(budget=6_000, lr=0.01) is clf and clf.budget == 6_000 and clf.lr == 0.01
try:
    clf.set_params(nope=1)
except ValueError:
    print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_fit_predict_with_any_labels():
    images, labels = synthetic(300, classes=3)
    names = np.array(["cat", "dog", "emu"])[labels]
    clf = Classifier(budget=5_000, epochs=3, seed=1, threads=1, input_shape=(1, 8, 8))
    assert clf.fit(images, names) is clf
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog", "emu"])
    assert clf.model_.class_names == ["cat", "dog", "emu"] and not clf.model_.training
    predicted = clf.predict(images)
    assert predicted.dtype == names.dtype and set(predicted) <= set(names)
    probabilities = clf.predict_proba(images)
    assert probabilities.shape == (300, 3)
    np.testing.assert_array_equal(clf.classes_[probabilities.argmax(axis=1)], predicted)
    assert clf.score(images, names) == pytest.approx(np.mean(predicted == names))
    assert clf.score(images, names) > 0.9
    assert len(clf.history_) == 3
    flat = Classifier(budget=5_000, epochs=1).fit(images.reshape(300, 64), labels * 10)  # square rows: (1, 8, 8)
    assert flat.model_.input_shape == (1, 8, 8) and list(flat.classes_) == [0, 10, 20]
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(images), predicted)


def test_settings_reach_the_model_and_optimizer():
    images, labels = synthetic(128, classes=3)
    clf = Classifier(arch="cnn", budget=5_000, epochs=1, optimizer="adam", lr=0.003, batch_size=32).fit(images, labels)
    assert any(layer["kind"] == "Conv2d" for layer in clf.model_.layers)
    assert abs(clf.model_.n_params - 5_000) <= 100
    assert clf.history_[-1]["lr"] == pytest.approx(0.003, rel=0.05)
    for bad in ({"arch": "rnn"}, {"optimizer": "lbfgs"}):
        with pytest.raises(smallnet.InvalidArgumentError):
            Classifier(budget=5_000, epochs=1, **bad).fit(images, labels)
    with pytest.raises(smallnet.InvalidArgumentError):
        Classifier(budget=5_000, epochs=1).fit(images, np.zeros(128))  # one class
    with pytest.raises(AttributeError):
        Classifier().predict(images)  # not fitted


@requires_data
def test_grid_search_and_clone():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, cross_val_score

    images, labels = read_idx("train-images", 1200), read_idx("train-labels", 1200)
    base = Classifier(arch="fcn", budget=20_000, epochs=1, threads=1)
    twin = clone(base)
    assert twin is not base and twin.get_params() == base.get_params()
    search = GridSearchCV(base, {"budget": [20_000, 50_000]}, cv=2)
    search.fit(images, labels)
    assert search.best_params_["budget"] in (20_000, 50_000)
    assert isinstance(search.best_estimator_, Classifier)
    assert search.best_estimator_.budget == search.best_params_["budget"]
    assert search.best_estimator_.score(images, labels) > 0.3
    scores = cross_val_score(Classifier(budget=20_000, epochs=1, threads=1), images.reshape(1200, 784), labels, cv=2)
    assert scores.shape == (2,) and (scores > 0.2).all()
    assert sklearn.base.is_classifier(base)
