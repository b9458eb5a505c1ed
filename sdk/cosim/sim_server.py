"""The simulator side of the Verilator engines: a cocotb test that serves host operations.

``serve`` runs inside the simulator process (cocotb on Verilator) on any build with the generated
mesh top's ports (hdl/mesh.py ``tessera_mesh``: native, hierarchical or flat). It connects to the
Unix socket the host engine (sdk/engines/sim.py) listens on and executes its commands one at a
time, stepping the mesh with sdk/cosim/edge.py; the simulation only advances inside a command.

Messages are JSON objects, each preceded by its length (sdk/engines/wire.py). Commands and replies:

    {"cmd": "reset"}                                   -> {}
    {"cmd": "load", "streams": {row: [[c, p, k]]}, "settle": bool}
                                                       -> {"cycles"}: cycles from the first
                                                          management wavelet to the last echo;
                                                          with settle, the mesh then runs until
                                                          nothing moves (tasks started by the load
                                                          run to where they wait)
    {"cmd": "inject", "link": "W0", "wavelets": [...]} -> {}
    {"cmd": "run", "until", "max_idle", "progress", "counters", "trace", "settle", "fault_every"}
                                                       -> {"cycles", "reason", "busy_rows",
                                                          "wall_seconds", "activity", "trace",
                                                          "autopilot_cycles"}
    {"cmd": "take"}                                    -> {"outputs": {"E0": [[c, p, k]]}}
    {"cmd": "status"}                                  -> {"row_err", "row_idle", "row_halted",
                                                          "row_fault": [int per row] | null,
                                                          "faults": [Fault dict] | null}
    {"cmd": "probe"}                                   -> {"activity": Activity dict}
    {"cmd": "note", "text"}                            -> {}   (logged by the simulator)
    {"cmd": "close"}                                   ends the test
A command that fails answers {"error": "..."}; the server keeps serving.

``run``: ``until`` is a stop condition of sdk/engines/base.py ``Until``. ``cycles`` counts from the
first cycle of the run to the cycle the condition was met (for "idle", the last cycle in which
anything moved or a PE was busy). The run also stops — reason "fault" — when a row raises its
error flag (checked every 1024 cycles, then given time for the fault report to reach the edge),
and — reason "stalled" — when nothing entered or left the mesh for ``max_idle`` cycles. With
``counters`` the reply's ``activity`` is the tiles' counters over the run (sdk/activity.py, cycles
set); with ``trace`` (sdk/trace.py ``TraceSpec.to_dict()``, native engine) ``trace`` is the raw trace
of the run's window. On a native mesh, whenever the harness draws nothing at random, the run's
cycles are played in C++ by the edge autopilot (sdk/cosim/autopilot.py) with the same tests in
the same order; ``autopilot_cycles`` says how many.

Probes (hdl/probe.py): the native engine reads every tile's probe from its C++ mesh (through
ctypes), the flat engine from each tile's port in the Verilog hierarchy; the hierarchical engine
cannot see inside its tiles. ``status`` then lists every faulty tile from the probes (status word,
router error flags, drop counter); without probes, the westernmost faulty tile of each row from
the fault chain.
"""

from __future__ import annotations

import ctypes
import random
import socket
import time

import cocotb
import numpy as np

from hdl.mesh import EdgeLink
from hdl.probe import PROBE
from hdl.profiles import get_profile
from hdl.wavelet import Port

from ..activity import Activity
from ..builds.verilator import tb_config
from ..engines.wire import recv_msg, send_msg
from .autopilot import Autopilot
from .edge import IDLE_QUIET, EdgeHarness, NoProgress, value_of
from .lifeline import watch_host


class Server:
    def __init__(self, dut, rows, cols, profile, seed=1):
        self.dut, self.rows, self.cols = dut, rows, cols
        self.prof = get_profile(profile)
        self.h = EdgeHarness(dut, rows, cols, self.prof.colors, random.Random(seed))
        for d in self.h.drivers.values():
            d.log = _Discard()  # the server never replays stimulus; keep memory flat on long runs
        self.log = dut._log
        self.probes = Probes(dut, rows, cols)
        self.auto = Autopilot(dut, self.h)

    async def reset(self, msg):
        await self.h.reset()
        self.h.clear()
        return {}

    async def load(self, msg):
        """Every row's management stream into its west link; wait for every row's echo at the east
        edge (each tile has then seen its last write) and, with settle, for the mesh to settle."""
        m = self.prof.mgmt_color
        streams = {int(r): s for r, s in msg["streams"].items() if len(s)}
        expect = {}
        for r, stream in streams.items():
            for w in stream:
                self.h.drivers[EdgeLink(Port.W, r)].send(*w)
            east = EdgeLink(Port.E, r)
            before = sum(1 for w in self.h.monitors[east].received if w.color == m)
            expect[east] = (m, before + len(stream))
        cycles = 0
        if expect:
            # every row's echo at its east edge is the run loop's "outputs" test (in C++ under the
            # autopilot): each tile has then seen its last write
            res = await self.run({"until": {"kind": "outputs"}, "max_idle": 20000, "settle": 0, "fault_every": 0},
                                 expect)
            if res["reason"] != "outputs":
                raise NoProgress(f"management streams not echoed at the east edge ({res['reason']} after "
                                 f"{res['cycles']} cycles)")
            cycles = res["cycles"]
        if msg.get("settle", True):
            await self.h.run_until_idle(quiet=IDLE_QUIET)
        for r in range(self.rows):  # the echo is the loader's, not the program's
            mon = self.h.monitors[EdgeLink(Port.E, r)]
            mon.received = [w for w in mon.received if w.color != m]
        return {"cycles": cycles}

    async def inject(self, msg):
        drv = self.h.drivers[self._link(msg["link"])]
        for w in msg["wavelets"]:
            drv.send(*w)
        return {}

    def _link(self, name: str) -> EdgeLink:
        """The EdgeLink a wire message names ("W3"), checked against the mesh."""
        return EdgeLink.parse(name).check(self.rows, self.cols)

    def _faulty(self):
        st = self.h.row_status()
        return any(st["err"]) or any(st["halted"])

    async def run(self, msg, expect: dict | None = None):
        """``expect`` ({EdgeLink: (color, count)}): an "outputs" run's links when the caller is the
        server itself; from the wire, the message's ``until["links"]``."""
        h, until = self.h, msg["until"]
        kind = until["kind"]
        max_idle, progress = msg.get("max_idle", 20000), msg.get("progress", 0)
        # how often to look for a faulty row and stop; 0: never (the management path reads and
        # writes a faulty mesh too)
        fault_every = msg.get("fault_every", 1024)
        if expect is None:
            expect = {self._link(k): (c, n) for k, (c, n) in until.get("links", {}).items()}
        total = sum(n for _, n in expect.values())

        seen = {}  # link -> [wavelets looked at, of the expected color]: each arrival counted once

        def got(link, color):
            rec, c = h.monitors[link].received, seen.setdefault(link, [0, 0])
            c[1] += sum(1 for w in rec[c[0]:] if w.color == color)
            c[0] = len(rec)
            return c[1]

        def done_count():
            return sum(min(n, got(link, c)) for link, (c, n) in expect.items())

        probe0 = self.probes.read() if msg.get("counters") else None
        tracing = msg.get("trace")
        if tracing:
            self.probes.trace_start(tracing)
        start = h.cycle
        last_change, last_seen, last_busy = h.cycle, (-1, -1), h.cycle
        busy = [0] * self.rows
        reason = None
        t0 = time.monotonic()
        auto_cycles = 0
        while True:
            if kind == "cycles" and h.cycle - start >= until["n"]:
                reason = "cycles"
                break
            await h.step()
            idle = h.row_status()["idle"]
            for r in range(self.rows):
                busy[r] += not idle[r]
            if not all(idle):
                last_busy = h.cycle
            moved = (sum(len(m.received) for m in h.monitors.values()), h.transfers_in)
            if moved != last_seen:
                last_seen, last_change = moved, h.cycle
            if kind == "outputs" and done_count() >= total:
                reason = "outputs"
                break
            if kind == "idle" and h.pending == 0 and all(idle) and h.cycle - max(last_change, last_busy) >= IDLE_QUIET:
                reason = "idle"
                break
            if fault_every and (h.cycle - start) % fault_every == 0 and self._faulty():
                reason = "fault"
                break
            if progress and (h.cycle - start) % progress == 0:
                self.log.info("  cycle %d: %d/%d result wavelets, %d data wavelets in, %.0f cycles/s",
                              h.cycle - start, done_count(), total, h.transfers_in,
                              (h.cycle - start) / (time.monotonic() - t0))
            if kind != "cycles" and h.cycle - last_change > max_idle and h.cycle - last_busy > max_idle:
                reason = "stalled"
                break
            if self.auto.eligible():
                # the next cycles in C++ (sdk/cosim/autopilot.py): the same tests, no Python per cycle
                c0 = h.cycle
                r = await self.auto.run(kind, start, until["n"] if kind == "cycles" else -1, last_change, last_busy,
                                        max_idle, progress,
                                        [(link, c, n, got(link, c)) for link, (c, n) in expect.items()],
                                        IDLE_QUIET, fault_every or 1 << 62)
                auto_cycles += h.cycle - c0
                busy = [b + d for b, d in zip(busy, r.busy, strict=True)]
                last_change, last_busy = r.last_change, r.last_busy
                last_seen = (sum(len(m.received) for m in h.monitors.values()), h.transfers_in)
                if r.reason == "progress":
                    self.log.info("  cycle %d: %d/%d result wavelets, %d data wavelets in, %.0f cycles/s",
                                  h.cycle - start, done_count(), total, h.transfers_in,
                                  (h.cycle - start) / (time.monotonic() - t0))
                    continue
                reason = r.reason
                break
        if reason == "idle":
            cycles = max(last_change, last_busy) - start
        else:
            cycles = h.cycle - start
        activity = None
        if probe0 is not None:
            delta = self.probes.read() - probe0
            delta.cycles = h.cycle - start
            activity = delta.to_dict()
        trace = self.probes.trace_take(h.cycle - start) if tracing else None
        settle = msg.get("settle", 8) if reason in ("outputs", "fault", "stalled") else 0
        if reason == "fault":
            settle = max(settle, self.cols + 4)  # the fault report crosses the row to the east edge
        await h.run_cycles(settle)
        return {"cycles": cycles, "reason": reason, "busy_rows": [b / max(1, cycles) for b in busy],
                "wall_seconds": time.monotonic() - t0, "activity": activity, "trace": trace,
                "autopilot_cycles": auto_cycles}

    async def probe(self, msg):
        return {"activity": self.probes.read().to_dict()}

    async def take(self, msg):
        out = {}
        for link, mon in self.h.monitors.items():
            if mon.received:
                out[str(link)] = [list(w) for w in mon.received]
                mon.received = []
        return {"outputs": out}

    async def status(self, msg):
        st = self.h.row_status()
        faults = None
        if self.probes.available:
            faults = [f.to_dict() for f in self.probes.read(status_only=True).faults()]
        return {"row_err": st["err"], "row_idle": st["idle"], "row_halted": st["halted"],
                "row_fault": self.h.row_faults(), "faults": faults}

    async def note(self, msg):
        self.log.info("%s", msg["text"])
        return {}


class Probes:
    """Every tile's probe (hdl/probe.py), from the native mesh's C++ or the flat build's hierarchy."""

    def __init__(self, dut, rows, cols):
        self.dut, self.rows, self.cols = dut, rows, cols
        self.words = (PROBE.width + 31) // 32
        self.native = None
        try:
            lib = ctypes.CDLL(None)
            self.native = lib if hasattr(lib, "tessera_native_mesh_probe") else None
        except OSError:
            pass
        if self.native is not None:
            for name, res in (("tessera_native_mesh_cycle", ctypes.c_longlong),
                              ("tessera_native_mesh_trace_count", ctypes.c_longlong)):
                getattr(self.native, name).restype = res
        self.flat = self.native is None and self._tile(0, 0) is not None
        self.available = self.native is not None or self.flat

    def _tile(self, r, c):
        try:
            return self.dut.g_row[r].g_col[c].tile.probe
        except (AttributeError, IndexError, KeyError):
            return None

    def read(self, status_only: bool = False) -> Activity:
        if self.native is not None:
            buf = np.zeros(self.rows * self.cols * self.words, dtype=np.uint32)
            n = self.native.tessera_native_mesh_probe(buf.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)),
                                                      self.words)
            if n != self.rows * self.cols:
                raise AssertionError(f"the native mesh answered {n} to a probe read of {self.words} words a tile "
                                     "(a negative count: the tile's probe has that many words)")
            return Activity.from_words(self.rows, self.cols, buf.reshape(self.rows * self.cols, self.words),
                                       status_only)
        if self.flat:
            return Activity.from_ints(self.rows, self.cols, [value_of(self._tile(r, c)) for r in range(self.rows)
                                                             for c in range(self.cols)], status_only)
        raise AssertionError("per-tile counters need the native or the flat engine (this build does not show "
                             "the insides of its tiles)")

    def trace_start(self, spec: dict):
        if self.native is None:
            raise AssertionError("timeline traces need the native engine")
        c0 = self.native.tessera_native_mesh_cycle()
        start, end = spec["window"]
        tiles = [r * self.cols + c for r, c in spec["pes"]]
        links = [x for r, c, s in spec["links"] for x in (r * self.cols + c, s)]
        arr = lambda v: (ctypes.c_int * max(1, len(v)))(*v)  # noqa: E731
        rc = self.native.tessera_native_mesh_trace_start(arr(tiles), len(tiles), arr(links), len(spec["links"]),
                                                         ctypes.c_longlong(c0 + start),
                                                         ctypes.c_longlong(-1 if end < 0 else c0 + end),
                                                         ctypes.c_longlong(spec["max_events"]))
        if rc:
            raise AssertionError(f"trace_start refused the trace ({rc}): a PE or link outside the mesh")
        self.trace_base, self.trace_spec = c0, spec

    def trace_take(self, cycles: int) -> dict:
        n = self.native.tessera_native_mesh_trace_count()
        buf = np.zeros(max(1, n) * 5, dtype=np.int64)
        truncated = self.native.tessera_native_mesh_trace_take(buf.ctypes.data_as(ctypes.POINTER(ctypes.c_longlong)),
                                                               ctypes.c_longlong(n))
        self.native.tessera_native_mesh_trace_stop()
        pe_events, link_events = [], []
        for cyc, tile, kind, a, b in buf[:n * 5].reshape(n, 5).tolist():
            r, c = divmod(tile, self.cols)
            if kind < len(TRACE_KINDS):
                pe_events.append([cyc - self.trace_base, r, c, TRACE_KINDS[kind], a])
            else:
                link_events.append([cyc - self.trace_base, r, c, kind - len(TRACE_KINDS), a, b])
        start, end = self.trace_spec["window"]
        return {"window": [start, cycles if end < 0 else min(end, cycles)], "pe_events": pe_events,
                "link_events": link_events, "truncated": bool(truncated), "pes": self.trace_spec["pes"],
                "links": self.trace_spec["links"]}


#: the kinds of PE trace records, in the order of the native mesh's record kinds 0..3
TRACE_KINDS = ("task_start", "task_end", "vec_issue", "vec_done")


class _Discard(list):
    def append(self, item):
        pass


@cocotb.test()
async def serve(dut):
    cfg = tb_config()
    watch_host(cfg)
    server = Server(dut, cfg["rows"], cfg["cols"], cfg.get("profile", "small"), cfg.get("seed", 1))
    await server.h.reset()
    if cfg.get("noise"):
        server.h.start_noise(*cfg["noise"])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(cfg["socket"])
    try:
        while True:
            msg = recv_msg(sock)
            if msg is None or msg["cmd"] == "close":
                break
            handler = getattr(server, msg["cmd"], None)
            if handler is None or msg["cmd"].startswith("_"):
                send_msg(sock, {"error": f"unknown command {msg['cmd']!r}"})
                continue
            try:
                reply = await handler(msg)
            except Exception as e:  # reported to the host, which raises it there
                reply = {"error": f"{type(e).__name__}: {e}"}
            send_msg(sock, reply)
    finally:
        sock.close()
