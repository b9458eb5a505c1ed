"""Transformer decode on the Verilator mesh: tokens per second and per joule, bit-exact against golden.

The kernel is sdk/kernels/decode.py, the golden model golden/decode.py (docs/kernels.md "Transformer
decode").

Runs the decode of a fixed-seed random model (default: 2 layers, d_model 64, 2 heads, d_ff 128,
context 32, vocab 256 on an 8 x 8 ``small`` mesh) over a prompt and N generated tokens, one line of
progress per step, with every tile's activity counters read over each step and priced by the energy
model (sdk/energy.py). Every step's logits are compared bit for bit with ``DecodeGolden`` on the same
mesh shape, and the generated tokens with golden's. A model that does not fit the mesh is refused
with the sizes before anything is built (exit code 2).

Figures (printed and written as JSON): layers, d_model, heads, context, vocab, mesh, profile,
tokens_generated, cycles_per_token (mean over every decode step, prompt steps included: launch to
idle on the mesh), tokens_per_second_at_850mhz, joules_per_token, tokens_per_joule, bit_exact,
tokens_match_golden, mac_utilization (useful MACs / (PEs x fmac lanes x cycles) over the decode),
energy_breakdown (joules per token by component); also the tokens, host_io_cycles_per_token (the
embedding's management write, the launch and the logits' read-out), the per-step cycles and the
estimate of decode_model.estimate_cycles. ``--phases`` adds where the cycles go: the mesh is run
once per phase with every PE stopping after that phase of the first layer (cumulative cycles).

``projection_8b_wse`` (printed and in the JSON): tokens/s of a Llama-3.1-8B-shaped model on a
750 x 994 ``wse`` mesh projected from this run's measured cycles (bench/decode_projection.py;
docs/kernels.md "Projection: an 8B model on the wafer"), with ``projection_8b_wse_as_built`` (the
kernel's mapping unchanged, at the longest context it fits). ``--project-only FILE`` computes both
from an existing decode JSON without simulating (prints them; writes FILE plus them to ``--json`` if
given).

Usage:
    python -m bench.decode [--preset small|wse] [--json build/bench/decode.json] [--mesh 8x8] [--profile small]
                           [--layers 2] [--d-model 64] [--heads 2] [--d-ff 128] [--context 32]
                           [--vocab 256] [--prompt 1,2,3,4] [--tokens 8] [--seed 0] [--phases]
                           [--energy FILE]
    python -m bench.decode --project-only build/bench/decode.json [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import dims
from bench.decode_projection import LLAMA_3_1_8B, project
from golden.decode import DecodeGolden, generate
from hdl.profiles import get_profile
from sdk.builds.paths import BUILD
from sdk.energy import EnergyModel
from sdk.kernels.decode import PHASES, DecodeKernel
from sdk.kernels.decode_model import DEFAULT, DecodeModelError, DecoderModel, estimate_cycles
from sdk.records import SdkError
from sdk.runtime import Runtime

FREQ = 850e6


def useful_macs(m: DecoderModel, pos: int) -> int:
    """Multiply-adds of one decode step at position pos: the matvecs and the attention over pos + 1
    positions (scores and the weighted sum of V)."""
    d, f = m.d_model, m.d_ff
    return m.layers * (4 * d * d + 3 * d * f + 2 * d * (pos + 1)) + m.vocab * d


def phases(k: DecodeKernel, rt, token: int) -> dict:
    """Cumulative cycles of the first step up to the end of each phase of the first layer."""
    out = {}
    for ph in PHASES:
        k.reset(rt, stop=ph)
        _, _, res = k.step(rt, token)
        out[ph] = res.cycles
        print(f"[decode]   up to {ph:8s} {res.cycles:7d} cycles", flush=True)
    return out


def projections(report: dict) -> dict:
    """The 8B-on-wafer projections of a decode report: the mapping with the softmax and SwiGLU math
    split over each line (context 8192), and the kernel's mapping as built at the longest power-of-two
    context that fits. A projection that cannot be made gives {"error": ...}."""
    out = {}
    try:
        out["projection_8b_wse"] = project(report, LLAMA_3_1_8B, split_math=True)
    except DecodeModelError as e:
        out["projection_8b_wse"] = {"error": str(e)}
    ctx, built, err = LLAMA_3_1_8B.context, None, None
    while ctx >= 64 and built is None:
        try:
            built = project(report, dataclasses.replace(LLAMA_3_1_8B, context=ctx), split_math=False)
        except DecodeModelError as e:
            ctx, err = ctx // 2, e
    out["projection_8b_wse_as_built"] = built or {"error": f"no context >= 64 fits or projects: {err}"}
    return out


def print_projections(pr: dict) -> None:
    for key, p in pr.items():
        if "error" in p:
            print(f"{key}: {p['error']}")
            continue
        m, r = p["model"], p["regions"]
        print(f"{key}: {p['params'] / 1e9:.2f}B params ({m['layers']} layers, d_model {m['d_model']}, "
              f"{m['heads']} heads / {m['kv_heads']} KV, d_ff {m['d_ff']}, vocab {m['vocab']}, context "
              f"{m['context']}) on {p['mesh'][0]}x{p['mesh'][1]} {p['profile']}")
        print(f"  weights {p['weight_bytes'] / 1e9:.2f} GB + KV cache {p['kv_cache_bytes'] / 1e9:.2f} GB of "
              f"{p['sram_bytes_mesh'] / 1e9:.2f} GB SRAM; {r['grid'][0]}x{r['grid'][1]} regions of "
              f"{r['region_pes'][0]}x{r['region_pes'][1]} PEs, one per layer, head on {r['head_regions']}; "
              f"{p['sram_used_per_pe_layer_region']:,} of {p['sram_bytes_per_pe']:,} bytes per PE")
        print(f"  {p['cycles_per_layer']:,.0f} cycles per layer, {p['cycles_per_token']:,.0f} per token: "
              f"{p['tokens_per_second']:,.0f} tokens/s at {p['assumptions']['clock_hz'] / 1e6:.0f} MHz "
              f"({p['ratio_to_public']:.2f} x the public {p['public_cs3_tokens_per_second']:,}); pipelined "
              f"{p['sequences_in_flight']} sequences: {p['tokens_per_second_pipelined_aggregate']:,.0f} tokens/s")


def project_only(path: Path, out_path) -> int:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        print(f"error: {path}: {e}", file=sys.stderr)
        return 2
    pr = projections(report)
    print_projections(pr)
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(report | pr, indent=2))
        print(f"wrote {out_path}")
    return 0 if "error" not in pr["projection_8b_wse"] else 2


#: named configurations (flags given beside --preset override its values): the 8 x 8 ``small`` mesh
#: with the issue's minimum model, and the 8 x 8 ``wse`` mesh with the largest model of this shape
#: family its 48 KiB per PE holds (47,360 bytes): four heads of 64, d_ff 1.5 x d_model
PRESETS = {
    "small": {"mesh": "8x8", "profile": "small",
              **{k: getattr(DEFAULT, k) for k in ("layers", "d_model", "heads", "d_ff", "context", "vocab")}},
    "wse": {"mesh": "8x8", "profile": "wse", "layers": 2, "d_model": 256, "heads": 4, "d_ff": 384,
            "context": 32, "vocab": 256},
}


def main(argv=None) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset", choices=sorted(PRESETS), default="small")
    preset = pre.parse_known_args(argv)[0].preset
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="small",
                    help="named mesh, profile and model (default small); other flags override it")
    ap.add_argument("--json", type=Path, default=None, help="report path (default build/bench/decode.json)")
    ap.add_argument("--mesh", default="8x8")
    ap.add_argument("--profile", default="small")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--d-ff", type=int, default=128)
    ap.add_argument("--context", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--prompt", default="1,2,3,4", help="prompt token ids, comma-separated")
    ap.add_argument("--tokens", type=int, default=8, help="tokens to generate")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    ap.add_argument("--phases", action="store_true", help="also measure the cycles up to each phase")
    ap.add_argument("--energy", default=None, help="JSON file overriding the energy table")
    ap.add_argument("--project-only", type=Path, default=None, metavar="FILE",
                    help="only the 8B-on-wafer projection, from an existing decode JSON (no simulation)")
    ap.set_defaults(**PRESETS[preset])
    args = ap.parse_args(argv)
    if args.project_only is not None:
        return project_only(args.project_only, args.json)
    if args.json is None:
        args.json = BUILD / "bench" / ("decode.json" if preset == "small" else f"decode_{preset}.json")
    rows, cols = dims(args.mesh, 2, "mesh")
    try:
        prompt = [int(t) for t in args.prompt.split(",") if t.strip()]
        hd = args.d_model // args.heads if args.heads > 0 else 0
        model = DecoderModel(args.layers, args.d_model, args.heads, hd, args.d_ff, args.context, args.vocab)
        kernel = DecodeKernel(model, rows, cols, args.profile, seed=args.seed)
        if args.tokens < 1 or any(not 0 <= t < model.vocab for t in prompt) or not prompt:
            raise SdkError(f"--tokens {args.tokens} must be >= 1 and the prompt {prompt} non-empty token ids "
                           f"below {model.vocab}")
        if len(prompt) + args.tokens - 1 > model.context:
            raise SdkError(f"{len(prompt)} prompt tokens + {args.tokens} new need {len(prompt) + args.tokens - 1} "
                           f"positions; the context holds {model.context}")
        energy = EnergyModel.load(args.energy)
    except (SdkError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    prof = get_profile(args.profile)
    print(f"[decode] {model.layers} layers, d_model {model.d_model}, {model.heads} heads, d_ff {model.d_ff}, "
          f"context {model.context}, vocab {model.vocab} on {rows}x{cols} {prof.name}: program "
          f"{kernel.imem_words} words, {kernel.sram_bytes} bytes of SRAM per PE; "
          f"prompt {prompt}, {args.tokens} new tokens (Verilator build on first use)", flush=True)
    t0 = time.monotonic()
    steps = []
    io = []

    with Runtime(kernel.layout(), engine="native", threads=1, run_name="bench-decode") as rt:
        def progress(i, tok, res):
            total = rt.cycles + rt.load_cycles
            if steps:  # the first step's delta holds the load of the layout
                io.append(total - mark[0] - res.cycles)
            mark[0] = total
            rep = energy.report(res.activity, profile=prof.name, useful_macs=useful_macs(model, i))
            steps.append({"pos": i, "token": tok, "cycles": res.cycles, "joules": rep.joules,
                          "breakdown": rep.breakdown, "macs": useful_macs(model, i)})
            what = f"generated {tok}" if tok is not None else "prompt"
            print(f"[decode] position {i:3d}: {res.cycles:6d} cycles, {rep.joules * 1e9:8.2f} nJ ({what}) "
                  f"[{time.monotonic() - t0:.0f} s]", flush=True)

        mark = [0]
        tokens, logits, _ = kernel.generate(rt, prompt, args.tokens, progress=progress, counters=True)
        phase_cycles = phases(kernel, rt, prompt[0]) if args.phases else None

    gold_tokens, gold_logits = generate(DecodeGolden(model, kernel.w, rows, cols), prompt, args.tokens)
    bit_exact = all(np.array_equal(a, b) for a, b in zip(logits, gold_logits, strict=True))
    n = len(steps)
    cycles = sum(s["cycles"] for s in steps)
    cpt = cycles / n
    jpt = sum(s["joules"] for s in steps) / n
    lanes = prof.simd_f16 // 2
    breakdown = {k: sum(s["breakdown"][k] for s in steps) / n for k in steps[0]["breakdown"]}
    est = estimate_cycles(model, rows, cols)
    out = {
        "layers": model.layers, "d_model": model.d_model, "heads": model.heads, "context": model.context,
        "vocab": model.vocab, "mesh": [rows, cols], "profile": prof.name, "preset": preset,
        "tokens_generated": len(tokens), "cycles_per_token": round(cpt, 1),
        "tokens_per_second_at_850mhz": round(FREQ / cpt, 1),
        "joules_per_token": jpt, "tokens_per_joule": 1.0 / jpt,
        "bit_exact": bool(bit_exact), "tokens_match_golden": tokens == gold_tokens,
        "mac_utilization": round(sum(s["macs"] for s in steps) / (rows * cols * lanes * cycles), 4),
        "energy_breakdown": breakdown,
        "tokens": tokens, "golden_tokens": gold_tokens, "prompt": prompt, "seed": args.seed,
        "d_ff": model.d_ff, "head_dim": model.head_dim,
        "host_io_cycles_per_token": round(sum(io) / len(io), 1) if io else None,
        "step_cycles": [s["cycles"] for s in steps], "estimated_cycles_per_token": est["total"],
        "imem_words": kernel.imem_words, "sram_bytes_per_pe": kernel.sram_bytes,
        "phase_cycles_first_layer": phase_cycles,
    }
    # the projection scales the measured phases of the 8 x 8 default configuration: other runs only
    # with their own --phases
    project_it = phase_cycles is not None or preset == "small"
    if project_it:
        out |= projections(out)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    print()
    print(f"tokens           {tokens} (golden {gold_tokens}: {'match' if out['tokens_match_golden'] else 'DIFFER'})")
    print(f"bit-exact        {'yes' if bit_exact else 'NO'} (every step's logits against DecodeGolden)")
    print(f"cycles per token {cpt:,.0f} (estimate {est['total']:,}); host I/O {out['host_io_cycles_per_token']:,.0f} "
          "more per token")
    print(f"tokens/s         {FREQ / cpt:,.0f} at 850 MHz")
    print(f"energy           {jpt * 1e9:,.1f} nJ per token, {1 / jpt:,.0f} tokens per joule")
    print(f"MAC utilisation  {100 * out['mac_utilization']:.2f} %")
    print("energy per token " + ", ".join(f"{k} {v * 1e9:.2f} nJ" for k, v in breakdown.items()))
    if project_it:
        print_projections({k: out[k] for k in ("projection_8b_wse", "projection_8b_wse_as_built")})
    else:
        print("projection_8b_wse: made from the phases of a --phases run (make decode)")
    print(f"wrote {args.json} ({time.monotonic() - t0:.0f} s)")
    return 0 if bit_exact and out["tokens_match_golden"] else 1


if __name__ == "__main__":
    sys.exit(main())
