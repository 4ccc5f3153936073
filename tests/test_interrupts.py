"""Commands that end when asked and never wait for ever: SIGTERM and Ctrl-C stop the worker
processes, a pipe or device given as a file is refused at once, and a Dask address is checked
and given a time limit (issue 11).

Each test's docstring names the finding of issue 11 ("Why", 1 to 11) it guards.
"""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, SCENARIOS

from sim.cli.main import main
from sim.run import executors

BASELINE = str(SCENARIOS / "baseline.yaml")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and FIFOs")


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_workers(**popen) -> tuple[subprocess.Popen, list[int]]:
    """``run --workers 2`` on a long run, once both workers are up: (process, worker ids)."""
    args = [sys.executable, "-m", "sim", "run", BASELINE, "--reps", "100000", "--workers", "2",
            "--executor", "process", "--quiet"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while len(workers) < 2:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.1)
        workers = _children(proc.pid)
    time.sleep(1.0)  # the workers are busy with their first blocks
    return proc, workers


def _ended(proc: subprocess.Popen, workers: list[int]) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [w for w in workers if _alive(w)]
    for w in survivors:  # never leave this test's processes behind
        os.kill(w, signal.SIGKILL)
    assert not survivors, f"workers {survivors} outlived the command"
    return proc.returncode, err


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_sigterm_ends_the_worker_processes():
    """Finding 10: SIGTERM to ``run --workers 2`` left both pool workers alive. Now the
    command stops them, says "terminated" and exits 143."""
    proc, workers = _start_workers()
    proc.send_signal(signal.SIGTERM)
    status, err = _ended(proc, workers)
    assert status == 143 and err.strip() == "terminated", err


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_ctrl_c_ends_the_worker_processes():
    """Finding 10: Ctrl-C (SIGINT to the whole process group, as a terminal sends it) ends
    the command and its workers, with one line and exit status 130."""
    proc, workers = _start_workers(start_new_session=True)
    os.killpg(proc.pid, signal.SIGINT)
    status, err = _ended(proc, workers)
    assert status == 130 and err.strip() == "interrupted", err


@pytest.mark.slow
def test_ctrl_c_at_any_moment_of_the_start_ends_the_command():
    """Ctrl-C while the command loads or forks its workers: it was lost about one time in 40
    in the fork's handlers (the command then waited for ever) or printed a traceback. Now
    every one ends in one line and exit status 130, within 20 s."""
    args = [sys.executable, "-m", "sim", "run", BASELINE, "--reps", "100000", "--workers", "2",
            "--executor", "process", "--quiet"]
    for k in range(24):
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        time.sleep(0.2 + 0.05 * k)
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.returncode == 130 and err.strip() == "interrupted", (k, err)


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", [
    ["run", "{fifo}", "--reps", "2"],
    ["validate", "{fifo}"],
    ["sensitivity", BASELINE, "--ranges", "{fifo}", "--reps", "2"],
    ["forecast", BASELINE, "--observed", "{fifo}", "--as-of", "2016-06-01", "--reps", "2"],
    ["run", "/dev/zero", "--reps", "2"],
], ids=["scenario", "validate", "ranges", "observed", "device"])
def test_a_pipe_or_device_is_refused_at_once(command, fifo):
    """Finding 10: a FIFO passed as a scenario, ``--ranges`` or ``--observed`` hung for
    ever (reading waits for a writer); now it is refused at once with one line."""
    args = [a.replace("{fifo}", str(fifo)) for a in command]
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sim", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert time.monotonic() - started < 30
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "not a regular file" in proc.stderr, proc.stderr


@pytest.mark.parametrize("address", ["garbage", "http://x:1", "tcp://[::1", "tcp://host:99999",
                                     "tcp://host:port", "ftp://host:8786"])
def test_a_malformed_dask_address_is_one_line(address, capsys):
    """Finding 4: ``dask:garbage`` and ``dask:http://x:1`` gave ValueError tracebacks; a
    malformed address is now one line naming it, before anything connects."""
    assert main(["run", BASELINE, "--reps", "2", "--quiet", "--executor",
                 f"dask:{address}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"dask:{address}" in err and "tcp://HOST:PORT" in err, err


class _Quiet(http.server.BaseHTTPRequestHandler):
    """An HTTP server's handler, silent in the test's output (it waits for a request line
    for ever, as the standard one does)."""

    def log_message(self, *args: object) -> None:
        pass


def test_a_listener_that_is_not_dask_is_given_up_on_in_time(monkeypatch, capsys):
    """Finding 4: ``--executor dask:tcp://127.0.0.1:PORT`` where PORT is an HTTP server
    hung indefinitely; now the connection has a time limit, then one line: nothing
    Dask-like answered at the address."""
    pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1.0)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    address = f"tcp://127.0.0.1:{server.server_address[1]}"
    try:
        started = time.monotonic()
        status = main(["run", BASELINE, "--reps", "20", "--quiet", "--executor",
                       f"dask:{address}"])
        took = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert status == 2 and took < 30, (status, took, err)
    assert err.count("\n") == 1, err
    assert f"nothing Dask-like answered at {address} within 1.5 s" in err, err
