"""The math library (golden/mathlib.py, sdk/kernels/mathlib.py): accuracy against float64 over
every f16 input and over 10**6 f32 inputs with every edge class, the special values the routines
define, the numpy evaluation against golden/fp.py's scalar functions, the emitted assembly on the
golden PE model bit for bit against golden/mathlib.py, and bad arguments. The RTL runs of the
routines are in tests/test_pe.py (test_math_routines_on_rtl)."""

from __future__ import annotations

import numpy as np
import pytest

from golden import fp
from golden import mathlib as gm
from golden.pe_model import PEModel
from hdl.isa import pe_params
from sdk.asm import assemble, disassemble
from sdk.kernels import mathlib as sm
from sdk.kernels.common import KernelError
from tb.pe_directed import F16_EDGES, F32_EDGES
from tb.pe_directed import math_inputs as edge_and_random
from tb.pe_directed import math_program as pe_program

#: measured max ulp errors (docs/floating-point.md "Math library"): (f32 over the sweep, f16 over all)
BOUNDS = {"exp": (0.984, 0.50003), "rcp": (0.750, 0.49976), "rsqrt": (0.996, 0.49964)}


def f32_sweep():
    """10**6 random patterns, uniform values over each routine's interesting range, and every edge."""
    rng = np.random.default_rng(2026)
    parts = [np.array(F32_EDGES, np.uint32),
             rng.integers(0, 2 ** 32, 1_000_000, dtype=np.uint64).astype(np.uint32),
             rng.uniform(-105.0, 90.0, 200_000).astype(np.float32).view(np.uint32),  # exp: overflow, subnormals
             rng.integers(0, 0x00800000, 50_000).astype(np.uint32),  # subnormals
             np.arange(0x7F700000, 0x7F800000, 64, dtype=np.uint32),  # the top binades (rcp: subnormal results)
             np.array([fp.f32_bits(v) for v in (88.72283, 88.72284, -87.33655, -103.27893, -103.97208, 88.8,
                                                -104.0)], np.uint32)]
    x = np.concatenate(parts)
    return np.concatenate([x, x ^ np.uint32(0x80000000)])


SWEEP = f32_sweep()


@pytest.mark.parametrize("name", gm.ROUTINES)
def test_f32_accuracy_over_a_million_inputs(name):
    assert SWEEP.size > 10 ** 6
    err = gm.ulp_error(name, SWEEP, gm.run(name, SWEEP))
    assert err.max() <= BOUNDS[name][0], (name, err.max(), hex(int(SWEEP[np.argmax(err)])))
    assert err.max() > BOUNDS[name][0] - 0.01  # the stated bound is the measured one


@pytest.mark.parametrize("name", gm.ROUTINES)
def test_f16_accuracy_over_every_input(name):
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    err = gm.ulp_error(name, h, gm.run(name, h, "f16"), "f16")
    assert BOUNDS[name][1] - 0.001 < err.max() <= BOUNDS[name][1], (name, err.max())


SPECIAL = {  # input -> result, f32 patterns (docs/floating-point.md "Math library")
    "exp": {0: 0x3F800000, 0x80000000: 0x3F800000, 0x7F800000: 0x7F800000, 0xFF800000: 0,
            0x7FC00000: 0x7FC00000, 0xFFA00001: 0x7FC00000, fp.f32_bits(88.8): 0x7F800000,
            fp.f32_bits(-104.0): 0, 0x3F800000: 0x402DF854, 1: 0x3F800000},
    "rcp": {0: 0x7F800000, 0x80000000: 0xFF800000, 0x7F800000: 0, 0xFF800000: 0x80000000,
            0x7FC00000: 0x7FC00000, 0xFF800001: 0x7FC00000, 0x3F800000: 0x3F800000, 0xC0000000: 0xBF000000,
            1: 0x7F800000, 0x00200000: 0x7F800000, 0x00400000: 0x7F000000, 0x7F000000: 0x00400000,
            0x7F7FFFFF: 0x00200000},
    "rsqrt": {0: 0x7F800000, 0x80000000: 0x7F800000, 0x7F800000: 0, 0xFF800000: 0x7FC00000,
              0xBF800000: 0x7FC00000, 0x80000001: 0x7FC00000, 0x7FC00000: 0x7FC00000, 0x3F800000: 0x3F800000,
              0x40800000: 0x3F000000, 1: 0x64B504F3, 0x7F7FFFFF: 0x1F800000},
}


@pytest.mark.parametrize("name", gm.ROUTINES)
def test_special_values(name):
    x = np.array(list(SPECIAL[name]), np.uint32)
    got = gm.run(name, x)
    assert [hex(v) for v in got] == [hex(v) for v in SPECIAL[name].values()]


@pytest.mark.parametrize("fmt", gm.FORMATS)
@pytest.mark.parametrize("name", gm.ROUTINES)
def test_numpy_evaluation_equals_the_scalar_definition(name, fmt):
    """run(exact=False) (numpy array forms) against run(exact=True) (golden/fp.py scalar functions)."""
    rng = np.random.default_rng(7)
    if fmt == "f16":
        x = np.concatenate([np.array(F16_EDGES), rng.integers(0, 1 << 16, 1500)]).astype(np.uint16)
    else:
        x = np.concatenate([SWEEP[:len(F32_EDGES)], rng.choice(SWEEP, 1500)]).astype(np.uint32)
    assert np.array_equal(gm.run(name, x, fmt), gm.run(name, x, fmt, exact=True))


@pytest.mark.parametrize("dsrs", [("d13", "d14", "d15"), tuple(f"d{k}" for k in range(2, 16))], ids=["3dsr", "14dsr"])
@pytest.mark.parametrize("fmt", gm.FORMATS)
@pytest.mark.parametrize("name", gm.ROUTINES)
def test_emitted_routine_on_the_golden_pe_model(name, fmt, dsrs):
    x = edge_and_random(fmt, 40, 1)
    m = PEModel(**pe_params())
    m.load(assemble(pe_program(name, fmt, x, dsrs)).to_dict())
    assert m.run() == "idle" and m.status.code == 0
    size, dt = (2, np.uint16) if fmt == "f16" else (4, np.uint32)
    got = np.frombuffer(bytes(m.sram[0x100:0x100 + size * x.size]), dtype=dt)
    assert np.array_equal(got, gm.run(name, x, fmt))
    assert bytes(m.sram[0x000:size * x.size]) == x.tobytes()  # the input is left alone


def test_in_place_and_symbols():
    x = edge_and_random("f32", 32, 2)
    lines = sm.emit("exp", "N", "X", "X", "SCR")
    src = (".equ N, 32\n.equ X, 0x40\n.equ SCR, 0x400\n.task 0, m\n.start 0\n.data 0x40\n.word "
           + ", ".join(hex(int(v)) for v in x) + "\n.text\nm:\n" + "\n".join(lines) + "\nend\n")
    m = PEModel(**pe_params())
    m.load(assemble(src).to_dict())
    assert m.run() == "idle"
    assert np.array_equal(np.frombuffer(bytes(m.sram[0x40:0xC0]), np.uint32), gm.run("exp", x))


def test_views_ops_and_scratch():
    assert sm.vector_ops("exp") == 28 and sm.vector_ops("rcp") == 20 and sm.vector_ops("rsqrt") == 33
    assert sm.vector_ops("exp", "f16") == 30
    assert sm.scratch_bytes("rsqrt", 10) == 4 * 10 * 6 and sm.scratch_bytes("exp", 10, "f16") == 4 * 10 * 5
    assert ("b1", "i32") in sm.views("exp") and ("b1", "f32") in sm.views("exp")


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "log"}, "unknown math routine"),
    ({"fmt": "bf16"}, "format"),
    ({"n": 0}, "element count"),
    ({"n": 70000}, "element count"),
    ({"dsrs": ("d1", "d2")}, "at least 3"),
    ({"dsrs": ("d1", "d1", "d2")}, "repeated"),
    ({"dsrs": ("d1", "d2", "d16")}, "not a usable DSR"),
    ({"regs": ("r0", "r1", "r2")}, "not a usable GPR"),
    ({"regs": ("r1", "r2")}, "3 GPRs"),
    ({"x": 2}, "multiple of 4"),
    ({"y": 0x8}, "overlaps x"),
    ({"scratch": 0x10}, "overlaps"),
])
def test_bad_arguments(kwargs, match):
    args = {"name": "exp", "n": 8, "x": 0, "y": 0x100, "scratch": 0x200, **kwargs}
    with pytest.raises(KernelError, match=match):
        sm.emit(args.pop("name"), args.pop("n"), args.pop("x"), args.pop("y"), args.pop("scratch"), **args)


@pytest.mark.parametrize("fmt", sm.FORMATS)
@pytest.mark.parametrize("name", sm.ROUTINES)
def test_library_macros_are_the_emitted_routines(name, fmt):
    """``.include "mathlib"`` and a call assemble to the words of ``emit`` with the same arguments,
    with literal and with symbolic arguments, and for another DSR set."""
    def words(body, **kw):
        return assemble(".equ N, 24\n.equ X, 0x100\n.task 0, t\nt:\n" + body + "\nend\n", **kw).imem
    for args in ((16, 0x100, 0x100, 0x400), (1000, 0, 0x4000, 0x8000), ("N", "X", "X", "X + 0x400")):
        call = f'.include "mathlib.{name}_{fmt}"\n{name}_{fmt} ' + ", ".join(str(a) for a in args)
        assert words(call, libraries=sm.library()) == words("\n".join(sm.emit(name, *args, fmt)))
    dsrs = tuple(f"d{i}" for i in range(14))
    call = f'.include "mathlib"\n{name}_{fmt} 7, 0x200, 0x300, 0x1000'
    assert words(call, libraries=sm.library(dsrs=dsrs)) == words("\n".join(sm.emit(name, 7, 0x200, 0x300, 0x1000,
                                                                                     fmt, dsrs=dsrs)))


def test_library_preset_and_asynchronous_forms():
    """``NAME_FMT_preset`` is the routine without its first line (the count already set); with
    ``done=T`` every vector op completes into task T and nothing else changes."""
    lines = sm.emit("rsqrt", 32, 0x100, 0x100, 0x400)
    lib = sm.library(done=3)["mathlib.rsqrt_f32"]
    src = '.include "m"\n.task 0, t\n.task 3, t\nt:  rsqrt_f32_preset 32, 0x100, 0x100, 0x400\n    end\n'
    got = [disassemble(w) for w in assemble(src, libraries={"m": lib}).imem]
    want = [disassemble(w) for w in assemble(".task 0, t\nt:\n" + "\n".join(lines[1:]) + "\nend\n").imem]
    assert len(got) == len(want) and got[-1] == "end"
    for g, w in zip(got, want, strict=True):
        assert g == w or g == w + ", done=3"
    assert sum(g.endswith("done=3") for g in got) == sm.vector_ops("rsqrt")
