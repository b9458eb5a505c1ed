"""The transformer decode's foundation: the model's shapes and SRAM fit (sdk/kernels/decode_model.py)
and its golden models (golden/decode.py): the mapping's operation order against golden/fp.py's
scalar functions evaluated as docs/kernels.md "Transformer decode" writes it down, the float64
reference, the logit bound and autoregressive generation. Pure numpy: no simulator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from golden import fp
from golden import mathlib as ml
from golden.decode import (
    DecodeGolden,
    DecodeReference,
    argmax,
    chain_sum,
    generate,
    logit_bound,
    matvec,
    meeting,
    rmsnorm,
    rope,
    rope_tables,
)
from hdl.profiles import get_profile
from sdk.kernels.decode_model import (
    DEFAULT,
    DecodeModelError,
    DecoderModel,
    check_fit,
    check_mapping,
    estimate_cycles,
    random_weights,
)


def _f16(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float16).view(np.uint16)


def _f32(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32).view(np.uint32)


# ---- shapes and fit --------------------------------------------------------------------------

def test_default_meets_the_goal_and_fits_8x8_small():
    m = DEFAULT
    assert m.layers >= 2 and m.d_model >= 64 and m.heads >= 2 and m.context >= 32 and m.vocab >= 256
    rep = check_fit(m, 8, 8, "small")
    assert rep.sram_available == 8192 and rep.fits
    assert rep.sram_bytes == sum(rep.parts.values()) <= 8192
    assert all(v % 8 == 0 and v > 0 for v in rep.parts.values())
    # the weight parts hold exactly the model's matrices (f16) spread over the 64 PEs
    d, f, v, L = m.d_model, m.d_ff, m.vocab, m.layers
    weights = sum(rep.parts[k] for k in ("w_qkv", "w_o", "w_gate_up", "w_down", "w_head"))
    assert weights * 64 == 2 * (L * (4 * d * d + 3 * d * f) + v * d)
    assert rep.parts["kv_cache"] * 64 == L * 2 * m.context * d * 4  # f32 K and V, every position
    assert 0 < rep.imem_words <= rep.imem_available == 1020


@pytest.mark.parametrize("change, words", [
    ({"d_ff": 384}, ["10464 bytes", "8192 available", "w_gate_up 3072"]),
    ({"context": 128}, ["11344 bytes", "rope_tables 4096", "kv_cache 2048"]),
    ({"vocab": 4096}, ["8192 available", "w_head 8192"]),
])
def test_too_large_models_are_refused_with_the_sizes(change, words):
    m = dataclasses.replace(DEFAULT, **change)
    with pytest.raises(DecodeModelError) as e:
        check_fit(m, 8, 8, "small")
    for w in words:
        assert w in str(e.value)


def test_a_larger_profile_or_mesh_takes_what_small_refuses():
    big = dataclasses.replace(DEFAULT, d_ff=384)
    assert check_fit(big, 8, 8, "wse").sram_bytes == 10464
    assert check_fit(big, 16, 16, "small").fits


@pytest.mark.parametrize("change, msg", [
    ({"heads": 3, "head_dim": 21}, "does not divide d_model"),
    ({"heads": 4, "head_dim": 32}, "!= d_model"),
    ({"heads": 64, "head_dim": 1}, "odd"),
    ({"d_model": 66, "heads": 2, "head_dim": 33}, "odd"),
    ({"vocab": 1}, "vocab=1 out of range"),
    ({"vocab": 70000}, "vocab=70000 out of range"),
    ({"context": 0}, "context must be a positive integer"),
    ({"context": 70000}, "context=70000 out of range"),
    ({"layers": 0}, "layers must be"),
    ({"d_ff": 2.5}, "d_ff must be"),
    ({"eps": 0.0}, "eps"),
    ({"rope_base": 1.0}, "rope_base"),
])
def test_bad_shapes_are_refused(change, msg):
    with pytest.raises(DecodeModelError, match=msg):
        check_fit(dataclasses.replace(DEFAULT, **change), 8, 8)


@pytest.mark.parametrize("change, rows, cols, msg", [
    ({"context": 36}, 8, 8, "context=36 is not a multiple of cols"),
    ({"d_ff": 132}, 8, 8, "d_ff=132 is not a multiple of rows"),
    ({"vocab": 260}, 8, 8, "vocab=260 is not a multiple of rows"),
    ({}, 8, 6, "d_model=64 is not a multiple of cols"),
    ({"heads": 8, "head_dim": 8}, 4, 8, "a chunk of q, k, v must lie in one head"),
    ({}, 0, 8, "rows must be"),
])
def test_shapes_that_do_not_divide_over_the_mesh(change, rows, cols, msg):
    with pytest.raises(DecodeModelError, match=msg):
        check_mapping(dataclasses.replace(DEFAULT, **change), rows, cols)


def test_odd_form_b_chunk_is_refused():
    m = DecoderModel(layers=1, d_model=8, heads=1, head_dim=8, d_ff=8, context=8, vocab=8)
    with pytest.raises(DecodeModelError, match="rotary pair would straddle"):
        check_mapping(m, 8, 1)


def test_unknown_profile():
    with pytest.raises(DecodeModelError, match="profile"):
        check_fit(DEFAULT, 8, 8, "nope")


def test_weights_are_fixed_by_the_seed():
    a, b, c = random_weights(DEFAULT, 3), random_weights(DEFAULT, 3), random_weights(DEFAULT, 4)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)
    assert a["l1.w2"].shape == (DEFAULT.d_model, DEFAULT.d_ff) and a["head"].shape == (256, 64)
    assert all(v.dtype == np.uint16 and np.isfinite(v.view(np.float16)).all() for v in a.values())


def test_cycle_estimate_adds_up():
    est = estimate_cycles(DEFAULT, 8, 8)
    assert est["total"] == sum(v for k, v in est.items() if k != "total")
    assert 2000 < est["total"] < 40000
    deeper = estimate_cycles(dataclasses.replace(DEFAULT, layers=4), 8, 8)
    assert deeper["total"] > est["total"]


# ---- the golden operations against golden/fp.py's scalar functions, in the documented order ---

def test_matvec_order_is_blocked_chains_then_block_sums():
    rng = np.random.default_rng(1)
    w, x = _f16(rng, (6, 12)), _f16(rng, 12)
    for nblk in (1, 3, 4):
        kb = 12 // nblk
        want = []
        for i in range(6):
            y = None
            for b in range(nblk):
                part = 0
                for k in range(b * kb, (b + 1) * kb):
                    part = fp.fmac_f32_f16(part, int(w[i, k]), int(x[k]))
                y = part if y is None else fp.add_f32(y, part)
            want.append(y)
        assert matvec(w, x, nblk).tolist() == want


@pytest.mark.parametrize("p, meet", [(1, 0), (2, 1), (3, 2), (4, 2), (5, 4), (6, 3), (8, 4)])
def test_chain_sum_is_two_chains_meeting(p, meet):
    # a line of p PEs: the west chain ends at the meeting PE, the east chain runs toward it
    assert meeting(p) == meet
    rng = np.random.default_rng(p)
    parts = [_f32(rng, 5) for _ in range(p)]
    for i in range(5):
        left = int(parts[0][i])
        for x in parts[1:meet + 1]:
            left = fp.add_f32(left, int(x[i]))
        want = left
        if meet < p - 1:
            right = int(parts[-1][i])
            for x in parts[p - 2:meet:-1]:
                right = fp.add_f32(right, int(x[i]))
            want = fp.add_f32(left, right)
        assert int(chain_sum(parts)[i]) == want


def test_matvec_over_eight_blocks_uses_the_meeting_chains():
    rng = np.random.default_rng(9)
    w, x = _f16(rng, (5, 16)), _f16(rng, 16)
    parts = []
    for b in range(8):
        part = np.zeros(5, np.uint32)
        for k in (2 * b, 2 * b + 1):
            part = np.array([fp.fmac_f32_f16(int(part[i]), int(w[i, k]), int(x[k])) for i in range(5)], np.uint32)
        parts.append(part)
    left = parts[0]
    for q in parts[1:5]:
        left = np.array([fp.add_f32(int(a), int(c)) for a, c in zip(left, q, strict=True)], np.uint32)
    right = parts[7]
    for q in (parts[6], parts[5]):
        right = np.array([fp.add_f32(int(a), int(c)) for a, c in zip(right, q, strict=True)], np.uint32)
    want = [fp.add_f32(int(a), int(c)) for a, c in zip(left, right, strict=True)]
    assert matvec(w, x, 8).tolist() == want


def test_matvec_order_changes_bits():
    # the order is part of the specification: some inputs give other bits in another blocking
    rng = np.random.default_rng(2)
    w, x = _f16(rng, (64, 64)), _f16(rng, 64)
    assert not np.array_equal(matvec(w, x, 8), matvec(w, x, 1))


def test_rmsnorm_steps():
    rng = np.random.default_rng(3)
    h, g = _f32(rng, 16), _f16(rng, 16)
    xn, x16 = rmsnorm(h, g, 4, 16, 1e-5)
    ss = None
    for c in range(4):
        part = 0
        for j in range(4 * c, 4 * c + 4):
            part = fp.fmac_f32(part, int(h[j]), int(h[j]))
        ss = part if ss is None else fp.add_f32(ss, part)
    t = fp.add_f32(fp.mul_f32(ss, fp.f32_bits(1 / 16)), fp.f32_bits(1e-5))
    r = int(ml.run("rsqrt", [t], exact=True)[0])
    want = [fp.mul_f32(fp.mul_f32(int(h[j]), r), fp.f16_to_f32(int(g[j]))) for j in range(16)]
    assert xn.tolist() == want
    assert x16.tolist() == [fp.f32_to_f16(v) for v in want]
    # and it is an RMSNorm: within f32 rounding of the exact formula
    hv = h.view(np.float32).astype(np.float64)
    ref = hv / np.sqrt(np.mean(hv * hv) + 1e-5) * g.view(np.float16)
    assert np.allclose(xn.view(np.float32), ref, rtol=1e-6, atol=0)


def test_rope_steps_and_tables():
    cos, sin = rope_tables(8, 4, 10000.0)
    assert cos.shape == (8, 2) and cos[0].tolist() == [0x3F800000] * 2 and sin[0].tolist() == [0, 0]
    assert cos[3, 0] == fp.f32_bits(np.cos(3.0)) and sin[5, 1] == fp.f32_bits(np.sin(5 * 0.01))
    rng = np.random.default_rng(4)
    v = _f32(rng, 8)  # two heads of 4
    got = rope(v, cos[5], sin[5], 4)
    want = []
    for hh in range(2):
        for i in range(2):
            e, o, c, s = int(v[4 * hh + 2 * i]), int(v[4 * hh + 2 * i + 1]), int(cos[5, i]), int(sin[5, i])
            want += [fp.fmac_f32(fp.mul_f32(o, s) ^ 0x80000000, e, c), fp.fmac_f32(fp.mul_f32(o, c), e, s)]
    assert got.tolist() == want
    assert rope(v, cos[0], sin[0], 4).tolist() == v.tolist()  # position 0 does not rotate


@pytest.mark.parametrize("logits, want", [
    ([1.0, 3.0, 3.0, 2.0], 1),  # ties: the smallest index
    ([-0.0, 0.0], 1),  # -0 < +0
    ([0.0, -0.0], 0),
    ([-np.inf, -5.0, -np.inf], 1),
    ([1.0, np.inf, np.inf], 1),
    ([1.0, np.nan, 7.0, np.nan], 1),  # a NaN is above everything; the first one
])
def test_argmax_tie_rule(logits, want):
    assert argmax(np.array(logits, np.float32).view(np.uint32)) == want


# ---- whole steps ------------------------------------------------------------------------------

SMALL = DecoderModel(layers=2, d_model=16, heads=2, head_dim=8, d_ff=16, context=8, vocab=16)


def test_first_step_attends_to_itself_only():
    w = random_weights(SMALL, 5)
    g = DecodeGolden(SMALL, w, 2, 2)
    _, logits, tr = g.step(3)
    probs = tr["l0.probs"].view(np.float32)
    assert probs[:, 0].tolist() == [1.0, 1.0] and not probs[:, 1:].any()
    # with one position, attention returns v exactly (p = 1, and +0 slots add nothing)
    assert np.array_equal(tr["l0.attn"], tr["l0.v"])
    assert g.pos == 1 and logits.dtype == np.uint32 and logits.shape == (16,)


def test_golden_is_deterministic_and_resets():
    w = random_weights(SMALL, 6)
    g = DecodeGolden(SMALL, w, 2, 2)
    a = generate(g, [1, 2, 3], 4)
    b = generate(g, [1, 2, 3], 4)
    assert a[0] == b[0] and all(np.array_equal(x, y) for x, y in zip(a[1], b[1], strict=True))


def test_the_mesh_shape_is_part_of_the_specification():
    w = random_weights(SMALL, 7)
    la = DecodeGolden(SMALL, w, 2, 2).step(4)[1]
    lb = DecodeGolden(SMALL, w, 4, 1).step(4)[1]
    assert not np.array_equal(la, lb)
    assert np.allclose(la.view(np.float32), lb.view(np.float32), rtol=1e-4, atol=1e-5)


def test_context_and_token_range():
    g = DecodeGolden(SMALL, random_weights(SMALL, 8), 2, 2)
    with pytest.raises(ValueError, match="out of range"):
        g.step(16)
    for t in range(SMALL.context):
        g.step(t % 16)
    with pytest.raises(ValueError, match="context holds 8"):
        g.step(0)


def test_golden_refuses_shapes_that_do_not_divide():
    with pytest.raises(ValueError):
        DecodeGolden(SMALL, random_weights(SMALL, 1), 3, 2)


def _teacher_forced(model_shape, w, rows, cols, tokens):
    """Both models fed the same tokens; per step (golden logits as f64, reference logits)."""
    g, r = DecodeGolden(model_shape, w, rows, cols), DecodeReference(model_shape, w)
    out = []
    for t in tokens:
        out.append((g.step(t)[1].view(np.float32).astype(np.float64), r.step(t)[1]))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_logits_within_the_stated_bound(seed):
    w = random_weights(DEFAULT, seed)
    toks = np.random.default_rng(100 + seed).integers(0, DEFAULT.vocab, 12).tolist()
    for got, ref in _teacher_forced(DEFAULT, w, 8, 8, toks):
        err = np.max(np.abs(got - ref))
        assert err <= logit_bound(ref)
        assert err > 0  # the f16 activations do round: the comparison is not vacuous


def test_generation_agrees_with_the_float64_reference():
    w = random_weights(DEFAULT, 0)
    prompt, n = [1, 5, 9, 200], 16
    gold, lg = generate(DecodeGolden(DEFAULT, w, 8, 8), prompt, n)
    ref, lr = generate(DecodeReference(DEFAULT, w), prompt, n)
    assert len(gold) == n and all(0 <= t < DEFAULT.vocab for t in gold)
    if gold != ref:  # any disagreement must be a near-tie in the reference at the first divergence
        i = next(k for k in range(n) if gold[k] != ref[k])
        step = len(prompt) - 1 + i
        gap = lr[step][ref[i]] - lr[step][gold[i]]
        assert gap <= 2 * logit_bound(lr[step])
    # for this fixed-seed model the two agree on every token (no near-tie on the way)
    assert gold == ref
    # and the golden model's tokens, pinned from its run: a change of the operation order, the
    # weights generator or the tie rule shows here
    assert gold == [157, 63, 34, 24, 183, 44, 111, 11, 141, 125, 147, 23, 202, 62, 1, 133]


def test_disagreement_would_be_explained_by_the_gap():
    # the argument the generation test relies on: if |err| <= B on every logit and the reference's
    # top-two gap exceeds 2B, the golden argmax equals the reference's
    w = random_weights(DEFAULT, 1)
    toks = [7, 8, 9, 10, 11, 12]
    for got, ref in _teacher_forced(DEFAULT, w, 8, 8, toks):
        b = logit_bound(ref)
        top2 = np.sort(ref)[-2:]
        if top2[1] - top2[0] > 2 * b:
            assert int(np.argmax(got)) == int(np.argmax(ref))


# ---- projection to a large model on a large mesh (bench/decode_projection.py) -------------

def _report(d_ff=16, phases=None, cpt=1000.0, io=10.0):
    """A decode report of a 1-layer MHA model on a 2 x 2 mesh with given phase cycles."""
    cum = phases or {"norm1": 100, "qkv": 150, "rope": 170, "scores": 200, "softmax": 300, "attn": 330,
                     "wo": 360, "norm2": 450, "gate_up": 500, "swiglu": 600, "down": 640}
    return {"layers": 1, "d_model": 8, "heads": 2, "head_dim": 4, "d_ff": d_ff, "context": 4, "vocab": 8,
            "mesh": [2, 2], "cycles_per_token": cpt, "host_io_cycles_per_token": io,
            "phase_cycles_first_layer": cum}


def test_projection_of_the_measured_shape_onto_its_own_mesh_is_the_measurement():
    from bench.decode_projection import HOP_CYCLES, TargetShape, project
    same = TargetShape(layers=1, d_model=8, heads=2, kv_heads=2, head_dim=4, d_ff=16, vocab=8, context=4)
    # 1 layer + 1 head region (72 head weights < 656 layer weights) on a 2 x 4 mesh: two 2 x 2 regions
    p = project(_report(), same, rows=2, cols=4, profile="wse")
    assert p["regions"] == {"grid": [1, 2], "region_pes": [2, 2], "pes_per_layer": 4, "head_regions": 1,
                            "pes_used": 8}
    # every phase as measured: the work on the region equals the work on the measured mesh
    assert p["cycles_per_layer_by_phase"] == {"norm1": 100, "qkv": 50, "rope": 20, "scores": 30, "softmax": 100,
                                              "attn": 30, "wo": 30, "norm2": 90, "gate_up": 50, "swiglu": 100,
                                              "down": 40}
    assert p["cycles_per_layer"] == 640
    assert p["tail_cycles"] == 1000 - 640
    handoff = 2 * HOP_CYCLES + 4 * 1.0 + 2 * 4  # region side x hop, d_model / 2 words, 2 ops of 4 cycles
    assert p["handoff_cycles"] == round(handoff, 1)
    assert p["cycles_per_token"] == round(640 + handoff + 360 + 10, 1)
    assert p["tokens_per_second"] == round(850e6 / (1010 + handoff), 1)
    # sizes: 656 layer weights + 72 head weights in f16; K and V f32 of 4 positions x 8 dims
    assert p["weight_bytes"] == 2 * (656 + 72)
    assert p["kv_cache_bytes"] == 2 * 4 * 8 * 4
    assert p["sram_bytes_mesh"] == 8 * 48 * 1024 and p["fits"]
    # blocks per PE: Wq/Wk/Wv 12 x 4, Wo 4 x 4, W1/W3 16 x 4, W2 4 x 8 (f16); two gains of 4 (f32)
    assert p["sram_per_pe_layer_region"]["weights"] == 2 * (48 + 16 + 64 + 32)
    assert p["sram_per_pe_layer_region"]["norm_gains"] == 2 * 4 * 4
    assert p["sram_per_pe_layer_region"]["kv_cache"] == 2 * 2 * 4 * 4  # 2 slots x 4 dims, K and V


def test_projection_prices_the_extra_work_at_the_stated_rates():
    from bench.decode_projection import TargetShape, project
    wide = TargetShape(layers=1, d_model=8, heads=2, kv_heads=2, head_dim=4, d_ff=32, vocab=8, context=4)
    p = project(_report(d_ff=16), wide, rows=2, cols=4, profile="wse")
    by = p["cycles_per_layer_by_phase"]
    # d_ff chunk per PE 16 instead of 8 (2 rows):
    # gate/up matvec 4 inputs x (4 + 32 / 2) instead of 4 x (4 + 16 / 2): +32; its row all-reduce
    # 32 words instead of 16, 2 word-cycles each: +32
    assert by["gate_up"] == 50 + 32 + 32
    # SwiGLU: 8 more elements of exp (15.5) and rcp (11.5), 5 element-wise ops at 2 per cycle
    assert by["swiglu"] == 100 + 8 * 15.5 + 8 * 11.5 + 5 * 8 / 2
    # down: 16 inputs x (4 + 4 / 2) instead of 8
    assert by["down"] == 40 + 8 * (4 + 2)
    # the other phases' work does not depend on d_ff: as measured
    assert {k: by[k] for k in ("norm1", "qkv", "rope", "scores", "softmax", "attn", "wo", "norm2")} == {
        "norm1": 100, "qkv": 50, "rope": 20, "scores": 30, "softmax": 100, "attn": 30, "wo": 30, "norm2": 90}
    assert p["cycles_per_layer"] == 640 + 64 + 236 + 48


def test_projection_refuses_a_model_that_does_not_fit():
    from bench.decode_projection import LLAMA_3_1_8B, project
    rep = _report()
    with pytest.raises(DecodeModelError, match="bytes per PE"):
        project(rep, LLAMA_3_1_8B, rows=100, cols=100, profile="wse")  # 8B on 10,000 PEs
    # the kernel's mapping as built keeps heads x slots scores on every PE: at context 8192 it does not
    # fit; with the softmax split over the column it does
    with pytest.raises(DecodeModelError, match="49,152 available"):
        project(rep, LLAMA_3_1_8B, split_math=False)
    p = project(rep, LLAMA_3_1_8B, split_math=False, allow_unfit=True)
    assert not p["fits"] and p["sram_used_per_pe_layer_region"] > 49152
    assert project(rep, LLAMA_3_1_8B, split_math=True)["fits"]
    with pytest.raises(DecodeModelError, match="phase_cycles_first_layer"):
        project(rep | {"phase_cycles_first_layer": None})


def test_projection_8b_states_every_assumption():
    from bench.decode_projection import LLAMA_3_1_8B, RECORDED_PHASES_8X8, project
    rep = {"layers": 2, "d_model": 64, "heads": 2, "head_dim": 32, "d_ff": 128, "context": 32, "vocab": 256,
           "mesh": [8, 8], "cycles_per_token": 9793.2, "host_io_cycles_per_token": 166.0,
           "phase_cycles_first_layer": None}
    p = project(rep, LLAMA_3_1_8B, split_math=True)  # the recorded phases stand in for a report without them
    a = p["assumptions"]
    assert a["measured_source"].startswith("RECORDED_PHASES_8X8")
    assert a["measured_layer_cycles"] == RECORDED_PHASES_8X8["down"]
    for k in ("measured_source", "measured_shape", "measured_cycles_per_token", "measured_layer_cycles",
              "measured_tail_cycles", "measured_host_io_cycles_per_token", "scaling_rule", "issue_cycles_per_op",
              "matvec_f16_elements_per_cycle", "fmac_f32_elements_per_cycle", "elementwise_f32_elements_per_cycle",
              "math_cycles_per_element", "hop_cycles", "allreduce_word_cycles_each_way", "allreduce_hops",
              "mapping", "attention", "split_math", "weight_bytes_per_element", "kv_bytes_per_element",
              "rope_tables", "chunks_rounded_up", "handoff_rule", "pipelining", "clock_hz"):
        assert k in a, k
    assert 8.0e9 < p["params"] < 8.1e9
    assert p["weight_bytes"] == 2 * (32 * (2 * 4096 ** 2 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096)
                                     + 128256 * 4096 + 4096)
    assert p["kv_cache_bytes"] == 32 * 2 * 8192 * 1024 * 4
    assert p["sram_bytes_mesh"] == 750 * 994 * 48 * 1024
    assert p["fits"] and p["regions"]["pes_used"] <= 750 * 994
    assert p["cycles_per_token"] > 32 * p["cycles_per_layer"]
    assert p["tokens_per_second"] == round(850e6 / p["cycles_per_token"], 1)
    assert p["public_cs3_tokens_per_second"] == 1800


def test_bench_presets_fit_their_profile_and_bad_runs_are_refused_before_building(capsys):
    from bench import decode as bench_decode

    for name, p in bench_decode.PRESETS.items():
        m = DecoderModel(p["layers"], p["d_model"], p["heads"], p["d_model"] // p["heads"], p["d_ff"], p["context"],
                         p["vocab"])
        rows, cols = (int(x) for x in p["mesh"].split("x"))
        assert check_fit(m, rows, cols, p["profile"]).sram_bytes <= get_profile(p["profile"]).sram_kib * 1024, name
    wse = bench_decode.PRESETS["wse"]
    big = DecoderModel(wse["layers"], wse["d_model"], wse["heads"], wse["d_model"] // wse["heads"], wse["d_ff"],
                       wse["context"], wse["vocab"])
    with pytest.raises(DecodeModelError, match="bytes of SRAM"):
        check_fit(big, 8, 8, "small")
    # refused (exit 2, the sizes on stderr) before anything is built
    assert bench_decode.main(["--preset", "wse", "--d-ff", "4096"]) == 2
    assert "bytes of SRAM" in capsys.readouterr().err
    assert bench_decode.main(["--preset", "small", "--tokens", "0"]) == 2
