"""The PE's load-bus decoder and the zeroing sweep.

Role
----
Decodes the write-only load bus (address map in hdl/loadmap.py and docs/pe.md) into one write
strobe per target: the instruction memory, the SRAM (through the arbiter's load port, which always
wins), the task table, the color bindings and the DSR presets. A CTRL write sets RUN, pulses
CLEAR (all state but the memories back to reset, this cycle) and starts the ZERO sweep, which
writes 0 to every instruction word and SRAM row, one of each per cycle; ``clearing`` is high until
it is done. A load-bus write in the same cycle as the sweep wins over it.

Interface (``LoadDecoder(imem_words, sram_rows, row_bits)``, ``wiring.Component``, domain ``sync``)
---------------------------------------------------------------------------------------------------
bus       In(LoadSignature)              we, addr[20] (LoadRegion, index), data[32]
imem      Out(ImemWriteSignature)        en, addr, data: the instruction memory's write port
sram      Out(WritePortSignature)        req, addr (row), data, mask: to the SRAM arbiter
task      Out(TaskWriteSignature)        we, index (task ID), data (TaskWord)
bind      Out(BindWriteSignature)        we, index (color), data (BindWord)
dsr       Out(DsrWriteSignature)         we, index (DSR), half (0: bits 31:0, 1: bits 63:32), data
run       Out(1)                         Ctrl.RUN as last written (the scheduler may start tasks)
clear     Out(1)                         Ctrl.CLEAR written this cycle
clearing  Out(1)                         the zeroing sweep is running
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..isa import TASK_BITS
from ..loadmap import BindWord, Ctrl, LoadAddr, LoadRegion, LoadSignature, TaskWord
from ..sram import WritePortSignature
from ..wavelet import COLOR_BITS

__all__ = ["LoadDecoder", "ImemWriteSignature", "TaskWriteSignature", "BindWriteSignature", "DsrWriteSignature"]


def ImemWriteSignature(words: int) -> wiring.Signature:
    return wiring.Signature({"en": Out(1), "addr": Out(range(words)), "data": Out(32)})


TaskWriteSignature = wiring.Signature({"we": Out(1), "index": Out(TASK_BITS), "data": Out(TaskWord)})
BindWriteSignature = wiring.Signature({"we": Out(1), "index": Out(COLOR_BITS), "data": Out(BindWord)})
DsrWriteSignature = wiring.Signature({"we": Out(1), "index": Out(4), "half": Out(1), "data": Out(32)})


class LoadDecoder(wiring.Component):
    def __init__(self, imem_words: int, sram_rows: int, row_bits: int):
        self.imem_words = imem_words
        self.sram_rows = sram_rows
        self.row_bits = row_bits
        super().__init__({
            "bus": In(LoadSignature),
            "imem": Out(ImemWriteSignature(imem_words)),
            "sram": Out(WritePortSignature(row_bits)),
            "task": Out(TaskWriteSignature),
            "bind": Out(BindWriteSignature),
            "dsr": Out(DsrWriteSignature),
            "run": Out(1),
            "clear": Out(1),
            "clearing": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ld = self.bus
        addr = data.View(LoadAddr, ld.addr)
        region, la = addr.region, addr.index
        imem, sram = self.imem, self.sram
        rows, words, RB = self.sram_rows, self.imem_words, self.row_bits

        # zeroing sweep: one instruction word and one SRAM row per cycle
        span = max(rows, words)
        zero_cnt = Signal(range(span + 1))
        zeroing = Signal()
        m.d.comb += [imem.en.eq(0), imem.addr.eq(la), imem.data.eq(ld.data), self.clearing.eq(zeroing)]
        with m.If(zeroing):
            m.d.comb += [imem.en.eq(zero_cnt < words), imem.addr.eq(zero_cnt), imem.data.eq(0),
                         sram.req.eq(zero_cnt < rows), sram.addr.eq(zero_cnt), sram.data.eq(0), sram.mask.eq(0xFF)]
            m.d.sync += zero_cnt.eq(zero_cnt + 1)
            with m.If(zero_cnt == span - 1):
                m.d.sync += zeroing.eq(0)

        # writes of the load bus (after the sweep: they win over it)
        m.d.comb += [
            self.task.we.eq(ld.we & (region == LoadRegion.TASK)), self.task.index.eq(la[:TASK_BITS]),
            self.task.data.eq(ld.data),
            self.bind.we.eq(ld.we & (region == LoadRegion.BIND)), self.bind.index.eq(la[:COLOR_BITS]),
            self.bind.data.eq(ld.data),
            self.dsr.we.eq(ld.we & (region == LoadRegion.DSR)), self.dsr.index.eq(la[1:5]), self.dsr.half.eq(la[0]),
            self.dsr.data.eq(ld.data),
        ]
        with m.If(ld.we):
            with m.Switch(region):
                with m.Case(LoadRegion.IMEM):
                    m.d.comb += [imem.en.eq(1), imem.addr.eq(la), imem.data.eq(ld.data)]
                with m.Case(LoadRegion.SRAM):  # 32-bit word la at byte address la * 4
                    m.d.comb += [sram.req.eq(1), sram.addr.eq(la[1:1 + RB]), sram.data.eq(Cat(ld.data, ld.data)),
                                 sram.mask.eq(Mux(la[0], 0xF0, 0x0F))]
                with m.Case(LoadRegion.CTRL):
                    m.d.sync += self.run.eq((ld.data & Ctrl.RUN).any())
                    m.d.comb += self.clear.eq((ld.data & Ctrl.CLEAR).any())
                    with m.If((ld.data & Ctrl.ZERO).any()):
                        m.d.sync += [zeroing.eq(1), zero_cnt.eq(0)]
        return m
