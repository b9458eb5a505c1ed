"""The wafer mesh top: the physical mesh with spare columns, repair cells and die-boundary links.

Role
----
``hdl/mesh.py`` tiles a perfect R x C mesh. A wafer (docs/wafer.md) has spare columns, defective
tiles mapped out, and dies whose boundary links carry extra register stages. This module writes
the top ``tessera_mesh`` of such a wafer, with the *same ports* as the perfect mesh's (the logical
R x C edge), so every engine, loader, testbench and kernel drives it unchanged in logical
coordinates.

Inside, every physical position (r, p), p < CP = C + spares, holds a repair cell
(``tessera_repair``, hdl/repair_cell.py) and, unless the position is fused, a tile. The cells'
straps are constants of the generated top: the wafer's fuses, burnt from the defect map after
wafer test and before anything is loaded (the top is generated per defect map). A fused position
has no tile instance (it is cut off and powered down); its cell passes the row's east-west links
through one bypass stage each way. A link between two dies goes through a ``tessera_boundary``
(hdl/boundary.py) of ``stages`` stages; a boundary buffer's overflow (never expected) raises the
receiving row's ``row_err``. Each tile's ``col`` input is its *logical* column, so management
messages address logical PEs.

The edge: the west link of row r enters physical column 0 and reaches the row's first working
tile through the bypasses of any fused tiles before it; the east link likewise at the east end;
the north and south links of logical column c enter at the physical column of logical (0, c) and
(R-1, c) (the I/O ring's per-link select is strapped like the cells).

Interface
---------
Wafer(repair=None, die=None, stages=1)        what makes a mesh a wafer; ``.check(rows, cols)``
    repair   hdl.repair.RepairMap (logical rows x cols) or None (no spares)
    die      (rows, cols) of logical PEs per die, or None; with repair its columns are a multiple
             of the spare scheme's segment, so a segment never straddles two dies
wafer_top_verilog(rows, cols, colors, wafer) -> str        the top (module tessera_mesh)
wafer_sources(rows, cols, profile, core, wafer) -> {file: text}
link_chains(rows, cols, wafer) -> {(kind, r, c, side letter): [stages, ...]}   the stages each logical
    link passes through, in travel order, as the top above builds them: kind "out" is the link
    leaving logical (r, c) on that side (to its neighbour or to the edge), kind "in" the edge link
    entering (r, c) there; a bypassed tile is a 1-stage link, a die boundary a ``stages`` one
    (the native engine, sdk/builds/native_mesh.py, wires its tiles through these)
add_wafer_arguments(argparser, seed_alias=False); wafer_from_arguments(args, rows, cols) -> Wafer | None
    the command-line options --spares K/S, --defects FILE | --defect-rate P [--defect-seed N],
    --die RxC, --boundary-stages L (hdl.mesh, demo.gemm); ValueError naming what is wrong
hop_extra_cycles(rows, cols, wafer) -> {(r, c, side letter): cycles}   per logical link leaving (r, c)
    on that side (at the edge: the stretch between the tile and the mesh edge, both ways); the
    golden latency model's ``hop_extra`` (golden/routing.py zero_load_latency)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from amaranth.back import verilog

from .boundary import BoundaryLink, check_stages
from .fault import FAULT_BITS
from .mesh_common import MESH_TOP, check_mesh_shape, mesh_ports, tile_verilog
from .mgmt import COL_BITS
from .profiles import get_profile
from .repair import DefectMap, RepairError, RepairMap, SpareScheme
from .repair_cell import REPAIR_MODULE, RepairCell
from .wavelet import WAVELET_BITS, Port

__all__ = ["Wafer", "WaferError", "wafer_top_verilog", "wafer_sources", "link_chains", "hop_extra_cycles",
           "add_wafer_arguments", "wafer_from_arguments", "BOUNDARY_MODULE"]

BOUNDARY_MODULE = "tessera_boundary"


class WaferError(ValueError):
    """A wafer description that does not fit the mesh; the message names the value."""


@dataclass(frozen=True, eq=False)
class Wafer:
    repair: RepairMap | None = None
    die: tuple | None = None
    stages: int = 1

    def check(self, rows: int, cols: int) -> Wafer:
        check_mesh_shape(rows, cols)
        try:
            check_stages(self.stages)
        except ValueError as e:
            raise WaferError(str(e)) from None
        if self.repair is not None:
            rm = self.repair
            if (rm.rows, rm.cols) != (rows, cols):
                raise WaferError(f"the repair map is for a {rm.rows}x{rm.cols} mesh, not {rows}x{cols}")
            if rm.scheme.spares < 1:
                raise WaferError(f"spare scheme {rm.scheme}: a repaired mesh needs at least one spare per segment")
        if self.die is not None:
            try:
                dr, dc = (int(x) for x in self.die)
            except (TypeError, ValueError):
                raise WaferError(f"die {self.die!r}: expected ROWSxCOLS") from None
            if dr < 1 or dc < 1:
                raise WaferError(f"die {dr}x{dc}: both sides must be at least 1")
            if rows % dr or cols % dc:
                bad = "rows" if rows % dr else "columns"
                raise WaferError(f"die {dr}x{dc} does not divide the {rows}x{cols} mesh ({bad}: "
                                 f"{rows if rows % dr else cols} is not a multiple of {dr if rows % dr else dc})")
            if self.repair is not None and dc % self.repair.scheme.segment:
                raise WaferError(f"die {dr}x{dc}: its {dc} columns are not a multiple of the spare scheme's segment "
                                 f"({self.repair.scheme.segment}): a segment and its spares must sit in one die")
        return self

    @property
    def scheme(self) -> SpareScheme | None:
        return None if self.repair is None else self.repair.scheme

    def physical_cols(self, cols: int) -> int:
        return cols if self.repair is None else self.repair.scheme.physical_cols(cols)

    def phys(self, r: int, c: int) -> int:
        return c if self.repair is None else self.repair.phys[r][c]

    def die_col(self, p: int, cols: int):
        """The die column of physical column p (None without dies)."""
        if self.die is None:
            return None
        dc = self.die[1]
        width = dc if self.repair is None else dc + self.repair.scheme.spares * (dc // self.repair.scheme.segment)
        return p // width

    def crosses_h(self, p: int, cols: int) -> bool:
        """The slot west of physical column p (0 < p < CP) lies on a die boundary."""
        return self.die is not None and self.die_col(p - 1, cols) != self.die_col(p, cols)

    def crosses_v(self, r: int) -> bool:
        """The slot north of row r (0 < r < R) lies on a die boundary."""
        return self.die is not None and r % self.die[0] == 0

    def _key(self):
        return (None if self.repair is None else self.repair.to_json(), self.die, self.stages)

    def __eq__(self, other):
        return isinstance(other, Wafer) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def tag(self) -> str:
        """A short name for build caches: the shape of the wafer and a hash of its map."""
        parts = []
        if self.repair is not None:
            h = hashlib.sha1(self.repair.to_json().encode()).hexdigest()[:8]
            parts.append(f"rep{self.repair.scheme.spares}-{self.repair.scheme.segment}-{h}")
        if self.die is not None:
            parts.append(f"die{self.die[0]}x{self.die[1]}l{self.stages}")
        return "_".join(parts)


def _straps(rows, cols, wafer: Wafer):
    """Per physical position: fused, logical column, and the four selects (offset + K)."""
    R, C = rows, cols
    CP = wafer.physical_cols(C)
    K = wafer.scheme.spares if wafer.repair is not None else 1
    fused = [[1] * CP for _ in range(R)]
    colv = [[0] * CP for _ in range(R)]
    sel = {k: [[K] * CP for _ in range(R)] for k in ("n", "s", "sr", "nr")}
    for r in range(R):
        for c in range(C):
            p = wafer.phys(r, c)
            fused[r][p] = 0
            colv[r][p] = c
            if r > 0:
                sel["n"][r][p] = wafer.phys(r - 1, c) - p + K
                sel["nr"][r][p] = wafer.phys(r - 1, c) - p + K
            if r < R - 1:
                sel["s"][r][p] = wafer.phys(r + 1, c) - p + K
                sel["sr"][r][p] = wafer.phys(r + 1, c) - p + K
    return K, CP, fused, colv, sel


def _packed(values, width) -> str:
    """A Verilog constant: values[i] at bits i*width +: width."""
    n = len(values) * width
    acc = 0
    for i, v in enumerate(values):
        acc |= int(v) << (i * width)
    return f"{n}'h{acc:x}"


def wafer_top_verilog(rows: int, cols: int, colors: int, wafer: Wafer) -> str:
    wafer.check(rows, cols)
    R, C, KC, W, FB = rows, cols, colors, WAVELET_BITS, FAULT_BITS
    K, CP, fused, colv, sel = _straps(R, C, wafer)
    N = 2 * K + 1
    SB = max(1, (N - 1).bit_length())
    PB = max(1, (CP - 1).bit_length())
    flat = lambda grid: [v for row in grid for v in row]  # noqa: E731
    xh = [int(0 < p < CP and wafer.crosses_h(p, C)) for p in range(CP + 1)]
    xv = [int(0 < r < R and wafer.crosses_v(r)) for r in range(R + 1)]
    ports = mesh_ports(R, C, KC)
    decl = ",\n".join(f"    {d} wire [{w - 1}:0] {n}" for d, n, w in ports)
    H = R * (CP + 1)
    V = (R + 1) * CP

    def cand(array, row_expr):
        # 2K + 1 candidates p - K .. p + K (element j at the low end for j = 0), clamped to the
        # mesh: a clamped candidate is never selected (the straps only name real neighbours)
        return "{" + ", ".join(f"{array}[({row_expr})*CP + CL{j}]" for j in reversed(range(N))) + "}"

    clamps = "\n".join(f"        localparam integer CL{j} = (c + {j - K} < 0) ? 0 : (c + {j - K} >= CP) ? CP - 1 : "
                       f"c + {j - K};" for j in range(N))
    desc = []
    if wafer.repair is not None:
        desc.append(f"spares {wafer.scheme} ({sum(flat(fused)) - R * (CP - C)} defective of {R * CP} physical)")
    if wafer.die is not None:
        desc.append(f"dies of {wafer.die[0]}x{wafer.die[1]} PEs, {wafer.stages}-stage boundary links")
    return f"""// Generated by hdl/wafer_mesh.py: a {R} x {C} Tessera mesh on {R} x {CP} physical tiles
// ({"; ".join(desc) or "no spares, one die"}). Tile at physical (r, p) is g_row[r].g_col[p].g_tile.tile;
// each position has a repair cell g_row[r].g_col[p].repair. Only the logical edge is I/O.
module {MESH_TOP} (
{decl}
);
  localparam R = {R}, C = {C}, CP = {CP}, KC = {KC}, W = {W}, FB = {FB}, SB = {SB}, PB = {PB};
  // the straps (fuses) of every physical position, index r*CP + p
  localparam [R*CP-1:0] FUSED = {_packed(flat(fused), 1)};
  localparam [R*CP*{COL_BITS}-1:0] COLV = {_packed(flat(colv), COL_BITS)};
  localparam [R*CP*SB-1:0] NSEL = {_packed(flat(sel["n"]), SB)};
  localparam [R*CP*SB-1:0] SSEL = {_packed(flat(sel["s"]), SB)};
  localparam [R*CP*SB-1:0] SRSEL = {_packed(flat(sel["sr"]), SB)};
  localparam [R*CP*SB-1:0] NRSEL = {_packed(flat(sel["nr"]), SB)};
  // the physical column of logical column c in the north and south rows (the I/O ring's selects)
  localparam [C*PB-1:0] PN = {_packed([wafer.phys(0, c) for c in range(C)], PB)};
  localparam [C*PB-1:0] PS = {_packed([wafer.phys(R - 1, c) for c in range(C)], PB)};
  // die boundaries: the slot west of physical column p, the slot north of row r
  localparam [CP:0] XH = {_packed(xh, 1)};
  localparam [R:0] XV = {_packed(xv, 1)};

  // Horizontal slots r*(CP+1)+p lie west of physical column p (p = CP: the east edge). Each has a
  // sender side (..s) and a receiver side (..r): the same wires, or the two ends of a boundary link.
  wire esv [0:{H - 1}];  wire [W-1:0] esd [0:{H - 1}];  wire [KC-1:0] esr [0:{H - 1}];
  wire erv [0:{H - 1}];  wire [W-1:0] erd [0:{H - 1}];  wire [KC-1:0] err_ [0:{H - 1}];
  wire wsv [0:{H - 1}];  wire [W-1:0] wsd [0:{H - 1}];  wire [KC-1:0] wsr [0:{H - 1}];
  wire wrv [0:{H - 1}];  wire [W-1:0] wrd [0:{H - 1}];  wire [KC-1:0] wrr [0:{H - 1}];
  // Vertical slots r*CP+p lie north of row r (r = R: the south edge), southward (s*) and
  // northward (n*). A receiver-side ready (..rr) is the one the sender's cell selected.
  wire ssv [0:{V - 1}];  wire [W-1:0] ssd [0:{V - 1}];  wire [KC-1:0] ssr [0:{V - 1}];
  wire srv [0:{V - 1}];  wire [W-1:0] srd [0:{V - 1}];  wire [KC-1:0] srr [0:{V - 1}];
  wire nsv [0:{V - 1}];  wire [W-1:0] nsd [0:{V - 1}];  wire [KC-1:0] nsr [0:{V - 1}];
  wire nrv [0:{V - 1}];  wire [W-1:0] nrd [0:{V - 1}];  wire [KC-1:0] nrr [0:{V - 1}];
  // each cell's published north- and south-input ready, index r*CP+p
  wire [KC-1:0] pn [0:{R * CP - 1}];
  wire [KC-1:0] ps [0:{R * CP - 1}];
  wire [CP-1:0] terr [0:R-1];
  wire [CP-1:0] tidle [0:R-1];
  wire [CP-1:0] thalted [0:R-1];
  wire [CP:0] hov [0:R-1];   // boundary overflow, horizontal slots of row r (both directions)
  wire [R:0] vov [0:CP-1];   // boundary overflow, vertical slots of column p (both directions)
  wire [FB-1:0] flt [0:{H - 1}];

  genvar r, c;
  generate
    // the logical edge
    for (r = 0; r < R; r = r + 1) begin : g_edge_we
      assign esv[r*(CP+1)] = w_in_valid[r];
      assign esd[r*(CP+1)] = w_in_data[r*W +: W];
      assign w_in_ready[r*KC +: KC] = esr[r*(CP+1)];
      assign w_out_valid[r] = wrv[r*(CP+1)];
      assign w_out_data[r*W +: W] = wrd[r*(CP+1)];
      assign wrr[r*(CP+1)] = w_out_ready[r*KC +: KC];
      assign e_out_valid[r] = erv[r*(CP+1)+CP];
      assign e_out_data[r*W +: W] = erd[r*(CP+1)+CP];
      assign err_[r*(CP+1)+CP] = e_out_ready[r*KC +: KC];
      assign wsv[r*(CP+1)+CP] = e_in_valid[r];
      assign wsd[r*(CP+1)+CP] = e_in_data[r*W +: W];
      assign e_in_ready[r*KC +: KC] = wsr[r*(CP+1)+CP];
      assign row_err[r] = |terr[r] | |hov[r] | |{{{", ".join(f"vov[{p}][r]" for p in range(CP))}}};
      assign row_halted[r] = |thalted[r];
      assign row_idle[r] = &tidle[r];
      assign flt[r*(CP+1)] = {{FB{{1'b0}}}};
      assign row_fault[r*FB +: FB] = flt[r*(CP+1)+CP];
      assign hov[r][0] = 1'b0;
      assign hov[r][CP] = 1'b0;
      // the edge slots are plain wires
      assign erv[r*(CP+1)] = esv[r*(CP+1)];
      assign erd[r*(CP+1)] = esd[r*(CP+1)];
      assign esr[r*(CP+1)] = err_[r*(CP+1)];
      assign wrv[r*(CP+1)] = wsv[r*(CP+1)];
      assign wrd[r*(CP+1)] = wsd[r*(CP+1)];
      assign wsr[r*(CP+1)] = wrr[r*(CP+1)];
      assign erv[r*(CP+1)+CP] = esv[r*(CP+1)+CP];
      assign erd[r*(CP+1)+CP] = esd[r*(CP+1)+CP];
      assign esr[r*(CP+1)+CP] = err_[r*(CP+1)+CP];
      assign wrv[r*(CP+1)+CP] = wsv[r*(CP+1)+CP];
      assign wrd[r*(CP+1)+CP] = wsd[r*(CP+1)+CP];
      assign wsr[r*(CP+1)+CP] = wrr[r*(CP+1)+CP];
    end
    for (c = 0; c < CP; c = c + 1) begin : g_edge_ns_phys
      assign vov[c][0] = 1'b0;
      assign vov[c][R] = 1'b0;
      // north edge: southward slots of row 0 carry n_in of the logical column there, if any
      if (FUSED[c]) begin : g_n_unused
        assign ssv[c] = 1'b0;
        assign ssd[c] = {{W{{1'b0}}}};
        assign nrr[c] = {{KC{{1'b0}}}};
      end else begin : g_n_used
        localparam integer LC = COLV[c*{COL_BITS} +: {COL_BITS}];
        assign ssv[c] = n_in_valid[LC];
        assign ssd[c] = n_in_data[LC*W +: W];
        assign nrr[c] = n_out_ready[LC*KC +: KC];
      end
      assign srv[c] = ssv[c];
      assign srd[c] = ssd[c];
      assign nrv[c] = nsv[c];
      assign nrd[c] = nsd[c];
      assign srv[R*CP+c] = ssv[R*CP+c];
      assign srd[R*CP+c] = ssd[R*CP+c];
      assign srr[c] = pn[c];   // row 0 listens straight north
      assign ssr[c] = srr[c];
      assign nsr[c] = nrr[c];
      // south edge
      if (FUSED[(R-1)*CP+c]) begin : g_s_unused
        assign nsv[R*CP+c] = 1'b0;
        assign nsd[R*CP+c] = {{W{{1'b0}}}};
        assign srr[R*CP+c] = {{KC{{1'b0}}}};
      end else begin : g_s_used
        localparam integer LC = COLV[((R-1)*CP+c)*{COL_BITS} +: {COL_BITS}];
        assign nsv[R*CP+c] = s_in_valid[LC];
        assign nsd[R*CP+c] = s_in_data[LC*W +: W];
        assign srr[R*CP+c] = s_out_ready[LC*KC +: KC];
      end
      assign nrv[R*CP+c] = nsv[R*CP+c];
      assign nrd[R*CP+c] = nsd[R*CP+c];
      assign nrr[R*CP+c] = ps[(R-1)*CP+c];   // row R-1 listens straight south
      assign nsr[R*CP+c] = nrr[R*CP+c];
      assign ssr[R*CP+c] = srr[R*CP+c];
    end
    for (c = 0; c < C; c = c + 1) begin : g_edge_ns
      localparam integer PNC = PN[c*PB +: PB];
      localparam integer PSC = PS[c*PB +: PB];
      assign n_in_ready[c*KC +: KC] = ssr[PNC];
      assign n_out_valid[c] = nrv[PNC];
      assign n_out_data[c*W +: W] = nrd[PNC];
      assign s_out_valid[c] = srv[R*CP+PSC];
      assign s_out_data[c*W +: W] = srd[R*CP+PSC];
      assign s_in_ready[c*KC +: KC] = nsr[R*CP+PSC];
    end
    // slots between tiles: a wire, or a boundary link across a die edge
    for (r = 0; r < R; r = r + 1) begin : g_hslot
      for (c = 1; c < CP; c = c + 1) begin : g_h
        localparam integer S = r*(CP+1)+c;
        if (XH[c]) begin : g_x
          wire ov_e, ov_w;
          {BOUNDARY_MODULE} east (.clk(clk), .rst(rst),
            .tx__valid(esv[S]), .tx__data(esd[S]), .tx__ready(esr[S]),
            .rx__valid(erv[S]), .rx__data(erd[S]), .rx__ready(err_[S]), .overflow(ov_e));
          {BOUNDARY_MODULE} west (.clk(clk), .rst(rst),
            .tx__valid(wsv[S]), .tx__data(wsd[S]), .tx__ready(wsr[S]),
            .rx__valid(wrv[S]), .rx__data(wrd[S]), .rx__ready(wrr[S]), .overflow(ov_w));
          assign hov[r][c] = ov_e | ov_w;
        end else begin : g_w
          assign erv[S] = esv[S];
          assign erd[S] = esd[S];
          assign esr[S] = err_[S];
          assign wrv[S] = wsv[S];
          assign wrd[S] = wsd[S];
          assign wsr[S] = wrr[S];
          assign hov[r][c] = 1'b0;
        end
      end
    end
    for (r = 1; r < R; r = r + 1) begin : g_vslot
      for (c = 0; c < CP; c = c + 1) begin : g_v
        localparam integer S = r*CP+c;
        if (XV[r]) begin : g_x
          wire ov_s, ov_n;
          {BOUNDARY_MODULE} south (.clk(clk), .rst(rst),
            .tx__valid(ssv[S]), .tx__data(ssd[S]), .tx__ready(ssr[S]),
            .rx__valid(srv[S]), .rx__data(srd[S]), .rx__ready(srr[S]), .overflow(ov_s));
          {BOUNDARY_MODULE} north (.clk(clk), .rst(rst),
            .tx__valid(nsv[S]), .tx__data(nsd[S]), .tx__ready(nsr[S]),
            .rx__valid(nrv[S]), .rx__data(nrd[S]), .rx__ready(nrr[S]), .overflow(ov_n));
          assign vov[c][r] = ov_s | ov_n;
        end else begin : g_w
          assign srv[S] = ssv[S];
          assign srd[S] = ssd[S];
          assign ssr[S] = srr[S];
          assign nrv[S] = nsv[S];
          assign nrd[S] = nsd[S];
          assign nsr[S] = nrr[S];
          assign vov[c][r] = 1'b0;
        end
      end
    end
    // every physical position: its repair cell and, unless fused, its tile
    for (r = 0; r < R; r = r + 1) begin : g_row
      for (c = 0; c < CP; c = c + 1) begin : g_col
        localparam integer I = r*CP+c;
        localparam integer HW = r*(CP+1)+c;   // slot west of this position
        localparam integer HE = r*(CP+1)+c+1; // slot east of it
        localparam integer VN = r*CP+c;       // slot north of it
        localparam integer VS = (r+1)*CP+c;   // slot south of it
        localparam integer RA = (r == 0) ? 0 : r - 1;       // the row above (clamped)
        localparam integer RB = (r == R - 1) ? R - 1 : r + 1; // the row below (clamped)
{clamps}
        wire t_in_n_v, t_in_e_v, t_in_s_v, t_in_w_v, t_out_n_v, t_out_e_v, t_out_s_v, t_out_w_v;
        wire [W-1:0] t_in_n_d, t_in_e_d, t_in_s_d, t_in_w_d, t_out_n_d, t_out_e_d, t_out_s_d, t_out_w_d;
        wire [KC-1:0] t_in_n_r, t_in_e_r, t_in_s_r, t_in_w_r, t_out_n_r, t_out_e_r, t_out_s_r, t_out_w_r;
        wire t_err, t_idle, t_halted;
        wire [FB-1:0] t_fin, t_fout;
        wire [KC-1:0] s_rdy, n_rdy;
        {REPAIR_MODULE} repair (
          .clk(clk), .rst(rst), .fused(FUSED[I]),
          .n_sel(NSEL[I*SB +: SB]), .s_sel(SSEL[I*SB +: SB]), .sr_sel(SRSEL[I*SB +: SB]), .nr_sel(NRSEL[I*SB +: SB]),
          .t_in_n__valid(t_in_n_v), .t_in_n__data(t_in_n_d), .t_in_n__ready(t_in_n_r),
          .t_in_e__valid(t_in_e_v), .t_in_e__data(t_in_e_d), .t_in_e__ready(t_in_e_r),
          .t_in_s__valid(t_in_s_v), .t_in_s__data(t_in_s_d), .t_in_s__ready(t_in_s_r),
          .t_in_w__valid(t_in_w_v), .t_in_w__data(t_in_w_d), .t_in_w__ready(t_in_w_r),
          .t_out_n__valid(t_out_n_v), .t_out_n__data(t_out_n_d), .t_out_n__ready(t_out_n_r),
          .t_out_e__valid(t_out_e_v), .t_out_e__data(t_out_e_d), .t_out_e__ready(t_out_e_r),
          .t_out_s__valid(t_out_s_v), .t_out_s__data(t_out_s_d), .t_out_s__ready(t_out_s_r),
          .t_out_w__valid(t_out_w_v), .t_out_w__data(t_out_w_d), .t_out_w__ready(t_out_w_r),
          .w_in__valid(erv[HW]), .w_in__data(erd[HW]), .w_in__ready(err_[HW]),
          .e_out__valid(esv[HE]), .e_out__data(esd[HE]), .e_out__ready(esr[HE]),
          .e_in__valid(wrv[HE]), .e_in__data(wrd[HE]), .e_in__ready(wrr[HE]),
          .w_out__valid(wsv[HW]), .w_out__data(wsd[HW]), .w_out__ready(wsr[HW]),
          .n_cand_valid({cand("srv", "r")}), .n_cand_data({cand("srd", "r")}),
          .s_cand_valid({cand("nrv", "r+1")}), .s_cand_data({cand("nrd", "r+1")}),
          .n_ready(pn[I]), .s_ready(ps[I]),
          .s_out__valid(ssv[VS]), .s_out__data(ssd[VS]), .s_out__ready(ssr[VS]),
          .n_out__valid(nsv[VN]), .n_out__data(nsd[VN]), .n_out__ready(nsr[VN]),
          .s_rdy_cand({cand("pn", "RB")}), .n_rdy_cand({cand("ps", "RA")}),
          .s_rdy(s_rdy), .n_rdy(n_rdy),
          .t_err(t_err), .t_idle(t_idle), .t_halted(t_halted),
          .err(terr[r][c]), .idle(tidle[r][c]), .halted(thalted[r][c]),
          .fault_in(flt[HW]), .t_fault_in(t_fin), .t_fault_out(t_fout), .fault_out(flt[HE])
        );
        // the slot's ready is the one this cell selected among the cells that may listen to it
        if (r < R - 1) begin : g_sr
          assign srr[VS] = s_rdy;
        end
        if (r > 0) begin : g_nr
          assign nrr[VN] = n_rdy;
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
          tessera_tile tile (
            .clk(clk), .rst(rst), .col(COL),
            .in_w__valid(t_in_w_v), .in_w__data(t_in_w_d), .in_w__ready(t_in_w_r),
            .out_e__valid(t_out_e_v), .out_e__data(t_out_e_d), .out_e__ready(t_out_e_r),
            .in_e__valid(t_in_e_v), .in_e__data(t_in_e_d), .in_e__ready(t_in_e_r),
            .out_w__valid(t_out_w_v), .out_w__data(t_out_w_d), .out_w__ready(t_out_w_r),
            .in_n__valid(t_in_n_v), .in_n__data(t_in_n_d), .in_n__ready(t_in_n_r),
            .out_s__valid(t_out_s_v), .out_s__data(t_out_s_d), .out_s__ready(t_out_s_r),
            .in_s__valid(t_in_s_v), .in_s__data(t_in_s_d), .in_s__ready(t_in_s_r),
            .out_n__valid(t_out_n_v), .out_n__data(t_out_n_d), .out_n__ready(t_out_n_r),
            .err(t_err), .idle(t_idle), .halted(t_halted),
            .fault_in(t_fin), .fault_out(t_fout)
          );
        end
      end
    end
  endgenerate
endmodule
"""


def wafer_sources(rows: int, cols: int, profile="small", core: bool = True, wafer: Wafer | None = None) -> dict:
    """The wafer mesh's Verilog: the tile, the repair cell, the boundary link and the top."""
    wafer = (wafer or Wafer()).check(rows, cols)
    prof = get_profile(profile)
    K = wafer.scheme.spares if wafer.repair is not None else 1
    return {"tessera_tile.v": tile_verilog(prof, core),
            "tessera_repair.v": verilog.convert(RepairCell(prof.colors, K), name=REPAIR_MODULE),
            "tessera_boundary.v": verilog.convert(BoundaryLink(prof.colors, wafer.stages), name=BOUNDARY_MODULE),
            "tessera_mesh.v": wafer_top_verilog(rows, cols, prof.colors, wafer)}


def link_chains(rows: int, cols: int, wafer: Wafer) -> dict:
    wafer.check(rows, cols)
    CP = wafer.physical_cols(cols)
    L = wafer.stages
    out = {}

    def east(p0, p1):
        """Stages from physical column p0 to p1 > p0 eastward (p0 = -1: the west edge, p1 = CP:
        the east edge): the slot west of each column p0 < p <= p1, then the bypass of each fused
        column strictly between."""
        seq = []
        for p in range(p0 + 1, p1 + 1):
            if 0 < p < CP and wafer.crosses_h(p, cols):
                seq.append(L)
            if p < p1:
                seq.append(1)
        return seq

    for r in range(rows):
        for c in range(cols):
            p = wafer.phys(r, c)
            e = east(p, wafer.phys(r, c + 1) if c + 1 < cols else CP)
            w = east(wafer.phys(r, c - 1) if c > 0 else -1, p)
            out[("out", r, c, "E")] = e
            out[("out", r, c, "W")] = w[::-1]
            if c == 0:
                out[("in", r, c, "W")] = w
            if c == cols - 1:
                out[("in", r, c, "E")] = e[::-1]
            n = [L] if r > 0 and wafer.crosses_v(r) else []
            s_ = [L] if r + 1 < rows and wafer.crosses_v(r + 1) else []
            out[("out", r, c, "N")] = n
            out[("out", r, c, "S")] = s_
            if r == 0:
                out[("in", r, c, "N")] = []
            if r == rows - 1:
                out[("in", r, c, "S")] = []
    return {k: v for k, v in out.items() if v}


def hop_extra_cycles(rows: int, cols: int, wafer: Wafer) -> dict:
    """Extra cycles of each logical link over a plain one: one per bypassed tile, ``stages`` per die
    boundary crossed. Keys (r, c, side letter): the link leaving logical (r, c) on that side; at
    the edge, also the input link entering (r, c) there (the same physical stretch)."""
    wafer.check(rows, cols)
    CP = wafer.physical_cols(cols)
    L = wafer.stages
    out = {}

    def span(r, p0, p1):  # physical columns p0 < p1 of row r: bypassed tiles and boundaries between
        skipped = p1 - p0 - 1
        boundaries = sum(wafer.crosses_h(p, cols) for p in range(max(p0 + 1, 1), min(p1, CP - 1) + 1))
        return skipped + L * boundaries

    for r in range(rows):
        for c in range(cols):
            p = wafer.phys(r, c)
            e = span(r, p, wafer.phys(r, c + 1)) if c + 1 < cols else span(r, p, CP)
            w = span(r, wafer.phys(r, c - 1), p) if c > 0 else span(r, -1, p)
            out[(r, c, Port.E.name)] = e
            out[(r, c, Port.W.name)] = w
            out[(r, c, Port.N.name)] = L if (r > 0 and wafer.crosses_v(r)) else 0
            out[(r, c, Port.S.name)] = L if (r + 1 < rows and wafer.crosses_v(r + 1)) else 0
    return out


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
