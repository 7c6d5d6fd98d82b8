#!/usr/bin/env python3
"""Resident memory per idle connection of a DCE/RPC server (msrpcd).

Opens N TCP connections to HOST:PORT; on each, binds mgmt (NDR20) and makes one
is_server_listening call, then leaves it open and idle. Reads the server's VmRSS from
/proc/PID/status before the first connection and once all N are open and idle, and prints
one JSON line: {"conns": N, "rss_before_kib": ..., "rss_after_kib": ..., "kib_per_conn": ...}.
Bounded: N is at most 50,000, every socket operation has a 10 s timeout, and the script
closes every connection before it exits.

    scripts/idle-rss.py PID HOST PORT N
"""
import json
import socket
import struct
import sys
import time
import uuid

MGMT = uuid.UUID("afa8bd80-7d8a-11c9-bef4-08002b102989")
NDR20 = uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")


def header(ptype, frag_len, call_id):
    # version 5.0, flags first|last, little-endian ASCII IEEE drep, no auth
    return struct.pack("<BBBB4sHHI", 5, 0, ptype, 3, b"\x10\x00\x00\x00", frag_len, 0, call_id)


def bind_pdu():
    ctx = struct.pack("<HBB", 0, 1, 0)
    ctx += MGMT.bytes_le + struct.pack("<HH", 1, 0)
    ctx += NDR20.bytes_le + struct.pack("<I", 2)
    body = struct.pack("<HHIB3x", 5840, 5840, 0, 1) + ctx
    return header(11, 16 + len(body), 1) + body


def request_pdu():
    body = struct.pack("<IHH", 0, 0, 2)  # alloc_hint, context 0, opnum 2 (is_server_listening)
    return header(0, 16 + len(body), 2) + body


def read_pdu(s):
    head = b""
    while len(head) < 16:
        chunk = s.recv(16 - len(head))
        if not chunk:
            raise ConnectionError("closed")
        head += chunk
    frag_len = struct.unpack_from("<H", head, 8)[0]
    rest = b""
    while len(rest) < frag_len - 16:
        chunk = s.recv(frag_len - 16 - len(rest))
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    return head[2]


def main():
    pid, host, port, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if not 1 <= n <= 50_000:
        raise SystemExit("N must be 1..50000")
    bind, req = bind_pdu(), request_pdu()
    # Warm the server's allocator with a few connections that come and go.
    for _ in range(50):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(bind)
        read_pdu(s)
        s.close()
    time.sleep(0.5)
    before = rss_kib(pid)
    conns = []
    try:
        for i in range(n):
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(bind)
            if read_pdu(s) != 12:
                raise SystemExit(f"connection {i}: no bind_ack")
            s.sendall(req)
            if read_pdu(s) != 2:
                raise SystemExit(f"connection {i}: no response")
            conns.append(s)
        time.sleep(1.0)
        after = rss_kib(pid)
    finally:
        for s in conns:
            s.close()
    print(json.dumps({
        "conns": n,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_conn": round((after - before) / n, 2),
    }))


if __name__ == "__main__":
    main()
