"""smallnet.grid and smallnet.sweep without training: configurations, ids, arguments, checks,
and resuming from a results directory (runs end to end are in tests/sweep)."""
from __future__ import annotations

import json
import os
import stat

import pytest

import smallnet
from smallnet import sweeps


def test_grid_expands_lists_and_names_runs_by_what_varies():
    runs = smallnet.grid({"arch": "cnn", "params": 100_000, "optimizer": ["sgd", "adam"]}, lr=[0.01, 0.005])
    assert [r["id"] for r in runs] == ["optimizer=sgd,lr=0.01", "optimizer=sgd,lr=0.005",
                                       "optimizer=adam,lr=0.01", "optimizer=adam,lr=0.005"]
    assert all(r["arch"] == "cnn" and r["params"] == 100_000 for r in runs)
    assert smallnet.grid(arch="fcn") == [{"arch": "fcn", "id": "run"}]
    assert [r["hidden"] for r in smallnet.grid(hidden=[(256, 128), (64,)])] == [(256, 128), (64,)]
    with pytest.raises(ValueError, match="id"):
        smallnet.grid(id=["a", "b"])


def test_options_become_the_tools_arguments():
    run = sweeps._Run({"arch": "fcn", "train_limit": 2000, "hidden": [256, 128], "no_verify": True,
                       "augment": None, "batch_norm": False, "lr": -0.5, "weight_decay": 1e-05})
    assert run.args == ["train", "--arch", "fcn", "--train-limit", "2000", "--hidden", "256,128", "--no-verify",
                        "--lr=-0.5", "--weight-decay", "1e-05"]
    assert run.id == "arch=fcn,train-limit=2000,hidden=256,128,no-verify=True,augment=None,batch-norm=False,lr=-0.5,weight-decay=1e-05"
    listed = sweeps._Run({"id": "t1-fcn-50k", "args": ["train", "--arch", "fcn", "--params", "50000"]})
    assert listed.id == "t1-fcn-50k" and listed.args[1:] == ["--arch", "fcn", "--params", "50000"]
    assert sweeps._Run(["--arch", "cnn"]).args == ["train", "--arch", "cnn"]
    assert listed.settings == "train\n--arch\nfcn\n--params\n50000\n"  # smallnet study's ID.args


@pytest.mark.parametrize("config, message", [
    ({"arch": "fcn", "threads": 4}, "threads"),
    ({"arch": "fcn", "json": "x.json"}, "json"),
    ({"arch": "fcn", "save": "m.safetensors"}, "save"),
    ({"arch": "fcn", "data": "/data"}, "data"),
    ({"id": "a", "args": ["train", "--threads", "2"]}, "threads"),
    ({"id": "a/b", "arch": "fcn"}, "file-name-safe"),
    ({"id": "a", "args": ["train"], "arch": "fcn"}, "either args or options"),
])
def test_bad_configurations_are_refused_before_anything_runs(config, message):
    with pytest.raises(ValueError, match=message):
        smallnet.sweep([config])


def test_sweep_checks_its_own_arguments(tmp_path):
    with pytest.raises(ValueError, match="two runs have the id"):
        smallnet.sweep([{"id": "a", "arch": "fcn"}, {"id": "a", "arch": "cnn"}])
    with pytest.raises(ValueError, match="threads"):
        smallnet.sweep([], threads=0)
    with pytest.raises(TypeError, match="executor"):
        smallnet.sweep([{"arch": "fcn"}], executor=object(), out=tmp_path)


def fake_cli(tmp_path, accuracy=0.5):
    """A stand-in for the smallnet tool that writes a result with the seed it was given."""
    path = tmp_path / "fake-smallnet"
    path.write_text(f"""#!/usr/bin/env python3
import json, sys
args = sys.argv[1:]
if "--fail" in args:
    print("smallnet: error: training diverged: the loss rose", file=sys.stderr)
    sys.exit(1)
seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 0
result = {{"test_accuracy": {accuracy} + seed / 100, "test_loss": 1.0, "history": [], "params": 10,
          "config": {{"threads": int(args[args.index("--threads") + 1])}}, "checkpoint": None}}
json.dump(result, open(args[args.index("--json") + 1], "w"))
print("trained")
""")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_results_are_written_as_runs_finish_and_a_sweep_resumes(tmp_path):
    cli = fake_cli(tmp_path)
    out = tmp_path / "sweep"
    runs = smallnet.grid(arch="fcn", seed=[0, 1, 2]) + [{"id": "broken", "fail": True}]
    seen = []
    records = smallnet.sweep(runs, out=out, cli=cli, progress=seen.append)
    assert [r["status"] for r in records] == ["ok", "ok", "ok", "failed"]
    assert [r["test_accuracy"] for r in records[:3]] == [0.5, 0.51, 0.52]
    assert records[3]["error"] == "training diverged: the loss rose"
    assert sorted(r["id"] for r in seen) == sorted(r["id"] for r in runs)
    assert all(r["threads"] == 1 and r["config"]["threads"] == 1 for r in records[:3])
    assert json.loads((out / "seed=1.json").read_text())["test_accuracy"] == 0.51
    assert (out / "seed=1.args").read_text() == "train\n--arch\nfcn\n--seed\n1\n"
    assert (out / "seed=1.log").read_text() == "trained\n"
    # Again: only the failed run runs; a changed configuration runs again under the same id.
    seen.clear()
    again = smallnet.sweep(runs, out=out, cli=cli, progress=seen.append)
    assert [r["id"] for r in seen] == ["broken"] and [r["test_accuracy"] for r in again[:3]] == [0.5, 0.51, 0.52]
    seen.clear()
    changed = [dict(runs[0], epochs=2)] + runs[1:3]
    smallnet.sweep(changed, out=out, cli=cli, progress=seen.append)
    assert [r["id"] for r in seen] == ["seed=0"]


def test_weights_come_back_without_a_directory(tmp_path):
    cli = tmp_path / "saving-smallnet"
    cli.write_text("""#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in --json) json=$2;; --save) save=$2;; esac; shift; done
printf 'weights' > "$save"
echo '{"test_accuracy": 0.5, "history": [], "config": {}, "checkpoint": "x"}' > "$json"
""")
    cli.chmod(0o755)
    (record,) = smallnet.sweep([{"arch": "fcn"}], cli=str(cli), save=True)
    assert record["weights"] == b"weights" and record["checkpoint"] is None
    (record,) = smallnet.sweep([{"arch": "fcn"}], cli=str(cli), save=True, out=tmp_path / "kept")
    assert "weights" not in record
    assert open(record["checkpoint"], "rb").read() == b"weights"
    assert record["checkpoint"] == os.path.join(tmp_path, "kept", "arch=fcn.safetensors")
