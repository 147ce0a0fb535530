"""`smallnet study --quick`: the whole pipeline (three tables, report, plots), resuming after a
kill, listing, selecting and sharding runs, seeds, and running on a Dask cluster."""
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = ROOT / ".build" / "release" / "smallnet"
DATA = os.environ.get("SMALLNET_DATA", "/usr/share/datasets/fashion-mnist")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.skipif(
    not os.path.isdir(DATA) and os.environ.get("SMALLNET_REQUIRE_DATA") != "1", reason="FashionMNIST is not installed")


def study(out, *extra, **kwargs):
    return subprocess.run([str(BINARY), "study", "--quick", "--out", str(out), *extra],
                          capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def clean_study(tmp_path_factory):
    """A quick study run from start to end without interruption: (its directory, seconds)."""
    out = tmp_path_factory.mktemp("clean")
    start = time.monotonic()
    result = study(out, "--jobs", "2", timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    return out, time.monotonic() - start


# What a run's result holds besides its numbers: timings, versions, and where and how it ran.
PLACE_KEYS = ("train_seconds", "seconds", "smallnet_version", "cpu", "wall_seconds", "threads", "worker", "host",
              "id", "status", "error", "args", "options")


def results_by_id(out):
    """Each run's result without its timings, place and thread count (results do not depend on them)."""
    runs = json.loads((out / "results.json").read_text())["runs"]
    out = {}
    for r in runs:
        result = dict(r["result"])
        for key in PLACE_KEYS:
            result.pop(key, None)
        result["history"] = [{k: v for k, v in e.items() if k != "seconds"} for e in result.get("history", [])]
        result["config"] = {k: v for k, v in result.get("config", {}).items() if k != "threads"}
        out[r["id"]] = result
    return out


def test_quick_study_runs_every_step(clean_study):
    tmp_path, elapsed = clean_study
    results = json.loads((tmp_path / "results.json").read_text())
    runs = results["runs"]
    assert sorted({r["table"] for r in runs}) == [1, 2, 3]
    assert len([r for r in runs if r["table"] == 1]) == 3
    assert len([r for r in runs if r["table"] == 2]) == 9
    assert len([r for r in runs if r["table"] == 3]) == 4
    for r in runs:
        assert 0.1 < r["result"]["test_accuracy"] <= 1, r["id"]
        assert len(r["result"]["confusion"]) == 10
    csv = (tmp_path / "results.csv").read_text().splitlines()
    assert len(csv) == 1 + len(runs)
    report = (tmp_path / "report.md").read_text()
    for heading in ("Table 1", "Table 2", "Table 3"):
        assert heading in report
    assert "87.69 %" in report and "91.71 %" in report  # the published figures beside ours
    for name in ("accuracy_vs_params.png", "learning_curves.png", "confusion_best.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name
    print(f"quick study: {elapsed:.1f} s")


def training_children(study_pid):
    """The `smallnet train` processes that `study_pid` started and that are still alive."""
    children = []
    for status in pathlib.Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            cmdline = (status.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"train" in cmdline and f"SMALLNET_PARENT_PID={study_pid}".encode() in (status.parent / "environ").read_bytes():
            if "State:\tZ" not in text:
                children.append(int(status.parent.name))
    return children


def test_killed_study_takes_its_runs_with_it_and_resumes_to_the_same_results(tmp_path, clean_study):
    process = subprocess.Popen([str(BINARY), "study", "--quick", "--out", str(tmp_path), "--jobs", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = tmp_path / "runs"
    deadline = time.monotonic() + 900
    # Wait for two finished runs and a third in progress (between two runs there is a moment with no child).
    while time.monotonic() < deadline and not (len(list(runs.glob("*.json"))) >= 2 and training_children(process.pid)):
        time.sleep(0.05)
    assert training_children(process.pid), "a run is in progress"
    process.kill()  # the study alone, with SIGKILL: its running child must follow it
    process.wait()
    deadline = time.monotonic() + 5
    while training_children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert training_children(process.pid) == [], "a training process outlived its study"
    finished = {p.name: p.stat().st_mtime_ns for p in runs.glob("*.json")}
    assert 2 <= len(finished) < 16
    # A result cut short (a disk filling up, say) is named and redone, not a failure of the study.
    damaged = sorted(finished)[0]
    (runs / damaged).write_text((runs / damaged).read_text()[:200])
    del finished[damaged]
    result = study(tmp_path, "--jobs", "2", timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(finished)} already done" in result.stdout
    assert f"{damaged} is damaged; running {damaged[:-5]} again" in result.stdout
    started = [line for line in result.stdout.splitlines() if line.strip().startswith("started")]
    assert len(started) == 16 - len(finished)
    for name, mtime in finished.items():
        assert (runs / name).stat().st_mtime_ns == mtime, f"{name} was run again"
    assert results_by_id(tmp_path) == results_by_id(clean_study[0]), "resumed results equal an uninterrupted study's"
    # A run whose recorded settings differ from the plan's (another version, or a quick study
    # into a full study's directory) is run again; the others are kept.
    changed = runs / "t2-cnn-100k-adam-0.005.args"
    changed.write_text(changed.read_text().replace("--lr\n0.005", "--lr\n0.004"))
    kept = {p.name: p.stat().st_mtime_ns for p in runs.glob("*.json") if not p.name.startswith("t2-cnn-100k-adam-0.005")}
    result = study(tmp_path, "--jobs", "2", timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "15 already done" in result.stdout
    started = [line.split()[-1] for line in result.stdout.splitlines() if line.strip().startswith("started")]
    assert started == ["t2-cnn-100k-adam-0.005"]
    for name, mtime in kept.items():
        assert (runs / name).stat().st_mtime_ns == mtime, f"{name} was run again"



def test_list_only_and_shards_select_runs():
    listed = subprocess.run([str(BINARY), "study", "--list", "--quick", "--seeds", "2", "--format", "json"],
                            capture_output=True, text=True, check=True)
    runs = json.loads(listed.stdout)
    assert len(runs) == 32 and len({r["id"] for r in runs}) == 32
    first = runs[0]
    assert first["id"] == "t1-fcn-50k" and first["seed"] == 0 and first["args"][:3] == ["train", "--arch", "fcn"]
    assert "--train-limit" in first["args"] and first["args"][first["args"].index("--seed") + 1] == "0"
    assert {r["id"] for r in runs if r["seed"] == 1} == {r["id"] + "-s1" for r in runs if r["seed"] == 0}

    def ids(*extra):
        text = subprocess.run([str(BINARY), "study", "--list", *extra], capture_output=True, text=True, check=True).stdout
        return [line.split()[0] for line in text.splitlines()]

    assert ids("--only", "t2-cnn-100k-adam-0.005", "t1-fcn-50k", "--seeds", "3") == [
        "t1-fcn-50k", "t2-cnn-100k-adam-0.005", "t1-fcn-50k-s1", "t2-cnn-100k-adam-0.005-s1",
        "t1-fcn-50k-s2", "t2-cnn-100k-adam-0.005-s2"]
    shards = [ids("--shard", f"{k}/3") for k in (1, 2, 3)]
    assert sorted(sum(shards, [])) == sorted(ids()) and all(5 <= len(s) <= 6 for s in shards)
    bad = subprocess.run([str(BINARY), "study", "--list", "--only", "t9-nothing"], capture_output=True, text=True)
    assert bad.returncode != 0 and "t9-nothing" in bad.stderr


def test_study_on_a_dask_cluster_sharded_and_resumed_either_way_equals_a_local_study(tmp_path, clean_study, dask_cluster):
    """Shard 1/2 on the cluster then shard 2/2 locally into one directory; and half a local study
    finished on the cluster: both equal the uninterrupted local study, run by run."""
    mixed = tmp_path / "mixed"
    start = time.monotonic()
    first = study(mixed, "--shard", "1/2", "--scheduler", dask_cluster.address, timeout=600)
    cluster_seconds = time.monotonic() - start
    assert first.returncode == 0, first.stdout + first.stderr
    assert "8 runs (of 16 in the plan), 0 already done" in first.stdout
    assert first.stdout.count("  finished ") == 8 and "on tcp://127.0.0.1" in first.stdout
    partial = json.loads((mixed / "results.json").read_text())
    assert len(partial["runs"]) == 8 and len(partial["pending"]) == 8 and partial["scheduler"] == dask_cluster.address
    assert "## Pending runs" in (mixed / "report.md").read_text()
    second = study(mixed, "--shard", "2/2", "--jobs", "2", timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "8 runs (of 16 in the plan), 0 already done" in second.stdout
    assert results_by_id(mixed) == results_by_id(clean_study[0]), "shards, on the cluster and here, equal one study"
    assert json.loads((mixed / "results.json").read_text())["pending"] == []

    # A local study stopped half-way, finished on the cluster.
    resumed = tmp_path / "resumed"
    shutil.copytree(clean_study[0], resumed)
    removed = sorted((resumed / "runs").glob("t3-*.json")) + sorted((resumed / "runs").glob("t2-cnn-100k-sgd-*.json"))
    for path in removed:
        path.unlink()
    third = study(resumed, "--scheduler", dask_cluster.address, timeout=600)
    assert third.returncode == 0, third.stdout + third.stderr
    assert f"{16 - len(removed)} already done" in third.stdout and third.stdout.count("  finished ") == len(removed)
    assert results_by_id(resumed) == results_by_id(clean_study[0])
    report = (resumed / "report.md").read_text()
    assert f"this invocation ran {len(removed)} on {dask_cluster.address}" in report
    print(f"quick study, shard 1/2 on a 2-worker Dask cluster: {cluster_seconds:.1f} s")


def load_plots():
    """smallnet.plots from the source tree, without the package (whose import needs the library)."""
    spec = importlib.util.spec_from_file_location("smallnet_plots", ROOT / "python" / "smallnet" / "plots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seeds_give_mean_and_std_and_plots_one_panel_per_table(tmp_path, clean_study):
    out = tmp_path / "seeds"
    shutil.copytree(clean_study[0], out)
    result = study(out, "--seeds", "3", "--only", "t1-fcn-50k", "t1-fcn-100k", "t1-fcn-200k", "--jobs", "2", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 runs (of 48 in the plan), 3 already done" in result.stdout  # the seed-0 runs are the one-seed study's
    assert result.stdout.count("  started ") == 6
    results = json.loads((out / "results.json").read_text())
    assert results["seeds"] == 3 and len(results["runs"]) == 22
    cells = {c["cell"]: c for c in results["cells"]}
    for budget in ("50k", "100k", "200k"):
        cell = cells[f"t1-fcn-{budget}"]
        accuracies = [r["result"]["test_accuracy"] for r in results["runs"] if r["cell"] == f"t1-fcn-{budget}"]
        assert cell["finished"] == 3 and len(set(accuracies)) > 1, "three seeds, three different runs"
        assert abs(cell["mean_accuracy"] - sum(accuracies) / 3) < 1e-12 and cell["std_accuracy"] > 0
    report = (out / "report.md").read_text()
    head = report.split("## Table 1")[0]
    assert "smallnet 0.1.0" in head and "CPU: " in head and "threads per run: 1" in head and "seeds: 0–2" in head
    table1 = report.split("## Table 1")[1].split("## Table 2")[0]
    assert table1.count(" ± ") == 3
    table2 = report.split("## Table 2")[1].split("## Table 3")[0]
    assert "(1 of 3 seeds)" in table2 and "(report 91.55 %)" in table2 and "0.9155" not in table2  # percentages
    plots = load_plots()
    figure = plots.learning_curves(results["runs"])
    titles = [ax.get_title() for ax in figure.axes]
    assert len(titles) == 3 and [t.split(":")[0] for t in titles] == ["Table 1", "Table 2", "Table 3"]
    for ax in figure.axes:
        handles, labels = ax.get_legend_handles_labels()
        colours = [tuple(h.get_color()) if not isinstance(h.get_color(), str) else h.get_color() for h in handles]
        assert len(handles) == {"Table 1": 3, "Table 2": 9, "Table 3": 4}[ax.get_title().split(":")[0]]
        assert len(set(colours)) == len(colours), f"a colour repeats in {ax.get_title()}"
    assert all("(3 seeds)" in label for label in figure.axes[0].get_legend_handles_labels()[1])


def test_plots_run_without_a_shell_and_say_what_failed(tmp_path, clean_study):
    out = tmp_path / "it's a study"  # an apostrophe broke the shell command line
    shutil.copytree(clean_study[0], out)
    for name in ("accuracy_vs_params.png", "learning_curves.png", "confusion_best.png"):
        (out / name).unlink()
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text("#!/bin/sh\necho 'Traceback (most recent call last):' >&2\n"
                                  "echo 'OSError: [Errno 28] No space left on device' >&2\nexit 1\n")
    (fake / "python3").chmod(0o755)
    broken = study(out, env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}, timeout=120)
    assert broken.returncode == 0, broken.stdout + broken.stderr  # the report stands without plots
    assert "plots not drawn: OSError: [Errno 28] No space left on device" in broken.stderr
    assert "matplotlib" not in broken.stderr
    drawn = study(out, timeout=120)
    assert drawn.returncode == 0 and "plots not drawn" not in drawn.stderr, drawn.stderr
    for name in ("accuracy_vs_params.png", "learning_curves.png", "confusion_best.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC), name


def test_a_local_run_killed_by_a_signal_is_started_again(tmp_path, clean_study):
    out = tmp_path / "retry"
    shutil.copytree(clean_study[0], out)
    (out / "runs" / "t1-fcn-200k.json").unlink()
    process = subprocess.Popen([str(BINARY), "study", "--quick", "--out", str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (children := training_children(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert children, "the run started"
    os.kill(children[0], 9)  # as the OOM killer would
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stdout + stderr
    assert "t1-fcn-200k was killed by signal 9; starting it again" in stdout
    assert stdout.count("started t1-fcn-200k") == 2 and "finished t1-fcn-200k" in stdout
    assert results_by_id(out) == results_by_id(clean_study[0])
