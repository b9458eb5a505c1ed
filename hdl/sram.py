"""The PE's banked SRAM: 64-bit rows interleaved over single-ported banks.

``profile.sram_kib`` KiB as ``profile.sram_banks`` banks of 64-bit rows; row r lives in bank
``r % banks`` at bank row ``r // banks`` (banks is a power of two), so a unit-stride stream visits
every bank in turn. Per cycle the SRAM offers two read ports and one write port; each bank performs
at most one access per cycle (single-ported).

Conflict rule (docs/pe.md): per bank, the write port wins, then read port 0, then read port 1; two
reads of the same row share one access (both are granted). A port that is not granted must hold
its request: it stalls, nothing is corrupted or lost. ``stalls`` counts cycles with an ungranted
request.

Interface (``wiring.Component``):
    rd0, rd1   In: req, addr[row bits]      Out: gnt, data[64] (data valid the cycle after gnt)
    wr         In: req, addr, data[64], mask[8] (byte enables)   Out: gnt
    stalls     Out(32)  cycles in which some request was not granted (saturating)

``init`` (optional) is a list of 64-bit row values for simulation backdoor loads.
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["BankedSRAM", "ReadPortSignature", "WritePortSignature", "ROW_BITS"]

ROW_BITS = 64


def ReadPortSignature(addr_bits):
    return wiring.Signature({"req": Out(1), "addr": Out(addr_bits), "gnt": In(1), "data": In(ROW_BITS)})


def WritePortSignature(addr_bits):
    return wiring.Signature({"req": Out(1), "addr": Out(addr_bits), "data": Out(ROW_BITS),
                             "mask": Out(ROW_BITS // 8), "gnt": In(1)})


class BankedSRAM(wiring.Component):
    def __init__(self, kib: int, banks: int, init=None):
        rows = kib * 1024 * 8 // ROW_BITS
        if banks < 1 or banks & (banks - 1) or rows % banks:
            raise ValueError(f"banks={banks} must be a power of two dividing {rows} rows")
        self.kib, self.banks, self.rows = kib, banks, rows
        self.addr_bits = max(1, (rows - 1).bit_length())
        self.init = list(init or [])
        if len(self.init) > rows:
            raise ValueError(f"init has {len(self.init)} rows, the SRAM {rows}")
        super().__init__({
            "rd0": In(ReadPortSignature(self.addr_bits)),
            "rd1": In(ReadPortSignature(self.addr_bits)),
            "wr": In(WritePortSignature(self.addr_bits)),
            "stalls": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        B = self.banks
        bank_bits = (B - 1).bit_length()
        depth = self.rows // B

        def bank_of(addr):
            return addr[:bank_bits] if bank_bits else 0

        def row_of(addr):
            return addr[bank_bits:]

        rd_bank_last = [Signal(range(max(2, B)), name=f"rd{i}_bank_q") for i in range(2)]
        bank_data = []
        gnt_rd0, gnt_rd1, gnt_wr = [], [], []
        for b in range(B):
            init = [self.init[r * B + b] if r * B + b < len(self.init) else 0 for r in range(depth)]
            mem = Memory(shape=ROW_BITS, depth=depth, init=init)
            m.submodules[f"bank{b}"] = mem
            rp = mem.read_port()
            wp = mem.write_port(granularity=8)
            w_hit = self.wr.req & (bank_of(self.wr.addr) == b)
            r0_hit = self.rd0.req & (bank_of(self.rd0.addr) == b)
            r1_hit = self.rd1.req & (bank_of(self.rd1.addr) == b)
            g_w, g_r0, g_r1 = Signal(name=f"g_w{b}"), Signal(name=f"g_r0_{b}"), Signal(name=f"g_r1_{b}")
            same_row = self.rd0.addr == self.rd1.addr
            m.d.comb += [
                g_w.eq(w_hit),
                g_r0.eq(r0_hit & ~w_hit),
                g_r1.eq(r1_hit & ~w_hit & (~r0_hit | same_row)),
                wp.addr.eq(row_of(self.wr.addr)),
                wp.data.eq(self.wr.data),
                wp.en.eq(Mux(g_w, self.wr.mask, 0)),
                rp.addr.eq(Mux(g_r0, row_of(self.rd0.addr), row_of(self.rd1.addr))),
                rp.en.eq(g_r0 | g_r1),
            ]
            gnt_wr.append(g_w)
            gnt_rd0.append(g_r0)
            gnt_rd1.append(g_r1)
            bank_data.append(rp.data)

        m.d.comb += [
            self.wr.gnt.eq(Cat(gnt_wr).any()),
            self.rd0.gnt.eq(Cat(gnt_rd0).any()),
            self.rd1.gnt.eq(Cat(gnt_rd1).any()),
        ]
        # Read data comes from the bank that served the request a cycle ago.
        m.d.sync += [rd_bank_last[0].eq(bank_of(self.rd0.addr)), rd_bank_last[1].eq(bank_of(self.rd1.addr))]
        for i, port in enumerate((self.rd0, self.rd1)):
            sel = bank_data[0]
            for b in range(1, B):
                sel = Mux(rd_bank_last[i] == b, bank_data[b], sel)
            m.d.comb += port.data.eq(sel)

        stalled = ((self.wr.req & ~self.wr.gnt) | (self.rd0.req & ~self.rd0.gnt) | (self.rd1.req & ~self.rd1.gnt))
        with m.If(stalled & (self.stalls != 2**32 - 1)):
            m.d.sync += self.stalls.eq(self.stalls + 1)
        return m
