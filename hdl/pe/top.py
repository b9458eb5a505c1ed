"""The Tessera processing element (PE): its memories and components, wired together.

Role
----
Executes docs/isa.md programs (docs/pe.md "Core"). This module only instantiates and connects:

    imem       lib.memory.Memory      instruction memory, ``imem_words`` x 32
    sram       BankedSRAM             hdl/sram.py
    ramp_in    RampInput              per-color input queues          (ramp.py)
    ramp_out   RampOutput             output wavelet register         (ramp.py)
    ports      SramArbiter            SRAM port arbitration           (ports.py)
    loader     LoadDecoder            load bus and zeroing sweep      (loadbus.py)
    sched      Scheduler              task table, bindings, next task (sched.py)
    regs       RegisterFile           GPRs and DSRs                   (regfile.py)
    core       ScalarCore             the FSM that runs tasks         (core.py)
    vector     VectorEngine           contexts, I stage, pipeline     (vector.py)
    status     StatusCounters         status word, halt, counters     (status.py)

and answers the debug read port from the register files, the task table and the SRAM. Its
``events`` port says what it did each cycle, for the tile's activity counters and timeline trace
(hdl/probe.py).

Interfaces (``PE(profile)``, a ``wiring.Component``; domain ``sync``):
    ramp_in   In(LinkSignature(colors))    wavelets from the router; the PE drives ready[color]
                                           (registered: "this color's input queue has room")
    ramp_out  Out(LinkSignature(colors))   wavelets the PE sends; valid only while ready[color]
    load      In(LoadSignature)            we, addr[20], data[32]: the write-only load bus
                                           (address map in hdl/loadmap.py, docs/pe.md)
    dbg       In(DbgSignature)             req, addr[20] -> rdata[64]: debug read port (testbench)
    status    Out(StatusSignature)         word (Status layout), halted, idle, running, pc,
                                           retired, cycles, busy_cycles, vec_elems, task_starts,
                                           clearing
    events    Out(PeEvents)                lane operations by class, vector busy, SRAM port use,
                                           retire, task start/end, vector op issue/finish, RAMP
                                           transfers, halted (hdl/probe.py)
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..loadmap import DbgRegion, DbgSignature, LoadSignature
from ..probe import PeEvents
from ..profiles import get_profile
from ..router import LinkSignature
from ..sram import BankedSRAM
from .core import ScalarCore
from .loadbus import LoadDecoder
from .ports import SramArbiter
from .ramp import RampInput, RampOutput
from .regfile import RegisterFile
from .sched import Scheduler
from .status import StatusCounters, StatusSignature
from .vector import VectorEngine

__all__ = ["PE", "StatusSignature"]


class PE(wiring.Component):
    def __init__(self, profile="small"):
        self.prof = p = get_profile(profile)
        self.colors = p.colors
        self.lanes16 = min(p.simd_f16, 4)  # a 64-bit row holds 4 16-bit elements
        self.lanes32 = min(p.simd_f16 // 2, 2)
        self.sram_bytes = p.sram_kib * 1024
        super().__init__({
            "ramp_in": In(LinkSignature(p.colors)),
            "ramp_out": Out(LinkSignature(p.colors)),
            "load": In(LoadSignature),
            "dbg": In(DbgSignature),
            "status": Out(StatusSignature),
            "events": Out(PeEvents),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.prof
        C = p.colors

        m.submodules.imem = imem = Memory(shape=32, depth=p.imem_words, init=[])
        irp = imem.read_port()
        iwp = imem.write_port()
        m.submodules.sram = sram = BankedSRAM(p.sram_kib, p.sram_banks)
        RB = sram.addr_bits
        m.submodules.ramp_in = rin = RampInput(C)
        m.submodules.ramp_out = rout = RampOutput(C)
        m.submodules.ports = ports = SramArbiter(RB)
        m.submodules.loader = loader = LoadDecoder(p.imem_words, sram.rows, RB)
        m.submodules.sched = sched = Scheduler(C)
        m.submodules.regs = regs = RegisterFile()
        m.submodules.core = core = ScalarCore(p, RB)
        m.submodules.vector = vec = VectorEngine(C, p.uthreads, self.lanes16, self.lanes32, self.sram_bytes,
                                                 sram.rows, RB, p.sram_banks)
        m.submodules.status = st = StatusCounters(self.lanes16)
        clear, halt, halted = loader.clear, st.halt, st.halted

        # RAMP
        wiring.connect(m, wiring.flipped(self.ramp_in), rin.ramp)
        wiring.connect(m, rout.ramp, wiring.flipped(self.ramp_out))
        wiring.connect(m, rin.q, sched.q, vec.q)
        m.d.comb += [rin.pop1.eq(vec.pop1 | sched.pop), rin.pop2.eq(vec.pop2), rin.clear.eq(clear)]
        wiring.connect(m, vec.out, rout.vec)
        wiring.connect(m, core.send, rout.core)

        # memories and their ports
        m.d.comb += [irp.en.eq(core.imem.en), irp.addr.eq(core.imem.addr), core.imem.data.eq(irp.data),
                     iwp.en.eq(loader.imem.en), iwp.addr.eq(loader.imem.addr), iwp.data.eq(loader.imem.data)]
        wiring.connect(m, ports.sram_rd0, sram.rd0)
        wiring.connect(m, ports.sram_rd1, sram.rd1)
        wiring.connect(m, ports.sram_wr, sram.wr)
        wiring.connect(m, loader.sram, ports.load)
        wiring.connect(m, core.mem, ports.scalar)
        wiring.connect(m, vec.mem, ports.vector)
        dbg_sram = self.dbg.req & (self.dbg.addr[16:20] == DbgRegion.SRAM)
        m.d.comb += [ports.dbg.req.eq(dbg_sram), ports.dbg.addr.eq(self.dbg.addr[:RB])]

        # load bus
        wiring.connect(m, wiring.flipped(self.load), loader.bus)
        wiring.connect(m, loader.task, sched.task_wr)
        wiring.connect(m, loader.bind, sched.bind_wr)
        wiring.connect(m, loader.dsr, regs.preset)

        # core, scheduler, vector engine, status
        wiring.connect(m, core.rf, regs.core)
        wiring.connect(m, sched.core, core.sched)
        wiring.connect(m, vec.core, core.vec)
        m.d.comb += [
            sched.claimed.eq(vec.claimed), sched.done.eq(vec.done),
            core.run.eq(loader.run), core.halt.eq(halt), core.halted.eq(halted),
            vec.halt.eq(halt), vec.halted.eq(halted),
            st.core_err.eq(core.err), st.vec_err.eq(vec.err),
            st.retire.eq(core.retire), st.start.eq(core.sched.start), st.elems.eq(vec.elems),
            st.run.eq(loader.run), st.clearing.eq(loader.clearing),
            st.running.eq(core.running), st.core_busy.eq(core.busy), st.pc.eq(core.pc),
            st.vec_busy.eq(vec.busy), st.out_busy.eq(rout.busy), st.runnable.eq(sched.core.runnable),
        ]
        for sub in (sched, regs, core, vec, st):
            m.d.comb += sub.clear.eq(clear)
        wiring.connect(m, st.status, wiring.flipped(self.status))
        self._events(m, core, vec, sram, st)

        # debug read port
        dreg = self.dbg.addr[:5]
        m.d.comb += [regs.dbg_idx.eq(dreg[:4]), sched.dbg_index.eq(dreg)]
        with m.Switch(self.dbg.addr[16:20]):
            with m.Case(DbgRegion.GPR):
                m.d.comb += self.dbg.rdata.eq(regs.dbg_gpr)
            with m.Case(DbgRegion.DSR):
                m.d.comb += self.dbg.rdata.eq(regs.dbg_dsr)
            with m.Case(DbgRegion.SRAM):
                m.d.comb += self.dbg.rdata.eq(ports.dbg.data)
            with m.Case(DbgRegion.TASK):
                m.d.comb += self.dbg.rdata.eq(sched.dbg_task)
            with m.Case(DbgRegion.BIND):
                m.d.comb += self.dbg.rdata.eq(sched.dbg_bind)
        return m

    def _events(self, m, core, vec, sram, st):
        ev = self.events
        was_running = Signal()
        m.d.sync += was_running.eq(core.running)
        m.d.comb += [
            ev.lane_valid.eq(vec.elems.valid), ev.lane_op.eq(vec.lane_op), ev.lane_k.eq(vec.elems.k),
            ev.vec_busy.eq(vec.busy),
            ev.sram_rd0.eq(sram.rd0.req & sram.rd0.gnt), ev.sram_rd1.eq(sram.rd1.req & sram.rd1.gnt),
            ev.sram_wr.eq(sram.wr.req & sram.wr.gnt),
            ev.retire.eq(core.retire), ev.task_start.eq(core.sched.start),
            ev.task_end.eq(was_running & ~core.running),
            # the starting task's number is the scheduler's pick until the core has latched it
            ev.task.eq(Mux(core.sched.start, core.sched.next.task, core.task)),
            ev.vec_issue.eq(core.vec.launch), ev.vec_done.eq(vec.finish),
            # a sender presents a wavelet only while its color is ready: valid is the transfer
            ev.ramp_in.eq(self.ramp_in.valid), ev.ramp_out.eq(self.ramp_out.valid),
            ev.halted.eq(st.halted),
        ]
