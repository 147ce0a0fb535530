"""smallnet.sweep on local processes, on a real Dask cluster (a scheduler and two one-thread
workers started as processes on 127.0.0.1, one of them killed mid-run) and on Ray: the same
grid gives the same results everywhere, bit for bit, each run exactly once."""
from __future__ import annotations

import json
import os
import pathlib
import signal
import sys
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = ROOT / ".build" / "release" / "smallnet"
DATA = os.environ.get("SMALLNET_DATA", "/usr/share/datasets/fashion-mnist")
os.environ.setdefault("SMALLNET_LIBRARY", str(ROOT / "build" / "lib" / "libsmallnet.so"))
# This process and the workers it starts (Dask's, Ray's) import the same package.
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])
sys.path.insert(0, str(ROOT / "python"))

import smallnet  # noqa: E402

pytestmark = pytest.mark.skipif(
    not os.path.isdir(DATA) and os.environ.get("SMALLNET_REQUIRE_DATA") != "1", reason="FashionMNIST is not installed")

# Six short runs: two FCN budgets × three seeds, one epoch on 2,000 images.
GRID = smallnet.grid({"arch": "fcn", "params": [20_000, 50_000], "seed": [0, 1, 2], "epochs": 1, "train_limit": 2000})


def comparable(record):
    """What must not depend on where or how fast a run ran: everything but timings, places and threads."""
    assert record["status"] == "ok", record
    out = {k: v for k, v in record.items()
           if k not in ("train_seconds", "wall_seconds", "threads", "worker", "host", "checkpoint", "cpu")}
    out["history"] = [{k: v for k, v in e.items() if k != "seconds"} for e in record["history"]]
    out["config"] = {k: v for k, v in record["config"].items() if k != "threads"}
    return out


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The grid run as local processes: (its records, its results directory)."""
    out = tmp_path_factory.mktemp("local")
    records = smallnet.sweep(GRID, out=out, cli=str(BINARY))
    assert [r["id"] for r in records] == [g["id"] for g in GRID]
    for r in records:
        assert r["status"] == "ok" and r["threads"] == 1 and r["config"]["threads"] == 1, r
        assert 0.1 < r["test_accuracy"] <= 1 and len(r["history"]) == 1
    return records, out


def test_local_sweep_writes_each_result_and_resumes_with_only_the_missing_runs(local):
    records, out = local
    assert sorted(p.name for p in out.glob("*.json")) == sorted(f"{g['id']}.json" for g in GRID)
    stored = json.loads((out / f"{GRID[0]['id']}.json").read_text())
    assert comparable(stored) == comparable(records[0])
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    for name in sorted(kept)[:2]:
        (out / name).unlink()
        del kept[name]
    finished = []
    again = smallnet.sweep(GRID, out=out, cli=str(BINARY), progress=finished.append)
    assert len(finished) == 2, "only the two missing runs ran"
    for name, mtime in kept.items():
        assert (out / name).stat().st_mtime_ns == mtime, f"{name} was run again"
    assert [comparable(r) for r in again] == [comparable(r) for r in records]


def test_failed_runs_are_recorded_and_do_not_stop_the_others(tmp_path, local):
    runs = [{"id": "bad-option", "arch": "fcn", "params": 20_000, "no_such_option": 3},
            {"id": "diverges", "arch": "fcn", "params": 20_000, "optimizer": "sgd", "lr": 1000, "epochs": 1,
             "train_limit": 2000},
            GRID[0]]
    records = smallnet.sweep(runs, out=tmp_path, cli=str(BINARY))
    assert [r["status"] for r in records] == ["failed", "failed", "ok"]
    assert "no-such-option" in records[0]["error"]
    assert "diverged" in records[1]["error"]
    assert comparable(records[2]) == comparable(local[0][0])
    assert json.loads((tmp_path / "diverges.json").read_text())["status"] == "failed"
    assert "diverged" in (tmp_path / "diverges.log").read_text()


def training_children(parents):
    """{pid: parent pid} of the live `smallnet` processes whose parent is one of ``parents``."""
    found = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if name == "smallnet" and rest[0] != "Z" and int(rest[1]) in parents:
            found[int(stat.parent.name)] = int(rest[1])
    return found


def sweep_in_background(*args, **kwargs):
    """Starts smallnet.sweep in a thread; returns (thread, box) where box gets "records" or "error"."""
    box = {}

    def target():
        try:
            box["records"] = smallnet.sweep(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def test_a_local_run_killed_by_a_signal_is_run_again(tmp_path, local):
    finished = []
    thread, box = sweep_in_background(GRID[:1], out=tmp_path, cli=str(BINARY), progress=finished.append)
    deadline = time.monotonic() + 60
    while not (children := training_children({os.getpid()})) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert children, "the run started"
    os.kill(next(iter(children)), signal.SIGKILL)  # as the OOM killer would
    thread.join(120)
    assert "error" not in box, box.get("error")
    assert len(finished) == 1
    assert comparable(box["records"][0]) == comparable(local[0][0])


# --- Dask: a scheduler and two workers as separate processes (tests/conftest.py) -----------------


def test_dask_cluster_gives_the_local_results_bit_for_bit(dask_cluster, local, tmp_path):
    from distributed import Client

    with Client(dask_cluster.address) as client:
        info = client.scheduler_info()["workers"]
        assert len(info) == 2 and all(w["nthreads"] == 1 for w in info.values())
        records = smallnet.sweep(GRID, client, out=tmp_path, cli=str(BINARY))
    assert [comparable(r) for r in records] == [comparable(r) for r in local[0]]
    assert all(r["threads"] == 1 and r["worker"] in info for r in records)
    assert len({r["worker"] for r in records}) == 2, "both workers ran runs"


def test_a_worker_killed_mid_run_costs_that_run_only(dask_cluster, local, tmp_path):
    """SIGKILL to the worker process running a run: the run moves to the other worker, every run
    finishes exactly once with the local results, and the killed worker's training process ends."""
    from distributed import Client

    workers = dask_cluster.workers
    finished = []
    with Client(dask_cluster.address) as client:
        addresses = {pid: worker for worker, pid in client.run(os.getpid).items()}
        thread, box = sweep_in_background(GRID, client, out=tmp_path, cli=str(BINARY), progress=finished.append)
        deadline = time.monotonic() + 120
        while not (children := training_children(set(workers))) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert children, "a run is in flight on a worker"
        child, victim = next(iter(children.items()))
        arguments = pathlib.Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        killed = next(g["id"] for g in GRID if f"--seed\0{g['seed']}\0".encode() in b"\0".join(arguments)
                      and f"--params\0{g['params']}\0".encode() in b"\0".join(arguments))
        os.kill(victim, signal.SIGKILL)
        workers[victim].wait(10)
        thread.join(300)
    assert not thread.is_alive() and "error" not in box, box.get("error")
    records = box["records"]
    assert sorted(r["id"] for r in finished) == sorted(g["id"] for g in GRID), "each run reported exactly once"
    assert sorted(p.name for p in tmp_path.glob("*.json")) == sorted(f"{g['id']}.json" for g in GRID)
    assert [comparable(r) for r in records] == [comparable(r) for r in local[0]]
    survivor = next(pid for pid in workers if pid != victim)
    assert workers[survivor].poll() is None
    assert next(r for r in records if r["id"] == killed)["worker"] == addresses[survivor], "run again elsewhere"
    assert process_ended(child, 5), "the killed worker's training process ended with it"


def process_ended(pid, timeout):
    """Whether ``pid`` is gone (or a zombie) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


# --- Ray ------------------------------------------------------------------------------------------


def test_ray_gives_the_local_results_bit_for_bit(local, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        records = smallnet.sweep(GRID, "ray", out=tmp_path, cli=str(BINARY))
    finally:
        ray.shutdown()
    assert [comparable(r) for r in records] == [comparable(r) for r in local[0]]
    assert all(r["threads"] == 1 for r in records), "each task's one CPU is its run's one thread"
