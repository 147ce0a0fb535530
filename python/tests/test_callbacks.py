"""Callbacks: early stopping with the best weights restored, checkpoints, the epoch log, and
callbacks together with the progress bar."""

from __future__ import annotations

import numpy as np
import pytest

import smallnet
from smallnet.callbacks import Callback, EarlyStopping, EpochLogger, ModelCheckpoint

from conftest import synthetic


class Recorder(Callback):
    """Keeps every epoch's logs and weights."""

    def __init__(self):
        self.logs, self.states = {}, {}

    def on_epoch_end(self, epoch, logs):
        self.logs[epoch] = dict(logs)
        self.states[epoch] = self.model.state_dict()


@pytest.fixture
def data():
    """Training data, and validation data whose labels are all wrong: its loss rises as the
    model learns, so the first epochs are the best."""
    images, labels = synthetic(512, noise=1.0)
    test_images, test_labels = synthetic(256, noise=1.0, seed=0)
    return (images, labels), (test_images, (test_labels + 1) % 3)


def make_model():
    return smallnet.fcn([32, 16], input_shape=(1, 8, 8), classes=3, dropout=0.0, seed=0)


def same_state(a, b):
    return all(np.array_equal(a[name], b[name]) for name in a)


def test_early_stopping_stops_and_restores_the_best_weights(data):
    (images, labels), validation = data
    recorder = Recorder()
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    with make_model() as model:
        history = model.fit(images, labels, validation_data=validation, epochs=20, schedule="constant",
                            callbacks=[recorder, stop], progress=False)
        losses = [recorder.logs[e]["val_loss"] for e in sorted(recorder.logs)]
        best = int(np.argmin(losses)) + 1
        assert len(history) < 20 and stop.stopped_epoch == len(history)
        assert stop.best_epoch == best and stop.best == pytest.approx(min(losses))
        assert len(history) == best + 2  # patience epochs without improvement, then stop
        assert [e["eval_loss"] for e in history] == losses
        assert same_state(model.state_dict(), recorder.states[best])
        assert not same_state(model.state_dict(), recorder.states[len(history)])


def test_early_stopping_without_restoring_keeps_the_last_weights(data):
    (images, labels), validation = data
    recorder = Recorder()
    with make_model() as model:
        history = model.fit(images, labels, validation_data=validation, epochs=20, schedule="constant",
                            callbacks=[recorder, EarlyStopping(patience=1)], progress=False)
        assert len(history) < 20
        assert same_state(model.state_dict(), recorder.states[len(history)])


def test_early_stopping_on_accuracy_and_a_missing_key(data):
    (images, labels), _ = data
    stop = EarlyStopping(monitor="accuracy", patience=100)
    assert stop.mode == "max"
    with make_model() as model:
        history = model.fit(images, labels, epochs=3, callbacks=[stop], progress=False)
        assert stop.best == max(history.history["accuracy"]) and stop.stopped_epoch is None
        with pytest.warns(RuntimeWarning, match="val_loss"):
            history = model.fit(images, labels, epochs=2, callbacks=[EarlyStopping()], progress=False)
        assert len(history) == 2  # nothing to watch: training goes on
    with pytest.raises(smallnet.InvalidArgumentError):
        EarlyStopping(mode="up")


def test_model_checkpoint_writes_loadable_files(tmp_path, data):
    (images, labels), validation = data
    recorder = Recorder()
    best = ModelCheckpoint(tmp_path / "best.safetensors", save_best_only=True)
    every = ModelCheckpoint(str(tmp_path / "epoch-{epoch:02d}-{val_loss:.3f}.safetensors"))
    with make_model() as model:
        model.class_names = ["a", "b", "c"]
        history = model.fit(images, labels, validation_data=validation, epochs=4, callbacks=[recorder, best, every],
                            progress=False)
    assert len(every.saved) == 4 and all(p.endswith(".safetensors") for p in every.saved)
    assert (tmp_path / f"epoch-02-{history[1]['eval_loss']:.3f}.safetensors").is_file()
    losses = history.column("eval_loss")
    best_epoch = int(np.argmin(losses)) + 1
    assert best.saved[-1] == str(tmp_path / "best.safetensors") and best.best == min(losses)
    with smallnet.Model.load(tmp_path / "best.safetensors") as loaded:
        assert loaded.class_names == ["a", "b", "c"] and loaded.preprocessing.is_identity
        assert same_state(loaded.state_dict(), recorder.states[best_epoch])
        np.testing.assert_array_equal(loaded.predict(images), loaded.predict(images))
    with smallnet.Model.load(every.saved[-1]) as last:
        assert same_state(last.state_dict(), recorder.states[4])


def test_epoch_logger_and_progress_bar_together(capsys, data):
    (images, labels), validation = data
    with make_model() as model:
        model.fit(images, labels, validation_data=validation, epochs=2, callbacks=[EpochLogger()], progress=True)
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2  loss ") and "val_accuracy" in lines[0] and lines[0].endswith(" s")
    assert "epoch 2/2" in captured.err  # the tqdm bar


def test_a_callback_can_stop_training(data):
    (images, labels), _ = data

    class StopAtTwo(Callback):
        began = ended = False

        def on_train_begin(self, logs=None):
            self.began = True

        def on_epoch_end(self, epoch, logs):
            if epoch == 2:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            self.ended = True

    callback = StopAtTwo()
    with make_model() as model:
        history = model.fit(images, labels, epochs=5, callbacks=[callback], progress=False)
        assert len(history) == 2 and callback.began and callback.ended
        assert len(model.fit(images, labels, epochs=3, progress=False)) == 3  # the flag does not linger


def test_a_failing_callback_stops_training_and_raises(data):
    (images, labels), _ = data

    class Broken(Callback):
        def on_epoch_end(self, epoch, logs):
            raise ValueError("broken callback")

    with make_model() as model:
        with pytest.raises(ValueError, match="broken callback"):
            model.fit(images, labels, epochs=3, callbacks=[Broken()], progress=False)
        with pytest.raises(smallnet.InvalidArgumentError):
            model.fit(images, labels, epochs=1, callbacks=[object()], progress=False)
