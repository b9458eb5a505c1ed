"""Emit Tessera's Verilog: the router for each profile and a router-mesh fixture.

Usage:
    python -m hdl.emit [--out build/verilog] [--profile small,wse] [--mesh 4x4]

Writes ``<out>/<profile>/tessera_router.v``, ``<out>/<profile>/router_mesh_<R>x<C>/`` (the router
module once plus the mesh top that instantiates it) and ``<out>/tessera_fplane.v`` (one FMAC lane),
and prints what it wrote.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from amaranth.back import verilog

from .fpu import FPLane
from .mesh import MeshShapeError
from .profiles import PROFILES, ProfileError, get_profile
from .router_mesh import emit_router, emit_router_mesh


def parse_shape(text: str) -> tuple[int, int]:
    try:
        r, c = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise MeshShapeError(f"mesh shape {text!r} is not ROWSxCOLS, e.g. 4x4") from None
    return r, c


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hdl.emit", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="build/verilog", type=Path)
    ap.add_argument("--profile", default=",".join(PROFILES), help="comma-separated profile names")
    ap.add_argument("--mesh", default="4x4", help="router-mesh fixture shape ROWSxCOLS")
    args = ap.parse_args(argv)
    try:
        profiles = [get_profile(p) for p in args.profile.split(",")]
        rows, cols = parse_shape(args.mesh)
        for prof in profiles:
            d = args.out / prof.name
            d.mkdir(parents=True, exist_ok=True)
            (d / "tessera_router.v").write_text(emit_router(prof))
            print(f"wrote {d / 'tessera_router.v'}")
            md = d / f"router_mesh_{rows}x{cols}"
            md.mkdir(exist_ok=True)
            for name, text in emit_router_mesh(rows, cols, prof).items():
                (md / name).write_text(text)
                print(f"wrote {md / name}")
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "tessera_fplane.v").write_text(verilog.convert(FPLane(), name="tessera_fplane"))
        print(f"wrote {args.out / 'tessera_fplane.v'}")
    except (ProfileError, MeshShapeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
