"""The decoder-only transformer the mesh decode runs: its shapes, fixed-seed f16 weights, the SRAM
budget of the mapping per PE (refusing a model that does not fit, before anything runs) and a
cycle estimate per token.

The mapping is docs/kernels.md "Transformer decode"; its arithmetic is golden/decode.py. In short,
on an R x C mesh every matrix is cut into R x C blocks, one per PE, and the activations alternate
between two replicated forms: "form A" (a vector in C chunks, chunk c on every PE of mesh column c)
and "form B" (R chunks, chunk r on every PE of mesh row r). A matvec from form A (QKV, W1/W3, the
vocabulary head) gives PE (r, c) the block W[out chunk r, in chunk c] and all-reduces along the
rows; one from form B (Wo, W2) holds W[out chunk c, in chunk r] and all-reduces along the columns.
Position t of the KV cache lives in mesh column t % C (slot t // C), its dims in the form-B chunks.

This module is pure Python/numpy: it plans, it does not run anything. The mesh kernel is
sdk/kernels/decode.py; ``check_fit``'s parts are that kernel's SRAM map, part by part.

Interface
---------
DecoderModel(layers, d_model, heads, head_dim, d_ff, context, vocab, eps=1e-5, rope_base=10000.0)
    frozen dataclass; ``.validate()`` checks the shapes on their own (DecodeModelError)
DEFAULT                               the 8 x 8 ``small`` configuration (2 layers, d_model 64, 2 heads,
                                      d_ff 128, context 32, vocab 256)
random_weights(model, seed=0) -> {name: uint16 f16 patterns}   golden/decode.py's names and shapes
check_mapping(model, rows, cols)      the shapes against the mesh (DecodeModelError naming the size)
check_fit(model, rows, cols, profile="small") -> FitReport
    SRAM bytes per PE by part and instruction words; DecodeModelError if either does not fit
FitReport                             .parts {name: bytes} .sram_bytes .sram_available .imem_words
                                      .imem_available .summary()
math_elements(model, rows, cols) -> int   the largest math-library call (the kernel's routines and
                                      their buffers are sized for it)
estimate_cycles(model, rows, cols) -> {phase: cycles, "total": ...}   from docs/isa.md throughputs
DecodeModelError(KernelError)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from hdl.profiles import ProfileError, get_profile

from ..asm import assemble
from . import mathlib
from .common import KernelError

__all__ = ["DecoderModel", "DEFAULT", "random_weights", "check_mapping", "check_fit", "math_elements", "FitReport",
           "estimate_cycles", "DecodeModelError", "MAX_CONTEXT", "MAX_VOCAB"]

#: token ids travel as one 16-bit half of a wavelet; vector lengths are 16-bit too
MAX_VOCAB = 65536
#: positions are counted in a 16-bit field of the per-PE position word
MAX_CONTEXT = 65535
#: instruction words of the kernel's own code besides the three math routines (the step task with
#: its layer loop, the RMSNorm, matvec and all-reduce subroutines): sdk/kernels/decode.py's program
#: measured on 8 x 8 (425 words), plus a margin for other shapes
CONTROL_WORDS = 440
#: instruction words the runtime's d2h read-out routine takes at the top of instruction memory
D2H_WORDS = 4
#: per-PE words: position, next KV position and slot, store flag, RoPE row offset; the barrier word
CONTROL_BYTES = 40


class DecodeModelError(KernelError):
    """A transformer shape that is malformed, does not divide over the mesh, or does not fit."""


@dataclass(frozen=True)
class DecoderModel:
    layers: int
    d_model: int
    heads: int
    head_dim: int
    d_ff: int
    context: int
    vocab: int
    eps: float = 1e-5
    rope_base: float = 10000.0

    def validate(self) -> DecoderModel:
        for name in ("layers", "d_model", "heads", "head_dim", "d_ff", "context", "vocab"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise DecodeModelError(f"{name} must be a positive integer, got {v!r}")
        if self.d_model % self.heads:
            raise DecodeModelError(f"heads={self.heads} does not divide d_model={self.d_model}")
        if self.heads * self.head_dim != self.d_model:
            raise DecodeModelError(f"heads * head_dim = {self.heads} * {self.head_dim} != d_model={self.d_model}")
        if self.head_dim % 2:
            raise DecodeModelError(f"head_dim={self.head_dim} is odd: rotary embedding rotates pairs of dims")
        if not 2 <= self.vocab <= MAX_VOCAB:
            raise DecodeModelError(f"vocab={self.vocab} out of range 2..{MAX_VOCAB} (token ids are 16 bits)")
        if self.context > MAX_CONTEXT:
            raise DecodeModelError(f"context={self.context} out of range 1..{MAX_CONTEXT}")
        if not (isinstance(self.eps, float) and 0.0 < self.eps < 1.0):
            raise DecodeModelError(f"eps={self.eps!r} must be a float in (0, 1)")
        if not (isinstance(self.rope_base, float) and self.rope_base > 1.0):
            raise DecodeModelError(f"rope_base={self.rope_base!r} must be a float > 1")
        return self

    def params(self) -> int:
        """Weights (embedding included)."""
        d, f = self.d_model, self.d_ff
        return self.layers * (4 * d * d + 3 * d * f + 2 * d) + d + 2 * self.vocab * d


DEFAULT = DecoderModel(layers=2, d_model=64, heads=2, head_dim=32, d_ff=128, context=32, vocab=256)


def random_weights(model: DecoderModel, seed: int = 0) -> dict:
    """Fixed-seed f16 weights (uint16 patterns), matrices (out, in): N(0, 1/fan_in) so activations
    stay of order 1; embeddings N(0, 1); norm gains 1 + N(0, 0.1^2)."""
    model.validate()
    rng = np.random.default_rng(seed)
    d, f, v = model.d_model, model.d_ff, model.vocab

    def mat(n_out, n_in, scale=None):
        s = 1.0 / np.sqrt(n_in) if scale is None else scale
        return (rng.standard_normal((n_out, n_in)) * s).astype(np.float16).view(np.uint16)

    def gain(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float16).view(np.uint16)

    w = {"embed": mat(v, d, 1.0)}
    for lay in range(model.layers):
        p = f"l{lay}."
        w[p + "attn_norm"] = gain(d)
        for name in ("wq", "wk", "wv", "wo"):
            w[p + name] = mat(d, d)
        w[p + "mlp_norm"] = gain(d)
        w[p + "w1"] = mat(f, d)
        w[p + "w3"] = mat(f, d)
        w[p + "w2"] = mat(d, f)
    w["final_norm"] = gain(d)
    w["head"] = mat(v, d)
    return w


def check_mapping(model: DecoderModel, rows: int, cols: int) -> None:
    """The shapes must cut into equal blocks over the mesh (docs/kernels.md "Transformer decode")."""
    model.validate()
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise DecodeModelError(f"{name} must be a positive integer, got {v!r}")
    need = [("d_model", model.d_model, "cols (form-A chunks)", cols),
            ("d_model", model.d_model, "rows (form-B chunks)", rows),
            ("d_ff", model.d_ff, "rows (W1/W3 output and W2 input chunks)", rows),
            ("vocab", model.vocab, "rows (vocabulary head output chunks)", rows),
            ("context", model.context, "cols (KV cache positions per mesh column)", cols)]
    for name, v, what, m in need:
        if v % m:
            raise DecodeModelError(f"{name}={v} is not a multiple of {what}={m} on a {rows}x{cols} mesh")
    cb = model.d_model // rows
    if model.head_dim % cb:
        raise DecodeModelError(f"head_dim={model.head_dim} is not a multiple of the form-B chunk d_model/rows={cb}: "
                               "a chunk of q, k, v must lie in one head")
    if cb % 2:
        raise DecodeModelError(f"form-B chunk d_model/rows={cb} is odd: a rotary pair would straddle two PEs")


def _r8(n: int) -> int:
    return -(-n // 8) * 8


@dataclass
class FitReport:
    model: DecoderModel
    rows: int
    cols: int
    profile: str
    parts: dict = field(default_factory=dict)  # name -> bytes per PE (each a multiple of 8)
    sram_available: int = 0
    imem_words: int = 0
    imem_available: int = 0

    @property
    def sram_bytes(self) -> int:
        return sum(self.parts.values())

    @property
    def fits(self) -> bool:
        return self.sram_bytes <= self.sram_available and self.imem_words <= self.imem_available

    def summary(self) -> dict:
        return {"model": asdict(self.model), "mesh": [self.rows, self.cols], "profile": self.profile,
                "parts": dict(self.parts), "sram_bytes": self.sram_bytes, "sram_available": self.sram_available,
                "imem_words": self.imem_words, "imem_available": self.imem_available}


def _math_calls(m: DecoderModel, rows: int, cols: int) -> list:
    """(routine, elements) of every math-library call per layer and token."""
    slots = m.heads * m.context // cols
    return [("rsqrt", 1), ("exp", slots), ("rcp", m.heads), ("exp", m.d_ff // rows), ("rcp", m.d_ff // rows)]


def math_elements(m: DecoderModel, rows: int, cols: int) -> int:
    """The largest math-library call: the kernel's routines and their buffers are sized for it."""
    return max(k for _, k in _math_calls(m, rows, cols))


def _imem_words(m: DecoderModel, rows: int, cols: int) -> int:
    """The three routines once each, as subroutines (their own code plus a return), sized for their
    largest call, plus the control code."""
    words = CONTROL_WORDS
    n = math_elements(m, rows, cols)
    for name in mathlib.ROUTINES:
        lines = mathlib.emit(name, n=n, x=0, y=0, scratch=8 * (-(-4 * n // 8)))
        words += len(assemble("\n".join(lines + ["jalr r0, r10, 0"])).imem)
    return words


def check_fit(model: DecoderModel, rows: int, cols: int, profile: str = "small") -> FitReport:
    """The SRAM bytes per PE of the mapping, by part, and the instruction words; refuses (with the
    sizes) a model that does not fit. Every PE holds equal shares, so one budget covers all."""
    check_mapping(model, rows, cols)
    try:
        prof = get_profile(profile)
    except ProfileError as e:
        raise DecodeModelError(str(e)) from None
    m = model
    ca, cb = m.d_model // cols, m.d_model // rows  # form-A / form-B chunk
    fb = m.d_ff // rows  # d_ff chunk (form B)
    vb = m.vocab // rows  # vocabulary chunk (form B)
    slots = m.context // cols  # KV positions per PE
    hs = m.heads * slots  # score slots per PE (every head)
    L = m.layers
    parts = {
        # f16 weight blocks, one per PE: A->B matvecs hold (out chunk r, in chunk c), B->A (c, r)
        "w_qkv": L * _r8(3 * cb * ca * 2),
        "w_o": L * _r8(ca * cb * 2),
        "w_gate_up": L * _r8(2 * fb * ca * 2),
        "w_down": L * _r8(ca * fb * 2),
        "w_head": _r8(vb * ca * 2),
        "norm_gains": (2 * L + 1) * _r8(ca * 4),  # form-A chunk of each gain, widened to f32
        # K and V in f32: slots x the form-B chunk of dims, every layer
        "kv_cache": L * 2 * _r8(slots * cb * 4),
        "rope_tables": 2 * _r8(m.context * (cb // 2) * 4),  # cos and sin of the chunk's pairs, every position
        "mask": _r8(slots * 4),
        # the residual stream and the embedding chunk it starts from
        "residual": _r8(ca * 4) + _r8(ca * 2),
        # one buffer per intermediate (all-reduces run in place, so a partial and its sum share one):
        # h after attention, sum of squares, normed f32 and f16, q/k/v, two RoPE temporaries, scores,
        # probabilities, the math library's argument, max, sum, attention output f32 and f16, Wo/W2
        # output, gate/up, SwiGLU f32 and f16, logits
        "activations": sum(_r8(b) for b in (
            ca * 4, 4, ca * 4, ca * 2, 3 * cb * 4, cb // 2 * 4, cb // 2 * 4, hs * 4, hs * 4,
            math_elements(m, rows, cols) * 4, m.heads * 4, m.heads * 4, cb * 4, cb * 2, ca * 4, 2 * fb * 4,
            fb * 4, fb * 2, vb * 4)),
        "math_scratch": max(_r8(mathlib.scratch_bytes(n_, math_elements(m, rows, cols))) for n_ in mathlib.ROUTINES),
        "control": CONTROL_BYTES,
    }
    rep = FitReport(m, rows, cols, prof.name, parts, prof.sram_kib * 1024, _imem_words(m, rows, cols),
                    prof.imem_words - D2H_WORDS)
    if rep.sram_bytes > rep.sram_available:
        top = sorted(parts.items(), key=lambda kv: -kv[1])[:4]
        raise DecodeModelError(
            f"{_name(m)} on a {rows}x{cols} {prof.name} mesh needs {rep.sram_bytes} bytes of SRAM on every PE "
            f"(each holds an equal share), {rep.sram_available} available; largest parts: "
            + ", ".join(f"{k} {v}" for k, v in top) + ". Use a larger mesh, a larger profile or a smaller model")
    if rep.imem_words > rep.imem_available:
        raise DecodeModelError(
            f"{_name(m)} needs about {rep.imem_words} instruction words per PE, {rep.imem_available} available "
            f"in profile {prof.name} ({prof.imem_words} minus {D2H_WORDS} for the d2h read-out)")
    return rep


def _name(m: DecoderModel) -> str:
    return (f"a {m.layers}-layer model (d_model {m.d_model}, {m.heads} heads of {m.head_dim}, d_ff {m.d_ff}, "
            f"context {m.context}, vocab {m.vocab})")


# ---- cycle estimate ---------------------------------------------------------------------------
#: docs/isa.md "Throughput" (simd_f16 = 4) and docs/kernels.md "Collectives"/"Math library"
ISSUE = 4  # cycles per vector op beyond its elements (issue, pipeline fill)
FMAC_F16_EPC = 2.0  # elements per cycle, fmac(s).f32.f16
FMAC_F32_EPC = 4.0 / 3  # fmac.f32 (three full rows per lane group)
F32_EPC = 2.0  # every other f32 / i32 op
HOP = 7  # cycles per PE of an all-reduce chain or broadcast (measured fill: ~110 cycles for 2 x 7 hops)
PHASE = 30  # task start and DSR set-up around each collective phase
MATH_CPE = {"exp": 15.5, "rcp": 11.5, "rsqrt": 18.0}  # cycles per element (docs/kernels.md "Math library")


def _allreduce(n: int, p: int) -> float:
    """Reduce then broadcast along p PEs: n words each way, plus the chains' fill."""
    return 2 * n + 2 * (p - 1) * HOP + 2 * PHASE


def _math(name: str, n: int) -> float:
    return mathlib.vector_ops(name) * ISSUE + MATH_CPE[name] * n


def _matvec(n_out: int, n_in: int) -> float:
    return n_in * (ISSUE + n_out / FMAC_F16_EPC)


def estimate_cycles(model: DecoderModel, rows: int, cols: int) -> dict:
    """Cycles per token by phase (an estimate from the documented throughputs, not a measurement):
    every PE runs the same sequence, so the per-PE critical path is the token's time."""
    check_mapping(model, rows, cols)
    m = model
    ca, cb, fb, vb = m.d_model // cols, m.d_model // rows, m.d_ff // rows, m.vocab // rows
    slots, hs = m.context // cols, m.heads * m.context // cols

    def norm():
        return ca * (ISSUE + 1) + _allreduce(1, cols) + 2 * ISSUE + _math("rsqrt", 1) + 3 * (ISSUE + ca / F32_EPC)

    per_layer = {
        "rmsnorm": 2 * norm(),
        "qkv": _matvec(3 * cb, ca) + _allreduce(3 * cb, cols),
        "rope": 8 * (ISSUE + cb / F32_EPC),
        "kv_store": 2 * (ISSUE + cb / F32_EPC),
        "scores": cb * (ISSUE + slots / FMAC_F32_EPC) + _allreduce(hs, rows) + 2 * (ISSUE + hs / F32_EPC),
        "softmax": _allreduce(m.heads, cols) * 2 + _math("exp", hs) + _math("rcp", m.heads)
        + (slots + 2 * m.heads) * (ISSUE + m.heads / F32_EPC),
        "attn_v": slots * (ISSUE + cb / FMAC_F32_EPC) + _allreduce(cb, cols),
        "wo": ISSUE + _matvec(ca, cb) + _allreduce(ca, rows) + ISSUE + ca / F32_EPC,
        "gate_up": _matvec(2 * fb, ca) + _allreduce(2 * fb, cols),
        "swiglu": _math("exp", fb) + _math("rcp", fb) + 5 * (ISSUE + fb / F32_EPC),
        "down": _matvec(ca, fb) + _allreduce(ca, rows) + 2 * (ISSUE + ca / F32_EPC),
    }
    out = {k: round(v * m.layers) for k, v in per_layer.items()}
    out["input"] = round(ca + rows * HOP + PHASE)
    out["final_norm"] = round(norm())
    out["head"] = round(_matvec(vb, ca) + _allreduce(vb, cols))
    out["argmax"] = round(4 * (ISSUE + vb / F32_EPC) + 2 * _allreduce(1, rows))
    out["total"] = sum(out.values())
    return out
