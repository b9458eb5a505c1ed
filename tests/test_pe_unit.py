"""Quick amaranth.sim checks of the PE (hdl/pe/) without Verilator: the load bus, the debug
port, a short program (ALU, store, send) and the sticky error status. The full verification runs
on Verilator in tests/test_pe.py."""

from __future__ import annotations

from amaranth.sim import Simulator

from golden.pe_model import PEModel
from hdl.isa import ErrorCode, pe_params, unpack_status
from hdl.loadmap import Ctrl, DbgRegion, dbg_addr
from hdl.pe import PE
from sdk.asm import assemble
from sdk.loader import load_ops

SRC = """
    .task 0, t0
    .start 0
    .data 0x10
    v: .word 0x11223344
    .text
    t0: li r1, 0x12345
        lw r2, v(r0)
        add r3, r1, r2
        sw r3, 0x20(r0)
        send r3, 2
        sh r1, 0x26(r0)
        lhu r4, 0x26(r0)
        end
"""


def _run(src, cycles=200):
    image = assemble(src).to_dict()
    dut = PE("small")
    out = {"sent": []}

    async def tb(ctx):
        ctx.set(dut.ramp_out.ready, 0xFF)
        ctx.set(dut.load.we, 1)
        ctx.set(dut.load.addr, 5 << 16)
        ctx.set(dut.load.data, Ctrl.CLEAR | Ctrl.ZERO)
        await ctx.tick()
        ctx.set(dut.load.we, 0)
        await ctx.tick()
        while ctx.get(dut.status.clearing):
            await ctx.tick()
        for addr, data in load_ops(image, 8192):
            ctx.set(dut.load.we, 1)
            ctx.set(dut.load.addr, addr)
            ctx.set(dut.load.data, data)
            await ctx.tick()
        ctx.set(dut.load.addr, 5 << 16)
        ctx.set(dut.load.data, Ctrl.RUN)
        await ctx.tick()
        ctx.set(dut.load.we, 0)
        for _ in range(cycles):
            await ctx.tick()
            if ctx.get(dut.ramp_out.valid):
                w = ctx.get(dut.ramp_out.data)
                out["sent"].append((w.color, w.payload, w.ctrl))
            if ctx.get(dut.status.idle) and ctx.get(dut.status.retired):
                break
        out["status"] = ctx.get(dut.status.word)
        out["regs"] = []
        for i in range(16):
            ctx.set(dut.dbg.addr, dbg_addr(DbgRegion.GPR, i))
            await ctx.tick()
            out["regs"].append(ctx.get(dut.dbg.rdata) & 0xFFFFFFFF)
        ctx.set(dut.dbg.req, 1)
        ctx.set(dut.dbg.addr, dbg_addr(DbgRegion.SRAM, 4))  # row 4 = bytes 0x20..0x27
        await ctx.tick()
        await ctx.tick()
        out["row4"] = ctx.get(dut.dbg.rdata)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    model = PEModel(**pe_params("small"))
    model.load(image)
    model.run()
    return out, model


def test_program_via_load_bus_matches_golden():
    out, model = _run(SRC)
    assert out["status"] == 0
    assert out["regs"] == model.regs
    assert out["row4"] == int.from_bytes(model.sram[0x20:0x28], "little")
    assert out["sent"] == model.emitted


def test_error_halts_with_sticky_status():
    out, model = _run(".task 0, t0\n.start 0\n.text\nt0: li r1, 3\n lw r2, 0(r1)\n end\n")
    st = unpack_status(out["status"])
    assert st["code"] == ErrorCode.MISALIGNED and st["halted"] and st["pc"] == 1
    assert out["status"] == model.status.word()
