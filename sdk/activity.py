"""Activity of a run, tile by tile: the tiles' probes (hdl/probe.py) read by an engine, decoded.

An engine that sees inside its tiles (the native and the flat Verilator engines) reads every
tile's probe: its activity counters, the PE's sticky status word, the router's error flags and
drop counter. ``Activity`` holds one such reading as numpy arrays indexed [row, col]. Counters
count from reset; the difference of two readings (``later - earlier``) is the activity between
them, and ``Runtime.run(counters=True)`` returns exactly that for the run (``RunResult.activity``).

Interface:
    COUNTER_NAMES, LANE_COUNTERS, LINK_COUNTERS, STALL_COUNTERS   (from hdl/probe.py)
    FMAC_COUNTERS       the lane-op counters of the fmac modes (multiply-accumulates)
    Activity(rows, cols, counters, pe_status, router_errors, drops, cycles=None)
        .counters[name]  -> int64 array (rows, cols)      .pe_status, .router_errors, .drops: arrays
        .cycles          clock cycles the counters cover (set for a run's delta; None for a reading)
        a - b            the counters' difference (modulo 2**48), a's status; cycles from a and b
        .total(name)     the sum over the mesh        .links / .stalls  (rows, cols, 4) arrays,
                                                      sides in hdl/wavelet.py EDGE_SIDES order
        .macs            multiply-accumulate lane operations (every fmac mode), per PE
        .faults()        [sdk.fault.Fault] of every tile whose status word, error flags or
                         drop counter is set, in row-major order
        .to_dict() / Activity.from_dict(d)                JSON round trip
        Activity.from_words(rows, cols, words, status_only=False)   decode a (rows * cols, n)
                                                          uint32 array of packed probes (row-major
                                                          tiles); status_only: counters left 0
        Activity.from_ints(rows, cols, values, status_only=False)   ... or one int per tile
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hdl.isa import ErrorCode, unpack_status
from hdl.probe import COUNTER_BITS, COUNTER_NAMES, LANE_COUNTERS, LINK_COUNTERS, PROBE, STALL_COUNTERS, LaneOp
from hdl.router import RouterError

from .fault import Fault

__all__ = ["Activity", "COUNTER_NAMES", "LANE_COUNTERS", "LINK_COUNTERS", "STALL_COUNTERS", "FMAC_COUNTERS"]

FMAC_COUNTERS = tuple(LANE_COUNTERS[op] for op in (LaneOp.FMAC_F32_F16, LaneOp.FMAC_F32, LaneOp.FMAC_F16,
                                                    LaneOp.MAC_I32_I16))
_MASK = (1 << COUNTER_BITS) - 1
# (offset, width) of each probe field, from the layout
_FIELDS = {name: PROBE.fields[f"counters.{name}"][:2] for name in COUNTER_NAMES}
_STATUS_FIELDS = {name: PROBE.fields[name][:2] for name in ("pe_status", "router_errors", "drops")}


@dataclass
class Activity:
    rows: int
    cols: int
    counters: dict
    pe_status: np.ndarray
    router_errors: np.ndarray
    drops: np.ndarray
    cycles: int | None = None

    # ---- decoding ------------------------------------------------------------------------------
    @classmethod
    def from_ints(cls, rows: int, cols: int, values, status_only: bool = False) -> Activity:
        values = list(values)
        if len(values) != rows * cols:
            raise ValueError(f"{len(values)} probe words for a {rows}x{cols} mesh")

        def field(off, width):
            mask = (1 << width) - 1
            return np.array([(v >> off) & mask for v in values], dtype=np.int64).reshape(rows, cols)

        zero = np.zeros((rows, cols), dtype=np.int64)
        return cls(rows, cols, {name: zero if status_only else field(*_FIELDS[name]) for name in COUNTER_NAMES},
                   *(field(*_STATUS_FIELDS[n]) for n in ("pe_status", "router_errors", "drops")))

    @classmethod
    def from_words(cls, rows: int, cols: int, words, status_only: bool = False) -> Activity:
        words = np.asarray(words, dtype=np.uint32).reshape(rows * cols, -1)
        # Python ints per tile: the fields straddle 32-bit words and counters are 48 bits wide
        ints = [int.from_bytes(w.astype("<u4").tobytes(), "little") for w in words]
        return cls.from_ints(rows, cols, ints, status_only)

    # ---- arithmetic and views --------------------------------------------------------------------
    def __sub__(self, other: Activity) -> Activity:
        if (self.rows, self.cols) != (other.rows, other.cols):
            raise ValueError("activity readings of different meshes")
        return Activity(self.rows, self.cols,
                        {n: (self.counters[n] - other.counters[n]) & _MASK for n in COUNTER_NAMES},
                        self.pe_status, self.router_errors, self.drops, self.cycles)

    def total(self, name: str) -> int:
        return int(self.counters[name].sum())

    @property
    def links(self) -> np.ndarray:
        return np.stack([self.counters[n] for n in LINK_COUNTERS], axis=-1)

    @property
    def stalls(self) -> np.ndarray:
        return np.stack([self.counters[n] for n in STALL_COUNTERS], axis=-1)

    @property
    def macs(self) -> np.ndarray:
        return sum(self.counters[n] for n in FMAC_COUNTERS)

    def faults(self) -> list:
        out = []
        for r in range(self.rows):
            for c in range(self.cols):
                word, errs, drops = int(self.pe_status[r, c]), int(self.router_errors[r, c]), int(self.drops[r, c])
                st = unpack_status(word)
                if st["code"] == ErrorCode.NONE and not st["halted"] and not errs and not drops:
                    continue
                out.append(Fault(pe=(r, c), code=st["code"].name, task=st["task"], pc=st["pc"],
                                 async_=bool(st["async_"]), halted=bool(st["halted"]),
                                 router_errors=[e.name for e in RouterError if errs >> e & 1], drops=drops))
        return out

    # ---- JSON ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"rows": self.rows, "cols": self.cols, "cycles": self.cycles,
                "counters": {n: self.counters[n].tolist() for n in COUNTER_NAMES},
                "pe_status": self.pe_status.tolist(), "router_errors": self.router_errors.tolist(),
                "drops": self.drops.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Activity:
        arr = lambda x: np.array(x, dtype=np.int64).reshape(d["rows"], d["cols"])  # noqa: E731
        return cls(d["rows"], d["cols"], {n: arr(d["counters"][n]) for n in COUNTER_NAMES},
                   arr(d["pe_status"]), arr(d["router_errors"]), arr(d["drops"]), d.get("cycles"))
