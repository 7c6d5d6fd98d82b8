#!/usr/bin/env python3
"""Hostile connectionless datagrams, built with scapy's DceRpc4 (PyPI `scapy`, software we did
not write), against an msrpcd serving rpcecho over UDP.

usage: cases.py SERVER_IP EPM_PORT ECHO_PORT SOURCE_PREFIX

SOURCE_PREFIX is the first three octets of the loopback addresses the cases send from (each
case has its own address: SOURCE_PREFIX.60 + n). Prints one JSON object per case:
{"case", "ok", "detail", "bytes_in", "bytes_out"} (bytes counted at the case's source: what it
sent and what it received) and exits 1 if a case failed. Every expected answer is the
protocol's (C706 chapters 10 and 12.5, docs/connectionless.md); silence is expected where the
spec (or the anti-reflection rule) says so.
"""
import json
import socket
import struct
import sys
import time
import uuid

from scapy.layers.dcerpc import DceRpc4
from scapy.packet import Raw

ECHO = uuid.UUID("60a15ec5-4de8-11d7-a637-005056a20182")
CONV = uuid.UUID("333a2276-0000-0000-0d00-00809c000000")
REQUEST, PING, RESPONSE, FAULT, WORKING, NOCALL, REJECT, ACK, CL_CANCEL, FACK, CANCEL_ACK = range(11)
F_LASTFRAG, F_FRAG, F_NOFACK, F_MAYBE, F_IDEMPOTENT, F_BROADCAST = 0x02, 0x04, 0x08, 0x10, 0x20, 0x40
NCA_S_WRONG_BOOT_TIME = 0x1C010006
NCA_S_UNK_IF = 0x1C010003
NCA_S_OP_RNG_ERROR = 0x1C010002

server_ip, epm_port, echo_port, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
results = []


class Peer:
    """A UDP socket on its own loopback address; counts bytes both ways."""

    def __init__(self, n, answer_way=True):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((f"{prefix}.{60 + n}", 0))
        self.bytes_in = 0   # what we sent the server
        self.bytes_out = 0  # what the server sent us
        self.answer_way = answer_way
        self.seq = {}

    def send(self, pkt, port=None):
        b = bytes(pkt)
        self.bytes_in += len(b)
        self.s.sendto(b, (server_ip, port or echo_port))
        return b

    def recv_all(self, seconds):
        """Every datagram within `seconds` (answering WAY callbacks when asked to)."""
        out = []
        end = time.time() + seconds
        while True:
            left = end - time.time()
            if left <= 0:
                return out
            self.s.settimeout(left)
            try:
                b, frm = self.s.recvfrom(70000)
            except socket.timeout:
                return out
            self.bytes_out += len(b)
            p = DceRpc4(b)
            if p.ptype == REQUEST and p.if_id == CONV:
                if self.answer_way:
                    self.way(p, b, frm)
                else:
                    out.append(p)
                continue
            out.append(p)

    def until(self, pred, seconds=5.0):
        """Datagrams until one satisfies `pred` (or the time is up)."""
        got = []
        end = time.time() + seconds
        while time.time() < end:
            got += self.recv_all(min(0.2, end - time.time()))
            if any(pred(p) for p in got):
                break
        return got

    def way(self, p, raw, frm):
        stub = raw[80:80 + p.len]
        le = p.endian == 1
        actuid = uuid.UUID(bytes_le=stub[:16]) if le else uuid.UUID(bytes=stub[:16])
        seq = self.seq.get(actuid, 0)
        body = struct.pack("<I", seq) + bytes(16) + struct.pack("<I", 0)
        r = DceRpc4(ptype=RESPONSE, if_id=CONV, act_id=p.act_id, seqnum=p.seqnum, opnum=p.opnum,
                    if_vers=3, endian=1) / Raw(body)
        b = bytes(r)
        self.bytes_in += len(b)
        self.s.sendto(b, frm)


def request(act, seq, opnum, stub, flags=0, fragnum=0, boot=0, iface=ECHO, endian=1, ver=1):
    return DceRpc4(ptype=REQUEST, flags1=flags, if_id=iface, act_id=act, seqnum=seq, opnum=opnum,
                   fragnum=fragnum, server_boot=boot, endian=endian, if_vers=ver) / Raw(stub)


def status(p):
    raw = bytes(p)
    body = raw[80:84]
    return struct.unpack("<I" if p.endian == 1 else ">I", body)[0] if len(body) == 4 else None


def stub_of(p):
    return bytes(p)[80:80 + p.len]


def case(name, ok, detail, peer):
    results.append({"case": name, "ok": bool(ok), "detail": detail,
                    "bytes_in": peer.bytes_in, "bytes_out": peer.bytes_out})


def add_one(n, endian=1):
    return struct.pack("<I" if endian == 1 else ">I", n)


# 1. A duplicated request (non-idempotent AddOne): the call runs once and is answered with its
#    result, after the WAY callback (answered). Both byte orders.
for i, endian in enumerate((1, 0)):
    peer = Peer(i)
    act = uuid.uuid4()
    peer.seq[act] = 1
    peer.send(request(act, 1, 0, add_one(41, endian), endian=endian))
    peer.send(request(act, 1, 0, add_one(41, endian), endian=endian))
    got = peer.until(lambda p: p.ptype == RESPONSE and p.act_id == act)
    got += peer.recv_all(1.5)
    resp = [p for p in got if p.ptype == RESPONSE and p.act_id == act]
    want = add_one(42, endian)
    peer.send(DceRpc4(ptype=ACK, if_id=ECHO, act_id=act, seqnum=1, endian=endian))
    case(f"duplicate-request-{'le' if endian else 'be'}",
         resp and all(stub_of(p) == want for p in resp),
         f"{len(resp)} responses, stubs {[stub_of(p).hex() for p in resp]}", peer)

# 2. Fragments out of order (2, 0, 1): reassembled, answered with the echo.
peer = Peer(2)
act = uuid.uuid4()
peer.seq[act] = 1
data = bytes(range(256)) * 12  # 3072 bytes
stub = struct.pack("<I", len(data)) + struct.pack("<I", len(data)) + data
parts = [stub[:1100], stub[1100:2200], stub[2200:]]
for n in (2, 0, 1):
    flags = F_FRAG | F_NOFACK | (F_LASTFRAG if n == 2 else 0)
    peer.send(request(act, 1, 1, parts[n], flags=flags, fragnum=n))
got = peer.until(lambda p: p.ptype == RESPONSE and p.act_id == act and (p.flags1 & F_LASTFRAG or not p.flags1 & F_FRAG), 8)
frags = {}
for p in got:
    if p.ptype == RESPONSE and p.act_id == act:
        frags[p.fragnum] = stub_of(p)
echoed = b"".join(frags[k] for k in sorted(frags))
case("fragments-out-of-order", echoed[4:4 + len(data)] == data,
     f"{len(frags)} response fragments, {len(echoed)} bytes", peer)
peer.send(DceRpc4(ptype=ACK, if_id=ECHO, act_id=act, seqnum=1))

# 3. A missing fragment: fragment 2 asks for a fack; the fack acknowledges 0 and (selectively)
#    2; a ping gets a nocall with the same; fragment 1 completes the call.
peer = Peer(3)
act = uuid.uuid4()
peer.seq[act] = 1
peer.send(request(act, 1, 1, parts[0], flags=F_FRAG | F_NOFACK, fragnum=0))
peer.send(request(act, 1, 1, parts[2], flags=F_FRAG | F_LASTFRAG, fragnum=2))
got = peer.until(lambda p: p.ptype == FACK, 3)
fack = [p for p in got if p.ptype == FACK]
def selack_bits(p):
    body = stub_of(p)
    n = struct.unpack("<H", body[14:16])[0] if len(body) >= 16 else 0
    return [struct.unpack("<I", body[16 + 4 * i:20 + 4 * i])[0] for i in range(n)]
fack_ok = bool(fack) and fack[0].fragnum == 0 and selack_bits(fack[0])[:1] == [0b10]
peer.send(DceRpc4(ptype=PING, if_id=ECHO, act_id=act, seqnum=1))
got = peer.until(lambda p: p.ptype == NOCALL, 3)
nocall = [p for p in got if p.ptype == NOCALL]
nocall_ok = bool(nocall) and nocall[0].fragnum == 0 and selack_bits(nocall[0])[:1] == [0b10]
peer.send(request(act, 1, 1, parts[1], flags=F_FRAG | F_NOFACK, fragnum=1))
got = peer.until(lambda p: p.ptype == RESPONSE and p.act_id == act, 8)
case("fragment-missing-then-sent", fack_ok and nocall_ok and any(p.ptype == RESPONSE for p in got),
     f"fack {[(p.fragnum, selack_bits(p)) for p in fack]}, nocall {[(p.fragnum, selack_bits(p)) for p in nocall]}, "
     f"answers {[p.ptype for p in got]}", peer)

# 4. A wrong boot time: rejected with nca_s_wrong_boot_time.
peer = Peer(4)
act = uuid.uuid4()
peer.send(request(act, 1, 0, add_one(1), boot=0x12345678, flags=F_IDEMPOTENT))
got = peer.until(lambda p: p.ptype == REJECT, 3)
rej = [status(p) for p in got if p.ptype == REJECT]
case("wrong-boot-time", rej == [NCA_S_WRONG_BOOT_TIME], f"rejects {[hex(s) for s in rej]}", peer)

# 5. An unknown interface: rejected with nca_s_unk_if.
peer = Peer(5)
peer.send(request(uuid.uuid4(), 1, 0, bytes(8), iface=uuid.UUID(int=7), flags=F_IDEMPOTENT))
got = peer.until(lambda p: p.ptype == REJECT, 3)
rej = [status(p) for p in got if p.ptype == REJECT]
case("unknown-interface", rej == [NCA_S_UNK_IF], f"rejects {[hex(s) for s in rej]}", peer)

# 6. A spoofed source that never answers the WAY callback: the call never runs (no
#    response), and the server never sends that address more bytes than it received.
peer = Peer(6, answer_way=False)
for i in range(20):
    peer.send(request(uuid.uuid4(), 1, 0, add_one(i)))
    time.sleep(0.02)
got = peer.recv_all(4.0)
types = sorted(set(p.ptype for p in got))
case("spoofed-source-never-answers-way",
     peer.bytes_out <= peer.bytes_in and not any(p.ptype == RESPONSE for p in got),
     f"received types {types}; amplification {peer.bytes_out}/{peer.bytes_in} = "
     f"{peer.bytes_out / peer.bytes_in:.3f}", peer)

# 7. Truncated and oversized headers, another version, broadcast: silence.
peer = Peer(7)
good = bytes(request(uuid.uuid4(), 1, 0, add_one(1), flags=F_IDEMPOTENT))
bad = [good[:40], good[:79],
       good[:74] + struct.pack("<H", 65000) + good[76:],   # len beyond the datagram
       bytes([5]) + good[1:],                                # rpc_vers 5 on UDP
       good + b"trailing",                                   # bytes after the body, no auth
       bytes(request(uuid.uuid4(), 1, 0, add_one(1), flags=F_BROADCAST | F_IDEMPOTENT)),
       bytes(65000)]
for b in bad:
    peer.bytes_in += len(b)
    peer.s.sendto(b, (server_ip, echo_port))
got = peer.recv_all(1.5)
case("truncated-oversized-and-broadcast-are-dropped", not got, f"answers {[p.ptype for p in got]}", peer)

# 8. An opnum out of range: rejected with nca_s_op_rng_error (idempotent: no callback).
peer = Peer(8)
peer.send(request(uuid.uuid4(), 1, 77, bytes(16), flags=F_IDEMPOTENT))
got = peer.until(lambda p: p.ptype == REJECT, 3)
rej = [status(p) for p in got if p.ptype == REJECT]
case("opnum-out-of-range", rej == [NCA_S_OP_RNG_ERROR], f"rejects {[hex(s) for s in rej]}", peer)

# 9. The endpoint mapper over UDP still answers a well-formed idempotent ept_lookup; its answer
#    is larger than the request, so the server proves the address with a WAY callback first.
peer = Peer(9)
act = uuid.uuid4()
peer.seq[act] = 1
lookup = struct.pack("<IIII", 0, 0, 0, 1) + bytes(20) + struct.pack("<I", 1)
peer.send(request(act, 1, 2, lookup, flags=F_IDEMPOTENT,
                  iface=uuid.UUID("e1af8308-5d1f-11c9-91a4-08002b14a0fa"), ver=3), port=epm_port)
got = peer.until(lambda p: p.ptype == RESPONSE, 5)
case("epm-lookup-still-answers", any(p.ptype == RESPONSE for p in got), f"answers {[p.ptype for p in got]}", peer)

failed = 0
for r in results:
    print(json.dumps(r))
    failed += not r["ok"]
sys.exit(1 if failed else 0)
