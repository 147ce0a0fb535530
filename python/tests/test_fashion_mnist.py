"""On the real FashionMNIST (skipped without it): accuracy, and the same numbers as the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import smallnet

from conftest import CLI, DATA_DIR, REPO, requires_data

pytestmark = [requires_data, pytest.mark.data]


@pytest.fixture(scope="module")
def fashion():
    train = smallnet.Dataset.fashion_mnist(train=True)
    test = smallnet.Dataset.fashion_mnist(train=False, directory=DATA_DIR)
    yield train, test
    train.close()
    test.close()


def test_sizes_and_class_names(fashion):
    train, test = fashion
    assert (len(train), len(test)) == (60_000, 10_000)
    assert train.class_names == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@pytest.mark.slow
def test_short_fit_reaches_75_percent(fashion):
    train, test = fashion
    with train.subset(0, 5000) as small, smallnet.fcn_for_budget(100_000) as model:
        history = model.fit(small, epochs=1, validation=test, progress=False)
        result = model.evaluate(test)
    assert result["accuracy"] > 0.75
    assert history[-1]["eval_accuracy"] == pytest.approx(result["accuracy"], abs=1e-6)
    assert result["per_class_accuracy"].shape == (10,)


@pytest.mark.slow
@pytest.mark.skipif(not CLI.is_file(), reason=f"{CLI} is not built")
@pytest.mark.parametrize("budget", [20_000, 50_000])
def test_cnn_recipe_same_as_the_cli(fashion, tmp_path, budget):
    """The CLI's CNN defaults (optimizer settings included) and model.fit(recipe="cnn") are one recipe."""
    out = tmp_path / "cli.json"
    subprocess.run(
        [str(CLI), "train", "--arch", "cnn", "--params", str(budget), "--epochs", "1", "--train-limit", "1000",
         "--threads", "2", "--seed", "0", "--json", str(out)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    cli = json.loads(out.read_text())
    recipe = smallnet.recipe("cnn", budget=budget)["optimizer"]
    for key in ("lr", "momentum", "weight_decay"):
        assert np.float32(cli["config"][key]) == np.float32(recipe[key]), key
    train, test = fashion
    with train.subset(0, 1000) as subset, smallnet.cnn_for_budget(budget, seed=0) as model:
        history = model.fit(subset, recipe="cnn", epochs=1, threads=2, seed=0, validation=test, progress=False)
    for key in ("train_loss", "train_accuracy", "eval_loss", "eval_accuracy"):
        assert np.float32(cli["history"][0][key]) == np.float32(history[0][key]), key


@pytest.mark.slow
@pytest.mark.skipif(not CLI.is_file(), reason=f"{CLI} is not built")
def test_same_numbers_as_the_cli(fashion, tmp_path):
    out = tmp_path / "cli.json"
    subprocess.run(
        [str(CLI), "train", "--arch", "fcn", "--params", "100000", "--epochs", "1", "--train-limit", "3000",
         "--threads", "2", "--seed", "0", "--json", str(out)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    cli = json.loads(out.read_text())["history"]
    train, test = fashion
    with train.subset(0, 3000) as subset, smallnet.fcn_for_budget(100_000, seed=0) as model:
        history = model.fit(subset, epochs=1, threads=2, seed=0, validation=test, progress=False)
    assert len(cli) == len(history) == 1
    for ours, theirs in zip(history, cli):
        for key in ("train_loss", "train_accuracy", "eval_loss", "eval_accuracy"):
            assert np.float32(theirs[key]) == np.float32(ours[key]), (key, theirs[key], ours[key])


@pytest.mark.slow
def test_example_script_smoke_run(tmp_path):
    script = REPO / "examples" / "python" / "train_fcn.py"
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=dict(os.environ, SMOKE="1"),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 70
    with smallnet.Model.load(tmp_path / "fcn100k.safetensors") as model:
        assert abs(model.n_params - 100_000) <= 2_000
