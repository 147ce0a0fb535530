"""`smallnet study --quick`: the whole pipeline (three tables, report, plots), and resuming after a kill."""
import json
import os
import pathlib
import signal
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


def results_by_id(out):
    """Each run's result without its timings and thread count (results do not depend on them)."""
    runs = json.loads((out / "results.json").read_text())["runs"]
    out = {}
    for r in runs:
        result = dict(r["result"])
        for key in ("train_seconds", "seconds", "smallnet_version"):
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

