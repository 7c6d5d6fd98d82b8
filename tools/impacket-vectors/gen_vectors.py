#!/usr/bin/env python3
"""Writes byte vectors produced by Impacket's own DCE/RPC code into tests/vectors/impacket/.

Run with Impacket 0.13.1 installed:

    python3 -m venv target/venv
    target/venv/bin/pip install impacket==0.13.1
    target/venv/bin/python tools/impacket-vectors/gen_vectors.py

Every vector is built with Impacket's classes (impacket.dcerpc.v5.rpcrt, .ndr, .epm, .mgmt,
.dtypes) or captured from Impacket's own client/server code (DCERPC_v5, DCERPCServer, hept_map,
hept_lookup) talking to an in-memory transport. The rpcecho interface and ept_lookup_handle_free
are not in Impacket: their NDRCALL classes are declared below from Samba's echo.idl and C706's
ept.idl, out of Impacket's building blocks.

Output, per vector NAME:
  NAME.hex       the bytes, lowercase hex, 32 bytes a line.
  NAME.mask.hex  only when the vector has filler bytes: same length, ``ff`` where Impacket wrote
                 an alignment gap or auth padding (C706: "octets of unspecified value"; Impacket
                 fills them with 0xaa..0xef markers, its auth padding with 0xbb/0xff, and its
                 bind_ack server with 'A'), ``00`` elsewhere. A conforming encoder may write any
                 value there (ours writes zeros); every other byte must match.
  MANIFEST.md    what produced each vector, with which values, and where Impacket departs from
                 C706 / MS-RPCE.

Determinism: Impacket draws referent ids from ``random``; each vector reseeds ``random`` first, and
most vectors then renumber their non-null pointers in wire order 0x00020000, 0x00020004, ... (what
Windows sends, and what msrpc-ndr's Writer hands out) through Impacket's own ``ReferentID`` field
(as ``hept_map`` itself does). Vectors whose name ends in ``_impacket_ids`` keep the ids Impacket
drew. Re-running reproduces every file byte for byte.
"""

import contextlib
import inspect
import os
import random
import struct
import sys
import types
from binascii import hexlify

from impacket import version as impacket_version
from impacket import ntlm
from impacket.dcerpc.v5 import epm, mgmt, ndr, rpcrt
from impacket.dcerpc.v5.dtypes import (
    DOUBLE,
    FLOAT,
    LONG,
    LONGLONG,
    LPSTR,
    LPWSTR,
    NTSTATUS,
    NULL,
    PULONG,
    PUSHORT,
    SHORT,
    UCHAR,
    ULONG,
    ULONGLONG,
    USHORT,
    WSTR,
)
from impacket.dcerpc.v5.ndr import (
    NDRCALL,
    NDRENUM,
    NDRPOINTER,
    NDRSMALL,
    NDRSTRUCT,
    NDRUNION,
    NDRUniConformantArray,
    NDRUniConformantVaryingArray,
    NDRUniVaryingArray,
)
from impacket.uuid import string_to_bin, uuidtup_to_bin

EXPECTED_IMPACKET = "0.13.1"

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(REPO, "tests", "vectors", "impacket")

SEED = 0x4D535250  # "MSRP"
FIRST_REF_ID = 0x00020000

# Interfaces and syntaxes used throughout.
EPM_UUID = "e1af8308-5d1f-11c9-91a4-08002b14a0fa"
ECHO_UUID = "60a15ec5-4de8-11d7-a637-005056a20182"
NDR20_UUID = "8a885d04-1ceb-11c9-9fe8-08002b104860"
BTFN_UUID = "6cb71c2c-9812-4540-0300-000000000000"  # bind-time features 0x0003
OBJECT_UUID = "12345678-9abc-def0-1122-334455667788"
HANDLE_UUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
ENTRY_OBJECT_UUID = "d0c0ffee-0000-4000-8000-00000000abcd"

EPM_SYNTAX = uuidtup_to_bin((EPM_UUID, "3.0"))
ECHO_SYNTAX = uuidtup_to_bin((ECHO_UUID, "1.0"))
NDR20_SYNTAX = uuidtup_to_bin((NDR20_UUID, "2.0"))
BTFN_SYNTAX = uuidtup_to_bin((BTFN_UUID, "1.0"))
ZERO_SYNTAX = b"\x00" * 20

# Fixed bytes standing in for security tokens (not real NTLM exchanges).
NTLM_CHALLENGE = (
    b"NTLMSSP\x00" + struct.pack("<I", 2) + bytes(range(0x10, 0x10 + 48))
)  # 60 bytes
NTLM_AUTHENTICATE = (
    b"NTLMSSP\x00" + struct.pack("<I", 3) + bytes(range(0x40, 0x40 + 60))
)  # 72 bytes
# NTLM signing/sealing key for the PKT_INTEGRITY / PKT_PRIVACY requests.
SIGNING_KEY = bytes(range(0xA0, 0xB0))


# ---------------------------------------------------------------------------------------------
# Output bookkeeping
# ---------------------------------------------------------------------------------------------

VECTORS = []  # dicts: name, data, mask, section, producer, values, notes


def emit(name, data, mask=None, section="", producer="", values="", notes=""):
    data = bytes(data)
    if mask is not None:
        mask = bytes(mask)
        assert len(mask) == len(data), name
        if not any(mask):
            mask = None
    assert all(v["name"] != name for v in VECTORS), name
    VECTORS.append(
        dict(
            name=name,
            data=data,
            mask=mask,
            section=section,
            producer=producer,
            values=values,
            notes=notes,
        )
    )
    return data


def hex_lines(b):
    h = hexlify(b).decode("ascii")
    if not h:
        return "\n"
    return "\n".join(h[i : i + 64] for i in range(0, len(h), 64)) + "\n"


# ---------------------------------------------------------------------------------------------
# Filler-byte mask: Impacket fills NDR alignment gaps with marker bytes (0xaa, 0xab, 0xbb, ...)
# that are constants inside impacket.dcerpc.v5.ndr's methods. Encoding the same object a second
# time with those constants swapped for 0x00 and comparing tells which bytes are gaps.
# ---------------------------------------------------------------------------------------------


def _collect_ndr_filler_patches():
    patches = []
    for cls in vars(ndr).values():
        if not (inspect.isclass(cls) and cls.__module__ == ndr.__name__):
            continue
        for attr in vars(cls).values():
            func = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
            if not isinstance(func, types.FunctionType):
                continue
            code = func.__code__
            consts = tuple(
                b"\x00" if isinstance(c, bytes) and len(c) == 1 and c != b"\x00" else c
                for c in code.co_consts
            )
            if consts != code.co_consts:
                patches.append((func, code, code.replace(co_consts=consts)))
    return patches


_FILLER_PATCHES = _collect_ndr_filler_patches()


@contextlib.contextmanager
def zero_fillers():
    for func, _orig, zero in _FILLER_PATCHES:
        func.__code__ = zero
    try:
        yield
    finally:
        for func, orig, _zero in _FILLER_PATCHES:
            func.__code__ = orig


def ndr_bytes_and_mask(obj):
    """Impacket's encoding of an NDR object, and the mask of its filler bytes."""
    data = obj.getData()
    with zero_fillers():
        zeroed = obj.getData()
    assert len(zeroed) == len(data)
    assert obj.getData() == data, "encoding is not stable"
    mask = bytes(0xFF if a != b else 0 for a, b in zip(data, zeroed))
    return data, mask


# ---------------------------------------------------------------------------------------------
# Referent ids in wire order
# ---------------------------------------------------------------------------------------------


def _pointers(obj, out):
    if isinstance(obj, NDRPOINTER):
        rid = obj.fields.get("ReferentID", 0)
        if rid != 0:
            out.append(obj)
    for v in list(obj.fields.values()):
        if isinstance(v, ndr.NDR):
            _pointers(v, out)
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, ndr.NDR):
                    _pointers(x, out)
    return out


def renumber_pointers(obj):
    """Gives obj's non-null pointers the ids 0x20000, 0x20004, ... in the order they appear on
    the wire: each gets a distinct sentinel, the encoding is searched for the sentinels, and the
    pointers are sorted by position."""
    ptrs = _pointers(obj, [])
    if not ptrs:
        return obj
    sentinels = []
    for i, p in enumerate(ptrs):
        s = 0x7A5E0001 + (i << 8)
        p.fields["ReferentID"] = s
        sentinels.append(struct.pack("<I", s))
    data = obj.getData()
    positions = []
    for p, s in zip(ptrs, sentinels):
        assert data.count(s) == 1, "pointer sentinel not unique"
        positions.append((data.index(s), p))
    positions.sort(key=lambda t: t[0])
    for rank, (_pos, p) in enumerate(positions):
        p.fields["ReferentID"] = FIRST_REF_ID + 4 * rank
    return obj


def seeded():
    random.seed(SEED)


# ---------------------------------------------------------------------------------------------
# In-memory transport for driving Impacket's own client (DCERPC_v5) code
# ---------------------------------------------------------------------------------------------


class MemoryTransport:
    """Records what DCERPC_v5 sends and answers its reads from queued PDUs."""

    def __init__(self, replies=()):
        self.sent = []
        self._replies = list(replies)
        self._current = b""

    def queue(self, pdu):
        self._replies.append(bytes(pdu))

    def send(self, data, forceWriteAndx=0, forceRecv=0):
        self.sent.append(bytes(data))

    def recv(self, forceRecv=0, count=0):
        if not self._current:
            self._current = self._replies.pop(0)
        if count:
            out, self._current = self._current[:count], self._current[count:]
        else:
            out, self._current = self._current, b""
        return out

    def get_credentials(self):
        return ("", "", "", "", "", "", None, None)

    def doesSupportNTLMv2(self):
        return True

    def getRemoteName(self):
        return "server"

    def get_kdcHost(self):
        return None


# ---------------------------------------------------------------------------------------------
# PDU helpers (impacket.dcerpc.v5.rpcrt)
# ---------------------------------------------------------------------------------------------


def ctx_item(ctx_id, abstract, transfer):
    item = rpcrt.CtxItem()
    item["ContextID"] = ctx_id
    item["TransItems"] = 1
    item["AbstractSyntax"] = abstract
    item["TransferSyntax"] = transfer
    return item


def ctx_result(result, reason, transfer):
    r = rpcrt.CtxItemResult()
    r["Result"] = result
    r["Reason"] = reason
    r["TransferSyntax"] = transfer
    return r


def bind_pdu(ptype, call_id, items, assoc_group=0, flags=0x03, auth=None):
    body = rpcrt.MSRPCBind()
    body["max_tfrag"] = 4280
    body["max_rfrag"] = 4280
    body["assoc_group"] = assoc_group
    for it in items:
        body.addCtxItem(it)
    pkt = rpcrt.MSRPCHeader()
    pkt["type"] = ptype
    pkt["flags"] = flags
    pkt["call_id"] = call_id
    pkt["pduData"] = body.getData()
    if auth is not None:
        trailer, value = auth
        pkt["sec_trailer"] = trailer
        pkt["auth_data"] = value
    return pkt.get_packet()


def bind_ack_pdu(ptype, call_id, sec_addr, results, assoc_group=0x00012345, auth=None):
    """MSRPCBindAck. SecondaryAddr is a 'z' field (always written with its NUL);
    SecondaryAddrLen ('<H&SecondaryAddr', which Impacket would fill with an object address) and
    Pad are set explicitly."""
    a = rpcrt.MSRPCBindAck()
    a["type"] = ptype
    a["flags"] = 0x03
    a["call_id"] = call_id
    a["max_tfrag"] = 4280
    a["max_rfrag"] = 4280
    a["assoc_group"] = assoc_group
    a["SecondaryAddr"] = sec_addr
    # C706: sec_addr.length counts the NUL; an empty port_any_t has length 0 and no bytes.
    a["SecondaryAddrLen"] = len(sec_addr) + 1 if sec_addr else 0
    written = len(sec_addr) + 1  # the 'z' field writes a NUL even for ''
    a["Pad"] = b"\x00" * ((4 - ((26 + written) % 4)) % 4)
    a["ctx_num"] = len(results)
    a["ctx_items"] = b"".join(r.getData() for r in results)
    if auth is not None:
        trailer, value = auth
        a["sec_trailer"] = trailer.getData()
        a["auth_data"] = value
        a["auth_len"] = len(value)
    else:
        a["auth_len"] = 0
    a["frag_len"] = 0
    a["frag_len"] = len(a.getData())
    return a.getData()


def sec_trailer(auth_type, auth_level, pad_len=0, ctx_id=79231):
    t = rpcrt.SEC_TRAILER()
    t["auth_type"] = auth_type
    t["auth_level"] = auth_level
    t["auth_pad_len"] = pad_len
    t["auth_rsvrd"] = 0
    t["auth_ctx_id"] = ctx_id
    return t


def request_pdu(opnum, stub, call_id, ctx_id=0, obj=None, flags=0x03):
    """DCERPC_RawCall (an MSRPCRequestHeader), filled the way DCERPC_v5.send fills it."""
    call = rpcrt.DCERPC_RawCall(opnum, stub, obj)
    call["flags"] |= flags
    call["ctx_id"] = ctx_id
    call["call_id"] = call_id
    call["alloc_hint"] = len(stub)
    return call.get_packet()


def response_pdu(ptype, stub, call_id, ctx_id=0, flags=0x03, cancel_count=0):
    r = rpcrt.MSRPCRespHeader()
    r["type"] = ptype
    r["flags"] = flags
    r["ctx_id"] = ctx_id
    r["call_id"] = call_id
    r["alloc_hint"] = len(stub) if ptype == rpcrt.MSRPC_RESPONSE else 0
    r["cancel_count"] = cancel_count
    r["pduData"] = stub
    return r.get_packet()


def pdu_mask(total_len, stub_offset=0, stub_mask=b"", extra=()):
    m = bytearray(total_len)
    m[stub_offset : stub_offset + len(stub_mask)] = stub_mask
    for start, length in extra:
        for i in range(start, start + length):
            m[i] = 0xFF
    return bytes(m)


# ---------------------------------------------------------------------------------------------
# NDR vectors (impacket.dcerpc.v5.ndr / dtypes)
# ---------------------------------------------------------------------------------------------


class Integers(NDRSTRUCT):
    structure = (
        ("a", UCHAR),
        ("b", USHORT),
        ("c", UCHAR),
        ("d", ULONG),
        ("e", UCHAR),
        ("f", ULONGLONG),
        ("g", SHORT),
        ("h", LONG),
        ("i", LONGLONG),
        ("j", FLOAT),
        ("k", DOUBLE),
        ("l", NDRSMALL),
    )


class Inner(NDRSTRUCT):
    structure = (
        ("v", ULONG),
        ("name", LPWSTR),
    )


class PInner(NDRPOINTER):
    referent = (("Data", Inner),)


class Outer(NDRSTRUCT):
    structure = (
        ("a", USHORT),
        ("nested", PInner),
        ("null", PULONG),
        ("last", PULONG),
        ("b", USHORT),
    )


class FullPtrs(NDRSTRUCT):
    structure = (
        ("a", PULONG),
        ("b", PULONG),
        ("c", PUSHORT),
    )


class ULONG_ARRAY(NDRUniConformantArray):
    item = "<L"


class USHORT_ARRAY(NDRUniConformantArray):
    item = "<H"


class ULONGLONG_ARRAY(NDRUniConformantArray):
    item = "<Q"


class USHORT_VARYING(NDRUniVaryingArray):
    item = "<H"


class USHORT_CV(NDRUniConformantVaryingArray):
    item = "<H"


class VaryingHolder(NDRSTRUCT):
    # struct { u8 first; [length_is(3)] u16 data[8]; }
    structure = (
        ("first", UCHAR),
        ("data", USHORT_VARYING),
    )


class CvHolder(NDRSTRUCT):
    # struct { u32 size; u32 len; [size_is(size), length_is(len)] u16 data[]; }
    structure = (
        ("size", ULONG),
        ("len", ULONG),
        ("data", USHORT_CV),
    )


class ConfStruct(NDRSTRUCT):
    # struct { u16 count; [size_is(count)] u32 values[]; }
    structure = (
        ("count", USHORT),
        ("values", ULONG_ARRAY),
    )


class ConfStruct64(NDRSTRUCT):
    # struct { u32 count; [size_is(count)] hyper values[]; }
    structure = (
        ("count", ULONG),
        ("values", ULONGLONG_ARRAY),
    )


class Item(NDRSTRUCT):
    structure = (
        ("id", ULONG),
        ("name", LPWSTR),
    )


class ItemArray(NDRUniConformantArray):
    item = Item


class Strings(NDRSTRUCT):
    structure = (
        ("w", LPWSTR),
        ("s", LPSTR),
        ("after", ULONG),
    )


class U16Union(NDRUNION):
    # [switch_type(uint16)] union { [case(1)] u8 a; [case(2)] u32 b; [case(3)] hyper c; }
    commonHdr = (("tag", USHORT),)
    union = {
        1: ("a", UCHAR),
        2: ("b", ULONG),
        3: ("c", ULONGLONG),
    }


class U32Union(NDRUNION):
    # [switch_type(uint32)] union { [case(16)] u16 a; [case(32)] [unique] u32 *p; }
    commonHdr = (("tag", ULONG),)
    union = {
        16: ("a", USHORT),
        32: ("p", PULONG),
    }


class U16UnionHolder(NDRSTRUCT):
    structure = (
        ("pre", UCHAR),
        ("u", U16Union),
        ("post", UCHAR),
    )


class U32UnionHolder(NDRSTRUCT):
    structure = (
        ("pre", UCHAR),
        ("u", U32Union),
        ("post", UCHAR),
    )


class Color(NDRENUM):
    class enumItems(ndr.Enum):
        RED = 1
        GREEN = 2
        BLUE = 0x7FFF


class EnumHolder(NDRSTRUCT):
    structure = (
        ("pre", UCHAR),
        ("color", Color),
        ("post", UCHAR),
    )


class HandleHolder(NDRSTRUCT):
    structure = (
        ("pre", USHORT),
        ("handle", epm.ept_lookup_handle_t),
        ("post", UCHAR),
    )


def single(field_name, field_class):
    """An NDRCALL with one top-level parameter: its encoding is the parameter in full."""
    return type(
        "Single_" + field_class.__name__,
        (NDRCALL,),
        {"structure": ((field_name, field_class),)},
    )()


ROUNDTRIP_FAILURES = []


def emit_ndr(name, obj, producer, values, notes="", renumber=True, section="NDR"):
    if renumber:
        renumber_pointers(obj)
    data, mask = ndr_bytes_and_mask(obj)
    # Impacket must read its own bytes back to the same encoding.
    try:
        again = type(obj)(data).getData()
    except Exception as e:  # noqa: BLE001 - recorded, reported in MANIFEST.md
        again = repr(e)
    if again != data:
        ROUNDTRIP_FAILURES.append(name)
    return emit(name, data, mask, section=section, producer=producer, values=values, notes=notes)


def fill_inner(outer_struct, name):
    outer_struct["a"] = 0x0001
    outer_struct["nested"]["v"] = 7
    outer_struct["nested"]["name"] = name
    outer_struct["null"] = NULL
    outer_struct["last"] = 0xAABBCCDD
    outer_struct["b"] = 0x0002


def ndr_vectors():
    seeded()
    c = single("v", Integers)
    v = c["v"]
    v["a"] = 0x11
    v["b"] = 0x2233
    v["c"] = 0x44
    v["d"] = 0x55667788
    v["e"] = 0x99
    v["f"] = 0x0102030405060708
    v["g"] = -2
    v["h"] = -3
    v["i"] = -4
    v["j"] = 1.5
    v["k"] = -2.25
    v["l"] = -18
    emit_ndr(
        "ndr_integers",
        c,
        "NDRSTRUCT of dtypes UCHAR, USHORT, ULONG, ULONGLONG, SHORT, LONG, LONGLONG, FLOAT, "
        "DOUBLE, ndr.NDRSMALL",
        "struct { u8 a=0x11; u16 b=0x2233; u8 c=0x44; u32 d=0x55667788; u8 e=0x99; "
        "u64 f=0x0102030405060708; i16 g=-2; i32 h=-3; i64 i=-4; f32 j=1.5; f64 k=-2.25; "
        "i8 l=-18 }",
        "Every gap is filler (mask).",
    )

    seeded()
    c = single("v", Outer)
    fill_inner(c["v"], "hi\x00")
    emit_ndr(
        "ndr_unique_struct",
        c,
        "NDRSTRUCT Outer { USHORT a; PInner nested; PULONG null; PULONG last; USHORT b } with "
        "Inner = NDRSTRUCT { ULONG v; LPWSTR name }",
        "Outer { a=1, nested=&Inner{ v=7, name=&L\"hi\" }, null=NULL, last=&0xaabbccdd, b=2 }; "
        "ids: nested 0x20000, last 0x20004, name 0x20008",
        "Deferral order: Outer's scalars, then *nested in full (Inner's scalars, then *name), "
        "then *last: nested referents are written depth-first, before the next pointer of the "
        "enclosing struct.",
    )

    seeded()
    c = single("v", Outer)
    fill_inner(c["v"], "hi\x00")
    ids = [p.fields["ReferentID"] for p in _pointers(c, [])]
    emit_ndr(
        "ndr_unique_struct_impacket_ids",
        c,
        "as ndr_unique_struct",
        "same value; referent ids as Impacket drew them (random.randint(1, 65535) after "
        "random.seed(0x%08x)): %s" % (SEED, ", ".join("0x%x" % i for i in ids)),
        "Decode-only: a decoder must accept any non-zero referent id.",
        renumber=False,
    )

    seeded()
    c = single("v", FullPtrs)
    c["v"]["a"] = 5
    c["v"]["b"] = NULL
    c["v"]["c"] = 6
    emit_ndr(
        "ndr_full_pointers",
        c,
        "NDRSTRUCT { PULONG a; PULONG b; PUSHORT c } (ndr.NDRPOINTER: Impacket has one pointer "
        "class for [unique] and [ptr])",
        "struct { [ptr] u32 *a=&5; [ptr] u32 *b=NULL; [ptr] u16 *c=&6 }; ids 0x20000, 0x20004",
        "Impacket cannot alias: a full pointer to an already-sent referent would be written "
        "again, so no aliasing vector exists.",
    )

    seeded()
    c = single("v", ULONG_ARRAY)
    c["v"] = [1, 2, 3, 0xFFFFFFFF]
    emit_ndr(
        "ndr_conformant_array",
        c,
        "NDRCALL with one NDRUniConformantArray (item '<L') parameter",
        "u32 [size_is(4)] [1, 2, 3, 0xffffffff]",
    )

    seeded()
    c = single("v", VaryingHolder)
    c["v"]["first"] = 0xAB
    c["v"]["data"] = [0x1111, 0x2222, 0x3333]
    emit_ndr(
        "ndr_varying_array",
        c,
        "NDRSTRUCT { UCHAR first; NDRUniVaryingArray (item '<H') data }",
        "struct { u8 first=0xab; [length_is(3)] u16 data[8] = [0x1111, 0x2222, 0x3333] }",
        "offset 0, actual_count 3; a varying array has no max_count on the wire.",
    )

    seeded()
    c = single("v", CvHolder)
    c["v"]["size"] = 6
    c["v"]["len"] = 3
    c["v"]["data"] = [0xA1A1, 0xB2B2, 0xC3C3]
    c["v"].fields["data"].fields["MaximumCount"] = 6
    emit_ndr(
        "ndr_conformant_varying_array",
        c,
        "NDRSTRUCT { ULONG size; ULONG len; NDRUniConformantVaryingArray (item '<H') data } "
        "with MaximumCount set to 6",
        "struct { u32 size=6; u32 len=3; [size_is(size), length_is(len)] u16 data[] = "
        "[0xa1a1, 0xb2b2, 0xc3c3] }",
        "max_count (6) hoisted before the struct; offset and actual_count (3) in place.",
    )

    seeded()
    c = single("v", ConfStruct)
    c["v"]["count"] = 3
    c["v"]["values"] = [0x10, 0x20, 0x30]
    emit_ndr(
        "ndr_conformant_struct",
        c,
        "NDRSTRUCT { USHORT count; NDRUniConformantArray (item '<L') values }",
        "struct { u16 count=3; [size_is(count)] u32 values[] = [0x10, 0x20, 0x30] }",
        "max_count hoisted to the front.",
    )

    seeded()
    c = single("v", ConfStruct64)
    c["v"]["count"] = 2
    c["v"]["values"] = [0x1122334455667788, 0x99AABBCCDDEEFF00]
    emit_ndr(
        "ndr_conformant_struct_align8",
        c,
        "NDRSTRUCT { ULONG count; NDRUniConformantArray (item '<Q') values }",
        "struct { u32 count=2; [size_is(count)] hyper values[] = [0x1122334455667788, "
        "0x99aabbccddeeff00] }",
        "The hoisted max_count is aligned to 4 on its own; the struct body then to 8 "
        "(4 filler bytes after max_count).",
    )

    seeded()
    c = single("v", ItemArray)
    items = []
    for ident, name in ((1, "a\x00"), (2, None), (3, "ccc\x00")):
        it = Item()
        it["id"] = ident
        if name is None:
            it["name"] = NULL
        else:
            it["name"] = name
        items.append(it)
    c["v"] = items
    emit_ndr(
        "ndr_struct_array_with_pointers",
        c,
        "NDRCALL with one NDRUniConformantArray of NDRSTRUCT Item { ULONG id; LPWSTR name }",
        "[ {1, &L\"a\"}, {2, NULL}, {3, &L\"ccc\"} ]; ids 0x20000 (item 0), 0x20004 (item 2)",
        "All elements' scalars first, then the referents in element order.",
    )

    seeded()
    c = single("v", Strings)
    c["v"]["w"] = "H\u00e9llo \u20ac\x00"
    c["v"]["s"] = "abcde\x00"
    c["v"]["after"] = 0x01020304
    emit_ndr(
        "ndr_strings",
        c,
        "NDRSTRUCT { LPWSTR w; LPSTR s; ULONG after } (dtypes WSTR / STR referents)",
        "struct { [string, unique] wchar_t *w = L\"H\u00e9llo \u20ac\"; [string, unique] char *s = "
        "\"abcde\"; u32 after=0x01020304 }",
        "Conformant-varying strings with their NUL counted (8 and 6 elements).",
    )

    seeded()
    c = single("v", WSTR)
    c["v"] = "rpcecho\x00"
    emit_ndr(
        "ndr_wstr_toplevel",
        c,
        "NDRCALL with one dtypes.WSTR parameter",
        "[in, string] wchar_t *s (a top-level [ref]) = L\"rpcecho\"",
    )

    for tag, val, label in (
        (1, 0x7F, "u8"),
        (2, 0xDEADBEEF, "u32"),
        (3, 0x0102030405060708, "u64"),
    ):
        seeded()
        c = single("u", U16Union)
        c["u"]["tag"] = tag
        c["u"][{1: "a", 2: "b", 3: "c"}[tag]] = val
        emit_ndr(
            "ndr_union_u16_%s" % label,
            c,
            "NDRCALL with one NDRUNION (tag USHORT) parameter",
            "[switch_type(u16)] union { 1: u8 a; 2: u32 b; 3: hyper c } (tag %d, %s=%#x), "
            "as a top-level parameter (the union starts at offset 0)" % (tag, label, val),
            {
                1: "Impacket pads the tag to 4 and puts the u8 arm at offset 4; Samba and "
                "Wine put it at 2 (see 'Unions' below).",
                2: "Same bytes under every reading: the arm is 4-aligned anyway.",
                3: "Same bytes under every reading: the arm is 8-aligned anyway.",
            }[tag],
        )

    seeded()
    c = single("v", U16UnionHolder)
    c["v"]["pre"] = 0xEE
    c["v"]["u"]["tag"] = 3
    c["v"]["u"]["c"] = 0x0102030405060708
    c["v"]["post"] = 0xFF
    emit_ndr(
        "ndr_union_in_struct",
        c,
        "NDRSTRUCT { UCHAR pre; NDRUNION (tag USHORT) u; UCHAR post }",
        "struct { u8 pre=0xee; [switch_type(u16)] union { 1: u8; 2: u32; 3: hyper } u (tag 3, "
        "c=0x0102030405060708); u8 post=0xff }",
        "The union itself is not aligned beyond its tag (tag at offset 2, arm at 8), as in "
        "Samba and Wine; the enclosing struct is 8-aligned because of the arm.",
    )

    seeded()
    c = single("v", U32UnionHolder)
    c["v"]["pre"] = 0xEE
    c["v"]["u"]["tag"] = 16
    c["v"]["u"]["a"] = 0x4242
    c["v"]["post"] = 0xFF
    emit_ndr(
        "ndr_union_u32_u16",
        c,
        "NDRSTRUCT { UCHAR pre; NDRUNION (tag ULONG) u; UCHAR post }",
        "struct { u8 pre=0xee; [switch_type(u32)] union { 16: u16 a; 32: [unique] u32 *p } u "
        "(tag 16, a=0x4242); u8 post=0xff }",
    )

    seeded()
    c = single("v", U32UnionHolder)
    c["v"]["pre"] = 0xEE
    c["v"]["u"]["tag"] = 32
    c["v"]["u"]["p"] = 0xCAFEF00D
    c["v"]["post"] = 0xFF
    emit_ndr(
        "ndr_union_u32_ptr",
        c,
        "as ndr_union_u32_u16",
        "tag 32, p=&0xcafef00d (id 0x20000)",
        "The arm's referent is deferred to after the enclosing struct's scalars (after post).",
    )

    seeded()
    c = single("v", EnumHolder)
    c["v"]["pre"] = 0x01
    c["v"]["color"] = Color.enumItems.BLUE
    c["v"]["post"] = 0x02
    emit_ndr(
        "ndr_enum",
        c,
        "NDRSTRUCT { UCHAR pre; NDRENUM color; UCHAR post }",
        "struct { u8 pre=1; enum { RED=1, GREEN=2, BLUE=0x7fff } color=BLUE; u8 post=2 }",
        "NDR20 enums are 16-bit, aligned to 2.",
    )

    seeded()
    c = single("v", HandleHolder)
    c["v"]["pre"] = 0x5151
    c["v"]["handle"]["context_handle_attributes"] = 0
    c["v"]["handle"]["context_handle_uuid"] = string_to_bin(HANDLE_UUID)
    c["v"]["post"] = 0x7E
    emit_ndr(
        "ndr_context_handle",
        c,
        "NDRSTRUCT { USHORT pre; epm.ept_lookup_handle_t handle; UCHAR post }",
        "struct { u16 pre=0x5151; context_handle (attributes 0, uuid %s); u8 post=0x7e }"
        % HANDLE_UUID,
        "20 bytes, aligned to 4.",
    )


# ---------------------------------------------------------------------------------------------
# EPM (impacket.dcerpc.v5.epm) and mgmt (impacket.dcerpc.v5.mgmt)
# ---------------------------------------------------------------------------------------------


class ept_lookup_handle_free(NDRCALL):
    # C706 ept.idl opnum 4: void ept_lookup_handle_free([in] handle_t h,
    #     [in, out] ept_lookup_handle_t *entry_handle, [out] error_status_t *status);
    opnum = 4
    structure = (("entry_handle", epm.ept_lookup_handle_t),)


class ept_lookup_handle_freeResponse(NDRCALL):
    structure = (
        ("entry_handle", epm.ept_lookup_handle_t),
        ("status", ULONG),
    )


def tcp_tower(iface_syntax, port, ip):
    """A 5-floor ncacn_ip_tcp tower built with epm.EPMTower and its floor classes."""
    interface = epm.EPMRPCInterface()
    interface["InterfaceUUID"] = iface_syntax[:16]
    interface["MajorVersion"] = struct.unpack("<H", iface_syntax[16:18])[0]
    interface["MinorVersion"] = struct.unpack("<H", iface_syntax[18:20])[0]
    data_rep = epm.EPMRPCDataRepresentation()
    data_rep["DataRepUuid"] = NDR20_SYNTAX[:16]
    data_rep["MajorVersion"] = 2
    data_rep["MinorVersion"] = 0
    prot = epm.EPMProtocolIdentifier()
    prot["ProtIdentifier"] = 0x0B  # FLOOR_RPCV5_IDENTIFIER (ncacn)
    port_floor = epm.EPMPortAddr()
    port_floor["IpPort"] = port
    host_floor = epm.EPMHostAddr()
    host_floor["Ip4addr"] = bytes(ip)
    tower = epm.EPMTower()
    tower["NumberOfFloors"] = 5
    tower["Floors"] = (
        interface.getData()
        + data_rep.getData()
        + prot.getData()
        + port_floor.getData()
        + host_floor.getData()
    )
    return tower.getData()


def np_tower(iface_syntax, pipe, host):
    interface = epm.EPMRPCInterface()
    interface["InterfaceUUID"] = iface_syntax[:16]
    interface["MajorVersion"] = struct.unpack("<H", iface_syntax[16:18])[0]
    interface["MinorVersion"] = struct.unpack("<H", iface_syntax[18:20])[0]
    data_rep = epm.EPMRPCDataRepresentation()
    data_rep["DataRepUuid"] = NDR20_SYNTAX[:16]
    data_rep["MajorVersion"] = 2
    data_rep["MinorVersion"] = 0
    prot = epm.EPMProtocolIdentifier()
    prot["ProtIdentifier"] = 0x0B
    pipe_floor = epm.EPMPipeName()
    pipe_floor["PipeName"] = pipe
    host_floor = epm.EPMHostName()
    host_floor["HostName"] = host
    tower = epm.EPMTower()
    tower["NumberOfFloors"] = 5
    tower["Floors"] = (
        interface.getData()
        + data_rep.getData()
        + prot.getData()
        + pipe_floor.getData()
        + host_floor.getData()
    )
    return tower.getData()


# Set by epm_vectors().
TCP_TOWER_ECHO_49152 = None
NP_TOWER_ECHO = None


def entry(object_uuid, tower, annotation):
    e = epm.ept_entry_t()
    e["object"] = string_to_bin(object_uuid)
    e["tower"]["tower_length"] = len(tower)
    e["tower"]["tower_octet_string"] = tower
    e["annotation"] = annotation
    return e


def handle(uuid=None):
    h = epm.ept_lookup_handle_t()
    h["context_handle_attributes"] = 0
    h["context_handle_uuid"] = string_to_bin(uuid) if uuid else b"\x00" * 16
    return h


def epm_lookup_request():
    req = epm.ept_lookup()
    req["inquiry_type"] = epm.RPC_C_EP_ALL_ELTS
    req["object"] = NULL
    req["Ifid"] = NULL
    req["vers_option"] = epm.RPC_C_VERS_ALL
    req["entry_handle"] = handle()
    req["max_ents"] = 500
    return req


def epm_lookup_response(handle_uuid=HANDLE_UUID):
    resp = epm.ept_lookupResponse()
    resp["entry_handle"] = handle(handle_uuid)
    resp["num_ents"] = 2
    resp["entries"] = [
        entry("00000000-0000-0000-0000-000000000000", TCP_TOWER_ECHO_49152, b"rpcecho\x00"),
        entry(ENTRY_OBJECT_UUID, NP_TOWER_ECHO, b"\x00"),
    ]
    resp.fields["entries"].fields["MaximumCount"] = 500
    resp["status"] = 0
    return resp


def epm_map_request():
    req = epm.ept_map()
    req["obj"] = b"\x00" * 16
    tower = tcp_tower(ECHO_SYNTAX, 0, b"\x00\x00\x00\x00")
    req["map_tower"]["tower_length"] = len(tower)
    req["map_tower"]["tower_octet_string"] = tower
    req["entry_handle"] = handle()
    req["max_towers"] = 4
    return req


def epm_map_response():
    resp = epm.ept_mapResponse()
    resp["entry_handle"] = handle()
    resp["num_towers"] = 1
    t = epm.twr_p_t()
    t["tower_length"] = len(TCP_TOWER_ECHO_49152)
    t["tower_octet_string"] = TCP_TOWER_ECHO_49152
    resp["ITowers"] = [t]
    resp.fields["ITowers"].fields["MaximumCount"] = 4
    resp["status"] = 0
    return resp


def epm_vectors():
    global TCP_TOWER_ECHO_49152, NP_TOWER_ECHO
    TCP_TOWER_ECHO_49152 = tcp_tower(ECHO_SYNTAX, 49152, b"\x7f\x00\x00\x01")
    NP_TOWER_ECHO = np_tower(ECHO_SYNTAX, b"\\PIPE\\rpcecho\x00", b"\\\\SERVER\x00")
    emit(
        "epm_tower_tcp",
        TCP_TOWER_ECHO_49152,
        section="EPM",
        producer="epm.EPMTower with EPMRPCInterface, EPMRPCDataRepresentation, "
        "EPMProtocolIdentifier(0x0b), EPMPortAddr, EPMHostAddr",
        values="ncacn_ip_tcp tower: rpcecho %s v1.0, NDR20 v2.0, RPC CO (0x0b) minor 0, "
        "TCP port 49152 (big-endian), IP 127.0.0.1" % ECHO_UUID,
        notes="tower_octet_string contents (75 bytes), not NDR.",
    )
    emit(
        "epm_tower_np",
        NP_TOWER_ECHO,
        section="EPM",
        producer="epm.EPMTower with EPMRPCInterface, EPMRPCDataRepresentation, "
        "EPMProtocolIdentifier(0x0b), EPMPipeName, EPMHostName",
        values="ncacn_np tower: rpcecho v1.0, NDR20 v2.0, RPC CO (0x0b), pipe "
        "\"\\PIPE\\rpcecho\\0\" (floor 0x0f), NetBIOS host \"\\\\SERVER\\0\" (floor 0x11)",
        notes="tower_octet_string contents, not NDR.",
    )

    seeded()
    emit_ndr(
        "epm_ept_lookup_request",
        epm_lookup_request(),
        "epm.ept_lookup (opnum 2)",
        "inquiry_type=RPC_C_EP_ALL_ELTS (0), object=NULL, Ifid=NULL, "
        "vers_option=RPC_C_VERS_ALL (1), entry_handle=null handle, max_ents=500",
        "What epm.hept_lookup sends (see pdu_request_ept_lookup_hept_lookup).",
        section="EPM",
    )

    seeded()
    emit_ndr(
        "epm_ept_lookup_response",
        epm_lookup_response(),
        "epm.ept_lookupResponse; entries: epm.ept_entry_t_array of epm.ept_entry_t",
        "entry_handle={0, %s}, num_ents=2, entries (max_count 500, offset 0, actual 2): "
        "[ {object=nil, tower=epm_tower_tcp, annotation=\"rpcecho\"}, {object=%s, "
        "tower=epm_tower_np, annotation=\"\" (actual_count 1: the NUL)} ], status=0; tower "
        "ids 0x20000, 0x20004" % (HANDLE_UUID, ENTRY_OBJECT_UUID),
        section="EPM",
    )

    seeded()
    emit_ndr(
        "epm_ept_map_request",
        epm_map_request(),
        "epm.ept_map (opnum 3)",
        "obj=&nil UUID (id 0x20000), map_tower=&{tower_length 75, ncacn_ip_tcp tower for "
        "rpcecho v1.0 / NDR20 with port 0 and IP 0.0.0.0} (id 0x20004), entry_handle=null "
        "handle, max_towers=4",
        "Same values as epm.hept_map(..., protocol='ncacn_ip_tcp') sends; hept_map itself uses "
        "ids 1 and 2 (see pdu_request_ept_map_hept_map).",
        section="EPM",
    )

    seeded()
    emit_ndr(
        "epm_ept_map_response",
        epm_map_response(),
        "epm.ept_mapResponse; ITowers: epm.twr_p_t_array",
        "entry_handle=null handle, num_towers=1, ITowers (max_count 4, offset 0, actual 1): "
        "[ &epm_tower_tcp (id 0x20000) ], status=0",
        section="EPM",
    )

    seeded()
    req = ept_lookup_handle_free()
    req["entry_handle"] = handle(HANDLE_UUID)
    emit_ndr(
        "epm_ept_lookup_handle_free_request",
        req,
        "ept_lookup_handle_free (opnum 4; declared in gen_vectors.py from C706 ept.idl, "
        "Impacket lacks it) of epm.ept_lookup_handle_t",
        "entry_handle={0, %s}" % HANDLE_UUID,
        section="EPM",
    )
    seeded()
    resp = ept_lookup_handle_freeResponse()
    resp["entry_handle"] = handle()
    resp["status"] = 0
    emit_ndr(
        "epm_ept_lookup_handle_free_response",
        resp,
        "ept_lookup_handle_freeResponse (declared in gen_vectors.py)",
        "entry_handle=null handle, status=0",
        section="EPM",
    )

    # mgmt
    seeded()
    emit_ndr(
        "mgmt_inq_if_ids_request",
        mgmt.inq_if_ids(),
        "mgmt.inq_if_ids (opnum 0)",
        "no [in] parameters: empty stub",
        section="mgmt",
    )
    seeded()
    resp = mgmt.inq_if_idsResponse()
    ids = []
    for syntax in (EPM_SYNTAX, ECHO_SYNTAX):
        p = epm.PRPC_IF_ID()
        p["Uuid"] = syntax[:16]
        p["VersMajor"] = struct.unpack("<H", syntax[16:18])[0]
        p["VersMinor"] = struct.unpack("<H", syntax[18:20])[0]
        ids.append(p)
    resp["if_id_vector"]["count"] = 2
    resp["if_id_vector"]["if_id"] = ids
    resp["status"] = 0
    emit_ndr(
        "mgmt_inq_if_ids_response",
        resp,
        "mgmt.inq_if_idsResponse (rpc_if_id_vector_p_t -> rpc_if_id_vector_t with "
        "rpc_if_id_p_t_array of epm.PRPC_IF_ID)",
        "if_id_vector=&{count=2, if_id=[&{%s, 3, 0}, &{%s, 1, 0}]}, status=0; ids: vector "
        "0x20000, if_id[0] 0x20004, if_id[1] 0x20008" % (EPM_UUID, ECHO_UUID),
        section="mgmt",
    )
    seeded()
    req = mgmt.inq_stats()
    req["count"] = 4
    emit_ndr(
        "mgmt_inq_stats_request",
        req,
        "mgmt.inq_stats (opnum 1)",
        "count=4",
        section="mgmt",
    )
    seeded()
    resp = mgmt.inq_statsResponse()
    resp["count"] = 4
    resp["statistics"] = [10, 0, 20, 20]
    resp["status"] = 0
    emit_ndr(
        "mgmt_inq_stats_response",
        resp,
        "mgmt.inq_statsResponse (statistics: dtypes.DWORD_ARRAY)",
        "count=4, statistics=[calls_in 10, calls_out 0, pkts_in 20, pkts_out 20], status=0",
        section="mgmt",
    )
    seeded()
    emit_ndr(
        "mgmt_is_server_listening_request",
        mgmt.is_server_listening(),
        "mgmt.is_server_listening (opnum 2)",
        "no [in] parameters: empty stub",
        section="mgmt",
    )
    seeded()
    resp = mgmt.is_server_listeningResponse()
    resp["status"] = 0
    emit_ndr(
        "mgmt_is_server_listening_response",
        resp,
        "mgmt.is_server_listeningResponse",
        "status=0",
        "Impacket declares only [out] status: the IDL's boolean32 return value "
        "(C706 rpc__mgmt_is_server_listening) is missing, so this is 4 bytes where a "
        "conforming server sends 8 (status, then the result).",
        section="mgmt",
    )
    seeded()
    req = mgmt.inq_princ_name()
    req["authn_proto"] = 10
    req["princ_name_size"] = 64
    emit_ndr(
        "mgmt_inq_princ_name_request",
        req,
        "mgmt.inq_princ_name (opnum 4)",
        "authn_proto=10 (RPC_C_AUTHN_WINNT), princ_name_size=64",
        section="mgmt",
    )
    seeded()
    resp = mgmt.inq_princ_nameResponse()
    resp["princ_name"] = b"host/server\x00"
    resp.fields["princ_name"].fields["MaximumCount"] = 64
    resp["status"] = 0
    emit_ndr(
        "mgmt_inq_princ_name_response",
        resp,
        "mgmt.inq_princ_nameResponse (princ_name: NDRUniConformantVaryingArray of char)",
        "princ_name=\"host/server\" ([string, size_is(64)]: max_count 64, offset 0, "
        "actual 12 with the NUL), status=0",
        section="mgmt",
    )


# ---------------------------------------------------------------------------------------------
# rpcecho (Samba echo.idl), declared with Impacket's NDR classes
# ---------------------------------------------------------------------------------------------


class BYTE_ARRAY(NDRUniConformantArray):
    item = "c"


class EchoAddOne(NDRCALL):
    opnum = 0
    structure = (("in_data", ULONG),)


class EchoAddOneResponse(NDRCALL):
    structure = (("out_data", ULONG),)


class EchoEchoData(NDRCALL):
    opnum = 1
    structure = (("len", ULONG), ("in_data", BYTE_ARRAY))


class EchoEchoDataResponse(NDRCALL):
    structure = (("out_data", BYTE_ARRAY),)


class EchoSinkData(NDRCALL):
    opnum = 2
    structure = (("len", ULONG), ("data", BYTE_ARRAY))


class EchoSinkDataResponse(NDRCALL):
    structure = ()


class EchoSourceData(NDRCALL):
    opnum = 3
    structure = (("len", ULONG),)


class EchoSourceDataResponse(NDRCALL):
    structure = (("data", BYTE_ARRAY),)


class EchoTestCall(NDRCALL):
    opnum = 4
    structure = (("s1", WSTR),)  # [in, string] uint16 *s1: top-level [ref], no referent id


class EchoTestCallResponse(NDRCALL):
    structure = (("s2", LPWSTR),)  # [out] uint16 **s2: [ref] to [unique] string


class echo_info1(NDRSTRUCT):
    structure = (("v", UCHAR),)


class echo_info2(NDRSTRUCT):
    structure = (("v", USHORT),)


class echo_info3(NDRSTRUCT):
    structure = (("v", ULONG),)


class echo_info4(NDRSTRUCT):
    structure = (("v", ULONGLONG),)


class echo_info5(NDRSTRUCT):
    structure = (("v1", UCHAR), ("v2", ULONGLONG))


class echo_info6(NDRSTRUCT):
    structure = (("v1", UCHAR), ("info1", echo_info1))


class echo_info7(NDRSTRUCT):
    structure = (("v1", UCHAR), ("info4", echo_info4))


class echo_Info(NDRUNION):
    commonHdr = (("tag", USHORT),)
    union = {
        1: ("info1", echo_info1),
        2: ("info2", echo_info2),
        3: ("info3", echo_info3),
        4: ("info4", echo_info4),
        5: ("info5", echo_info5),
        6: ("info6", echo_info6),
        7: ("info7", echo_info7),
    }


class EchoTestCall2(NDRCALL):
    opnum = 5
    structure = (("level", USHORT),)


class EchoTestCall2Response(NDRCALL):
    structure = (("info", echo_Info), ("result", NTSTATUS))


class EchoTestSleep(NDRCALL):
    opnum = 6
    structure = (("seconds", ULONG),)


class EchoTestSleepResponse(NDRCALL):
    structure = (("result", ULONG),)


class echo_Enum1(NDRENUM):
    class enumItems(ndr.Enum):
        ECHO_ENUM1 = 1
        ECHO_ENUM2 = 2


class echo_Enum1_32(NDRENUM):
    # [v1_enum]: 32-bit. Impacket's NDRENUM is 16-bit in NDR20; the wire form is overridden
    # here to a 4-byte, 4-aligned value.
    align = 4
    structure = (("Data", "<L"),)

    class enumItems(ndr.Enum):
        ECHO_ENUM1_32 = 1
        ECHO_ENUM2_32 = 2


class echo_Enum2(NDRSTRUCT):
    structure = (("e1", echo_Enum1), ("e2", echo_Enum1_32))


class echo_Enum3(NDRUNION):
    commonHdr = (("tag", USHORT),)
    union = {
        1: ("e1", echo_Enum1),
        2: ("e2", echo_Enum2),
    }


class EchoTestEnum(NDRCALL):
    opnum = 7
    structure = (("foo1", echo_Enum1), ("foo2", echo_Enum2), ("foo3", echo_Enum3))


class EchoTestEnumResponse(NDRCALL):
    structure = (("foo1", echo_Enum1), ("foo2", echo_Enum2), ("foo3", echo_Enum3))


class echo_Surrounding(NDRSTRUCT):
    structure = (("x", ULONG), ("surrounding", USHORT_ARRAY))


class EchoTestSurrounding(NDRCALL):
    opnum = 8
    structure = (("data", echo_Surrounding),)


class EchoTestSurroundingResponse(NDRCALL):
    structure = (("data", echo_Surrounding),)


class PPUSHORT(NDRPOINTER):
    referent = (("Data", PUSHORT),)


class EchoTestDoublePointer(NDRCALL):
    opnum = 9
    structure = (("data", PPUSHORT),)  # [in] uint16 ***data: [ref] -> [unique] -> [unique]


class EchoTestDoublePointerResponse(NDRCALL):
    structure = (("result", USHORT),)


def echo_vectors():
    def ev(name, obj, producer, values, notes="", renumber=True):
        return emit_ndr(name, obj, producer, values, notes, renumber, section="rpcecho")

    seeded()
    r = EchoAddOne()
    r["in_data"] = 41
    ev("echo_AddOne_request", r, "EchoAddOne (opnum 0)", "in_data=41")
    seeded()
    r = EchoAddOneResponse()
    r["out_data"] = 42
    ev("echo_AddOne_response", r, "EchoAddOneResponse", "out_data=42")

    data = bytes([0x01, 0x02, 0x03, 0xFE, 0xFF])
    seeded()
    r = EchoEchoData()
    r["len"] = len(data)
    r["in_data"] = data
    ev("echo_EchoData_request", r, "EchoEchoData (opnum 1)", "len=5, in_data=01 02 03 fe ff")
    seeded()
    r = EchoEchoDataResponse()
    r["out_data"] = data
    ev(
        "echo_EchoData_response",
        r,
        "EchoEchoDataResponse",
        "out_data=01 02 03 fe ff (max_count 5)",
    )

    seeded()
    r = EchoSinkData()
    r["len"] = 3
    r["data"] = b"abc"
    ev("echo_SinkData_request", r, "EchoSinkData (opnum 2)", "len=3, data=\"abc\"")
    seeded()
    ev("echo_SinkData_response", EchoSinkDataResponse(), "EchoSinkDataResponse", "empty stub")

    seeded()
    r = EchoSourceData()
    r["len"] = 8
    ev("echo_SourceData_request", r, "EchoSourceData (opnum 3)", "len=8")
    seeded()
    r = EchoSourceDataResponse()
    r["data"] = bytes(range(8))
    ev(
        "echo_SourceData_response",
        r,
        "EchoSourceDataResponse",
        "data=00 01 02 03 04 05 06 07 (Samba's server fills i & 0xff)",
    )

    seeded()
    r = EchoTestCall()
    r["s1"] = "Hello, echo\x00"
    ev(
        "echo_TestCall_request",
        r,
        "EchoTestCall (opnum 4), s1: dtypes.WSTR",
        "s1=L\"Hello, echo\" (top-level [ref]: no referent id)",
    )
    seeded()
    r = EchoTestCallResponse()
    r["s2"] = "Hello, echo\x00"
    ev(
        "echo_TestCall_response",
        r,
        "EchoTestCallResponse, s2: dtypes.LPWSTR",
        "*s2=&L\"Hello, echo\" (unique, id 0x20000)",
    )

    for level in range(1, 8):
        seeded()
        r = EchoTestCall2()
        r["level"] = level
        ev(
            "echo_TestCall2_request_level%d" % level,
            r,
            "EchoTestCall2 (opnum 5)",
            "level=%d" % level,
        )
    # Values of Samba's server (rpc_server/echo/srv_echo_nt.c).
    arms = {
        1: ("info1", {"v": 10}),
        2: ("info2", {"v": 20}),
        3: ("info3", {"v": 30}),
        4: ("info4", {"v": 40}),
        5: ("info5", {"v1": 50, "v2": 60}),
        6: ("info6", {"v1": 70, "info1": {"v": 80}}),
        7: ("info7", {"v1": 80, "info4": {"v": 90}}),
    }
    for level, (arm, fields) in arms.items():
        seeded()
        r = EchoTestCall2Response()
        r["info"]["tag"] = level
        for k, v in fields.items():
            if isinstance(v, dict):
                for k2, v2 in v.items():
                    r["info"][arm][k][k2] = v2
            else:
                r["info"][arm][k] = v
        r["result"] = 0
        ev(
            "echo_TestCall2_response_level%d" % level,
            r,
            "EchoTestCall2Response: echo_Info (NDRUNION, tag USHORT) + NTSTATUS",
            "info: tag %d, %s=%s; result=NT_STATUS_OK" % (level, arm, fields),
            "Union: Impacket pads the u16 tag to 4 before the arm." if level in (1, 2, 6) else "",
        )

    seeded()
    r = EchoTestSleep()
    r["seconds"] = 1
    ev("echo_TestSleep_request", r, "EchoTestSleep (opnum 6)", "seconds=1")
    seeded()
    r = EchoTestSleepResponse()
    r["result"] = 1
    ev("echo_TestSleep_response", r, "EchoTestSleepResponse", "result=1")

    seeded()
    r = EchoTestEnum()
    r["foo1"] = echo_Enum1.enumItems.ECHO_ENUM2
    r["foo2"]["e1"] = echo_Enum1.enumItems.ECHO_ENUM1
    r["foo2"]["e2"] = echo_Enum1_32.enumItems.ECHO_ENUM2_32
    r["foo3"]["tag"] = 2
    r["foo3"]["e2"]["e1"] = echo_Enum1.enumItems.ECHO_ENUM2
    r["foo3"]["e2"]["e2"] = echo_Enum1_32.enumItems.ECHO_ENUM1_32
    ev(
        "echo_TestEnum_request",
        r,
        "EchoTestEnum (opnum 7): echo_Enum1 (NDRENUM), echo_Enum2 (NDRSTRUCT), echo_Enum3 "
        "(NDRUNION, tag USHORT); echo_Enum1_32 is NDRENUM overridden to '<L'",
        "foo1=ECHO_ENUM2 (2), foo2={e1=ECHO_ENUM1 (1), e2=ECHO_ENUM2_32 (2)}, foo3 (tag 2): "
        "e2={e1=ECHO_ENUM2, e2=ECHO_ENUM1_32}",
    )
    seeded()
    r = EchoTestEnumResponse()
    r["foo1"] = echo_Enum1.enumItems.ECHO_ENUM1
    r["foo2"]["e1"] = echo_Enum1.enumItems.ECHO_ENUM2
    r["foo2"]["e2"] = echo_Enum1_32.enumItems.ECHO_ENUM1_32
    r["foo3"]["tag"] = 1
    r["foo3"]["e1"] = echo_Enum1.enumItems.ECHO_ENUM2
    ev(
        "echo_TestEnum_response",
        r,
        "EchoTestEnumResponse",
        "foo1=ECHO_ENUM1 (1), foo2={e1=ECHO_ENUM2, e2=ECHO_ENUM1_32}, foo3 (tag 1): "
        "e1=ECHO_ENUM2",
        "Union: Impacket pads the u16 tag to 4 before the u16 arm.",
    )

    seeded()
    r = EchoTestSurrounding()
    r["data"]["x"] = 4
    r["data"]["surrounding"] = [1, 2, 3, 4]
    ev(
        "echo_TestSurrounding_request",
        r,
        "EchoTestSurrounding (opnum 8): echo_Surrounding NDRSTRUCT { ULONG x; "
        "NDRUniConformantArray (item '<H') surrounding }",
        "data={x=4, surrounding=[1, 2, 3, 4]} (conformant struct: max_count hoisted)",
    )
    seeded()
    r = EchoTestSurroundingResponse()
    r["data"]["x"] = 8
    r["data"]["surrounding"] = [1, 2, 3, 4, 0, 0, 0, 0]
    ev(
        "echo_TestSurrounding_response",
        r,
        "EchoTestSurroundingResponse",
        "data={x=8, surrounding=[1, 2, 3, 4, 0, 0, 0, 0]} (Samba's server doubles x)",
    )

    seeded()
    r = EchoTestDoublePointer()
    r["data"] = 0x1234
    ev(
        "echo_TestDoublePointer_request",
        r,
        "EchoTestDoublePointer (opnum 9): PPUSHORT (NDRPOINTER to dtypes.PUSHORT)",
        "data: [ref] -> [unique] (id 0x20000) -> [unique] (id 0x20004) -> 0x1234",
    )
    seeded()
    r = EchoTestDoublePointer()
    r.fields["data"]["Data"] = NULL
    ev(
        "echo_TestDoublePointer_request_null",
        r,
        "EchoTestDoublePointer",
        "data: [ref] -> [unique] (id 0x20000) -> NULL",
    )
    seeded()
    r = EchoTestDoublePointerResponse()
    r["result"] = 0x1234
    ev("echo_TestDoublePointer_response", r, "EchoTestDoublePointerResponse", "result=0x1234")


# ---------------------------------------------------------------------------------------------
# PDUs (impacket.dcerpc.v5.rpcrt)
# ---------------------------------------------------------------------------------------------


def stub_of(name):
    for v in VECTORS:
        if v["name"] == name:
            return v["data"], (v["mask"] or bytes(len(v["data"])))
    raise KeyError(name)


def pdu_vectors():
    sec = "PDU"
    data = bind_pdu(
        rpcrt.MSRPC_BIND,
        1,
        [
            ctx_item(0, EPM_SYNTAX, NDR20_SYNTAX),
            ctx_item(1, ECHO_SYNTAX, NDR20_SYNTAX),
            ctx_item(2, EPM_SYNTAX, BTFN_SYNTAX),
        ],
    )
    emit(
        "pdu_bind",
        data,
        section=sec,
        producer="rpcrt.MSRPCHeader(type MSRPC_BIND) + rpcrt.MSRPCBind with 3 rpcrt.CtxItem",
        values="flags 0x03, call_id 1, max_xmit_frag 4280, max_recv_frag 4280, assoc_group 0; "
        "contexts: 0: EPM %s v3.0 / NDR20 v2.0; 1: rpcecho %s v1.0 / NDR20 v2.0; 2: EPM v3.0 / "
        "bind-time feature negotiation %s v1.0 (features 0x0003)" % (EPM_UUID, ECHO_UUID, BTFN_UUID),
        notes="CtxItem carries exactly one transfer syntax (TransItems is a count but "
        "TransferSyntax a fixed 20s field).",
    )

    t = MemoryTransport()
    dce = rpcrt.DCERPC_v5(t)
    ack = bind_ack_pdu(rpcrt.MSRPC_BINDACK, 1, b"135", [ctx_result(0, 0, NDR20_SYNTAX)])
    t.queue(ack)
    dce.bind(epm.MSRPC_UUID_PORTMAP)
    emit(
        "pdu_bind_impacket_client",
        t.sent[0],
        section=sec,
        producer="captured: rpcrt.DCERPC_v5.bind(epm.MSRPC_UUID_PORTMAP) over an in-memory "
        "transport",
        values="flags 0x03, call_id 1, 4280/4280, assoc_group 0, one context: 0: EPM v3.0 / "
        "NDR20 v2.0",
    )

    emit(
        "pdu_bind_ack",
        bind_ack_pdu(
            rpcrt.MSRPC_BINDACK,
            1,
            b"135",
            [
                ctx_result(0, 0, NDR20_SYNTAX),
                ctx_result(2, 2, ZERO_SYNTAX),
                ctx_result(3, 3, ZERO_SYNTAX),
            ],
        ),
        section=sec,
        producer="rpcrt.MSRPCBindAck, 3 rpcrt.CtxItemResult",
        values="flags 0x03, call_id 1, 4280/4280, assoc_group 0x12345, sec_addr \"135\\0\" "
        "(length 4, 2 pad bytes); results: acceptance/0/NDR20 v2.0; provider_rejection/"
        "proposed_transfer_syntaxes_not_supported (2)/zeros; negotiate_ack (3)/reason 3 "
        "(features 0x0003)/zeros",
        notes="SecondaryAddrLen and Pad set explicitly (Impacket's '<H&SecondaryAddr' would "
        "pack an object address).",
    )
    emit(
        "pdu_bind_ack_49152",
        bind_ack_pdu(rpcrt.MSRPC_BINDACK, 1, b"49152", [ctx_result(0, 0, NDR20_SYNTAX)]),
        section=sec,
        producer="rpcrt.MSRPCBindAck",
        values="flags 0x03, call_id 1, 4280/4280, assoc_group 0x12345, sec_addr \"49152\\0\" "
        "(length 6, no pad); one result: acceptance/0/NDR20 v2.0",
    )
    emit(
        "pdu_bind_ack_pipe",
        bind_ack_pdu(
            rpcrt.MSRPC_BINDACK, 1, b"\\PIPE\\epmapper", [ctx_result(0, 0, NDR20_SYNTAX)]
        ),
        section=sec,
        producer="rpcrt.MSRPCBindAck",
        values="as pdu_bind_ack_49152 with sec_addr \"\\PIPE\\epmapper\\0\" (length 15, 3 pad "
        "bytes)",
    )

    # Impacket's own server answering pdu_bind_impacket_client.
    class Sock:
        def __init__(self):
            self.out = []

        def send(self, b):
            self.out.append(bytes(b))

    srv = rpcrt.DCERPCServer(client_socket=Sock())
    srv.addCallbacks((EPM_UUID, "3.0"), "135", {})
    srv.processRequest(t.sent[0])
    srv.addCallbacks((ECHO_UUID, "1.0"), "49152", {})
    bind_ack_srv = srv._clientSock.out[0]
    emit(
        "pdu_bind_ack_impacket_server",
        bind_ack_srv,
        pdu_mask(len(bind_ack_srv), extra=[(30, 2)]),
        section=sec,
        producer="captured: rpcrt.DCERPCServer.processRequest(pdu_bind_impacket_client) with "
        "EPM registered at secondary address \"135\"",
        values="flags 0x03, call_id 1, 4280/4280, assoc_group 0x1234, sec_addr \"135\\0\"; one "
        "result: acceptance/0/NDR20 v2.0",
        notes="Impacket's server fills the sec_addr padding with 'A' (0x41) (mask).",
    )

    srv2 = rpcrt.DCERPCServer(client_socket=Sock())
    srv2.addCallbacks((ECHO_UUID, "1.0"), "49152", {})
    srv2.processRequest(
        bind_pdu(
            rpcrt.MSRPC_BIND,
            1,
            [ctx_item(0, EPM_SYNTAX, NDR20_SYNTAX), ctx_item(1, ECHO_SYNTAX, NDR20_SYNTAX)],
        )
    )
    out = srv2._clientSock.out[0]
    emit(
        "pdu_bind_ack_impacket_server_reject",
        out,
        section=sec,
        producer="captured: rpcrt.DCERPCServer.processRequest(bind of EPM v3.0 and rpcecho "
        "v1.0) with only rpcecho registered (secondary address \"49152\")",
        values="flags 0x03, call_id 1, 4280/4280, assoc_group 0x1234, sec_addr \"49152\\0\"; "
        "results: user_rejection (1)/abstract_syntax_not_supported (1)/NDR20 v2.0; "
        "acceptance/0/NDR20 v2.0",
        notes="Impacket's server rejects an unknown interface with user_rejection (not "
        "provider_rejection) and names NDR20 in the rejected result.",
    )

    nak = rpcrt.MSRPCHeader()
    nak["type"] = rpcrt.MSRPC_BINDNAK
    nak["flags"] = 0x03
    nak["call_id"] = 1
    body = rpcrt.MSRPCBindNak()
    body["RejectedReason"] = 4
    body["SupportedVersions"] = b"\x01\x05\x00"
    nak["pduData"] = body.getData()
    emit(
        "pdu_bind_nak",
        nak.get_packet(),
        section=sec,
        producer="rpcrt.MSRPCHeader(type MSRPC_BINDNAK) + rpcrt.MSRPCBindNak",
        values="flags 0x03, call_id 1, provider_reject_reason 4 "
        "(protocol_version_not_supported), versions: n_protocols 1, (5, 0)",
        notes="MSRPCBindNak has RejectedReason and an opaque SupportedVersions field; the "
        "p_rt_versions_supported_t bytes (count, major, minor) are written by hand into it.",
    )

    emit(
        "pdu_alter_context",
        bind_pdu(rpcrt.MSRPC_ALTERCTX, 2, [ctx_item(1, ECHO_SYNTAX, NDR20_SYNTAX)]),
        section=sec,
        producer="rpcrt.MSRPCHeader(type MSRPC_ALTERCTX) + rpcrt.MSRPCBind",
        values="flags 0x03, call_id 2, 4280/4280, assoc_group 0, one context: 1: rpcecho v1.0 "
        "/ NDR20 v2.0",
    )

    t2 = MemoryTransport()
    dce2 = rpcrt.DCERPC_v5(t2)
    t2.queue(ack)
    dce2.bind(epm.MSRPC_UUID_PORTMAP)
    t2.queue(
        bind_ack_pdu(rpcrt.MSRPC_ALTERCTX_R, 2, b"", [ctx_result(0, 0, NDR20_SYNTAX)])
    )
    dce2.alter_ctx(ECHO_SYNTAX)
    emit(
        "pdu_alter_context_impacket_client",
        t2.sent[1],
        section=sec,
        producer="captured: rpcrt.DCERPC_v5.alter_ctx(rpcecho v1.0) after a bind",
        values="flags 0x03, call_id 1, 4280/4280, assoc_group 0, one context: 1: rpcecho v1.0 "
        "/ NDR20 v2.0",
        notes="call_id 1 again: DCERPC_v5 only advances call_id after an authenticated bind.",
    )

    alter_resp = bind_ack_pdu(rpcrt.MSRPC_ALTERCTX_R, 2, b"", [ctx_result(0, 0, NDR20_SYNTAX)])
    emit(
        "pdu_alter_context_resp",
        alter_resp,
        section=sec,
        producer="rpcrt.MSRPCBindAck(type MSRPC_ALTERCTX_R)",
        values="flags 0x03, call_id 2, 4280/4280, assoc_group 0x12345, sec_addr empty (length "
        "0), one result: acceptance/0/NDR20 v2.0",
        notes="Impacket's 'z' SecondaryAddr always writes a NUL when building, so this is "
        "SecondaryAddr '' (1 byte) + Pad 1 byte: the same 2 zero bytes C706 has after a zero "
        "sec_addr length (Impacket's parser reads it back correctly).",
    )

    # request / response with EPM stubs
    lookup_stub, lookup_mask = stub_of("epm_ept_lookup_request")
    data = request_pdu(2, lookup_stub, call_id=2)
    emit(
        "pdu_request",
        data,
        pdu_mask(len(data), 24, lookup_mask),
        section=sec,
        producer="rpcrt.DCERPC_RawCall (MSRPCRequestHeader), fields as DCERPC_v5.send sets them",
        values="flags 0x03, call_id 2, alloc_hint %d, context 0, opnum 2, no object; stub: "
        % len(lookup_stub)
        + "epm_ept_lookup_request",
    )
    echo_stub, echo_mask = stub_of("echo_AddOne_request")
    data = request_pdu(0, echo_stub, call_id=3, ctx_id=1, obj=string_to_bin(OBJECT_UUID))
    emit(
        "pdu_request_object",
        data,
        pdu_mask(len(data), 40, echo_mask),
        section=sec,
        producer="rpcrt.DCERPC_RawCall(0, stub, uuid) (sets PFC_OBJECT_UUID)",
        values="flags 0x83, call_id 3, alloc_hint 4, context 1, opnum 0, object %s; stub: "
        "echo_AddOne_request" % OBJECT_UUID,
    )

    # Captured from Impacket's client helpers.
    t3 = MemoryTransport()
    dce3 = rpcrt.DCERPC_v5(t3)
    t3.queue(ack)
    # hept_lookup loops until the returned entry_handle is null.
    last = renumber_pointers(epm_lookup_response(handle_uuid=None)).getData()
    t3.queue(response_pdu(rpcrt.MSRPC_RESPONSE, last, call_id=1))
    seeded()
    entries = epm.hept_lookup(None, dce=dce3)
    assert len(entries) == 2 and entries[0]["annotation"] == b"rpcecho\x00", entries
    data = t3.sent[1]
    emit(
        "pdu_request_ept_lookup_hept_lookup",
        data,
        section=sec,
        producer="captured: epm.hept_lookup(None, dce=DCERPC_v5 over an in-memory transport) "
        "(its bind is pdu_bind_impacket_client)",
        values="flags 0x03, call_id 1 (the bind's: see pdu_alter_context_impacket_client), "
        "alloc_hint %d, context 0, opnum 2; stub: " % len(lookup_stub)
        + "epm_ept_lookup_request",
    )
    assert data[24:] == lookup_stub

    t4 = MemoryTransport()
    dce4 = rpcrt.DCERPC_v5(t4)
    t4.queue(ack)
    map_resp_stub, _ = stub_of("epm_ept_map_response")
    t4.queue(response_pdu(rpcrt.MSRPC_RESPONSE, map_resp_stub, call_id=2))
    seeded()
    result = epm.hept_map("server", ECHO_SYNTAX, protocol="ncacn_ip_tcp", dce=dce4)
    assert result == "ncacn_ip_tcp:server[49152]", result
    data = t4.sent[1]
    emit(
        "pdu_request_ept_map_hept_map",
        data,
        section=sec,
        producer="captured: epm.hept_map('server', rpcecho v1.0, protocol='ncacn_ip_tcp', "
        "dce=DCERPC_v5 over an in-memory transport)",
        values="flags 0x03, call_id 1, alloc_hint %d, context 0, opnum 3; stub = "
        "epm_ept_map_request's values " % (len(data) - 24)
        + "but with hept_map's referent ids: obj 0x00000001, map_tower 0x00000002",
        notes="Decode-only (ids differ from a sequential encoder's). hept_map parsed "
        "epm_ept_map_response into 'ncacn_ip_tcp:server[49152]'.",
    )

    resp_stub, resp_mask = stub_of("epm_ept_lookup_response")
    data = response_pdu(rpcrt.MSRPC_RESPONSE, resp_stub, call_id=2)
    emit(
        "pdu_response",
        data,
        pdu_mask(len(data), 24, resp_mask),
        section=sec,
        producer="rpcrt.MSRPCRespHeader(type MSRPC_RESPONSE)",
        values="flags 0x03, call_id 2, alloc_hint = stub length, context 0, cancel_count 0; "
        "stub: epm_ept_lookup_response",
    )

    emit(
        "pdu_fault",
        response_pdu(
            rpcrt.MSRPC_FAULT, struct.pack("<II", 0x1C010002, 0), call_id=3, flags=0x23
        ),
        section=sec,
        producer="rpcrt.MSRPCRespHeader(type MSRPC_FAULT), pduData = status + reserved",
        values="flags 0x23 (first, last, did_not_execute), call_id 3, alloc_hint 0, context 0, "
        "cancel_count 0, status nca_s_op_rng_error 0x1c010002, reserved 0",
    )

    class Sock2:
        def __init__(self):
            self.out = []

        def send(self, b):
            self.out.append(bytes(b))

    srv3 = rpcrt.DCERPCServer(client_socket=Sock2())
    srv3.addCallbacks((ECHO_UUID, "1.0"), "49152", {})
    srv3.processRequest(bind_pdu(rpcrt.MSRPC_BIND, 1, [ctx_item(0, ECHO_SYNTAX, NDR20_SYNTAX)]))
    req = request_pdu(9, b"", call_id=2)
    fault = srv3.processRequest(req)
    fault_bytes = fault.get_packet()
    emit(
        "pdu_fault_impacket_server",
        fault_bytes,
        section=sec,
        producer="captured: rpcrt.DCERPCServer.processRequest(request for an opnum without a "
        "callback)",
        values="type fault, flags 0x03, call_id 2, alloc_hint 0, context 0, cancel_count 9, "
        "reserved 0; pduData = status 0x000006e4 (RPC_S_CANNOT_SUPPORT) only",
        notes="Answer to a request for opnum 9. 28 bytes: Impacket's server omits the 4 "
        "reserved bytes after the status that C706 12.6.4.7 / MS-RPCE 2.2.2.7 place in every "
        "fault (32 bytes minimum), and, since it parses the request with MSRPCRespHeader, "
        "copies the opnum's low byte into cancel_count.",
    )

    # auth: bind with an NTLM negotiate token the way DCERPC_v5.bind builds it
    negotiate = ntlm.getNTLMSSPType1("", "", signingRequired=True, use_ntlmv2=True).getData()
    emit(
        "pdu_bind_auth",
        bind_pdu(
            rpcrt.MSRPC_BIND,
            1,
            [ctx_item(0, ECHO_SYNTAX, NDR20_SYNTAX)],
            auth=(sec_trailer(rpcrt.RPC_C_AUTHN_WINNT, rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY),
                  negotiate),
        ),
        section=sec,
        producer="rpcrt.MSRPCHeader(MSRPC_BIND) + MSRPCBind + rpcrt.SEC_TRAILER + "
        "ntlm.getNTLMSSPType1('', '', signingRequired=True, use_ntlmv2=True)",
        values="flags 0x03, call_id 1, one context 0: rpcecho v1.0 / NDR20; sec_trailer: "
        "auth_type 10 (WINNT), auth_level 5 (PKT_INTEGRITY), pad 0, reserved 0, context_id "
        "79231 (Impacket's ctx + 79231); auth value: the %d-byte NTLM NEGOTIATE Impacket "
        "builds" % len(negotiate),
    )
    emit(
        "pdu_bind_ack_auth",
        bind_ack_pdu(
            rpcrt.MSRPC_BINDACK,
            1,
            b"49152",
            [ctx_result(0, 0, NDR20_SYNTAX)],
            auth=(sec_trailer(rpcrt.RPC_C_AUTHN_WINNT, rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY),
                  NTLM_CHALLENGE),
        ),
        section=sec,
        producer="rpcrt.MSRPCBindAck with sec_trailer (rpcrt.SEC_TRAILER) and auth_data",
        values="as pdu_bind_ack_49152 plus sec_trailer (10, 5, pad 0, ctx 79231) and a fixed "
        "60-byte auth value: \"NTLMSSP\\0\", 02 00 00 00, bytes 0x10..0x3f",
    )

    auth3 = rpcrt.MSRPCHeader()
    auth3["type"] = rpcrt.MSRPC_AUTH3
    auth3["flags"] = 0x03
    auth3["call_id"] = 1
    auth3["pduData"] = b"    "
    auth3["sec_trailer"] = sec_trailer(
        rpcrt.RPC_C_AUTHN_WINNT, rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY
    )
    auth3["auth_data"] = NTLM_AUTHENTICATE
    emit(
        "pdu_auth3",
        auth3.get_packet(),
        section=sec,
        producer="rpcrt.MSRPCHeader(type MSRPC_AUTH3) as DCERPC_v5.bind builds it: pduData "
        "b'    ', then sec_trailer and auth_data",
        values="flags 0x03, call_id 1; 4 pad bytes 0x20 (Impacket writes four spaces); "
        "sec_trailer (10, 5, pad 0, ctx 79231); fixed 72-byte auth value: \"NTLMSSP\\0\", "
        "03 00 00 00, bytes 0x40..0x7b",
        notes="MS-RPCE 2.2.2.10: the 4 bytes may be any value and are ignored.",
    )

    # Requests signed / sealed by DCERPC_v5._transport_send itself, with fixed keys.
    for level, lname in (
        (rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY, "integrity"),
        (rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY, "privacy"),
    ):
        t5 = MemoryTransport()
        dce5 = rpcrt.DCERPC_v5(t5)
        dce5.set_auth_level(level)
        dce5.set_auth_type(rpcrt.RPC_C_AUTHN_WINNT)
        # State bind() would have negotiated: NTLM without extended session security (flags 0),
        # one fixed key for signing and sealing.
        dce5._DCERPC_v5__flags = 0
        dce5._DCERPC_v5__clientSigningKey = SIGNING_KEY
        dce5._DCERPC_v5__clientSealingKey = SIGNING_KEY
        from Cryptodome.Cipher import ARC4

        dce5._DCERPC_v5__clientSealingHandle = ARC4.new(SIGNING_KEY).encrypt
        dce5._DCERPC_v5__max_xmit_size = 4280
        dce5._DCERPC_v5__callid = 2
        stub, _ = stub_of("echo_EchoData_request")
        dce5.call(1, stub)
        data = t5.sent[0]
        pad = data[-16 - 8 + 2]
        stub_end = 24 + len(stub)
        emit(
            "pdu_request_auth_%s" % lname,
            data,
            pdu_mask(len(data), extra=[(stub_end, pad)]),
            section=sec,
            producer="captured: rpcrt.DCERPC_v5.call(1, echo_EchoData_request stub) with "
            "auth_level %d, auth_type WINNT and fixed NTLM keys (_transport_send pads, builds "
            "the sec_trailer and signs%s)" % (level, " and seals" if level == 6 else ""),
            values="flags 0x03, call_id 2, alloc_hint 13, context 0, opnum 1; %d-byte stub%s; "
            "auth padding %d bytes (0xbb before sealing); sec_trailer (10, %d, pad %d, ctx 79231); 16-byte NTLM "
            "signature (version 1, no extended session security, key bytes 0xa0..0xaf)"
            % (len(stub), " (sealed, RC4)" if level == 6 else " (echo_EchoData_request)", pad,
               level, pad),
            notes="Impacket pads stub + header to a multiple of 4 (3 bytes here), not to 16 from "
            "the stub start as MS-RPCE 2.2.2.11 prescribes."
            + (" The padding is sealed with the stub." if level == 6 else ""),
        )

    # Fragmented request, as DCERPC_v5.send fragments it.
    t6 = MemoryTransport()
    dce6 = rpcrt.DCERPC_v5(t6)
    dce6._DCERPC_v5__max_xmit_size = 4280
    dce6._DCERPC_v5__callid = 4
    dce6.set_max_fragment_size(16)
    big = bytes(range(20))
    ed = EchoEchoData()
    ed["len"] = len(big)
    ed["in_data"] = big
    full_stub = ed.getData()
    dce6.call(1, full_stub)
    for i, frag in enumerate(t6.sent):
        emit(
            "pdu_request_frag%d" % (i + 1),
            frag,
            section=sec,
            producer="captured: rpcrt.DCERPC_v5.call(1, stub) after set_max_fragment_size(16)",
            values="fragment %d of %d: flags %#04x, call_id 4, alloc_hint 28 (the whole stub), "
            "context 0, opnum 1; stub bytes %d..%d of echo EchoData(len=20, in_data=00..13)"
            % (i + 1, len(t6.sent), frag[3], 16 * i, 16 * i + len(frag) - 24),
            notes="Impacket repeats the whole stub's alloc_hint in every fragment (C706 allows "
            "any hint; Windows sends the remaining length)." if i == 0 else "",
        )

    for ptype, name in (
        (rpcrt.MSRPC_SHUTDOWN, "shutdown"),
        (rpcrt.MSRPC_CO_CANCEL, "co_cancel"),
        (rpcrt.MSRPC_ORPHANED, "orphaned"),
    ):
        p = rpcrt.MSRPCHeader()
        p["type"] = ptype
        p["flags"] = 0x03
        p["call_id"] = 5
        emit(
            "pdu_%s" % name,
            p.get_packet(),
            section=sec,
            producer="rpcrt.MSRPCHeader(type MSRPC_%s), empty pduData"
            % {17: "SHUTDOWN", 18: "CO_CANCEL", 19: "ORPHANED"}[ptype],
            values="flags 0x03, call_id 5, frag_length 16",
        )


# ---------------------------------------------------------------------------------------------
# MANIFEST.md
# ---------------------------------------------------------------------------------------------

DIFFERENCES = """\
## Where Impacket's encoding departs from C706 / MS-RPCE

Found while producing these vectors (Impacket 0.13.1). A conforming decoder must accept the first
group; the others are Impacket bugs or omissions that an implementation must *not* copy.

Accepted variations (the spec leaves the bytes free):
- **Alignment gaps are not zero.** NDR gaps are "octets of unspecified value" (C706 14.2.2).
  Impacket fills them with markers that tell where they came from: 0xbf primitive, 0xab/0xee struct,
  0xaa pointer, 0xbc/0xbb/0xbd/0xbe union, 0xca/0xcb/0xdd array, 0xcc/0xef referent, 0xce call.
  The `.mask.hex` files mark them.
- **Auth padding is 0xbb (requests) / 0xff (bind), and pads to 4, not 16.** `_transport_send`
  pads header + stub to a multiple of 4 before the sec_trailer; MS-RPCE 2.2.2.11 asks for the stub
  to be padded to a 16-byte boundary for integrity/privacy. `auth_pad_length` tells the truth, so a
  receiver that strips `auth_pad_length` bytes is fine (pdu_request_auth_integrity: 3 bytes).
- **Its server's bind_ack fills the sec_addr padding with 'A'** (pdu_bind_ack_impacket_server).
- **alloc_hint repeats the whole stub length in every fragment** (pdu_request_frag1/2).
- **Referent ids are random** (`random.randint(1, 65535)` per pointer object), and hept_map uses 1
  and 2; Windows uses 0x00020000 + 4k. Only null vs non-null matters on decode.
- **auth3 pad is four spaces** (MS-RPCE: any value).
- **call_id does not advance after an unauthenticated bind**: the bind and the first request (or
  alter_context) share call_id 1 (C706 does not require distinct ids across them).

Departures from the spec:
- **Unions.** `NDRUNION.getAlignment` uses only the discriminant (its comment: "I'm calculating it
  just with the tag, if I do it with the arms I get bad stub data"), and after the discriminant
  Impacket always pads to 4 ("doesn't come from the documentation but from seeing the packets").
  Samba's NDR20 (pidl: `ndr_push_union_align` acts only in NDR64) and Wine's NDR engine align the
  discriminant to its own type and the arm to the arm's own alignment; MS-RPCE 2.2.4.5
  (`ms_union`, an opt-in Windows extension to C706 14.3.8) aligns the arm to the largest
  alignment of all arms. Impacket's fixed 4 matches neither in general; it matches `ms_union`
  whenever the widest arm is 4-aligned (pointer arms: the common case in Windows interfaces,
  which is why Impacket works against Windows). Consequences:
  - a u16 discriminant followed by a 1- or 2-aligned arm: Impacket puts the arm 4 bytes after the
    union start, Samba/Wine 2 bytes after (ndr_union_u16_u8, echo_TestCall2_response_level1, 2 and
    6, echo_TestEnum_response; the TestCall2 ones are also 4 bytes longer because NTSTATUS then
    lands on the next 4-byte boundary); rpcecho is Samba's interface (no ms_union), so these are
    genuine interoperability bugs of an Impacket rpcecho client;
  - arms that are 4- or 8-aligned come out the same under every reading (ndr_union_u16_u32,
    ndr_union_u16_u64, ndr_union_u32_*, ndr_union_in_struct, echo_TestCall2_response_level3/4/5/7,
    echo_TestEnum_request).
- **Fault without reserved.** Impacket's DCERPCServer answers an unknown opnum with a 28-byte fault
  (status only): C706 12.6.4.7 / MS-RPCE 2.2.2.7 have 4 reserved bytes after the status
  (pdu_fault_impacket_server). Its client reads only the status, so it never notices. The same
  fault carries the request's opnum in cancel_count (it re-parses the request as a response
  header).
- **bind_ack for an unknown interface** is user_rejection (1) with reason 1 and the NDR20 syntax
  (pdu_bind_ack_impacket_server_reject); Windows sends provider_rejection (2),
  abstract_syntax_not_supported (1), and a zero syntax.
- **Empty sec_addr when building.** MSRPCBindAck declares SecondaryAddr as a 'z' field guarded by
  `'<H&SecondaryAddr'`: the parser skips it when the length is 0, but the builder still writes its
  NUL, and the PadLen formula assumes it absent. A zero-length sec_addr (every
  alter_context_resp) built with Impacket's own pad formula comes out one byte long and
  misaligns the results; pdu_alter_context_resp sets Pad by hand (1 byte) so the bytes are the
  C706 ones (length 0, then 2 zero bytes). The same `&` field packs the Python object address
  when SecondaryAddrLen is not set explicitly (every vector sets it).
- **mgmt is_server_listening response** lacks the boolean32 return value (4 bytes instead of 8;
  mgmt_is_server_listening_response).
- **No embedded [ref] pointers, no full-pointer aliasing, no multi-syntax presentation contexts**
  (CtxItem has one 20-byte TransferSyntax), **no 32-bit enums in NDR20** (NDRENUM is '<H';
  echo_Enum1_32 overrides its structure to '<L').
- Impacket lacks ept_lookup_handle_free and the rpcecho interface; they are declared in
  gen_vectors.py with Impacket's NDR classes.
"""


def write_manifest():
    lines = [
        "# Impacket vectors",
        "",
        "Produced by `tools/impacket-vectors/gen_vectors.py` with Impacket %s "
        "(`impacket.dcerpc.v5`). Do not edit by hand: re-run the script, which rewrites every "
        "file here byte for byte." % impacket_version.version,
        "",
        "Each `NAME.hex` is lowercase hex (32 bytes a line). `NAME.mask.hex`, where present, "
        "marks with `ff` the bytes that are alignment gaps or padding Impacket filled with "
        "non-zero markers; an encoder may write anything there (msrpc writes zeros). NDR "
        "vectors are complete encodings (scalars, then deferred referents) of one value or of "
        "one call's [in] or [out] parameters, little-endian, NDR20. Referent ids were "
        "renumbered 0x00020000, 0x00020004, ... in wire order through Impacket's ReferentID "
        "field unless the vector says otherwise. Every NDR vector (ndr_*, epm_* but the towers, "
        "mgmt_*, echo_*) was parsed back with the Impacket class that wrote it and re-encoded "
        "to the same bytes.",
        "",
        "UUIDs: EPM %s v3.0; rpcecho %s v1.0; NDR20 %s v2.0; bind-time features %s v1.0; "
        "object UUID %s; context handle UUID %s." % (
            EPM_UUID, ECHO_UUID, NDR20_UUID, BTFN_UUID, OBJECT_UUID, HANDLE_UUID),
        "",
    ]
    sections = []
    for v in VECTORS:
        if v["section"] not in sections:
            sections.append(v["section"])
    for s in sections:
        lines.append("## %s" % s)
        lines.append("")
        lines.append("| vector | bytes | produced by | values | notes |")
        lines.append("| --- | --- | --- | --- | --- |")
        for v in VECTORS:
            if v["section"] != s:
                continue
            name = "`%s`" % v["name"]
            if v["mask"] is not None:
                name += " (+mask, %d filler bytes)" % sum(1 for b in v["mask"] if b)
            cells = [name, str(len(v["data"])), v["producer"], v["values"], v["notes"]]
            lines.append(
                "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
            )
        lines.append("")
    lines.append(DIFFERENCES)
    with open(os.path.join(OUT, "MANIFEST.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines))



def write_vectors(out, vectors):
    """Writes NAME.hex (and NAME.mask.hex when the vector has a mask) for every vector into out,
    and removes any other file there but MANIFEST.md (so a dropped vector does not linger)."""
    keep = {"MANIFEST.md"}
    for v in vectors:
        keep.add(v["name"] + ".hex")
        with open(os.path.join(out, v["name"] + ".hex"), "w", newline="\n") as f:
            f.write(hex_lines(v["data"]))
        if v["mask"] is not None:
            keep.add(v["name"] + ".mask.hex")
            with open(os.path.join(out, v["name"] + ".mask.hex"), "w", newline="\n") as f:
                f.write(hex_lines(v["mask"]))
    for fname in os.listdir(out):
        if fname not in keep:
            os.remove(os.path.join(out, fname))

def main():
    global OUT
    args = sys.argv[1:]
    if args[:1] == ["--out"] and len(args) == 2:
        OUT = os.path.abspath(args[1])
    elif args:
        sys.exit("usage: gen_vectors.py [--out DIR]  (default: tests/vectors/impacket)")
    if impacket_version.version != EXPECTED_IMPACKET:
        sys.exit(
            "impacket %s found, %s required" % (impacket_version.version, EXPECTED_IMPACKET)
        )
    os.makedirs(OUT, exist_ok=True)
    ndr_vectors()
    epm_vectors()
    echo_vectors()
    pdu_vectors()

    write_vectors(OUT, VECTORS)
    write_manifest()
    if ROUNDTRIP_FAILURES:
        sys.exit("Impacket does not read back: %s" % ", ".join(ROUNDTRIP_FAILURES))
    print("%d vectors written to %s" % (len(VECTORS), os.path.relpath(OUT, REPO)))


if __name__ == "__main__":
    main()
