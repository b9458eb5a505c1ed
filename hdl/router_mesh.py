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

The RAMP ports stand in for the PE cores, which the full PE mesh (docs/architecture.md) keeps
inside; this fixture exists to verify routing, not as a product top level.

Interface:
    RouterMesh(rows, cols, profile)    Elaboratable
    emit_router_mesh(rows, cols, profile) -> {filename: verilog text}
"""

from __future__ import annotations

from amaranth import ClockSignal, Elaboratable, Instance, Module, ResetSignal, Signal
from amaranth.back import verilog

from .mesh import check_mesh_shape
from .profiles import get_profile
from .router import DROP_COUNTER_BITS, Router, RouterError
from .router_config import CFG_ADDR_BITS, CFG_DATA_BITS
from .wavelet import EDGE_SIDES, OPPOSITE, STEP, WAVELET_BITS, Port

__all__ = ["RouterMesh", "emit_router", "emit_router_mesh", "ROUTER_MODULE"]

ROUTER_MODULE = "tessera_router"


def emit_router(profile="small") -> str:
    return verilog.convert(Router(profile), name=ROUTER_MODULE)


class RouterMesh(Elaboratable):
    def __init__(self, rows: int, cols: int, profile="small"):
        check_mesh_shape(rows, cols)
        self.rows, self.cols = rows, cols
        self.profile = get_profile(profile)
        n, colors = rows * cols, self.profile.colors
        self.ports = {}

        def add(name, width, direction):
            sig = Signal(width, name=name)
            self.ports[name] = (sig, direction)
            return sig

        for group, count in (("ramp", n), ("n", cols), ("s", cols), ("w", rows), ("e", rows)):
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

    def __getattr__(self, name):
        ports = self.__dict__.get("ports", {})
        if name in ports:
            return ports[name][0]
        raise AttributeError(name)

    def _edge(self, r, c, port):
        """(group, index) of the mesh-edge link a router port faces, or None if it faces a router."""
        dr, dc = STEP[port]
        rr, cc = r + dr, c + dc
        if 0 <= rr < self.rows and 0 <= cc < self.cols:
            return None
        return port.letter, (c if port in (Port.N, Port.S) else r)

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
                        g, k = edge
                        src = (getattr(self, f"{g}_in_valid")[k], slot(getattr(self, f"{g}_in_data"), k, W),
                               slot(getattr(self, f"{g}_in_ready"), k, colors))
                        dst = (getattr(self, f"{g}_out_valid")[k], slot(getattr(self, f"{g}_out_data"), k, W),
                               slot(getattr(self, f"{g}_out_ready"), k, colors))
                    else:
                        dr, dc = STEP[p]
                        src = links[(r + dr, c + dc, OPPOSITE[p])]
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
                m.submodules[f"router_{r}_{c}"] = Instance(ROUTER_MODULE, **ports)
        return m

    def top_ports(self):
        return [sig for sig, _ in self.ports.values()]


def emit_router_mesh(rows: int, cols: int, profile="small", top="router_mesh") -> dict[str, str]:
    """Verilog for the mesh: the router module once, plus a top that instantiates it."""
    mesh = RouterMesh(rows, cols, profile)
    top_v = verilog.convert(mesh, name=top, ports=mesh.top_ports())
    return {f"{ROUTER_MODULE}.v": emit_router(profile), f"{top}.v": top_v}
