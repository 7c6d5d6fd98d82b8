#!/usr/bin/env python3
"""Misbehaving DCE/RPC clients for scripts/load.sh (standard library only, loopback only).

  slow HOST PORT       sends half a bind PDU, then nothing; prints when the server closes
  silent HOST PORT     connects and never sends; prints when the server closes
  noread HOST PORT     binds rpcecho, asks SourceData(4 MiB) several times, reads nothing
                       for --wait s, then reads: the stream must end before every answer
  killmid EPMHOST EPMPORT ECHOPORT N
                       holds N endpoint-mapper lookup handles (ept_lookup, max_ents 1) and
                       one rpcecho TestSleep call in progress, prints "ready", then waits to
                       be killed (kill -9)

Every mode is bounded by --max seconds (default 60). A closing mode prints one JSON line,
{"mode": ..., "closed": true|false, "seconds": S, "how": ...}, and exits 0 only when the
server closed the connection within --max. The PDUs are built from C706 (connection-oriented
header, bind, request) and MS-RPCE; nothing here comes from another implementation.
"""

import argparse
import json
import socket
import struct
import sys
import time
import uuid

NDR20 = (uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860"), 2, 0)
EPM = (uuid.UUID("e1af8308-5d1f-11c9-91a4-08002b14a0fa"), 3, 0)
RPCECHO = (uuid.UUID("60a15ec5-4de8-11d7-a637-005056a20182"), 1, 0)

PTYPE_REQUEST, PTYPE_RESPONSE, PTYPE_FAULT, PTYPE_BIND, PTYPE_BIND_ACK = 0, 2, 3, 11, 12
FIRST_LAST = 0x03


def header(ptype, body_len, call_id):
    # rpc_vers 5, minor 0, type, flags, drep (little-endian, ASCII, IEEE), frag_length,
    # auth_length, call_id.
    return struct.pack("<BBBB4sHHI", 5, 0, ptype, FIRST_LAST, b"\x10\0\0\0", 16 + body_len, 0, call_id)


def syntax(s):
    u, major, minor = s
    return u.bytes_le + struct.pack("<HH", major, minor)


def bind_pdu(abstract, call_id=1):
    body = struct.pack("<HHIB3x", 5840, 5840, 0, 1)
    body += struct.pack("<HBB", 0, 1, 0) + syntax(abstract) + syntax(NDR20)
    return header(PTYPE_BIND, len(body), call_id) + body


def request_pdu(opnum, stub, call_id):
    body = struct.pack("<IHH", len(stub), 0, opnum) + stub
    return header(PTYPE_REQUEST, len(body), call_id) + body


def recv_exact(s, n, deadline):
    out = b""
    while len(out) < n:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed by the server")
        out += chunk
    return out


def recv_pdu(s, deadline):
    h = recv_exact(s, 16, deadline)
    frag_len = struct.unpack_from("<H", h, 8)[0]
    if frag_len < 16:
        raise ValueError("bad frag_length")
    return h[2], h + recv_exact(s, frag_len - 16, deadline)


def bind(s, abstract, deadline):
    s.sendall(bind_pdu(abstract))
    ptype, _ = recv_pdu(s, deadline)
    if ptype != PTYPE_BIND_ACK:
        raise RuntimeError(f"bind answered with PDU type {ptype}")


def call(s, opnum, stub, call_id, deadline):
    s.sendall(request_pdu(opnum, stub, call_id))
    ptype, pdu = recv_pdu(s, deadline)
    if ptype != PTYPE_RESPONSE:
        raise RuntimeError(f"call answered with PDU type {ptype}")
    return pdu[24:]


def connect(host, port):
    return socket.create_connection((host, port), timeout=10)


def wait_closed(s, deadline):
    """Waits (reading and discarding) until the server closes; returns how, or None."""
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, min(0.5, deadline - time.monotonic())))
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return "reset"
        if not data:
            return "fin"
    return None


def report(mode, t0, how, extra=None):
    line = {"mode": mode, "closed": how is not None, "seconds": round(time.monotonic() - t0, 3), "how": how}
    line.update(extra or {})
    print(json.dumps(line), flush=True)
    return 0 if how is not None else 1


def mode_slow(a):
    s = connect(a.host, a.port)
    pdu = bind_pdu(EPM)
    s.sendall(pdu[: len(pdu) // 2])
    t0 = time.monotonic()
    return report("slow", t0, wait_closed(s, t0 + a.max), {"sent": len(pdu) // 2, "of": len(pdu)})


def mode_silent(a):
    s = connect(a.host, a.port)
    t0 = time.monotonic()
    return report("silent", t0, wait_closed(s, t0 + a.max))


def mode_noread(a):
    s = connect(a.host, a.port)
    # A small receive buffer, so the server's writes block soon.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    deadline = time.monotonic() + a.max
    bind(s, RPCECHO, deadline)
    # SourceData (opnum 3) of 4 MiB each: the answers are far more than the socket buffers.
    stub = struct.pack("<I", 4 * 1024 * 1024)
    for call_id in range(2, 2 + a.calls):
        s.sendall(request_pdu(3, stub, call_id))
    t0 = time.monotonic()
    # Read nothing for --wait seconds (the server's writes block and its send timeout runs
    # out), then read what is buffered: a server that gave up ends the stream long before
    # all the answers arrived. (Its FIN cannot reach a zero window earlier.)
    time.sleep(min(a.wait, a.max))
    expected = a.calls * (4 * 1024 * 1024)
    got = 0
    how = None
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, min(1.0, deadline - time.monotonic())))
        try:
            data = s.recv(1 << 20)
        except socket.timeout:
            continue
        except ConnectionResetError:
            how = "reset"
            break
        if not data:
            how = "fin"
            break
        got += len(data)
    if how is not None and got >= expected:
        how = None  # every answer arrived: nothing was cut
    return report("noread", t0, how, {"requests": a.calls, "read_after_wait": got, "answers_bytes": expected})


def mode_killmid(a):
    deadline = time.monotonic() + a.max
    epm = connect(a.host, a.port)
    bind(epm, EPM, deadline)
    handles = 0
    for i in range(a.handles):
        # ept_lookup (opnum 2): inquiry_type 0 (all), object NULL, Ifid NULL, vers_option 1,
        # entry_handle NULL (20 zero bytes), max_ents 1.
        stub = struct.pack("<IIII", 0, 0, 0, 1) + b"\0" * 20 + struct.pack("<I", 1)
        out = call(epm, 2, stub, 2 + i, deadline)
        if out[:20] != b"\0" * 20:
            handles += 1
    echo = connect(a.host, a.echo_port)
    bind(echo, RPCECHO, deadline)
    # TestSleep (opnum 6) for longer than we live.
    echo.sendall(request_pdu(6, struct.pack("<I", int(a.max) + 30), 2))
    print(json.dumps({"mode": "killmid", "ready": True, "handles": handles}), flush=True)
    while time.monotonic() < deadline:
        time.sleep(0.2)
    return 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max", type=float, default=60.0, help="seconds this client lives at most")
    sub = p.add_subparsers(dest="mode", required=True)
    for m in ("slow", "silent", "noread"):
        q = sub.add_parser(m)
        q.add_argument("host")
        q.add_argument("port", type=int)
        if m == "noread":
            q.add_argument("--calls", type=int, default=8)
            q.add_argument("--wait", type=float, default=5.0, help="seconds without reading")
    q = sub.add_parser("killmid")
    q.add_argument("host")
    q.add_argument("port", type=int)
    q.add_argument("echo_port", type=int)
    q.add_argument("handles", type=int)
    a = p.parse_args()
    a.max = min(max(a.max, 1.0), 600.0)
    return {"slow": mode_slow, "silent": mode_silent, "noread": mode_noread, "killmid": mode_killmid}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
