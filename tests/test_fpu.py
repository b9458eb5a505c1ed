"""The FMAC lane (hdl/fpu.py) on Verilator (cocotb, tb/cocotb_fpu.py), one pytest test per op:
every edge-class operand combination plus TESSERA_FPU_RANDOM (default 100 000) seeded random
vectors, streamed one per cycle with en randomly low ~10% of cycles, checked bit for bit against
golden/fp.py. Also checks, without a simulator, that the random mix really reaches the classes
it is meant to (ties, cancellation, overflow, underflow, subnormals, NaN), using the independent
exact reference golden/fp_exact.py on a sample and the coverage classes of tb/fp_stimulus.py."""

from __future__ import annotations

import os

import pytest

from golden import fp_exact as fx
from tb.builds import fplane_build, run_cocotb
from tb.cocotb_fpu import LANE_OPS, edge_vectors, random_vectors
from tb.fp_stimulus import REQUIRED_CLASSES, coverage_classes

N_RANDOM = int(os.environ.get("TESSERA_FPU_RANDOM", "100000"))
SEED = 1


@pytest.mark.sim
@pytest.mark.xdist_group("fplane")
@pytest.mark.parametrize("op", list(LANE_OPS))
def test_fplane_op(op):
    run_cocotb(fplane_build(), "tb.cocotb_fpu", "lane_op_stream", op=op, n_random=N_RANDOM, seed=SEED,
               stall_prob=0.1)


# --- the vector mix reaches what it is meant to ----------------------------------------------

SAMPLE = 20_000  # classified with the exact (Fraction) reference: ~1 s per op


def _classes(lop, vec: tuple) -> set[str]:
    op = lop.golden_name  # fp_exact and tb/fp_stimulus use the golden names
    if op == "mac_i32_i16":
        return coverage_classes(op, vec)
    value = fx.exact(op, *vec)
    return coverage_classes(op, vec, value, fx.round_value(lop.out, value), fx.rounding_class)


@pytest.mark.parametrize("op", list(LANE_OPS))
def test_vector_mix_coverage(op):
    """The first SAMPLE random vectors (the same seed as the cocotb run) reach every required
    rounding/special class of the op, and so do the edge and directed vectors on their own."""
    lop = LANE_OPS[op]
    required = REQUIRED_CLASSES[lop.golden_name]
    seen = set()
    for vec in random_vectors(lop, min(SAMPLE, N_RANDOM), SEED):
        seen |= _classes(lop, vec)
    missing = required - seen
    assert not missing, f"{op}: random mix never reached {sorted(missing)}"
    edge_seen = set()
    for vec in edge_vectors(lop):
        edge_seen |= _classes(lop, vec)
    missing = required - edge_seen
    assert not missing, f"{op}: edge and directed vectors never reach {sorted(missing)}"
