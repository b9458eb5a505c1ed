"""What every engine does: the mesh seen from its edge links.

The runtime (sdk/runtime.py) speaks only this interface, so the same host program runs on every
engine: the Verilator models of the mesh (native, hierarchical, flat), the golden PE-mesh model,
and an FPGA board (or its simulation) behind the serial bridge.

Interface:
    Engine(rows, cols, profile)
        .name, .rows, .cols, .profile, .cycle_accurate, .memory_zero
        .reset()                                  power-on state: routes empty, PEs stopped
        .load(streams, settle=True) -> cycles | None   management streams {row: [Wavelet]} into the
                                                  west links; returns once every row's echo has
                                                  left the east edge (the echo is discarded) and,
                                                  with settle, once nothing moves any more
        .inject(link, wavelets)                   queue wavelets on an edge input link
        .run(until, max_idle, progress=0, counters=False, trace=None) -> RunResult   (until: see
                                                  Until; counters: RunResult.activity holds the
                                                  tiles' counters over the run; trace: a
                                                  checked sdk/trace.py TraceSpec, RunResult.trace)
        .probe() -> sdk.activity.Activity         every tile's counters and status now (engines that
                                                  see inside their tiles: native, flat)
        .take() -> {EdgeLink: [Wavelet]}          wavelets that left the edge since the last take
        .status() -> MeshStatus                   row flags and fault reports
        .note(text)                               a progress line in the engine's log
        .close()
    Until                                         the stop conditions of run() (an object; its
                                                  JSON form, to_wire(), only on the simulator wire):
        Until.idle()       every queued input has entered, every PE is idle and nothing moves
        Until.cycles(n)    n clock cycles
        Until.outputs({link: (color, count)})    that many wavelets of that color collected (and
                                                  not yet taken) on each link
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from hdl.mesh import EdgeLink
from hdl.profiles import get_profile

from ..records import MeshStatus, RunResult, SdkError

__all__ = ["Engine", "Until"]


@dataclass(frozen=True)
class Until:
    """A stop condition of ``Engine.run``: ``kind`` "idle", "cycles" (``n`` of them) or "outputs"
    (``links``: {EdgeLink: (color, count)}). Made by ``Until.idle()``, ``Until.cycles(n)``,
    ``Until.outputs({link: (color, count)})`` or ``Until.of(...)``; an engine's wire form is
    ``to_wire()`` (JSON, sdk/engines/wire.py)."""
    kind: str
    n: int = 0
    links: tuple = ()  # ((EdgeLink, color, count), ...)

    @staticmethod
    def idle() -> Until:
        return Until("idle")

    @staticmethod
    def cycles(n: int) -> Until:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise SdkError(f"run for {n!r} cycles: a non-negative integer is needed")
        return Until("cycles", n=n)

    @staticmethod
    def outputs(expect: dict) -> Until:
        links = []
        for link, (color, count) in expect.items():
            links.append((EdgeLink.of(link), int(color), int(count)))
        return Until("outputs", links=tuple(links))

    @staticmethod
    def of(until) -> Until:
        """A stop condition from "idle", an int (cycles) or an Until."""
        if until == "idle":
            return Until.idle()
        if isinstance(until, int) and not isinstance(until, bool):
            return Until.cycles(until)
        if isinstance(until, Until):
            return until
        raise SdkError(f"run(until={until!r}): expected 'idle', a number of cycles, or Until.outputs(...)")

    def expected(self) -> dict:
        """{EdgeLink: (color, count)} of an "outputs" condition (empty for the others)."""
        return {link: (color, count) for link, color, count in self.links}

    def to_wire(self) -> dict:
        """The JSON form the simulator side reads (sdk/cosim/sim_server.py)."""
        if self.kind == "outputs":
            return {"kind": "outputs", "links": {str(link): [c, n] for link, c, n in self.links}}
        return {"kind": self.kind, "n": self.n} if self.kind == "cycles" else {"kind": self.kind}


class Engine(ABC):
    name = "engine"
    cycle_accurate = True
    #: every PE memory is zero (a new simulation, nothing loaded yet); a board opened over a
    #: serial port may hold an earlier program's data, so it says False
    memory_zero = True

    def __init__(self, rows: int, cols: int, profile="small"):
        self.rows, self.cols = rows, cols
        self.profile = get_profile(profile)

    @abstractmethod
    def reset(self): ...

    @abstractmethod
    def load(self, streams: dict, settle: bool = True) -> int | None: ...

    @abstractmethod
    def inject(self, link: EdgeLink, wavelets): ...

    @abstractmethod
    def run(self, until: dict, max_idle: int = 20000, progress: int = 0, counters: bool = False,
            trace: dict | None = None) -> RunResult: ...

    def probe(self):
        raise SdkError(f"the {self.name} engine cannot read its tiles' counters (the native and flat engines can)")

    def _no_probes(self, counters, trace):
        """Refuse counters or a trace on an engine without probes, before anything runs."""
        if counters or trace:
            what = "per-tile counters" if counters else "a timeline trace"
            raise SdkError(f"{what}: the {self.name} engine has none (the native engine has both; flat has counters)")

    @abstractmethod
    def take(self) -> dict: ...

    @abstractmethod
    def status(self) -> MeshStatus: ...

    def note(self, text: str):
        print(text, flush=True)

    def close(self):  # noqa: B027 - engines with nothing to release keep this one
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
