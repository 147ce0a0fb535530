"""Sweeps: many ``smallnet train`` runs on local processes, a Dask cluster or Ray, resumable.

A run is one ``smallnet train`` process with the options of its configuration, started where
the executor places it (a local process, a Dask worker, a Ray task) with the threads that place
grants it. Results come back as records and, with ``out``, are written as each run finishes, so
a sweep that stops resumes with only the missing runs. ``smallnet study --scheduler`` runs its
plan through :func:`sweep` (``python3 sweeps.py --plan ...``).

This module needs only the standard library (plus dask or ray for those executors). Each
machine that runs runs needs the ``smallnet`` command-line tool (``$SMALLNET_CLI``, then
``smallnet`` on ``PATH``, then the source tree's ``.build/release/smallnet``), and Dask workers
this package (``pip install ./python``), as Dask's workers need whatever code their tasks call;
``smallnet study --scheduler`` runs this file as a script, whose code travels with its tasks.

Example:
    >>> from dask.distributed import Client
    >>> runs = smallnet.grid({"arch": "fcn", "params": [50_000, 100_000], "seed": [0, 1, 2]})
    >>> records = smallnet.sweep(runs, Client("tcp://scheduler:8786"), out="sweep")
    >>> [(r["id"], r["test_accuracy"]) for r in records]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

__all__ = ["RunInterrupted", "grid", "study_runs", "sweep"]

#: Options a sweep sets itself for each run; a configuration may not give them.
RESERVED = {"threads": "the sweep's threads", "json": "the sweep", "save": "sweep(save=True)",
            "data": "sweep(data=...)"}
#: How many characters of a run's output a record keeps.
LOG_LIMIT = 64 * 1024
#: The environment variable through which a run learns the process id it must not outlive.
PARENT_VARIABLE = "SMALLNET_PARENT_PID"


class RunInterrupted(RuntimeError):
    """A run's process was killed by a signal (the OOM killer, an operator): not the run's own
    failure, so it is retried, a bounded number of times."""


# ---------------------------------------------------------------------------------------------
# Run configurations


def _option_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_option_text(v) for v in value)
    return str(value)


def _arguments(options: Mapping[str, Any]) -> list[str]:
    """``smallnet train`` arguments from a dict of its options: ``{"train_limit": 2000}`` →
    ``--train-limit 2000``; True is a bare flag, False and None leave the option out, a list
    is comma-separated (``hidden=[256, 128]``)."""
    args = ["train"]
    for key, value in options.items():
        name = str(key).replace("_", "-")
        if name in RESERVED:
            raise ValueError(f"run option {key!r} is set by {RESERVED[name]}, not by a run's configuration")
        if value is None or value is False:
            continue
        if value is True:
            args.append(f"--{name}")
        elif _option_text(value).startswith("-"):
            args.append(f"--{name}={_option_text(value)}")  # a negative number is a value, not an option
        else:
            args += [f"--{name}", _option_text(value)]
    return args


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)[:200] or "run"


def _default_id(options: Mapping[str, Any]) -> str:
    return _safe_id(",".join(f"{str(k).replace('_', '-')}={_option_text(v)}" for k, v in options.items()))


class _Run:
    """One run: its id, its ``smallnet train`` arguments and the configuration it came from."""

    def __init__(self, config: Mapping[str, Any] | Sequence[str]):
        if isinstance(config, (list, tuple)):
            config = {"args": list(config)}
        if not isinstance(config, Mapping):
            raise TypeError(f"a run is a dict of `smallnet train` options or of id and args, got {type(config).__name__}")
        config = dict(config)
        run_id = config.pop("id", None)
        if "args" in config:
            args = [str(a) for a in config.pop("args")]
            if config:
                raise ValueError(f"a run gives either args or options, not both: {sorted(config)}")
            if not args or args[0] != "train":
                args = ["train", *args]
            for a in args:
                if a.startswith("--") and a[2:].split("=")[0] in RESERVED:
                    raise ValueError(f"run argument {a!r} is set by {RESERVED[a[2:].split('=')[0]]}")
            self.options = None
            self.args = args
            run_id = run_id or _safe_id("-".join(a.lstrip("-") for a in args[1:]))
        else:
            self.options = config
            self.args = _arguments(config)
            run_id = run_id or _default_id(config)
        if not isinstance(run_id, str) or not run_id or _safe_id(run_id) != run_id:
            raise ValueError(f"a run id must be a non-empty file-name-safe string (letters, digits, ._=,+-), got {run_id!r}")
        self.id = run_id

    @property
    def settings(self) -> str:
        """What ``ID.args`` holds: the arguments one per line (as ``smallnet study`` writes them)."""
        return "\n".join(self.args) + "\n"


def grid(axes: Mapping[str, Any] | None = None, /, **more: Any) -> list[dict[str, Any]]:
    """Every combination of a dict of lists, as run configurations for :func:`sweep`.

    Lists (and tuples) are axes; other values are shared by all runs. The last axis varies
    fastest. Each run's ``id`` is made of the values that vary, e.g. ``params=50000,seed=1``.

    Args:
        axes: ``smallnet train`` options (``arch``, ``params``, ``optimizer``, ``lr``, ``seed``,
            ``epochs``, ``train_limit``, ...), each a value or a list of values.
        **more: more options, the same way.

    Example:
        >>> smallnet.grid({"arch": "cnn", "params": 100_000, "optimizer": ["sgd", "adam"], "lr": [0.01, 0.005]})
        [{'arch': 'cnn', 'params': 100000, 'optimizer': 'sgd', 'lr': 0.01, 'id': 'optimizer=sgd,lr=0.01'}, ...]
    """
    options = {**(axes or {}), **more}
    if "id" in options:
        raise ValueError("grid() makes each run's id itself")
    # A comma-separated option (hidden=[256, 128]) is one value: give it as a tuple inside a list.
    values = {k: (list(v) if isinstance(v, list) else [v]) for k, v in options.items()}
    varying = [k for k, v in values.items() if len(v) > 1]
    runs = []
    for combination in itertools.product(*values.values()):
        run = dict(zip(values, combination))
        run["id"] = _default_id({k: run[k] for k in varying}) if varying else "run"
        runs.append(run)
    return runs


def study_runs(quick: bool = False, seeds: int = 1, only: Sequence[str] = (), cli: str | None = None) -> list[dict[str, Any]]:
    """The runs of ``smallnet study`` (``--list --format json``): a list of ``{"id", "args"}``
    for :func:`sweep`, e.g. ``sweep(study_runs(quick=True), client, out="study/runs")``."""
    command = [_find_cli(cli), "study", "--list", "--format", "json", "--seeds", str(seeds)]
    if quick:
        command.append("--quick")
    if only:
        command += ["--only", *only]
    listed = subprocess.run(command, capture_output=True, text=True)
    if listed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {listed.stderr.strip()}")
    return [{"id": r["id"], "args": r["args"]} for r in json.loads(listed.stdout)]


# ---------------------------------------------------------------------------------------------
# One run, where an executor placed it


def _find_cli(hint: str | None = None) -> str:
    """The ``smallnet`` executable: $SMALLNET_CLI, then ``hint``, then PATH, then the source tree's build."""
    candidates = [os.environ.get("SMALLNET_CLI"), hint, shutil.which("smallnet"),
                  str(Path(__file__).resolve().parents[2] / ".build" / "release" / "smallnet")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise FileNotFoundError(f"the smallnet command-line tool is not on {socket.gethostname()}: "
                            "set SMALLNET_CLI, put smallnet on PATH (make install), or build it (make build)")


def _error_line(log: str, returncode: int) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("smallnet: error:", "Error:"))]
    if errors:
        return errors[-1].removeprefix("smallnet: error:").removeprefix("Error:").strip()
    return f"exit status {returncode}" + (f": {lines[-1]}" if lines else "")


def _where() -> str:
    """The Dask worker's address, or this host's name."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return socket.gethostname()


def _execute(run_id: str, args: list[str], threads: int, data: str | None, save: bool,
             cli: str | None) -> dict[str, Any]:
    """Runs ``smallnet train`` here with ``threads`` threads; returns the outcome.

    A run that fails for its own reasons (bad options, divergence) returns status "failed" and
    its error. Raises :class:`RunInterrupted` when the process was killed by a signal.
    """
    start = time.monotonic()
    outcome: dict[str, Any] = {"id": run_id, "status": "failed", "error": None, "result": None, "log": "",
                               "weights": None, "threads": threads, "host": socket.gethostname(), "worker": _where()}
    try:
        executable = _find_cli(cli)
    except FileNotFoundError as error:
        outcome["error"] = str(error)
        return outcome
    with tempfile.TemporaryDirectory(prefix="smallnet-run-") as scratch:
        result_path = os.path.join(scratch, "result.json")
        checkpoint = os.path.join(scratch, "model.safetensors")
        command = [executable, *args, "--threads", str(threads), "--json", result_path]
        if data:
            command += ["--data", data]
        if save:
            command += ["--save", checkpoint]
        # The run ends with this process (a killed worker takes its run with it, see ParentWatch.swift).
        environment = {**os.environ, PARENT_VARIABLE: str(os.getpid())}
        process = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment,
                                 stdin=subprocess.DEVNULL)
        log = process.stdout.decode("utf-8", errors="replace")
        outcome["log"] = log[-LOG_LIMIT:]
        outcome["wall_seconds"] = time.monotonic() - start
        if process.returncode < 0:
            raise RunInterrupted(f"{run_id}: the training process on {outcome['worker']} was killed by signal "
                                 f"{-process.returncode}")
        if process.returncode == 0 and os.path.isfile(result_path):
            with open(result_path, encoding="utf-8") as f:
                outcome["result"] = json.load(f)
            outcome["status"] = "ok"
            if save:
                with open(checkpoint, "rb") as f:
                    outcome["weights"] = f.read()
        else:
            outcome["error"] = _error_line(log, process.returncode)
    return outcome


def _execute_on_ray(run_id, args, threads, data, save, cli):
    """:func:`_execute` with the CPUs Ray assigned to this task."""
    import ray

    granted = ray.get_runtime_context().get_assigned_resources().get("CPU", threads)
    return _execute(run_id, args, max(1, int(granted)), data, save, cli)


# ---------------------------------------------------------------------------------------------
# Executors: each yields (run, outcome or exception) as runs finish


def _local(runs: list[_Run], call: Callable[[_Run, int], dict], threads: int, jobs: int | None,
           retries: int) -> Iterator[tuple[_Run, Any]]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    jobs = jobs or max(1, cpus // threads)

    def attempt(run: _Run) -> dict:
        for tries in range(retries + 1):
            try:
                return call(run, threads)
            except RunInterrupted:
                if tries == retries:
                    raise

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(attempt, run): run for run in runs}
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], (future.exception() or future.result())


def _dask(client, runs: list[_Run], call_args: Callable[[_Run, int], tuple], threads: int,
          retries: int) -> Iterator[tuple[_Run, Any]]:
    from distributed import as_completed

    resources = None
    if threads > 1:
        # A Dask worker grants each task one of its threads; runs of more threads reserve them
        # through a resource the workers declare (dask worker --resources threads=N).
        workers = client.scheduler_info().get("workers", {}).values()
        if not any(w.get("resources", {}).get("threads", 0) >= threads for w in workers):
            raise ValueError(f"runs of {threads} threads need Dask workers started with --resources threads={threads} "
                             "(or more); with threads=1 each run takes one worker thread")
        resources = {"threads": threads}
    tag = uuid.uuid4().hex[:8]
    futures = {client.submit(_execute, *call_args(run, threads), key=f"smallnet-{run.id}-{tag}", pure=False,
                             retries=retries, resources=resources): run for run in runs}
    try:
        for future in as_completed(futures, loop=client.loop):
            try:
                outcome = future.result()
            except Exception as error:  # noqa: BLE001  (KilledWorker, RunInterrupted after retries, ...)
                outcome = error
            yield futures[future], outcome
    finally:
        client.cancel(list(futures))


def _ray(runs: list[_Run], call_args: Callable[[_Run, int], tuple], threads: int,
         retries: int) -> Iterator[tuple[_Run, Any]]:
    import ray

    _pickle_by_value("ray.cloudpickle")
    remote = ray.remote(_execute_on_ray).options(num_cpus=threads, max_retries=retries,
                                                 retry_exceptions=[RunInterrupted])
    refs = {remote.remote(*call_args(run, threads)): run for run in runs}
    try:
        while refs:
            (ref,), _ = ray.wait(list(refs), num_returns=1)
            run = refs.pop(ref)
            try:
                outcome = ray.get(ref)
            except Exception as error:  # noqa: BLE001  (WorkerCrashedError, RayTaskError after retries)
                outcome = error
            yield run, outcome
    finally:
        for ref in refs:
            ray.cancel(ref, force=True)


def _pickle_by_value(module_name: str) -> None:
    """Ships this module's code with Ray's tasks, so that Ray's workers need the smallnet tool,
    not this package (nothing to do when it runs as a script: __main__ goes by value). Dask
    pickles a task graph as a whole, by reference: its workers import smallnet.sweeps."""
    if __name__ == "__main__":
        return
    try:
        import importlib

        importlib.import_module(module_name).register_pickle_by_value(sys.modules[__name__])
    except (ImportError, AttributeError, ValueError):
        pass


# ---------------------------------------------------------------------------------------------
# Where results are kept


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class _Store:
    """A directory of results, the layout of ``smallnet study``'s ``runs/``: ``ID.args`` (the
    run's arguments, written when it starts), ``ID.json`` (its record, written when it ends),
    ``ID.log`` and, with ``save``, ``ID.safetensors``."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, run_id: str, suffix: str) -> Path:
        return self.directory / f"{run_id}{suffix}"

    def done(self, run: _Run) -> dict | None:
        """The stored record of a run made with the same arguments and not failed, else None."""
        try:
            if self.path(run.id, ".args").read_text(encoding="utf-8") != run.settings:
                return None
            record = json.loads(self.path(run.id, ".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and record.get("status", "ok") != "failed" else None

    def begin(self, run: _Run) -> None:
        # The stale record goes first, so that a stop from here on leaves the run missing.
        self.path(run.id, ".json").unlink(missing_ok=True)
        _write_atomically(self.path(run.id, ".args"), run.settings.encode())

    def save(self, record: dict, log: str, weights: bytes | None) -> None:
        _write_atomically(self.path(record["id"], ".log"), log.encode())
        if weights is not None:
            path = self.path(record["id"], ".safetensors")
            _write_atomically(path, weights)
            record["checkpoint"] = str(path)
        _write_atomically(self.path(record["id"], ".json"),
                          (json.dumps(record, indent=2, allow_nan=False) + "\n").encode())


def _record(run: _Run, outcome: Any, retries: int) -> tuple[dict, str, bytes | None]:
    """The record of a finished run (and its log and weights) from its outcome or exception."""
    if isinstance(outcome, BaseException):
        name = type(outcome).__name__
        error = f"{name}: {outcome}"
        if name == "KilledWorker":
            error = f"the workers running it died each time ({outcome})"
        elif isinstance(outcome, RunInterrupted) or name in ("RunInterrupted", "WorkerCrashedError"):
            error = f"interrupted {retries + 1} times; last: {outcome}"
        outcome = {"id": run.id, "status": "failed", "error": error, "result": None, "log": "", "weights": None}
    record: dict[str, Any] = {"id": run.id, "status": outcome["status"], "error": outcome["error"],
                              "args": run.args, "options": run.options}
    for key in ("threads", "host", "worker", "wall_seconds"):
        if key in outcome:
            record[key] = outcome[key]
    if outcome["result"]:
        record.update(outcome["result"])
        record["checkpoint"] = None
    return record, outcome["log"], outcome["weights"]


def _report(record: dict) -> None:
    where = f" on {record['worker']}" if record.get("worker") else ""
    if record["status"] == "ok":
        print(f"  finished {record['id']}{where} in {record.get('wall_seconds', 0):.1f} s: "
              f"test accuracy {100 * record['test_accuracy']:.2f} %", flush=True)
    else:
        print(f"  FAILED {record['id']}{where}: {record['error']}", flush=True)


# ---------------------------------------------------------------------------------------------
# The sweep


def sweep(runs: Iterable[Mapping[str, Any] | Sequence[str]], executor: Any = None, *,
          out: str | os.PathLike | None = None, threads: int = 1, jobs: int | None = None, retries: int = 2,
          data: str | None = None, save: bool = False, cli: str | None = None,
          progress: bool | Callable[[dict], Any] = False) -> list[dict[str, Any]]:
    """Runs every configuration as a ``smallnet train`` process and returns one record per run.

    Args:
        runs: run configurations: dicts of ``smallnet train`` options (``{"arch": "cnn",
            "params": 50_000, "seed": 1, "epochs": 5}``, optionally with an ``id``), dicts of
            ``id`` and ``args`` (the tool's arguments, as :func:`study_runs` gives them), or
            argument lists. :func:`grid` expands a dict of lists.
        executor: None (local processes, ``jobs`` at a time), a ``dask.distributed.Client`` or a
            scheduler address ``"tcp://host:8786"`` (one run per worker thread), or ``"ray"`` (Ray,
            initialised by ``ray.init`` or here; one task of ``threads`` CPUs per run).
        out: a directory for the results: each run's record is written there when it finishes, and
            runs already there with the same arguments are not run again (a stopped sweep resumes).
        threads: threads per run, granted by the executor: Dask runs of more than one thread
            need workers started with ``--resources threads=N``; Ray reserves ``num_cpus``.
        jobs: local runs at a time (default: the usable CPUs divided by ``threads``).
        retries: how many times a run whose process was killed (a signal, the OOM killer) is
            run again; a Dask worker that dies mid-run is replaced by another up to the
            scheduler's ``allowed-failures`` (3 by default), Ray's by ``max_retries``.
        data: the FashionMNIST directory on the machines that run the runs (default: theirs).
        save: keep each trained model: ``out/ID.safetensors`` (``record["checkpoint"]``), or the
            file's bytes in ``record["weights"]`` without ``out``.
        cli: the ``smallnet`` executable (default: $SMALLNET_CLI, PATH, the source tree's build).
        progress: True prints a line per finished run; a callable receives each record.

    Returns:
        One dict per run, in the order of ``runs``: ``id``, ``status`` ("ok" or "failed"),
        ``error``, ``args``, ``options``, ``threads``, ``worker``, ``host``, ``wall_seconds`` and,
        for finished runs, what ``smallnet train --json`` writes (``test_accuracy``,
        ``test_loss``, ``history``, ``params``, ``train_seconds``, ``config``, ``confusion``, ...)
        with ``checkpoint``. A failed run does not stop the others.

    Example:
        >>> records = smallnet.sweep(smallnet.grid(arch="fcn", params=[50_000, 100_000], epochs=5), out="sweep")
    """
    plan = [_Run(config) for config in runs]
    seen: set[str] = set()
    for run in plan:
        if run.id in seen:
            raise ValueError(f"two runs have the id {run.id!r}; give them distinct ids")
        seen.add(run.id)
    if not (isinstance(threads, int) and 1 <= threads <= 64):
        raise ValueError(f"threads must be an integer in 1...64, got {threads!r}")
    if not (isinstance(retries, int) and retries >= 0):
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    report = _report if progress is True else (progress if callable(progress) else None)
    store = _Store(out) if out is not None else None
    records: dict[str, dict] = {}
    pending = []
    for run in plan:
        stored = store.done(run) if store else None
        if stored is not None:
            records[run.id] = stored
        else:
            pending.append(run)
    if store:
        for run in pending:
            store.begin(run)
    cli = cli or _resolve_client_cli()

    def call_args(run: _Run, run_threads: int) -> tuple:
        return run.id, run.args, run_threads, data, save, cli

    if not pending:
        finished: Iterable[tuple[_Run, Any]] = ()
    elif executor is None:
        finished = _local(pending, lambda run, t: _execute(*call_args(run, t)), threads, jobs, retries)
    elif isinstance(executor, str) and executor == "ray":
        finished = _ray(pending, call_args, threads, retries)
    elif isinstance(executor, str):
        from distributed import Client

        client = Client(executor, set_as_default=False)
        finished = _closing(_dask(client, pending, call_args, threads, retries), client)
    elif type(executor).__module__.split(".")[0] == "distributed" and hasattr(executor, "submit"):
        finished = _dask(executor, pending, call_args, threads, retries)
    else:
        raise TypeError(f"executor must be None, a dask.distributed.Client, a scheduler address or 'ray', got {executor!r}")
    for run, outcome in finished:
        record, log, weights = _record(run, outcome, retries)
        if store:
            store.save(record, log, weights)
        elif weights is not None:
            record["weights"] = weights
        records[run.id] = record
        if report:
            report(record)
    return [records[run.id] for run in plan]


def _closing(iterator: Iterator, client) -> Iterator:
    try:
        yield from iterator
    finally:
        client.close()


def _resolve_client_cli() -> str | None:
    try:
        return _find_cli()
    except FileNotFoundError:
        return None  # the workers may still have one


def _watch_parent() -> None:
    """Started by ``smallnet study`` ($SMALLNET_PARENT_PID): exits when the study is gone."""
    try:
        parent = int(os.environ.get(PARENT_VARIABLE, "0"))
    except ValueError:
        return
    if parent <= 1:
        return
    if os.getppid() != parent:
        os._exit(3)

    def watch():
        while os.getppid() == parent:
            time.sleep(0.1)
        print("smallnet sweep: the study that started it has ended; stopping", file=sys.stderr)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    """``python3 -m smallnet.sweeps --plan PLAN.json --out DIR [--scheduler ADDRESS]``: the runs
    of a plan (a JSON list of ``{"id", "args"}``) into DIR. ADDRESS is a Dask scheduler
    (``tcp://host:8786``), ``ray`` (the running Ray cluster) or ``ray://host:10001``. Exit
    status 0 when every run finished, 1 when some failed (recorded in DIR), 2 otherwise."""
    parser = argparse.ArgumentParser(prog="smallnet-sweep", description=main.__doc__)
    parser.add_argument("--plan", required=True, help="JSON list of runs: {id, args}")
    parser.add_argument("--out", required=True, help="directory of the runs' results")
    parser.add_argument("--scheduler", help="tcp://HOST:PORT (Dask), ray or ray://HOST:PORT (Ray); local without it")
    parser.add_argument("--threads", type=int, default=1, help="threads per run (default 1)")
    parser.add_argument("--jobs", type=int, help="local runs at a time")
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--data", help="FashionMNIST directory on the workers")
    parser.add_argument("--cli", help="the smallnet executable")
    options = parser.parse_args(argv)
    _watch_parent()
    try:
        with open(options.plan, encoding="utf-8") as f:
            plan = json.load(f)
        executor: Any = options.scheduler
        if executor and executor.startswith("ray"):
            import ray

            ray.init(address="auto" if executor == "ray" else executor, log_to_driver=False)
            executor = "ray"
        records = sweep(plan, executor, out=options.out, threads=options.threads, jobs=options.jobs,
                        retries=options.retries, data=options.data, cli=options.cli, progress=True)
    except ImportError as error:
        print(f"smallnet sweep: error: {error} (pip install 'smallnet[dask]' or 'smallnet[ray]')", file=sys.stderr)
        return 2
    except (OSError, ValueError, TypeError, RuntimeError) as error:
        print(f"smallnet sweep: error: {error}", file=sys.stderr)
        return 2
    return 1 if any(r["status"] != "ok" for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
