"""fit, progress reporting, evaluate, predict, the loss function and schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest

import smallnet

from conftest import synthetic


def make_model(seed=0, batchnorm=True, classes=3):
    return smallnet.fcn([32, 16], input_shape=(1, 8, 8), classes=classes, batchnorm=batchnorm, dropout=0.0, seed=seed)


@pytest.fixture
def data():
    images, labels = synthetic(512, noise=1.0)
    with smallnet.Dataset.from_numpy(images, labels) as train:
        images, labels = synthetic(256, noise=1.0, seed=0)
        with smallnet.Dataset.from_numpy(images, labels) as test:
            yield train, test


def test_fit_makes_the_loss_fall(data):
    train, test = data
    with make_model() as model:
        before = model.evaluate(test)
        history = model.fit(train, smallnet.SGD(model, lr=0.05, momentum=0.9), epochs=5, batch_size=32,
                            schedule="constant", label_smoothing=0.0, progress=False)
        after = model.evaluate(test)
        assert isinstance(history, smallnet.History) and isinstance(history, list)
        assert len(history) == 5
        losses = history.column("train_loss")
        assert losses[-1] < 0.5 * losses[0]
        assert after["loss"] < 0.5 * before["loss"]
        assert after["accuracy"] > 0.9
        assert model.training  # fit leaves the model in training mode


def test_zero_epochs(data):
    train, _ = data
    with make_model() as model:
        before = model.state_dict()
        history = model.fit(train, epochs=0, progress=False)
        assert history == [] and isinstance(history, smallnet.History)
        np.testing.assert_array_equal(model.state_dict()["1.weight"], before["1.weight"])


def test_history_entries(data):
    train, test = data
    with make_model() as model:
        history = model.fit(train, epochs=2, batch_size=64, progress=False)
        assert [entry["epoch"] for entry in history] == [1, 2]
        for entry in history:
            assert set(entry) == set(smallnet.History.KEYS)
            assert entry["eval_loss"] is None and entry["eval_accuracy"] is None
            assert 0 <= entry["train_accuracy"] <= 1 and entry["seconds"] > 0
        history = model.fit(train, epochs=2, batch_size=64, validation=test, progress=False)
        assert all(isinstance(v, float) for v in history.column("eval_accuracy"))
        with pytest.raises(KeyError):
            history.column("accuracy")


def test_validation_metrics_equal_evaluate(data):
    train, test = data
    with make_model() as model:
        history = model.fit(train, epochs=1, validation=test, progress=False)
        result = model.evaluate(test)
        assert history[-1]["eval_accuracy"] == pytest.approx(result["accuracy"], abs=1e-6)
        assert history[-1]["eval_loss"] == pytest.approx(result["loss"], rel=1e-5)


def test_progress_callable_sees_every_step(data):
    train, test = data
    calls = []
    with make_model() as model:
        history = model.fit(train, epochs=2, batch_size=64, validation=test, progress=calls.append)
    steps = [c for c in calls if not c["epoch_end"]]
    ends = [c for c in calls if c["epoch_end"]]
    assert len(ends) == 2 and len(history) == 2
    steps_per_epoch = steps[0]["steps_per_epoch"]
    assert steps_per_epoch == 8
    assert [(c["epoch"], c["step"]) for c in steps] == [(e, s) for e in (1, 2) for s in range(1, 9)]
    assert all(c["epochs"] == 2 for c in calls)
    first = steps[0]
    assert set(first) == {"epoch", "epochs", "step", "steps_per_epoch", "loss", "learning_rate",
                          "images_per_second", "epoch_end"}
    assert math.isfinite(first["loss"]) and first["images_per_second"] > 0
    end = ends[-1]
    assert end["train_loss"] == pytest.approx(history[-1]["train_loss"])
    assert end["eval_accuracy"] == pytest.approx(history[-1]["eval_accuracy"])
    assert end["epoch_seconds"] > 0


def test_progress_callable_stops_training(data):
    train, _ = data
    with make_model() as model:
        seen = []

        def stop_in_epoch_two(info):
            seen.append((info["epoch"], info["step"], info["epoch_end"]))
            if info["epoch"] == 2 and info["step"] == 3:
                return False
            return None

        history = model.fit(train, epochs=5, batch_size=64, progress=stop_in_epoch_two)
        assert len(history) == 1
        assert seen[-1] == (2, 3, False)

        seen.clear()

        def stop_after_epoch_two(info):
            seen.append(info["epoch"])
            return not (info["epoch_end"] and info["epoch"] == 2)

        history = model.fit(train, epochs=5, batch_size=64, progress=stop_after_epoch_two)
        assert len(history) == 2
        assert max(seen) == 2


def test_exception_in_progress_propagates_after_fit(data):
    train, _ = data
    with make_model() as model:
        calls = []

        def broken(info):
            calls.append(info)
            if len(calls) == 3:
                raise ZeroDivisionError("from the callback")
            return True

        with pytest.raises(ZeroDivisionError, match="from the callback"):
            model.fit(train, epochs=3, batch_size=64, progress=broken)
        assert len(calls) == 3  # training stopped at once
        # The model is still usable.
        assert model.fit(train, epochs=1, progress=False)[0]["epoch"] == 1


def test_ctrl_c_stops_training_and_raises_keyboard_interrupt(data):
    import os
    import signal

    train, _ = data
    # Python's own Ctrl-C handler, as in an interactive session (a process started in the
    # background by a non-interactive shell starts with SIGINT ignored, which fit leaves alone).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with make_model() as model:
            calls = []

            def interrupt(info):
                calls.append(info)
                if len(calls) == 3:
                    os.kill(os.getpid(), signal.SIGINT)

            with pytest.raises(KeyboardInterrupt):
                model.fit(train, epochs=3, batch_size=64, progress=interrupt)
            assert len(calls) <= 4
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
            assert model.n_params > 0
    finally:
        signal.signal(signal.SIGINT, previous)


def test_tqdm_progress(data, capsys):
    train, test = data
    with make_model() as model:
        model.fit(train, epochs=2, batch_size=64, validation=test, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err
    assert "8/8" in err
    assert "eval_acc" in err


def test_default_optimizer_and_restored_lr(data):
    train, _ = data
    with make_model() as model:
        history = model.fit(train, epochs=2, progress=False)  # AdamW(lr=0.002), cosine schedule
        assert 0.0015 < history[0]["lr"] <= 0.002 * 1.0001  # end of the warm-up epoch
        assert history[1]["lr"] < 0.2 * 0.002  # annealing towards min_lr 0
        with smallnet.Adam(model, lr=0.01) as optimizer:
            model.fit(train, optimizer, epochs=2, progress=False)
            assert optimizer.lr == pytest.approx(0.01)  # restored after fit


def test_default_optimizer_is_the_fcn_recipes(data):
    train, _ = data
    with make_model(seed=4) as a, make_model(seed=4) as b:
        default = a.fit(train, epochs=2, progress=False)
        explicit = b.fit(train, smallnet.AdamW(b, lr=0.002), epochs=2, progress=False)
        assert default.column("train_loss") == explicit.column("train_loss")


def test_schedules(data):
    train, _ = data
    with make_model() as model, smallnet.SGD(model, lr=0.1) as optimizer:
        history = model.fit(train, optimizer, epochs=3, schedule="constant", progress=False)
        assert history.column("lr") == pytest.approx([0.1, 0.1, 0.1])
        history = model.fit(train, optimizer, epochs=4, schedule={"kind": "step", "step_size": 2, "gamma": 0.5},
                            progress=False)
        assert history.column("lr") == pytest.approx([0.1, 0.1, 0.05, 0.05])
        lrs = []
        model.fit(train, optimizer, epochs=2, batch_size=64, progress=lambda i: i["epoch_end"] or lrs.append(i["learning_rate"]),
                  schedule={"kind": "cosine", "warmup_epochs": 1.0, "min_lr": 0.01})
        assert len(lrs) == 16
        assert lrs[0] < lrs[3] < lrs[7]  # warming up over the first epoch
        assert 0.08 < lrs[7] <= 0.1 * 1.0001
        assert lrs[8] > lrs[-1] >= 0.01 * 0.9999  # annealing to min_lr
        assert lrs[-1] < 0.04


def test_schedule_lr_function():
    assert smallnet.schedule_lr("constant", 0.1, 50, 100, 10) == pytest.approx(0.1)
    assert smallnet.schedule_lr({"kind": "step", "step_size": 1, "gamma": 0.1}, 1.0, 25, 100, 10) == pytest.approx(0.01)
    cosine = {"kind": "cosine", "warmup_epochs": 0.0, "min_lr": 0.0}
    assert smallnet.schedule_lr(cosine, 1.0, 0, 100, 10) == pytest.approx(1.0, abs=1e-3)
    assert smallnet.schedule_lr(cosine, 1.0, 50, 100, 10) == pytest.approx(0.5, abs=0.02)
    assert smallnet.schedule_lr(cosine, 1.0, 99, 100, 10) == pytest.approx(0.0, abs=1e-3)
    warm = smallnet.schedule_lr(None, 1.0, 4, 100, 10)  # the default: one warm-up epoch
    assert 0.0 < warm < 1.0


def test_same_seed_same_run_any_threads(data):
    train, test = data
    results = []
    for threads in (1, 2, 1):
        with smallnet.fcn([32, 16], input_shape=(1, 8, 8), classes=3, seed=5) as model:
            history = model.fit(train, epochs=2, seed=11, threads=threads, validation=test, progress=False)
            results.append((history.column("train_loss"), history.column("eval_loss"), model.state_dict()))
    for other in results[1:]:
        assert other[0] == results[0][0]
        assert other[1] == results[0][1]
        for name, value in results[0][2].items():
            np.testing.assert_array_equal(other[2][name], value)
    with smallnet.fcn([32, 16], input_shape=(1, 8, 8), classes=3, seed=5) as model:
        history = model.fit(train, epochs=2, seed=12, progress=False)
        assert history.column("train_loss") != results[0][0]


def test_models_train_concurrently_in_threads(data):
    """Different handles may be trained at the same time from different threads (the library
    releases the GIL); each run gives what it gives alone, progress callables included."""
    import threading

    train, test = data

    def run(seed, results, index):
        steps = []
        with smallnet.fcn([32, 16], input_shape=(1, 8, 8), classes=3, seed=seed) as model:
            history = model.fit(train, epochs=2, seed=seed, validation=test, progress=steps.append)
            results[index] = (history.column("train_loss"), history.column("eval_accuracy"), len(steps))

    alone = [None, None]
    for i, seed in enumerate((1, 2)):
        run(seed, alone, i)
    together = [None, None]
    threads = [threading.Thread(target=run, args=(seed, together, i)) for i, seed in enumerate((1, 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert together == alone


def test_augmentation_settings_run(data):
    train, _ = data
    with make_model() as model:
        history = model.fit(train, epochs=1, crop_padding=2, horizontal_flip=True, label_smoothing=0.2,
                            progress=False)
        assert len(history) == 1


def test_divergence_raises_with_history():
    images, labels = synthetic(256, noise=1.0)
    with smallnet.Dataset.from_numpy(images * 1000, labels) as train:
        with smallnet.fcn([32], input_shape=(1, 8, 8), classes=3, batchnorm=False, dropout=0.0) as model:
            with pytest.raises(smallnet.DivergedError) as info:
                model.fit(train, smallnet.SGD(model, lr=1e30), epochs=3, schedule="constant", label_smoothing=0.0,
                          progress=False)
            assert isinstance(info.value, ArithmeticError)
            assert isinstance(info.value.history, smallnet.History)
            assert len(info.value.history) < 3


def test_evaluate(data):
    train, test = data
    with make_model() as model:
        model.fit(train, epochs=2, progress=False)
        model.eval()
        result = model.evaluate(test)
        assert not model.training  # restored
        confusion = result["confusion"]
        assert confusion.dtype == np.int64 and confusion.shape == (3, 3)
        assert confusion.sum() == len(test)
        assert result["accuracy"] == pytest.approx(np.trace(confusion) / len(test))
        images, labels = test.numpy()
        logits = model(images)
        np.testing.assert_array_equal(np.bincount(labels, minlength=3), confusion.sum(axis=1))
        predicted = logits.argmax(axis=1)
        expected = np.zeros((3, 3), np.int64)
        np.add.at(expected, (labels, predicted), 1)
        np.testing.assert_array_equal(confusion, expected)
        np.testing.assert_allclose(result["per_class_accuracy"], np.diag(expected) / expected.sum(axis=1))
        loss, _ = smallnet.cross_entropy(logits, labels)
        assert result["loss"] == pytest.approx(loss, rel=1e-5)


def test_predict_dataset_and_array(data):
    train, test = data
    with make_model() as model:
        model.fit(train, epochs=1, progress=False)
        assert model.training
        from_dataset = model.predict(test)
        images, _ = test.numpy()
        from_array = model.predict(images, batch_size=100)
        assert model.training  # the mode is restored
        assert from_dataset.shape == (len(test), 3) and from_dataset.dtype == np.float32
        np.testing.assert_allclose(from_dataset.sum(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(from_array, from_dataset, rtol=1e-5, atol=1e-6)
        model.eval()
        logits = model(images)
        assert (logits.argmax(axis=1) == from_dataset.argmax(axis=1)).all()
        assert model.predict(images[0]).shape == (1, 3)


# ---------------------------------------------------------------------- the loss ---


def np_cross_entropy(logits, labels, smoothing=0.0):
    logits = logits.astype(np.float64)
    n, c = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    q = np.full((n, c), smoothing / c)
    q[np.arange(n), labels] += 1 - smoothing
    return -(q * log_p).sum() / n, (np.exp(log_p) - q) / n


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_cross_entropy_matches_numpy(smoothing):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(9, 5)).astype(np.float32)
    labels = rng.integers(0, 5, size=9)
    loss, dlogits = smallnet.cross_entropy(logits, labels, label_smoothing=smoothing)
    expected_loss, expected_d = np_cross_entropy(logits, labels, smoothing)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert dlogits.shape == (9, 5) and dlogits.dtype == np.float32
    np.testing.assert_allclose(dlogits, expected_d, rtol=1e-4, atol=1e-7)


def test_cross_entropy_uniform_logits():
    loss, dlogits = smallnet.cross_entropy(np.zeros((2, 10)), [3, 7])
    assert loss == pytest.approx(math.log(10), rel=1e-6)
    assert dlogits[0, 3] == pytest.approx((0.1 - 1) / 2)


def test_cross_entropy_large_logits_are_stable():
    loss, dlogits = smallnet.cross_entropy(np.array([[1000.0, 0.0], [0.0, -1000.0]]), [0, 0])
    assert loss == pytest.approx(0.0, abs=1e-6)
    assert np.isfinite(dlogits).all()


# --------------------------------------------------------------------- utilities ---


def test_threads_and_version():
    original = smallnet.get_num_threads()
    try:
        smallnet.set_num_threads(1)
        assert smallnet.get_num_threads() == 1
        smallnet.set_num_threads(3)
        assert smallnet.get_num_threads() == 3
        smallnet.set_num_threads(0)
        assert smallnet.get_num_threads() >= 1
    finally:
        smallnet.set_num_threads(original)
    assert smallnet.version() == "0.1.0"
    assert smallnet.__version__ == "0.1.0"
