"""The tile probe: activity counters, a status snapshot and trace events of one tile.

Role
----
What a run did, tile by tile, for the observability of docs/observability.md: how many lane
operations each FMAC mode performed, how busy the vector engine was, how often each SRAM port was
used, how many wavelets left on each link and how long wavelets waited there. Every counter is
``COUNTER_BITS`` wide and counts from reset (CLEAR and loads do not touch it): the host reads two
snapshots and subtracts. At 48 bits the fastest counter (lane operations, at most 4 a cycle)
wraps after 2**46 cycles: 23 hours at 850 MHz, centuries of simulation; every other counter
counts at most one event a cycle and lasts 4 times as long.

The events come from the PE (``PeEvents``, hdl/pe/top.py ``events``) and the router (its output
links' valid bits and its ``stalls``). A tile without a PE (a fabric tile) counts only router
events. Profiles with ``counters=False`` (the FPGA one) build no counters: the probe reads 0 there.

Formats (each defined once here; hosts unpack them with hdl/packing.py ``Packer``):
    LaneOp          the class of a lane operation (FMAC mode, add/mul per type, integer path)
    PeEvents        what the PE did this cycle (the PE's ``events`` port)
    CounterLayout   the counters, COUNTER_NAMES order
    ProbeLayout     counters + the PE's status word + the router's error flags and drop counter
    TraceEvents     the per-cycle events a timeline trace records (the tile's ``events`` port)

Interface (``ProbeCounters(has_pe)``, ``wiring.Component``, domain ``sync``):
    pe          In(PeEvents)      the PE's events (tied to 0 in a fabric tile)
    link_out    In(4)             a wavelet leaves on side N, E, S, W (bit = hdl/wavelet.py Port)
    link_stall  In(4)             a wavelet waits for that side while its color's ready is low
    to_ramp     In(1)             the router delivers a wavelet to the RAMP (any color)
    counters    Out(CounterLayout)
"""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from .isa import TASK_BITS, Status
from .packing import Packer
from .router import DROP_COUNTER_BITS, RouterError
from .wavelet import EDGE_SIDES

__all__ = ["LaneOp", "PeEvents", "TraceEvents", "CounterLayout", "ProbeLayout", "ProbeCounters",
           "COUNTER_BITS", "COUNTER_NAMES", "LANE_COUNTERS", "LINK_COUNTERS", "STALL_COUNTERS", "PROBE",
           "TRACE", "TRACE_BITS"]

COUNTER_BITS = 48


class LaneOp(enum.IntEnum, shape=4):
    """The class of the elements a vector group writes back (one lane operation each)."""
    FMAC_F32_F16 = 0  # f32 += f16 * f16 (the fmac modes, hdl/isa.py FmacMode order)
    FMAC_F32 = 1
    FMAC_F16 = 2
    MAC_I32_I16 = 3
    ADD_F16 = 4
    ADD_F32 = 5
    MUL_F16 = 6
    MUL_F32 = 7
    INT = 8  # integer add and multiply, vmov, vfill


#: one counter per lane-op class, "lanes_<class>"
LANE_COUNTERS = tuple(f"lanes_{op.name.lower()}" for op in LaneOp)
#: wavelets that left on each side, "link_<letter>", in hdl/wavelet.py EDGE_SIDES order
LINK_COUNTERS = tuple(f"link_{p.letter}" for p in EDGE_SIDES)
#: cycles in which a wavelet waited for that side with its color's ready low
STALL_COUNTERS = tuple(f"stall_{p.letter}" for p in EDGE_SIDES)

_PE_COUNTERS = LANE_COUNTERS + (
    "vec_busy",  # cycles with a vector op active or a group in the pipeline
    "sram_rd0",  # 64-bit row reads on SRAM read port 0
    "sram_rd1",  # ... on read port 1
    "sram_wr",  # row writes (any byte mask) on the write port
    "instructions",  # instructions retired
    "task_starts",
    "ramp_in",  # wavelets the PE took from the router (data colors)
    "ramp_out",  # wavelets the PE sent into the router
    "halted",  # cycles the PE spent halted
)
_ROUTER_COUNTERS = LINK_COUNTERS + STALL_COUNTERS + (
    "to_ramp",  # wavelets the router delivered to its RAMP output (any color, management included)
)
COUNTER_NAMES = _PE_COUNTERS + _ROUTER_COUNTERS

PeEvents = data.StructLayout({
    "lane_valid": 1,  # a group of lane_k elements of class lane_op is written back
    "lane_op": LaneOp,
    "lane_k": range(5),
    "vec_busy": 1,
    "sram_rd0": 1,
    "sram_rd1": 1,
    "sram_wr": 1,
    "retire": 1,
    "task_start": 1,
    "task_end": 1,
    "task": TASK_BITS,  # the task running (or starting) this cycle
    "vec_issue": 1,  # the core launches a vector op
    "vec_done": 1,  # a vector op (any context) finishes
    "ramp_in": 1,
    "ramp_out": 1,
    "halted": 1,
})

TraceEvents = data.StructLayout({
    "task_start": 1,
    "task_end": 1,
    "task": TASK_BITS,
    "vec_issue": 1,
    "vec_done": 1,
})

CounterLayout = data.StructLayout({name: COUNTER_BITS for name in COUNTER_NAMES})

ProbeLayout = data.StructLayout({
    "counters": CounterLayout,
    "pe_status": Status.size,  # hdl/isa.py Status: the sticky status word
    "router_errors": len(RouterError),
    "drops": DROP_COUNTER_BITS,
})

PROBE = Packer(ProbeLayout)
TRACE = Packer(TraceEvents)
TRACE_BITS = TraceEvents.size


class ProbeCounters(wiring.Component):
    def __init__(self, has_pe: bool = True):
        self.has_pe = has_pe
        super().__init__({
            "pe": In(PeEvents),
            "link_out": In(len(EDGE_SIDES)),
            "link_stall": In(len(EDGE_SIDES)),
            "to_ramp": In(1),
            "counters": Out(CounterLayout),
        })

    def elaborate(self, platform):
        m = Module()
        ctr = self.counters
        ev = self.pe

        def count(name, inc):
            c = getattr(ctr, name)
            m.d.sync += c.eq(c + inc)

        for i in range(len(EDGE_SIDES)):
            count(LINK_COUNTERS[i], self.link_out[i])
            count(STALL_COUNTERS[i], self.link_stall[i])
        count("to_ramp", self.to_ramp)
        if not self.has_pe:
            return m
        for op, name in zip(LaneOp, LANE_COUNTERS, strict=True):
            hit = Signal(name=f"hit_{name}")
            m.d.comb += hit.eq(ev.lane_valid & (ev.lane_op == op))
            with m.If(hit):
                count(name, ev.lane_k)
        for name in ("vec_busy", "sram_rd0", "sram_rd1", "sram_wr", "ramp_in", "ramp_out", "halted"):
            count(name, getattr(ev, name))
        count("instructions", ev.retire)
        count("task_starts", ev.task_start)
        return m
