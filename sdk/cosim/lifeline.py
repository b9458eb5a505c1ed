"""The simulator's lifeline to its host: a simulator whose host process has died stops.

A simulator server (sim_server.py, board_server.py) is a child of the host process that launched
it (sdk/builds/verilator.py ``SimulatorSession``), or of the ``mpiexec`` that process launched. If the
host is killed, nothing else would end it: between commands the server waits on its socket, but
during a long ``run`` it only steps the mesh, so it would keep simulating with nobody to answer.
The host passes its process id in the configuration (``host_pid``); ``watch_host`` forks a small
watcher process that checks every ``period`` seconds that the host still exists. When the host is
gone, the watcher writes why to the run's failure file (``TESSERA_FAILURE_FILE``, if set) and kills
the simulator (SIGKILL); when the simulator ends first, the watcher ends too.

A process, not a thread: cocotb holds the interpreter lock while the simulator runs, so a thread
of the simulator's Python would not run during a long run (measured: it never woke up).

Interface:
    watch_host(config, period=0.5) -> int | None   the watcher's pid; None when the config names no host
"""

from __future__ import annotations

import os
import signal
import time

from ..builds.verilator import FAILURE_ENV

__all__ = ["watch_host"]


def _alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie has: only its exit status is left)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _watch(host: int, sim: int, period: float) -> None:
    """The watcher's loop (in the forked child); never returns."""
    try:
        # hold none of the simulator's files: its socket and its output pipes must close with it
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 65536)
        while os.getppid() == sim:
            if not _alive(host):
                path = os.environ.get(FAILURE_ENV)
                if path:
                    with open(path, "a") as f:
                        f.write(f"the host process {host} is gone: its simulator (pid {sim}) was stopped\n")
                os.kill(sim, signal.SIGKILL)
                break
            time.sleep(period)
    finally:
        os._exit(0)


def watch_host(config: dict, period: float = 0.5) -> int | None:
    host = config.get("host_pid")
    if host is None:
        return None
    sim = os.getpid()
    child = os.fork()
    if child == 0:
        _watch(int(host), sim, period)
    return child
