"""Quick amaranth.sim checks of the PE (hdl/pe/) without Verilator: the load bus, the debug
port, a short program (ALU, store, send), the sticky error status, and a chosen set of the
directed programs against the golden model with the ``events`` port counted. The full
verification runs on Verilator in tests/test_pe.py."""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from golden.pe_model import PEModel
from hdl.isa import ErrorCode, pe_params, unpack_status
from hdl.loadmap import Ctrl, DbgRegion, LoadRegion, dbg_addr, load_addr
from hdl.pe import PE
from sdk.asm import assemble
from sdk.loader import load_ops
from tb.pe_directed import directed_programs

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


# ---- the directed programs of tb/pe_directed.py in Amaranth's simulator ---------------------
# The Verilator suite (tests/test_pe.py) replays all of them with random stalls; here a chosen set
# runs in one simulation (one elaboration), so that the per-mutant kill tests of `make mutate`
# see the whole PE at work in seconds.

_DIRECTED_CYCLES = 4000


def _golden(src, inputs):
    image = assemble(src).to_dict()
    model = PEModel(**pe_params("small"))
    model.load(image)
    for w in inputs:
        model.deliver(*w)
    result = model.run()
    # the SRAM compared: every byte the golden model leaves nonzero, two rows beyond, at least 0x300
    used = max((i for i, b in enumerate(model.sram) if b), default=0)
    hi = min(len(model.sram), max(0x300, (used // 8 + 3) * 8))
    emitted = {}
    for color, payload, ctrl in model.emitted:
        emitted.setdefault(color, []).append((payload, ctrl))
    return image, {"result": result, "regs": list(model.regs), "dsrs": list(model.dsrs),
                   "sram": bytes(model.sram[:hi]), "emitted": emitted, "status": model.status.word(),
                   "retired": model.instructions_retired, "starts": len(model.task_activations)}


def _run_directed(cases, seed):
    """Run (name, image, inputs, expected) cases one after another on one PE with random output
    backpressure and input idles; return {name: actual}. Per case: CLEAR and ZERO, the image over
    the load bus, RUN, wait until idle (or halted), stop, read registers, DSRs, SRAM, status, and
    count the ``events`` of the run."""
    dut = PE("small")
    rng = random.Random(seed)
    C = dut.colors
    got = {}

    async def tb(ctx):
        received, queues, ev = [], {}, {}

        async def step(load=None, dbg=None, stalls=0.0, idles=0.0):
            ready = ctx.get(dut.ramp_in.ready)
            sent = None
            if rng.random() >= idles:
                for c in range(C):
                    if queues.get(c) and ready >> c & 1:
                        sent = c
                        payload, ctrl = queues[c].pop(0)
                        ctx.set(dut.ramp_in.data, {"payload": payload, "color": c, "ctrl": ctrl})
                        break
            ctx.set(dut.ramp_in.valid, sent is not None)
            ctx.set(dut.ramp_out.ready, sum((rng.random() >= stalls) << c for c in range(C)))
            ctx.set(dut.load.we, load is not None)
            if load is not None:
                ctx.set(dut.load.addr, load[0])
                ctx.set(dut.load.data, load[1])
            ctx.set(dut.dbg.req, dbg is not None)
            if dbg is not None:
                ctx.set(dut.dbg.addr, dbg)
            if ctx.get(dut.ramp_out.valid):
                w = ctx.get(dut.ramp_out.data)
                received.append((w.color, w.payload, w.ctrl))
            e = ctx.get(dut.events)
            for name in ("retire", "task_start", "task_end", "ramp_in", "ramp_out", "vec_issue", "vec_done",
                         "vec_busy", "sram_rd0", "sram_rd1", "sram_wr"):
                ev[name] = ev.get(name, 0) + getattr(e, name)
            ev["lanes"] = ev.get("lanes", 0) + (e.lane_k if e.lane_valid else 0)
            ev["running"] = ev.get("running", 0) + ctx.get(dut.status.running)
            ev["steps"] = ev.get("steps", 0) + 1
            await ctx.tick()

        for name, image, inputs, want in cases:
            received.clear()
            queues.clear()
            await step(load=(load_addr(LoadRegion.CTRL, 0), int(Ctrl.CLEAR | Ctrl.ZERO)))
            await step()
            while ctx.get(dut.status.clearing):
                await step()
            for op in load_ops(image, 8192):
                await step(load=op)
            for color, payload, ctrl in inputs:
                queues.setdefault(color, []).append((payload, ctrl))
            ev.clear()
            await step(load=(load_addr(LoadRegion.CTRL, 0), int(Ctrl.RUN)))
            quiet = 0
            for _ in range(_DIRECTED_CYCLES):
                await step(stalls=0.2, idles=0.2)
                quiet = quiet + 1 if ctx.get(dut.status.idle) else 0
                if quiet >= 6 or (ctx.get(dut.status.halted) and quiet):
                    break
            ev["halted"] = ctx.get(dut.events.halted)
            actual = {"status": ctx.get(dut.status.word), "retired": ctx.get(dut.status.retired),
                      "starts": ctx.get(dut.status.task_starts), "elems": ctx.get(dut.status.vec_elems),
                      "halted": ctx.get(dut.status.halted), "running": ctx.get(dut.status.running),
                      "cycles": ctx.get(dut.status.cycles), "busy": ctx.get(dut.status.busy_cycles),
                      "events": dict(ev)}
            await step(load=(load_addr(LoadRegion.CTRL, 0), 0))
            actual["regs"], actual["dsrs"] = [], []
            for region, out in ((DbgRegion.GPR, actual["regs"]), (DbgRegion.DSR, actual["dsrs"])):
                for i in range(16):
                    await step(dbg=dbg_addr(region, i))
                    value = ctx.get(dut.dbg.rdata)
                    out.append(value & 0xFFFFFFFF if region == DbgRegion.GPR else value)
            data = bytearray()
            for row in range(len(want["sram"]) // 8):
                await step(dbg=dbg_addr(DbgRegion.SRAM, row))
                await step(dbg=dbg_addr(DbgRegion.SRAM, row))
                data += ctx.get(dut.dbg.rdata).to_bytes(8, "little")
            actual["sram"] = bytes(data)
            emitted = {}
            for color, payload, ctrl in received:
                emitted.setdefault(color, []).append((payload, ctrl))
            actual["emitted"] = emitted
            got[name] = actual

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return got


_DIRECTED_SETS = {
    "scalar": ["alu_register_ops", "alu_immediate_ops_and_r0", "branches_and_jumps", "loads_and_stores",
               "dsr_setup_instructions", "strides_and_scalar_width", "send_data_and_control_wavelets",
               "pc_range_on_jump", "docs_example"],
    "tasks": ["priority_lowest_id_first", "block_and_unblock", "blocked_data_task_keeps_its_wavelets",
              "data_task_wavelet_in_r14_r15", "local_start_of_a_data_task_and_wavelet_first",
              "unbound_color_waits_and_bind_unbind", "two_colors_bound_to_one_task"],
    "vector": ["vector_fabric_output_and_input", "fabric_16bit_input_and_two_reads_of_one_color",
               "async_op_completion_and_latched_dsrs",
               "oldest_op_takes_the_wavelets_of_its_color_first",
               "zero_length_op_and_dsr_not_advanced", "sparse_gemv", "vector_fmacs.f32.f16-hand",
               "vector_fmac.i32.i16-hand", "vector_vadd.f32", "vector_vadd.i32", "vector_vmul.i16",
               "vector_vmuls.i16", "vector_vfill.f16", "vector_vmov.i32"],
    "inference": ["vector_vmax.f16", "vector_vmaxs.f16", "vector_vmax.f32", "vector_vmaxs.i16", "vector_vmax.i32",
                  "vector_vcvt.f32.f16", "vector_vcvt.f16.f32", "relu_narrow_send_epilogue",
                  "vmax_vcvt_strides_and_offsets", "vmax_f16_every_class_pair", "vmax_f32_every_class_pair",
                  "vcvt_f32_to_f16_boundaries_and_back", "error_illegal_vcvt_mode3_async",
                  "error_misaligned_vcvt_source"],
    "errors": ["vector_element_error", "async_element_error", "error_illegal_reserved", "error_sram_range_sw_negative",
               "error_misaligned_dld", "error_dsr_kind_fout_acc", "error_dsr_type_operand", "error_arg_range_send"],
}

# Programs of this file beside tb/pe_directed.py's: the ends of the SRAM and the sub-word
# alignments, a bind by instruction, task 0 blocked at load.
_EXTRA_PROGRAMS = {
    "sram_edges": (".task 0, t0\n.start 0\n.text\nt0: li r1, 8184\n li r2, 0x5a5a1234\n sw r2, 4(r1)\n"
                   " lw r3, 4(r1)\n sh r2, 6(r1)\n lhu r4, 6(r1)\n lh r5, 2(r0)\n sh r2, 0x12(r0)\n end\n", ()),
    "misaligned_word_at_1": (".task 0, t0\n.start 0\n.text\nt0: li r1, 1\n lw r2, 0(r1)\n end\n", ()),
    "misaligned_half_at_3": (".task 0, t0\n.start 0\n.text\nt0: li r1, 3\n sh r2, 0(r1)\n end\n", ()),
    "word_beyond_sram": (".task 0, t0\n.start 0\n.text\nt0: li r1, 8192\n lw r2, 0(r1)\n end\n", ()),
    "half_at_sram_end": (".task 0, t0\n.start 0\n.text\nt0: li r1, 8190\n lhu r2, 0(r1)\n li r1, 8192\n"
                         " lhu r2, 0(r1)\n end\n", ()),
    "bind_by_instruction": (".task 0, t0\n.task 6, t6\n.start 0\n.text\nt0: bind 2, 6\n end\n"
                            "t6: addi r9, r9, 1\n end\n", ((2, 1),)),
    "task_zero_blocked_at_load": (".task 0, t0, 3\n.task 1, t1\n.start 1\n.blocked 0\n.text\n"
                                  "t1: addi r9, r9, 1\n end\nt0: addi r8, r8, 1\n end\n", ((3, 7),)),
}
_DIRECTED_SETS["extra"] = list(_EXTRA_PROGRAMS)


@pytest.mark.thorough
@pytest.mark.parametrize("group", list(_DIRECTED_SETS))
def test_directed_programs_against_golden(group):
    """A set of tb/pe_directed.py programs on one PE (random output stalls and input idles): the
    registers, DSRs, SRAM, sent wavelets per color, status word, retired instructions and task
    starts of the golden model; the ``events`` port counts the same retirements, task starts and
    ends, wavelets in and out, and vector elements as the status counters."""
    programs = {name: (src, deliveries) for name, src, deliveries in directed_programs()}
    programs.update(_EXTRA_PROGRAMS)
    cases = []
    for name in _DIRECTED_SETS[group]:
        src, deliveries = programs[name]
        image, want = _golden(src, deliveries)
        assert want["result"] in ("idle", "halted"), (name, want["result"])
        cases.append((name, image, [tuple(w) + (0,) * (3 - len(w)) for w in deliveries], want))
    got = _run_directed(cases, seed=len(group))
    for name, _, inputs, want in cases:
        a = got[name]
        assert a["status"] == want["status"], (name, hex(a["status"]), hex(want["status"]))
        assert a["regs"] == want["regs"], name
        assert a["dsrs"] == want["dsrs"], name
        assert a["sram"] == want["sram"], name
        assert a["emitted"] == want["emitted"], name
        assert a["starts"] == want["starts"], name
        ev = a["events"]
        if want["result"] == "idle":
            assert a["retired"] == want["retired"] and not a["halted"], name
            assert ev["ramp_in"] == len(inputs), name
        assert (ev["retire"], ev["task_start"]) == (a["retired"], a["starts"]), name
        # a halt may end the running task without a task end
        assert a["starts"] - a["halted"] <= ev["task_end"] <= a["starts"], name
        assert ev["ramp_out"] == sum(map(len, a["emitted"].values())), name
        assert ev["lanes"] == a["elems"] and ev["vec_done"] <= ev["vec_issue"], name
        assert ev["vec_busy"] >= ev["vec_issue"] and (ev["vec_busy"] == 0) == (ev["vec_issue"] == 0), name
        assert ev["halted"] == a["halted"] and (a["halted"] or not a["running"]), name
        assert ev["running"] >= a["retired"], name  # an instruction retires while its task runs
        # the cycle counters count from RUN while not halted; every retirement takes a busy cycle
        assert a["retired"] <= a["busy"] <= a["cycles"] <= ev["steps"] and a["cycles"] > 0, name


# ---- long vector ops: bit-exact at the documented rate ---------------------------------------

_FMAC_MODES = {"f32.f16": ("f32", "f16", 4, 2, 2), "f32": ("f32", "f32", 4, 4, 2), "f16": ("f16", "f16", 2, 2, 4),
               "i32.i16": ("i32", "i16", 4, 2, 2)}  # acc type, operand type, bytes, bytes, peak per cycle
_LONG = 128


def _fmacs_source(mode, n):
    """fmacs.M over ``n`` unit-stride elements, the operand one row past the accumulator's end so
    that the accumulator's read and write and the operand's read use different banks."""
    acc_t, op_t, acc_b, op_b, _ = _FMAC_MODES[mode]
    rng = random.Random(7)
    a_base = _LONG * acc_b + 8
    acc = ", ".join(hex(rng.getrandbits(14)) for _ in range(_LONG))
    ops = ", ".join(hex(rng.getrandbits(14)) for _ in range(_LONG))
    d = {2: ".half", 4: ".word"}
    return (f".task 0, t0\n.start 0\n.dsr d0, mem.{acc_t}, 0, {n}, 1\n.dsr d1, mem.{op_t}, {a_base}, {n}, 1\n"
            f".data 0\n{d[acc_b]} {acc}\n.data {a_base}\n{d[op_b]} {ops}\n.text\n"
            f"t0: li r5, 0x3c01\n fmacs.{mode} d0, d1, r5\n end\n")


def _fmac_three_streams_source(n):
    """fmac.f16 d0 += d1 * d2 with all three in SRAM: three row reads per group, A prefetched."""
    rng = random.Random(8)
    data = "".join(f".data {k * (2 * _LONG + 8)}\n.half " + ", ".join(hex(rng.getrandbits(14)) for _ in range(_LONG))
                   + "\n" for k in range(3))
    return (f".task 0, t0\n.start 0\n.dsr d0, mem.f16, 0, {n}, 1\n.dsr d1, mem.f16, {2 * _LONG + 8}, {n}, 1\n"
            f".dsr d2, mem.f16, {2 * (2 * _LONG + 8)}, {n}, 1\n{data}.text\nt0: fmac.f16 d0, d1, d2\n end\n")


@pytest.mark.thorough
def test_long_fmacs_and_three_stream_fmac_bit_exact_at_rate():
    """Long unit-stride FMACs (docs/pe.md "Throughput"): the golden model's results, and busy
    cycles (n elements minus none) at most the peak's n / peak plus the pipeline fill for every
    fmacs mode; fmac.f16 with A, B and the accumulator in memory above 2 MACs per cycle (prefetching
    A on the idle read port; 3 row reads per group without it would give 4/3)."""
    sources = {}
    for mode in _FMAC_MODES:
        for n in (0, _LONG):
            sources[f"fmacs.{mode}/{n}"] = _fmacs_source(mode, n)
    for n in (0, _LONG):
        sources[f"fmac.f16/{n}"] = _fmac_three_streams_source(n)
    cases = []
    for name, src in sources.items():
        image, want = _golden(src, ())
        assert want["result"] == "idle", name
        cases.append((name, image, [], want))
    got = _run_directed(cases, seed=1)
    for name, _, _, want in cases:
        a = got[name]
        assert (a["status"], a["sram"], a["retired"]) == (want["status"], want["sram"], want["retired"]), name
    cycles = {name: got[f"{name}/{_LONG}"]["busy"] - got[f"{name}/0"]["busy"]
              for name in ["fmacs." + m for m in _FMAC_MODES] + ["fmac.f16"]}
    for mode, (*_, peak) in _FMAC_MODES.items():
        assert cycles[f"fmacs.{mode}"] <= _LONG // peak + 7, cycles  # ~6 cycles of pipeline fill
    assert _LONG / cycles["fmac.f16"] > 2.0, cycles


def test_fmacs_reads_each_accumulator_row_once_when_its_operand_waits():
    """docs/pe.md: a granted row is held until its group issues, not read again. fmacs.f32 over 16
    elements (8 accumulator rows, on read port 1) with the operand at each bank offset, so that in
    some of them its reads collide with the write-back and the group waits: read port 1 still
    serves exactly one read per accumulator row."""
    cases = []
    for k in range(4):
        a_base = 0x100 + 8 * k
        src = (f".task 0, t0\n.start 0\n.dsr d0, mem.f32, 0, 16, 1\n.dsr d1, mem.f32, {a_base}, 16, 1\n"
               f".data {a_base}\n.word " + ", ".join(hex(0x3f800000 + (j << 18)) for j in range(16))
               + "\n.text\nt0: li r5, 0x3fc00000\n fmacs.f32 d0, d1, r5\n end\n")
        image, want = _golden(src, ())
        cases.append((f"offset{k}", image, [], want))
    got = _run_directed(cases, seed=3)
    for name, _, _, want in cases:
        a = got[name]
        assert (a["status"], a["sram"]) == (want["status"], want["sram"]), name
        assert a["events"]["sram_rd1"] == 8, (name, a["events"])


def _fmac_bank_sweep_source(t, d_row, n):
    """fmac.T d0 += d1 * d2, all three in SRAM: A at row 32, B at row 80, the accumulator at
    ``d_row``; full random significands (every bit of a held row matters)."""
    rng = random.Random(d_row)
    size, d = {"f16": (2, ".half"), "f32": (4, ".word")}[t]

    def values():  # finite, normal, random low bits
        if t == "f16":
            return ", ".join(hex(rng.choice((0x2000, 0xa000)) | rng.getrandbits(13)) for _ in range(n))
        return ", ".join(hex(rng.choice((0x3c000000, 0xbc000000)) | rng.getrandbits(25)) for _ in range(n))

    rows = {"d0": d_row, "d1": 32, "d2": 80}
    dsrs = "".join(f".dsr {r}, mem.{t}, {8 * row}, {n}, 1\n" for r, row in rows.items())
    data = "".join(f".data {8 * row}\n{d} {values()}\n" for row in rows.values())
    return f".task 0, t0\n.start 0\n{dsrs}{data}.text\nt0: fmac.{t} d0, d1, d2\n end\n"


@pytest.mark.thorough
def test_fmac_with_three_rows_in_memory_at_every_bank_relation():
    """docs/pe.md: fmac with A, B and the accumulator in SRAM prefetches the next A row on the idle
    read port, or takes it on read port 0 when the accumulator's read leaves it idle, and holds the
    rows a group got while it waits. The accumulator is placed at each bank relative to the next A
    row (rows 0..15 against A at row 32 over 4 banks, 8 f16 rows or 16 f32 rows long), so every
    combination of the prefetch's conditions occurs; the data use every significand bit, so a
    wrong row or a wrong bit in a hold register changes the result."""
    cases = []
    for t, n in (("f16", 32), ("f32", 32)):
        for d_row in range(0, 16, 3 if t == "f32" else 1):
            image, want = _golden(_fmac_bank_sweep_source(t, d_row, n), ())
            assert want["result"] == "idle"
            cases.append((f"{t}/{d_row}", image, [], want))
    got = _run_directed(cases, seed=5)
    for name, _, _, want in cases:
        a = got[name]
        assert (a["status"], a["sram"], a["retired"]) == (want["status"], want["sram"], want["retired"]), name
