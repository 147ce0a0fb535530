"""Nothing kills the process or loses data: concurrent calls on one handle, concurrent saves to
one path, kills during a save, and create/free cycles that must not leak."""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import numpy as np
import pytest

import smallnet
from conftest import synthetic


def trained_model(seed: int = 0) -> smallnet.Model:
    images, labels = synthetic(n=256, seed=seed)
    model = smallnet.fcn([16], input_shape=(1, 8, 8), classes=3, seed=seed)
    model.fit(images, labels, epochs=1, batch_size=32, progress=False, threads=1)
    return model


def test_one_model_from_four_threads_errors_for_the_losers():
    model = trained_model()
    images, labels = synthetic(n=512, seed=3)
    expected = model.predict(images)
    outcomes = {"ok": 0, "busy": 0, "wrong": 0}
    lock = threading.Lock()

    def hammer(kind: str):
        for _ in range(100):
            try:
                if kind == "fit":
                    model.fit(images[:64], labels[:64], epochs=1, batch_size=32, progress=False, threads=1)
                    result = "ok"
                else:
                    result = "ok" if model.predict(images).shape == expected.shape else "wrong"
            except smallnet.BadStateError as error:
                result = "busy" if "another thread" in str(error) else "wrong"
            with lock:
                outcomes[result] += 1

    threads = [threading.Thread(target=hammer, args=(kind,)) for kind in ("predict", "predict", "predict", "fit")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"4 threads x 100 calls on one model: {outcomes}")
    assert outcomes["wrong"] == 0
    assert outcomes["ok"] + outcomes["busy"] == 400 and outcomes["ok"] >= 1


def test_two_threads_saving_to_one_path_never_mix(tmp_path):
    path = tmp_path / "shared.safetensors"
    models = [trained_model(seed) for seed in (1, 2)]
    states = [m.state_dict() for m in models]
    errors: list[BaseException] = []

    def save_many(model):
        try:
            for _ in range(1000):
                model.save(path)
        except BaseException as error:  # noqa: BLE001 - every failure counts
            errors.append(error)

    models[0].save(path)  # the reader below starts at once
    threads = [threading.Thread(target=save_many, args=(m,)) for m in models]
    for t in threads:
        t.start()
    mixed = 0
    while any(t.is_alive() for t in threads):
        loaded = smallnet.Model.load(path).state_dict()
        if not any(all(np.array_equal(loaded[k], s[k]) for k in s) for s in states):
            mixed += 1
    for t in threads:
        t.join()
    assert errors == [] and mixed == 0, f"{len(errors)} errors, {mixed} mixed files"
    assert [p.name for p in tmp_path.iterdir()] == ["shared.safetensors"], "no temporary files are left"


def test_a_save_killed_at_any_moment_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "model.safetensors"
    models = [trained_model(seed) for seed in (1, 2)]
    states = [m.state_dict() for m in models]
    models[0].save(path)
    rng = random.Random(0)
    kills = 0
    for _ in range(200):
        pid = os.fork()
        if pid == 0:  # the child saves the two models in turn until it is killed
            try:
                while True:
                    for m in models:
                        m.save(path)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, 0.01))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        kills += 1
        loaded = smallnet.Model.load(path).state_dict()
        assert any(all(np.array_equal(loaded[k], s[k]) for k in s) for s in states), f"after kill {kills}"
    models[1].save(path)  # a later save removes what the killed writers left
    print(f"{kills} kills during saves; the checkpoint always loaded")
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_ten_thousand_create_free_cycles_keep_rss_flat():
    images, labels = synthetic(n=64)

    def cycle():
        model = smallnet.fcn([8], input_shape=(1, 8, 8), classes=3)
        optimizer = smallnet.SGD(model, lr=0.1)
        data = smallnet.Dataset.from_numpy(images, labels)
        optimizer.close()
        model.close()
        data.close()

    for _ in range(500):  # warm up allocator pools
        cycle()
    before = rss_kib()
    for _ in range(10_000):
        cycle()
    growth = (rss_kib() - before) / 1024
    print(f"RSS growth over 10,000 create/free cycles: {growth:.2f} MB")
    assert growth <= 5.0


def test_absurd_epochs_are_the_library_error_not_a_memory_error():
    images, labels = synthetic(n=32)
    model = smallnet.fcn([8], input_shape=(1, 8, 8), classes=3)
    with pytest.raises(smallnet.InvalidArgumentError, match="epochs"):
        model.fit(images, labels, epochs=10**9, progress=False)


def test_set_tensor_refuses_a_transposed_matrix():
    model = smallnet.fcn([8], input_shape=(1, 2, 2), classes=3)
    weight = model.get_tensor("1.weight")  # (8, 4)
    with pytest.raises(smallnet.ShapeMismatchError, match="shape"):
        model.set_tensor("1.weight", weight.T.copy())
    model.set_tensor("1.weight", weight.reshape(-1))  # the flat values are still taken
    np.testing.assert_array_equal(model.get_tensor("1.weight"), weight)
