#!/usr/bin/env python3
"""Seeds the cargo-fuzz corpora from third-party packet captures (read in place, never copied).

Usage: python3 fuzz/seed_corpora.py [CAPTURES_DIR] [--out CORPUS_DIR]

CAPTURES_DIR defaults to ../shared/captures relative to the repository root; CORPUS_DIR to
fuzz/corpus. Standard library only.

What it does, per capture (pcap or pcapng):
  * link layers: Ethernet (with VLAN tags), Linux SLL/SLL2, BSD loopback, raw IPv4/IPv6;
    anything else (and tunnels such as GRE) is skipped and reported;
  * reassembles every TCP connection per direction by sequence number (retransmissions and
    overlaps are dropped, gaps split the stream into contiguous pieces);
  * splits each piece into connection-oriented DCE/RPC PDUs by frag_length (rpc_vers 5,
    ptype < 20), resynchronising after gaps; streams that start with NetBIOS/SMB framing are
    written to smb_stream (both directions as records) instead;
  * tracks presentation contexts per connection (context id -> interface UUID, from bind and
    alter_context, pruned by bind_ack / alter_context_resp) and reassembles fragmented request
    and response stubs per call_id.

Seeds written (file name = sha1 of the content, so reruns are idempotent):
  pdu_decode/     every PDU
  server_stream/  [selector] + the client->server byte stream of each connection (per piece)
  client_stream/  [selector] + the server->client byte stream
  ndr_epm/        [op, drep] + stub, for ept (e1af8308-...) and mgmt (afa8bd80-...) calls
  ndr_echo/       [op, drep] + stub, for rpcecho (60a15ec5-...) calls
  epm_tower/      tower_octet_string contents found in ept stubs
  epm_service/    each connection's ept/mgmt calls as one call sequence (see the target)
  analyze_stream/ [1] + each capture file of at most 69000 bytes (the analyzer's pcap mode), and
                  a few connectionless datagram scripts (selector 2, see cl_scripts)
  smb_stream/     each SMB connection's two directions as records (see the target)
and from the Impacket vectors the repository generates (tests/vectors/impacket/*.hex): pdu_* to
pdu_decode (plus synthetic client and server streams built from them), echo_/epm_/mgmt_ call
stubs to ndr_echo / ndr_epm; and ndr_windows_services from the svcctl and atsvc vectors
tests/tests/samba_ndr_services.rs leaves in target/tmp/samba_ndr_services/ours.

The NDR seed prefix is the one the ndr_* targets read (see fuzz/README.md):
  op byte:   bits 0-4 opnum, bit 5 interface (ndr_epm: 0 = ept, 1 = mgmt), bit 6 response
             (0: the rest is a request stub to dispatch; 1: a u16 little-endian length, the
             request stub of that length, then the response stub to decode against it)
             bit 7 NDR64 (the presentation context's accepted transfer syntax, from the
             bind_ack: Windows' EPM, SAMR, LSARPC... answer in NDR64)
  drep byte: even = little-endian, odd = big-endian
The stream selector byte is the one the *_stream targets read: 0 feeds the stream at once.
"""

import argparse
import hashlib
import os
import re
import struct
import sys
from collections import defaultdict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EPM_UUID = "e1af8308-5d1f-11c9-91a4-08002b14a0fa"
MGMT_UUID = "afa8bd80-7d8a-11c9-bef4-08002b102989"
ECHO_UUID = "60a15ec5-4de8-11d7-a637-005056a20182"

PT_REQUEST, PT_RESPONSE, PT_FAULT = 0, 2, 3
PT_BIND, PT_BIND_ACK, PT_BIND_NAK, PT_ALTER, PT_ALTER_RESP = 11, 12, 13, 14, 15
CO_PTYPES = {0, 2, 3, 11, 12, 13, 14, 15, 16, 17, 18, 19}
PFC_FIRST, PFC_LAST, PFC_OBJECT = 0x01, 0x02, 0x80
AUTH_LEVEL_PRIVACY = 6

TARGETS = ("pdu_decode", "cl_server", "cl_client", "server_stream", "client_stream", "ndr_epm", "ndr_echo", "epm_tower", "epm_service", "analyze_stream",
           "verification_trailer", "audit_args", "audit_epm", "audit_inspect", "audit_dcom", "dcom_objref", "dcom_dualstringarray",
           "dcom_activation_blob", "dcom_orpcthis", "smb_stream", "ndr_windows_services")
IREMOTE_ACTIVATION_UUID = "4d9f4ab8-7d1c-11cf-861e-0020af6e7c57"
ISYSTEM_ACTIVATOR_UUID = "000001a0-0000-0000-c000-000000000046"
# audit_args's interface selectors: the order of msrpc_audit::args::INTERFACES.
AUDIT_ARGS_IFACES = {u: i for i, u in enumerate([
    "12345678-1234-abcd-ef00-0123456789ab", "c681d488-d850-11d0-8c52-00c04fd90f7e",
    "df1941c5-fe89-4e79-bf10-463657acf44d", "4fc742e0-4a10-11cf-8273-00aa004ae673",
    "a8e0653c-2744-4389-a61d-7373df8b2292", "367abb81-9844-35f1-ad32-98f038001003",
    "86d35949-83c9-4044-b424-db363231fd0c", "1ff70682-0a51-30e8-076d-740be8cee98b",
    "12345678-1234-abcd-ef00-01234567cffb", "e3514235-4b06-11d1-ab04-00c04fc2dcd2",
    "3dde7c30-165d-11d1-ab8f-00805f14db40", "12345778-1234-abcd-ef00-0123456789ab",
    "82273fdc-e32a-18c3-3f78-827929dc23ea", "338cd001-2244-31f1-aaaa-900038001003"])}
# audit_dcom's interface selectors (fuzz_targets/audit_dcom.rs).
AUDIT_DCOM_IFACES = {ISYSTEM_ACTIVATOR_UUID: 0, IREMOTE_ACTIVATION_UUID: 1,
                     "99fcfec4-5260-101b-bbcb-00aa0021347a": 2,
                     "00000131-0000-0000-c000-000000000046": 3,
                     "00000143-0000-0000-c000-000000000046": 4}

OP_MGMT = 0x20
OP_RESPONSE = 0x40
OP_NDR64 = 0x80
NDR64_UUID = "71710533-beba-4937-8319-b5dbef9ccc36"


class Stats:
    def __init__(self):
        self.counts = defaultdict(int)
        self.notes = []

    def inc(self, key, n=1):
        self.counts[key] += n


# ---------------------------------------------------------------- capture files


def read_pcap(data, name, stats):
    """Yields (linktype, frame) from a classic pcap file."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return
    if len(data) < 24:
        return
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8 : off + 12])[0]
        off += 16
        if incl > len(data) - off:
            stats.notes.append(f"{name}: truncated record at offset {off - 16}")
            break
        yield linktype, data[off : off + incl]
        off += incl


def read_pcapng(data, name, stats):
    """Yields (linktype, frame) from a pcapng file (SHB, IDB, EPB, SPB, obsolete PB)."""
    off = 0
    e = "<"
    links = []
    while off + 12 <= len(data):
        btype_raw = data[off : off + 4]
        if btype_raw == b"\x0a\x0d\x0d\x0a":
            bom = data[off + 8 : off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        btype, blen = struct.unpack(e + "II", data[off : off + 8])
        if blen < 12 or off + blen > len(data):
            stats.notes.append(f"{name}: bad pcapng block at offset {off}")
            break
        body = data[off + 8 : off + blen - 4]
        if btype == 1 and len(body) >= 2:
            links.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:
            iface, _, _, caplen, _ = struct.unpack(e + "IIIII", body[:20])
            if iface < len(links):
                yield links[iface], body[20 : 20 + caplen]
        elif btype == 3 and len(body) >= 4 and links:
            orig = struct.unpack(e + "I", body[:4])[0]
            yield links[0], body[4 : 4 + orig]
        elif btype == 2 and len(body) >= 20:
            iface = struct.unpack(e + "H", body[:2])[0]
            caplen = struct.unpack(e + "I", body[12:16])[0]
            if iface < len(links):
                yield links[iface], body[20 : 20 + caplen]
        off += blen


# ---------------------------------------------------------------- link and network layers


def strip_link(linktype, frame):
    """Returns (ethertype_or_version, payload) or None when the link type is not handled."""
    if linktype == 1:  # Ethernet
        if len(frame) < 14:
            return None
        et = struct.unpack(">H", frame[12:14])[0]
        off = 14
        while et in (0x8100, 0x88A8, 0x9100) and len(frame) >= off + 4:
            et = struct.unpack(">H", frame[off + 2 : off + 4])[0]
            off += 4
        return et, frame[off:]
    if linktype == 113:  # Linux cooked v1
        if len(frame) < 16:
            return None
        return struct.unpack(">H", frame[14:16])[0], frame[16:]
    if linktype == 276:  # Linux cooked v2
        if len(frame) < 20:
            return None
        return struct.unpack(">H", frame[0:2])[0], frame[20:]
    if linktype in (0, 108):  # BSD loopback / OpenBSD loop: 4-byte family
        if len(frame) < 4:
            return None
        return "ip?", frame[4:]
    if linktype in (12, 14, 101):  # raw IP
        return "ip?", frame
    if linktype == 228:
        return 0x0800, frame
    if linktype == 229:
        return 0x86DD, frame
    return None


def parse_ip(et, pkt):
    """Returns (proto, src, dst, payload, fragmented) or None."""
    if et == "ip?":
        if not pkt:
            return None
        et = 0x0800 if pkt[0] >> 4 == 4 else 0x86DD if pkt[0] >> 4 == 6 else None
    if et == 0x0800:
        if len(pkt) < 20 or pkt[0] >> 4 != 4:
            return None
        ihl = (pkt[0] & 0x0F) * 4
        total = struct.unpack(">H", pkt[2:4])[0]
        frag = struct.unpack(">H", pkt[6:8])[0]
        fragmented = bool(frag & 0x2000) or (frag & 0x1FFF) != 0
        end = min(len(pkt), total) if total >= ihl else len(pkt)
        return pkt[9], pkt[12:16], pkt[16:20], pkt[ihl:end], fragmented
    if et == 0x86DD:
        if len(pkt) < 40:
            return None
        plen = struct.unpack(">H", pkt[4:6])[0]
        nh = pkt[6]
        src, dst = pkt[8:24], pkt[24:40]
        body = pkt[40 : 40 + plen]
        fragmented = False
        while nh in (0, 43, 60, 44) and len(body) >= 8:
            if nh == 44:
                fragmented = True
                nh, body = body[0], body[8:]
            else:
                hl = (body[1] + 1) * 8
                nh, body = body[0], body[hl:]
        return nh, src, dst, body, fragmented
    return None


# ---------------------------------------------------------------- TCP reassembly


class Direction:
    def __init__(self):
        self.isn = None  # sequence number of the first payload byte (SYN + 1)
        self.segments = []  # (seq, payload)
        self.syn = False
        self.fin = False

    def pieces(self):
        """Contiguous pieces of the stream, in order: [(relative offset, bytes)]."""
        if not self.segments:
            return []
        base = self.isn
        if base is None:
            # No SYN seen: the smallest sequence number (mod 2**32, relative to the first one).
            first = self.segments[0][0]

            def signed(seq):
                d = (seq - first) & 0xFFFFFFFF
                return d - 0x100000000 if d >= 0x80000000 else d

            base = min((s for s, _ in self.segments), key=signed)
        rel = []
        for seq, data in self.segments:
            r = (seq - base) & 0xFFFFFFFF
            if r >= 0x80000000:  # before the start: keep what lies after it
                cut = (base - seq) & 0xFFFFFFFF
                if cut >= len(data):
                    continue
                data, r = data[cut:], 0
            rel.append((r, data))
        rel.sort(key=lambda x: (x[0], -len(x[1])))
        pieces = []
        cur_start, cur = None, bytearray()
        for r, data in rel:
            if cur_start is None:
                cur_start, cur = r, bytearray(data)
                continue
            end = cur_start + len(cur)
            if r <= end:
                tail = data[end - r :]
                cur.extend(tail)
            else:
                pieces.append((cur_start, bytes(cur)))
                cur_start, cur = r, bytearray(data)
        if cur_start is not None:
            pieces.append((cur_start, bytes(cur)))
        return pieces


class Conn:
    def __init__(self, key):
        self.key = key  # ((ip, port), (ip, port)) sorted
        self.dirs = {}  # (src endpoint) -> Direction
        self.syn_from = None  # endpoint that sent a bare SYN (the client)
        self.order = []  # endpoints in order of first payload


def tcp_segment(conns, src, dst, tcp, stats):
    if len(tcp) < 20:
        return
    sport, dport, seq = struct.unpack(">HHI", tcp[:8])
    doff = (tcp[12] >> 4) * 4
    flags = tcp[13]
    payload = tcp[doff:]
    a, b = (src, sport), (dst, dport)
    key = tuple(sorted([a, b]))
    conn = conns.get(key)
    if conn is None or (flags & 0x02 and not flags & 0x10 and conn.dirs.get(a) and conn.dirs[a].segments):
        # A new SYN on a used 4-tuple starts a new connection (port reuse).
        if conn is not None:
            conns.setdefault("_closed", []).append(conn)
        conn = Conn(key)
        conns[key] = conn
    d = conn.dirs.setdefault(a, Direction())
    if flags & 0x02:  # SYN
        d.syn = True
        d.isn = (seq + 1) & 0xFFFFFFFF
        if not flags & 0x10:
            conn.syn_from = a
        seq = (seq + 1) & 0xFFFFFFFF
    if flags & 0x01:
        d.fin = True
    if payload:
        if a not in conn.order:
            conn.order.append(a)
        d.segments.append((seq, payload))


# ---------------------------------------------------------------- DCE/RPC framing


def u16(b, off, le):
    return struct.unpack(("<" if le else ">") + "H", b[off : off + 2])[0]


def u32(b, off, le):
    return struct.unpack(("<" if le else ">") + "I", b[off : off + 4])[0]


def header_at(buf, off):
    """frag_length of a plausible connection-oriented PDU header at buf[off:], else None."""
    if off + 16 > len(buf):
        return None
    if buf[off] != 5 or buf[off + 1] > 1 or buf[off + 2] not in CO_PTYPES:
        return None
    drep0 = buf[off + 4]
    if drep0 not in (0x00, 0x10) or buf[off + 5] > 3:
        return None
    le = drep0 >> 4 == 1
    flen = u16(buf, off + 8, le)
    alen = u16(buf, off + 10, le)
    if flen < 16 or alen + 16 > flen:
        return None
    return flen


def split_pdus(piece, resync):
    """Splits a contiguous piece into PDUs. Returns (pdus, first_ok)."""
    pdus = []
    off = 0
    first_ok = header_at(piece, 0) is not None
    if not first_ok and not resync:
        return pdus, False
    while off < len(piece):
        flen = header_at(piece, off)
        if flen is not None and off + flen <= len(piece):
            # After a resync, demand that the next header (if any) is plausible too.
            nxt = off + flen
            if not pdus and off > 0 and nxt < len(piece) and header_at(piece, nxt) is None:
                flen = None
        if flen is None or off + flen > len(piece):
            if flen is not None:
                break  # truncated last PDU (the capture ends, or a gap follows)
            if not resync:
                break
            j = piece.find(b"\x05", off + 1)
            if j < 0:
                break
            off = j
            continue
        pdus.append(piece[off : off + flen])
        off += flen
    return pdus, first_ok


def looks_smb(piece):
    return len(piece) >= 8 and piece[0] == 0 and piece[4:8] in (b"\xfeSMB", b"\xffSMB", b"\xfdSMB")


def uuid_str(b, le=True):
    if len(b) < 16:
        return None
    if le:
        d1, d2, d3 = struct.unpack("<IHH", b[:8])
    else:
        d1, d2, d3 = struct.unpack(">IHH", b[:8])
    r = b[8:16].hex()
    return f"{d1:08x}-{d2:04x}-{d3:04x}-{r[:4]}-{r[4:]}"


def pdu_fields(p):
    le = p[4] >> 4 == 1
    return {
        "ptype": p[2],
        "flags": p[3],
        "le": le,
        "drep": p[4:8],
        "flen": u16(p, 8, le),
        "alen": u16(p, 10, le),
        "call_id": u32(p, 12, le),
    }


def stub_of(p, f, body_off):
    """The stub bytes of a request/response PDU (auth padding and verifier removed), and
    whether it is sealed."""
    end = f["flen"]
    sealed = False
    if f["alen"]:
        trailer = end - f["alen"] - 8
        if trailer < body_off:
            return None, False
        pad = p[trailer + 2]
        sealed = p[trailer + 1] == AUTH_LEVEL_PRIVACY
        end = max(body_off, trailer - pad)
    return p[body_off:end], sealed


def parse_bind(p, f):
    """[(context_id, abstract uuid)] offered by a bind / alter_context."""
    le = f["le"]
    out = []
    if len(p) < 28:
        return out
    n = p[24]
    off = 28
    for _ in range(n):
        if off + 4 + 20 > len(p):
            break
        cid = u16(p, off, le)
        nts = p[off + 2]
        out.append((cid, uuid_str(p[off + 4 : off + 20], le)))
        off += 4 + 20 + 20 * nts
    return out


def parse_bind_ack(p, f):
    """[(result, accepted transfer syntax uuid)] per offered context, in order."""
    le = f["le"]
    if len(p) < 26:
        return None
    sec_len = u16(p, 24, le)
    off = 26 + sec_len
    off += (-off) % 4
    if off + 4 > len(p):
        return None
    n = p[off]
    off += 4
    res = []
    for _ in range(n):
        if off + 24 > len(p):
            break
        res.append((u16(p, off, le), uuid_str(p[off + 4 : off + 20], le)))
        off += 24
    return res


# ---------------------------------------------------------------- seeds


class Writer:
    def __init__(self, out_dir):
        self.out = out_dir
        self.counts = defaultdict(int)
        self.seen = set()

    def write(self, target, data):
        h = hashlib.sha1(data).hexdigest()
        if (target, h) in self.seen:
            return
        self.seen.add((target, h))
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, h)
        if not os.path.exists(path):
            with open(path, "wb") as fh:
                fh.write(data)
        self.counts[target] += 1


def ndr_seed(writer, iface, opnum, drep, stub, request=None, ndr64=False):
    """Writes [op, drep] + stub for a request; for a response (request given),
    [op | 0x40, drep, len(request) as u16 LE] + request + stub. NDR64 stubs set op bit 7."""
    op = opnum & 0x1F
    if iface == MGMT_UUID:
        op |= OP_MGMT
    if ndr64:
        op |= OP_NDR64
    drep_sel = 0 if drep[0] >> 4 == 1 else 1
    target = "ndr_echo" if iface == ECHO_UUID else "ndr_epm"
    if request is None:
        writer.write(target, bytes([op, drep_sel]) + stub)
    elif len(request) <= 0xFFFF:
        seed = bytes([op | OP_RESPONSE, drep_sel]) + struct.pack("<H", len(request)) + request + stub
        writer.write(target, seed)
        if iface == EPM_UUID:
            # audit_epm reads the same layout (epm::interpret of a request and its response).
            writer.write("audit_epm", seed)
    if iface == EPM_UUID:
        for tower in find_towers(stub, drep[0] >> 4 == 1, ndr64):
            writer.write("epm_tower", tower)


def audit_dcom_seed(writer, iface, opnum, drep, request, response=None, ndr64=False):
    """A DCOM call (activation, resolver, IRemUnknown) -> audit_dcom:
    [iface, opnum, flags, len(request) u16 LE] + request + response (flags bit 2: NDR64)."""
    if len(request) > 0xFFFF or opnum > 0xFF:
        return
    flags = (0 if drep[0] >> 4 == 1 else 1) | (2 if response is not None else 0) | (4 if ndr64 else 0)
    writer.write("audit_dcom", bytes([AUDIT_DCOM_IFACES[iface], opnum, flags])
                 + struct.pack("<H", len(request)) + request + (response or b""))


def request_seeds(writer, iface, opnum, drep, stub, ndr64=False):
    """Any unsealed request stub -> verification_trailer ([drep, flags] + stub: a signed
    Windows request ends with one); the operations whose arguments the audit reads ->
    audit_args ([iface, opnum, flags] + stub, flags bit 1 NDR64); DCOM activation requests ->
    audit_inspect ([iface, opnum, drep] + stub, drep bit 1 NDR64)."""
    drep_sel = 0 if drep[0] >> 4 == 1 else 1
    if len(stub) <= 65000:
        writer.write("verification_trailer", bytes([drep_sel, 0]) + stub)
    syn = 2 if ndr64 else 0
    if iface in AUDIT_ARGS_IFACES and opnum <= 0xFF and len(stub) <= 65000:
        writer.write("audit_args", bytes([AUDIT_ARGS_IFACES[iface], opnum, drep_sel | syn]) + stub)
    sel = {IREMOTE_ACTIVATION_UUID: 0, ISYSTEM_ACTIVATOR_UUID: 1}.get(iface)
    if sel is not None and len(stub) <= 65000:
        writer.write("audit_inspect", bytes([sel, opnum & 7, drep_sel | syn]) + stub)
        # Activation requests start with ORPCTHIS.
        writer.write("dcom_orpcthis", bytes([drep_sel]) + stub)
    objref_seeds(writer, stub)


def objref_seeds(writer, stub):
    """OBJREFs inside any unsealed stub (an MInterfacePointer: ulCntData right before the
    "MEOW" signature) -> dcom_objref; an activation OBJREF_CUSTOM's data -> dcom_activation_blob."""
    start = 0
    while True:
        i = stub.find(b"MEOW", start)
        if i < 4:
            if i < 0:
                return
            start = i + 4
            continue
        start = i + 4
        cnt = struct.unpack_from("<I", stub, i - 4)[0]
        if cnt < 24 or i + cnt > len(stub):
            continue
        objref = stub[i:i + cnt]
        writer.write("dcom_objref", objref)
        flags = struct.unpack_from("<I", objref, 4)[0]
        if flags == 4 and len(objref) > 48 and objref[24:26] in (b"\x38\x03", b"\x39\x03"):
            writer.write("dcom_activation_blob", objref[48:])


def synthetic_trailers(writer):
    """verification_trailer seeds built here: the trailer our client sends (BITMASK_1, PCONTEXT,
    HEADER2) after a short stub, both byte orders, and one with an unknown command."""
    magic = bytes([0x8A, 0xE3, 0x13, 0x71, 0x02, 0xF4, 0x36, 0x71])
    ept = bytes.fromhex("0883afe11f5dc91191a408002b14a0fa")
    ndr = bytes.fromhex("045d888aeb1cc9119fe808002b104860")
    for le, drep_sel in ((True, 0), (False, 1)):
        e = "<" if le else ">"
        def syntax(u, major, minor):
            if not le:  # the UUID's first three fields follow the byte order
                u = u[3::-1] + u[5:3:-1] + u[7:5:-1] + u[8:]
            return u + struct.pack(e + "HH", major, minor)
        stub = b"\x01\x02\x03\x04\x05"
        pad = b"\0" * (-len(stub) % 4)
        bm = struct.pack(e + "HHI", 1, 4, 1)
        pc = struct.pack(e + "HH", 2 | 0x8000, 40) + syntax(ept, 3, 0) + syntax(ndr, 2, 0)
        drep = b"\x10\0\0\0" if le else b"\0\0\0\0"
        h2 = struct.pack(e + "HH", 3 | 0x8000 | 0x4000, 16) + b"\0\0\0\0" + drep + struct.pack(e + "IHH", 7, 1, 0)
        writer.write("verification_trailer", bytes([drep_sel, 1]) + stub + pad + magic + bm + pc + h2)
        unk = struct.pack(e + "HH", 9 | 0x4000, 4) + b"abcd"
        writer.write("verification_trailer", bytes([drep_sel, 0]) + stub + pad + magic + pc + unk)


def find_towers(stub, le, ndr64=False):
    """tower_octet_string contents inside an NDR stub: a twr_t is max_count, tower_length (the
    same value N), then N octets starting with a floor count of 1 to 16 (u16 little-endian).
    In NDR64 the max_count is 8 bytes aligned to 8, the tower_length 4."""
    e = "<" if le else ">"
    head, fmt, step = (12, "QI", 8) if ndr64 else (8, "II", 4)
    out = []
    for i in range(0, max(0, len(stub) - head - 2), step):
        n, m = struct.unpack(e + fmt, stub[i : i + head])
        if n == m and 4 <= n <= len(stub) - i - head:
            octets = stub[i + head : i + head + n]
            if 1 <= struct.unpack("<H", octets[:2])[0] <= 16:
                out.append(octets)
    return out


def epm_record(iface, opnum, drep, stub, use_last):
    """One epm_service record: [op, flags, len u16 LE] + stub (local caller, group 1)."""
    op = (opnum & 0x0F) | (0x10 if iface == MGMT_UUID else 0)
    flags = 0x01 | (0x02 if drep[0] >> 4 == 0 else 0) | (0x10 if use_last else 0)
    stub = stub[:0xFFFF]
    return bytes([op, flags]) + struct.pack("<H", len(stub)) + stub


def auth_level_of(pdus):
    """auth_level of the first PDU with a verifier, if any."""
    for p in pdus:
        f = pdu_fields(p)
        if f["alen"] and f["flen"] <= len(p):
            t = f["flen"] - f["alen"] - 8
            if t >= 16:
                return p[t + 1]
    return None


def renumber_for_client(pdus):
    """Server PDUs with call ids renumbered for the client_stream target's client: the first
    bind answer -> 1, responses/faults to the first three calls -> 2, 3, 4, a second bind
    answer (alter_context_resp) -> 5."""
    out = bytearray()
    mapping = {}
    binds = 0
    calls = 0
    for p in pdus:
        f = pdu_fields(p)
        cid = f["call_id"]
        if f["ptype"] in (PT_BIND_ACK, PT_BIND_NAK, PT_ALTER_RESP):
            if cid not in mapping:
                binds += 1
                mapping[cid] = 1 if binds == 1 else 5
        elif f["ptype"] in (PT_RESPONSE, PT_FAULT):
            if cid not in mapping and calls < 3:
                calls += 1
                mapping[cid] = 1 + calls
        new = mapping.get(cid, cid)
        q = bytearray(p)
        q[12:16] = struct.pack("<I" if f["le"] else ">I", new)
        out += q
    return bytes(out[:65536])


def smb_seeds(conn, dir_pieces, writer):
    """smb_stream seeds: the client's pieces then the server's, as records
    [flags, len u16 LE, data] (flags bit 0: server to client; bit 1: a gap before), whole
    (selector 0) and in small chunks (selector 5), cut to 69000 bytes."""
    ends = list(dir_pieces.keys())
    server = next((ep for ep in ends if ep[1] in (139, 445)), None)
    if server is None:
        server = next((ep for ep in ends if ep != conn.syn_from), ends[0])
    out = bytearray()
    for ep in sorted(ends, key=lambda e: e == server):
        to_client = 1 if ep == server else 0
        for i, (_, piece) in enumerate(dir_pieces[ep]):
            for k in range(0, len(piece), 65535):
                part = piece[k:k + 65535]
                gap = 2 if (i > 0 and k == 0) else 0
                out += bytes([to_client | gap]) + struct.pack("<H", len(part)) + part
    out = bytes(out[:69000])
    for sel in (0x00, 0x05):
        writer.write("smb_stream", bytes([sel]) + out)


def process_conn(conn, writer, stats):
    ends = list(conn.dirs.keys())
    # Classify pieces per direction.
    dir_pdus = {}
    dir_pieces = {}
    smb = False
    for ep, d in conn.dirs.items():
        pieces = d.pieces()
        dir_pieces[ep] = pieces
        if pieces and looks_smb(pieces[0][1]):
            smb = True
    if smb:
        stats.inc("SMB TCP connections (smb_stream seeds)")
        smb_seeds(conn, dir_pieces, writer)
        return
    any_rpc = False
    for ep, pieces in dir_pieces.items():
        pdus = []
        for i, (_, piece) in enumerate(pieces):
            got, first_ok = split_pdus(piece, resync=True)
            if i == 0 and not first_ok and len(got) < 2:
                got = []  # not DCE/RPC (or a false match)
            pdus.append((piece, got))
        dir_pdus[ep] = pdus
        if any(g for _, g in pdus):
            any_rpc = True
    if not any_rpc:
        if any(dir_pieces.values()):
            stats.inc("flows skipped: TCP payload that is not DCE/RPC")
        return
    stats.inc("DCE/RPC TCP connections")

    # Which end is the client: the one sending bind/alter/request; else the SYN sender.
    def score(ep):
        s = 0
        for _, g in dir_pdus.get(ep, []):
            for p in g:
                if p[2] in (PT_BIND, PT_ALTER, PT_REQUEST, 16):
                    s += 1
                elif p[2] in (PT_BIND_ACK, PT_RESPONSE, PT_ALTER_RESP, PT_BIND_NAK, PT_FAULT):
                    s -= 1
        return s

    client = max(ends, key=lambda ep: (score(ep), ep == conn.syn_from))
    server = next((ep for ep in ends if ep != client), None)

    for ep, pdus in dir_pdus.items():
        target = "server_stream" if ep == client else "client_stream"
        for piece, got in pdus:
            if not got:
                continue
            # The stream as the peer would receive it, from the first whole PDU on.
            start = piece.find(got[0])
            stream = piece[start:] if start >= 0 else b"".join(got)
            stream = stream[:65536]
            writer.write(target, bytes([0]) + stream)
            level = auth_level_of(got)
            if target == "server_stream":
                # Serve every interface (selector bit 7), so captured calls reach dispatch.
                writer.write(target, bytes([0x80]) + stream)
            else:
                # Call ids renumbered to what the target's client uses; with the toy mechanism
                # when the capture is authenticated (bit 7; bit 6 = privacy).
                sel = 0
                if level is not None and level >= 5:
                    sel = 0xC0 if level == AUTH_LEVEL_PRIVACY else 0x80
                writer.write(target, bytes([sel]) + renumber_for_client(got))
            for p in got:
                writer.write("pdu_decode", p)

    # Interleave both directions' PDUs in capture-independent order: binds first from the client
    # then acks, good enough for context tracking (acks prune, requests are looked up).
    contexts = {}
    pending_bind = []
    calls = {}  # call_id -> (iface, opnum, drep)
    req_frags = {}
    resp_frags = {}
    epm_records = []
    client_pdus = [p for _, g in dir_pdus.get(client, []) for p in g]
    server_pdus = [p for _, g in dir_pdus.get(server, []) for p in g] if server else []
    # Walk binds and acks in order so the ack prunes the matching bind.
    acks = [p for p in server_pdus if p[2] in (PT_BIND_ACK, PT_ALTER_RESP)]
    ack_by_call = {}
    for p in acks:
        f = pdu_fields(p)
        ack_by_call.setdefault(f["call_id"], []).append(p)
    for p in client_pdus:
        f = pdu_fields(p)
        if f["ptype"] in (PT_BIND, PT_ALTER):
            offered = parse_bind(p, f)
            ack = ack_by_call.get(f["call_id"], [])
            results = None
            if ack:
                a = ack.pop(0)
                results = parse_bind_ack(a, pdu_fields(a))
            for i, (cid, iface) in enumerate(offered):
                if results is not None and i < len(results) and results[i][0] != 0:
                    continue
                # The accepted transfer syntax (no answer seen: NDR20, the only one offered
                # by every client).
                ndr64 = results is not None and i < len(results) and results[i][1] == NDR64_UUID
                contexts[cid] = (iface, ndr64)
        elif f["ptype"] == PT_REQUEST:
            if len(p) < 24:
                continue
            le = f["le"]
            cid, opnum = u16(p, 20, le), u16(p, 22, le)
            body = 24 + (16 if f["flags"] & PFC_OBJECT else 0)
            stub, sealed = stub_of(p, f, body)
            if stub is None:
                continue
            iface, ndr64 = contexts.get(cid, (None, False))
            cur = req_frags.setdefault(f["call_id"], [iface, opnum, f["drep"], bytearray(), sealed, ndr64])
            if f["flags"] & PFC_FIRST:
                cur[:] = [iface, opnum, f["drep"], bytearray(), sealed, ndr64]
            cur[3].extend(stub)
            cur[4] = cur[4] or sealed
            if f["flags"] & PFC_LAST:
                iface, opnum, drep, data, sealed, ndr64 = req_frags.pop(f["call_id"])
                calls[f["call_id"]] = (iface, opnum, None if sealed else bytes(data), ndr64)
                if ndr64:
                    stats.inc("ndr stubs in NDR64")
                if not sealed:
                    request_seeds(writer, iface, opnum, drep, bytes(data), ndr64)
                if iface in (EPM_UUID, MGMT_UUID, ECHO_UUID):
                    if sealed:
                        stats.inc("ndr stubs skipped: sealed")
                    else:
                        ndr_seed(writer, iface, opnum, drep, bytes(data), ndr64=ndr64)
                        # epm_service's records are NDR20.
                        if iface in (EPM_UUID, MGMT_UUID) and len(epm_records) < 16 and not ndr64:
                            later = iface == EPM_UUID and opnum in (2, 3, 4, 7) and bool(epm_records)
                            epm_records.append(epm_record(iface, opnum, drep, bytes(data), later))
    if epm_records:
        writer.write("epm_service", b"".join(epm_records))
    for p in server_pdus:
        f = pdu_fields(p)
        if f["ptype"] != PT_RESPONSE or len(p) < 24:
            continue
        stub, sealed = stub_of(p, f, 24)
        if stub is None:
            continue
        cur = resp_frags.setdefault(f["call_id"], [bytearray(), sealed])
        if f["flags"] & PFC_FIRST:
            cur[:] = [bytearray(), sealed]
        cur[0].extend(stub)
        cur[1] = cur[1] or sealed
        if f["flags"] & PFC_LAST:
            data, sealed = resp_frags.pop(f["call_id"])
            call = calls.get(f["call_id"])
            if call and call[0] in (EPM_UUID, MGMT_UUID, ECHO_UUID) and not sealed and call[2] is not None:
                ndr_seed(writer, call[0], call[1], f["drep"], bytes(data), request=call[2], ndr64=call[3])
            if call and call[0] in AUDIT_DCOM_IFACES and not sealed and call[2] is not None:
                audit_dcom_seed(writer, call[0], call[1], f["drep"], call[2], bytes(data), ndr64=call[3])
            if not sealed:
                objref_seeds(writer, bytes(data))


def process_capture(path, writer, stats):
    name = os.path.basename(path)
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        frames = read_pcapng(data, name, stats)
    elif data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        frames = read_pcap(data, name, stats)
    else:
        return False
    conns = {}
    skipped_link = defaultdict(int)
    skipped_proto = defaultdict(int)
    udp_dce = 0
    nframes = 0
    for linktype, frame in frames:
        nframes += 1
        link = strip_link(linktype, frame)
        if link is None:
            skipped_link[linktype] += 1
            continue
        ip = parse_ip(*link)
        if ip is None:
            skipped_proto["non-IP frames"] += 1
            continue
        proto, src, dst, payload, fragmented = ip
        if fragmented:
            skipped_proto["ip fragment"] += 1
            continue
        if proto == 6:
            tcp_segment(conns, src, dst, payload, stats)
        elif proto == 17:
            if len(payload) > 8 and payload[8] == 4:
                udp_dce += 1
            else:
                skipped_proto["udp"] += 1
        elif proto == 47:
            skipped_proto["GRE (tunnel not decapsulated)"] += 1
        else:
            skipped_proto[f"ip proto {proto}"] += 1
    before = dict(writer.counts)
    all_conns = [c for k, c in conns.items() if k != "_closed"] + conns.get("_closed", [])
    for c in all_conns:
        process_conn(c, writer, stats)
    got = {k: writer.counts[k] - before.get(k, 0) for k in writer.counts if writer.counts[k] - before.get(k, 0)}
    msg = f"{name}: {nframes} frames, {len(all_conns)} TCP connections"
    if got:
        msg += ", new seeds " + ", ".join(f"{k}={v}" for k, v in sorted(got.items()))
    else:
        msg += ", no new seeds"
    skips = [f"link type {k}: {v} frames" for k, v in skipped_link.items()]
    skips += [f"{k}: {v} packets" for k, v in skipped_proto.items() if k != "udp"]
    if udp_dce:
        skips.append(f"connectionless DCE/RPC over UDP: {udp_dce} packets")
        stats.inc("connectionless (UDP) DCE/RPC packets skipped", udp_dce)
    if skips:
        msg += " (skipped: " + "; ".join(skips) + ")"
    print(msg)
    return True


ECHO_OPS = {"AddOne": 0, "EchoData": 1, "SinkData": 2, "SourceData": 3, "TestCall": 4,
            "TestCall2": 5, "TestSleep": 6, "TestEnum": 7, "TestSurrounding": 8,
            "TestDoublePointer": 9}
EPM_OPS = {"ept_insert": 0, "ept_delete": 1, "ept_lookup": 2, "ept_map": 3,
           "ept_lookup_handle_free": 4, "ept_inq_object": 5, "ept_mgmt_delete": 6}
MGMT_OPS = {"inq_if_ids": 0, "inq_stats": 1, "is_server_listening": 2,
            "stop_server_listening": 3, "inq_princ_name": 4}


def read_hex(path):
    with open(path, encoding="ascii", errors="replace") as fh:
        h = re.sub(r"\s+", "", fh.read())
    try:
        return bytes.fromhex(h)
    except ValueError:
        return None


# The call cases of tests/tests/samba_ndr_services.rs (its vectors stay in the test's work
# directory, target/tmp/samba_ndr_services/ours, after a run): interface index and opnum in
# ndr_windows_services' layout.
SERVICES_CASES = {
    "svcctl_RCloseServiceHandle": (0, 0), "svcctl_RControlService": (0, 1),
    "svcctl_RDeleteService": (0, 2), "svcctl_RQueryServiceStatus": (0, 6),
    "svcctl_RCreateServiceW": (0, 12), "svcctl_REnumServicesStatusW": (0, 14),
    "svcctl_ROpenSCManagerW": (0, 15), "svcctl_ROpenServiceW": (0, 16),
    "svcctl_RQueryServiceConfigW": (0, 17), "svcctl_RStartServiceW": (0, 19),
    "svcctl_RGetServiceDisplayNameW": (0, 20), "svcctl_RQueryServiceConfig2W": (0, 39),
    "svcctl_RQueryServiceStatusEx": (0, 40), "svcctl_RChangeServiceConfigW": (0, 11),
    "svcctl_RChangeServiceConfigW_dependencies": (0, 11),
    "atsvc_NetrJobAdd": (2, 0), "atsvc_NetrJobDel": (2, 1), "atsvc_NetrJobEnum": (2, 2),
    "atsvc_NetrJobGetInfo": (2, 3),
}


def seed_from_services_vectors(writer, stats):
    """[iface, opnum, drep, len u16 LE] + request + response for ndr_windows_services, from
    the svcctl/atsvc vectors samba_ndr_services.rs leaves behind (none when it has not run)."""
    d = os.path.join(REPO, "target", "tmp", "samba_ndr_services", "ours")
    if not os.path.isdir(d):
        stats.notes.append("ndr_windows_services: no vectors in %s (run the samba_ndr_services test)" % d)
        return
    for name, (iface, opnum) in sorted(SERVICES_CASES.items()):
        for order, drep in (("le", 0), ("be", 1)):
            try:
                with open(os.path.join(d, "%s.in.%s.hex" % (name, order))) as fh:
                    req = bytes.fromhex(fh.read().strip())
                with open(os.path.join(d, "%s.out.%s.hex" % (name, order))) as fh:
                    resp = bytes.fromhex(fh.read().strip())
            except OSError:
                continue
            if len(req) <= 0xFFFF:
                writer.write("ndr_windows_services",
                             bytes([iface, opnum, drep]) + struct.pack("<H", len(req)) + req + resp)


def seed_from_vectors(writer, stats):
    """Seeds from the Impacket vectors in tests/vectors/impacket (generated, in the repo):
    pdu_*.hex -> pdu_decode (and two synthetic streams); echo_/epm_/mgmt_ call stubs ->
    ndr_echo / ndr_epm, responses paired with their request."""
    vec_dir = os.path.join(REPO, "tests", "vectors", "impacket")
    if not os.path.isdir(vec_dir):
        stats.notes.append("no tests/vectors/impacket: no vector seeds")
        return
    vectors = {}
    for fn in sorted(os.listdir(vec_dir)):
        if fn.endswith(".hex") and not fn.endswith(".mask.hex"):
            b = read_hex(os.path.join(vec_dir, fn))
            if b is not None:
                vectors[fn[:-4]] = b
    n = 0
    for name, b in vectors.items():
        if name.startswith("pdu_"):
            writer.write("pdu_decode", b)
            n += 1
    # Synthetic streams from the PDU vectors: what a client sends, what a server answers.
    client_side = [v for k in ("pdu_bind", "pdu_request", "pdu_request_object", "pdu_request_frag1",
                               "pdu_request_frag2", "pdu_co_cancel", "pdu_orphaned",
                               "pdu_alter_context", "pdu_request_ept_map_hept_map")
                   if (v := vectors.get(k)) is not None]
    if client_side:
        for sel in (0x00, 0x80, 0xC5):
            writer.write("server_stream", bytes([sel]) + b"".join(client_side))
        n += 3
    auth_side = [v for k in ("pdu_bind_auth", "pdu_auth3", "pdu_request_auth_integrity")
                 if (v := vectors.get(k)) is not None]
    if auth_side:
        writer.write("server_stream", bytes([0x80]) + b"".join(auth_side))
        n += 1
    server_side = [v for k in ("pdu_bind_ack", "pdu_response", "pdu_fault", "pdu_alter_context_resp",
                               "pdu_shutdown")
                   if (v := vectors.get(k)) is not None]
    if server_side:
        for sel in (0x00, 0x03):
            writer.write("client_stream", bytes([sel]) + b"".join(server_side))
        n += 2
    for name, b in vectors.items():
        m = re.match(r"(echo|epm|mgmt)_(.+?)_(request|response)(.*)$", name)
        if not m:
            continue
        family, op, kind, suffix = m.groups()
        table = {"echo": ECHO_OPS, "epm": EPM_OPS, "mgmt": MGMT_OPS}[family]
        if op not in table:
            continue
        iface = {"echo": ECHO_UUID, "epm": EPM_UUID, "mgmt": MGMT_UUID}[family]
        if kind == "request":
            ndr_seed(writer, iface, table[op], b"\x10\0\0\0", b)
            n += 1
        else:
            req = vectors.get(f"{family}_{op}_request{suffix}", vectors.get(f"{family}_{op}_request"))
            if req is not None:
                ndr_seed(writer, iface, table[op], b"\x10\0\0\0", b, request=req)
                n += 1
    for k in ("epm_tower_tcp", "epm_tower_np"):
        if k in vectors:
            writer.write("epm_tower", vectors[k])
            n += 1
    seq = [("epm_ept_lookup_request", EPM_UUID, 2, False), ("epm_ept_lookup_request", EPM_UUID, 2, True),
           ("epm_ept_map_request", EPM_UUID, 3, False), ("epm_ept_map_request", EPM_UUID, 3, True),
           ("epm_ept_lookup_handle_free_request", EPM_UUID, 4, True),
           ("mgmt_inq_if_ids_request", MGMT_UUID, 0, False), ("mgmt_inq_stats_request", MGMT_UUID, 1, False),
           ("mgmt_inq_princ_name_request", MGMT_UUID, 4, False)]
    recs = [epm_record(iface, op, b"\x10\0\0\0", vectors[k], last) for k, iface, op, last in seq if k in vectors]
    if recs:
        writer.write("epm_service", b"".join(recs))
        n += 1
    stats.notes.append(f"{n} seeds from the Impacket vectors in tests/vectors/impacket")



def cl_datagram(ptype, activity, seqnum, body=b"", flags1=0, fragnum=0, iface=ECHO_UUID, vers=1, opnum=1, le=True):
    """A connectionless PDU (C706 12.5.3.1): the 80-byte header, then the body."""
    import struct
    import uuid as uuidlib
    e = "<" if le else ">"
    u = lambda s: (uuidlib.UUID(s).bytes_le if le else uuidlib.UUID(s).bytes)
    h = bytes([4, ptype, flags1, 0, 0x10 if le else 0, 0, 0, 0])
    h += bytes(16) + u(iface) + u(activity)
    h += struct.pack(e + "IIIHHHHH", 0, vers, seqnum, opnum, 0xFFFF, 0xFFFF, len(body), fragnum)
    h += bytes([0, 0])
    return h + body


def cl_seeds(writer, stats):
    """Seeds cl_server with records [ctl, len u16 LE, datagram]: single and multi-fragment
    requests in both byte orders, pings, acks, facks, cancels, a wrong boot time."""
    act = "11111111-2222-3333-4444-555555555555"
    act2 = "66666666-2222-3333-4444-555555555555"
    rec = lambda ctl, d: bytes([ctl]) + len(d).to_bytes(2, "little") + d
    n = 0
    for le in (True, False):
        one = rec(0x00, cl_datagram(0, act, 1, b"\x05\0\0\0", le=le))
        ping = rec(0x0c, cl_datagram(1, act, 1, le=le))
        ack = rec(0x00, cl_datagram(7, act, 1, le=le))
        writer.write("cl_server", one + ping + ack)
        frags = b"".join(rec(0x00, cl_datagram(0, act2, 1, bytes(300), flags1=0x04 | (0x02 if i == 3 else 0) | (0x08 if i % 2 == 0 else 0), fragnum=i, le=le)) for i in (0, 2, 1, 3))
        writer.write("cl_server", frags + rec(0x14, cl_datagram(1, act2, 1, le=le)))
        idem = rec(0x21, cl_datagram(0, act, 1, bytes(600), flags1=0x20, le=le))
        fack = rec(0x00, cl_datagram(9, act, 1, bytes([1, 0]) + bytes(14), le=le))
        cancel = rec(0x80, cl_datagram(0, act2, 2, bytes(8), le=le)) + rec(0x00, cl_datagram(8, act2, 2, bytes(8), le=le))
        writer.write("cl_server", idem + fack + cancel)
        n += 3
    bad_boot = cl_datagram(0, act, 1, bytes(4))
    bad_boot = bad_boot[:56] + (99).to_bytes(4, "little") + bad_boot[60:]
    writer.write("cl_server", rec(0x02, bad_boot) + rec(0x03, cl_datagram(0, act, 1, bytes(4), iface="00000000-0000-0000-0000-000000000001")))
    stats.notes.append(f"{n + 1} synthetic connectionless seeds for cl_server")
    # cl_client: [selector] + records [ctl, len, datagram] as a server answers (ctl bit 3 puts
    # the call's activity and seqnum in): fack, working, a two-fragment response, a fault, a
    # WAY callback, nocall.
    conv = "333a2276-0000-0000-0d00-00809c000000"
    way = cl_datagram(0, "77777777-2222-3333-4444-555555555555", 1, bytes(16) + bytes(4), iface=conv, vers=3, opnum=1)
    fack = cl_datagram(9, act, 1, bytes([1, 0, 8, 0]) + bytes(8) + bytes([0, 0, 1, 0]) + bytes([2, 0, 0, 0]))
    resp = [cl_datagram(2, act, 1, bytes(120), flags1=0x04 | (0x02 if i else 0), fragnum=i) for i in (0, 1)]
    for sel in (0x00, 0x01, 0x02, 0x06, 0x08):
        body = rec(0x08, fack) + rec(0x08, cl_datagram(4, act, 1)) + rec(0x00, way)
        body += b"".join(rec(0x08, r) for r in resp)
        writer.write("cl_client", bytes([sel]) + body)
        writer.write("cl_client", bytes([sel]) + rec(0x18, cl_datagram(5, act, 1)) + rec(0x08, cl_datagram(3, act, 1, bytes(4))))

def seed_from_dcom_vectors(writer, stats):
    """Seeds the dcom_* targets from tests/vectors/impacket-dcom (gen_dcom_vectors.py): OBJREFs,
    activation blobs, NDR DUALSTRINGARRAYs, and ORPCTHIS (alone and at the start of the ORPC
    request stubs), each ORPCTHIS seed in both drep selectors."""
    vec_dir = os.path.join(REPO, "tests", "vectors", "impacket-dcom")
    if not os.path.isdir(vec_dir):
        stats.notes.append("no tests/vectors/impacket-dcom: no DCOM vector seeds")
        return
    n = 0
    for fn in sorted(os.listdir(vec_dir)):
        if not fn.endswith(".hex") or fn.endswith(".mask.hex"):
            continue
        name, b = fn[:-4], read_hex(os.path.join(vec_dir, fn))
        if b is None:
            continue
        if name in ("remote_create_instance_request", "remote_get_class_object_request"):
            audit_dcom_seed(writer, ISYSTEM_ACTIVATOR_UUID, 4 if "create" in name else 3,
                            b"\x10\0\0\0", b)
        elif name == "remote_activation_request":
            audit_dcom_seed(writer, IREMOTE_ACTIVATION_UUID, 0, b"\x10\0\0\0", b)
        elif name.startswith("rem_") and name.endswith("_request"):
            op = {"rem_query_interface_request": 3, "rem_add_ref_request": 4, "rem_release_request": 5}[name]
            audit_dcom_seed(writer, "00000143-0000-0000-c000-000000000046", op, b"\x10\0\0\0", b)
        resolver = {"server_alive2_response": (5, "server_alive2_request"),
                    "resolve_oxid2_response": (4, "resolve_oxid2_request")}.get(name)
        if resolver:
            req = read_hex(os.path.join(vec_dir, resolver[1] + ".hex")) or b""
            audit_dcom_seed(writer, "99fcfec4-5260-101b-bbcb-00aa0021347a", resolver[0],
                            b"\x10\0\0\0", req, b)
        if name.startswith("objref_") or name.endswith("_objref"):
            writer.write("dcom_objref", b)
        elif name.endswith("_blob"):
            writer.write("dcom_activation_blob", b)
        elif name.startswith("dualstringarray_"):
            writer.write("dcom_dualstringarray", b)
        elif name.startswith("orpcthis_") or name in (
                "remote_create_instance_request", "remote_get_class_object_request",
                "remote_activation_request", "rem_query_interface_request", "rem_add_ref_request",
                "rem_release_request"):
            writer.write("dcom_orpcthis", b"\x00" + b)
        else:
            continue
        n += 1
    stats.notes.append(f"{n} seeds from the Impacket DCOM vectors in tests/vectors/impacket-dcom")


def cl_scripts(writer):
    """analyze_stream's connectionless mode (selector 2): records [flags, ptype, flags1, seqnum,
    fragnum, iface, opnum, len, body] (fuzz_targets/analyze_stream.rs)."""
    def rec(f, ptype, flags1, seq, frag, iface, op, body):
        return bytes([f, ptype, flags1, seq, frag, iface, op, len(body)]) + body
    # an EPM lookup answered in two fragments; the callee's datagrams have flags bit 4
    lookup = (rec(0, 0, 0x20, 1, 0, 0, 2, bytes(40)) + rec(0x10, 2, 0x04, 1, 0, 0, 2, bytes(100))
              + rec(0, 9, 0, 1, 0, 0, 2, bytes(16)) + rec(0x10, 2, 0x06, 1, 1, 0, 2, bytes(30)))
    # the WAY callback (server -> client on activity 1) and its answer, then the call
    way = (rec(0, 0, 0, 1, 0, 3, 4, bytes(60)) + rec(0x11, 0, 0x20, 0, 0, 1, 1, bytes(20))
           + rec(0x01, 2, 0, 0, 0, 1, 1, bytes(24)) + rec(0x10, 2, 0, 1, 0, 3, 4, bytes(8)))
    # Messenger messages from spoofed callers, a fragmented request, a fault and a reject
    spam = b"".join(rec(i << 2, 0, 0, 0, 0, 2, 0, b"A\0" * 20) for i in range(4))
    frags = (rec(0x20, 0, 0x04, 5, 0, 7, 9, bytes(200)) + rec(0x20, 0, 0x06, 5, 2, 7, 9, bytes(10))
             + rec(0x20, 0, 0x04, 5, 1, 7, 9, bytes(200)) + rec(0x30, 3, 0, 5, 0, 7, 9, bytes(4))
             + rec(0x21, 0, 0, 6, 0, 0, 3, bytes(8)) + rec(0x31, 6, 0, 6, 0, 0, 3, bytes(4)))
    for s in (lookup, way, spam, frags):
        writer.write("analyze_stream", b"\x02" + s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("captures", nargs="?", default=os.path.join(os.path.dirname(REPO), "shared", "captures"))
    ap.add_argument("--out", default=os.path.join(REPO, "fuzz", "corpus"))
    args = ap.parse_args()
    if not os.path.isdir(args.captures):
        print(f"no captures directory at {args.captures}; corpora will start empty", file=sys.stderr)
        captures = []
    else:
        captures = sorted(os.listdir(args.captures))
    writer = Writer(args.out)
    stats = Stats()
    for t in TARGETS:
        os.makedirs(os.path.join(args.out, t), exist_ok=True)
    cl_scripts(writer)
    for fn in captures:
        path = os.path.join(args.captures, fn)
        if not os.path.isfile(path):
            continue
        # analyze_stream: selector 1 + the whole capture file (those within libFuzzer's max_len).
        if os.path.getsize(path) <= 69000 and (fn.endswith(".pcap") or fn.endswith(".pcapng") or fn.endswith(".cap")):
            with open(path, "rb") as fh:
                writer.write("analyze_stream", b"\x01" + fh.read())
        try:
            if not process_capture(path, writer, stats):
                print(f"{fn}: not a pcap/pcapng file, skipped")
        except Exception as e:  # a broken capture must not stop the others
            print(f"{fn}: skipped, parse failure: {e!r}")
    from_captures = dict(writer.counts)
    seed_from_vectors(writer, stats)
    seed_from_dcom_vectors(writer, stats)
    seed_from_services_vectors(writer, stats)
    cl_seeds(writer, stats)
    synthetic_trailers(writer)
    print()
    for k, v in sorted(stats.counts.items()):
        print(f"{k}: {v}")
    for n in stats.notes:
        print(n)
    print()
    print("seeds per corpus (this run, deduplicated): from captures + from vectors")
    for t in TARGETS:
        total = len(os.listdir(os.path.join(args.out, t)))
        cap = from_captures.get(t, 0)
        vec = writer.counts.get(t, 0) - cap
        print(f"  {t}: {cap} + {vec} (files in the corpus directory now: {total})")


if __name__ == "__main__":
    main()
