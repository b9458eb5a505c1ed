"""The FMAC lane (hdl/fpu.py) on Verilator (cocotb, tb/cocotb_fpu.py), one pytest test per op:
every edge-class operand combination plus TESSERA_FPU_RANDOM (default 100 000) seeded random
vectors, streamed one per cycle with en randomly low ~10% of cycles, checked bit for bit against
golden/fp.py. Also checks, without a simulator, that the random mix really reaches the classes
it is meant to (ties, cancellation, overflow, underflow, subnormals, NaN), using the independent
exact reference golden/fp_exact.py on a sample."""

from __future__ import annotations

import functools
import os

import pytest
from conftest import run_cocotb

from golden import fp_exact as fx
from tb.cocotb_fpu import LANE_OPS, WIDTH, edge_vectors, random_vectors
from tb.runner import Model, waves_requested

N_RANDOM = int(os.environ.get("TESSERA_FPU_RANDOM", "100000"))
SEED = 1


@functools.lru_cache(maxsize=None)
def fplane_model() -> Model:
    """The lane alone as a Verilator model; built once, then reused (also across xdist workers)."""
    from amaranth.back import verilog

    from hdl.fpu import FPLane

    waves = waves_requested()
    text = verilog.convert(FPLane(), name="tessera_fplane")
    return Model("fplane" + ("_waves" if waves else ""), {"tessera_fplane.v": text}, "tessera_fplane",
                 waves=waves)


@pytest.mark.xdist_group("fplane")
@pytest.mark.parametrize("op", list(LANE_OPS))
def test_fplane_op(op):
    run_cocotb(fplane_model(), "tb.cocotb_fpu", "lane_op_stream", op=op, n_random=N_RANDOM, seed=SEED,
               stall_prob=0.1)


# --- the vector mix reaches what it is meant to ----------------------------------------------

REQUIRED = {
    "CVT_F16_F32": {"exact", "nan"},
    "CVT_F32_F16": {"tie", "inexact", "overflow", "underflow_zero", "subnormal", "nan"},
    "ADD_F16": {"tie", "inexact", "cancel", "overflow", "subnormal", "nan"},
    "ADD_F32": {"tie", "inexact", "cancel", "overflow", "subnormal", "nan"},
    "MUL_F16": {"tie", "inexact", "overflow", "underflow_zero", "subnormal", "nan"},
    "MUL_F32": {"tie", "inexact", "overflow", "underflow_zero", "subnormal", "nan"},
    "FMAC_F32_F16": {"tie", "inexact", "cancel", "nan"},
    "FMAC_F32": {"tie", "inexact", "cancel", "overflow", "underflow_zero", "subnormal", "nan"},
    "FMAC_F16": {"tie", "inexact", "cancel", "overflow", "underflow_zero", "subnormal", "nan"},
    "MAC_I32_I16": {"wrap_up", "wrap_down", "no_wrap"},
}
SAMPLE = 20_000  # classified with the exact (Fraction) reference: ~1 s per op


def _classes(name: str, vec: tuple) -> set[str]:
    lop = LANE_OPS[name]
    if name == "MAC_I32_I16":
        def s(v, w):
            return v - (1 << w) if v >> (w - 1) else v
        total = s(vec[0], 32) + s(vec[1], 16) * s(vec[2], 16)
        return {"wrap_up"} if total >= 1 << 31 else {"wrap_down"} if total < -(1 << 31) else {"no_wrap"}
    value = fx.exact(lop.golden.__name__, *vec)  # fp_exact uses the golden names
    if value[0] != "num":
        return {value[0]}
    if value[2] == 0:
        return {"cancel"} if name.startswith(("ADD", "FMAC")) and any(
            fx.value_of(kind, v)[0] == "num" and fx.value_of(kind, v)[2] != 0
            for (_, kind), v in zip(lop.args, vec, strict=True)) else {"zero"}
    out = lop.out
    classes = {fx.rounding_class(out, value[2])}
    result = fx.round_value(out, value)
    mag = result & ((1 << (WIDTH[out] - 1)) - 1)
    exp_bits, man_bits = (5, 10) if out == "f16" else (8, 23)
    if mag == ((1 << exp_bits) - 1) << man_bits:
        classes.add("overflow")
    elif mag == 0:
        classes.add("underflow_zero")
    elif mag >> man_bits == 0:
        classes.add("subnormal")
    return classes


@pytest.mark.parametrize("op", list(LANE_OPS))
def test_vector_mix_coverage(op):
    """The first SAMPLE random vectors (the same seed as the cocotb run) reach every required
    rounding/special class of the op, and so do the edge and directed vectors on their own."""
    lop = LANE_OPS[op]
    seen = set()
    for vec in random_vectors(lop, min(SAMPLE, N_RANDOM), SEED):
        seen |= _classes(op, vec)
    missing = REQUIRED[op] - seen
    assert not missing, f"{op}: random mix never reached {sorted(missing)}"
    edge_seen = set()
    for vec in edge_vectors(lop):
        edge_seen |= _classes(op, vec)
    missing = REQUIRED[op] - edge_seen
    assert not missing, f"{op}: edge and directed vectors never reach {sorted(missing)}"
