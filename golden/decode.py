"""Golden models of one decoder-only transformer's autoregressive decode: the mesh's exact operation
sequence (bit for bit) and a float64 reference of the same network.

Role
----
``DecodeGolden`` is the specification of the mesh decode kernel's arithmetic (docs/kernels.md
"Transformer decode"): f16 weights, f16 inputs to every matrix-vector product, f32 accumulation,
and **the order in which the mapping adds partial sums** — every addition, fused multiply-add,
conversion and math-library call is a golden/fp.py or golden/mathlib.py operation, in the order the
mapping performs it on an R x C mesh. So its results depend on (rows, cols): the mesh shape is part
of the specification. ``DecodeReference`` is the same network in float64 (exact exp, 1/sqrt,
division, float64 sin/cos), the yardstick for the error bound. Neither imports anything of ours but
golden modules; shapes come in as any object with the attributes below (the SDK's
``sdk.kernels.decode_model.DecoderModel``), weights as a dict of f16 bit patterns.

The arithmetic, in the mapping's order (chunks: "form A" vectors are cut into ``cols`` chunks, the
chunk c held by every PE of mesh column c; "form B" vectors into ``rows`` chunks, chunk r held by
every PE of mesh row r):

* ``chain_sum(parts)``: how the P partials of a line of PEs are added (f32 adds): two chains that
  meet at PE ``m = meeting(P)`` — P // 2 when P is even and at least 4, else P - 1 (one chain) —
  ``left = (((p_0 + p_1) + ...) + p_m)`` from the west (north) and ``right = ((p_{P-1} + p_{P-2}) +
  ...) + p_{m+1}`` from the east (south), then ``left + right``. (For P <= 4 this is the plain
  chain ``((p_0 + p_1) + p_2) + ...``.)
* ``matvec(w, x, nblk)``: y = W x, W (out x in) f16, x f16, y f32. The input is cut into ``nblk``
  equal blocks (one per PE along the reduction); block b's partial starts at +0 and takes one
  ``fmac_f32_f16`` per input index, increasing; the partials are added by ``chain_sum``.
* ``rmsnorm(h, g, nblk)``: per chunk ``ss_c`` = fused ``fmac_f32`` of h_j * h_j from +0 over j
  increasing; ``SS`` = ``chain_sum`` of the chunk sums; ``t = SS * f32(1/d) + f32(eps)`` (a
  ``vmuls`` then a ``vadds``); ``r = rsqrt(t)`` (mathlib f32); ``xn_j = (h_j * r) * g_j`` (two f32
  multiplies; g the f16 gain widened exactly); the result rounded to f16 (RNE) for the next matvec.
* ``rope(v, cos, sin)``: interleaved pairs (2i, 2i+1) of every head, angle pos * base^(-2i/hd)
  from the host's f32 tables: ``e' = fmac(-(o * s), e, c)``, ``o' = fmac(o * c, e, s)``.
* attention (per layer, K and V cache in f32, zero at reset; position t in slot t // cols of mesh
  column t % cols): partial scores per form-B chunk (``fmac_f32`` over its dims from +0), +0 in
  the other heads' slots, ``chain_sum`` over the chunks; ``s = S * f32(1/sqrt(hd)) + mask``
  (mask +0 for t <= pos, -inf after); per head ``m = max_t s`` (exact, any order); ``e = exp(s -
  m)`` (mathlib); per mesh column the sum over its slots from +0 in slot order, then
  ``chain_sum`` of the column sums; ``p = e * rcp(Z)``; output chunk = per mesh column ``fmac_f32``
  of V[t] * p[t] from +0 over its slots in order, then ``chain_sum`` of the column partials.
* SwiGLU: ``a = (g * rcp(exp(-g) + 1)) * u`` (mathlib exp and rcp, f32 multiplies and add).
* residual adds in f32; the vocabulary head is a matvec; ``argmax``: the greatest logit in the
  order -inf < ... < -0 < +0 < ... < +inf, ties to the **smallest index**; a NaN logit (only the
  canonical NaN can arise) counts as greater than everything, so the first NaN wins.

Interface
---------
F32_NAN                                            the canonical f32 NaN pattern
meeting(P) -> int, chain_sum([f32 bits arrays])    the order of a line's reduction (above)
matvec(w16, x16, nblk) -> f32 bits                 the blocked order above
rmsnorm(h, g16, nblk, d, eps) -> (xn f32 bits, x16 f16 bits)
rope_tables(context, head_dim, base) -> (cos, sin) f32 bits, shape (context, head_dim // 2)
rope(v, cos_row, sin_row, head_dim) -> f32 bits
argmax(logits f32 bits) -> int                     the tie rule above
DecodeGolden(shape, weights, rows, cols)           .reset()  .step(token) -> (next token, logits f32
                                                   bits, trace dict of intermediates)  .pos
DecodeReference(shape, weights)                    .reset()  .step(token) -> (next token, logits f64)
generate(model, prompt, n_new) -> (tokens, [logits])   prompt tokens fed one per step, then the
                                                   model's own argmax, n_new of them
logit_bound(logits_ref) -> float                   the stated bound on |logits - reference|

Shape attributes read: layers, d_model, heads, head_dim, d_ff, context, vocab, eps, rope_base.
Weights (uint16 f16 patterns): "embed" (vocab, d), per layer l "l{l}.attn_norm" (d), "l{l}.wq",
"l{l}.wk", "l{l}.wv", "l{l}.wo" (d, d), "l{l}.mlp_norm" (d), "l{l}.w1" (gate), "l{l}.w3" (up)
(d_ff, d), "l{l}.w2" (d, d_ff); "final_norm" (d); "head" (vocab, d). Matrices are (out, in).
"""

from __future__ import annotations

import numpy as np

from . import fp
from . import mathlib as ml
from .matmul import fmac_f32_f16_vec

__all__ = ["F32_NAN", "meeting", "chain_sum", "matvec", "rmsnorm", "rope_tables", "rope", "argmax", "DecodeGolden",
           "DecodeReference", "generate", "logit_bound", "LOGIT_BOUND_ABS", "LOGIT_BOUND_REL"]

F32_NAN = 0x7FC00000
_NEG_INF = np.uint32(0xFF800000)
_ONE = np.uint32(0x3F800000)

#: |logit - float64 reference| <= LOGIT_BOUND_ABS + LOGIT_BOUND_REL * max |reference logit| (docs/kernels.md
#: "Transformer decode", "Error bound"): the f16 rounding of every matvec input (relative 2**-11) dominates
LOGIT_BOUND_ABS = 2.0 ** -8
LOGIT_BOUND_REL = 2.0 ** -8


def _u32(x):
    return np.asarray(x, dtype=np.uint32)


def _f32_const(v: float) -> np.uint32:
    return np.uint32(fp.f32_bits(v))


def _mul(a, b):
    return fp.mul_f32_np(_u32(a), _u32(b))


def _fmac(acc, a, b):
    return fp.fmac_f32_np(_u32(acc), _u32(a), _u32(b))


def _neg(a):
    # vmuls by -1.0: exact, NaN -> canonical NaN
    return fp.mul_f32_np(_u32(a), np.uint32(0xBF800000))


def meeting(p: int) -> int:
    """The PE where a line's two reduction chains meet (module docstring)."""
    return p // 2 if p % 2 == 0 and p >= 4 else p - 1


def chain_sum(parts):
    """The partials of a line of PEs added in the order of its two meeting chains."""
    parts = [_u32(x) for x in parts]
    m = meeting(len(parts))
    left = parts[0]
    for x in parts[1:m + 1]:
        left = fp.add_f32_np(left, x)
    if m == len(parts) - 1:
        return left
    right = parts[-1]
    for x in parts[-2:m:-1]:
        right = fp.add_f32_np(right, x)
    return fp.add_f32_np(left, right)


def matvec(w16, x16, nblk: int):
    """y = W x in the mapping's order (module docstring); w16 (out, in) and x16 (in,) f16 bits."""
    w16 = np.asarray(w16, dtype=np.uint16)
    x16 = np.asarray(x16, dtype=np.uint16)
    n_out, n_in = w16.shape
    if x16.shape != (n_in,) or n_in % nblk:
        raise ValueError(f"matvec: W {w16.shape}, x {x16.shape}, {nblk} blocks")
    kb = n_in // nblk
    parts = []
    for b in range(nblk):
        part = np.zeros(n_out, dtype=np.uint32)
        for k in range(b * kb, (b + 1) * kb):
            part = fmac_f32_f16_vec(part, w16[:, k], x16[k])
        parts.append(part)
    return chain_sum(parts)


def rmsnorm(h, g16, nblk: int, d: int, eps: float):
    """(xn f32, xn rounded to f16) of the f32 vector h with gain g16, chunk sums by chain_sum."""
    h = _u32(h)
    cb = h.size // nblk
    parts = []
    for c in range(nblk):
        part = np.zeros(1, dtype=np.uint32)
        for j in range(c * cb, (c + 1) * cb):
            part = _fmac(part, h[j:j + 1], h[j:j + 1])
        parts.append(part)
    ss = chain_sum(parts)
    t = fp.add_f32_np(_mul(ss, _f32_const(1.0 / d)), _f32_const(eps))
    r = ml.run("rsqrt", t)
    xn = _mul(_mul(h, r[0]), fp.f16_to_f32_np(np.asarray(g16, dtype=np.uint16)))
    return xn, fp.f32_to_f16_np(xn)


def rope_tables(context: int, head_dim: int, base: float):
    """The host's f32 tables: cos and sin of pos * base**(-2i / head_dim), computed in float64 and
    rounded to f32 (RNE), shape (context, head_dim // 2)."""
    i = np.arange(head_dim // 2, dtype=np.float64)
    ang = np.arange(context, dtype=np.float64)[:, None] * base ** (-2.0 * i / head_dim)[None, :]
    return (np.cos(ang).astype(np.float32).view(np.uint32), np.sin(ang).astype(np.float32).view(np.uint32))


def rope(v, cos_row, sin_row, head_dim: int):
    """Rotate the interleaved pairs of every head of v (f32 bits) by the table row of one position."""
    v = _u32(v).reshape(-1, head_dim // 2, 2)
    e, o = v[:, :, 0], v[:, :, 1]
    c, s = _u32(cos_row)[None, :], _u32(sin_row)[None, :]
    e2 = _fmac(_neg(_mul(o, s)), e, c)
    o2 = _fmac(_mul(o, c), e, s)
    return np.stack([e2, o2], axis=-1).reshape(-1)


def _order_key(bits):
    """Total order of f32 patterns: -inf < ... < -0 < +0 < ... < +inf, NaN above everything."""
    b = _u32(bits).astype(np.int64)
    mag = b & 0x7FFFFFFF
    key = np.where(b >> 31 != 0, -mag - 1, mag)
    return np.where(mag > 0x7F800000, np.int64(1) << 40, key)


def argmax(logits) -> int:
    """The index of the greatest logit (total order above), ties to the smallest index."""
    return int(np.argmax(_order_key(logits)))  # np.argmax returns the first maximal index


def _max_over(vals, axis):
    """f32 maximum along an axis; max_f32 is exact, commutative and associative (with -0 < +0 and
    the canonical NaN), so any order gives these bits."""
    vals = np.moveaxis(_u32(vals), axis, 0)
    m = vals[0]
    for v in vals[1:]:
        m = fp.max_f32_np(m, v)
    return m


class _Model:
    def __init__(self, shape, weights):
        self.s = shape
        self.w = {k: np.asarray(v) for k, v in weights.items()}
        self.reset()

    def reset(self):
        raise NotImplementedError

    def _check_token(self, token):
        if not 0 <= int(token) < self.s.vocab:
            raise ValueError(f"token {token} out of range 0..{self.s.vocab - 1}")
        if self.pos >= self.s.context:
            raise ValueError(f"position {self.pos}: the context holds {self.s.context} tokens")


class DecodeGolden(_Model):
    """The mesh's decode, bit for bit, on a rows x cols mesh (module docstring)."""

    def __init__(self, shape, weights, rows: int, cols: int):
        self.rows, self.cols = rows, cols
        s = shape
        if s.d_model % rows or s.d_model % cols or s.d_ff % rows or s.vocab % rows or s.context % cols:
            raise ValueError(f"shape {s} does not divide over a {rows}x{cols} mesh")
        if s.head_dim % (s.d_model // rows):
            raise ValueError("a form-B chunk must lie in one head")
        super().__init__(shape, weights)
        self.cos, self.sin = rope_tables(s.context, s.head_dim, s.rope_base)
        self.scale = _f32_const(1.0 / np.sqrt(s.head_dim))

    def reset(self):
        s = self.s
        self.pos = 0
        self.kc = [np.zeros((s.context, s.d_model), np.uint32) for _ in range(s.layers)]
        self.vc = [np.zeros((s.context, s.d_model), np.uint32) for _ in range(s.layers)]

    def _attention(self, layer, q, k, v):
        s, rows, cols = self.s, self.rows, self.cols
        hd, nh, t_all = s.head_dim, s.heads, s.context
        self.kc[layer][self.pos] = k
        self.vc[layer][self.pos] = v
        kc, vc = self.kc[layer], self.vc[layer]
        cb = s.d_model // rows  # form-B chunk: the dims of mesh row r
        # partial scores of each chunk over its dims (fused f32), +0 in the other heads' slots,
        # then added over the chunks by chain_sum (a column all-reduce)
        parts = []
        for r in range(rows):
            part = np.zeros((nh, t_all), np.uint32)
            h = r * cb // hd
            acc = np.zeros(t_all, np.uint32)
            for j in range(r * cb, (r + 1) * cb):
                acc = _fmac(acc, kc[:, j], q[j])
            part[h] = acc
            parts.append(part)
        scores = chain_sum(parts)
        mask = np.where(np.arange(t_all) <= self.pos, np.uint32(0), _NEG_INF)
        sc = fp.add_f32_np(_mul(scores, self.scale), mask[None, :])
        m = _max_over(sc, axis=1)  # (heads,)
        e = ml.run("exp", fp.add_f32_np(sc, _neg(m)[:, None]).reshape(-1)).reshape(nh, t_all)
        # position t sits in slot t // cols of mesh column t % cols
        zs = []
        for c in range(cols):
            zc = np.zeros(nh, np.uint32)
            for t in range(c, t_all, cols):
                zc = fp.add_f32_np(zc, e[:, t])
            zs.append(zc)
        z = chain_sum(zs)
        p = _mul(e, ml.run("rcp", z)[:, None])
        head_of_dim = np.arange(s.d_model) // hd
        os_ = []
        for c in range(cols):
            oc = np.zeros(s.d_model, np.uint32)
            for t in range(c, t_all, cols):
                oc = _fmac(oc, vc[t], p[head_of_dim, t])
            os_.append(oc)
        o = chain_sum(os_)
        return o, {"scores": sc, "probs": p}

    def step(self, token: int):
        """Feed one token at the current position; (next token, logits f32 bits, intermediates)."""
        self._check_token(token)
        s, w, rows, cols = self.s, self.w, self.rows, self.cols
        d = s.d_model
        h = fp.f16_to_f32_np(w["embed"][int(token)])
        trace = {"embed": h}
        for lay in range(s.layers):
            p = f"l{lay}."
            xn, x16 = rmsnorm(h, w[p + "attn_norm"], cols, d, s.eps)
            qkv = matvec(np.concatenate([w[p + "wq"], w[p + "wk"], w[p + "wv"]]), x16, cols)
            q, k, v = qkv[:d], qkv[d:2 * d], qkv[2 * d:]
            q = rope(q, self.cos[self.pos], self.sin[self.pos], s.head_dim)
            k = rope(k, self.cos[self.pos], self.sin[self.pos], s.head_dim)
            o, att = self._attention(lay, q, k, v)
            h = fp.add_f32_np(h, matvec(w[p + "wo"], fp.f32_to_f16_np(o), rows))
            trace.update({p + "xn": xn, p + "x16": x16, p + "q": q, p + "k": k, p + "v": v, p + "attn": o,
                          p + "scores": att["scores"], p + "probs": att["probs"], p + "h_attn": h})
            xn, x16 = rmsnorm(h, w[p + "mlp_norm"], cols, d, s.eps)
            gu = matvec(np.concatenate([w[p + "w1"], w[p + "w3"]]), x16, cols)
            g, u = gu[:s.d_ff], gu[s.d_ff:]
            sig = ml.run("rcp", fp.add_f32_np(ml.run("exp", _neg(g)), _ONE))
            a = _mul(_mul(g, sig), u)
            h = fp.add_f32_np(h, matvec(w[p + "w2"], fp.f32_to_f16_np(a), rows))
            trace.update({p + "mlp_x16": x16, p + "gate": g, p + "up": u, p + "act": a, p + "h": h})
        xn, x16 = rmsnorm(h, w["final_norm"], cols, d, s.eps)
        logits = matvec(w["head"], x16, cols)
        trace.update({"final_x16": x16, "logits": logits})
        self.pos += 1
        return argmax(logits), logits, trace


class DecodeReference(_Model):
    """The same network in float64: f16 weights widened exactly, no rounding of activations, exact
    exp, 1/sqrt and division, float64 sin/cos; argmax ties to the smallest index."""

    def reset(self):
        s = self.s
        self.pos = 0
        self.kc = np.zeros((s.layers, s.context, s.d_model))
        self.vc = np.zeros((s.layers, s.context, s.d_model))

    def _f(self, name):
        return self.w[name].astype(np.uint16).view(np.float16).astype(np.float64)

    def _norm(self, h, name):
        return h / np.sqrt(np.mean(h * h) + self.s.eps) * self._f(name)

    def _rope(self, v):
        s = self.s
        i = np.arange(s.head_dim // 2, dtype=np.float64)
        ang = self.pos * s.rope_base ** (-2.0 * i / s.head_dim)
        c, sn = np.cos(ang), np.sin(ang)
        v = v.reshape(-1, s.head_dim // 2, 2)
        e, o = v[:, :, 0], v[:, :, 1]
        return np.stack([e * c - o * sn, e * sn + o * c], axis=-1).reshape(-1)

    def step(self, token: int):
        self._check_token(token)
        s = self.s
        d, hd, nh, t = s.d_model, s.head_dim, s.heads, self.pos + 1
        h = self._f("embed")[int(token)]
        for lay in range(s.layers):
            p = f"l{lay}."
            x = self._norm(h, p + "attn_norm")
            q, k, v = self._f(p + "wq") @ x, self._f(p + "wk") @ x, self._f(p + "wv") @ x
            q, k = self._rope(q), self._rope(k)
            self.kc[lay, self.pos], self.vc[lay, self.pos] = k, v
            kk = self.kc[lay, :t].reshape(t, nh, hd)
            vv = self.vc[lay, :t].reshape(t, nh, hd)
            sc = np.einsum("hj,thj->ht", q.reshape(nh, hd), kk) / np.sqrt(hd)
            e = np.exp(sc - sc.max(axis=1, keepdims=True))
            pr = e / e.sum(axis=1, keepdims=True)
            o = np.einsum("ht,thj->hj", pr, vv).reshape(d)
            h = h + self._f(p + "wo") @ o
            x = self._norm(h, p + "mlp_norm")
            g, u = self._f(p + "w1") @ x, self._f(p + "w3") @ x
            h = h + self._f(p + "w2") @ (g / (1.0 + np.exp(-g)) * u)
        logits = self._f("head") @ self._norm(h, "final_norm")
        self.pos += 1
        return int(np.argmax(logits)), logits


def generate(model, prompt, n_new: int):
    """Feed the prompt one token per step, then n_new tokens of the model's own argmax; returns
    (the n_new generated tokens, the logits of every step). The model is reset first."""
    prompt = [int(t) for t in prompt]
    if not prompt:
        raise ValueError("the prompt needs at least one token")
    model.reset()
    out, logits = [], []
    tok = prompt[0]
    for i in range(len(prompt) + n_new - 1):
        nxt, lg = model.step(tok)[:2]
        logits.append(lg)
        if i + 1 < len(prompt):
            tok = prompt[i + 1]
        else:
            out.append(nxt)
            tok = nxt
    return out, logits


def logit_bound(logits_ref) -> float:
    """The stated bound on |mesh logit - float64 logit| for one step (see LOGIT_BOUND_ABS)."""
    return LOGIT_BOUND_ABS + LOGIT_BOUND_REL * float(np.max(np.abs(logits_ref)))
