"""The mutation tool (tb/mutate/) on a toy block: the operators produce the expected mutants of a
small Amaranth module, and a run over three of them marks one killed (naming the test), one
equivalent (Yosys proves it) and one survived, and scores them. A few seconds."""

from __future__ import annotations

import json
import textwrap

import pytest

from tb.mutate.blocks import BLOCKS, REPO, Block
from tb.mutate.equiv import yosys_available
from tb.mutate.operators import enumerate_mutants
from tb.mutate.run import run_block, score, select_mutants

TOY = textwrap.dedent('''\
    from amaranth import Module, Mux
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out


    def describe():
        return 1 + 2  # not hardware: never mutated


    class Toy(wiring.Component):
        a: In(4)
        b: In(4)
        y: Out(4)
        z: Out(4)

        def elaborate(self, platform):
            m = Module()
            m.d.comb += self.y.eq(Mux(self.a < self.b, self.a - self.b, self.b))
            m.d.comb += self.z.eq(self.a | 0)
            for i in range(3):  # elaboration-time Python: not mutated
                pass
            return m
    ''')

# The kill test checks y only, so mutants of z survive unless they are equivalent.
TOY_TEST = textwrap.dedent('''\
    from amaranth.sim import Simulator

    from toypkg.toy import Toy


    def test_y():
        dut = Toy()

        async def bench(ctx):
            for a, b in [(1, 5), (7, 2), (3, 3), (0, 15)]:
                ctx.set(dut.a, a)
                ctx.set(dut.b, b)
                want = (a - b) % 16 if a < b else b
                assert ctx.get(dut.y) == want, (a, b)

        sim = Simulator(dut)
        sim.add_testbench(bench)
        sim.run()
    ''')


def _toy_block(tmp_path):
    (tmp_path / "toypkg").mkdir()
    (tmp_path / "toypkg" / "__init__.py").write_text("")
    (tmp_path / "toypkg" / "toy.py").write_text(TOY)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_toy.py").write_text(TOY_TEST)
    return Block(name="toy", files=("toypkg/toy.py",), tests=("tests/test_toy.py",),
                 configs=(("toy", "toypkg.toy", "Toy()"),), package="toypkg", root=tmp_path)


def test_operators_produce_the_expected_mutants(tmp_path):
    block = _toy_block(tmp_path)
    mutants = enumerate_mutants(tmp_path / "toypkg" / "toy.py", "toypkg/toy.py")
    got = {(mu.line, mu.operator, mu.original, mu.mutated) for mu in mutants}
    y = "Mux(self.a < self.b, self.a - self.b, self.b)"
    expected = {
        (18, "invert_cond", y, "Mux(self.a < self.b, self.b, self.a - self.b)"),
        (18, "replace_op", "self.a < self.b", "((self.a) <= (self.b))"),
        (18, "swap_operands", "self.a < self.b", "((self.b) < (self.a))"),
        (18, "replace_op", "self.a - self.b", "((self.a) + (self.b))"),
        (18, "swap_operands", "self.a - self.b", "((self.b) - (self.a))"),
        (18, "drop_term", "self.a - self.b", "(self.a)"),
        (18, "stuck_at", y, f"{y} with bit 0 stuck at 0"),
        (18, "stuck_at", y, f"{y} with bit 0 stuck at 1"),
        (18, "drop_assign", f"self.y.eq({y})", "[]"),
        (19, "replace_op", "self.a | 0", "((self.a) & (0))"),
        (19, "drop_term", "self.a | 0", "(self.a)"),
        (19, "drop_term", "self.a | 0", "(0)"),
        (19, "const_off_by_one", "0", "1"),
        (19, "stuck_at", "self.a | 0", "self.a | 0 with bit 0 stuck at 0"),
        (19, "stuck_at", "self.a | 0", "self.a | 0 with bit 0 stuck at 1"),
        (19, "drop_assign", "self.z.eq(self.a | 0)", "[]"),
    }
    assert got == expected
    # a mutant's source differs from the original only in its span (plus the stuck_at helper)
    src = (tmp_path / "toypkg" / "toy.py").read_bytes()
    swap = next(mu for mu in mutants if mu.operator == "swap_operands" and "-" in mu.original)
    assert swap.apply(src) == src.replace(b"self.a - self.b,", b"((self.b) - (self.a)),")
    stuck = next(mu for mu in mutants if mu.operator == "stuck_at")
    assert b"def _mutant_stuck(value, bit):" in stuck.apply(src)
    assert block.files == ("toypkg/toy.py",)


def test_report_marks_killed_equivalent_and_surviving_mutants(tmp_path):
    block = _toy_block(tmp_path)
    mutants = enumerate_mutants(tmp_path / "toypkg" / "toy.py", "toypkg/toy.py")

    def key(operator, original, mutated):
        return next(mu.key for mu in mutants if (mu.operator, mu.original, mu.mutated) == (operator, original, mutated))

    killed = key("swap_operands", "self.a - self.b", "((self.b) - (self.a))")
    equivalent = key("drop_term", "self.a | 0", "(self.a)")
    survivor = key("const_off_by_one", "0", "1")
    out = tmp_path / "out"
    report = run_block(block, out_dir=out, only=[killed, equivalent, survivor], log=lambda s: None)
    by_key = {r["key"]: r for r in report["mutants"]}
    assert by_key[killed]["status"] == "killed"
    assert by_key[killed]["killed_by"] == "tests/test_toy.py::test_y"
    assert by_key[survivor]["status"] == "survived" and by_key[survivor]["killed_by"] is None
    if yosys_available():
        assert by_key[equivalent]["status"] == "equivalent", by_key[equivalent]
        assert "equiv" in by_key[equivalent]["reason"]
        assert report["score"] == {"killed": 1, "survived": 1, "non_equivalent": 2, "equivalent": 1, "stillborn": 0,
                                   "percent": 50.0, "target": 90.0, "pass": False}
    assert report["survivors"] == [by_key[survivor]["id"]]
    assert json.loads((out / "toy.json").read_text())["score"] == report["score"]
    # the overlay is gone and the toy's own source is untouched
    assert not (out / "toy" / "w0").exists()
    assert (tmp_path / "toypkg" / "toy.py").read_text() == TOY


def test_score_excludes_equivalent_and_stillborn():
    recs = [{"status": s} for s in ["killed"] * 9 + ["survived", "equivalent", "stillborn"]]
    assert score(recs, 90.0) == {"killed": 9, "survived": 1, "non_equivalent": 10, "equivalent": 1, "stillborn": 1,
                                 "percent": 90.0, "target": 90.0, "pass": True}
    assert not score(recs + [{"status": "survived"}], 90.0)["pass"]


@pytest.mark.parametrize("block", ["router", "mgmt", "fpu", "bridge", "pe"])
def test_every_block_has_mutants_and_its_kill_tests_exist(block):
    b = BLOCKS[block]
    chosen, every = select_mutants(b, 60, 1)
    assert len(every) >= len(chosen) > 0
    assert chosen == select_mutants(b, 60, 1)[0], "the sample is fixed by the seed"
    assert all((REPO / t).exists() for t in b.tests)
