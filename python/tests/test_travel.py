"""Models that travel: a checkpoint predicts the same in a new process whatever form the images
take; fit on uint8 arrays equals fit on the built-in dataset; wrapping raw pixels costs about
their size; a model trained in a worker process comes back intact."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import smallnet

from conftest import read_idx, requires_data

pytestmark = requires_data


def run_python(script: str, timeout: float = 300) -> dict:
    """Runs ``script`` in a new interpreter (which can import conftest); returns the JSON it
    prints last."""
    tests = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                            timeout=timeout, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def train_briefly(n: int = 3000, seed: int = 0) -> smallnet.Model:
    """A 50K FCN after one epoch on the first n training images, one thread."""
    model = smallnet.fcn_for_budget(50_000, seed=seed)
    with smallnet.Dataset.fashion_mnist(train=True) as full, full.subset(0, n) as train:
        model.fit(train, epochs=1, seed=seed, threads=1, progress=False)
    return model


def test_checkpoint_predicts_the_same_in_a_new_process(tmp_path):
    path = tmp_path / "fcn.safetensors"
    with train_briefly() as model:
        model.save(path)
        expected = model.predict(read_idx("t10k-images")).argmax(axis=1)
    found = run_python(f"""
        import json, warnings
        import numpy as np
        import smallnet
        from conftest import read_idx

        model = smallnet.Model.load({str(path)!r})
        raw = read_idx("t10k-images")                              # uint8 (10000, 28, 28)
        with smallnet.Dataset.fashion_mnist(train=False) as test:
            from_dataset = model.predict(test).argmax(axis=1)
        with warnings.catch_warnings(record=True) as quiet:
            warnings.simplefilter("always")
            from_images = model.predict(raw).argmax(axis=1)
            from_rows = model.predict(raw.reshape(len(raw), 784)).argmax(axis=1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.predict(raw / 255.0)
        print(json.dumps({{
            "dataset": from_dataset.tolist(), "images": from_images.tolist(), "rows": from_rows.tolist(),
            "quiet": [str(w.message) for w in quiet],
            "warnings": [(w.category.__name__, str(w.message)) for w in caught],
            "class_names": model.class_names,
            "preprocessing": model.preprocessing.summary,
        }}))
    """)
    assert len(found["dataset"]) == 10_000
    assert found["dataset"] == found["images"] == found["rows"] == expected.tolist()
    assert found["quiet"] == []
    assert len(found["warnings"]) == 1
    category, message = found["warnings"][0]
    assert category == "InputStatisticsWarning"
    assert "(x/255 − 0.2860)/0.3530" in message and "[0, 1]" in message
    assert found["class_names"][0] == "T-shirt/top" and found["class_names"][9] == "Ankle boot"
    assert found["preprocessing"] == "(x/255 − 0.2860)/0.3530"


def same_history(a: smallnet.History, b: smallnet.History) -> None:
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        assert {k: v for k, v in x.items() if k != "seconds"} == {k: v for k, v in y.items() if k != "seconds"}


def test_fit_on_uint8_arrays_equals_fit_on_the_builtin_dataset():
    images, labels = read_idx("train-images", 3000), read_idx("train-labels", 3000)
    test_images, test_labels = read_idx("t10k-images"), read_idx("t10k-labels")
    settings = dict(epochs=1, seed=0, threads=1, progress=False)
    with smallnet.fcn_for_budget(50_000, seed=0) as from_arrays, smallnet.fcn_for_budget(50_000, seed=0) as builtin:
        # 3,000 images have statistics of their own (0.2845/0.3535); FashionMNIST's are those of
        # all 60,000, which the built-in dataset records. Give them to the model, as a user would.
        from_arrays.preprocessing = smallnet.Preprocessing.fashion_mnist()
        history_arrays = from_arrays.fit(images, labels, validation_data=(test_images, test_labels), **settings)
        with smallnet.Dataset.fashion_mnist(train=True) as full, full.subset(0, 3000) as train, \
                smallnet.Dataset.fashion_mnist(train=False) as test:
            history_builtin = builtin.fit(train, validation=test, **settings)
        same_history(history_arrays, history_builtin)
        state = builtin.state_dict()
        for name, value in from_arrays.state_dict().items():
            np.testing.assert_array_equal(value, state[name])
    with smallnet.fcn_for_budget(50_000, seed=0) as model:
        model.fit(images, labels, **settings)
        assert model.preprocessing == smallnet.Preprocessing(1 / 255, 0.2845, 0.3535)  # the data's own


def test_fit_on_all_training_pixels_needs_no_preprocessing():
    """The statistics of all 60,000 training images are exactly FashionMNIST's constants."""
    images, labels = read_idx("train-images"), read_idx("train-labels")
    settings = dict(epochs=1, seed=0, threads=1, batch_size=256, progress=False)
    with smallnet.fcn_for_budget(20_000, seed=0) as from_arrays, smallnet.fcn_for_budget(20_000, seed=0) as builtin:
        history_arrays = from_arrays.fit(images, labels, **settings)
        assert from_arrays.preprocessing == smallnet.Preprocessing.fashion_mnist()
        with smallnet.Dataset.fashion_mnist(train=True) as train:
            history_builtin = builtin.fit(train, **settings)
        same_history(history_arrays, history_builtin)


def test_wrapping_raw_pixels_costs_about_their_size():
    figures = run_python("""
        import json
        import smallnet
        from conftest import read_idx

        def status(key):
            with open("/proc/self/status") as f:
                return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))

        images, labels = read_idx("train-images"), read_idx("train-labels")
        smallnet.Dataset.from_numpy(images[:10], labels[:10]).close()   # first-use costs out of the way
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")                                            # resets the peak to the current size
            baseline, reset = status("VmRSS"), True
        except OSError:
            baseline, reset = status("VmHWM"), False
        data = smallnet.Dataset.from_numpy(images, labels)
        peak = status("VmHWM")
        print(json.dumps({"array": images.nbytes, "baseline": baseline, "peak": peak, "n": len(data),
                          "reset": reset}))
    """)
    growth = figures["peak"] - figures["baseline"]
    ratio = growth / figures["array"]
    print(f"wrapping {figures['n']} uint8 images ({figures['array'] / 2**20:.1f} MiB): peak RSS "
          f"+{growth / 2**20:.1f} MiB above the baseline = {ratio:.2f}x the array "
          f"({'peak reset before wrapping' if figures['reset'] else 'peak not resettable; baseline = earlier peak'})")
    assert figures["n"] == 60_000
    assert ratio <= 1.5


def train_in_worker(seed: int) -> smallnet.Model:
    """Runs in a worker process; the model comes back pickled."""
    return train_briefly(2000, seed)


def test_a_model_trained_in_a_worker_process_comes_back_intact():
    test_images = read_idx("t10k-images", 2000)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        remote = pool.submit(train_in_worker, 7).result(timeout=300)
    with remote, train_briefly(2000, 7) as local:
        assert remote.training == local.training
        assert remote.preprocessing == local.preprocessing and remote.class_names == local.class_names
        state = local.state_dict()
        for name, value in remote.state_dict().items():
            np.testing.assert_array_equal(value, state[name])
        np.testing.assert_array_equal(remote.predict(test_images), local.predict(test_images))
