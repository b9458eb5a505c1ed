"""Formal harness of the host bridge's frame decoder (hdl/host_bridge.py), for SymbiYosys.

The bridge is instantiated for a 1 x 1 mesh with the smallest buffers and timeout it accepts
(``rx_depth`` 16, ``out_depth`` 2, ``timeout`` 16 cycles). Every input is free in every cycle
(``AnySeq``): the received bytes, the UART error pulses, the mesh's output links and row status,
except two, which model a host and a mesh that do not themselves stop the bridge: the host takes
every reply byte (``tx.ready`` high) and the mesh's edge input links are ready on every color (an
INJECT frame's wavelet enters the cycle it is presented). Without them the decoder waits, as the
flow control requires (the fault "hang" shows the check catching that wait).

Harness (``HARNESSES``):
    bridge  k-induction, for every byte stream:
            (a) header hunting: in IDLE the decoder takes every byte the receive FIFO offers;
            (b) no hang: a byte waiting at the head of the receive FIFO is taken within
                ``HOLD_BOUND`` = RESET_CYCLES + L + 2 cycles (L = the longest reply, a STATUS
                frame: the worst wait is a RESET frame, then its reply behind a STATUS reply);
            (c) back to hunting: after ``IDLE_BOUND`` = timeout + L + 5 cycles with the receive
                FIFO empty the decoder is in IDLE (a frame cut short is abandoned after ``timeout``
                cycles and its ACK sent).
            Together: when the input stops, the at most ``rx_depth`` buffered bytes are taken within
            rx_depth x (HOLD_BOUND + 1) cycles, and IDLE follows within IDLE_BOUND more.
            Helpers rank every state by the cycles it can still take (the reply timer ``timer``,
            the reset timer, the transmitter's bytes left ``flen`` and FAULTS rows left), and tie
            ``reply_pending`` to the REPLY state.

``fault="hang"`` holds ``tx.ready`` low (a host that never reads): a reply never leaves, and (b)
must fail.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Cover
from amaranth.lib import wiring

from hdl.bridge_format import FAULT_BYTES, status_length
from hdl.host_bridge import RESET_CYCLES, SIDES, HostBridge

from .common import elaborate

__all__ = ["HARNESSES", "FAULTS", "MODEL", "harness", "HOLD_BOUND", "IDLE_BOUND"]

ROWS, COLS, RX_DEPTH, OUT_DEPTH, TIMEOUT = 1, 1, 16, 2, 16
MODEL = f"HostBridge {ROWS}x{COLS}, rx_depth {RX_DEPTH}, out_depth {OUT_DEPTH}, timeout {TIMEOUT}"
#: the longest reply frame (STATUS: its code and length bytes, then status_length)
L = 2 + status_length(ROWS)
HOLD_BOUND = RESET_CYCLES + L + 2
IDLE_BOUND = TIMEOUT + L + 5


class Bridge(wiring.Component):
    """No ports: every stimulus is ``AnySeq`` or tied."""

    def __init__(self, fault=None):
        self.fault = fault
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        b = HostBridge(ROWS, COLS, "small", rx_depth=RX_DEPTH, out_depth=OUT_DEPTH, timeout=TIMEOUT)
        m.submodules.dut, d, module = elaborate(b, platform)
        rxq = module._named_submodules["rxq"][0]
        # free inputs, but a host that reads and a mesh that accepts
        m.d.comb += [b.rx.valid.eq(AnySeq(1)), b.rx.payload.eq(AnySeq(8)), b.uart_error.eq(AnySeq(2)),
                     b.row_err.eq(AnySeq(ROWS)), b.row_idle.eq(AnySeq(ROWS)), b.row_halted.eq(AnySeq(ROWS)),
                     b.row_fault.eq(AnySeq(len(b.row_fault))),
                     b.tx.ready.eq(0 if self.fault == "hang" else 1)]
        for s in SIDES:
            m.d.comb += [getattr(b, f"{s}_out_valid").eq(AnySeq(b.links(s))),
                         getattr(b, f"{s}_out_data").eq(AnySeq(len(getattr(b, f"{s}_out_data")))),
                         getattr(b, f"{s}_in_ready").eq(-1)]

        state = d["fsm_state"]
        code = {state.decoder(v).split("/")[0]: v for v in range(1 << len(state))
                if "/" in str(state.decoder(v))}
        st = {name: state == v for name, v in code.items()}
        timer, rst_timer, pending = d["timer"], d["rst_timer"], d["reply_pending"]
        flen, rows_left = d["flen"], d["fault_rows"]

        hold = Signal(range(HOLD_BOUND + 2))  # cycles a byte has waited at the FIFO's head
        m.d.sync += hold.eq(Mux(rxq.r_rdy & ~rxq.r_en, Mux(hold == HOLD_BOUND + 1, hold, hold + 1), 0))
        empty = Signal(range(IDLE_BOUND + 1))  # cycles the FIFO has been empty (saturating)
        m.d.sync += empty.eq(Mux(rxq.r_rdy, 0, Mux(empty == IDLE_BOUND, empty, empty + 1)))
        m.d.comb += [
            Assert(~st["IDLE"] | rxq.r_en),  # (a)
            Assert(hold <= HOLD_BOUND),  # (b)
            Assert((empty < IDLE_BOUND) | st["IDLE"]),  # (c)
        ]

        if self.fault:  # a fault run is a BMC: it needs no helpers, and must fail (b) itself
            return m
        # helpers: the transmitter's work left, in cycles, before a pending reply goes out
        backlog = Signal(range(L + (FAULT_BYTES + 1) * ROWS + 1))
        m.d.comb += backlog.eq(flen + (FAULT_BYTES + 1) * rows_left)
        waiting = st["LINK"] | st["COUNT"] | st["DATA"]
        m.d.comb += [Assert(backlog <= L), Assert(rows_left <= ROWS),
                     Assert(~pending | st["REPLY"]),
                     Assert(~waiting | (timer <= TIMEOUT)),
                     Assert(~st["RESET"] | ((rst_timer >= 1) & (rst_timer <= RESET_CYCLES)))]
        reply = Mux(pending, backlog + 2, 1)  # cycles until IDLE from REPLY
        # (b)'s ranking: cycles until the decoder next takes a byte
        to_take = Signal(range(HOLD_BOUND + 1))
        # (c)'s ranking: cycles until IDLE with no byte arriving
        to_idle = Signal(range(IDLE_BOUND + 1))
        with m.If(st["REPLY"]):
            m.d.comb += [to_take.eq(reply), to_idle.eq(reply)]
        with m.If(st["RESET"]):
            m.d.comb += [to_take.eq(rst_timer + L + 2), to_idle.eq(rst_timer + L + 2)]
        with m.If(st["ABANDON"]):
            m.d.comb += [to_take.eq(L + 3), to_idle.eq(L + 3)]
        with m.If(st["SEND"]):
            m.d.comb += [to_take.eq(L + 3), to_idle.eq(TIMEOUT + L + 5)]
        with m.If(waiting):
            m.d.comb += to_idle.eq(TIMEOUT - timer + L + 4)
        m.d.comb += [Assert(hold + to_take <= HOLD_BOUND), Assert(empty + to_idle <= IDLE_BOUND)]
        m.d.comb += Cover(st["ABANDON"])
        return m


#: name -> (harness class, mode, depth, what it proves)
HARNESSES = {
    "bridge": (Bridge, "prove", 2, f"frame decoder never hangs: IDLE takes every byte; a waiting byte is "
               f"taken within {HOLD_BOUND} cycles; {IDLE_BOUND} cycles with the receive FIFO empty "
               f"end in IDLE"),
}
#: fault kind -> (harness, BMC depth of its counterexample)
FAULTS = {"hang": ("bridge", HOLD_BOUND + 8)}


def harness(name: str, fault: str | None = None):
    return HARNESSES[name][0](fault=fault)
