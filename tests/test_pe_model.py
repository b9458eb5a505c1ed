"""Directed tests of the golden PE model (golden/pe_model.py) and the PE mesh model, from docs/isa.md.

The PE programs are the directed stimulus of tb/pe_directed.py, run here by name (the RTL replays
the same ones: tests/test_pe.py); every program these tests run on the default parameters must be
one of ``directed_programs()``, which ``make`` checks. Expected values are written down by hand or
computed with golden/fp.py from the inputs, never taken from the model. Programs are built with
the assembler (sdk/asm.py); the model itself decodes the words with its own tables, and
``test_model_tables_match_isa`` checks those agree with hdl/isa.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from golden import fp
from golden import pe_model as pm
from golden.pe_mesh_model import PEMeshModel
from golden.pe_model import PEModel
from golden.routing import ColorRoute, MeshRoutes, Port, mask_of
from hdl.isa import RESERVED_OPCODES, ErrorCode, Opcode, pe_params
from sdk.asm import assemble
from tb.pe_directed import (
    CVT_MODES,
    ERROR_CASES,
    F16_EDGES,
    F32_EDGES,
    F32_TO_F16_BOUNDARIES,
    FMAC_MODES,
    PROGRAMS,
    SPARSE_GEMV_ROWS,
    SPARSE_GEMV_W,
    SPARSE_GEMV_X,
    TNAME,
    VECTOR_PROGRAMS,
    directed_programs,
    error_program,
    words,
)

PARAMS = pe_params("small")
MODEL_KEYS = ("sram_kib", "sram_banks", "simd_f16", "colors", "imem_words", "uthreads")
# (source, deliveries) of every program the RTL replays
REPLAYED = {(src, tuple(map(tuple, d))) for _, src, d in directed_programs()}


def make(src: str, deliveries=(), run=True, **overrides) -> PEModel:
    """Assemble ``src``, load a fresh model, queue ``deliveries`` and run it (state in ``m.state``)."""
    assert overrides or (src, tuple(map(tuple, deliveries))) in REPLAYED, \
        "a directed program the RTL does not replay: add it to tb/pe_directed.py"
    params = {**PARAMS, **overrides}
    image = assemble(src, **params)
    m = PEModel(**{k: params[k] for k in MODEL_KEYS})
    m.load(image.to_dict())
    m.symbols = image.symbols
    for d in deliveries:
        m.deliver(*d)
    m.state = m.run() if run else None
    return m


def run_program(name: str, run=True) -> PEModel:
    """``make`` of the directed program ``name`` (tb/pe_directed.PROGRAMS), on its own parameters."""
    p = PROGRAMS[name]
    return make(p.source, p.deliveries, run, **(p.params or {}))


def u32(m, addr):
    return int.from_bytes(m.sram[addr:addr + 4], "little")


def u16(m, addr):
    return int.from_bytes(m.sram[addr:addr + 2], "little")


# ---- the model's own decode tables agree with hdl/isa.py --------------------------------------

def test_model_tables_match_isa():
    for op in Opcode:
        if op != Opcode.ILLEGAL:
            assert getattr(pm, op.name) == op, op.name
    assert pm.ERROR_NAMES == [e.name for e in ErrorCode]
    assert set(range(64)) - {getattr(pm, o.name) for o in Opcode if o != Opcode.ILLEGAL} == RESERVED_OPCODES


# ---- scalar instructions ----------------------------------------------------------------------

def test_alu_register_ops():
    m = run_program("alu_register_ops")
    assert m.state == "idle" and m.status.code == 0
    assert m.regs[:14] == [0, 0x80000001, 3, 0x80000004, 0x7FFFFFFE, 1, 0x80000003, 0x80000002,
                           0x00000008, 0x10000000, 0xF0000000, 1, 0, 0x80000003]


def test_alu_immediate_ops_and_r0():
    m = run_program("alu_immediate_ops_and_r0")
    assert m.regs[:14] == [0, 0xFFFFFFFE, 0xFFFFFFFB, 0x0000FF0E, 0xFFFFFFFF, 0xFFFF0001, 0xFFFFFFE0, 0xF,
                           0xFFFFFFFF, 1, 1, 0, 0xABCD0000, 0x12345678]


def test_branches_and_jumps():
    m = run_program("branches_and_jumps")
    s = m.symbols
    assert m.regs[5] == 0  # every taken branch skipped its add, every untaken one fell through
    assert m.regs[6] == s["bad"]  # jal links pc + 1
    assert m.regs[7] == s["t6"] - 1  # jalr links the next PC (t6 - 1) and jumps past t6
    assert m.regs[8] == 1


def test_loads_and_stores():
    m = run_program("loads_and_stores")
    assert m.sram[0x100:0x104] == bytes([0xCD, 0xAB, 0x65, 0x87])
    assert m.sram[0x108:0x10A] == bytes([0xCD, 0xAB]) and m.sram[0x10A:0x10C] == b"\0\0"
    assert m.regs[3:8] == [0x8765ABCD, 0xFFFFABCD, 0xABCD, 0xFFFF8765, 0x11223344]


# ---- DSR set-up -------------------------------------------------------------------------------

def test_dsr_setup_instructions():
    m = run_program("dsr_setup_instructions")
    assert m.dsrs[1] == 1 | 2 << 2 | 10 << 16 | 0x40 << 32 | 0xFFFE << 48
    assert m.dsrs[2] == 2 | 1 << 2 | 3 << 16 | 5 << 32
    assert m.dsrs[3] == 3 | 0 << 2 | 10 << 16 | 7 << 32 | 1 << 37
    assert m.dsrs[4] == 1 | 1 << 2 | 7 << 16 | 0x60 << 32 | 10 << 48
    assert m.dsrs[5] == 0x00010080_00040005  # loaded from 0x208
    d = m.dsr(1)
    assert (d.kind, d.type, d.length, d.base, d.stride) == (1, 2, 10, 0x40, -2)


# ---- vector instructions ----------------------------------------------------------------------

def _vector_run(p):
    """The 8 dst elements (at 0x000) after the vector program ``p`` (tb/pe_directed.VectorProgram)."""
    dsize = 2 if p.dst_type in (0, 2) else 4
    m = make(p.program.source)
    assert m.status.code == 0 and m.state == "idle"
    return [int.from_bytes(m.sram[i * dsize:(i + 1) * dsize], "little") for i in range(8)]


MACS = {"f32.f16": fp.fmac_f32_f16, "f32": fp.fmac_f32, "f16": fp.fmac_f16, "i32.i16": fp.mac_i32_i16}


@pytest.mark.parametrize("mode", FMAC_MODES)
def test_fmac_elementwise_and_scalar(mode):
    mac = MACS[mode]
    p = VECTOR_PROGRAMS[f"fmac.{mode}"]
    want = [mac(*z) for z in zip(p.dst, p.a, p.b, strict=True)]
    assert _vector_run(p) == want
    p = VECTOR_PROGRAMS[f"fmacs.{mode}"]
    want = [mac(c, x, p.scalar) for c, x in zip(p.dst, p.a, strict=True)]
    assert _vector_run(p) == want


def test_fmac_hand_values():
    # f32 1.0 + f16 2 * f16 0.25 = 1.5; i32 10 + (-2) * 3 = 4; i32 0x7FFFFFFF + 1 * 1 wraps
    assert _vector_run(VECTOR_PROGRAMS["fmacs.f32.f16-hand"])[0] == fp.f32_bits(1.5)
    got = _vector_run(VECTOR_PROGRAMS["fmac.i32.i16-hand"])
    assert got[:2] == [4, 0x80000000]


@pytest.mark.parametrize("t", [0, 1, 2, 3], ids=TNAME.get)
def test_vadd_vmul_elementwise_and_scalar(t):
    add = {0: fp.add_f16, 1: fp.add_f32, 2: lambda x, y: (x + y) & 0xFFFF, 3: lambda x, y: (x + y) & 0xFFFFFFFF}[t]
    mul = {0: fp.mul_f16, 1: fp.mul_f32, 2: lambda x, y: (x * y) & 0xFFFF, 3: lambda x, y: (x * y) & 0xFFFFFFFF}[t]
    n = TNAME[t]
    vadd, vmul, vadds, vmuls, vmov, vfill = (VECTOR_PROGRAMS[f"{op}.{n}"]
                                             for op in ("vadd", "vmul", "vadds", "vmuls", "vmov", "vfill"))
    assert _vector_run(vadd) == [add(x, y) for x, y in zip(vadd.a, vadd.b, strict=True)]
    assert _vector_run(vmul) == [mul(x, y) for x, y in zip(vmul.a, vmul.b, strict=True)]
    assert _vector_run(vadds) == [add(x, vadds.scalar) for x in vadds.a]
    assert _vector_run(vmuls) == [mul(x, vmuls.scalar) for x in vmuls.a]
    assert _vector_run(vmov) == vmov.a
    assert _vector_run(vfill) == [vfill.scalar] * 8


def test_integer_vector_hand_values():
    # a = 1, 0x7FFF, 0xFFFF, 0x8000 and b = 2, 1, 1, 0x8000 (i16); a = 10, 0x7FFFFFFF, -1, 3, 0x10000,
    # 0x80000000 and b = 5, 1, 2, -1, 0x10000, 0x80000000 (i32)
    assert _vector_run(VECTOR_PROGRAMS["vadd.i16"])[:4] == [3, 0x8000, 0, 0]
    assert _vector_run(VECTOR_PROGRAMS["vmul.i32"])[:6] == [50, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0, 0]


# ---- vmax and vcvt: expectations from host floats and numpy, written from docs/floating-point.md ---

_QNAN = {0: 0x7E00, 1: 0x7FC00000}


def _spec_max(t, a, b):
    """docs/floating-point.md "Maximum", from host float values (not golden/fp.py): any NaN gives
    the canonical NaN; of two zeros -0 only if both are; else the operand of greater value.
    i16/i32 compare as two's complement."""
    if t in (2, 3):
        w = 16 if t == 2 else 32
        sa, sb = (x - (1 << w) if x >> (w - 1) else x for x in (a, b))
        return a if sa >= sb else b
    val = fp.bits_f16 if t == 0 else fp.bits_f32
    x, y = val(a), val(b)
    if math.isnan(x) or math.isnan(y):
        return _QNAN[t]
    if x == y == 0:
        sign = 0x8000 if t == 0 else 0x80000000
        return a if not a & sign else b
    return a if x > y else b


def _np_f32_to_f16(bits):
    """numpy's float32 -> float16 conversion (round to nearest even), NaNs canonical."""
    with np.errstate(over="ignore"):
        h = int(np.array([bits], dtype=np.uint32).view(np.float32).astype(np.float16).view(np.uint16)[0])
    return 0x7E00 if (h & 0x7FFF) > 0x7C00 else h


def _np_f16_to_f32(bits):
    f = int(np.array([bits], dtype=np.uint16).view(np.float16).astype(np.float32).view(np.uint32)[0])
    return 0x7FC00000 if (f & 0x7FFFFFFF) > 0x7F800000 else f


@pytest.mark.parametrize("t", [0, 1, 2, 3], ids=TNAME.get)
def test_vmax_elementwise_and_scalar(t):
    n = TNAME[t]
    vmax, vmaxs = VECTOR_PROGRAMS[f"vmax.{n}"], VECTOR_PROGRAMS[f"vmaxs.{n}"]
    assert _vector_run(vmax) == [_spec_max(t, x, y) for x, y in zip(vmax.a, vmax.b, strict=True)]
    s = vmaxs.scalar & (0xFFFF if t in (0, 2) else 0xFFFFFFFF)  # a 16-bit type takes rS[15:0]
    assert _vector_run(vmaxs) == [_spec_max(t, x, s) for x in vmaxs.a]


def test_vmax_hand_values():
    # f16 a = 1.5, -2, 0.1, 65504, min subnormal, inf, NaN, -0 against b = 2, 0.5, -3, 2, 1, -inf, 1, +0
    got = _vector_run(VECTOR_PROGRAMS["vmax.f16"])
    assert got == [0x4000, 0x3800, fp.f16_bits(0.1), 0x7BFF, 0x3C00, 0x7C00, 0x7E00, 0x0000]
    # the ReLU: vmaxs.f16 with +0 (r5 = 0xffff0000: the high half is ignored)
    assert _vector_run(VECTOR_PROGRAMS["vmaxs.f16"]) == [0x3E00, 0, fp.f16_bits(0.1), 0x7BFF, 1, 0x7C00, 0x7E00, 0]
    # i16 a = 1, 0x7FFF, -1, -32768 against b = 2, 1, 1, -32768: signed
    assert _vector_run(VECTOR_PROGRAMS["vmax.i16"])[:4] == [2, 0x7FFF, 1, 0x8000]


@pytest.mark.parametrize("t", ["f16", "f32"])
def test_vmax_every_class_pair(t):
    """vmax over every (a, b) of the edge classes, both signs, NaNs with payloads (784 elements)."""
    m = run_program(f"vmax_{t}_every_class_pair")
    assert m.state == "idle"
    edges, size, base, k = (F16_EDGES, 2, 0, 0) if t == "f16" else (F32_EDGES, 4, 0, 1)
    want = [_spec_max(k, a, b) for a in edges for b in edges]
    got = [int.from_bytes(m.sram[base + size * i:base + size * (i + 1)], "little") for i in range(len(want))]
    bad = [(hex(a), hex(b), hex(g), hex(w)) for (a, b), g, w in
           zip(((a, b) for a in edges for b in edges), got, want, strict=True) if g != w]
    assert not bad, bad[:8]


def test_i32_bit_ops_hand_values():
    # I32 = 10, 0x7FFFFFFF, -1, 3, 0x10000, 0x80000000, 0, 7; r5 = 35: a shift by 35 & 31 = 3
    assert _vector_run(VECTOR_PROGRAMS["vsll.i32"]) == [80, 0xFFFFFFF8, 0xFFFFFFF8, 24, 0x80000, 0, 0, 56]
    assert _vector_run(VECTOR_PROGRAMS["vsrl.i32"]) == [1, 0x0FFFFFFF, 0x1FFFFFFF, 0, 0x2000, 0x10000000, 0, 0]
    assert _vector_run(VECTOR_PROGRAMS["vsra.i32"]) == [1, 0x0FFFFFFF, 0xFFFFFFFF, 0, 0x2000, 0xF0000000, 0, 0]
    # the sign smear (by 31) and a shift by 0 (r5 = 0xFFFFFFE0: only r5[4:0] counts)
    assert _vector_run(VECTOR_PROGRAMS["vsra.i32-by-31"]) == [0, 0, 0xFFFFFFFF, 0, 0, 0xFFFFFFFF, 0, 0]
    assert _vector_run(VECTOR_PROGRAMS["vsll.i32-by-0"]) == VECTOR_PROGRAMS["vsll.i32-by-0"].a
    # with 0x8000FFF0, 0x7F800001 and all ones
    assert _vector_run(VECTOR_PROGRAMS["vands.i32"]) == [0, 0xFFF0, 0x8000FFF0, 0, 0, 0x80000000, 0, 0]
    assert _vector_run(VECTOR_PROGRAMS["vors.i32"]) == [0x7F80000B, 0x7FFFFFFF, 0xFFFFFFFF, 0x7F800003,
                                                        0x7F810001, 0xFF800001, 0x7F800001, 0x7F800007]
    assert _vector_run(VECTOR_PROGRAMS["vxors.i32"]) == [0xFFFFFFF5, 0x80000000, 0, 0xFFFFFFFC, 0xFFFEFFFF,
                                                         0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFF8]


@pytest.mark.parametrize("mode", CVT_MODES)
def test_vcvt_elementwise(mode):
    p = VECTOR_PROGRAMS[f"vcvt.{mode}"]
    conv = _np_f16_to_f32 if mode == "f32.f16" else _np_f32_to_f16
    assert _vector_run(p) == [conv(x) for x in p.a]


def test_vcvt_f32_to_f16_boundaries_and_back():
    m = run_program("vcvt_f32_to_f16_boundaries_and_back")
    assert m.state == "idle"
    n = m.dsr(2).length
    src = [u32(m, 0x200 + 4 * i) for i in range(n)]
    narrow = [u16(m, 2 * i) for i in range(n)]
    assert narrow == [_np_f32_to_f16(x) for x in src]
    assert [u32(m, 0x600 + 4 * i) for i in range(n)] == [_np_f16_to_f32(h) for h in narrow]
    # hand values (docs/floating-point.md): 1 + 2**-11 ties to 1.0, 1 + 3 * 2**-11 to 1 + 2**-9;
    # 65504 stays, 65519.99 -> 65504, 65520 and 65536 -> inf; 2**-24 stays, 2**-25 -> 0, just
    # above it -> 2**-24; 1.5 * 2**-24 -> 2 * 2**-24; the largest subnormal + half an ulp -> 2**-14
    assert narrow[:16] == [0x3C00, 0x3C00, 0x3C01, 0x3C02, 0x7BFF, 0x7BFF, 0x7C00, 0x7C00, 0x7C00, 0x0001, 0x0000,
                           0x0001, 0x0000, 0x0002, 0x0400, 0x0400]
    half = len(F32_TO_F16_BOUNDARIES) // 2
    assert narrow[half:half + 8] == [0xBC00, 0xBC00, 0xBC01, 0xBC02, 0xFBFF, 0xFBFF, 0xFC00, 0xFC00]
    assert narrow[16:22] == [0, 0, 0x7C00, 0x7E00, 0x7E00, 0x7E00]  # f32 subnormals -> +0, inf, NaNs
    assert narrow[half + 16:half + 18] == [0x8000, 0x8000]  # ... keeping the sign


def test_vcvt_f16_to_f32_to_memory_and_fabric():
    m = run_program("vcvt_f16_to_f32_classes_to_memory_and_fabric")
    assert m.state == "idle" and m.task_activations == [0, 1]
    n = m.dsr(2).length
    want = [_np_f16_to_f32(u16(m, 2 * i)) for i in range(n)]
    assert [u32(m, 0x500 + 4 * i) for i in range(n)] == want
    assert m.emitted == [(2, w, 0) for w in want]
    assert want[:3] == [0, 0x33800000, fp.f32_bits(0x155 * 2.0**-24)]  # subnormals become normal f32


def test_relu_narrow_send_epilogue():
    """An async ReLU, an async narrowing reading its results and an FOUT vmov, issued back to back
    (docs/isa.md "Ordering"), beside a FIN -> FOUT narrowing."""
    m = run_program("relu_narrow_send_epilogue")
    assert m.state == "idle"
    relu = [0x3FC00000, 0, 0, 0, fp.f32_bits(1e-30), 0, fp.f32_bits(70000.0), fp.f32_bits(65519.0),
            fp.f32_bits(3.0e-8), 0, 0x7FC00000, 0]
    assert [u32(m, 0x100 + 4 * i) for i in range(12)] == relu
    f16 = [0x3E00, 0, 0, 0, 0, 0, 0x7C00, 0x7BFF, 0x0001, 0, 0x7E00, 0]  # 3e-8 is above 2**-25: 2**-24
    assert [u16(m, 0x200 + 2 * i) for i in range(12)] == f16
    assert [e for e in m.emitted if e[0] == 4] == [(4, h, 0) for h in f16]
    assert [e for e in m.emitted if e[0] == 6] == [(6, h, 1) for h in (0x3C00, 0x7C00, 0x0001, 0xFC00, 0x7E00)]


def test_vmax_vcvt_strides_and_offsets():
    m = run_program("vmax_vcvt_strides_and_offsets")
    assert m.state == "idle"
    src32 = F32_TO_F16_BOUNDARIES[:16]
    # vcvt.f16.f32 d1 (from 0x1a backwards) <- every other f32 from 0x100
    assert [u16(m, 0x1A - 2 * i) for i in range(7)] == [_np_f32_to_f16(src32[2 * i]) for i in range(7)]
    assert u16(m, 0x1A + 2) == 0 and u16(m, 0x1A - 14) == 0  # nothing outside
    a16 = [u16(m, 0x206 + 2 * i) for i in range(13)]
    b16 = [u16(m, 0x302 + 2 * i) for i in range(13)]
    assert [u16(m, 0x402 + 2 * i) for i in range(13)] == [_spec_max(0, x, y) for x, y in zip(a16, b16, strict=True)]
    assert [u32(m, 0x500 + 12 * i) for i in range(5)] == [_spec_max(1, src32[3 * i], 0x3F800000) for i in range(5)]
    assert [u32(m, 0x604 + 4 * i) for i in range(9)] == [_np_f16_to_f32(u16(m, 0x21A - 2 * i)) for i in range(9)]


def test_strides_and_scalar_width():
    m = run_program("strides_and_scalar_width")
    assert [u32(m, 4 * i) for i in range(4)] == [7, 5, 3, 1]
    assert [u16(m, 0x200 + 2 * i) for i in range(4)] == [0x3C00] * 3 + [0]  # rS[15:0] only, length 3


def test_zero_length_op_and_dsr_not_advanced():
    m = run_program("zero_length_op_and_dsr_not_advanced")
    assert u32(m, 0) == 0 and u32(m, 8) == 4
    assert m.dsr(2).base == 8 and m.dsr(2).length == 1


# ---- fabric ------------------------------------------------------------------------------------

def test_send_data_and_control_wavelets():
    m = run_program("send_data_and_control_wavelets")
    assert m.emitted == [(3, 0xDEADBEEF, 0), (5, 0xDEADBEEF, 1), (6, 5, 0), (0, 0, 0)]


def test_vector_fabric_output_and_input():
    f = [fp.f16_bits(v) for v in (1.0, -0.5, 3.0)]
    m = run_program("vector_fabric_output_and_input")
    assert m.emitted[:3] == [(6, b, 1) for b in f]  # 16-bit elements travel in payload[15:0]
    assert [u32(m, 0x40), u32(m, 0x44)] == [fp.f32_bits(2.0), fp.f32_bits(-4.0)]
    assert m.emitted[3:] == [(7, fp.f32_bits(2.5), 0), (7, fp.f32_bits(-3.0), 0)]


def test_fabric_16bit_input_ignores_high_half_and_two_reads_of_one_color_pair_up():
    m = run_program("fabric_16bit_input_and_two_reads_of_one_color")
    assert [u16(m, 0), u16(m, 2)] == [0x3C00, 0xC000]  # from 0xABCD3C00, 0x0000C000 on color 1
    assert [u32(m, 8), u32(m, 12)] == [3, 7]  # (1 + 2), (3 + 4): dA's wavelet first, then dB's


def test_synchronous_op_waits_for_fabric_input():
    m = run_program("synchronous_op_waits_for_fabric_input")  # 11 and 22 delivered
    assert m.state == "waiting" and m.regs[3] == 0 and u32(m, 4) == 22
    m.deliver(4, 33)
    assert m.run() == "idle"
    assert [u32(m, 0), u32(m, 4), u32(m, 8)] == [11, 22, 33] and m.regs[3] == 1


# ---- tasks ------------------------------------------------------------------------------------

def test_priority_lowest_id_first():
    m = run_program("priority_lowest_id_first")
    assert m.task_activations == [2, 5, 1, 7]  # 1 is activated by 5 and overtakes the already pending 7


def test_block_and_unblock():
    m = run_program("block_and_unblock")
    assert m.task_activations == [0] and m.state == "idle"  # 1 is pending but blocked
    m.deliver(3, 0)
    assert m.run() == "idle"
    assert m.task_activations == [0, 2, 1] and m.regs[9] == 1


def test_blocked_data_task_keeps_its_wavelets():
    m = run_program("blocked_data_task_keeps_its_wavelets")
    assert m.task_activations == [] and m.input_queue(2) == [(1, 0), (2, 0)]
    m.pending[0] = True  # (test backdoor) let task 0 unblock it
    assert m.run() == "idle"
    assert m.task_activations == [0, 4, 4] and m.regs[9] == 2


def test_data_task_wavelet_in_r14_r15_one_wavelet_per_start():
    m = run_program("data_task_wavelet_in_r14_r15")  # 0x12345678, 0xCAFE (control), 7 on color 3
    assert m.task_activations == [9, 9, 9]
    info = 3 | 1 << 6 | 9 << 8
    assert [u32(m, a) for a in range(0, 24, 4)] == [0x12345678, info, 0xCAFE, info | 1 << 5, 7, info]
    assert m.start_log[1] == (9, info | 1 << 5, 0xCAFE)  # the control wavelet started the task too


def test_local_start_of_a_data_task_and_wavelet_first():
    m = run_program("local_start_of_a_data_task_and_wavelet_first")
    # 1 is both pending and wavelet-ready: the wavelet start comes first and leaves it pending.
    assert m.start_log == [(0, 0 << 8, 0), (1, 2 | 1 << 6 | 1 << 8, 0xAA), (1, 1 << 8, 0)]


def test_unbound_color_waits_and_bind_unbind_instructions():
    m = run_program("unbound_color_waits_and_bind_unbind")  # two wavelets on color 2
    assert m.task_activations == [] and len(m.input_queue(2)) == 2
    m.deliver(1, 0)
    assert m.run() == "idle"
    assert m.task_activations == [0, 6, 6] and m.regs[9] == 2
    m.deliver(1, 0)  # color 1 is unbound now: the wavelet waits
    assert m.run() == "idle" and m.input_queue(1) == [(0, 0)]


def test_two_colors_bound_to_one_task_lowest_color_first():
    m = run_program("two_colors_bound_to_one_task")  # 50 on color 5, then 20 on color 2
    assert [(r14 & 31, r15) for _, r14, r15 in m.start_log] == [(2, 20), (5, 50)]


# ---- asynchronous vector ops ------------------------------------------------------------------

def test_async_op_completion_activates_task_and_dsrs_are_latched():
    m = run_program("async_op_completion_and_latched_dsrs")
    assert m.task_activations == [0, 3]
    assert [u32(m, 4 * i) for i in range(4)] == [1, 2, 3, 4] and u32(m, 0x40) == 0
    assert m.regs[8] == 4


def test_async_fabric_op_runs_beside_tasks_and_completes_later():
    m = run_program("async_fabric_op_beside_tasks")  # 10 and 20 on color 2
    assert m.state == "waiting" and m.task_activations == [0]
    m.deliver(6, 0)  # another task runs while the micro-thread waits for its third element
    assert m.run() == "waiting" and m.task_activations == [0, 1]
    m.deliver(2, 30)
    assert m.run() == "idle"
    assert m.task_activations == [0, 1, 4] and m.regs[8] == 30


def test_no_free_micro_thread_stalls_the_issuer():
    m = run_program("no_free_micro_thread")  # two micro-threads
    assert m.state == "waiting" and m.regs[9] == 0 and m.instructions_retired == 2
    m.deliver(3, 33)  # the third op still cannot issue: both micro-threads wait on colors 1 and 2
    assert m.run() == "waiting" and m.regs[9] == 0
    m.deliver(2, 22)  # frees a micro-thread; the third op issues and finds its wavelet
    assert m.run() == "waiting" and m.regs[9] == 1 and u32(m, 8) == 33
    m.deliver(1, 11)
    assert m.run() == "idle"
    assert [u32(m, 0), u32(m, 4), u32(m, 8)] == [11, 22, 33]
    assert m.task_activations.count(5) >= 1 and m.regs[8] == m.task_activations.count(5)


def test_oldest_op_takes_the_wavelets_of_its_color_first():
    m = run_program("oldest_op_takes_the_wavelets_of_its_color_first")  # 1, 2, 3, 4 on color 1
    assert [u32(m, a) for a in (0, 4, 8, 12)] == [1, 2, 3, 4]


def test_younger_op_waits_while_an_older_one_holds_its_color():
    # The async op needs colors 1 and 2 per element; the younger sync op reads color 2 only. With
    # only color 2 present the older op cannot move, and the younger must not take its wavelets.
    m = run_program("younger_op_waits_while_an_older_one_holds_its_color")  # 10, 20, 30, 40 on color 2
    assert m.state == "waiting" and len(m.input_queue(2)) == 4
    m.deliver(1, 1)
    m.deliver(1, 2)
    assert m.run() == "idle"
    assert [u32(m, a) for a in (0, 4, 8, 12)] == [11, 22, 30, 40]


# ---- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("body, head, code", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_error_codes_halt_with_status(body, head, code):
    src, deliveries, _ = error_program(body, head)
    image = assemble(src)
    failing_line = next(i for i, line in enumerate(src.splitlines(), start=1) if "<-" in line)
    failing_pc = max(pc for pc, line in image.source_lines.items() if line == failing_line)
    m = make(src, deliveries=deliveries)
    assert m.state == "halted"
    assert (m.status.code, m.status.pc, m.status.task, m.status.halted, m.status.async_) == (
        code, failing_pc, 0, True, False)
    assert m.regs[9] == 0 and m.regs[8] == 0  # nothing after the error; no other task scheduled
    assert m.status.word() == code | 1 << 4 | failing_pc << 16
    assert m.input_queue(5) == [(0, 0)]
    m.deliver(5, 1)
    assert m.run() == "halted" and m.task_activations == [0]


def test_pc_range_on_jump_and_on_running_off_the_end():
    m = run_program("pc_range_on_jump")  # jal r0, 2000
    assert (m.status.code, m.status.pc, m.state) == (ErrorCode.PC_RANGE, 2000, "halted")
    m = run_program("pc_range_off_the_end")  # four nops in an imem of four words
    assert (m.status.code, m.status.pc) == (ErrorCode.PC_RANGE, 4)
    assert m.instructions_retired == 4


def test_vector_element_error_keeps_earlier_elements():
    # 4 f32 elements from 0x1ff8: elements 0 and 1 fit, element 2 (0x2000) leaves the 8 KiB SRAM
    m = run_program("vector_element_error")
    assert m.status.code == ErrorCode.SRAM_RANGE and not m.status.async_
    assert u32(m, 0x1FF8) == 7 and u32(m, 0x1FFC) == 7


def test_async_element_error_reports_the_issuing_instruction():
    src = PROGRAMS["async_element_error"].source
    m = run_program("async_element_error")
    vfill_line = next(i for i, line in enumerate(src.splitlines(), start=1) if "vfill" in line)
    issue_pc = next(pc for pc, line in assemble(src).source_lines.items() if line == vfill_line)
    assert (m.status.code, m.status.pc, m.status.task, m.status.async_) == (ErrorCode.SRAM_RANGE, issue_pc, 0, True)
    assert m.task_activations == [0] and u32(m, 0x1FFC) == 2  # element 0 was done, 2 never started


def test_instruction_budget():
    m = run_program("endless_loop", run=False)
    assert m.run(max_instructions=100) == "limit" and m.instructions_retired == 100


# ---- programs ---------------------------------------------------------------------------------

def test_sparse_gemv_matches_reference_arithmetic():
    rows, w, nonzeros = SPARSE_GEMV_ROWS, SPARSE_GEMV_W, SPARSE_GEMV_X
    m = run_program("sparse_gemv")
    y = [0] * rows
    for j, v in nonzeros:
        y = [fp.fmac_f32_f16(y[i], w[j][i], v) for i in range(rows)]
    assert m.state == "idle" and m.status.code == 0
    assert [u32(m, 4 * i) for i in range(rows)] == y
    assert m.emitted == [(4, yi, 0) for yi in y]
    assert m.task_activations == [0] + [1] * (len(nonzeros) + 1)


def test_docs_example_runs():
    m = run_program("docs_example")
    # y = W[:, 1] * 2 + W[:, 0] * 1 with W[:, 0] = 1, 2, 3, 4 and W[:, 1] = 0.5, 0.25, -1, 8
    assert [p for _, p, _ in m.emitted] == [fp.f32_bits(v) for v in (2.0, 2.5, 1.0, 20.0)]


# ---- mesh --------------------------------------------------------------------------------------

def test_two_pe_mesh_exchange():
    """PE (0,0) streams a vector east; PE (0,1) adds a vector of its own and streams the sum back
    west; PE (0,0) collects it with an async op whose completion task signals on a third color to
    the east edge."""
    routes = MeshRoutes(1, 2, 8)
    routes.set((0, 0), 1, ColorRoute.simple(mask_of("RAMP"), mask_of("E")))
    routes.set((0, 1), 1, ColorRoute.simple(mask_of("W"), mask_of("RAMP")))
    routes.set((0, 1), 2, ColorRoute.simple(mask_of("RAMP"), mask_of("W")))
    routes.set((0, 0), 2, ColorRoute.simple(mask_of("E"), mask_of("RAMP")))
    routes.set((0, 0), 3, ColorRoute.simple(mask_of("RAMP"), mask_of("E")))
    routes.set((0, 1), 3, ColorRoute.simple(mask_of("W"), mask_of("E")))
    x = [fp.f32_bits(v) for v in (1.0, 2.5, -3.0, 0.125)]
    b = [fp.f32_bits(v) for v in (0.5, 0.5, 0.5, 0.5)]
    pe0 = assemble(f"""
        .task 0, t0
        .task 7, done
        .start 0
        .dsr d1, mem.f32, 0, 4, 1
        .dsr d2, fout.f32, 1, 4
        .dsr d3, fin.f32, 2, 4
        .dsr d4, mem.f32, 0x40, 4, 1
        .data 0
        {words(x, 4)}
        .text
        t0: vmov.f32 d4, d3, done=7
            vmov.f32 d2, d1
            end
        done: li r1, 0x6000  ; payload[1:0] = 0: no switch command
              send.c r1, 3
              end
    """)
    pe1 = assemble(f"""
        .task 0, t0
        .start 0
        .dsr d1, fin.f32, 1, 4
        .dsr d2, mem.f32, 0x80, 4, 1
        .dsr d3, fout.f32, 2, 4
        .data 0x80
        {words(b, 4)}
        .text
        t0: vadd.f32 d3, d1, d2
            end
    """)
    mesh = PEMeshModel(routes, **{k: PARAMS[k] for k in MODEL_KEYS})
    mesh.load((0, 0), pe0)
    mesh.load((0, 1), pe1)
    assert mesh.run() == "quiescent"
    want = [fp.add_f32(p, q) for p, q in zip(x, b, strict=True)]
    assert [u32(mesh.pe[(0, 0)], 0x40 + 4 * i) for i in range(4)] == want
    assert mesh.edge_out[((0, 1), Port.E)] == [(3, 0x6000, 1)]
    assert mesh.states == {(0, 0): "idle", (0, 1): "idle"} and not mesh.drops
    assert mesh.pe[(0, 0)].task_activations == [0, 7]


def test_mesh_edge_injection():
    routes = MeshRoutes(1, 1, 8)
    routes.set((0, 0), 0, ColorRoute.simple(mask_of("W"), mask_of("RAMP")))
    routes.set((0, 0), 1, ColorRoute.simple(mask_of("RAMP"), mask_of("E")))
    img = assemble(".task 2, t, 0\nt: addi r15, r15, 1\nsend r15, 1\nend\n")
    mesh = PEMeshModel(routes, **{k: PARAMS[k] for k in MODEL_KEYS})
    mesh.load((0, 0), img)
    for v in (10, 20):
        mesh.inject((0, 0), Port.W, 0, v)
    assert mesh.run() == "quiescent"
    assert mesh.edge_out[((0, 0), Port.E)] == [(1, 11, 0), (1, 21, 0)]


def test_mesh_switch_sequenced_readout():
    """Switch routes across rounds: every PE of a 1 x 3 row sends its value and an ADVANCE control
    wavelet on one color; position 0 takes the PE's own RAMP, position 1 forwards from the west.
    The east edge sees the PEs' values from east to west, each followed by its control wavelet,
    although the westernmost PE runs (and sends) first."""
    routes = MeshRoutes(1, 3, 8)
    for c in range(3):
        pos = [(mask_of("RAMP"), mask_of("E"))] + ([(mask_of("W"), mask_of("E"))] if c else [])
        routes.set((0, c), 4, ColorRoute(tuple(pos)))
    mesh = PEMeshModel(routes, **{k: PARAMS[k] for k in MODEL_KEYS})
    for c in range(3):
        mesh.load((0, c), assemble(f".task 0, t\n.start 0\nt: li r1, {100 + c}\nsend r1, 4\nli r1, 1\n"
                                   "send.c r1, 4\nend\n"))
    assert mesh.run() == "quiescent" and not mesh.stuck
    assert mesh.edge_out[((0, 2), Port.E)] == [(4, 102, 0), (4, 1, 1), (4, 101, 0), (4, 1, 1), (4, 100, 0), (4, 1, 1)]
