"""The mesh top ``tessera_mesh`` written from a link plan: the one generator of every mesh's top.

Role
----
A mesh is R x C logical tiles (hdl/tile.py, the module ``tessera_tile`` emitted once) on R x CP
physical positions; its link plan (hdl/link_plan.py) says which tile stands where and what lies
on each link. This module writes the top as Verilog text with ``generate`` loops, so a perfect
mesh's top does not grow with the mesh (a 750 x 994 one is written as fast as a 2 x 2 one); a
wafer adds its straps as constants, one per position. Physical position (r, p) is
``g_row[r].g_col[p]``; row 0 is the north edge, column 0 the west edge. The ports are the
plan's: only the logical edge is I/O, so every engine, loader and testbench drives any mesh the
same way in logical coordinates.

What a wafer adds (docs/wafer.md):
    spares (``plan.cells``)   every position holds a repair cell (``tessera_repair``,
                  hdl/repair_cell.py) and, unless fused, a tile (``g_tile.tile``); the cells'
                  straps are constants of the top, the wafer's fuses burnt from its defect map
                  before anything is loaded. A fused position has no tile instance (cut off, powered
                  down); its cell passes the row's east-west links through one bypass stage each
                  way. The north and south edge links of logical column c enter at the physical
                  column of logical (0, c) and (R - 1, c), the west and east ones at physical
                  columns 0 and CP - 1.
    dies (``plan.boundaries``)   a slot between two dies is a ``tessera_boundary``
                  (hdl/boundary.py) of ``stages`` stages each way instead of wires; its overflow
                  (never expected) raises the receiving row's ``row_err``.
Without either, the tiles' ports are wired straight to their neighbours' and to the edge. Each
tile's ``col`` input is its logical column, which is how management messages address it.

Row status: ``row_err`` and ``row_halted`` are the OR and ``row_idle`` the AND over the row's
positions; the fault chain (hdl/fault.py) runs west to east through the row's positions, 0 at
the west edge, and its east end is the row's ``row_fault`` word.

The top is written in sections, each by its own function: the module head and constants, the
slot wires, the edge, the slots between tiles, the positions.

Interface
---------
mesh_top_verilog(plan, colors, tile_module="tessera_tile") -> str   the top (module tessera_mesh)
mesh_top_sources(plan, profile="small", core=True) -> {filename: text}   the tile, every other
    module the top instantiates (repair cell, boundary link) and the top
tile_instance(plan) -> str      the hierarchical name of a tile's instance (mesh.json)
"""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

from amaranth.back import verilog

from .boundary import BOUNDARY_MODULE, BoundaryLink
from .fault import FAULT_BITS
from .link_plan import LinkPlan
from .mesh_common import MESH_TOP, tile_verilog
from .mgmt import COL_BITS
from .profiles import get_profile
from .repair_cell import REPAIR_MODULE, RepairCell
from .tile import TILE_MODULE
from .wavelet import WAVELET_BITS

__all__ = ["mesh_top_verilog", "mesh_top_sources", "tile_instance"]

#: the link slot each tile port (and the repair cell's port on the same link) uses: the direction
#: of travel, the slot end (s sender, r receiver) and the slot's index
_SLOT = {"in_w": ("e", "r", "HW"), "out_e": ("e", "s", "HE"), "in_e": ("w", "r", "HE"), "out_w": ("w", "s", "HW"),
         "in_n": ("s", "r", "VN"), "out_s": ("s", "s", "VS"), "in_s": ("n", "r", "VS"), "out_n": ("n", "s", "VN")}
_TILE_PORTS = ("in_w", "out_e", "in_e", "out_w", "in_n", "out_s", "in_s", "out_n")


def tile_instance(plan: LinkPlan) -> str:
    """Where tile (r, c) is in the top's hierarchy."""
    if plan.cells:
        return "g_row[r].g_col[p].g_tile.tile (p the physical column)"
    return "g_row[r].g_col[c].tile"


def mesh_top_verilog(plan: LinkPlan, colors: int, tile_module: str = TILE_MODULE) -> str:
    """The top of the mesh ``plan`` describes, its tiles ``tile_module`` with ``colors`` colors."""
    n = _names(plan)
    return "".join([
        _head(plan, colors, tile_module), _constants(plan, colors), _slot_wires(plan, n),
        "\n  genvar r, c;\n  generate\n",
        _edge_we(plan, n), _edge_ns_cells(plan, n) if plan.cells else _edge_ns(plan, n),
        _slots_between(n) if plan.boundaries else "",
        _positions_cells(plan, n, tile_module) if plan.cells else _positions(n, tile_module),
        "  endgenerate\nendmodule\n",
    ])


def mesh_top_sources(plan: LinkPlan, profile="small", core: bool = True) -> dict:
    """The files of the mesh: the tile (``core=False``: router and loader only), the repair cell and
    the boundary link where the plan places them, and the top."""
    prof = get_profile(profile)
    out = {"tessera_tile.v": tile_verilog(prof, core)}
    if plan.cells:
        out["tessera_repair.v"] = verilog.convert(RepairCell(prof.colors, plan.reach), name=REPAIR_MODULE)
    if plan.boundaries:
        out["tessera_boundary.v"] = verilog.convert(BoundaryLink(prof.colors, plan.stages), name=BOUNDARY_MODULE)
    out["tessera_mesh.v"] = mesh_top_verilog(plan, prof.colors)
    return out


def _names(plan: LinkPlan) -> SimpleNamespace:
    """The arrays of the link slots, ``{d}{end}{v|d|r}``: d the direction of travel (e, w
    horizontal; s, n vertical), end s the sender's, r the receiver's. Without die boundaries
    nothing sits between the two ends: the receiver's arrays are the sender's."""
    names = {}
    for d in "ewsn":
        for end in "sr":
            for x in "vdr":
                name = f"{d}{end if plan.boundaries else 's'}{x}"
                names[f"{d}{end}{x}"] = "err_" if name == "err" else name  # "err" reads as the tiles' port
    return SimpleNamespace(**names)


def _link(port: str, valid: str, data: str, ready: str) -> str:
    return f".{port}__valid({valid}), .{port}__data({data}), .{port}__ready({ready})"


def _at(n, d: str, end: str, index: str) -> tuple:
    """(valid, data, ready) of slot ``index`` of direction ``d`` at end ``end`` (s, r)."""
    return tuple(f"{getattr(n, d + end + x)}[{index}]" for x in "vdr")


def _slot(n, port: str, name: str | None = None) -> str:
    """The connection of a tile (or cell) port ``port`` (``_SLOT``) to its slot, as port ``name``."""
    return _link(name or port, *_at(n, *_SLOT[port]))


def _plain(n, directions: str, index: str, pad: str = "      ") -> str:
    """A slot's two ends joined by wires, for each direction of travel in ``directions``."""
    lines = []
    for d in directions:
        (sv, sd, sr), (rv, rd, rr) = _at(n, d, "s", index), _at(n, d, "r", index)
        lines += [f"assign {rv} = {sv};", f"assign {rd} = {sd};", f"assign {sr} = {rr};"]
    return "".join(f"{pad}{x}\n" for x in lines)


def _packed(values, width) -> str:
    """A Verilog constant: values[i] at bits i*width +: width."""
    acc = 0
    for i, v in enumerate(values):
        acc |= int(v) << (i * width)
    return f"{len(values) * width}'h{acc:x}"


def _flat(grid) -> list:
    return [v for row in grid for v in row]


# -- the module head and its constants ------------------------------------------------------------

def _head(plan: LinkPlan, colors: int, tile_module: str) -> str:
    R, C, CP, wafer = plan.rows, plan.cols, plan.physical_cols, plan.wafer
    what = []
    if plan.cells:
        what.append(f"spares {wafer.scheme}")
    if wafer.die is not None:
        what.append(f"dies of {wafer.die[0]}x{wafer.die[1]} PEs, {wafer.stages}-stage boundary links")
    where = ("The tile at physical (r, p) is g_row[r].g_col[p].g_tile.tile; each position has a repair cell "
             "g_row[r].g_col[p].repair." if plan.cells else "Tile (r, c) is g_row[r].g_col[c].tile.")
    note = (f"Generated by hdl/mesh_top.py: a {R} x {C} Tessera mesh of `{tile_module}` ({colors} colors) on "
            f"{R} x {CP} physical tiles ({'; '.join(what) or 'no spares, one die'}). {where} Row 0 is north, "
            "column 0 west. Only the logical edge is I/O.")
    decl = ",\n".join(f"    {d} wire [{w - 1}:0] {name}" for d, name, w in plan.ports(colors))
    return f"""{textwrap.fill(note, 100, initial_indent="// ", subsequent_indent="// ")}
module {MESH_TOP} (
{decl}
);
"""


def _constants(plan: LinkPlan, colors: int) -> str:
    R, C, CP = plan.rows, plan.cols, plan.physical_cols
    head = f"R = {R}, C = {C}, CP = {CP}, KC = {colors}, W = {WAVELET_BITS}, FB = {FAULT_BITS}"
    text = f"  localparam {head};\n"
    if plan.cells:
        SB = max(1, (2 * plan.reach).bit_length())  # a select: 2 K + 1 values
        PB = max(1, (CP - 1).bit_length())
        sel = plan.selects
        text = f"""  localparam {head}, SB = {SB}, PB = {PB};
  // the straps (fuses) of every physical position, index r*CP + p
  localparam [R*CP-1:0] FUSED = {_packed(_flat(plan.fused), 1)};
  localparam [R*CP*{COL_BITS}-1:0] COLV = {_packed(_flat(plan.logical_col), COL_BITS)};
  localparam [R*CP*SB-1:0] NSEL = {_packed(_flat(sel["n"]), SB)};
  localparam [R*CP*SB-1:0] SSEL = {_packed(_flat(sel["s"]), SB)};
  localparam [R*CP*SB-1:0] SRSEL = {_packed(_flat(sel["sr"]), SB)};
  localparam [R*CP*SB-1:0] NRSEL = {_packed(_flat(sel["nr"]), SB)};
  // the physical column of logical column c in the north and south rows (the I/O ring's selects)
  localparam [C*PB-1:0] PN = {_packed(plan.north_phys, PB)};
  localparam [C*PB-1:0] PS = {_packed(plan.south_phys, PB)};
"""
    if plan.boundaries:
        text += f"""  // die boundaries: the slot west of physical column p, the slot north of row r
  localparam [CP:0] XH = {_packed(plan.h_boundary, 1)};
  localparam [R:0] XV = {_packed(plan.v_boundary, 1)};
"""
    return text


def _slot_wires(plan: LinkPlan, n) -> str:
    R, CP = plan.rows, plan.physical_cols
    H, V = R * (CP + 1), (R + 1) * CP
    ends = "sr" if plan.boundaries else "s"

    def arrays(directions, size):
        text = ""
        for d in directions:
            for e in ends:
                v, dd, r = (getattr(n, d + e + x) for x in "vdr")
                last = size - 1
                text += f"  wire {v} [0:{last}];  wire [W-1:0] {dd} [0:{last}];  wire [KC-1:0] {r} [0:{last}];\n"
        return text

    if plan.boundaries:
        h_note = """  // Horizontal slots r*(CP+1)+p lie west of physical column p (p = CP: the east edge). Each has a
  // sender side (..s) and a receiver side (..r): the same wires, or the two ends of a boundary link.
"""
        v_note = """  // Vertical slots r*CP+p lie north of row r (r = R: the south edge), southward (s*) and
  // northward (n*).""" + (" A receiver-side ready (..rr) is the one the sender's cell selected.\n" if plan.cells
                           else "\n")
    else:
        h_note = """  // Horizontal slots r*(CP+1)+p lie west of physical column p (p = CP: the east edge), eastward
  // (e*) and westward (w*). Unpacked arrays, one element per link: Verilator then connects each
  // tile port to its own variable instead of slicing one huge packed vector per instance.
"""
        v_note = ("  // Vertical slots r*CP+p lie north of row r (r = R: the south edge), southward (s*) and\n"
                  "  // northward (n*).\n")
    text = "\n" + h_note + arrays("ew", H) + v_note + arrays("sn", V)
    if plan.cells:
        text += f"""  // each cell's published north- and south-input ready, index r*CP+p
  wire [KC-1:0] pn [0:{R * CP - 1}];
  wire [KC-1:0] ps [0:{R * CP - 1}];
"""
    text += "".join(f"  wire [CP-1:0] {s} [0:R-1];\n" for s in ("terr", "tidle", "thalted"))
    if plan.boundaries:
        text += """  wire [CP:0] hov [0:R-1];   // boundary overflow, horizontal slots of row r (both directions)
  wire [R:0] vov [0:CP-1];   // boundary overflow, vertical slots of column p (both directions)
"""
    return text + f"  wire [FB-1:0] flt [0:{H - 1}];\n"


# -- the edge --------------------------------------------------------------------------------------

def _edge_we(plan: LinkPlan, n) -> str:
    row_err = "|terr[r]"
    if plan.boundaries:
        row_err += " | |hov[r] | |{" + ", ".join(f"vov[{p}][r]" for p in range(plan.physical_cols)) + "}"
    text = f"""    // the logical edge
    for (r = 0; r < R; r = r + 1) begin : g_edge_we
      assign {n.esv}[r*(CP+1)] = w_in_valid[r];
      assign {n.esd}[r*(CP+1)] = w_in_data[r*W +: W];
      assign w_in_ready[r*KC +: KC] = {n.esr}[r*(CP+1)];
      assign w_out_valid[r] = {n.wrv}[r*(CP+1)];
      assign w_out_data[r*W +: W] = {n.wrd}[r*(CP+1)];
      assign {n.wrr}[r*(CP+1)] = w_out_ready[r*KC +: KC];
      assign e_out_valid[r] = {n.erv}[r*(CP+1)+CP];
      assign e_out_data[r*W +: W] = {n.erd}[r*(CP+1)+CP];
      assign {n.err}[r*(CP+1)+CP] = e_out_ready[r*KC +: KC];
      assign {n.wsv}[r*(CP+1)+CP] = e_in_valid[r];
      assign {n.wsd}[r*(CP+1)+CP] = e_in_data[r*W +: W];
      assign e_in_ready[r*KC +: KC] = {n.wsr}[r*(CP+1)+CP];
      assign row_err[r] = {row_err};
      assign row_halted[r] = |thalted[r];
      assign row_idle[r] = &tidle[r];
      assign flt[r*(CP+1)] = {{FB{{1'b0}}}};
      assign row_fault[r*FB +: FB] = flt[r*(CP+1)+CP];
"""
    if plan.boundaries:
        text += "      assign hov[r][0] = 1'b0;\n      assign hov[r][CP] = 1'b0;\n"
        text += "      // the edge slots are plain wires\n"
        text += _plain(n, "ew", "r*(CP+1)") + _plain(n, "ew", "r*(CP+1)+CP")
    return text + "    end\n"


def _edge_ns(plan: LinkPlan, n) -> str:
    """North and south edge links straight into the tiles of rows 0 and R - 1 (no repair cells:
    physical column = logical column)."""
    text = "    for (c = 0; c < C; c = c + 1) begin : g_edge_ns\n"
    if plan.boundaries:
        text += "      assign vov[c][0] = 1'b0;\n      assign vov[c][R] = 1'b0;\n"
    text += f"""      assign {n.ssv}[c] = n_in_valid[c];
      assign {n.ssd}[c] = n_in_data[c*W +: W];
      assign n_in_ready[c*KC +: KC] = {n.ssr}[c];
      assign n_out_valid[c] = {n.nrv}[c];
      assign n_out_data[c*W +: W] = {n.nrd}[c];
      assign {n.nrr}[c] = n_out_ready[c*KC +: KC];
      assign s_out_valid[c] = {n.srv}[R*CP+c];
      assign s_out_data[c*W +: W] = {n.srd}[R*CP+c];
      assign {n.srr}[R*CP+c] = s_out_ready[c*KC +: KC];
      assign {n.nsv}[R*CP+c] = s_in_valid[c];
      assign {n.nsd}[R*CP+c] = s_in_data[c*W +: W];
      assign s_in_ready[c*KC +: KC] = {n.nsr}[R*CP+c];
"""
    if plan.boundaries:
        text += "      // the edge slots are plain wires\n" + _plain(n, "sn", "c") + _plain(n, "sn", "R*CP+c")
    return text + "    end\n"


def _edge_ns_cells(plan: LinkPlan, n) -> str:
    """North and south edge links through the I/O ring's selects: logical column c at the physical
    column of logical (0, c) and (R - 1, c); the edge slot of a fused position carries nothing."""
    text = "    for (c = 0; c < CP; c = c + 1) begin : g_edge_ns_phys\n"
    if plan.boundaries:
        text += "      assign vov[c][0] = 1'b0;\n      assign vov[c][R] = 1'b0;\n"
    text += f"""      // north edge: southward slots of row 0 carry n_in of the logical column there, if any
      if (FUSED[c]) begin : g_n_unused
        assign {n.ssv}[c] = 1'b0;
        assign {n.ssd}[c] = {{W{{1'b0}}}};
        assign {n.nrr}[c] = {{KC{{1'b0}}}};
      end else begin : g_n_used
        localparam integer LC = COLV[c*{COL_BITS} +: {COL_BITS}];
        assign {n.ssv}[c] = n_in_valid[LC];
        assign {n.ssd}[c] = n_in_data[LC*W +: W];
        assign {n.nrr}[c] = n_out_ready[LC*KC +: KC];
      end
      assign {n.srr}[c] = pn[c];   // row 0 listens straight north
      // south edge
      if (FUSED[(R-1)*CP+c]) begin : g_s_unused
        assign {n.nsv}[R*CP+c] = 1'b0;
        assign {n.nsd}[R*CP+c] = {{W{{1'b0}}}};
        assign {n.srr}[R*CP+c] = {{KC{{1'b0}}}};
      end else begin : g_s_used
        localparam integer LC = COLV[((R-1)*CP+c)*{COL_BITS} +: {COL_BITS}];
        assign {n.nsv}[R*CP+c] = s_in_valid[LC];
        assign {n.nsd}[R*CP+c] = s_in_data[LC*W +: W];
        assign {n.srr}[R*CP+c] = s_out_ready[LC*KC +: KC];
      end
      assign {n.nrr}[R*CP+c] = ps[(R-1)*CP+c];   // row R-1 listens straight south
"""
    if plan.boundaries:
        text += "      // the edge slots are plain wires\n" + _plain(n, "sn", "c") + _plain(n, "sn", "R*CP+c")
    return text + f"""    end
    for (c = 0; c < C; c = c + 1) begin : g_edge_ns
      localparam integer PNC = PN[c*PB +: PB];
      localparam integer PSC = PS[c*PB +: PB];
      assign n_in_ready[c*KC +: KC] = {n.ssr}[PNC];
      assign n_out_valid[c] = {n.nrv}[PNC];
      assign n_out_data[c*W +: W] = {n.nrd}[PNC];
      assign s_out_valid[c] = {n.srv}[R*CP+PSC];
      assign s_out_data[c*W +: W] = {n.srd}[R*CP+PSC];
      assign s_in_ready[c*KC +: KC] = {n.nsr}[R*CP+PSC];
    end
"""


# -- the slots between tiles -----------------------------------------------------------------------

def _slots_between(n) -> str:
    """Each slot between two positions: wires, or a boundary link across a die edge."""
    return ("    // slots between tiles: a wire, or a boundary link across a die edge\n"
            + _slot_loop(n, "g_hslot", "g_h", "r = 0", "c = 1", "r*(CP+1)+c", "XH[c]", "hov[r][c]",
                         (("e", "east"), ("w", "west")))
            + _slot_loop(n, "g_vslot", "g_v", "r = 1", "c = 0", "r*CP+c", "XV[r]", "vov[c][r]",
                         (("s", "south"), ("n", "north"))))


def _slot_loop(n, outer, inner, r0, c0, index, flag, overflow, directions) -> str:
    """One kind of slot (horizontal or vertical) for every (r, c) from (r0, c0): where ``flag``, a
    ``tessera_boundary`` per direction of travel, named east/west or south/north."""
    ovs = [f"ov_{name[0]}" for _, name in directions]
    links = "".join(f"""          {BOUNDARY_MODULE} {name} (.clk(clk), .rst(rst),
            {_link("tx", *_at(n, d, "s", "S"))},
            {_link("rx", *_at(n, d, "r", "S"))}, .overflow(ov_{name[0]}));
""" for d, name in directions)
    return f"""    for ({r0}; r < R; r = r + 1) begin : {outer}
      for ({c0}; c < CP; c = c + 1) begin : {inner}
        localparam integer S = {index};
        if ({flag}) begin : g_x
          wire {", ".join(ovs)};
{links}          assign {overflow} = {" | ".join(ovs)};
        end else begin : g_w
{_plain(n, "".join(d for d, _ in directions), "S", " " * 10)}          assign {overflow} = 1'b0;
        end
      end
    end
"""


# -- the positions ---------------------------------------------------------------------------------

def _position(before: str, after: str = "") -> str:
    """The loops over the positions and each one's slot indices, with its own ``localparam``s
    before and after them."""
    return f"""    for (r = 0; r < R; r = r + 1) begin : g_row
      for (c = 0; c < CP; c = c + 1) begin : g_col
{before}        localparam integer HW = r*(CP+1)+c;   // slot west of this position
        localparam integer HE = r*(CP+1)+c+1; // slot east of it
        localparam integer VN = r*CP+c;       // slot north of it
        localparam integer VS = (r+1)*CP+c;   // slot south of it
{after}"""


def _tile(module: str, col: str, links: dict, status: tuple, fault: tuple, pad: str) -> str:
    """A tile instance ``tile``; ``links``: tile port (``_TILE_PORTS``) -> its connection."""
    lines = [f"{module} tile (", f"  .clk(clk), .rst(rst), .col({col}),", *(f"  {links[p]}," for p in _TILE_PORTS),
             f"  .err({status[0]}), .idle({status[1]}), .halted({status[2]}),",
             f"  .fault_in({fault[0]}), .fault_out({fault[1]})", ");"]
    return "".join(f"{pad}{x}\n" for x in lines)


def _positions(n, tile_module: str) -> str:
    """Every position holds a tile wired straight to the slots around it."""
    links = {p: _slot(n, p) for p in _TILE_PORTS}
    return (_position(f"        localparam [{COL_BITS - 1}:0] COL = c;\n")
            + _tile(tile_module, "COL", links, ("terr[r][c]", "tidle[r][c]", "thalted[r][c]"), ("flt[HW]", "flt[HE]"),
                    " " * 8)
            + "      end\n    end\n")


def _positions_cells(plan: LinkPlan, n, tile_module: str) -> str:
    """Every position holds a repair cell and, unless fused, a tile behind it."""
    K = plan.reach
    clamps = "".join(f"        localparam integer CL{j} = (c + {j - K} < 0) ? 0 : (c + {j - K} >= CP) ? CP - 1 : "
                     f"c + {j - K};\n" for j in range(2 * K + 1))
    after = ("        localparam integer RA = (r == 0) ? 0 : r - 1;       // the row above (clamped)\n"
             "        localparam integer RB = (r == R - 1) ? R - 1 : r + 1; // the row below (clamped)\n" + clamps)
    wires = "".join(f"        wire{w} {', '.join(f't_{io}_{s}_{x}' for io in ('in', 'out') for s in 'nesw')};\n"
                    for w, x in (("", "v"), (" [W-1:0]", "d"), (" [KC-1:0]", "r")))
    links = {p: _link(p, f"t_{p}_v", f"t_{p}_d", f"t_{p}_r") for p in _TILE_PORTS}
    tile = _tile(tile_module, "COL", links, ("t_err", "t_idle", "t_halted"), ("t_fin", "t_fout"), " " * 10)
    return ("    // every physical position: its repair cell and, unless fused, its tile\n"
            + _position("        localparam integer I = r*CP+c;\n", after)
            + wires + "        wire t_err, t_idle, t_halted;\n        wire [FB-1:0] t_fin, t_fout;\n"
            + "        wire [KC-1:0] s_rdy, n_rdy;\n" + _cell(n, K)
            + f"""        // the slot's ready is the one this cell selected among the cells that may listen to it
        if (r < R - 1) begin : g_sr
          assign {n.srr}[VS] = s_rdy;
        end
        if (r > 0) begin : g_nr
          assign {n.nrr}[VN] = n_rdy;
        end
        if (FUSED[I]) begin : g_fused
          assign t_out_n_v = 1'b0; assign t_out_e_v = 1'b0; assign t_out_s_v = 1'b0; assign t_out_w_v = 1'b0;
          assign t_out_n_d = {{W{{1'b0}}}}; assign t_out_e_d = {{W{{1'b0}}}};
          assign t_out_s_d = {{W{{1'b0}}}}; assign t_out_w_d = {{W{{1'b0}}}};
          assign t_in_n_r = {{KC{{1'b0}}}}; assign t_in_e_r = {{KC{{1'b0}}}};
          assign t_in_s_r = {{KC{{1'b0}}}}; assign t_in_w_r = {{KC{{1'b0}}}};
          assign t_err = 1'b0; assign t_idle = 1'b1; assign t_halted = 1'b0;
          assign t_fout = {{FB{{1'b0}}}};
        end else begin : g_tile
          localparam [{COL_BITS - 1}:0] COL = COLV[I*{COL_BITS} +: {COL_BITS}];
{tile}        end
      end
    end
""")


def _cell(n, K: int) -> str:
    """The position's repair cell: the tile's links, the row's east-west slots, the north/south
    candidates (physical columns p - K .. p + K, clamped to the mesh: a clamped candidate is never
    selected, the straps only name real neighbours)."""
    def cand(array, row):
        return "{" + ", ".join(f"{array}[({row})*CP + CL{j}]" for j in reversed(range(2 * K + 1))) + "}"

    tile_side = [_link(f"t_{io}_{s}", f"t_{io}_{s}_v", f"t_{io}_{s}_d", f"t_{io}_{s}_r") for io in ("in", "out")
                 for s in "nesw"]
    rows = [".clk(clk), .rst(rst), .fused(FUSED[I]),",
            ", ".join(f".{k}_sel({k.upper()}SEL[I*SB +: SB])" for k in ("n", "s", "sr", "nr")) + ",",
            *(x + "," for x in tile_side),
            _slot(n, "in_w", "w_in") + ",", _slot(n, "out_e", "e_out") + ",", _slot(n, "in_e", "e_in") + ",",
            _slot(n, "out_w", "w_out") + ",",
            f".n_cand_valid({cand(n.srv, 'r')}), .n_cand_data({cand(n.srd, 'r')}),",
            f".s_cand_valid({cand(n.nrv, 'r+1')}), .s_cand_data({cand(n.nrd, 'r+1')}),",
            ".n_ready(pn[I]), .s_ready(ps[I]),",
            _slot(n, "out_s", "s_out") + ",", _slot(n, "out_n", "n_out") + ",",
            f".s_rdy_cand({cand('pn', 'RB')}), .n_rdy_cand({cand('ps', 'RA')}),",
            ".s_rdy(s_rdy), .n_rdy(n_rdy),",
            ".t_err(t_err), .t_idle(t_idle), .t_halted(t_halted),",
            ".err(terr[r][c]), .idle(tidle[r][c]), .halted(thalted[r][c]),",
            ".fault_in(flt[HW]), .t_fault_in(t_fin), .t_fault_out(t_fout), .fault_out(flt[HE])"]
    return f"        {REPAIR_MODULE} repair (\n" + "".join(f"          {x}\n" for x in rows) + "        );\n"
