"""Scoreboard for the fabric: compares what the monitors saw with the golden routing model.

Checks, per fabric exit: the multiset of wavelets (nothing lost, nothing duplicated, nothing
extra), and, per (source, color), the order. The source of an observed wavelet is recovered from
the golden model's deliveries, so stimulus must give every wavelet a distinct (color, payload,
ctrl) per exit — the tests tag payloads with source and sequence numbers.

Also checks each router's drop counter against the golden model's drop count.

Interface:
    compare_fabric(golden_result, observed, status=None) -> summary dict; raises ScoreboardError
        observed: {(pe, port): [(color, payload, ctrl), ...]} in arrival order
        status:   {pe: (drops, errors)} from the hardware
"""

from __future__ import annotations

from collections import Counter, defaultdict

__all__ = ["ScoreboardError", "compare_fabric"]


class ScoreboardError(AssertionError):
    pass


def _fmt(items, limit=8):
    items = list(items)
    s = ", ".join(f"(color {c}, {p:#010x}, ctrl {k})" for c, p, k in items[:limit])
    return s + (f" ... {len(items) - limit} more" if len(items) > limit else "")


def compare_fabric(golden, observed: dict, status: dict | None = None, observable=None) -> dict:
    """``observable(exit) -> bool`` limits the comparison to exits the testbench watches (a tile
    mesh's RAMP exits lead into PE cores, not to monitors)."""
    problems = []
    exits = set(golden.outputs) | {k for k, v in observed.items() if v}
    if observable is not None:
        exits = {e for e in exits if observable(e)}
    checked = 0
    for ex in sorted(exits, key=lambda e: (e[0], int(e[1]))):
        want = golden.outputs.get(ex, [])
        got = observed.get(ex, [])
        wc = Counter((d.color, d.payload, d.ctrl) for d in want)
        gc = Counter(got)
        if wc != gc:
            missing = wc - gc
            extra = gc - wc
            msg = f"exit PE {ex[0]} {ex[1].name}: {sum(missing.values())} missing, {sum(extra.values())} extra"
            if missing:
                msg += f"; missing {_fmt(missing.elements())}"
            if extra:
                msg += f"; extra {_fmt(extra.elements())}"
            problems.append(msg)
            continue
        source_of = {}
        per_flow = defaultdict(list)
        for d in want:
            key = (d.color, d.payload, d.ctrl)
            if key in source_of and source_of[key] != d.source:
                raise ScoreboardError(f"stimulus gives {key} from two sources at {ex}: tag payloads uniquely")
            source_of[key] = d.source
            per_flow[(d.source, d.color)].append(key)
        seen = defaultdict(list)
        for w in got:
            seen[(source_of[w], w[0])].append(w)
        for flow, order in per_flow.items():
            if seen[flow] != order:
                first = next((i for i, (a, b) in enumerate(zip(seen[flow], order, strict=False)) if a != b),
                             min(len(seen[flow]), len(order)))
                problems.append(f"exit PE {ex[0]} {ex[1].name}: flow from {flow[0]} color {flow[1]} out of "
                                f"order at position {first}: got {_fmt([seen[flow][first]])}, "
                                f"expected {_fmt([order[first]])}")
        checked += len(got)
    if status is not None:
        for pe, (drops, _errors) in status.items():
            if drops != golden.drops.get(pe, 0):
                problems.append(f"PE {pe}: drop counter {drops}, golden model expects {golden.drops.get(pe, 0)}")
    if golden.stuck:
        problems.append(f"golden model left {len(golden.stuck)} wavelets waiting for a switch: {golden.stuck[:4]}")
    if problems:
        raise ScoreboardError(f"{len(problems)} scoreboard mismatches:\n  " + "\n  ".join(problems[:20]))
    return {"wavelets_checked": checked, "exits": len(exits)}
