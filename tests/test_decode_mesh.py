"""The transformer decode running on the mesh (sdk/kernels/decode.py), bit for bit against the golden
model of its operation order (golden/decode.py ``DecodeGolden`` on the same mesh shape).

1-layer models on a 2 x 2 and a 3 x 2 mesh on Verilator: a prompt and generated tokens, every step's logits
and every stage's intermediates read back from PE SRAM (normed input, q/k after RoPE, v, scores,
probabilities, attention output, residuals, gate/up, SwiGLU, logits) equal golden's bits, and the
generated tokens equal golden's. A 2-layer model on a 4 x 4 mesh on the golden PE-mesh engine covers
the layer loop and the middle PEs of every chain. Bad model shapes, weights and tokens are refused
before anything runs."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from golden.decode import DecodeGolden, generate
from sdk.kernels.decode import READABLE, DecodeKernel
from sdk.kernels.decode_model import DEFAULT, DecodeModelError, DecoderModel, check_fit, random_weights
from sdk.runtime import Runtime

TINY = DecoderModel(layers=1, d_model=16, heads=2, head_dim=8, d_ff=32, context=8, vocab=32)
#: 3 x 2: three heads of 8, one per mesh row; an odd column line (one chain with a middle PE)
TINY3 = DecoderModel(layers=1, d_model=24, heads=3, head_dim=8, d_ff=48, context=8, vocab=48)
MESHES = {(2, 2): TINY, (3, 2): TINY3}
PROMPT = [3, 7, 1]
NEW = 3
#: READABLE name -> golden trace key (1-layer model)
TRACE_KEY = {"x16": "final_x16", "logits": "logits", **{n: f"l0.{n}" for n in READABLE if n not in ("x16", "logits")}}


def _group(mesh):
    return pytest.mark.xdist_group(f"decode_{mesh[0]}x{mesh[1]}")


def _mesh_params(names):
    return [pytest.param(mesh, n, id=f"{mesh[0]}x{mesh[1]}-{n}", marks=_group(mesh)) for mesh in MESHES for n in names]


@functools.lru_cache(maxsize=None)
def _mesh_run(mesh):
    """Generate on the native mesh; after every step read back every intermediate."""
    k = DecodeKernel(MESHES[mesh], *mesh, seed=5)
    steps = []
    with Runtime(k.layout(), engine="native", threads=1, run_name=f"test-decode-{mesh[0]}x{mesh[1]}") as rt:
        def grab(i, tok, res):
            steps.append({"cycles": res.cycles, **{n: k.read(rt, n).reshape(-1) for n in READABLE}})
        tokens, logits, _ = k.generate(rt, PROMPT, NEW, progress=grab)
    return k, tokens, logits, steps


@functools.lru_cache(maxsize=None)
def _golden_run(mesh):
    k = _mesh_run(mesh)[0]
    g = DecodeGolden(MESHES[mesh], k.w, *mesh)
    feed = PROMPT + generate(DecodeGolden(MESHES[mesh], k.w, *mesh), PROMPT, NEW)[0]
    g.reset()
    return [g.step(t) for t in feed[:len(PROMPT) + NEW - 1]]


@pytest.mark.sim
@pytest.mark.parametrize("mesh,name", _mesh_params(READABLE))
def test_stage_bit_exact(mesh, name):
    _, _, _, steps = _mesh_run(mesh)
    gold = _golden_run(mesh)
    assert len(steps) == len(gold) == len(PROMPT) + NEW - 1
    for i, (got, (_, _, trace)) in enumerate(zip(steps, gold, strict=True)):
        want = np.asarray(trace[TRACE_KEY[name]]).reshape(-1)
        g = got[name]
        assert g.shape == want.shape, f"step {i} {name}: shape {g.shape}, golden {want.shape}"
        bad = np.flatnonzero(g.astype(np.uint32) != want.astype(np.uint32))
        assert bad.size == 0, (f"step {i} {name}: {bad.size} of {want.size} differ, first at {bad[0]}: "
                               f"mesh {int(g[bad[0]]):#x}, golden {int(want[bad[0]]):#x}")


@pytest.mark.sim
@pytest.mark.parametrize("mesh,name", _mesh_params(["generate"]))
def test_generation_matches_golden(mesh, name):
    k, tokens, logits, steps = _mesh_run(mesh)
    want_tokens, want_logits = generate(DecodeGolden(MESHES[mesh], k.w, *mesh), PROMPT, NEW)
    assert tokens == want_tokens
    for i, (a, b) in enumerate(zip(logits, want_logits, strict=True)):
        assert np.array_equal(a, b), f"step {i}: logits differ from the golden model"
    assert all(s["cycles"] > 0 for s in steps)


def test_two_layers_on_golden_engine():
    m = DecoderModel(layers=2, d_model=32, heads=2, head_dim=16, d_ff=64, context=8, vocab=64)
    k = DecodeKernel(m, 4, 4, seed=2)
    with Runtime(k.layout(), engine="golden") as rt:
        tokens, logits, _ = k.generate(rt, [5, 9], 3)
    want_tokens, want_logits = generate(DecodeGolden(m, k.w, 4, 4), [5, 9], 3)
    assert tokens == want_tokens
    for a, b in zip(logits, want_logits, strict=True):
        assert np.array_equal(a, b)


def test_weights_beyond_the_16_bit_offsets_on_golden_engine():
    """A wse-sized share per PE: the weights and tables lie above 32 KiB (the program reaches them
    through registers, the words it addresses with offsets stay low); bit-exact on the golden engine."""
    m = DecoderModel(layers=1, d_model=64, heads=2, head_dim=32, d_ff=128, context=8, vocab=256)
    k = DecodeKernel(m, 2, 2, profile="wse", seed=3)
    assert k.addr["sin"] > 0x8000 and k.addr["ctl"] + 32 <= 0x8000 and k.addr["bar"] < 0x8000
    with Runtime(k.layout(), engine="golden") as rt:
        tokens, logits, _ = k.generate(rt, [7], 2)
    want_tokens, want_logits = generate(DecodeGolden(m, k.w, 2, 2), [7], 2)
    assert tokens == want_tokens
    for a, b in zip(logits, want_logits, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("model,mesh,needle", [
    (DecoderModel(1, 16, 2, 8, 32, 8, 33), (2, 2), "vocab=33 is not a multiple of rows"),
    (DecoderModel(1, 16, 2, 8, 32, 6, 32), (4, 4), "d_model=16 is not a multiple|context=6"),
    (DecoderModel(1, 16, 1, 16, 32, 8, 32), (4, 1), None),  # fits: the control
    (DecoderModel(1, 16, 4, 4, 32, 8, 32), (2, 2), "head_dim=4 is not a multiple of the form-B chunk"),
    (DecoderModel(2, 64, 2, 32, 384, 32, 256), (8, 8), "bytes of SRAM"),
    (DecoderModel(1, 16, 2, 7, 32, 8, 32), (2, 2), "heads \\* head_dim"),
])
def test_bad_shapes_refused(model, mesh, needle):
    if needle is None:
        assert DecodeKernel(model, *mesh).imem_words > 0
        return
    with pytest.raises(DecodeModelError, match=needle):
        DecodeKernel(model, *mesh)


@pytest.mark.parametrize("model,mesh", [(TINY, (2, 2)), (DEFAULT, (8, 8)),
                                        (DecoderModel(2, 32, 2, 16, 64, 16, 64), (4, 4))])
def test_sram_map_is_the_fit_report(model, mesh):
    k = DecodeKernel(model, *mesh)
    rep = check_fit(model, *mesh)
    assert k.sram_bytes == rep.sram_bytes <= rep.sram_available
    spans = sorted(k.sram_map.values())
    assert all(a + n <= b for (a, n), (b, _) in zip(spans, spans[1:], strict=False))  # no overlap
    assert k.imem_words <= rep.imem_words <= rep.imem_available


def test_bad_weights_and_tokens_refused():
    w = random_weights(TINY, 1)
    w["l0.wq"] = w["l0.wq"][:, :8]
    with pytest.raises(DecodeModelError, match="l0.wq"):
        DecodeKernel(TINY, 2, 2, weights=w)
    w = random_weights(TINY, 1)
    w["head"] = w["head"].view(np.int16)
    with pytest.raises(DecodeModelError, match="uint16"):
        DecodeKernel(TINY, 2, 2, weights=w)
    k = DecodeKernel(TINY, 2, 2)
    for bad in (-1, 32, 2.5, True):
        with pytest.raises(DecodeModelError, match="out of range"):
            k.step(None, bad)  # refused before the runtime is touched
    with pytest.raises(DecodeModelError, match="positions"):
        k.generate(None, [1, 2, 3], 7)
    with pytest.raises(DecodeModelError, match="readable"):
        k.read(None, "keys")
    with pytest.raises(DecodeModelError, match="phases are"):
        k.layout(stop="mlp")
