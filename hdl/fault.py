"""The fault report: which tile of a row has an error, and what it is, visible at the mesh edge.

Each tile passes a ``FaultInfo`` word from its west neighbour to its east neighbour, registered:
a tile forwards the word it received when that word is valid, and otherwise reports itself when it
has an error (a PE status code, a router error flag, or a malformed management header). The east
end of every row is a mesh-top output (``row_fault``), so the host reads, per row, the
westernmost faulty tile's column, PE status word (code, task, PC), router error flags and loader
error, at most C cycles after the error (one register per tile; a tile in column c takes C - c),
through O(rows) ports and with no traffic on the fabric. The chain is built by hdl/tile.py and
hdl/mesh.py (and in C++ by sdk/builds/native_mesh.cpp); the FPGA bridge returns the words in a
FAULTS frame (hdl/bridge_format.py); docs/mesh.md has the bit map.

Interface:
    FaultInfo      lib.data layout: valid, col, pe_status (hdl.isa.Status), router_errors
                   (hdl.router.RouterError bits), mgmt_error
    FAULT_BITS     its width
    FAULT          Packer for host-side decoding
"""

from __future__ import annotations

from amaranth.lib import data

from .isa import Status
from .mgmt import COL_BITS
from .packing import Packer
from .router import RouterError

__all__ = ["FaultInfo", "FAULT_BITS", "FAULT"]

FaultInfo = data.StructLayout({
    "valid": 1,
    "col": COL_BITS,
    "pe_status": Status,
    "router_errors": len(RouterError),
    "mgmt_error": 1,
})
FAULT_BITS = FaultInfo.size
FAULT = Packer(FaultInfo)
