"""A mesh on a wafer: its Verilog sources, and the command-line options that describe the wafer.

Role
----
A wafer (docs/wafer.md) has spare columns with defective tiles mapped out, and dies whose
boundary links carry extra register stages: ``Wafer`` (hdl/link_plan.py). Its top ``tessera_mesh``
is the one every mesh has (hdl/mesh_top.py, written from the wafer's link plan), with the same
ports as the perfect mesh's (the logical R x C edge), so every engine, loader, testbench and
kernel drives it unchanged in logical coordinates. This module gives the wafer's files and reads
a wafer from the command line (``python -m hdl.mesh``, ``make sim WAFER=...``).

Interface
---------
wafer_sources(rows, cols, profile, core, wafer) -> {file: text}   the tile, the repair cell (with
    spares), the boundary link (with die boundaries) and the top
add_wafer_arguments(argparser, seed_alias=False); wafer_from_arguments(args, rows, cols) -> Wafer | None
    the command-line options --spares K/S, --defects FILE | --defect-rate P [--defect-seed N],
    --die RxC, --boundary-stages L (hdl.mesh, demo.gemm); ValueError naming what is wrong
"""

from __future__ import annotations

from .link_plan import LinkPlan, Wafer, WaferError
from .mesh_top import mesh_top_sources
from .profiles import get_profile
from .repair import DefectMap, RepairError, SpareScheme

__all__ = ["wafer_sources", "add_wafer_arguments", "wafer_from_arguments"]


def wafer_sources(rows: int, cols: int, profile="small", core: bool = True, wafer: Wafer | None = None) -> dict:
    """The wafer mesh's Verilog: the tile, the modules its plan places (repair cell, boundary link)
    and the top."""
    return mesh_top_sources(LinkPlan(rows, cols, wafer), get_profile(profile), core)


def add_wafer_arguments(ap, seed_alias: bool = False) -> None:
    """The wafer options on ``ap``; ``seed_alias``: --seed also names the defect map's seed (for
    commands that have no other seed)."""
    wa = ap.add_argument_group("wafer (docs/wafer.md)")
    wa.add_argument("--spares", default=None, help="K/S: K spare columns per segment of S logical columns")
    wa.add_argument("--defects", default=None, help="defect map JSON: physical [row, col] pairs")
    wa.add_argument("--defect-rate", type=float, default=None, help="random defect map: probability per physical PE")
    wa.add_argument("--defect-seed", *(("--seed",) if seed_alias else ()), dest="defect_seed", type=int, default=1,
                    help="seed of the random defect map")
    wa.add_argument("--die", default=None, help="ROWSxCOLS logical PEs per die")
    wa.add_argument("--boundary-stages", type=int, default=1, help="register stages of a die-boundary link")


def wafer_from_arguments(args, rows: int, cols: int) -> Wafer | None:
    """The Wafer the options ask for, or None; ValueError (RepairError, WaferError) naming what is
    wrong, before anything is built."""
    if args.spares is None and (args.defects is not None or args.defect_rate is not None):
        raise RepairError("a defect map needs a spare scheme: --spares K/S")
    if args.defects is not None and args.defect_rate is not None:
        raise RepairError("--defects and --defect-rate: give one of them")
    die = None
    if args.die is not None:
        try:
            die = tuple(int(x) for x in args.die.lower().split("x"))
            if len(die) != 2:
                raise ValueError
        except ValueError:
            raise WaferError(f"--die {args.die!r}: expected ROWSxCOLS, e.g. 4x4") from None
    if args.spares is None and die is None:
        if args.boundary_stages != 1:
            raise WaferError("--boundary-stages needs dies: --die ROWSxCOLS")
        return None
    repair = None
    if args.spares is not None:
        scheme = SpareScheme.parse(args.spares)
        if args.defects is not None:
            dm = DefectMap.load(args.defects, rows, cols, scheme)
        elif args.defect_rate is not None:
            dm = DefectMap.random(rows, cols, scheme, args.defect_rate, args.defect_seed)
        else:
            dm = DefectMap(rows, cols, scheme)
        repair = dm.repair()
    return Wafer(repair, die, args.boundary_stages).check(rows, cols)
