"""The wire between a host engine (sdk/engines/sim.py) and the simulator it drives
(sdk/cosim/sim_server.py): JSON messages over a Unix socket, each preceded by its length (4 bytes,
big-endian). Host-side code: it imports neither cocotb nor a simulator, so ``import sdk`` works where
cocotb is not installed.

    send_msg(sock, obj)     one message
    recv_msg(sock) -> obj   one message, or None when the peer closed the socket
"""

from __future__ import annotations

import json
import struct


def send_msg(sock, obj):
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack(">I", len(data)) + data)


def recv_msg(sock):
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    body = _recv_exact(sock, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)
