"""A router-only mesh: R x C routers wired as a 2D mesh, the fabric's verification fixture.

Row 0 is the north edge, column 0 the west edge; router (r, c) has index r * cols + c. The router
is emitted once as its own Verilog module (``tessera_router``) and instantiated R x C times with
``Instance``, so Verilator compiles it once however large the mesh.

All ports are packed vectors so that a testbench touches a handful of signals per cycle:

    ramp_in_{valid,data,ready}   [R*C], [R*C*38], [R*C*colors]   into each router's RAMP input
    ramp_out_{valid,data,ready}  likewise, from each router's RAMP output
    {n,s}_in_*, {n,s}_out_*      [C] links on the north/south edge, index = column
    {w,e}_in_*, {w,e}_out_*      [R] links on the west/east edge, index = row
    cfg_we, cfg_sel, cfg_addr, cfg_data   configuration bus; cfg_sel = router index
    drops [R*C*16], errors [R*C*5]        each router's status
    boundary_overflow [1]                 with dies: OR of every boundary link's sticky overflow flag

With ``die=(DR, DC)`` the routers are grouped into dies of DR x DC; every link between two dies
goes through a ``BoundaryLink`` (hdl/boundary.py) of ``stages`` register stages each way.

The RAMP ports stand in for the PE cores, which the full PE mesh (docs/architecture.md) keeps
inside; this fixture exists to verify routing, not as a product top level.

Interface:
    RouterMesh(rows, cols, profile, die=None, stages=1)    Elaboratable
    emit_router_mesh(rows, cols, profile, die=None, stages=1) -> {filename: verilog text}
    check_die(rows, cols, die) -> (DR, DC) | None          clear errors for a die that does not tile the mesh
    crosses_die(die, a, b) -> bool                          routers a and b sit on different dies
"""

from __future__ import annotations

from amaranth import Cat, ClockSignal, Elaboratable, Instance, Module, ResetSignal, Signal
from amaranth.back import verilog

from .boundary import BoundaryLink, check_stages
from .mesh import EdgeLink, check_mesh_shape
from .profiles import get_profile
from .router import DROP_COUNTER_BITS, Router, RouterError
from .router_config import CFG_ADDR_BITS, CFG_DATA_BITS
from .wavelet import EDGE_SIDES, OPPOSITE, STEP, WAVELET_BITS, Port, side_links

__all__ = ["RouterMesh", "emit_router", "emit_router_mesh", "ROUTER_MODULE", "check_die", "crosses_die"]

ROUTER_MODULE = "tessera_router"


def emit_router(profile="small") -> str:
    return verilog.convert(Router(profile), name=ROUTER_MODULE)


def check_die(rows: int, cols: int, die) -> tuple[int, int] | None:
    """``die`` as (rows, cols) of routers, or None; a ValueError naming the value if it does not tile the mesh."""
    if die is None:
        return None
    try:
        dr, dc = (int(x) for x in die)
    except (TypeError, ValueError):
        raise ValueError(f"die {die!r}: expected (rows, cols)") from None
    if dr < 1 or dc < 1:
        raise ValueError(f"die {dr}x{dc}: both sides must be at least 1")
    if rows % dr or cols % dc:
        raise ValueError(f"die {dr}x{dc} does not divide the {rows}x{cols} mesh "
                         f"({'rows' if rows % dr else 'columns'} {rows if rows % dr else cols} are not a multiple "
                         f"of {dr if rows % dr else dc})")
    return dr, dc


def crosses_die(die, a, b) -> bool:
    return die is not None and (a[0] // die[0] != b[0] // die[0] or a[1] // die[1] != b[1] // die[1])


class RouterMesh(Elaboratable):
    def __init__(self, rows: int, cols: int, profile="small", die=None, stages: int = 1):
        check_mesh_shape(rows, cols)
        self.die = check_die(rows, cols, die)
        self.stages = check_stages(stages)
        self.rows, self.cols = rows, cols
        self.profile = get_profile(profile)
        n, colors = rows * cols, self.profile.colors
        self.ports = {}

        def add(name, width, direction):
            sig = Signal(width, name=name)
            self.ports[name] = (sig, direction)
            return sig

        for group, count in (("ramp", n), *((p.letter, side_links(p, rows, cols)) for p in EDGE_SIDES)):
            add(f"{group}_in_valid", count, "i")
            add(f"{group}_in_data", count * WAVELET_BITS, "i")
            add(f"{group}_in_ready", count * colors, "o")
            add(f"{group}_out_valid", count, "o")
            add(f"{group}_out_data", count * WAVELET_BITS, "o")
            add(f"{group}_out_ready", count * colors, "i")
        add("cfg_we", 1, "i")
        add("cfg_sel", max(1, (n - 1).bit_length()), "i")
        add("cfg_addr", CFG_ADDR_BITS, "i")
        add("cfg_data", CFG_DATA_BITS, "i")
        add("drops", n * DROP_COUNTER_BITS, "o")
        add("errors", n * len(RouterError), "o")
        if self.die is not None:
            add("boundary_overflow", 1, "o")

    def __getattr__(self, name):
        ports = self.__dict__.get("ports", {})
        if name in ports:
            return ports[name][0]
        raise AttributeError(name)

    def _edge(self, r, c, port):
        """The EdgeLink a router port faces, or None if it faces a router."""
        dr, dc = STEP[port]
        rr, cc = r + dr, c + dc
        if 0 <= rr < self.rows and 0 <= cc < self.cols:
            return None
        return EdgeLink.at((r, c), port, self.rows, self.cols)

    def elaborate(self, platform):
        m = Module()
        R, C, colors, W = self.rows, self.cols, self.profile.colors, WAVELET_BITS
        # links[(r, c, port)] = (valid, data, ready) driven by the router (r, c)'s output `port`.
        links = {}
        for r in range(R):
            for c in range(C):
                for p in EDGE_SIDES:
                    links[(r, c, p)] = (Signal(name=f"l{r}_{c}_{p.letter}_valid"),
                                        Signal(W, name=f"l{r}_{c}_{p.letter}_data"),
                                        Signal(colors, name=f"l{r}_{c}_{p.letter}_ready"))

        # A link between dies: the sender drives links[...]; the receiver reads far[...], the far
        # end of a BoundaryLink.
        far = {}
        overflows = []
        for (r, c, p), (v, d, rdy) in links.items():
            dr, dc = STEP[p]
            if not crosses_die(self.die, (r, c), (r + dr, c + dc)) or self._edge(r, c, p) is not None:
                continue
            bl = BoundaryLink(colors, self.stages)
            m.submodules[f"boundary_{r}_{c}_{p.letter}"] = bl
            fv, fd, fr = (Signal(name=f"f{r}_{c}_{p.letter}_valid"), Signal(W, name=f"f{r}_{c}_{p.letter}_data"),
                          Signal(colors, name=f"f{r}_{c}_{p.letter}_ready"))
            m.d.comb += [bl.tx.valid.eq(v), bl.tx.data.as_value().eq(d), rdy.eq(bl.tx.ready),
                         fv.eq(bl.rx.valid), fd.eq(bl.rx.data.as_value()), bl.rx.ready.eq(fr)]
            far[(r, c, p)] = (fv, fd, fr)
            overflows.append(bl.overflow)
        if self.die is not None:
            m.d.comb += self.boundary_overflow.eq(Cat(*overflows).any() if overflows else 0)

        def slot(vec, idx, width):
            return vec[idx * width:(idx + 1) * width]

        for r in range(R):
            for c in range(C):
                i = r * C + c
                ports = {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
                for p in Port:
                    s = p.letter
                    # input side: from the neighbour facing p, from the edge, or from RAMP
                    if p == Port.RAMP:
                        src = (self.ramp_in_valid[i], slot(self.ramp_in_data, i, W),
                               slot(self.ramp_in_ready, i, colors))
                        dst = (self.ramp_out_valid[i], slot(self.ramp_out_data, i, W),
                               slot(self.ramp_out_ready, i, colors))
                    elif (edge := self._edge(r, c, p)) is not None:
                        g, k = edge.side.letter, edge.index  # the edge's port vectors: w_in_valid[k], ...
                        src = (getattr(self, f"{g}_in_valid")[k], slot(getattr(self, f"{g}_in_data"), k, W),
                               slot(getattr(self, f"{g}_in_ready"), k, colors))
                        dst = (getattr(self, f"{g}_out_valid")[k], slot(getattr(self, f"{g}_out_data"), k, W),
                               slot(getattr(self, f"{g}_out_ready"), k, colors))
                    else:
                        dr, dc = STEP[p]
                        key = (r + dr, c + dc, OPPOSITE[p])
                        src = far.get(key, links[key])
                        dst = links[(r, c, p)]
                    ports[f"i_in_{s}__valid"] = src[0]
                    ports[f"i_in_{s}__data"] = src[1]
                    ports[f"o_in_{s}__ready"] = src[2]
                    ports[f"o_out_{s}__valid"] = dst[0]
                    ports[f"o_out_{s}__data"] = dst[1]
                    ports[f"i_out_{s}__ready"] = dst[2]
                ports["i_cfg__we"] = self.cfg_we & (self.cfg_sel == i)
                ports["i_cfg__addr"] = self.cfg_addr
                ports["i_cfg__data"] = self.cfg_data
                ports["o_drops"] = slot(self.drops, i, DROP_COUNTER_BITS)
                ports["o_errors"] = slot(self.errors, i, len(RouterError))
                # the stall bits feed the tile's activity counters; the router-only fixture has none
                ports["o_stalls"] = Signal(len(Port), name=f"stalls_{r}_{c}")
                m.submodules[f"router_{r}_{c}"] = Instance(ROUTER_MODULE, **ports)
        return m

    def top_ports(self):
        return [sig for sig, _ in self.ports.values()]


def emit_router_mesh(rows: int, cols: int, profile="small", top="router_mesh", die=None,
                     stages: int = 1) -> dict[str, str]:
    """Verilog for the mesh: the router module once, plus a top that instantiates it."""
    mesh = RouterMesh(rows, cols, profile, die, stages)
    top_v = verilog.convert(mesh, name=top, ports=mesh.top_ports())
    return {f"{ROUTER_MODULE}.v": emit_router(profile), f"{top}.v": top_v}
