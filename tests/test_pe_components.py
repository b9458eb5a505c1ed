"""Amaranth-simulator unit tests of the PE's components (hdl/pe/), one or more per component.

Each test drives one component's ports directly and checks a behaviour docs/pe.md states:
queue and output-register handshakes, SRAM port priorities, load-bus decoding and the zeroing
sweep, scheduling order, register-file write priority, the core's FSM on a short program,
context selection, group formation, pipeline latency and stalls, halt arbitration and counters.
The whole PE is checked against the golden model in tests/test_pe_unit.py and tests/test_pe.py.
"""

from __future__ import annotations

from amaranth import Module
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from hdl.isa import ErrorCode, Opcode, encode_i, encode_r, pack_dsr
from hdl.loadmap import Ctrl, LoadRegion, load_addr
from hdl.pe.common import Operand, RowSrc, VecFunc
from hdl.pe.core import ScalarCore
from hdl.pe.loadbus import LoadDecoder
from hdl.pe.ports import SramArbiter
from hdl.pe.ramp import RampInput, RampOutput
from hdl.pe.regfile import RegisterFile
from hdl.pe.sched import Scheduler
from hdl.pe.status import StatusCounters
from hdl.pe.vcontexts import VectorContexts
from hdl.pe.vector import VectorEngine
from hdl.pe.vissue import PIPE_SLOTS, IssueStage
from hdl.pe.vpipe import VectorPipeline
from hdl.probe import LaneOp


def simulate(dut, bench):
    """Clock ``dut`` and run ``await bench(ctx)`` as its testbench until it returns."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def process(ctx):
        await bench(ctx)

    sim.add_testbench(process)
    sim.run()


def wavelet(color, payload, ctrl=0):
    return payload | color << 32 | ctrl << 37


# ---------------------------------------------------------------------------- RAMP


def test_ramp_input_fifo_order_ready_pops_and_clear():
    dut = RampInput(4)

    async def bench(ctx):
        assert ctx.get(dut.ramp.ready) == 0  # registered: not ready out of reset
        await ctx.tick()
        assert ctx.get(dut.ramp.ready) == 0xF
        for k in range(2):  # two wavelets fill color 2
            ctx.set(dut.ramp.valid, 1)
            ctx.set(dut.ramp.data.as_value(), wavelet(2, 0x100 + k, k))
            await ctx.tick()
        ctx.set(dut.ramp.valid, 0)
        assert ctx.get(dut.q.count[2]) == 2
        assert ctx.get(dut.ramp.ready) == 0b1011  # no room on color 2 any more
        assert ctx.get(dut.q.head[2]).payload == 0x100 and ctx.get(dut.q.next[2]).payload == 0x101
        assert ctx.get(dut.q.next[2]).ctrl == 1
        # a full color takes no more; pop one, and it is ready again the next cycle
        ctx.set(dut.pop1, 1 << 2)
        await ctx.tick()
        ctx.set(dut.pop1, 0)
        assert ctx.get(dut.q.count[2]) == 1 and ctx.get(dut.ramp.ready) == 0xF
        assert ctx.get(dut.q.head[2]).payload == 0x101
        # pop one while the next arrives: it takes the freed entry
        ctx.set(dut.pop1, 1 << 2)
        ctx.set(dut.ramp.valid, 1)
        ctx.set(dut.ramp.data.as_value(), wavelet(2, 0x102))
        await ctx.tick()
        ctx.set(dut.pop1, 0)
        assert ctx.get(dut.q.count[2]) == 1 and ctx.get(dut.q.head[2]).payload == 0x102
        ctx.set(dut.ramp.data.as_value(), wavelet(2, 0x103))
        await ctx.tick()
        ctx.set(dut.ramp.valid, 0)
        assert ctx.get(dut.q.count[2]) == 2
        assert ctx.get(dut.q.head[2]).payload == 0x102 and ctx.get(dut.q.next[2]).payload == 0x103
        ctx.set(dut.pop2, 1 << 2)  # an op whose A and B read color 2 takes both
        await ctx.tick()
        ctx.set(dut.pop2, 0)
        assert ctx.get(dut.q.count[2]) == 0 and ctx.get(dut.ramp.ready) == 0xF
        ctx.set(dut.ramp.valid, 1)
        ctx.set(dut.ramp.data.as_value(), wavelet(1, 7))
        await ctx.tick()
        ctx.set(dut.ramp.valid, 0)
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        assert ctx.get(dut.q.count[1]) == 0

    simulate(dut, bench)


def test_ramp_output_vector_first_and_per_color_backpressure():
    dut = RampOutput(4)

    async def bench(ctx):
        ctx.set(dut.ramp.ready, 0xF)
        ctx.set(dut.vec.valid, 1)
        ctx.set(dut.vec.payload.as_value(), wavelet(3, 0xAA))
        ctx.set(dut.core.valid, 1)
        ctx.set(dut.core.payload.as_value(), wavelet(1, 0xBB))
        assert ctx.get(dut.vec.ready) == 1 and ctx.get(dut.core.ready) == 0  # the vector push wins
        await ctx.tick()
        ctx.set(dut.vec.valid, 0)
        assert ctx.get(dut.ramp.valid) == 1 and ctx.get(dut.ramp.data).payload == 0xAA
        assert ctx.get(dut.core.ready) == 1  # the register is handed over this cycle
        await ctx.tick()
        ctx.set(dut.core.valid, 0)
        ctx.set(dut.ramp.ready, 0xF & ~(1 << 1))  # color 1 stalls
        assert ctx.get(dut.ramp.valid) == 0 and ctx.get(dut.busy) == 1
        assert ctx.get(dut.vec.ready) == 0 and ctx.get(dut.core.ready) == 0
        await ctx.tick()
        assert ctx.get(dut.ramp.valid) == 0
        ctx.set(dut.ramp.ready, 0xF)
        assert ctx.get(dut.ramp.valid) == 1 and ctx.get(dut.ramp.data).payload == 0xBB
        await ctx.tick()
        assert ctx.get(dut.busy) == 0

    simulate(dut, bench)


# ---------------------------------------------------------------------------- SRAM ports


def test_sram_arbiter_priorities_and_grants():
    dut = SramArbiter(8)

    async def bench(ctx):
        for port in (dut.sram_rd0, dut.sram_rd1, dut.sram_wr):
            ctx.set(port.gnt, 1)
        # write port: load bus, then a store, then the vector write-back
        ctx.set(dut.vector.wr.req, 1)
        ctx.set(dut.vector.wr.addr, 3)
        ctx.set(dut.scalar.wr.req, 1)
        ctx.set(dut.scalar.wr.addr, 2)
        ctx.set(dut.load.req, 1)
        ctx.set(dut.load.addr, 1)
        assert ctx.get(dut.sram_wr.addr) == 1 and ctx.get(dut.scalar.wr.gnt) == 0
        assert ctx.get(dut.vector.wr.gnt) == 0
        ctx.set(dut.load.req, 0)
        assert ctx.get(dut.sram_wr.addr) == 2 and ctx.get(dut.scalar.wr.gnt) == 1
        assert ctx.get(dut.vector.wr.gnt) == 0
        ctx.set(dut.scalar.wr.req, 0)
        assert ctx.get(dut.sram_wr.addr) == 3 and ctx.get(dut.vector.wr.gnt) == 1
        assert ctx.get(dut.vector.taken.wr) == 1 and ctx.get(dut.vector.taken.wr_row) == 3
        # a scalar load takes rd0 when the vector engine has no demand read on it
        ctx.set(dut.scalar.rd.req, 1)
        ctx.set(dut.scalar.rd.addr, 9)
        ctx.set(dut.vector.rd0.req, 1)
        ctx.set(dut.vector.rd0.addr, 5)
        ctx.set(dut.vector.rd1.req, 1)
        ctx.set(dut.vector.rd1.addr, 6)
        assert ctx.get(dut.sram_rd0.addr) == 9 and ctx.get(dut.vector.rd0.gnt) == 0
        assert ctx.get(dut.sram_rd1.addr) == 6 and ctx.get(dut.vector.rd1.gnt) == 1
        assert ctx.get(dut.vector.taken.rd0) == 1 and ctx.get(dut.scalar.rd.gnt) == 1
        ctx.set(dut.sram_rd0.data, 0x1111)
        ctx.set(dut.sram_rd1.data, 0x2222)
        await ctx.tick()
        assert ctx.get(dut.scalar.rd.data) == 0x1111  # from the port that served it
        # ... else rd1, ahead of the debug port and the vector engine
        ctx.set(dut.vector.rd0_demand, 1)
        ctx.set(dut.dbg.req, 1)
        ctx.set(dut.dbg.addr, 4)
        assert ctx.get(dut.sram_rd0.addr) == 5 and ctx.get(dut.vector.rd0.gnt) == 1
        assert ctx.get(dut.sram_rd1.addr) == 9 and ctx.get(dut.vector.rd1.gnt) == 0
        assert ctx.get(dut.vector.taken.rd1) == 1 and ctx.get(dut.vector.taken.rd1_row) == 9
        ctx.set(dut.sram_rd1.gnt, 0)  # a bank conflict on rd1 is the scalar core's to retry
        assert ctx.get(dut.scalar.rd.gnt) == 0
        ctx.set(dut.sram_rd1.gnt, 1)
        await ctx.tick()
        assert ctx.get(dut.scalar.rd.data) == 0x2222
        ctx.set(dut.scalar.rd.req, 0)
        assert ctx.get(dut.sram_rd1.addr) == 4 and ctx.get(dut.vector.rd1.gnt) == 0
        assert ctx.get(dut.vector.taken.rd1_row) == 4
        ctx.set(dut.dbg.req, 0)
        assert ctx.get(dut.sram_rd1.addr) == 6 and ctx.get(dut.vector.rd1.gnt) == 1

    simulate(dut, bench)


# ---------------------------------------------------------------------------- load bus


def test_load_decoder_regions_ctrl_and_zeroing_sweep():
    words, rows = 16, 8
    dut = LoadDecoder(words, rows, 3)

    async def bench(ctx):
        def write(region, index, value):
            ctx.set(dut.bus.we, 1)
            ctx.set(dut.bus.addr, load_addr(region, index))
            ctx.set(dut.bus.data, value)

        write(LoadRegion.IMEM, 5, 0xDEAD)
        assert (ctx.get(dut.imem.en), ctx.get(dut.imem.addr), ctx.get(dut.imem.data)) == (1, 5, 0xDEAD)
        write(LoadRegion.SRAM, 7, 0x12345678)  # word 7 = upper half of row 3
        assert ctx.get(dut.sram.req) == 1 and ctx.get(dut.sram.addr) == 3 and ctx.get(dut.sram.mask) == 0xF0
        assert ctx.get(dut.imem.en) == 0
        write(LoadRegion.TASK, 9, 0x5_0042)
        assert ctx.get(dut.task.we) == 1 and ctx.get(dut.task.index) == 9
        assert ctx.get(dut.task.data).entry == 0x42 and ctx.get(dut.task.data).valid == 1
        assert ctx.get(dut.task.data).blocked == 1 and ctx.get(dut.bind.we) == 0
        write(LoadRegion.DSR, 2 * 6 + 1, 0xCAFE)
        assert (ctx.get(dut.dsr.we), ctx.get(dut.dsr.index), ctx.get(dut.dsr.half)) == (1, 6, 1)
        write(LoadRegion.BIND, 4, 0x103)
        assert ctx.get(dut.bind.we) == 1 and ctx.get(dut.bind.data).task == 3 and ctx.get(dut.bind.data).valid == 1
        write(LoadRegion.CTRL, 0, Ctrl.RUN | Ctrl.CLEAR | Ctrl.ZERO)
        assert ctx.get(dut.clear) == 1 and ctx.get(dut.run) == 0  # RUN is registered
        await ctx.tick()
        ctx.set(dut.bus.we, 0)
        assert ctx.get(dut.clear) == 0 and ctx.get(dut.run) == 1
        seen_imem, seen_rows, cycles = set(), set(), 0
        while ctx.get(dut.clearing):
            if ctx.get(dut.imem.en):
                assert ctx.get(dut.imem.data) == 0
                seen_imem.add(ctx.get(dut.imem.addr))
            if ctx.get(dut.sram.req):
                assert ctx.get(dut.sram.mask) == 0xFF and ctx.get(dut.sram.data) == 0
                seen_rows.add(ctx.get(dut.sram.addr))
            await ctx.tick()
            cycles += 1
        assert cycles == max(words, rows)
        assert seen_imem == set(range(words)) and seen_rows == set(range(rows))

    simulate(dut, bench)


# ---------------------------------------------------------------------------- scheduler


def test_scheduler_lowest_runnable_wavelet_start_and_flags():
    dut = Scheduler(4)

    async def bench(ctx):
        async def task(t, entry, valid=1, pending=0, blocked=0):
            ctx.set(dut.task_wr.we, 1)
            ctx.set(dut.task_wr.index, t)
            ctx.set(dut.task_wr.data.as_value(), entry | valid << 16 | pending << 17 | blocked << 18)
            await ctx.tick()
            ctx.set(dut.task_wr.we, 0)

        await task(3, 0x30, pending=1)
        await task(5, 0x50)
        ctx.set(dut.bind_wr.we, 1)
        ctx.set(dut.bind_wr.index, 2)
        ctx.set(dut.bind_wr.data.as_value(), 5 | 1 << 8)  # color 2 -> task 5
        await ctx.tick()
        ctx.set(dut.bind_wr.we, 0)
        assert ctx.get(dut.core.runnable) == 1 and ctx.get(dut.core.next).task == 3
        assert ctx.get(dut.core.valid) == (1 << 3) | (1 << 5)
        # a pending-only start clears the pending flag, r14 names the task, r15 = 0
        nxt = ctx.get(dut.core.next)
        assert nxt.entry == 0x30 and nxt.r14.wavelet == 0 and nxt.r14.task == 3 and nxt.r15 == 0
        ctx.set(dut.core.start, 1)
        assert ctx.get(dut.pop) == 0
        await ctx.tick()
        ctx.set(dut.core.start, 0)
        assert ctx.get(dut.core.runnable) == 0
        # a wavelet at the head of a bound color makes task 5 wavelet-ready, unless claimed
        ctx.set(dut.q.count[2], 1)
        ctx.set(dut.q.head[2].as_value(), 0x1_0000_0077)  # ctrl = 1, payload 0x77
        ctx.set(dut.claimed, 1 << 2)
        assert ctx.get(dut.core.runnable) == 0
        ctx.set(dut.claimed, 0)
        nxt = ctx.get(dut.core.next)
        assert nxt.task == 5 and nxt.entry == 0x50 and nxt.r15 == 0x77
        assert (nxt.r14.color, nxt.r14.ctrl, nxt.r14.wavelet) == (2, 1, 1)
        ctx.set(dut.core.start, 1)
        assert ctx.get(dut.pop) == 1 << 2
        await ctx.tick()
        ctx.set(dut.core.start, 0)
        ctx.set(dut.q.count[2], 0)
        # block, activate (pending stays blocked), unblock; async completion sets pending
        for flag in ("block", "activate", "unblock"):
            ctx.set(dut.core.flags.task, 5)
            ctx.set(getattr(dut.core.flags, flag), 1)
            await ctx.tick()
            ctx.set(getattr(dut.core.flags, flag), 0)
            assert ctx.get(dut.core.runnable) == (flag == "unblock")
        ctx.set(dut.done, 1 << 3)
        await ctx.tick()
        ctx.set(dut.done, 0)
        assert ctx.get(dut.core.next).task == 3
        ctx.set(dut.dbg_index, 3)
        assert ctx.get(dut.dbg_task).pending == 1 and ctx.get(dut.dbg_task).entry == 0x30
        ctx.set(dut.dbg_index, 2)
        assert ctx.get(dut.dbg_bind).task == 5 and ctx.get(dut.dbg_bind).valid == 1
        ctx.set(dut.core.bind.we, 1)  # unbind color 2 by instruction
        ctx.set(dut.core.bind.color, 2)
        ctx.set(dut.core.bind.valid, 0)
        await ctx.tick()
        ctx.set(dut.core.bind.we, 0)
        assert ctx.get(dut.dbg_bind).valid == 0
        ctx.set(dut.clear, 1)
        await ctx.tick()
        assert ctx.get(dut.core.valid) == 0 and ctx.get(dut.core.runnable) == 0

    simulate(dut, bench)


# ---------------------------------------------------------------------------- register files


def test_register_file_r0_write_priority_presets_and_clear():
    dut = RegisterFile()

    async def bench(ctx):
        c = dut.core
        for idx, val in ((0, 0x11), (3, 0x33)):  # r0 is never written
            ctx.set(c.gpr_wr.en, 1)
            ctx.set(c.gpr_wr.idx, idx)
            ctx.set(c.gpr_wr.data, val)
            await ctx.tick()
        ctx.set(c.gpr_wr.en, 0)
        ctx.set(c.gpr_idx, [0, 3, 0, 0])
        assert ctx.get(c.gpr[0]) == 0 and ctx.get(c.gpr[1]) == 0x33
        ctx.set(c.start.we, 1)
        ctx.set(c.start.r14, 0x140)
        ctx.set(c.start.r15, 0x150)
        await ctx.tick()
        ctx.set(c.start.we, 0)
        ctx.set(c.gpr_idx, [14, 15, 3, 0])
        assert [ctx.get(c.gpr[j]) for j in range(3)] == [0x140, 0x150, 0x33]
        # a load-bus preset and a core write of one DSR in one cycle: the preset's half wins
        ctx.set(c.dsr_wr.en, 1)
        ctx.set(c.dsr_wr.idx, 7)
        ctx.set(c.dsr_wr.data, 0x1111_2222_3333_4444)
        ctx.set(dut.preset.we, 1)
        ctx.set(dut.preset.index, 7)
        ctx.set(dut.preset.half, 1)
        ctx.set(dut.preset.data, 0xAAAA_BBBB)
        await ctx.tick()
        ctx.set(c.dsr_wr.en, 0)
        ctx.set(dut.preset.we, 0)
        ctx.set(c.dsr_idx, [7, 0, 0])
        assert ctx.get(c.dsr[0]).as_value().value == 0xAAAA_BBBB_3333_4444
        ctx.set(dut.dbg_idx, 7)
        assert ctx.get(dut.dbg_dsr) == 0xAAAA_BBBB_3333_4444
        ctx.set(dut.dbg_idx, 3)
        assert ctx.get(dut.dbg_gpr) == 0x33
        ctx.set(dut.clear, 1)
        await ctx.tick()
        assert ctx.get(dut.dbg_gpr) == 0 and ctx.get(c.dsr[0]).as_value().value == 0

    simulate(dut, bench)


# ---------------------------------------------------------------------------- scalar core


class _CoreBench(ScalarCore):
    """The core with its instruction memory and register file, for a short program."""

    def __init__(self, program):
        super().__init__("small", 10)
        self.program = program

    def elaborate(self, platform):
        m = super().elaborate(platform)
        top = Module()
        top.submodules.core = m
        top.submodules.imem = imem = Memory(shape=32, depth=self.prof.imem_words, init=self.program)
        top.submodules.regs = self.regs = regs = RegisterFile()
        rp = imem.read_port()
        top.d.comb += [rp.en.eq(self.imem.en), rp.addr.eq(self.imem.addr), self.imem.data.eq(rp.data)]
        for name in ("gpr_wr", "dsr_wr", "start", "gpr_idx", "dsr_idx"):
            top.d.comb += getattr(regs.core, name).eq(getattr(self.rf, name))
        top.d.comb += [self.rf.gpr.eq(regs.core.gpr), self.rf.dsr.eq(regs.core.dsr)]
        return top


def test_scalar_core_fsm_runs_a_program_and_reports_errors():
    program = [encode_i(Opcode.ADDI, a=1, b=0, imm=5), encode_i(Opcode.ADDI, a=2, b=1, imm=-7),
               encode_r(Opcode.ADD, a=3, b=1, c=2), encode_i(Opcode.JAL, a=4, imm=2), 0,
               encode_r(Opcode.DMEM, a=1, b=3, c=1, d=1, m=0), encode_i(Opcode.END),
               0]  # then ILLEGAL at 7
    dut = _CoreBench(program)

    async def bench(ctx):
        ctx.set(dut.sched.valid, 1 << 2)
        ctx.set(dut.sched.next.entry, 0)
        ctx.set(dut.sched.next.task, 2)
        ctx.set(dut.sched.runnable, 1)
        ctx.set(dut.mem.wr.gnt, 1)
        assert ctx.get(dut.sched.start) == 0  # RUN is off
        ctx.set(dut.run, 1)
        assert ctx.get(dut.sched.start) == 1 and ctx.get(dut.rf.start.we) == 1
        await ctx.tick()
        ctx.set(dut.sched.runnable, 0)
        trace, retired = [], 0
        for _ in range(30):
            trace.append((ctx.get(dut.running), ctx.get(dut.busy), ctx.get(dut.pc)))
            retired += ctx.get(dut.retire)
            assert ctx.get(dut.err.valid) == 0
            await ctx.tick()
            if not ctx.get(dut.running):
                break
        assert retired == 6  # addi, addi, add, jal, dmem, end
        assert len(trace) == 12  # FETCH + EXEC per instruction
        assert [pc for _, _, pc in trace[::2]] == [0, 1, 2, 3, 5, 6]
        ctx.set(dut.regs.dbg_idx, 3)
        assert ctx.get(dut.regs.dbg_gpr) == 3  # 5 + (5 - 7)
        ctx.set(dut.regs.dbg_idx, 4)
        assert ctx.get(dut.regs.dbg_gpr) == 4  # jal's link
        ctx.set(dut.regs.dbg_idx, 1)
        assert ctx.get(dut.regs.dbg_dsr) == pack_dsr(1, 0, length=5, base=3, stride=5)
        # the next start runs into ILLEGAL at 7: reported in EXEC, then HALT when halted
        ctx.set(dut.sched.next.entry, 7)
        ctx.set(dut.sched.runnable, 1)
        await ctx.tick()
        ctx.set(dut.sched.runnable, 0)
        await ctx.tick()  # FETCH
        err = ctx.get(dut.err)
        assert err.valid == 1 and err.code == ErrorCode.ILLEGAL and err.pc == 7 and err.task == 2
        ctx.set(dut.halt, 1)
        await ctx.tick()
        ctx.set(dut.halt, 0)
        ctx.set(dut.halted, 1)
        for _ in range(3):
            assert ctx.get(dut.running) == 1 and ctx.get(dut.busy) == 0  # HALT
            await ctx.tick()
        ctx.set(dut.clear, 1)
        await ctx.tick()
        assert ctx.get(dut.running) == 0 and ctx.get(dut.pc) == 0

    simulate(dut, bench)


# ---------------------------------------------------------------------------- vector engine


def _op(ctx, port, **fields):
    for name, value in fields.items():
        if name in ("addr", "stride"):
            for r, v in enumerate(value):
                ctx.set(getattr(port, name)[r], v)
        else:
            ctx.set(getattr(port, name), value)


def test_vector_contexts_oldest_first_fabric_wait_and_completion():
    dut = VectorContexts(colors=4, nctx=3, lanes=4)

    async def bench(ctx):
        async def launch(k, **fields):
            ctx.set(dut.launch.valid, 1)
            ctx.set(dut.launch.ctx, k)
            _op(ctx, dut.launch.op, **fields)
            await ctx.tick()
            ctx.set(dut.launch.valid, 0)

        # context 2 first: a fabric op waiting on color 1; then context 1: memory-only
        await launch(2, akind=Operand.FIN, acolor=1, n=2, done=9)
        assert ctx.get(dut.claimed) == 1 << 1 and ctx.get(dut.any_elig) == 0
        assert ctx.get(dut.probing) == 1 and ctx.get(dut.sel.ctx) == 2  # probed for its address check
        await launch(1, akind=Operand.MEM, n=4, done=4, addr=[0x100, 0, 0x200])
        assert ctx.get(dut.free.any) == 0
        assert ctx.get(dut.any_elig) == 1 and ctx.get(dut.sel.ctx) == 1 and ctx.get(dut.sel.op).addr[2] == 0x200
        ctx.set(dut.count[1], 1)  # the wavelet comes: the older op is served first
        assert ctx.get(dut.sel.ctx) == 2
        ctx.set(dut.count[1], 0)
        ctx.set(dut.issue.valid, 1)  # context 1 issues its four elements at once
        ctx.set(dut.issue.k, 4)
        ctx.set(dut.issue.inc, [8, 0, 16])
        await ctx.tick()
        ctx.set(dut.issue.valid, 0)
        assert ctx.get(dut.sel.ctx) == 2 and ctx.get(dut.finish) == 0  # a group in flight
        ctx.set(dut.wb.done, 1)
        ctx.set(dut.wb.ctx, 1)
        await ctx.tick()
        ctx.set(dut.wb.done, 0)
        assert ctx.get(dut.finish) == 0b010 and ctx.get(dut.done) == 1 << 4
        await ctx.tick()
        assert ctx.get(dut.active) == 0b100
        assert ctx.get(dut.free.any) == 1 and ctx.get(dut.free.ctx) == 1
        ctx.set(dut.err_ctx, 2)
        ctx.set(dut.halt, 1)
        await ctx.tick()
        assert ctx.get(dut.active) == 0 and ctx.get(dut.claimed) == 0

    simulate(dut, bench)


def _issue_stage():
    return IssueStage(colors=4, nctx=3, lanes16=4, lanes32=2, sram_bytes=8192, rows=1024, row_bits=10, banks=4)


def test_issue_stage_group_size_reads_and_errors():
    dut = _issue_stage()

    async def bench(ctx):
        ctx.set(dut.c_free, 1)
        ctx.set(dut.any_elig, 1)
        ctx.set(dut.rd0.gnt, 1)
        ctx.set(dut.rd1.gnt, 1)
        # vadd.f16, unit stride, aligned: four elements per group, A on rd0, B on rd1
        _op(ctx, dut.sel.op, func=VecFunc.ADD, m=0, d16=1, o16=1, akind=Operand.MEM, bkind=Operand.MEM, n=10,
            addr=[0x100, 0x200, 0x300], stride=[1, 1, 1])
        assert ctx.get(dut.issue.valid) == 1 and ctx.get(dut.issue.k) == 4
        assert [ctx.get(dut.issue.inc[r]) for r in range(3)] == [8, 8, 8]
        assert ctx.get(dut.rd0.addr) == 0x100 >> 3 and ctx.get(dut.rd1.addr) == 0x200 >> 3
        g = ctx.get(dut.group)
        assert (g.sa, g.sb, g.drow) == (RowSrc.RD0, RowSrc.RD1, 0x300 >> 3)
        ctx.set(dut.sel.i, 8)  # two left
        assert ctx.get(dut.issue.k) == 2
        ctx.set(dut.sel.i, 0)
        ctx.set(dut.sel.op.addr[0], 0x106)  # A at the row's last element: one element
        assert ctx.get(dut.issue.k) == 1
        ctx.set(dut.sel.op.stride[1], 3)  # B strided: one element, B's increment = stride * size
        ctx.set(dut.sel.op.addr[0], 0x100)
        assert ctx.get(dut.issue.k) == 1 and ctx.get(dut.issue.inc[1]) == 6
        # a partial grant: A is held, the group stays on its context
        ctx.set(dut.sel.op.stride[1], 1)
        ctx.set(dut.rd1.gnt, 0)
        assert ctx.get(dut.issue.valid) == 0
        await ctx.tick()
        assert ctx.get(dut.phase.busy) == 1
        ctx.set(dut.rd1.gnt, 1)
        assert ctx.get(dut.rd0_demand) == 0 and ctx.get(dut.issue.valid) == 1
        assert ctx.get(dut.rd0.addr) == (0x100 >> 3) + 1  # rd0 is free: the next A row is prefetched
        assert ctx.get(dut.group).sa == RowSrc.HOLD
        await ctx.tick()
        # RAW interlock: another context's pending write of B's row holds the reads
        ctx.set(dut.pending[PIPE_SLOTS - 1].valid, 1)
        ctx.set(dut.pending[PIPE_SLOTS - 1].ctx, 2)
        ctx.set(dut.pending[PIPE_SLOTS - 1].row, 0x200 >> 3)
        assert ctx.get(dut.issue.valid) == 0 and ctx.get(dut.rd1.req) == 0
        ctx.set(dut.pending[PIPE_SLOTS - 1].ctx, 0)  # its own writes do not
        assert ctx.get(dut.issue.valid) == 1
        ctx.set(dut.pending[PIPE_SLOTS - 1].valid, 0)
        # an address beyond the SRAM: no issue, the error waits
        ctx.set(dut.sel.op.addr[2], 8192)
        ctx.set(dut.sel.ctx, 1)
        assert ctx.get(dut.issue.valid) == 0
        await ctx.tick()
        err = ctx.get(dut.err)
        assert err.pend == 1 and err.code == ErrorCode.SRAM_RANGE and err.ctx == 1
        ctx.set(dut.sel.op.addr[2], 0x300)
        assert ctx.get(dut.issue.valid) == 0  # issue stops until the halt
        ctx.set(dut.halt, 1)
        await ctx.tick()
        assert ctx.get(dut.err).pend == 0

    simulate(dut, bench)


def test_issue_stage_fabric_operands_pop_their_wavelets():
    dut = _issue_stage()

    async def bench(ctx):
        ctx.set(dut.c_free, 1)
        ctx.set(dut.any_elig, 1)
        ctx.set(dut.q.head[3].as_value(), 0x1234)
        ctx.set(dut.q.next[3].as_value(), 0x5678)
        _op(ctx, dut.sel.op, func=VecFunc.ADD, m=3, akind=Operand.FIN, bkind=Operand.FIN, acolor=3, bcolor=3, n=4)
        assert ctx.get(dut.issue.valid) == 1 and ctx.get(dut.issue.k) == 1
        assert ctx.get(dut.pop2) == 1 << 3  # two wavelets of color 3 (pop2 wins over pop1)
        assert ctx.get(dut.group).fa == 0x1234 and ctx.get(dut.group).fb == 0x5678
        ctx.set(dut.sel.op.bcolor, 2)
        ctx.set(dut.q.head[2].as_value(), 0x9)
        assert ctx.get(dut.pop1) == (1 << 3) | (1 << 2) and ctx.get(dut.group).fb == 0x9

    simulate(dut, bench)


def test_vector_pipeline_latency_write_back_and_stall():
    dut = VectorPipeline(nctx=3, lanes16=4, lanes32=2, row_bits=10)

    async def bench(ctx):
        # vadd.i32 of two elements: A row on rd0, B row on rd1, result written to row 5
        g = dut.group
        for name, v in (("ctx", 1), ("k", 2), ("func", VecFunc.ADD), ("m", 3), ("amem", 1), ("bmem", 1),
                        ("sa", RowSrc.RD0), ("sb", RowSrc.RD1), ("sd", RowSrc.RD1), ("drow", 5)):
            ctx.set(getattr(g, name), v)
        ctx.set(dut.wr.gnt, 1)
        ctx.set(dut.issue, 1)
        assert ctx.get(dut.c_free) == 1
        await ctx.tick()
        ctx.set(dut.issue, 0)
        ctx.set(dut.rd0_data, 0x00000002_00000001)
        ctx.set(dut.rd1_data, 0x00000020_00000010)
        assert ctx.get(dut.pending[0]).valid == 1 and ctx.get(dut.pending[0]).row == 5
        latency = 1
        while not ctx.get(dut.wr.req):
            await ctx.tick()
            ctx.set(dut.rd0_data, 0)
            ctx.set(dut.rd1_data, 0)
            latency += 1
            assert latency < 10
        assert latency == 2 + 4  # C, F, D0..D3
        assert ctx.get(dut.wr.data) == 0x00000022_00000011 and ctx.get(dut.wr.mask) == 0xFF
        wb = ctx.get(dut.wb)
        assert wb.done == 1 and wb.ctx == 1 and wb.k == 2
        ctx.set(dut.wr.gnt, 0)  # the write port is taken: the group waits, F..D3 stop
        assert ctx.get(dut.wb).done == 0
        for _ in range(3):
            await ctx.tick()
            assert ctx.get(dut.wr.req) == 1 and ctx.get(dut.empty) == 0
        ctx.set(dut.wr.gnt, 1)
        await ctx.tick()
        assert ctx.get(dut.empty) == 1

    simulate(dut, bench)


def test_vector_pipeline_max_and_conversion_lanes():
    """vmax.f16 on the integer path (NaN -> canonical, -0 < +0, signs) and vcvt.f16.f32 on the
    FPLanes (f32 rows in, f16 half-words out at a half-row offset), with their lane-op classes;
    the expected rows are written from docs/floating-point.md."""
    dut = VectorPipeline(nctx=3, lanes16=4, lanes32=2, row_bits=10)

    async def bench(ctx):
        g = dut.group
        groups = [
            # vmax.f16: max(-0, +0), max(NaN, 1), max(-inf, -min subnormal), max(1, 1 + ulp)
            ({"k": 4, "func": VecFunc.MAX, "m": 0, "d16": 1, "o16": 1, "drow": 7},
             0x3C00_FC00_7E01_8000, 0x3C01_8001_3C00_0000),
            # vcvt.f16.f32 of 65520 (a tie above the largest finite: inf) and 2**-25 + ulp (2**-24)
            # into half-words 2 and 3
            ({"k": 2, "func": VecFunc.CVT, "m": 1, "d16": 1, "o16": 0, "dh": 2, "drow": 8},
             0x33000001_477FF000, 0),
        ]
        ctx.set(dut.wr.gnt, 1)
        for fields, row_a, row_b in groups:
            for name, v in (("ctx", 1), ("amem", 1), ("bmem", 1), ("sa", RowSrc.RD0), ("sb", RowSrc.RD1),
                            ("sd", RowSrc.RD1), ("dh", 0), *fields.items()):
                ctx.set(getattr(g, name), v)
            ctx.set(dut.issue, 1)
            await ctx.tick()
            ctx.set(dut.issue, 0)
            ctx.set(dut.rd0_data, row_a)
            ctx.set(dut.rd1_data, row_b)
            await ctx.tick()
        ctx.set(dut.rd0_data, 0)
        ctx.set(dut.rd1_data, 0)
        want = [(7, 0x3C01_8001_7E00_0000, 0xFF, LaneOp.INT, 4), (8, 0x0001_7C00_0000_0000, 0xF0, LaneOp.ADD_F16, 2)]
        got = []
        for _ in range(12):
            if ctx.get(dut.wr.req):
                got.append((ctx.get(dut.wr.addr), ctx.get(dut.wr.data), ctx.get(dut.wr.mask), ctx.get(dut.wb_op),
                            ctx.get(dut.wb).k))
            await ctx.tick()
        assert got == want, [tuple(hex(v) if isinstance(v, int) else v for v in w) for w in got]

    simulate(dut, bench)


def test_vector_engine_fill_sends_fabric_output():
    dut = VectorEngine(colors=4, uthreads=2, lanes16=4, lanes32=2, sram_bytes=8192, rows=1024, row_bits=10, banks=4)

    async def bench(ctx):
        # vfill.i32 of three elements to FOUT color 2, asynchronous in micro-thread 1, done task 6
        ctx.set(dut.out.ready, 1)
        ctx.set(dut.core.launch, 1)
        ctx.set(dut.core.ctx, dut.nctx - 2)
        _op(ctx, dut.core.op, func=VecFunc.MOV, scal=1, m=3, akind=Operand.NONE, bkind=Operand.NONE, dfout=1,
            dcolor=2, n=3, scalar=0xABCD, done=6)
        await ctx.tick()
        ctx.set(dut.core.launch, 0)
        sent, done, elems = [], 0, 0
        for _ in range(20):
            assert ctx.get(dut.mem.wr.req) == 0 and ctx.get(dut.mem.rd0.req) == 0
            if ctx.get(dut.out.valid):
                sent.append(ctx.get(dut.out.payload).as_value().value)
            done |= ctx.get(dut.done)
            elems += ctx.get(dut.elems).k if ctx.get(dut.elems).valid else 0
            await ctx.tick()
        assert sent == [wavelet(2, 0xABCD)] * 3
        assert done == 1 << 6 and elems == 3 and ctx.get(dut.busy) == 0

    simulate(dut, bench)


# ---------------------------------------------------------------------------- status


def test_status_halt_priority_sticky_counters_and_idle():
    dut = StatusCounters(lanes=4)

    async def bench(ctx):
        ctx.set(dut.run, 1)
        ctx.set(dut.core_busy, 1)
        ctx.set(dut.retire, 1)
        ctx.set(dut.elems.valid, 1)
        ctx.set(dut.elems.k, 3)
        for _ in range(2):
            await ctx.tick()
        ctx.set(dut.retire, 0)
        ctx.set(dut.elems.valid, 0)
        ctx.set(dut.core_busy, 0)
        await ctx.tick()
        st = dut.status
        assert (ctx.get(st.cycles), ctx.get(st.busy_cycles), ctx.get(st.retired), ctx.get(st.vec_elems)) == (3, 2, 2, 6)
        assert ctx.get(st.idle) == 1
        ctx.set(dut.runnable, 1)
        assert ctx.get(st.idle) == 0
        # both errors in one cycle: the core's wins; later errors do not overwrite the word
        ctx.set(dut.core_err, {"valid": 1, "code": ErrorCode.TASK, "pc": 0x12, "task": 3})
        ctx.set(dut.vec_err, {"valid": 1, "code": ErrorCode.SRAM_RANGE, "pc": 0x40, "task": 4, "async_": 1})
        assert ctx.get(dut.halt) == 1
        await ctx.tick()
        ctx.set(dut.core_err, {"valid": 0})
        word = ctx.get(st.word)
        assert word == ErrorCode.TASK | 1 << 4 | 3 << 6 | 0x12 << 16 and ctx.get(st.halted) == 1
        await ctx.tick()
        assert ctx.get(st.word) == word and ctx.get(st.idle) == 1  # halted: idle whatever is runnable
        c = ctx.get(st.cycles)
        await ctx.tick()
        assert ctx.get(st.cycles) == c  # no cycles counted while halted
        ctx.set(dut.vec_err, {"valid": 0})
        ctx.set(dut.clear, 1)
        await ctx.tick()
        assert ctx.get(st.word) == 0 and ctx.get(st.retired) == 0 and ctx.get(st.cycles) == 0

    simulate(dut, bench)
