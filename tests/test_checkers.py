"""Checkers shown to fail: each comparison the testbenches rely on is fed one fault in what its
monitors observed and must report it, naming where — the fabric scoreboard (a lost, duplicated,
reordered or corrupted wavelet, a wrong drop counter), the PE comparison (one wrong register, SRAM
byte, status bit or sent wavelet) and the GEMM comparison (one flipped result bit)."""

from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np
import pytest

from demo.fabric import traffic
from golden.matmul import gemm_bits
from golden.route_patterns import edge_patterns
from golden.routing import simulate
from sdk.cases import gemm_case
from tb.pe_directed import main
from tb.pe_harness import compare, golden_case
from tb.scoreboard import ScoreboardError, compare_fabric


@pytest.fixture(scope="module")
def fabric():
    """Multicast patterns on a 3 x 3 mesh and what the golden model delivers at every exit."""
    mesh, sources = edge_patterns(3, 3, 8, avoid=(7,))
    injections = defaultdict(list)
    for ((pe, port), color), payloads in traffic(sources, 300).items():
        injections[(pe, port)] += [(color, p, 0) for p in payloads]
    golden = simulate(mesh, injections)
    observed = {ex: [(d.color, d.payload, d.ctrl) for d in ds] for ex, ds in golden.outputs.items()}
    return golden, observed


def _busiest(observed):
    return max(observed, key=lambda ex: len(observed[ex]))


def test_the_fabric_scoreboard_passes_what_the_model_delivers(fabric):
    golden, observed = fabric
    assert compare_fabric(golden, observed)["wavelets_checked"] == sum(len(v) for v in observed.values())


@pytest.mark.parametrize("fault", ["lost", "duplicated", "reordered", "corrupted", "drops"])
def test_the_fabric_scoreboard_reports_one_fault_and_where(fabric, fault):
    golden, observed = fabric
    seen = copy.deepcopy(observed)
    ex = _busiest(seen)
    got = seen[ex]
    status = None
    if fault == "lost":
        del got[5]
        want = "1 missing, 0 extra"
    elif fault == "duplicated":
        got.insert(6, got[5])
        want = "0 missing, 1 extra"
    elif fault == "reordered":
        # two wavelets of one flow (same source and color) swapped
        first = got[0]
        j = next(i for i in range(1, len(got)) if got[i][0] == first[0] and got[i][1] >> 24 == first[1] >> 24)
        got[0], got[j] = got[j], got[0]
        want = "out of order at position 0"
    elif fault == "corrupted":
        c, p, k = got[3]
        got[3] = (c, p ^ 1 << 9, k)
        want = "1 missing, 1 extra"
    else:
        pe = ex[0]
        status = {pe: (golden.drops.get(pe, 0) + 1, 0)}
        want = f"PE {pe}: drop counter"
    with pytest.raises(ScoreboardError) as e:
        compare_fabric(golden, seen, status)
    text = str(e.value)
    assert want in text
    if fault != "drops":
        assert f"exit PE {ex[0]} {ex[1].name}" in text  # names the exit


@pytest.fixture(scope="module")
def pe_case():
    src = main("""
    li    r1, 0x1234
    li    r2, 0x40
    sw    r1, 0(r2)
    li    r3, 7
    send  r3, 2
""")
    return golden_case("checker", src)


def test_the_pe_comparison_passes_the_golden_state(pe_case):
    assert compare(pe_case, copy.deepcopy(pe_case["expect"])) == []


@pytest.mark.parametrize("fault", ["register", "sram", "status", "sent"])
def test_the_pe_comparison_reports_one_fault_and_where(pe_case, fault):
    actual = copy.deepcopy(pe_case["expect"])
    if fault == "register":
        actual["regs"][3] ^= 1
        want = "r3: golden 0x7 rtl 0x6"
    elif fault == "sram":
        ram = bytearray.fromhex(actual["sram"])
        ram[0x41] ^= 0x80
        actual["sram"] = ram.hex()
        want = "sram: 1 bytes differ, first at 0x41"
    elif fault == "status":
        actual["status"] ^= 1 << 4  # the halted bit
        want = "status: golden"
    else:
        actual["emitted"] = {"2": [[8, 0]]}
        want = "emitted: golden"
    bad = compare(pe_case, actual)
    assert len(bad) == 1 and bad[0].startswith(want), bad


def test_the_gemm_comparison_reports_one_flipped_bit_and_where():
    case = gemm_case(2, 2, 6, 8, 5, "f16", seed=3)
    kernel, a, b = case.kernel, case.inputs["a"], case.inputs["b"]
    good = gemm_bits(a, b, "f16", kernel.plan.k_pad)
    assert kernel.check(good, a, b)["bit_exact"]
    bad = good.copy()
    bad[4, 2] ^= np.uint32(1 << 17)
    figures = kernel.check(bad, a, b)
    assert not figures["bit_exact"] and figures["mismatches"] == 1
    assert figures["first_mismatch"]["index"] == (4, 2)
