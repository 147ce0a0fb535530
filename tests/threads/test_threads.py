"""The default thread count end to end: `smallnet info` and the library under `taskset`, with
SMALLNET_NUM_THREADS / OMP_NUM_THREADS set, valid or not; two trainings at once in one process
give the same weights as one after the other. Speed is measured and reported, never asserted."""
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = ROOT / ".build" / "release" / "smallnet"
LIBRARY = ROOT / "build" / "lib" / "libsmallnet.so"
IGNORED = "ignored (not a whole number in 1...64)"

needs_taskset = pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset is not installed")


def clean_env(**values):
    """The environment without the thread variables, plus `values`."""
    env = {k: v for k, v in os.environ.items() if k not in ("SMALLNET_NUM_THREADS", "OMP_NUM_THREADS")}
    env.update(values)
    return env


def info(prefix=(), **values):
    """(count, source, cpus line or None) from `smallnet info`."""
    result = subprocess.run([*prefix, str(BINARY), "info"], capture_output=True, text=True, timeout=60,
                            env=clean_env(**values))
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"^threads: (\d+) \(default, from (.*); --threads N to change\)$", result.stdout, re.M)
    assert match, result.stdout
    cpus = re.search(r"^cpus: (\d+) \((.*)\)$", result.stdout, re.M)
    return int(match.group(1)), match.group(2), (int(cpus.group(1)), cpus.group(2)) if cpus else None


def cgroup_limited():
    """Whether a cgroup CPU quota is set for this process (v2 cpu.max or v1 cfs quota, at the
    mount point's own folder; enough to decide whether to expect the affinity mask exactly)."""
    try:
        quota = pathlib.Path("/sys/fs/cgroup/cpu.max").read_text().split()[0]
        if quota != "max":
            return True
    except (OSError, IndexError):
        pass
    for mount in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"):
        try:
            if int(pathlib.Path(mount, "cpu.cfs_quota_us").read_text()) > 0:
                return True
        except (OSError, ValueError):
            pass
    return False


def test_default_is_the_affinity_mask():
    count, source, cpus = info()
    mask = len(os.sched_getaffinity(0))
    if cgroup_limited() and source.startswith("cgroup quota"):
        assert 1 <= count <= mask
        assert re.fullmatch(r"cgroup quota [0-9.]+ CPUs", source), source
    else:
        assert count == min(mask, 64)
        assert source == f"affinity mask ({mask} CPU{'' if mask == 1 else 's'})" + (", capped at 64" if mask > 64 else "")
    assert cpus is None  # printed only when it differs from the thread count


@needs_taskset
def test_taskset_one_cpu():
    assert info(["taskset", "-c", "0"]) == (1, "affinity mask (1 CPU)", None)


@needs_taskset
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_taskset_two_cpus():
    cpus = sorted(os.sched_getaffinity(0))[:2]
    count, source, _ = info(["taskset", "-c", ",".join(map(str, cpus))])
    if not source.startswith("cgroup quota"):
        assert (count, source) == (2, "affinity mask (2 CPUs)")


@needs_taskset
def test_smallnet_num_threads_overrides_the_mask():
    assert info(["taskset", "-c", "0"], SMALLNET_NUM_THREADS="3") == (3, "SMALLNET_NUM_THREADS=3", (1, "affinity mask (1 CPU)"))


def test_smallnet_num_threads_wins_over_omp():
    assert info(SMALLNET_NUM_THREADS="5", OMP_NUM_THREADS="1")[:2] == (5, "SMALLNET_NUM_THREADS=5")


def test_omp_num_threads_when_smallnet_is_unset():
    assert info(OMP_NUM_THREADS="1")[:2] == (1, "OMP_NUM_THREADS=1")
    assert info(OMP_NUM_THREADS="3,2")[:2] == (3, "OMP_NUM_THREADS=3,2")


@needs_taskset
@pytest.mark.parametrize("value", ["0", "65", "-1", "abc", "2.5"])
def test_invalid_values_are_ignored_and_named(value):
    count, source, _ = info(["taskset", "-c", "0"], SMALLNET_NUM_THREADS=value)
    assert (count, source) == (1, f'affinity mask (1 CPU); SMALLNET_NUM_THREADS="{value}" {IGNORED}')
    count, source, _ = info(["taskset", "-c", "0"], SMALLNET_NUM_THREADS=value, OMP_NUM_THREADS="2")
    assert (count, source) == (2, f'OMP_NUM_THREADS=2; SMALLNET_NUM_THREADS="{value}" {IGNORED}')


def python(code, prefix=(), **values):
    env = clean_env(SMALLNET_LIBRARY=str(LIBRARY), PYTHONPATH=str(ROOT / "python"), **values)
    result = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@needs_taskset
def test_library_default_follows_the_same_rule():
    code = "import smallnet; print(smallnet.get_num_threads())"
    assert python(code, ["taskset", "-c", "0"]) == "1"
    assert python(code, ["taskset", "-c", "0"], SMALLNET_NUM_THREADS="3") == "3"
    assert python(code, OMP_NUM_THREADS="1") == "1"
    assert python(code, SMALLNET_NUM_THREADS="x", OMP_NUM_THREADS="2") == "2"


TWO_FITS = """
import threading
import numpy as np
import smallnet
rng = np.random.default_rng(0)
x = rng.standard_normal((300, 1, 28, 28)).astype(np.float32)
y = rng.integers(0, 10, 300)
data = [smallnet.Dataset.from_numpy(x, y, classes=10) for _ in range(2)]  # a handle serves one call at a time
def fit(model, i):
    model.fit(data[i], epochs=1, batch_size=32, progress=False, recipe="cnn", threads=THREADS)
def weights(model):
    return np.concatenate([v.ravel() for v in model.state_dict().values()])
sequential = [smallnet.cnn([8, 16], seed=s) for s in (1, 2)]
for i, m in enumerate(sequential):
    fit(m, i)
together = [smallnet.cnn([8, 16], seed=s) for s in (1, 2)]
errors = []
def run(model, i):
    try:
        fit(model, i)
    except Exception as e:
        errors.append(e)
threads = [threading.Thread(target=run, args=(m, i)) for i, m in enumerate(together)]
for t in threads: t.start()
for t in threads: t.join()
assert not errors, errors
print(all(np.array_equal(weights(a), weights(b)) for a, b in zip(sequential, together)))
"""


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_two_fits_at_once_match_one_after_the_other(threads):
    assert python(TWO_FITS.replace("THREADS", str(threads))) == "True"
