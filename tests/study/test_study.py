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


def test_quick_study_runs_every_step(tmp_path):
    start = time.monotonic()
    result = study(tmp_path, "--jobs", "2", timeout=600)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stdout + result.stderr
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


def test_killed_study_resumes_only_unfinished_runs(tmp_path):
    process = subprocess.Popen([str(BINARY), "study", "--quick", "--out", str(tmp_path), "--jobs", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    runs = tmp_path / "runs"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(runs.glob("*.json"))) < 2:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in runs.glob("*.json")}
    assert 2 <= len(finished) < 16
    result = study(tmp_path, "--jobs", "2", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(finished)} already done" in result.stdout
    started = [line for line in result.stdout.splitlines() if line.strip().startswith("started")]
    assert len(started) == 16 - len(finished)
    for name, mtime in finished.items():
        assert (runs / name).stat().st_mtime_ns == mtime, f"{name} was run again"
    assert len(json.loads((tmp_path / "results.json").read_text())["runs"]) == 16
    # A run whose recorded settings differ from the plan's (another version, or a quick study
    # into a full study's directory) is run again; the others are kept.
    changed = runs / "t2-cnn-100k-adam-0.005.args"
    changed.write_text(changed.read_text().replace("--lr\n0.005", "--lr\n0.004"))
    kept = {p.name: p.stat().st_mtime_ns for p in runs.glob("*.json") if not p.name.startswith("t2-cnn-100k-adam-0.005")}
    result = study(tmp_path, "--jobs", "2", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "15 already done" in result.stdout
    started = [line.split()[-1] for line in result.stdout.splitlines() if line.strip().startswith("started")]
    assert started == ["t2-cnn-100k-adam-0.005"]
    for name, mtime in kept.items():
        assert (runs / name).stat().st_mtime_ns == mtime, f"{name} was run again"

