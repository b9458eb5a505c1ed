"""The board-independent FPGA core: UART + host bridge + a generated Tessera mesh.

This is what the board top (fpga/top.py) wraps with pins, clock and LEDs, and what the cocotb test
(tb/cocotb_fpga.py) simulates on Verilator with the UART driven at the bit level, so the design on
the board and the design under test are the same Verilog.

The mesh is the generator's Verilog (hdl/mesh.py: ``tessera_mesh`` over one ``tessera_tile``
module, emitted once), instantiated here as a black box; the bridge drives its edge links and reads
its row status and row fault words (``row_fault``: the FAULTS frame's contents). A RESET frame
resets the mesh (and the bridge's output buffers), not the bridge.

Interface (``wiring.Component``, Verilog module ``tessera_fpga_core`` with clk, rst; the mesh is
held in reset for POR_CYCLES after rst or configuration):
    rx       In(1)    serial line from the host (idle high)
    tx       Out(1)   serial line to the host
    running  Out(1)   some PE is not idle
    error    Out(1)   a sticky bridge flag or a row error

    core_sources(rows, cols, profile, divisor, core=True, **bridge_kw) -> {filename: Verilog}
"""

from amaranth import ClockSignal, Instance, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .host_bridge import SIDES, HostBridge
from .mesh import MESH_TOP, mesh_sources
from .profiles import get_profile
from .uart import UARTRx, UARTTx

__all__ = ["TesseraFPGACore", "core_sources", "CORE_MODULE"]

CORE_MODULE = "tessera_fpga_core"
POR_CYCLES = 8


class TesseraFPGACore(wiring.Component):
    rx: In(1, init=1)
    tx: Out(1, init=1)
    running: Out(1)
    error: Out(1)

    def __init__(self, rows: int, cols: int, profile="small", divisor: int = 25, **bridge_kw):
        self.rows, self.cols = rows, cols
        self.profile = get_profile(profile)
        self.divisor = divisor
        # built here so that bad parameters fail before anything is elaborated
        self.bridge = HostBridge(rows, cols, self.profile, **bridge_kw)
        self.uart_rx, self.uart_tx = UARTRx(divisor), UARTTx(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge = br = self.bridge
        m.submodules.uart_rx = urx = self.uart_rx
        m.submodules.uart_tx = utx = self.uart_tx
        m.d.comb += [
            urx.rx.eq(self.rx), self.tx.eq(utx.tx),
            br.uart_error.eq(urx.overrun | urx.framing << 1),
            self.running.eq(br.running), self.error.eq(br.error),
        ]
        wiring.connect(m, urx.stream, br.rx)
        wiring.connect(m, br.tx, utx.stream)
        # The mesh is reset by the domain's reset (absent on FPGA platforms whose sync domain is
        # reset-less: flip-flops take their initial values at configuration), by a short
        # power-on pulse of its own, and by the bridge's RESET command. The reset is registered
        # (no glitches, one short path) and, on an ECP5, put on a global clock network (DCCA):
        # it reaches every flip-flop of the mesh, and as a general-routing net that fanout
        # congests place-and-route.
        por = Signal(range(POR_CYCLES + 1), init=POR_CYCLES)
        with m.If(por != 0):
            m.d.sync += por.eq(por - 1)
        mesh_rst = Signal(init=1)
        m.d.sync += mesh_rst.eq(ResetSignal(allow_reset_less=True) | (por != 0) | br.mesh_rst)
        if platform is not None and getattr(platform, "family", None) == "ecp5":
            mesh_rst_g = Signal()
            m.submodules.mesh_rst_buf = Instance("DCCA", i_CLKI=mesh_rst, i_CE=1, o_CLKO=mesh_rst_g)
            mesh_rst = mesh_rst_g
        ports = {"i_clk": ClockSignal(), "i_rst": mesh_rst,
                 "o_row_err": br.row_err, "o_row_idle": br.row_idle, "o_row_halted": br.row_halted,
                 "o_row_fault": br.row_fault}
        for s in SIDES:
            ports.update({
                f"i_{s}_in_valid": getattr(br, f"{s}_in_valid"), f"i_{s}_in_data": getattr(br, f"{s}_in_data"),
                f"o_{s}_in_ready": getattr(br, f"{s}_in_ready"),
                f"o_{s}_out_valid": getattr(br, f"{s}_out_valid"), f"o_{s}_out_data": getattr(br, f"{s}_out_data"),
                f"i_{s}_out_ready": getattr(br, f"{s}_out_ready"),
            })
        m.submodules.mesh = Instance(MESH_TOP, **ports)
        return m


def core_sources(rows: int, cols: int, profile="small", divisor: int = 25, core: bool = True,
                 **bridge_kw) -> dict:
    """The core's Verilog (top ``tessera_fpga_core``) with the mesh it instantiates."""
    from amaranth.back import verilog

    top = TesseraFPGACore(rows, cols, profile, divisor, **bridge_kw)
    return {f"{CORE_MODULE}.v": verilog.convert(top, name=CORE_MODULE), **mesh_sources(rows, cols, profile, core)}
