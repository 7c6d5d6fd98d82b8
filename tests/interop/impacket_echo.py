#!/usr/bin/env python3
"""Calls every rpcecho operation on a server with Impacket's DCE/RPC client (software we did not
write) and checks every answer against Samba's server semantics
(source4/rpc_server/echo/rpc_echo.c, librpc/idl/echo.idl).

    impacket_echo.py [--epm-port N] [--frag N] HOST [PORT]

With PORT: connects to ncacn_ip_tcp:HOST[PORT]. Without: asks the endpoint mapper on HOST
(port 135, or --epm-port) with Impacket's epm.hept_map, which exercises the server's ept_map.
Prints one line per check ("PASS ..." / "FAIL ...") and a summary; exits 1 on any mismatch,
2 on a usage error.

Checks (rpcecho 60a15ec5-4de8-11d7-a637-005056a20182 v1.0, NDR20, little-endian):
  AddOne(x) = x+1 (also 0xffffffff -> 0); EchoData returns its bytes (20000 bytes, sent in
  --frag-byte fragments, answered in several); SinkData; SourceData(n) byte i = i & 0xff;
  TestCall s2 = s1; TestCall2 levels 1..7 (1:v=10, 2:v=20, 3:v=30, 4:v=40, 5:v1=50,v2=60,
  6:v1=70,info1.v=80, 7:v1=80,info4.v=90, NTSTATUS 0); TestSleep(1) returns 1 after >= 1 s;
  TestEnum returns its arguments with foo2.e1 set to ECHO_ENUM2 (both union arms);
  TestSurrounding doubles x and returns x zeros; TestDoublePointer returns ***data, 0 when the
  inner or the outer pointer is NULL; an unknown opnum faults with nca_s_op_rng_error
  (0x1c010002) and the association stays usable.

Unions. Impacket's NDRUNION pads the discriminant to 4 bytes before the arm (see
tests/vectors/impacket/MANIFEST.md); Samba and Windows NDR20 align the arm to its own
alignment. The two agree when the arm is 4- or 8-aligned and disagree for a 1- or 2-aligned
arm (TestCall2 levels 1, 2 and 6, TestEnum's ECHO_ENUM1 arm), where Impacket's stock classes
would send or expect the wrong bytes. So this script builds/decodes every union-bearing stub
byte by byte with the NDR20 rules below (class Ndr20), and in addition parses the responses with
Impacket's own classes where Impacket's layout is the NDR20 one (TestCall2 levels 3, 4, 5, 7;
TestEnum's ECHO_ENUM2 arm), requiring both readings to agree.
"""

import argparse
import os
import struct
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
# The rpcecho NDRCALL classes, declared with Impacket's NDR types and checked byte for byte
# against tests/vectors/impacket by scripts/test.sh.
sys.path.insert(0, os.path.join(REPO, "tools", "impacket-vectors"))

try:
    from impacket.dcerpc.v5 import epm, transport
    from impacket.dcerpc.v5.dtypes import NULL
    from impacket.dcerpc.v5.rpcrt import DCERPCException
    from impacket.uuid import uuidtup_to_bin

    import gen_vectors as echo  # noqa: E402  (rpcecho classes)
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit("FAIL: Impacket is not importable (%s); scripts/test.sh installs it into target/venv" % e)

ECHO_UUID = "60a15ec5-4de8-11d7-a637-005056a20182"
ECHO_IF = uuidtup_to_bin((ECHO_UUID, "1.0"))
NCA_S_OP_RNG_ERROR = 0x1C010002
PTYPE_FAULT = 3


class Mismatch(Exception):
    pass


def expect(what, got, want):
    if got != want:
        raise Mismatch("%s: got %r, want %r" % (what, got, want))


class Ndr20:
    """Reads NDR20 little-endian scalars; alignment is relative to the stub start."""

    def __init__(self, data):
        self.b = bytes(data)
        self.o = 0

    def align(self, n):
        self.o = (self.o + n - 1) // n * n

    def _take(self, fmt, size):
        self.align(size)
        if self.o + size > len(self.b):
            raise Mismatch(
                "stub too short: needs %d bytes at offset %d, has %d (stub %s)"
                % (size, self.o, len(self.b), self.b.hex())
            )
        (v,) = struct.unpack_from(fmt, self.b, self.o)
        self.o += size
        return v

    def u8(self):
        return self._take("<B", 1)

    def u16(self):
        return self._take("<H", 2)

    def u32(self):
        return self._take("<I", 4)

    def u64(self):
        return self._take("<Q", 8)

    def end(self):
        if self.o != len(self.b):
            raise Mismatch(
                "stub has %d bytes after the last [out] value (decoded %d of %d: %s)"
                % (len(self.b) - self.o, self.o, len(self.b), self.b.hex())
            )


class Pad:
    """Writes NDR20 little-endian scalars with zero alignment gaps."""

    def __init__(self):
        self.b = bytearray()

    def put(self, fmt, align, v):
        while len(self.b) % align:
            self.b.append(0)
        self.b += struct.pack(fmt, v)
        return self

    def u16(self, v, align=2):
        return self.put("<H", align, v)

    def u32(self, v):
        return self.put("<I", 4, v)


# echo_Info arms as NDR20 lays them out after the u16 discriminant:
# (expected values, reader). A struct arm aligns to its largest member.
def _info(r, level):
    if level == 1:
        return {"v": r.u8()}
    if level == 2:
        return {"v": r.u16()}
    if level == 3:
        return {"v": r.u32()}
    if level == 4:
        return {"v": r.u64()}
    if level == 5:  # struct { uint8 v1; udlong v2; } aligns to 8
        r.align(8)
        return {"v1": r.u8(), "v2": r.u64()}
    if level == 6:  # struct { uint8 v1; echo_info1 info1; } aligns to 1
        return {"v1": r.u8(), "info1.v": r.u8()}
    if level == 7:  # struct { uint8 v1; echo_info4 info4; } aligns to 8
        r.align(8)
        return {"v1": r.u8(), "info4.v": r.u64()}
    raise ValueError(level)


TESTCALL2_WANT = {
    1: {"v": 10},
    2: {"v": 20},
    3: {"v": 30},
    4: {"v": 40},
    5: {"v1": 50, "v2": 60},
    6: {"v1": 70, "info1.v": 80},
    7: {"v1": 80, "info4.v": 90},
}
# Stub lengths NDR20 gives the TestCall2 responses (u16 tag, arm, NTSTATUS aligned to 4).
TESTCALL2_LEN = {1: 8, 2: 8, 3: 12, 4: 20, 5: 28, 6: 8, 7: 28}


class Raw:
    """Records the raw PDUs the transport hands to DCERPC_v5, to read fault PDUs exactly."""

    def __init__(self, inner):
        self.inner = inner
        self.buf = b""

    def recv(self, forceRecv=0, count=0):
        d = self.inner.recv(forceRecv, count=count)
        self.buf += d
        return d

    def __getattr__(self, name):
        return getattr(self.inner, name)


class Session:
    def __init__(self, host, port, frag):
        self.host, self.port, self.frag = host, port, frag
        self.dce = None
        self.raw = None

    def ensure(self):
        if self.dce is None:
            binding = "ncacn_ip_tcp:%s[%d]" % (self.host, self.port)
            t = transport.DCERPCTransportFactory(binding)
            t.set_connect_timeout(20)
            dce = t.get_dce_rpc()
            dce.connect()
            dce.bind(ECHO_IF)
            self.raw = Raw(dce._transport)  # DCERPC_v5 reads through self._transport
            dce._transport = self.raw
            self.dce = dce
        return self.dce

    def drop(self):
        if self.dce is not None:
            try:
                self.dce.disconnect()
            except Exception:
                pass
        self.dce = None

    def call(self, opnum, stub, frag=0):
        """Sends a request stub (bytes or an NDRCALL) and returns the response stub bytes."""
        dce = self.ensure()
        dce.set_max_fragment_size(frag)
        if hasattr(stub, "getData"):
            stub = stub.getData()
        self.raw.buf = b""
        try:
            dce.call(opnum, stub)
            return dce.recv()
        finally:
            dce.set_max_fragment_size(0)


RESULTS = []


def check(name, fn, sess):
    try:
        detail = fn(sess)
    except Mismatch as e:
        RESULTS.append(False)
        print("FAIL %-22s %s" % (name, e), flush=True)
        return
    except Exception as e:  # a transport error or an unexpected fault
        RESULTS.append(False)
        print("FAIL %-22s %s: %s" % (name, type(e).__name__, e), flush=True)
        if os.environ.get("IMPACKET_ECHO_DEBUG"):
            traceback.print_exc()
        sess.drop()  # start the next check on a fresh association
        return
    RESULTS.append(True)
    print("PASS %-22s %s" % (name, detail), flush=True)


# --- the operations ----------------------------------------------------------------------


def t_add_one(s):
    out = []
    for x in (41, 0, 0xFFFFFFFF):
        r = echo.EchoAddOne()
        r["in_data"] = x
        stub = s.call(0, r)
        resp = echo.EchoAddOneResponse(stub)
        expect("AddOne(%#x)" % x, resp["out_data"], (x + 1) & 0xFFFFFFFF)
        expect("AddOne stub length", len(stub), 4)
        out.append("%d->%d" % (x, resp["out_data"]))
    return ", ".join(out)


def t_echo_data(s):
    n = 20000
    data = bytes((i * 7 + 3) & 0xFF for i in range(n))
    r = echo.EchoEchoData()
    r["len"] = n
    r["in_data"] = data
    stub = s.call(1, r, frag=s.frag)
    frags = count_pdus(s.raw.buf)
    resp = echo.EchoEchoDataResponse(stub)
    got = b"".join(resp["out_data"]) if isinstance(resp["out_data"], list) else bytes(resp["out_data"])
    expect("EchoData length", len(got), n)
    if got != data:
        i = next(k for k in range(n) if got[k] != data[k])
        raise Mismatch("EchoData differs first at byte %d: got %#04x, want %#04x" % (i, got[i], data[i]))
    if frags < 2:
        raise Mismatch("the 20000-byte answer came in %d PDU; expected several fragments" % frags)
    return "%d bytes out in %d-byte fragments, back intact in %d fragments" % (n, s.frag, frags)


def count_pdus(buf):
    n, o = 0, 0
    while o + 16 <= len(buf):
        (flen,) = struct.unpack_from("<H", buf, o + 8)
        if flen < 16:
            break
        n += 1
        o += flen
    return n


def t_sink_data(s):
    data = bytes(range(256)) * 12
    r = echo.EchoSinkData()
    r["len"] = len(data)
    r["data"] = data
    stub = s.call(2, r)
    expect("SinkData response stub", stub, b"")
    return "%d bytes sunk, empty response stub" % len(data)


def t_source_data(s):
    out = []
    for n in (0, 5, 10000):
        r = echo.EchoSourceData()
        r["len"] = n
        stub = s.call(3, r)
        rd = Ndr20(stub)
        count = rd.u32()
        expect("SourceData(%d) conformance" % n, count, n)
        got = rd.b[rd.o : rd.o + count]
        rd.o += count
        rd.end()
        want = bytes(i & 0xFF for i in range(n))
        if got != want:
            i = next(k for k in range(n) if got[k] != want[k])
            raise Mismatch("SourceData(%d) byte %d is %#04x, want %#04x" % (n, i, got[i], want[i]))
        out.append(str(n))
    return "lengths %s: byte i = i & 0xff" % "/".join(out)


def t_test_call(s):
    text = "msrpc interop: \u00e9\u20ac \U0001f600"
    r = echo.EchoTestCall()
    r["s1"] = text + "\x00"
    stub = s.call(4, r)
    resp = echo.EchoTestCallResponse(stub)
    got = resp["s2"]
    if got is None or got == NULL:
        raise Mismatch("TestCall returned a NULL s2")
    got = str(got)
    expect("TestCall s2", got.rstrip("\x00"), text)
    return "s2 = s1 = %r (UTF-16 with a surrogate pair)" % text


def t_test_call2(level):
    def run(s):
        r = echo.EchoTestCall2()
        r["level"] = level
        stub = s.call(5, r)
        rd = Ndr20(stub)
        tag = rd.u16()
        expect("TestCall2(%d) union discriminant" % level, tag, level)
        got = _info(rd, level)
        status = rd.u32()
        rd.end()
        expect("TestCall2(%d) info" % level, got, TESTCALL2_WANT[level])
        expect("TestCall2(%d) NTSTATUS" % level, status, 0)
        expect("TestCall2(%d) stub length" % level, len(stub), TESTCALL2_LEN[level])
        how = "NDR20 decode"
        if level in (3, 4, 5, 7):
            # Impacket's union layout is the NDR20 one for 4-/8-aligned arms: its reading must agree.
            resp = echo.EchoTestCall2Response(stub)
            arm = resp["info"]["info%d" % level]
            imp = {}
            for k in TESTCALL2_WANT[level]:
                a, _, b = k.partition(".")
                imp[k] = arm[a][b] if b else arm[a]
            expect("TestCall2(%d) as Impacket's classes read it" % level, imp, TESTCALL2_WANT[level])
            expect("TestCall2(%d) NTSTATUS (Impacket)" % level, resp["result"], 0)
            how += " + Impacket classes agree"
        return "level %d: %s, NTSTATUS 0 (%s)" % (
            level,
            ", ".join("%s=%d" % kv for kv in got.items()),
            how,
        )

    return run


def t_test_sleep(s):
    r = echo.EchoTestSleep()
    r["seconds"] = 1
    t0 = time.monotonic()
    stub = s.call(6, r)
    dt = time.monotonic() - t0
    resp = echo.EchoTestSleepResponse(stub)
    expect("TestSleep(1) result", resp["result"], 1)
    if dt < 0.9:
        raise Mismatch("TestSleep(1) answered after %.2f s; expected about 1 s" % dt)
    if dt > 10:
        raise Mismatch("TestSleep(1) answered after %.2f s" % dt)
    return "returned 1 after %.2f s" % dt


ECHO_ENUM1, ECHO_ENUM2 = 1, 2


def enum_stub(foo1, foo2_e1, foo2_e2, foo3):
    """NDR20 bytes of TestEnum's [in,out,ref] foo1, foo2, foo3 (top-level [ref]: no ids):
    foo1 enum16; foo2 struct {enum16 e1; v1_enum e2} (align 4); foo3 union switch_is(*foo1)
    with a u16 discriminant, arm ECHO_ENUM1: enum16 e1, arm ECHO_ENUM2: echo_Enum2 (align 4)."""
    w = Pad()
    w.u16(foo1)
    w.u16(foo2_e1, align=4)  # the struct aligns to its widest member
    w.u32(foo2_e2)
    w.u16(foo1)  # discriminant
    if foo1 == ECHO_ENUM1:
        w.u16(foo3)  # enum16 arm: right after the discriminant
    else:
        w.u16(foo3[0], align=4)
        w.u32(foo3[1])
    return bytes(w.b)


def read_enum(stub):
    rd = Ndr20(stub)
    foo1 = rd.u16()
    rd.align(4)
    e1 = rd.u16()
    e2 = rd.u32()
    tag = rd.u16()
    if tag == ECHO_ENUM1:
        foo3 = rd.u16()
    elif tag == ECHO_ENUM2:
        rd.align(4)
        foo3 = (rd.u16(), rd.u32())
    else:
        raise Mismatch("TestEnum foo3 discriminant %d" % tag)
    rd.end()
    return foo1, (e1, e2), tag, foo3


def t_test_enum(s):
    # Arm ECHO_ENUM1 (a 2-aligned enum16 right after the u16 discriminant): bytes by hand,
    # since Impacket's NDRUNION would put the arm 2 bytes later.
    req = enum_stub(ECHO_ENUM1, ECHO_ENUM1, 1, ECHO_ENUM2)
    expect("TestEnum request length (self-check)", len(req), 16)
    got = read_enum(s.call(7, req))
    # Samba: r->out.foo2->e1 = ECHO_ENUM2; everything else comes back as sent.
    want = (ECHO_ENUM1, (ECHO_ENUM2, 1), ECHO_ENUM1, ECHO_ENUM2)
    expect("TestEnum (arm e1) foo1, foo2{e1,e2}, foo3 tag, foo3.e1", got, want)

    # Arm ECHO_ENUM2 (4-aligned struct): Impacket's own classes build it, and read it back.
    r = echo.EchoTestEnum()
    r["foo1"] = echo.echo_Enum1.enumItems.ECHO_ENUM2
    r["foo2"]["e1"] = echo.echo_Enum1.enumItems.ECHO_ENUM1
    r["foo2"]["e2"] = echo.echo_Enum1_32.enumItems.ECHO_ENUM2_32
    r["foo3"]["tag"] = 2
    r["foo3"]["e2"]["e1"] = echo.echo_Enum1.enumItems.ECHO_ENUM2
    r["foo3"]["e2"]["e2"] = echo.echo_Enum1_32.enumItems.ECHO_ENUM1_32
    # (Impacket's layout equals NDR20's for this arm; only its filler bytes differ.)
    expect(
        "TestEnum request as NDR20 reads Impacket's bytes (self-check)",
        read_enum(r.getData()),
        (ECHO_ENUM2, (ECHO_ENUM1, 2), ECHO_ENUM2, (ECHO_ENUM2, 1)),
    )
    stub = s.call(7, r)
    got2 = read_enum(stub)
    want2 = (ECHO_ENUM2, (ECHO_ENUM2, 2), ECHO_ENUM2, (ECHO_ENUM2, 1))
    expect("TestEnum (arm e2) foo1, foo2{e1,e2}, foo3 tag, foo3.e2{e1,e2}", got2, want2)
    resp = echo.EchoTestEnumResponse(stub)
    def val(x):
        # Impacket hands enum fields back as an NDRENUM or as a plain int, depending on the path
        return x if isinstance(x, int) else x["Data"]

    imp = (
        val(resp["foo1"]),
        (val(resp["foo2"]["e1"]), val(resp["foo2"]["e2"])),
        resp["foo3"]["tag"],
        (val(resp["foo3"]["e2"]["e1"]), val(resp["foo3"]["e2"]["e2"])),
    )
    expect("TestEnum (arm e2) as Impacket's classes read it", imp, want2)
    return "both union arms: arguments back, foo2.e1 set to ECHO_ENUM2 (Samba)"


def t_test_surrounding(s):
    r = echo.EchoTestSurrounding()
    r["data"]["x"] = 4
    r["data"]["surrounding"] = [1, 2, 3, 4]
    stub = s.call(8, r)
    # conformant struct: max_count hoisted first, then x, then the elements
    rd = Ndr20(stub)
    count = rd.u32()
    x = rd.u32()
    vals = [rd.u16() for _ in range(count)]
    rd.end()
    expect("TestSurrounding x", x, 8)
    expect("TestSurrounding conformance", count, 8)
    expect("TestSurrounding surrounding", vals, [0] * 8)
    resp = echo.EchoTestSurroundingResponse(stub)
    expect("TestSurrounding x (Impacket)", resp["data"]["x"], 8)
    expect("TestSurrounding surrounding (Impacket)", list(resp["data"]["surrounding"]), [0] * 8)
    return "x 4 -> 8, surrounding = 8 zeros"


def t_test_double_pointer(s):
    out = []
    r = echo.EchoTestDoublePointer()
    r["data"] = 0x1234
    resp = echo.EchoTestDoublePointerResponse(s.call(9, r))
    expect("TestDoublePointer(&&0x1234)", resp["result"], 0x1234)
    out.append("&&0x1234 -> 0x1234")

    r = echo.EchoTestDoublePointer()
    p = echo.PPUSHORT()
    p["Data"] = NULL  # outer pointer set, inner pointer NULL
    r["data"] = p
    resp = echo.EchoTestDoublePointerResponse(s.call(9, r))
    expect("TestDoublePointer(&NULL)", resp["result"], 0)
    out.append("&NULL -> 0")

    r = echo.EchoTestDoublePointer()
    r["data"] = NULL
    resp = echo.EchoTestDoublePointerResponse(s.call(9, r))
    expect("TestDoublePointer(NULL)", resp["result"], 0)
    out.append("NULL -> 0")
    return ", ".join(out)


def t_unknown_opnum(s):
    opnum = 10  # rpcecho has opnums 0..9
    try:
        stub = s.call(opnum, b"\x00\x00\x00\x00")
    except DCERPCException as e:
        msg = str(e)
    else:
        raise Mismatch("opnum %d answered with a %d-byte response, not a fault" % (opnum, len(stub)))
    buf = s.raw.buf
    if len(buf) < 28 or buf[2] != PTYPE_FAULT:
        raise Mismatch("expected a fault PDU, got %s (Impacket: %s)" % (buf[:32].hex(), msg))
    (status,) = struct.unpack_from("<I", buf, 24)
    expect("fault status for opnum %d" % opnum, "%#010x" % status, "%#010x" % NCA_S_OP_RNG_ERROR)
    (flen,) = struct.unpack_from("<H", buf, 8)
    if flen < 32:
        raise Mismatch("fault PDU is %d bytes; C706 12.6.4.7 has 4 reserved bytes after the status" % flen)
    # The association survives a fault.
    r = echo.EchoAddOne()
    r["in_data"] = 7
    resp = echo.EchoAddOneResponse(s.call(0, r))
    expect("AddOne after the fault", resp["out_data"], 8)
    return "opnum %d -> fault %#010x (%s); association still usable" % (opnum, status, msg)


# --- main -------------------------------------------------------------------------------


def resolve_via_epm(host, epm_port):
    binding = "ncacn_ip_tcp:%s[%d]" % (host, epm_port)
    t = transport.DCERPCTransportFactory(binding)
    t.set_connect_timeout(20)
    dce = t.get_dce_rpc()
    dce.connect()
    try:
        sb = epm.hept_map(host, ECHO_IF, protocol="ncacn_ip_tcp", dce=dce)
    finally:
        dce.disconnect()
    # 'ncacn_ip_tcp:HOST[PORT]'
    if not sb or "[" not in sb:
        raise Mismatch("hept_map returned %r" % sb)
    port = int(sb[sb.index("[") + 1 : sb.index("]")])
    return sb, port


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("host")
    ap.add_argument("port", nargs="?", type=int, help="rpcecho's TCP port; omitted: ask the EPM")
    ap.add_argument("--epm-port", type=int, default=135, help="endpoint mapper port (default 135)")
    ap.add_argument("--frag", type=int, default=1024,
                    help="max request fragment for EchoData (Impacket set_max_fragment_size)")
    a = ap.parse_args()

    port = a.port
    if port is None:
        try:
            sb, port = resolve_via_epm(a.host, a.epm_port)
        except Exception as e:
            print("FAIL %-22s %s: %s" % ("ept_map (hept_map)", type(e).__name__, e))
            print("impacket_echo: 0 passed, 1 failed (could not resolve rpcecho via the EPM)")
            return 1
        RESULTS.append(True)
        print("PASS %-22s EPM at %s[%d] maps rpcecho v1.0 to %s" % ("ept_map (hept_map)", a.host, a.epm_port, sb))

    print("impacket_echo: rpcecho at ncacn_ip_tcp:%s[%d]" % (a.host, port), flush=True)
    s = Session(a.host, port, a.frag)
    try:
        s.ensure()
    except Exception as e:
        print("FAIL %-22s %s: %s" % ("bind", type(e).__name__, e))
        print("impacket_echo: %d passed, 1 failed (bind failed)" % sum(RESULTS))
        return 1
    RESULTS.append(True)
    print("PASS %-22s rpcecho v1.0 / NDR20 accepted" % "bind")

    check("AddOne", t_add_one, s)
    check("EchoData", t_echo_data, s)
    check("SinkData", t_sink_data, s)
    check("SourceData", t_source_data, s)
    check("TestCall", t_test_call, s)
    for level in range(1, 8):
        check("TestCall2(%d)" % level, t_test_call2(level), s)
    check("TestSleep", t_test_sleep, s)
    check("TestEnum", t_test_enum, s)
    check("TestSurrounding", t_test_surrounding, s)
    check("TestDoublePointer", t_test_double_pointer, s)
    check("unknown opnum", t_unknown_opnum, s)
    s.drop()

    passed = sum(RESULTS)
    failed = len(RESULTS) - passed
    print("impacket_echo: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
