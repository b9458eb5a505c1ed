"""Host side of the bridge protocol (hdl/host_bridge.py, docs/fpga.md): frame encoding and decoding.

Independent of the transport: the cocotb testbench feeds it bytes from a bit-level UART model,
``fpga/host.py`` from a serial port. The wire format itself (command and reply bytes, flags,
STATUS fields, the link byte, sizes) is defined in hdl/bridge_format.py.

Interface:
    link_byte(link), parse_link(byte)    an hdl.mesh.EdgeLink to and from its link byte
                                         (hdl/bridge_format.py)
    inject_frames(link, wavelets, max_bytes)   INJECT frames (bytes) for [(color, payload, ctrl)]
    STATUS_FRAME, RESET_FRAME, FAULTS_FRAME    the one-byte commands
    FrameDecoder().feed(data) -> [frame]   frames: ('wavelet', EdgeLink, (color, payload, ctrl)),
                                           ('ack', EdgeLink, flags), ('status', {field: value}),
                                           ('reset_done',), ('faults', [{field: value} per row])
                                           (fault fields: hdl/fault.py's FAULT paths, e.g.
                                           'valid', 'col', 'pe_status.code', 'router_errors')
    flag_names(flags) -> [str]
    FrameLedger(rx_depth)                  a host's books on one bridge, for the blocking client
        (sdk/engines/bridge.py) and the cocotb one (tb/uart_host.py): .fits(frame), .sent(frame,
        kind) for frames awaiting their reply (their bytes count against the bridge's receive
        FIFO, ``rx_depth``); .feed(bytes) files replies in request order and host-bound wavelets by
        link (.wavelets {EdgeLink: [Wavelet]}, .received, .replies, .acks [(EdgeLink, flags)],
        .errors() [(EdgeLink, [flag name])])
    ProtocolError                          bytes from the board that are not a frame, or a reply
                                           that does not match the request it answers (a DeviceError)
"""

import math
from collections import defaultdict, deque

from hdl.bridge_format import (
    FAULT_BYTES,
    STATUS_FIELDS,
    WAVELET_BYTES,
    Cmd,
    Flag,
    Reply,
    faults_length,
    link_byte,
    parse_link,
)
from hdl.fault import FAULT, FAULT_BITS
from hdl.mesh import EdgeLink
from hdl.wavelet import pack_wavelet, unpack_wavelet

from ..errors import DeviceError

__all__ = ["link_byte", "parse_link", "inject_frames", "wavelet_bytes", "STATUS_FRAME", "RESET_FRAME",
           "FAULTS_FRAME", "FrameDecoder", "FrameLedger", "flag_names", "ProtocolError",
           "max_wavelets_per_frame"]

STATUS_FRAME = bytes([Cmd.STATUS])
RESET_FRAME = bytes([Cmd.RESET])
FAULTS_FRAME = bytes([Cmd.FAULTS])


class ProtocolError(DeviceError):
    """Bytes from the board that are not a frame of docs/fpga.md, or a reply out of turn."""


def wavelet_bytes(color: int, payload: int, ctrl: int) -> bytes:
    return pack_wavelet(color, payload, ctrl).to_bytes(WAVELET_BYTES, "little")


def max_wavelets_per_frame(max_bytes: int) -> int:
    """Wavelets in one INJECT frame that fits ``max_bytes`` (the bridge's receive FIFO)."""
    return max(1, min(255, (max_bytes - 3) // WAVELET_BYTES))


def inject_frames(link: EdgeLink, wavelets, max_bytes: int = 512):
    """INJECT frames into edge link ``link`` for ``wavelets`` [(color, payload, ctrl)], each at most
    ``max_bytes`` long."""
    lb = link_byte(link)
    per = max_wavelets_per_frame(max_bytes)
    wavelets = list(wavelets)
    out = []
    for k in range(0, len(wavelets), per):
        chunk = wavelets[k:k + per]
        out.append(bytes([Cmd.INJECT, lb, len(chunk)]) + b"".join(wavelet_bytes(*w) for w in chunk))
    return out


def flag_names(flags: int):
    return [f.name for f in Flag if flags >> f & 1]


class FrameDecoder:
    """Incremental decoder of board -> host frames."""

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data) -> list:
        self._buf += bytes(data)
        frames = []
        while self._buf:
            kind = self._buf[0]
            if kind == Reply.WAVELET:
                need = 2 + WAVELET_BYTES
            elif kind == Reply.ACK:
                need = 3
            elif kind == Reply.RESET_DONE:
                need = 1
            elif kind in (Reply.STATUS, Reply.FAULTS):
                if len(self._buf) < 2:
                    break
                need = 2 + (self._buf[1] if kind == Reply.STATUS else faults_length(self._buf[1]))
            else:
                raise ProtocolError(f"unknown frame byte {kind:#04x} from the board")
            if len(self._buf) < need:
                break
            f = bytes(self._buf[:need])
            del self._buf[:need]
            frames.append(self._decode(f))
        return frames

    @staticmethod
    def _decode(f: bytes):
        kind = f[0]
        if kind == Reply.WAVELET:
            return ("wavelet", parse_link(f[1]), unpack_wavelet(int.from_bytes(f[2:], "little")))
        if kind == Reply.ACK:
            return ("ack", parse_link(f[1]), f[2])
        if kind == Reply.RESET_DONE:
            return ("reset_done",)
        if kind == Reply.FAULTS:
            rows = []
            for r in range(f[1]):
                v = int.from_bytes(f[2 + r * FAULT_BYTES:2 + (r + 1) * FAULT_BYTES], "little")
                if v >> FAULT_BITS:
                    raise ProtocolError(f"FAULTS frame: row {r}'s word {v:#x} has bits beyond {FAULT_BITS}")
                rows.append(FAULT.unpack(v))
            return ("faults", rows)
        body = f[2:]
        rows = body[1]
        nb = math.ceil(rows / 8)
        st, pos = {}, 0
        for name, n in STATUS_FIELDS:
            n = nb if n is None else n
            v = int.from_bytes(body[pos:pos + n], "little")
            pos += n
            st[name] = [v >> r & 1 for r in range(rows)] if name.startswith("row_") else v
        if pos != len(body):
            raise ProtocolError(f"STATUS frame of {len(body)} bytes, expected {pos} for {rows} rows")
        return ("status", st)


class FrameLedger:
    def __init__(self, rx_depth: int = 16):
        self.rx_depth = rx_depth  # until the first STATUS says more: every frame sent first is tiny
        self.decoder = FrameDecoder()
        self.pending = deque()  # (bytes, expected reply kind), in send order
        self.in_flight = 0
        self.replies, self.acks = [], []
        self.wavelets = defaultdict(list)
        self.received = 0

    def fits(self, frame: bytes) -> bool:
        if len(frame) > self.rx_depth:
            raise ValueError(f"a {len(frame)}-byte frame can never fit the {self.rx_depth}-byte window")
        return self.in_flight + len(frame) <= self.rx_depth

    def sent(self, frame: bytes, kind: str):
        self.in_flight += len(frame)
        self.pending.append((len(frame), kind))

    def feed(self, data) -> int:
        """File the frames in ``data``; returns how many were decoded."""
        frames = self.decoder.feed(data)
        for f in frames:
            if f[0] == "wavelet":
                self.wavelets[f[1]].append(f[2])
                self.received += 1
                continue
            if not self.pending:
                raise ProtocolError(f"unsolicited reply from the board: {f}")
            n, kind = self.pending.popleft()
            if f[0] != kind:
                raise ProtocolError(f"expected a {kind} reply, got {f}")
            self.in_flight -= n
            self.replies.append(f)
            if kind == "ack":
                self.acks.append(f[1:])
        return len(frames)

    def errors(self) -> list:
        return [(link, flag_names(f)) for link, f in self.acks if f]
