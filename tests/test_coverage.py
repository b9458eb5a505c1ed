"""The coverage machinery (tb/coverage.py) and the classifiers the monitors use, without a simulator:
cover groups, saving and merging, the report's hole rule; the FMAC-lane classifier
(tb/fpu_coverage.py) against the independent exact reference (golden/fp_exact.py); the PE's vector
bins against the ISA's legality rule."""

from __future__ import annotations

import json

import pytest

from golden import fp, fp_exact
from tb.cocotb_fpu import LANE_OPS, edge_vectors, random_vectors
from tb.coverage import CoverGroup, IllegalBin, merge, report, save
from tb.fpu_coverage import FpuCoverage, bins_of, classify
from tb.pe_coverage import vector_bins


def test_group_counts_holes_and_refuses_undeclared_bins():
    g = CoverGroup("t.g", [("a", 1), ("a", 2), ("b", 1)])
    g.sample(("a", 1))
    g.sample(("a", 1))
    assert g.hits[("a", 1)] == 2 and g.covered == 1
    assert g.holes() == [("a", 2), ("b", 1)]
    with pytest.raises(IllegalBin, match=r"\('c', 9\)"):
        g.sample(("c", 9))
    assert CoverGroup.from_dict(json.loads(json.dumps(g.to_dict()))).hits == g.hits


def test_runs_merge_and_the_report_fails_only_undeclared_holes(tmp_path):
    for run, hit in (("r1", ("a", 1)), ("r2", ("a", 2))):
        g = CoverGroup("t.g", [("a", 1), ("a", 2), ("b", 1), ("b", 2)])
        g.sample(hit)
        save([g], run, tmp_path)
    merged = merge(tmp_path)
    assert merged["t.g"].hits == {("a", 1): 1, ("a", 2): 1, ("b", 1): 0, ("b", 2): 0}
    summary, text, undeclared = report(tmp_path, holes={"t.g": {("b", 1): "cannot happen"}})
    assert undeclared == {"t.g": [("b", 2)]}
    assert summary["t.g"]["hit"] == 2 and summary["t.g"]["declared_holes"] == {"(b, 1)": "cannot happen"}
    assert "t.g" in text and "(b, 2)" in text
    _, _, undeclared = report(tmp_path, holes={"t.g": {("b", 1): "x", ("b", 2): "y"}})
    assert not undeclared
    g = CoverGroup("t.g", [("a", 1)])  # another run declaring other bins cannot be merged
    save([g], "r3", tmp_path)
    with pytest.raises(ValueError, match="different bins"):
        merge(tmp_path)


@pytest.mark.parametrize("op", [o for o in LANE_OPS if not LANE_OPS[o].out.startswith("i")])
def test_fpu_classifier_agrees_with_the_exact_reference(op):
    """Tie / exact / inexact from (round, sticky) and the result classes match golden/fp_exact.py on
    the edge vectors and a random sample."""
    lop = LANE_OPS[op]
    kinds = [k for _, k in lop.args]
    vecs = edge_vectors(lop)[:3000] + random_vectors(lop, 3000, 1)
    legal = set(bins_of(op, lop.out))
    for v in vecs:
        want = lop.golden(*v)
        bins = classify(op, kinds, lop.out, v, want)
        assert set(bins) <= legal
        value = fp_exact.exact(lop.golden_name, *v)
        rnd = [b for b in bins if b[0] == "rnd"]
        result = dict(b for b in bins if b[0] == "result")["result"]
        if value[0] != "num":
            assert result == value[0] and not rnd, (v, bins)
            continue
        if value[2] == 0:
            assert result == "zero" and not rnd, (v, bins)
            continue
        (_, lsb, r, s), = rnd
        cls = fp_exact.rounding_class(lop.out, value[2])
        assert cls == ("exact" if not r and not s else "tie" if r and not s else "inexact"), (v, bins, cls)
        rounded = fp_exact.round_value(lop.out, value)
        assert rounded == want
        if result == "normal" and cls == "tie":  # a tie rounds to the even neighbour
            assert want & 1 == 0 or lsb == 1


def test_fpu_coverage_masks_unused_port_bits():
    lop = LANE_OPS["ADD_F16"]
    cov = FpuCoverage(lop.name, ["f16", "f16"], "f16")
    cov.sample((0xABCD3C00, 0x12343C00), fp.add_f16(0x3C00, 0x3C00))
    assert cov.group.hits[("result", "normal")] == 1


def test_pe_vector_bins_follow_the_isa():
    bins = vector_bins()
    # docs/isa.md: fmac/fmacs/vadd(s)/vmul(s)/vmov/vfill give 72 (destination, A, B kinds x
    # sync/async); vmax 2 x 2 x 2 x 2 = 16, vmaxs 2 x 2 x 2 = 8, vcvt 2 x 2 x 2 = 8; the i32 bit ops
    # vsh and vlogs (destination mem/fout x A mem/fin x B none x sync/async) 2 x 2 x 1 x 2 = 8 each
    assert len(bins) == len(set(bins)) == 72 + 16 + 8 + 8 + 8 + 8
    assert not [b for b in bins if b[0].startswith("FMAC") and b[1] == "fout"]
    assert not [b for b in bins if "fout" in b[2:4] or b[1] == "fin"]
