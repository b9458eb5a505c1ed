"""The wafer repair model (hdl/repair.py) and the yield bench's estimator (bench/yield.py), without a
simulator: segment geometry, the shift toward the spares, every documented bad input refused with
a message naming the row, segment or value, and the Monte Carlo against the exact product formula."""

from __future__ import annotations

import importlib
import json
import math

import numpy as np
import pytest

from hdl.repair import DefectMap, RepairError, SpareScheme


def _yield_bench():
    return importlib.import_module("bench.yield")  # `yield` is a keyword: no `from bench import yield`


def test_scheme_geometry():
    s = SpareScheme(4, 1)
    assert s.segments(10) == 3 and s.physical_cols(10) == 13
    assert [s.segment_span(k, 10) for k in range(3)] == [(0, 5), (5, 10), (10, 13)]  # last: 2 columns + spare
    assert math.isclose(s.overhead_pct(10), 100 * 3 / 13)
    assert SpareScheme.parse("2/142") == SpareScheme(142, 2) and str(SpareScheme(142, 2)) == "2/142"


def test_perfect_wafer_leaves_the_spares_unused():
    m = DefectMap(2, 10, SpareScheme(4, 1)).repair()
    assert m.phys[0] == [0, 1, 2, 3, 5, 6, 7, 8, 10, 11]
    assert [m.hop_skips(0, c) for c in range(9)] == [0, 0, 0, 1, 0, 0, 0, 1, 0]
    assert m.max_shift == 0


@pytest.mark.parametrize("defect, row_phys", [
    ((0, 0), [1, 2, 3, 4, 5, 6, 7, 8, 10, 11]),  # first column of a segment (and of the row)
    ((0, 3), [0, 1, 2, 4, 5, 6, 7, 8, 10, 11]),  # last logical column of a segment
    ((0, 4), [0, 1, 2, 3, 5, 6, 7, 8, 10, 11]),  # the spare itself: nothing moves
    ((0, 12), [0, 1, 2, 3, 5, 6, 7, 8, 10, 11]),  # the last segment's spare
    ((0, 10), [0, 1, 2, 3, 5, 6, 7, 8, 11, 12]),  # last segment, shorter than the others
])
def test_a_defect_shifts_its_segment_toward_the_spare(defect, row_phys):
    m = DefectMap(2, 10, SpareScheme(4, 1), frozenset({defect})).repair()
    assert m.phys[0] == row_phys
    assert m.phys[1] == [0, 1, 2, 3, 5, 6, 7, 8, 10, 11]
    assert all(m.logical_of(0, p) == c for c, p in enumerate(row_phys))
    assert m.logical_of(0, defect[1]) is None


def test_two_spares_take_two_defects_of_a_segment():
    m = DefectMap(1, 8, SpareScheme(8, 2), frozenset({(0, 1), (0, 5)})).repair()
    assert m.phys[0] == [0, 2, 3, 4, 6, 7, 8, 9]
    assert m.max_shift == 2


def test_bad_inputs_are_refused_naming_what_is_wrong(tmp_path):
    s = SpareScheme(4, 1)
    with pytest.raises(RepairError, match=r"PE \(0, 13\) is outside the physical mesh of 2 rows x 13 columns"):
        DefectMap(2, 10, s, frozenset({(0, 13)}))
    with pytest.raises(RepairError, match=r"PE \(2, 0\) is outside"):
        DefectMap(2, 10, s, frozenset({(2, 0)}))
    with pytest.raises(RepairError, match=r"row 1, segment 1 \(physical columns 5..9\): 2 defective PEs but only 1 "
                                          r"spare column"):
        DefectMap(2, 10, s, frozenset({(1, 5), (1, 9)})).repair()
    for rate in (-0.1, 0.5, float("nan"), "x"):
        with pytest.raises(RepairError, match="defect rate"):
            DefectMap.random(2, 10, s, rate)
    for bad in ("2", "a/b", "1/0", "9/10"):
        with pytest.raises(RepairError, match="spare scheme"):
            SpareScheme.parse(bad)
    p = tmp_path / "d.json"
    p.write_text("{not json")
    with pytest.raises(RepairError, match="defect map"):
        DefectMap.load(p, 2, 10, s)
    p.write_text(json.dumps({"defects": [[0, 1], [1, 12]]}))
    assert DefectMap.load(p, 2, 10, s).defects == {(0, 1), (1, 12)}
    p.write_text(json.dumps({"defects": [[0, "x"]]}))
    with pytest.raises(RepairError, match="not a \\(row, column\\) pair"):
        DefectMap.load(p, 2, 10, s)


def test_random_maps_are_seeded_and_repair_or_name_their_segment():
    s = SpareScheme(5, 1)
    a, b = DefectMap.random(6, 20, s, 0.05, seed=3), DefectMap.random(6, 20, s, 0.05, seed=3)
    assert a.defects == b.defects
    for seed in range(20):
        d = DefectMap.random(6, 20, s, 0.05, seed=seed)
        per = {}
        for r, c in d.defects:
            k = (r, c // 6)
            per[k] = per.get(k, 0) + 1
        if max(per.values(), default=0) <= 1:
            m = d.repair()
            assert all(len(set(row)) == 20 and not set(row) & {c for r2, c in d.defects if r2 == r}
                       for r, row in enumerate(m.phys))
        else:
            with pytest.raises(RepairError, match="not repairable"):
                d.repair()


def test_yield_monte_carlo_matches_the_exact_formula():
    yb = _yield_bench()
    rng = np.random.default_rng(5)
    for scheme, p in ((SpareScheme(10, 1), 0.004), (SpareScheme(20, 2), 0.01)):
        mc = yb.monte_carlo(scheme, 40, 60, p, 3000, rng)
        exact = yb.exact_repairable(scheme, 40, 60, p)
        assert 0.05 < exact < 0.95
        assert abs(mc["repairable_fraction"] - exact) < 4 * mc["stderr"] + 0.01, (mc, exact)
