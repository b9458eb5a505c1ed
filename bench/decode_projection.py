"""Projection of the mesh decode to a large model on a large mesh (docs/kernels.md "Projection: an
8B model on the wafer"): SRAM fit and tokens/s, from the cycles measured on a small mesh and
explicitly stated scaling rules. Pure arithmetic: it runs nothing.

Mapping projected: the decode kernel's own (sdk/kernels/decode_model.py), one transformer layer per
rectangular **region** of the mesh (regions on a grid, disjoint, so layers can be pipelined), the
vocabulary head on ``head_regions`` adjacent regions of one grid row; the embedding stays on the
host (one row per token, as in the kernel). Inside a region the kernel's blocking holds: form-A
chunks of d_model over the region's columns, form-B chunks over its rows, row and column
all-reduces along the region's lines.

Scaling rule (every phase p of a layer, and the tail: final RMSNorm, head, bookkeeping)::

    projected[p] = measured[p] + work_cost(p, target region) - work_cost(p, measured mesh)

i.e. the measured cycles keep every fixed latency of the small run (op issue, barriers, calls,
chain start-up) and the extra work is priced at throughput rates: a matvec n_in x (ISSUE + n_out /
lanes); an f32 fmac chain ops x ISSUE + elements / FMAC_F32_EPC; an all-reduce of n words on a line
of P PEs 2 n word cycles + hops(P) x hop cycles (two chains meeting mid-line, then the broadcast:
P hops for P > 4, else 2 (P - 1)); a math routine n x its cycles per element; element-wise work
elements / F32_EPC. Cycles per token (one sequence) = layers x (layer + hand-off to the next region)
+ tail + the measured host I/O. Pipelined, one sequence per stage, as many sequences as the KV cache
space allows.

Interface
---------
TargetShape(layers, d_model, heads, kv_heads, head_dim, d_ff, vocab, context)   frozen dataclass
LLAMA_3_1_8B                          32 layers, d_model 4096, 32 heads (8 KV heads), d_ff 14336,
                                      vocab 128256, context 8192
RECORDED_PHASES_8X8                   the 8 x 8 ``small`` --phases run of docs/kernels.md (cumulative
                                      cycles of the first layer), read from the recorded report
                                      bench/recorded/decode_small_8x8_phases.json, for a decode JSON
                                      without phases
project(measured, shape=LLAMA_3_1_8B, rows=750, cols=994, profile="wse", freq_hz=850e6,
        split_math=False, allow_unfit=False) -> dict
    ``measured``: the dict bench/decode.py writes. Every assumption is a key of result["assumptions"];
    DecodeModelError (with the sizes) if a layer region's share does not fit a PE's SRAM
work(shape, rows, cols, split_math=False) -> {phase: Work}   the per-PE work of each phase
work_cost(Work, hop_cycles) -> float
hops(p) -> int                        hops of an all-reduce on a line of p PEs
PHASE_ORDER, HOP_CYCLES, WORD_CYCLES, PUBLIC_CS3_LLAMA_8B_TOKENS_PER_S   the constants of the rules
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hdl.profiles import ProfileError, get_profile
from sdk.kernels import mathlib
from sdk.kernels.decode_model import F32_EPC, FMAC_F16_EPC, FMAC_F32_EPC, ISSUE, MATH_CPE, DecodeModelError

__all__ = ["TargetShape", "LLAMA_3_1_8B", "RECORDED_PHASES_8X8", "PHASE_ORDER", "Work", "work", "work_cost",
           "project", "hops", "HOP_CYCLES", "WORD_CYCLES", "PUBLIC_CS3_LLAMA_8B_TOKENS_PER_S"]

#: the phases of one layer, in order (sdk/kernels/decode.py PHASES) and the rest of the token
PHASE_ORDER = ("norm1", "qkv", "rope", "scores", "softmax", "attn", "wo", "norm2", "gate_up", "swiglu", "down")
#: the recorded report of `python -m bench.decode --preset small --phases` on 8 x 8 ``small``
#: (bench/recorded/decode_small_8x8_phases.json): its shape, and the cumulative cycles of the first
#: step up to the end of each phase of the first layer
RECORDED_REPORT = Path(__file__).resolve().parent / "recorded" / "decode_small_8x8_phases.json"
_RECORDED = json.loads(RECORDED_REPORT.read_text())
RECORDED_PHASES_8X8 = _RECORDED["phase_cycles_first_layer"]
_RECORDED_SHAPE = {k: _RECORDED[k] for k in ("layers", "d_model", "heads", "head_dim", "d_ff", "context", "vocab",
                                             "mesh")}
#: cycles per hop of an all-reduce, measured: shortening the 22 all-reduces per token from 7 + 7 to
#: 4 + 4 hops took the 8 x 8 step from 10,027 to 9,793 cycles (docs/kernels.md)
HOP_CYCLES = (10027 - 9793) / (22 * 6)
#: cycles per word of an all-reduce chain (one 32-bit wavelet per cycle per link), each way
WORD_CYCLES = 1.0
#: tokens/s of Llama 3.1 8B on one CS-3 (public figure, one request's output speed)
PUBLIC_CS3_LLAMA_8B_TOKENS_PER_S = 1800
#: bytes per weight element (f16) and per K or V cache element (f32, as the kernel keeps them)
_W_BYTES, _KV_EL_BYTES = 2, 4


@dataclass(frozen=True)
class TargetShape:
    layers: int
    d_model: int
    heads: int
    kv_heads: int
    head_dim: int
    d_ff: int
    vocab: int
    context: int

    def validate(self) -> TargetShape:
        for k, v in asdict(self).items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise DecodeModelError(f"{k} must be a positive integer, got {v!r}")
        if self.heads * self.head_dim != self.d_model:
            raise DecodeModelError(f"heads * head_dim = {self.heads} * {self.head_dim} != d_model={self.d_model}")
        if self.heads % self.kv_heads:
            raise DecodeModelError(f"kv_heads={self.kv_heads} does not divide heads={self.heads}")
        return self

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def layer_weights(self) -> int:
        """Weight elements of one layer: Wq, Wk, Wv, Wo, W1, W3, W2 and the two norm gains."""
        d = self.d_model
        return 2 * d * d + 2 * d * self.kv_dim + 3 * d * self.d_ff + 2 * d

    def head_weights(self) -> int:
        return self.vocab * self.d_model + self.d_model  # the head and the final norm gain

    def params(self) -> int:
        """Every weight, the embedding table included."""
        return self.layers * self.layer_weights() + self.head_weights() + self.vocab * self.d_model


LLAMA_3_1_8B = TargetShape(layers=32, d_model=4096, heads=32, kv_heads=8, head_dim=128, d_ff=14336, vocab=128256,
                           context=8192)


def hops(p: int) -> int:
    """Hops of an all-reduce on a line of p PEs: two chains meeting mid-line, then the broadcast
    (p / 2 + p / 2) for p > 4; one chain and its broadcast back (2 (p - 1)) otherwise."""
    return p if p > 4 else 2 * (p - 1)


@dataclass
class Work:
    """Per-PE work of a phase: matvecs (n_in, n_out) f16 weights, f32 fmac chains (ops, elements),
    all-reduces (words, line PEs), math calls (routine, elements), element-wise f32 elements."""
    matvec: list = field(default_factory=list)
    fmac32: list = field(default_factory=list)
    allreduce: list = field(default_factory=list)
    math: list = field(default_factory=list)
    elt: float = 0


def work_cost(w: Work, hop_cycles: float = HOP_CYCLES) -> float:
    """The throughput cost of a phase's work (module docstring)."""
    c = sum(n_in * (ISSUE + n_out / FMAC_F16_EPC) for n_in, n_out in w.matvec)
    c += sum(ops * ISSUE + el / FMAC_F32_EPC for ops, el in w.fmac32)
    c += sum(2 * n * WORD_CYCLES + hops(p) * hop_cycles for n, p in w.allreduce)
    c += sum(MATH_CPE[name] * n for name, n in w.math)
    return c + w.elt / F32_EPC


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _math(name, n, line, split_math):
    """A math call of n elements replicated on a line of PEs; split: each PE takes its share and a
    gather (an all-reduce of disjoint pieces) restores the vector."""
    if split_math and line > 1:
        return [(name, _cdiv(n, line))], [(n, line)]
    return [(name, n)], []


def work(s: TargetShape, rows: int, cols: int, split_math: bool = False) -> dict:
    """Per-PE work of every phase of a layer and of the tail (final RMSNorm and head) on a rows x
    cols block of PEs, in the kernel's mapping (chunks rounded up)."""
    ca, cb = _cdiv(s.d_model, cols), _cdiv(s.d_model, rows)
    kvb, fb, vb = _cdiv(s.kv_dim, rows), _cdiv(s.d_ff, rows), _cdiv(s.vocab, rows)
    slots = _cdiv(s.context, cols)
    hs = s.heads * slots

    def norm():
        return Work(allreduce=[(1, cols)], math=[("rsqrt", 1)], elt=4 * ca)

    exp_s, gather_s = _math("exp", hs, rows, split_math)
    sw_m1, sw_g1 = _math("exp", fb, cols, split_math)
    sw_m2, sw_g2 = _math("rcp", fb, cols, split_math)
    out = {
        "norm1": norm(),
        "qkv": Work(matvec=[(ca, cb + 2 * kvb)], allreduce=[(cb + 2 * kvb, cols)]),
        "rope": Work(elt=4 * cb + 4 * kvb + 2 * kvb),
        "scores": Work(fmac32=[(cb, cb * slots)], allreduce=[(hs, rows)], elt=2 * hs),
        "softmax": Work(allreduce=[(s.heads, cols), (s.heads, cols)] + gather_s, math=exp_s + [("rcp", s.heads)],
                        elt=3 * hs),
        "attn": Work(fmac32=[(slots, slots * cb)], allreduce=[(cb, cols)]),
        "wo": Work(matvec=[(cb, ca)], allreduce=[(ca, rows)], elt=ca),
        "norm2": norm(),
        "gate_up": Work(matvec=[(ca, 2 * fb)], allreduce=[(2 * fb, cols)]),
        "swiglu": Work(math=sw_m1 + sw_m2, allreduce=sw_g1 + sw_g2, elt=5 * fb),
        "down": Work(matvec=[(fb, ca)], allreduce=[(ca, rows)], elt=2 * ca),
    }
    t = norm()
    t.matvec.append((ca, vb))
    t.allreduce.append((vb, cols))
    out["tail"] = t
    return out


def _regions(rows: int, cols: int, n: int, head_regions: int):
    """The grid (g_r, g_c) of at least n equal regions with the most PEs per region (then the
    squarest), the head's regions side by side in one grid row."""
    best = None
    for gr in range(1, n + 1):
        gc = _cdiv(n, gr)
        rr, rc = rows // gr, cols // gc
        if rr < 1 or rc < 1 or gc < head_regions:
            continue
        key = (rr * rc, -abs(rr - rc))
        if best is None or key > best[0]:
            best = (key, gr, gc, rr, rc)
    if best is None:
        raise DecodeModelError(f"a {rows}x{cols} mesh cannot hold {n} regions ({head_regions} for the head side by "
                               "side)")
    return best[1:]


def _measured(measured: dict):
    """(shape, mesh, cumulative phase cycles, cycles per token, host I/O, source) of a decode JSON."""
    need = ("layers", "d_model", "heads", "head_dim", "d_ff", "context", "vocab", "mesh", "cycles_per_token")
    miss = [k for k in need if k not in measured]
    if miss:
        raise DecodeModelError(f"the decode report lacks {', '.join(miss)}")
    shape = TargetShape(measured["layers"], measured["d_model"], measured["heads"], measured["heads"],
                        measured["head_dim"], measured["d_ff"], measured["vocab"], measured["context"]).validate()
    rows, cols = (int(x) for x in measured["mesh"])
    phases = measured.get("phase_cycles_first_layer")
    source = "this report's phase_cycles_first_layer"
    if not phases:
        if any(measured.get(k) != v for k, v in _RECORDED_SHAPE.items()):
            raise DecodeModelError("the decode report has no phase_cycles_first_layer (run python -m bench.decode "
                                   "--phases) and is not the recorded 8x8 default configuration")
        phases, source = RECORDED_PHASES_8X8, "RECORDED_PHASES_8X8 (the 8x8 --phases run of docs/kernels.md)"
    if list(phases) != list(PHASE_ORDER):
        raise DecodeModelError(f"phase_cycles_first_layer has phases {list(phases)}, expected {list(PHASE_ORDER)}")
    io = measured.get("host_io_cycles_per_token") or 0.0
    return shape, rows, cols, dict(phases), float(measured["cycles_per_token"]), float(io), source


def _measured_phases(cum: dict, cycles_per_token: float, layers: int):
    """The measured cycles of each phase of a layer (from the cumulative ones) and of the tail (the
    rest of the token after the layers), and of the whole first layer."""
    m_phase, prev = {}, 0
    for p in PHASE_ORDER:
        m_phase[p] = cum[p] - prev
        prev = cum[p]
    m_layer = cum[PHASE_ORDER[-1]]
    m_phase["tail"] = cycles_per_token - layers * m_layer
    return m_phase, m_layer


def _layer_region_sram(s: TargetShape, rr: int, rc: int, split_math: bool) -> dict:
    """Bytes per PE of a layer region of rr x rc PEs, by part (one sequence's KV cache)."""
    ca, cb, fb = _cdiv(s.d_model, rc), _cdiv(s.d_model, rr), _cdiv(s.d_ff, rr)
    kvb, slots = _cdiv(s.kv_dim, rr), _cdiv(s.context, rc)
    hs = s.heads * slots
    largest_math = max(hs if not split_math else _cdiv(hs, rr), fb if not split_math else _cdiv(fb, rc))
    return {
        # the kernel's blocks (chunks rounded up): Wq/Wk/Wv, Wo, W1/W3, W2; the two gains in f32
        "weights": (ca * (cb + 2 * kvb) + cb * ca + 2 * ca * fb + fb * ca) * _W_BYTES,
        "norm_gains": 2 * ca * 4,
        "kv_cache": 2 * slots * kvb * _KV_EL_BYTES,  # K and V of one sequence, one layer, per PE
        "rope_row": cb // 2 * 2 * 4 + 8,  # this position's cos and sin of the chunk's pairs, streamed per token
        "mask": slots * 4,
        # the kernel's buffers; scores, probabilities and the math argument: heads x slots each, or
        # with split_math the scores (probabilities in place after the gather) and two shares
        "activations": 4 * (6 * ca + 3 * (cb + 2 * kvb) + 2 * cb + 4 * fb + 8 + 2 * s.heads
                            + (hs + 2 * _cdiv(hs, rr) if split_math else 3 * hs)),
        "math_scratch": max(mathlib.scratch_bytes(n, largest_math) for n in mathlib.ROUTINES),
        "control": 40,
    }


def _head_region_sram(s: TargetShape, rr: int, rc: int, head_regions: int) -> int:
    """Bytes per PE of the head's regions: the head block (f16), the final gain (f32), the
    residual, normed input and logits buffers."""
    ca_h, vb = _cdiv(s.d_model, rc * head_regions), _cdiv(s.vocab, rr)
    return ca_h * vb * _W_BYTES + ca_h * 4 + 4 * (2 * ca_h + vb)


def _projected_cycles(s: TargetShape, rr: int, rc: int, head_regions: int, split_math: bool,
                      m_shape: TargetShape, m_rows: int, m_cols: int, m_phase: dict):
    """({phase: cycles} of a layer, the tail's cycles, the hand-off's cycles) on the target regions:
    measured + the extra work at throughput rates."""
    w_m = work(m_shape, m_rows, m_cols)
    w_t = work(s, rr, rc, split_math)
    w_head = work(s, rr, rc * head_regions, split_math)["tail"]
    stages = {}
    for p in PHASE_ORDER:
        stages[p] = m_phase[p] + work_cost(w_t[p]) - work_cost(w_m[p])
    tail = m_phase["tail"] + work_cost(w_head) - work_cost(w_m["tail"])
    # hand-off: the residual (form A) crosses to the next region: each column's chunk travels a
    # region's height, in parallel
    handoff = max(rr, rc) * HOP_CYCLES + _cdiv(s.d_model, rc) * WORD_CYCLES + 2 * ISSUE
    return stages, tail, handoff


def _assumptions(*, source: str, m_shape: TargetShape, m_mesh: list, m_cpt: float, m_layer: float, m_tail: float,
                 io: float, split_math: bool, freq_hz: float) -> dict:
    """Every assumption of a projection, named (result["assumptions"])."""
    return {
        "measured_source": source,
        "measured_shape": asdict(m_shape) | {"mesh": m_mesh},
        "measured_cycles_per_token": m_cpt,
        "measured_layer_cycles": m_layer,
        "measured_layer_includes": "the token's input (the first phase is input + RMSNorm)",
        "measured_tail_cycles": m_tail,
        "measured_host_io_cycles_per_token": io,
        "scaling_rule": "projected phase = measured phase + work_cost(target region) - work_cost(measured mesh)",
        "issue_cycles_per_op": ISSUE,
        "matvec_f16_elements_per_cycle": FMAC_F16_EPC,
        "fmac_f32_elements_per_cycle": FMAC_F32_EPC,
        "elementwise_f32_elements_per_cycle": F32_EPC,
        "math_cycles_per_element": dict(MATH_CPE),
        "hop_cycles": HOP_CYCLES,
        "allreduce_word_cycles_each_way": WORD_CYCLES,
        "allreduce_hops": "line of P PEs: P for P > 4 (two chains meeting mid-line, then the broadcast), "
                          "else 2 (P - 1)",
        "mapping": "the kernel's blocking (form A over a region's columns, form B over its rows) inside one region "
                   "per layer; the head on head_regions adjacent regions of a grid row; embedding on the host",
        "attention": "grouped-query: K and V of kv_heads heads stored (f32); scores and softmax over every q head "
                     "and every slot of the full context (the kernel masks unused slots, it does not skip them)",
        "split_math": split_math,
        "weight_bytes_per_element": _W_BYTES,
        "kv_bytes_per_element": _KV_EL_BYTES,
        "rope_tables": "streamed: the host sends the position's cos/sin row with the embedding (the kernel holds "
                       "every position's; at this context they would not fit)",
        "chunks_rounded_up": True,
        "handoff_rule": "max(region rows, cols) x hop_cycles + d_model/region cols words + 2 ops per layer",
        "pipelining": "layers on disjoint regions: one sequence per stage in flight, limited by the KV cache space",
        "clock_hz": freq_hz,
        "instruction_memory": "the kernel's code (663 words on 8x8) fits the profile's instruction memory",
    }


def project(measured: dict, shape: TargetShape = LLAMA_3_1_8B, rows: int = 750, cols: int = 994,
            profile: str = "wse", freq_hz: float = 850e6, split_math: bool = False,
            allow_unfit: bool = False) -> dict:
    """Weights, KV cache, SRAM fit and cycles and tokens/s per token of ``shape`` on a rows x cols mesh
    of ``profile``, from the measured run ``measured`` (module docstring for the rules)."""
    shape.validate()
    try:
        prof = get_profile(profile)
    except ProfileError as e:
        raise DecodeModelError(str(e)) from None
    m_shape, m_rows, m_cols, cum, m_cpt, io, source = _measured(measured)
    m_phase, m_layer = _measured_phases(cum, m_cpt, m_shape.layers)

    # regions: one per layer, the head on enough regions to hold about as many weights per PE
    head_regions = _cdiv(shape.head_weights(), shape.layer_weights())
    n_regions = shape.layers + head_regions
    gr, gc, rr, rc = _regions(rows, cols, n_regions, head_regions)
    pes = rr * rc

    # SRAM per PE of a layer region (the largest share: the head region's is computed too)
    per_pe = _layer_region_sram(shape, rr, rc, split_math)
    sram_pe = prof.sram_kib * 1024
    used_pe = sum(per_pe.values())
    head_pe_bytes = _head_region_sram(shape, rr, rc, head_regions)
    fits = used_pe <= sram_pe and head_pe_bytes <= sram_pe
    if not fits and not allow_unfit:
        top = sorted(per_pe.items(), key=lambda kv: -kv[1])[:3]
        raise DecodeModelError(
            f"{shape.layers} layers of {shape.layer_weights():,} weights on {n_regions} regions of {rr}x{rc} PEs "
            f"({rows}x{cols} {prof.name}): a layer region needs {used_pe:,} bytes per PE, the head region "
            f"{head_pe_bytes:,}; {sram_pe:,} available; largest parts: " + ", ".join(f"{k} {v:,}" for k, v in top))
    kv_seq_pe = per_pe["kv_cache"]
    kv_sequences = max(0, (sram_pe - used_pe + kv_seq_pe) // kv_seq_pe) if kv_seq_pe else 0

    stages, tail, handoff = _projected_cycles(shape, rr, rc, head_regions, split_math, m_shape, m_rows, m_cols,
                                              m_phase)
    layer = sum(stages.values())
    cpt = shape.layers * (layer + handoff) + tail + io
    tps = freq_hz / cpt
    stage_max = max(layer + handoff, tail)
    in_flight = min(n_regions - head_regions + 1, kv_sequences)
    aggregate = min(in_flight * tps, freq_hz / stage_max) if in_flight else 0.0

    weight_bytes = (shape.layers * shape.layer_weights() + shape.head_weights()) * _W_BYTES
    kv_bytes = shape.layers * 2 * shape.context * shape.kv_dim * _KV_EL_BYTES
    total_macs = shape.layers * (shape.layer_weights() - 2 * shape.d_model + 2 * shape.heads * shape.head_dim
                                 * shape.context) + shape.vocab * shape.d_model
    return {
        "model": asdict(shape), "params": shape.params(), "mesh": [rows, cols], "profile": prof.name,
        "weight_bytes": weight_bytes, "embedding_bytes_on_host": shape.vocab * shape.d_model * _W_BYTES,
        "kv_cache_bytes": kv_bytes, "sram_bytes_mesh": rows * cols * sram_pe, "sram_bytes_per_pe": sram_pe,
        "fits": fits, "regions": {"grid": [gr, gc], "region_pes": [rr, rc], "pes_per_layer": pes,
                                  "head_regions": head_regions, "pes_used": n_regions * pes},
        "sram_per_pe_layer_region": per_pe, "sram_used_per_pe_layer_region": used_pe,
        "sram_used_per_pe_head_region": head_pe_bytes,
        "sequences_in_flight_kv_limit": kv_sequences,
        "cycles_per_layer_by_phase": {k: round(v, 1) for k, v in stages.items()},
        "cycles_per_layer": round(layer, 1), "handoff_cycles": round(handoff, 1), "tail_cycles": round(tail, 1),
        "cycles_per_token": round(cpt, 1), "tokens_per_second": round(tps, 1),
        "tokens_per_second_pipelined_aggregate": round(aggregate, 1), "sequences_in_flight": in_flight,
        "mac_utilization": round(total_macs / (rows * cols * (prof.simd_f16 // 2) * cpt), 6),
        "public_cs3_tokens_per_second": PUBLIC_CS3_LLAMA_8B_TOKENS_PER_S,
        "ratio_to_public": round(tps / PUBLIC_CS3_LLAMA_8B_TOKENS_PER_S, 4),
        "assumptions": _assumptions(source=source, m_shape=m_shape, m_mesh=[m_rows, m_cols], m_cpt=m_cpt,
                                    m_layer=m_layer, m_tail=m_phase["tail"], io=io, split_math=split_math,
                                    freq_hz=freq_hz),
    }
