"""The edge autopilot, Python side: hand an EdgeHarness's cycles to the native mesh's C++ and back.

Runs inside the simulator (cocotb), with a native-mesh build (sdk/builds/native_mesh.py). While
the harness draws nothing at random, its cycle-by-cycle work (LinkDriver.pick on every input link,
LinkMonitor recording on every output link, all colors ready) and the stopping tests of a run loop
are played in C++ at every rising edge (sdk/builds/native_mesh_autopilot.h), with no Python per
cycle. ``Autopilot.run`` packs the drivers' queues and the loop's state, lets the C++ run until a
test holds, then unpacks everything so that the harness is exactly where stepping every cycle in
Python would have left it: the same cycles, the same wavelets, the same bookkeeping.

Interface:
    Autopilot(dut, harness)          .available: the build is a native mesh with the autopilot (and
                                     TESSERA_AUTOPILOT is not 0)
        .eligible() -> bool          nothing random and no protocol test in the harness
        await .run(kind, start, n_cycles=-1, last_change=0, last_busy=0, max_idle=0, progress=0,
                   expect=(), quiet=16, fault_every=1024) -> AutoResult
                                     kind: "cycles" | "outputs" | "idle"; expect: ((link, color,
                                     need, got), ...) for "outputs"
    AutoResult                       .reason ("cycles", "outputs", "idle", "fault", "progress",
                                     "stalled"), .last_change, .last_busy, .busy (per row, this run)
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

import numpy as np
from cocotb.triggers import ReadWrite, RisingEdge

from hdl.mesh import edge_links
from hdl.wavelet import EDGE_SIDES, WAVELET_BITS, pack_wavelet, unpack_wavelet

__all__ = ["Autopilot", "AutoResult", "AUTOPILOT_ENV"]

#: set to 0 to step every cycle in Python even on a native mesh (the autopilot's tests compare both)
AUTOPILOT_ENV = "TESSERA_AUTOPILOT"

_KINDS = {"cycles": 0, "outputs": 1, "idle": 2}
_REASONS = {1: "cycles", 2: "outputs", 3: "idle", 4: "fault", 5: "progress", 6: "stalled", 7: "protocol"}


@dataclass
class AutoResult:
    reason: str
    last_change: int
    last_busy: int
    busy: list


class Autopilot:
    def __init__(self, dut, harness):
        self.dut, self.h = dut, harness
        self.lib = None
        if os.environ.get(AUTOPILOT_ENV, "1") == "0":
            self.available = False
            return
        try:
            lib = ctypes.CDLL(None)
            if hasattr(lib, "tessera_native_mesh_auto_begin") and hasattr(dut, "native_pause"):
                self.lib = lib
        except OSError:
            pass
        self.available = self.lib is not None
        if not self.available:
            return
        self.lib.tessera_native_mesh_auto_state.restype = ctypes.c_longlong
        # the C++'s edge slots: every EdgeLink, sides N, E, S, W (hdl/wavelet.py EDGE_SIDES), index order
        self.slots = edge_links(harness.rows, harness.cols)
        self.slot_of = {link: s for s, link in enumerate(self.slots)}

    def eligible(self) -> bool:
        if not self.available:
            return False
        h = self.h
        if set(h.groups) - set(EDGE_SIDES):  # link groups beyond the mesh edge (a fixture's): Python's
            return False
        if any(d.idle_prob or d.ignore_ready for d in h.drivers.values()):
            return False
        return not any(m.stall_prob or m.hold_colors for m in h.monitors.values())

    async def run(self, kind: str, start: int, n_cycles: int = -1, last_change: int = 0, last_busy: int = 0,
                  max_idle: int = 0, progress: int = 0, expect=(), quiet: int = 16,
                  fault_every: int = 1024) -> AutoResult:
        """Call in the read-only phase that ends a harness step; returns in the read-write phase of
        the cycle it stopped in, with that step's work done (the next edge's inputs driven)."""
        h = self.h
        cfg = [_KINDS[kind], n_cycles, start, h.cycle, last_change, last_busy, h.transfers_in, max_idle, progress,
               quiet, fault_every, len(expect)]
        for link, color, need, got in expect:
            cfg += [self.slot_of[link], color, need, got]
        queues = []
        for link in self.slots:
            d = h.drivers[link]
            queues += [len(d.queues), d._rr]
            for q in d.queues:
                queues.append(len(q))
                queues += [pack_wavelet(*w) for w in q]
        c = np.array(cfg, dtype=np.int64)
        qv = np.array(queues if queues else [0], dtype=np.int64)
        rc = self.lib.tessera_native_mesh_auto_begin(c.ctypes.data_as(ctypes.POINTER(ctypes.c_longlong)), len(cfg),
                                                     qv.ctypes.data_as(ctypes.POINTER(ctypes.c_longlong)),
                                                     ctypes.c_longlong(len(queues)))
        if rc:
            raise AssertionError(f"the native mesh refused the autopilot's state ({rc})")
        await RisingEdge(self.dut.native_pause)
        await ReadWrite()
        return self._take()

    def _take(self) -> AutoResult:
        h = self.h
        n = self.lib.tessera_native_mesh_auto_state(None, ctypes.c_longlong(0))
        buf = np.zeros(n, dtype=np.int64)
        self.lib.tessera_native_mesh_auto_state(buf.ctypes.data_as(ctypes.POINTER(ctypes.c_longlong)),
                                                ctypes.c_longlong(n))
        v = buf.tolist()
        reason, cycle, last_change, last_busy, transfers_in, bad_slot, bad_data, nrec = v[:8]
        x = 8
        busy = v[x:x + h.rows]
        x += h.rows
        picks = {}
        for s, link in enumerate(self.slots):
            d = h.drivers[link]
            sent, rr, pv, pd, nq = v[x:x + 5]
            x += 5
            d.pending = 0
            for k in range(nq):
                ln = v[x]
                x += 1
                d.queues[k].clear()
                d.queues[k].extend(unpack_wavelet(w) for w in v[x:x + ln])
                d.pending += ln
                x += ln
            d.sent += sent
            d._rr = rr
            picks[s] = (pv, pd)
        moved_out = 0
        for k in range(nrec):
            s, _cyc, w = v[x + 3 * k: x + 3 * k + 3]
            h.monitors[self.slots[s]].received.append(unpack_wavelet(w))
            moved_out += 1
        h.transfers_out += moved_out
        if last_change > h.last_progress and (moved_out or transfers_in != h.transfers_in):
            h.last_progress = last_change
        h.transfers_in = transfers_in
        h.cycle = cycle
        # the read-write phase of the stop cycle: drive the picks for the next edge
        W = WAVELET_BITS
        for g, links in h.groups.items():
            if g not in EDGE_SIDES:
                continue
            valid = data = 0
            for i, link in enumerate(links):
                pv, pd = picks[self.slot_of[link]]
                if pv:
                    valid |= 1 << i
                    data |= pd << (i * W)
            last = h._last_driven.setdefault(g, [None, None, None])
            hd = h.handles[g]
            if valid != last[0]:
                hd["in_valid"].value = last[0] = valid
            if data != last[1]:
                hd["in_data"].value = last[1] = data
        if reason == 7:
            raise AssertionError(f"cycle {cycle}: {self.slots[bad_slot]} presented color "
                                 f"{unpack_wavelet(bad_data).color} while its ready bit was low")
        return AutoResult(_REASONS[reason], last_change, last_busy, busy)
