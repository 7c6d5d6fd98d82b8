#!/usr/bin/env python3
"""The amplification factor msrpcd allows an unverified UDP source (issue 15): from addresses
that never answer the conversation callback (a spoofer's victim sees what comes back), sends
each kind of datagram N times and counts the bytes the server sends back. Datagrams are built
with scapy's DceRpc4 (PyPI scapy, in target/venv).

usage: cl-amplification.py SERVER_IP EPM_PORT ECHO_PORT [N]
Prints a markdown table: kind, bytes in, bytes out, factor (target <= 1.0).
"""
import socket
import struct
import sys
import time
import uuid

from scapy.layers.dcerpc import DceRpc4
from scapy.packet import Raw

ip, epm_port, echo_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
n = int(sys.argv[4]) if len(sys.argv) > 4 else 200
ECHO = uuid.UUID("60a15ec5-4de8-11d7-a637-005056a20182")
EPM = uuid.UUID("e1af8308-5d1f-11c9-91a4-08002b14a0fa")
IDEMPOTENT = 0x20
lookup = struct.pack("<IIII", 0, 0, 0, 1) + bytes(20) + struct.pack("<I", 500)
echo_data = struct.pack("<II", 8000, 8000) + bytes(8000)

kinds = [
    ("AddOne (non-idempotent, 84-byte request)", echo_port,
     lambda a, s: DceRpc4(ptype=0, if_id=ECHO, act_id=a, seqnum=s, opnum=0) / Raw(b"\1\0\0\0")),
    ("ept_lookup max 500 (idempotent, answer larger than the request)", epm_port,
     lambda a, s: DceRpc4(ptype=0, flags1=IDEMPOTENT, if_id=EPM, if_vers=3, act_id=a, seqnum=s, opnum=2) / Raw(lookup)),
    ("EchoData 8000 B, idempotent flag forged (answer of 6 fragments)", echo_port,
     lambda a, s: DceRpc4(ptype=0, flags1=IDEMPOTENT, if_id=ECHO, act_id=a, seqnum=s, opnum=1) / Raw(b"")),
    ("ping of an unknown call", echo_port,
     lambda a, s: DceRpc4(ptype=1, if_id=ECHO, act_id=a, seqnum=s)),
]

print("| datagrams from a source that never answers the callback | sent | bytes in | bytes out | out / in (target <= 1.0) |")
print("|---|---|---|---|---|")
worst = 0.0
for i, (name, port, make) in enumerate(kinds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((f"127.0.6.{80 + i}", 0))
    s.setblocking(False)
    bytes_in = bytes_out = 0
    for k in range(n):
        act = uuid.uuid4() if k % 4 == 0 or name.startswith("ping") else act
        b = bytes(make(act, k + 1))
        if name.startswith("EchoData"):
            # a one-fragment request of 8008 stub bytes (UDP takes it on loopback)
            b = bytes(DceRpc4(ptype=0, flags1=IDEMPOTENT, if_id=ECHO, act_id=act, seqnum=k + 1, opnum=1) / Raw(echo_data))
        s.sendto(b, (ip, port))
        bytes_in += len(b)
        time.sleep(0.002)
        try:
            while True:
                bytes_out += len(s.recv(70000))
        except BlockingIOError:
            pass
    end = time.time() + 4.0  # callbacks' retransmissions (4 x 0.5 s) and rejects
    while time.time() < end:
        try:
            bytes_out += len(s.recv(70000))
        except BlockingIOError:
            time.sleep(0.01)
    f = bytes_out / bytes_in
    worst = max(worst, f)
    print(f"| {name} | {n} | {bytes_in} | {bytes_out} | {f:.3f} |")
print()
print(f"Largest factor: {worst:.3f} ({'met' if worst <= 1.0 else 'NOT met'}: target <= 1.0)")
sys.exit(0 if worst <= 1.0 else 1)
