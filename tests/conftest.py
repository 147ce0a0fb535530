"""Shared by the Python suites under tests/: a real Dask cluster (`dask scheduler` and one-thread
`dask worker` processes on 127.0.0.1), started the way the README starts one on several hosts."""
from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class DaskCluster:
    address: str
    scheduler: subprocess.Popen
    #: The worker processes by process id (with --no-nanny a worker is its process).
    workers: dict[int, subprocess.Popen] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A scheduler and two workers of one thread each, with this process's environment; the
    workers run without a nanny, so that a worker killed stays dead. Ended with the module."""
    pytest.importorskip("distributed")
    from distributed import Client

    scratch = tmp_path_factory.mktemp("dask")
    port = free_port()
    logs = []

    def start(*args, name):
        log = open(scratch / f"{name}.log", "wb")
        logs.append(log)
        return subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=log, stderr=subprocess.STDOUT, cwd=scratch)

    address = f"tcp://127.0.0.1:{port}"
    cluster = DaskCluster(address, start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                                         name="scheduler"))
    for i in range(2):
        process = start("worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", f"w{i}",
                        "--local-directory", str(Path(scratch) / f"w{i}"), name=f"w{i}")
        cluster.workers[process.pid] = process
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield cluster
    finally:
        processes = [*cluster.workers.values(), cluster.scheduler]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
