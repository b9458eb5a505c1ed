"""The transformer decode on the mesh: one decode step of a decoder-only transformer per token, bit
for bit against golden/decode.py's ``DecodeGolden`` on the same R x C mesh.

Role
----
Device code (one program per PE, generated here and assembled by the SDK), the layout (colors,
routes, every PE's weights and tables as initial SRAM contents) and the host flow of the mapping in
docs/kernels.md "Transformer decode": weights are cut into R x C blocks, one per PE; activations
alternate between "form A" (chunk c on every PE of mesh column c) and "form B" (chunk r on every PE
of mesh row r); a matvec A -> B all-reduces along the rows, B -> A along the columns; the KV cache
of position t sits in mesh column t % C. The shapes, fixed-seed weights and the fit check are
sdk/kernels/decode_model.py's.

Per token the host writes the token's f16 embedding (chunk c into every PE of column c) through the
management path at the mesh edge, launches task 0 on every PE, runs the mesh until idle and reads
the logits back (form B: row r's chunk from PE (r, 0), ``Runtime.d2h``); the argmax (golden.decode's
tie rule) is taken by the host. Task 0 runs the whole step, the same sequence on every PE: a loop
over the layers, subroutines for RMSNorm, the matvec, the all-reduces and the math library
(``source`` composes the program from emitters, ``_emit_*``: the input, the phases of PHASES, the
head, the bookkeeping, the subroutines; the math routines are the ``mathlib`` library's macros,
the barrier a macro of the program). The all-reduces are pipelined chains of synchronous fabric
ops (f32 adds, or ``vmax.f32`` for the softmax maximum) from both ends of a row (column) to its
meeting PE, which broadcasts the total back, so every addition happens in golden.decode.chain_sum's
order. Every other vector op is
memory-only and issued asynchronously (memory-only ops take effect in issue order, docs/isa.md
"Ordering"); a scalar load of what they wrote waits behind a ``barrier`` (a synchronous 1-word op).

Colors (six; the seventh is left free for ``Runtime.d2h``, the eighth is the management color):
0/1 the row chains (alternating by position), 2 the row broadcast (from the meeting column), 3/4
the column chains, 5 the column broadcast (from the meeting row).

Registers of the program: r1 = 1; r2..r7 arguments and temporaries; r8 the return address of the
RMSNorm subroutine, r10 of the leaf subroutines (all-reduces, matvec, math library); r9 the current
layer's SRAM base; r11..r13 the math library's; r14 the end of the layer loop; r15 a temporary.
DSRs d0..d7 are the kernel's (re-pointed before every use), the math library takes d0..d13 (one per
buffer view, set once per call); d14/d15, task 31 and the last four instruction words stay free for
the d2h read-out.

Interface
---------
DecodeKernel(model, rows, cols, profile="small", weights=None, seed=0)
    checks the shapes and the SRAM (DecodeModelError with the sizes) before anything runs
    .layout(stop=None) -> Layout        the load: programs, routes, weights, tables; ``stop`` (one
                                        of PHASES) ends every step after that phase of the first
                                        layer (for measuring where the cycles go)
    .reset(rt, stop=None)               (re)load the mesh: an empty KV cache, position 0
    .step(rt, token, counters=False) -> (next token, logits f32 bits, RunResult)
    .read(rt, name) -> f32/f16 bits     an intermediate of the last step in golden's vector form
                                        (names: READABLE)
    .generate(rt, prompt, n_new, progress=None, counters=False) -> (tokens, [logits], [RunResult])
                                        progress(step, generated token or None, RunResult)
    .sram_map  {buffer: (address, bytes)}  .sram_bytes (= decode_model.check_fit's)  .imem_words  .pos
    .source(pe, stop=None) -> str       the PE's program (it includes the libraries of LIBRARIES)
COLORS, READABLE, PHASES, LIBRARIES
"""

from __future__ import annotations

import numpy as np

from golden import fp
from golden.decode import argmax, meeting, rope_tables
from golden.routing import ColorRoute, mask_of
from hdl.isa import VECTOR_MNEMONICS
from hdl.profiles import get_profile
from hdl.wavelet import Port

from .. import routes
from ..asm import assemble
from ..layout import Layout, SramMap
from . import mathlib
from .decode_model import DEFAULT, DecodeModelError, DecoderModel, check_fit, math_elements, random_weights

__all__ = ["DecodeKernel", "COLORS", "READABLE", "PHASES", "LIBRARIES"]

COLORS = {"KR0": 0, "KR1": 1, "BR": 2, "KC0": 3, "KC1": 4, "BC": 5}
_ONE = 0x3F800000
_NEG1 = 0xBF800000
_NEG_INF = 0xFF800000

#: the phases of a layer, in order (``layout(stop=...)``)
#: what the program includes: the math library over DSRs d0..d13 (one per view of a routine), its
#: vector ops asynchronous like the rest of the program's
LIBRARIES = mathlib.library(dsrs=tuple(f"d{i}" for i in range(14)), regs=("r11", "r12", "r13"), done=1)
PHASES = ("norm1", "qkv", "rope", "scores", "softmax", "attn", "wo", "norm2", "gate_up", "swiglu", "down")
#: intermediates of the last step that ``read`` returns (golden's trace keys, the last layer's)
READABLE = ("x16", "q", "k", "v", "scores", "probs", "attn", "h_attn", "gate", "up", "act", "h", "logits")


def _r8(n: int) -> int:
    return -(-n // 8) * 8


class _Mem(SramMap):
    """The decode's SRAM buffers, 8-byte aligned (``mem(name, nbytes)``: its address); ``end``:
    where the next one goes. Sizes are checked by ``_plan`` (against the 16-bit offsets and the
    profile's SRAM, naming the largest parts), so the map itself has no limit."""

    def __init__(self):
        super().__init__(1 << 32, "the decode's address space")

    def __call__(self, name, nbytes):
        return self.buffer(name, nbytes)

    @property
    def end(self) -> int:
        return _r8(self.top)


class _Emitter:
    """The lines of one PE's program, appended in order (``e(line)``), and the idioms the phases
    share: a DSR over memory, a call of an all-reduce or of the matvec, the ``stop`` exit."""

    def __init__(self, stop: str | None = None):
        self.lines = []
        self.stop = stop

    def __call__(self, line):
        self.lines.append(line)

    def mem(self, d, t, addr, n, stride=1, areg="r2", nreg="r3"):
        """DSR d over memory: addr an int (absolute) or ('L', off) (layer-relative)."""
        if isinstance(addr, tuple):
            self(f"addi {areg}, r9, {addr[1]}")
        else:
            self(f"li {areg}, {addr}")
        if n == 1:
            nreg = "r1"
        elif nreg is not None:
            self(f"li {nreg}, {n}")
        nreg = nreg or "r3"
        if stride == 1:
            self(f"dmem.{t} {d}, {areg}, {nreg}, r1")
        else:
            self(f"li r4, {stride}")
            self(f"dmem.{t} {d}, {areg}, {nreg}, r4")

    def call_reduce(self, which, addr, n):
        """The all-reduce ``which`` (row_sum, row_max, col_sum) of n words at addr, in place."""
        self(f"li r2, {addr}")
        self(f"li r3, {n}")
        self(f"jal r10, {which}")

    def matvec(self, w, n_out, x, n_in, out):
        """out (f32, n_out) = W x: W an int (absolute) or ('L', off) (layer-relative), x f16 of n_in."""
        if isinstance(w, tuple):
            self(f"addi r2, r9, {w[1]}")
        else:
            self(f"li r2, {w}")
        self(f"li r3, {n_out}")
        self(f"li r5, {x}")
        self(f"li r6, {x + 2 * n_in}")
        self(f"li r7, {out}")
        self("jal r10, matvec")

    def stop_at(self, phase):
        """The ``stop`` exit after ``phase``: a jump to the step's bookkeeping."""
        if self.stop == phase:
            self("j step_end")


class DecodeKernel:
    def __init__(self, model: DecoderModel = None, rows: int = 8, cols: int = 8, profile: str = "small",
                 weights: dict | None = None, seed: int = 0):
        m = model or DEFAULT
        check_fit(m, rows, cols, profile)  # shapes against the mesh, the SRAM map against the SRAM
        self.m, self.rows, self.cols = m, rows, cols
        self.prof = get_profile(profile)
        self.w = weights if weights is not None else random_weights(m, seed)
        self._check_weights()
        self.ca, self.cb = m.d_model // cols, m.d_model // rows
        self.fb, self.vb = m.d_ff // rows, m.vocab // rows
        self.S = m.context // cols
        self.nh = m.heads
        self.nmax = math_elements(m, rows, cols)  # the largest math-library call
        self._plan()
        self.pos = 0

    # ---- planning ------------------------------------------------------------------------------
    def _check_weights(self):
        g = random_weights(self.m, 0)  # names and shapes
        for k, v in g.items():
            if k not in self.w:
                raise DecodeModelError(f"weights: {k!r} missing")
            a = np.asarray(self.w[k])
            if a.shape != v.shape or a.dtype != np.uint16:
                raise DecodeModelError(f"weights: {k!r} has shape {a.shape} and dtype {a.dtype}, "
                                       f"expected {v.shape} uint16 (f16 bit patterns)")

    def _plan(self):
        m, ca, cb, fb, vb, S, nh = self.m, self.ca, self.cb, self.fb, self.vb, self.S, self.nh
        mem = _Mem()
        a = {}
        # Low addresses first: the words the program reaches as offset(r0) (16-bit signed offsets)
        # and the initial control words; then the working buffers; the large weights and tables last.
        a["ctl"] = mem("ctl", 32)  # POS, KVPOS, KVSLOT, FLAG, ROPEOFF
        a["mask"] = mem("mask", S * 4)
        self.control_end = mem.end
        a["emb"] = mem("emb", ca * 2)
        a["h"] = mem("h", ca * 4)
        a["h_attn"] = mem("h_attn", ca * 4)
        a["ss"] = mem("ss", 4)
        a["xn"] = mem("xn", ca * 4)
        a["x16"] = mem("x16", ca * 2)
        a["qkv"] = mem("qkv", 3 * cb * 4)
        a["t1"] = mem("t1", cb // 2 * 4)
        a["t2"] = mem("t2", cb // 2 * 4)
        a["scores"] = mem("scores", nh * S * 4)
        a["probs"] = mem("probs", nh * S * 4)
        a["mx"] = mem("mx", self.nmax * 4)
        a["m"] = mem("m", nh * 4)
        a["z"] = mem("z", nh * 4)
        a["attn"] = mem("attn", cb * 4)
        a["o16"] = mem("o16", cb * 2)
        a["po"] = mem("po", ca * 4)
        a["gu"] = mem("gu", 2 * fb * 4)
        a["act"] = mem("act", fb * 4)
        a["a16"] = mem("a16", fb * 2)
        a["logits"] = mem("logits", vb * 4)
        scr = max(mathlib.scratch_bytes(n, self.nmax) for n in mathlib.ROUTINES)
        a["scratch"] = mem("scratch", scr)
        a["bar"] = mem("bar", 4)
        if mem.end > 0x8000:
            raise DecodeModelError(f"the decode's working buffers take {mem.end} bytes; the program reaches them "
                                   f"with 16-bit offsets (at most 32768 bytes)")
        # per-layer block (the layer loop walks r9 over these), the head, the final gain, RoPE tables
        self.static_start = mem.end
        lay = _Mem()
        self.off = {
            "wqkv": lay("wqkv", 3 * cb * ca * 2), "wo": lay("wo", ca * cb * 2),
            "w13": lay("w13", 2 * fb * ca * 2), "w2": lay("w2", ca * fb * 2),
            "ga": lay("ga", ca * 4), "gm": lay("gm", ca * 4),
            "kc": lay("kc", S * cb * 4), "vc": lay("vc", S * cb * 4)}
        self.lstride = lay.end
        if self.lstride > 0x7FFF:
            raise DecodeModelError(f"one layer's block takes {self.lstride} bytes per PE; the layer loop steps "
                                   f"with a 16-bit immediate (at most 32767 bytes): use a larger mesh")
        self.lbase = mem("layers", self.lstride * m.layers)
        a["head"] = mem("head", vb * ca * 2)
        a["gf"] = mem("gf", ca * 4)
        a["cos"] = mem("cos", m.context * (cb // 2) * 4)
        a["sin"] = mem("sin", m.context * (cb // 2) * 4)
        self.static_end = mem.end
        self.addr = a
        self.sram_map = dict(mem.buffers)
        self.sram_bytes = mem.end
        avail = self.prof.sram_kib * 1024
        if mem.end > avail:
            top = sorted(mem.buffers.items(), key=lambda kv: -kv[1][1])[:4]
            raise DecodeModelError(
                f"the decode needs {mem.end} bytes of SRAM on every PE of the {self.rows}x{self.cols} "
                f"{self.prof.name} mesh, {avail} available; largest parts: "
                + ", ".join(f"{k} {v[1]}" for k, v in top))
        self.ctl = {k: a["ctl"] + 4 * i for i, k in enumerate(("POS", "KVPOS", "KVSLOT", "FLAG", "ROPEOFF"))}
        self.imem_words = max(len(self._image((r, c)).imem) for r in range(min(self.rows, 3))
                              for c in range(min(self.cols, 3)))
        limit = self.prof.imem_words - 4
        if self.imem_words > limit:
            raise DecodeModelError(f"the decode program takes {self.imem_words} instruction words, "
                                   f"{limit} available in profile {self.prof.name}")

    def _image(self, pe):
        return assemble(self.source(pe), self.prof.name, libraries=LIBRARIES)

    # ---- device code ---------------------------------------------------------------------------
    @staticmethod
    def _line(i, n, chain):
        """PE i of a line of n in the all-reduce (golden.decode.chain_sum's order): its role and
        chain colors. The west (north) chain runs from PE 0 to the meeting PE m, the east (south)
        chain from PE n-1 back to m, both alternating between the two chain colors by position."""
        m = meeting(n)
        if n == 1:
            return "single", None, None, None
        if i < m:
            return ("first" if i == 0 else "middle"), (chain[(i - 1) % 2] if i else None), chain[i % 2], None
        if i > m:
            return ("first" if i == n - 1 else "middle"), \
                (chain[(n - 2 - i) % 2] if i < n - 1 else None), chain[(n - 1 - i) % 2], None
        return "meet", (chain[(m - 1) % 2] if m else None), None, (chain[(n - 2 - m) % 2] if m < n - 1 else None)

    def _allreduce(self, label, line, b, op):
        """r2 = address, r3 = words: the all-reduce in place (op vadd or vmax); link r10."""
        role, kin, kout, kin_e = line
        body = {
            "single": [],
            "first": ["dmem.f32 d5, r2, r3, r1", f"dfout.f32 d6, {kout}, r3", "vmov.f32 d6, d5",
                      f"dfin.f32 d7, {b}, r3", "vmov.f32 d5, d7"],
            "middle": ["dmem.f32 d5, r2, r3, r1", f"dfin.f32 d7, {kin}, r3", f"dfout.f32 d6, {kout}, r3",
                       f"{op}.f32 d6, d7, d5", f"dfin.f32 d7, {b}, r3", "vmov.f32 d5, d7"],
            "meet": ["dmem.f32 d5, r2, r3, r1", f"dfin.f32 d7, {kin}, r3", f"{op}.f32 d5, d7, d5"]
            + ([f"dfin.f32 d7, {kin_e}, r3", f"{op}.f32 d5, d5, d7"] if kin_e is not None else [])
            + [f"dfout.f32 d6, {b}, r3", "vmov.f32 d6, d5"],
        }[role]
        return [f"{label}:"] + body + ["jalr r0, r10, 0"]

    def _chain_routes(self, axis, chain):
        """{color: {pe: ColorRoute}} of the two chain colors along every row ("row") or column."""
        n = self.cols if axis == "row" else self.rows
        plus, minus = (Port.E, Port.W) if axis == "row" else (Port.S, Port.N)
        out = {k: {} for k in chain}
        for line in range(self.rows if axis == "row" else self.cols):
            for i in range(n):
                pe = (line, i) if axis == "row" else (i, line)
                _, kin, kout, kin_e = self._line(i, n, chain)
                m = meeting(n)
                if kout is not None:
                    out[kout][pe] = ColorRoute(((mask_of(Port.RAMP), mask_of(plus if i < m else minus)),))
                if kin is not None:
                    out[kin][pe] = ColorRoute(((mask_of(minus if i <= m else plus), mask_of(Port.RAMP)),))
                if kin_e is not None:
                    out[kin_e][pe] = ColorRoute(((mask_of(plus), mask_of(Port.RAMP)),))
        return out

    def _barrier_macro(self):
        """``barrier``: waits for every memory-only op issued before it (docs/isa.md "Ordering"):
        a synchronous 1-word op on the barrier word completes after all of them."""
        return [".macro barrier", f"li r15, {self.addr['bar']}", "dmem.f32 d7, r15, r1, r1", "vmov.f32 d7, d7",
                ".endm"]

    @staticmethod
    def _asynchronous(lines):
        """Every vector op of ``lines`` (all memory-only) issued asynchronously: memory-only ops take
        effect in issue order (docs/isa.md "Ordering"), so the task runs ahead of them; a scalar load
        of what they write waits behind a ``barrier`` (the macro, which stays synchronous)."""
        out = []
        for ln in lines:
            mn = ln.split()[0] if ln.split() else ""
            out.append(f"{ln}, done=1" if mn.split(".")[0] in VECTOR_MNEMONICS else ln)
        return out

    def _math_sub(self, name):
        """The subroutine m_NAME: the math routine over r11 (at most nmax) elements of mx in place;
        link r10."""
        A = self.addr
        return [f"m_{name}:", f"{name}_f32_preset {self.nmax}, {A['mx']}, {A['mx']}, {A['scratch']}", "jalr r0, r10, 0"]

    def source(self, pe, stop: str | None = None) -> str:
        """The program of PE (r, c). ``stop``: end the step after that phase (a debugging aid)."""
        r, c = pe
        h_row = r * self.cb // self.m.head_dim  # the head this PE's form-B chunk lies in
        e = _Emitter(stop)
        self._emit_input(e)
        self._emit_position(e)
        self._emit_layers(e, h_row)
        self._emit_head(e)
        self._emit_step_end(e)
        self._emit_rmsnorm_subroutine(e)
        self._emit_matvec_subroutine(e)
        for name in mathlib.ROUTINES:
            e.lines += self._math_sub(name)
        L = ['.include "mathlib"'] + self._barrier_macro() + self._asynchronous(e.lines)
        rline = self._line(c, self.cols, (COLORS["KR0"], COLORS["KR1"]))
        cline = self._line(r, self.rows, (COLORS["KC0"], COLORS["KC1"]))
        L += self._allreduce("row_sum", rline, COLORS["BR"], "vadd")
        L += self._allreduce("row_max", rline, COLORS["BR"], "vmax")
        L += self._allreduce("col_sum", cline, COLORS["BC"], "vadd")
        return "\n".join(L) + "\n"

    def _emit_input(self, e):
        """The task table and the step's start: h = f32(the embedding chunk of this column)."""
        A, ca = self.addr, self.ca
        e(".task 0, step")
        e(".task 1, idle")
        e(".text")
        e("step:")
        e("li r1, 1")
        e.mem("d0", "f16", A["emb"], ca)
        e.mem("d1", "f32", A["h"], ca, nreg=None)
        e("vcvt.f32.f16 d1, d0")

    def _emit_position(self, e):
        """Whether this column stores the position into its KV cache this step (POS == KVPOS: FLAG,
        and that slot unmasked) and the RoPE tables' row offset of the position."""
        A, ctl = self.addr, self.ctl
        e(f"lw r5, {ctl['POS']}(r0)")
        e(f"lw r6, {ctl['KVPOS']}(r0)")
        e("li r7, 0")
        e("bne r5, r6, no_store")
        e("li r7, 1")
        e(f"lw r6, {ctl['KVSLOT']}(r0)")
        e("slli r6, r6, 2")
        e(f"sw r0, {A['mask']}(r6)")
        e("no_store:")
        e(f"sw r7, {ctl['FLAG']}(r0)")
        e(f"li r4, {self.cb * 2}")
        e("mul r4, r5, r4")
        e(f"sw r4, {ctl['ROPEOFF']}(r0)")

    def _emit_layers(self, e, h_row):
        """The layer loop (r9 walks the layers' SRAM blocks up to r14): the phases of PHASES in
        order, each followed by its ``stop`` exit."""
        A, off, ca, fb = self.addr, self.off, self.ca, self.fb
        e(f"li r9, {self.lbase}")
        e(f"li r14, {self.lbase + self.m.layers * self.lstride}")
        e("layer:")
        self._emit_rmsnorm_call(e, ("L", off["ga"]))
        e.stop_at("norm1")
        e.matvec(("L", off["wqkv"]), 3 * self.cb, A["x16"], ca, A["qkv"])
        e.call_reduce("row_sum", A["qkv"], 3 * self.cb)
        e.stop_at("qkv")
        self._emit_rope(e)
        self._emit_kv_store(e)
        e.stop_at("rope")
        self._emit_scores(e, h_row)
        e.stop_at("scores")
        self._emit_softmax(e)
        e.stop_at("softmax")
        self._emit_attention_output(e, h_row)
        e.stop_at("attn")
        self._emit_residual_matvec(e, off["wo"], A["o16"], self.cb)
        e.mem("d1", "f32", A["h_attn"], ca, nreg=None)  # h_attn = h (d0 is h)
        e("vmov.f32 d1, d0")
        e.stop_at("wo")
        self._emit_rmsnorm_call(e, ("L", off["gm"]))
        e.stop_at("norm2")
        e.matvec(("L", off["w13"]), 2 * fb, A["x16"], ca, A["gu"])
        e.call_reduce("row_sum", A["gu"], 2 * fb)
        e.stop_at("gate_up")
        self._emit_swiglu(e)
        e.stop_at("swiglu")
        self._emit_residual_matvec(e, off["w2"], A["a16"], fb)
        e.stop_at("down")
        e(f"addi r9, r9, {self.lstride}")
        e("bne r9, r14, layer")

    @staticmethod
    def _emit_rmsnorm_call(e, gain):
        """RMSNorm of h into x16 (and xn) with the f32 gain at ``gain`` (an address or ('L', layer
        offset))."""
        e(f"addi r5, r9, {gain[1]}" if isinstance(gain, tuple) else f"li r5, {gain}")
        e("jal r8, rmsnorm")

    def _emit_rope(self, e):
        """RoPE on the q and k chunks in place, the rotary pairs (e, o) of the position's row of the
        tables: e' = fmac(-(o*s), e, c), o' = fmac(o*c, e, s)."""
        A, cb = self.addr, self.cb
        e(f"lw r6, {self.ctl['ROPEOFF']}(r0)")
        for v in (A["qkv"], A["qkv"] + 4 * cb):
            e.mem("d0", "f32", v, cb // 2, stride=2)
            e.mem("d1", "f32", v + 4, cb // 2, stride=2, nreg=None)
            for tab, d in (("cos", "d2"), ("sin", "d3")):
                if A[tab] <= 0x7FFF:
                    e(f"addi r2, r6, {A[tab]}")
                else:  # beyond a 16-bit immediate (a wse-sized share)
                    e(f"li r2, {A[tab]}")
                    e("add r2, r2, r6")
                e(f"dmem.f32 {d}, r2, r3, r1")
            e.mem("d4", "f32", A["t1"], cb // 2, nreg=None)
            e.mem("d5", "f32", A["t2"], cb // 2, nreg=None)
            e("vmul.f32 d4, d1, d3")
            e(f"li r4, {_NEG1}")
            e("vmuls.f32 d4, d4, r4")
            e("fmac.f32 d4, d0, d2")
            e("vmul.f32 d5, d1, d2")
            e("fmac.f32 d5, d0, d3")
            e("vmov.f32 d0, d4")
            e("vmov.f32 d1, d5")

    def _emit_kv_store(self, e):
        """k and v into slot KVSLOT of this layer's caches, if this column holds the position (FLAG)."""
        A, cb, ctl = self.addr, self.cb, self.ctl
        e(f"lw r7, {ctl['FLAG']}(r0)")
        e("beq r7, r0, kv_skip")
        e(f"lw r6, {ctl['KVSLOT']}(r0)")
        e(f"li r4, {cb * 4}")
        e("mul r6, r6, r4")
        e("add r6, r6, r9")
        for src, dst in ((A["qkv"] + 4 * cb, self.off["kc"]), (A["qkv"] + 8 * cb, self.off["vc"])):
            e.mem("d0", "f32", src, cb)
            e(f"addi r2, r6, {dst}")
            e("dmem.f32 d1, r2, r3, r1")
            e("vmov.f32 d1, d0")
        e("kv_skip:")

    def _emit_scores(self, e, h_row):
        """Scores: this head's row of (heads x slots), +0 elsewhere, one fused fmacs per dim of the
        chunk, summed over the column; then scaled and masked."""
        A, cb, S, nh = self.addr, self.cb, self.S, self.nh
        e.mem("d0", "f32", A["scores"], nh * S)
        e("vfill.f32 d0, r0")
        e.mem("d0", "f32", A["scores"] + 4 * h_row * S, S)
        e.mem("d1", "f32", ("L", self.off["kc"]), S, stride=cb, nreg=None)
        e("barrier")
        e(f"li r5, {A['qkv']}")
        e(f"li r6, {A['qkv'] + 4 * cb}")
        e("sc_loop:")
        e("lw r4, 0(r5)")
        e("fmacs.f32 d0, d1, r4")
        e("addi r2, r2, 4")
        e("dbase d1, r2, 0")
        e("addi r5, r5, 4")
        e("bne r5, r6, sc_loop")
        e.call_reduce("col_sum", A["scores"], nh * S)
        e.mem("d0", "f32", A["scores"], nh * S)
        e(f"li r4, {fp.f32_bits(1.0 / np.sqrt(self.m.head_dim))}")
        e("vmuls.f32 d0, d0, r4")
        e.mem("d1", "f32", A["mask"], S)
        for hh in range(nh):
            e.mem("d0", "f32", A["scores"] + 4 * hh * S, S, nreg=None)
            e("vadd.f32 d0, d0, d1")

    def _emit_softmax(self, e):
        """Softmax over the slots of each head: the maximum over the slots, then over the row; exp of
        the difference; z per head added from +0 in slot order, then over the row; probs = e / z."""
        A, S, nh = self.addr, self.S, self.nh
        e.mem("d0", "f32", A["m"], nh)
        e.mem("d1", "f32", A["scores"], nh, stride=S, nreg=None)
        e("vmov.f32 d0, d1")
        e(f"li r5, {A['scores'] + 4 * S}")
        e("mx_loop:")
        e("addi r2, r2, 4")
        e("beq r2, r5, mx_done")
        e("dbase d1, r2, 0")
        e("vmax.f32 d0, d0, d1")
        e("j mx_loop")
        e("mx_done:")
        e.call_reduce("row_max", A["m"], nh)
        e.mem("d0", "f32", A["m"], nh)
        e(f"li r4, {_NEG1}")
        e("vmuls.f32 d0, d0, r4")
        e("barrier")
        for hh in range(nh):
            e(f"lw r4, {A['m'] + 4 * hh}(r0)")
            e.mem("d0", "f32", A["scores"] + 4 * hh * S, S)
            e.mem("d1", "f32", A["mx"] + 4 * hh * S, S, nreg=None)
            e("vadds.f32 d1, d0, r4")
        e(f"li r11, {nh * S}")
        e("jal r10, m_exp")
        e.mem("d0", "f32", A["z"], nh)
        e("vfill.f32 d0, r0")
        e.mem("d1", "f32", A["mx"], nh, stride=S, nreg=None)
        e(f"li r5, {A['mx'] + 4 * S}")
        e("z_loop:")
        e("vadd.f32 d0, d0, d1")
        e("addi r2, r2, 4")
        e("dbase d1, r2, 0")
        e("bne r2, r5, z_loop")
        e.mem("d0", "f32", A["mx"], nh * S)
        e.mem("d1", "f32", A["probs"], nh * S, nreg=None)
        e("vmov.f32 d1, d0")
        e.call_reduce("row_sum", A["z"], nh)
        e.mem("d0", "f32", A["z"], nh)
        e.mem("d1", "f32", A["mx"], nh, nreg=None)
        e("vmov.f32 d1, d0")
        e(f"li r11, {nh}")
        e("jal r10, m_rcp")
        e("barrier")
        for hh in range(nh):
            e(f"lw r4, {A['mx'] + 4 * hh}(r0)")
            e.mem("d0", "f32", A["probs"] + 4 * hh * S, S)
            e("vmuls.f32 d0, d0, r4")

    def _emit_attention_output(self, e, h_row):
        """The attention output chunk: fused fmacs of V[slot] * p[slot] from +0, summed over the row,
        and its f16 copy (the output projection's input)."""
        A, cb, S = self.addr, self.cb, self.S
        e.mem("d0", "f32", A["attn"], cb)
        e("vfill.f32 d0, r0")
        e.mem("d1", "f32", ("L", self.off["vc"]), cb, nreg=None)
        e(f"li r5, {A['probs'] + 4 * h_row * S}")
        e(f"li r6, {A['probs'] + 4 * (h_row + 1) * S}")
        e(f"li r7, {cb * 4}")
        e("barrier")
        e("o_loop:")
        e("lw r4, 0(r5)")
        e("fmacs.f32 d0, d1, r4")
        e("add r2, r2, r7")
        e("dbase d1, r2, 0")
        e("addi r5, r5, 4")
        e("bne r5, r6, o_loop")
        e.call_reduce("row_sum", A["attn"], cb)
        e.mem("d0", "f32", A["attn"], cb)
        e.mem("d1", "f16", A["o16"], cb, nreg=None)
        e("vcvt.f16.f32 d1, d0")

    def _emit_residual_matvec(self, e, w_off, x, n_in):
        """h += W x (the layer's block at w_off, the f16 input x of n_in), summed over the column;
        leaves d0 over h."""
        A, ca = self.addr, self.ca
        e.matvec(("L", w_off), ca, x, n_in, A["po"])
        e.call_reduce("col_sum", A["po"], ca)
        e.mem("d0", "f32", A["h"], ca)
        e.mem("d1", "f32", A["po"], ca, nreg=None)
        e("vadd.f32 d0, d0, d1")

    def _emit_swiglu(self, e):
        """act = gate * sigmoid(gate) * up (sigmoid as rcp(1 + exp(-gate))) and its f16 copy."""
        A, fb = self.addr, self.fb
        e.mem("d0", "f32", A["gu"], fb)
        e.mem("d1", "f32", A["mx"], fb, nreg=None)
        e(f"li r4, {_NEG1}")
        e("vmuls.f32 d1, d0, r4")
        e(f"li r11, {fb}")
        e("jal r10, m_exp")
        e.mem("d1", "f32", A["mx"], fb)
        e(f"li r4, {_ONE}")
        e("vadds.f32 d1, d1, r4")
        e(f"li r11, {fb}")
        e("jal r10, m_rcp")
        e.mem("d0", "f32", A["gu"], fb)
        e.mem("d1", "f32", A["mx"], fb, nreg=None)
        e.mem("d2", "f32", A["act"], fb, nreg=None)
        e("vmul.f32 d2, d0, d1")
        e.mem("d0", "f32", A["gu"] + 4 * fb, fb, nreg=None)
        e("vmul.f32 d2, d2, d0")
        e.mem("d1", "f16", A["a16"], fb, nreg=None)
        e("vcvt.f16.f32 d1, d2")

    def _emit_head(self, e):
        """The final RMSNorm and the head: this row's chunk of the logits, summed over the row."""
        A = self.addr
        self._emit_rmsnorm_call(e, A["gf"])
        e.matvec(A["head"], self.vb, A["x16"], self.ca, A["logits"])
        e.call_reduce("row_sum", A["logits"], self.vb)

    def _emit_step_end(self, e):
        """The bookkeeping (``stop`` jumps here): the next position; this column's next KV position
        and slot if it stored this one; the end of the task."""
        ctl = self.ctl
        e("step_end:")
        e(f"lw r5, {ctl['POS']}(r0)")
        e("addi r5, r5, 1")
        e(f"sw r5, {ctl['POS']}(r0)")
        e(f"lw r7, {ctl['FLAG']}(r0)")
        e("beq r7, r0, done")
        e(f"lw r6, {ctl['KVPOS']}(r0)")
        e(f"addi r6, r6, {self.cols}")
        e(f"sw r6, {ctl['KVPOS']}(r0)")
        e(f"lw r6, {ctl['KVSLOT']}(r0)")
        e("addi r6, r6, 1")
        e(f"sw r6, {ctl['KVSLOT']}(r0)")
        e("done:")
        e("idle:")
        e("end")

    def _emit_rmsnorm_subroutine(self, e):
        """RMSNorm of h with the f32 gain at r5 into x16 (and xn); link r8."""
        A, ca = self.addr, self.ca
        e("rmsnorm:")
        e.mem("d0", "f32", A["ss"], 1, nreg=None)
        e("vfill.f32 d0, r0")
        e.mem("d1", "f32", A["h"], 1, nreg=None)
        e(f"li r3, {A['h'] + 4 * ca}")
        e("rn_loop:")
        e("fmac.f32 d0, d1, d1")
        e("addi r2, r2, 4")
        e("dbase d1, r2, 0")
        e("bne r2, r3, rn_loop")
        e.call_reduce("row_sum", A["ss"], 1)
        e.mem("d0", "f32", A["ss"], 1, nreg=None)
        e.mem("d1", "f32", A["mx"], 1, nreg=None)
        e(f"li r4, {fp.f32_bits(1.0 / self.m.d_model)}")
        e("vmuls.f32 d1, d0, r4")
        e(f"li r4, {fp.f32_bits(self.m.eps)}")
        e("vadds.f32 d1, d1, r4")
        e("li r11, 1")
        e("jal r10, m_rsqrt")
        e("barrier")
        e(f"lw r4, {A['mx']}(r0)")
        e.mem("d0", "f32", A["xn"], ca)
        e.mem("d1", "f32", A["h"], ca, nreg=None)
        e("vmuls.f32 d0, d1, r4")
        e("dmem.f32 d1, r5, r3, r1")
        e("vmul.f32 d0, d0, d1")
        e.mem("d2", "f16", A["x16"], ca, nreg=None)
        e("vcvt.f16.f32 d2, d0")
        e("jalr r0, r8, 0")

    @staticmethod
    def _emit_matvec_subroutine(e):
        """out = W x: r2 = W (column-major f16, r3 outputs per column), r5..r6 = x (f16), r7 = out
        (f32); one fused fmacs per input element; link r10."""
        e("matvec:")
        e("barrier")
        e("dmem.f32 d3, r7, r3, r1")
        e("vfill.f32 d3, r0")
        e("dmem.f16 d4, r2, r3, r1")
        e("add r15, r3, r3")
        e("mv_loop:")
        e("lhu r4, 0(r5)")
        e("fmacs.f32.f16 d3, d4, r4")
        e("add r2, r2, r15")
        e("dbase d4, r2, 0")
        e("addi r5, r5, 2")
        e("bne r5, r6, mv_loop")
        e("jalr r0, r10, 0")

    # ---- data ----------------------------------------------------------------------------------
    def _static(self, pe) -> np.ndarray:
        """The PE's initial SRAM [0, static_end) as u32 words: control words and mask at the bottom,
        weight blocks, gains and tables from static_start (the working buffers between are not
        loaded)."""
        r, c = pe
        m, w, ca, cb, fb, vb, S = self.m, self.w, self.ca, self.cb, self.fb, self.vb, self.S
        buf = np.zeros(self.static_end, np.uint8)

        def put(addr, arr):
            b = np.ascontiguousarray(arr).view(np.uint8).reshape(-1)
            buf[addr:addr + b.size] = b

        rs, cs = slice(r * cb, (r + 1) * cb), slice(c * ca, (c + 1) * ca)
        fs, vs = slice(r * fb, (r + 1) * fb), slice(r * vb, (r + 1) * vb)
        cs_out = slice(c * ca, (c + 1) * ca)
        for lay in range(m.layers):
            p, base = f"l{lay}.", self.lbase + lay * self.lstride
            qkv = np.concatenate([w[p + "wq"][rs, cs], w[p + "wk"][rs, cs], w[p + "wv"][rs, cs]])
            put(base + self.off["wqkv"], qkv.T.astype(np.uint16))  # column-major: one input index per column
            put(base + self.off["wo"], w[p + "wo"][cs_out, rs].T.astype(np.uint16))
            put(base + self.off["w13"], np.concatenate([w[p + "w1"][fs, cs], w[p + "w3"][fs, cs]]).T.astype(np.uint16))
            put(base + self.off["w2"], w[p + "w2"][cs_out, fs].T.astype(np.uint16))
            put(base + self.off["ga"], fp.f16_to_f32_np(w[p + "attn_norm"][cs]).astype(np.uint32))
            put(base + self.off["gm"], fp.f16_to_f32_np(w[p + "mlp_norm"][cs]).astype(np.uint32))
        a = self.addr
        put(a["head"], w["head"][vs, cs].T.astype(np.uint16))
        put(a["gf"], fp.f16_to_f32_np(w["final_norm"][cs]).astype(np.uint32))
        cos, sin = rope_tables(m.context, m.head_dim, m.rope_base)
        i0 = (r * cb % m.head_dim) // 2
        put(a["cos"], cos[:, i0:i0 + cb // 2].astype(np.uint32))
        put(a["sin"], sin[:, i0:i0 + cb // 2].astype(np.uint32))
        put(a["mask"], np.full(S, _NEG_INF, np.uint32))
        put(self.ctl["KVPOS"], np.array([c], np.uint32))
        return buf.view(np.uint32)

    def layout(self, stop: str | None = None) -> Layout:
        """The load. ``stop`` (one of PHASES): every PE ends the step after that phase of the first
        layer (for measuring where the cycles go; the results are then incomplete)."""
        if stop is not None and stop not in PHASES:
            raise DecodeModelError(f"stop={stop!r}: phases are {', '.join(PHASES)}")
        lay = Layout(self.rows, self.cols, self.prof.name)
        col = {k: lay.color(k, v) for k, v in COLORS.items()}
        for axis, n, chain, b, bcast in (("row", self.cols, ("KR0", "KR1"), "BR", routes.row_broadcast),
                                         ("col", self.rows, ("KC0", "KC1"), "BC", routes.col_broadcast)):
            if n > 1:
                for k, rts in self._chain_routes(axis, tuple(col[x] for x in chain)).items():
                    if rts:
                        lay.route(k, routes.custom(rts, f"{axis} reduction chains"))
                lay.route(col[b], bcast(root=meeting(n)))
        a = self.addr
        syms = {"control": ("u32", self.control_end // 4, 0),
                "static": ("u32", (self.static_end - self.static_start) // 4, self.static_start)}
        sizes = {"emb": ("f16", self.ca), "h": ("f32", self.ca), "h_attn": ("f32", self.ca),
                 "x16": ("f16", self.ca), "qkv": ("f32", 3 * self.cb), "scores": ("f32", self.nh * self.S),
                 "probs": ("f32", self.nh * self.S), "attn": ("f32", self.cb), "gu": ("f32", 2 * self.fb),
                 "act": ("f32", self.fb), "logits": ("f32", self.vb)}
        for k, (t, n) in sizes.items():
            syms[k] = (t, n, a[k])
        progs = {}
        for r in range(self.rows):
            for c in range(self.cols):
                src = self.source((r, c), stop)
                if src not in progs:
                    progs[src] = lay.program(src, symbols=syms, name=f"decode-{r}-{c}", libraries=LIBRARIES)
                init = self._static((r, c))
                lay.place(progs[src], lay.region(r, c),
                          values={"control": init[:self.control_end // 4],
                                  "static": init[self.static_start // 4:]})
        return lay

    # ---- host flow -----------------------------------------------------------------------------
    def reset(self, rt, stop: str | None = None):
        rt.load(self.layout(stop))
        self.pos = 0

    def step(self, rt, token: int, counters: bool = False):
        """One decode step on the mesh: (next token, logits f32 bits, RunResult)."""
        if isinstance(token, bool) or not isinstance(token, (int, np.integer)) or not 0 <= token < self.m.vocab:
            raise DecodeModelError(f"token {token!r} out of range 0..{self.m.vocab - 1}")
        if self.pos >= self.m.context:
            raise DecodeModelError(f"position {self.pos}: the context holds {self.m.context} tokens")
        emb = np.asarray(self.w["embed"][int(token)], np.uint16)
        chunks = np.concatenate([emb[c * self.ca:(c + 1) * self.ca]
                                 for _ in range(self.rows) for c in range(self.cols)])
        lay = rt.layout
        rt.h2d("emb", chunks.view(np.float16), lay.all())
        rt.launch(0, lay.all())
        res = rt.run("idle", max_idle=200_000, counters=counters)
        self.pos += 1
        logits = self.read(rt, "logits")
        return argmax(logits), logits, res

    def read(self, rt, name: str) -> np.ndarray:
        """An intermediate of the last step as golden/decode.py's trace holds it (the last layer's)."""
        if name not in READABLE:
            raise DecodeModelError(f"unknown intermediate {name!r}; readable: {', '.join(READABLE)}")
        lay = rt.layout
        R, C, cb, S = self.rows, self.cols, self.cb, self.S

        def col0(sym, dtype="u32"):
            return rt.d2h(sym, lay.col(0), dtype=dtype)

        def row0(sym, dtype="u32"):
            return rt.d2h(sym, lay.row(0), dtype=dtype)

        if name in ("h", "h_attn"):
            return row0(name)
        if name == "x16":
            return row0(name, "u16")
        if name in ("attn", "logits"):
            return col0(name)
        if name in ("q", "k", "v"):
            qkv = col0("qkv").reshape(R, 3, cb)
            return qkv[:, "qkv".index(name), :].reshape(-1)
        if name in ("gate", "up"):
            gu = col0("gu").reshape(R, 2, self.fb)
            return gu[:, ("gate", "up").index(name), :].reshape(-1)
        if name == "act":
            return col0("act")
        if name in ("scores", "probs"):
            blk = row0(name).reshape(C, self.nh, S)  # column c, head, slot -> position slot * C + c
            return blk.transpose(1, 2, 0).reshape(self.nh, S * C)
        raise DecodeModelError(f"unknown intermediate {name!r}; readable: {', '.join(READABLE)}")

    def generate(self, rt, prompt, n_new: int, progress=None, counters: bool = False):
        """Feed the prompt one token per step, then n_new tokens of the mesh's own argmax (the mesh
        is reloaded first); (generated tokens, logits per step, RunResult per step)."""
        prompt = [int(t) for t in prompt]
        if not prompt:
            raise DecodeModelError("the prompt needs at least one token")
        if len(prompt) + n_new - 1 > self.m.context:
            raise DecodeModelError(f"{len(prompt)} prompt tokens + {n_new} new need {len(prompt) + n_new - 1} "
                                   f"positions; the context holds {self.m.context}")
        self.reset(rt)
        out, logits, runs = [], [], []
        tok = prompt[0]
        for i in range(len(prompt) + n_new - 1):
            nxt, lg, res = self.step(rt, tok, counters)
            logits.append(lg)
            runs.append(res)
            if i + 1 < len(prompt):
                tok = prompt[i + 1]
            else:
                out.append(nxt)
                tok = nxt
            if progress:
                progress(i, tok if i + 1 >= len(prompt) else None, res)
        return out, logits, runs
