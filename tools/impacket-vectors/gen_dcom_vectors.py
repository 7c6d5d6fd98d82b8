#!/usr/bin/env python3
"""Writes DCOM byte vectors produced by Impacket's own classes into tests/vectors/impacket-dcom/.

Run with Impacket 0.13.1 installed (see gen_vectors.py, whose helpers this script reuses):

    target/venv/bin/python tools/impacket-vectors/gen_dcom_vectors.py [--out DIR]

Every vector comes from impacket.dcerpc.v5.dcomrt: its structure classes (ORPCTHIS, ORPCTHAT,
STDOBJREF, OBJREF_*, DUALSTRINGARRAY, STRINGBINDING, SECURITYBINDING, the activation property
classes) or its client code (IRemoteSCMActivator.RemoteCreateInstance / RemoteGetClassObject,
IActivation.RemoteActivation, IObjectExporter.*, IRemUnknown.*) driven against a fake connection
that records the request and stops the call.

Output, per vector NAME:
  NAME.hex       the bytes, lowercase hex, 32 bytes a line.
  NAME.mask.hex  only when needed: same length; ``ff`` marks filler bytes (NDR alignment gaps
                 Impacket fills with markers, the 0xFA padding its activation code appends to
                 properties, the 0xcccccccc filler of the private type-serialization header
                 that MS-RPCE 2.2.6.2 says is 0); ``fe`` marks an ObjectBufferLength where
                 Impacket departs from MS-RPCE 2.2.6.2 (it leaves the padding out; the
                 specification counts it). An encoder may write anything at ff; at fe msrpc
                 writes the specification's value. Every other byte must match.
  MANIFEST.md    what produced each vector, with which values, and the departures found.

Determinism: random CIDs (dcomrt.generate) are replaced by fixed GUIDs; referent ids are
renumbered 0x00020000, 0x00020004, ... in wire order within each serialization (each property
of an activation blob is its own NDR stream), through Impacket's ReferentID fields.
"""

import contextlib
import os
import struct
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen_vectors as gv  # noqa: E402  (helpers: emit-like bookkeeping, masks, renumbering)
from impacket import version as impacket_version  # noqa: E402
from impacket.dcerpc.v5 import dcomrt, rpcrt  # noqa: E402
from impacket.dcerpc.v5.dtypes import NULL  # noqa: E402
from impacket.uuid import string_to_bin  # noqa: E402

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(REPO, "tests", "vectors", "impacket-dcom")

CID = "c1d0c1d0-0000-4000-8000-000000000001"
CLSID_DEMO = "49b2791a-b1ae-4c90-9b8e-e860ba07f889"  # MMC20.Application, as dcomexec uses it
IID_DEMO = "000001a0-0000-0000-c000-000000000046"  # any IID: IRemoteSCMActivator's
IID_IDISPATCH = "00020400-0000-0000-c000-000000000046"
IPID_1 = "0000a801-0a2c-0000-5d1a-c37a9f1f3c4e"
IPID_REMUNK = "0000ac01-0a2c-0000-8e14-1c2f0a5a7b11"
OXID_1 = 0x2F47A0C1D4E5F601
OID_1 = 0x1122334455667788
EXT_ID = "f1f19680-4d2a-11ce-a66a-0020af6e72f4"  # dcom_ext_debugging (Samba's orpc.idl)

VECTORS = []


def emit(name, data, mask=None, section="", producer="", values="", notes=""):
    data = bytes(data)
    if mask is not None:
        mask = bytes(mask)
        assert len(mask) == len(data), name
        if not any(mask):
            mask = None
    assert all(v["name"] != name for v in VECTORS), name
    VECTORS.append(dict(name=name, data=data, mask=mask, section=section, producer=producer,
                        values=values, notes=notes))


ROUNDTRIP_FAILURES = []


def emit_ndr(name, obj, section, producer, values, notes="", readback=True):
    """An NDR value in full (a structure is wrapped as the one parameter of an NDRCALL, so its
    referents follow its scalars); Impacket must read its bytes back to the same encoding."""
    if not isinstance(obj, gv.NDRCALL):
        w = gv.single("v", type(obj))
        w["v"] = obj
        obj = w
    gv.renumber_pointers(obj)
    data, mask = gv.ndr_bytes_and_mask(obj)
    if readback:
        try:
            again = type(obj)(data).getData()
        except Exception as e:  # noqa: BLE001 - reported
            again = repr(e)
        same = isinstance(again, bytes) and len(again) == len(data) and all(
            a == b or m for a, b, m in zip(again, data, mask))
        if not same:
            ROUNDTRIP_FAILURES.append(name)
    emit(name, data, mask, section, producer, values, notes)
    return data


# ---------------------------------------------------------------------------------------------
# Deterministic, maskable runs of Impacket's activation code
# ---------------------------------------------------------------------------------------------

_IN_RENUMBER = [False]
_ORIG_TS_GETDATA = rpcrt.TypeSerialization1.getData


def renumber_struct(obj):
    """gen_vectors.renumber_pointers for a structure serialized on its own (scalars, then
    referents: getData() + getDataReferents())."""
    ptrs = gv._pointers(obj, [])
    if not ptrs:
        return
    sentinels = []
    for i, p in enumerate(ptrs):
        v = 0x7A5E0001 + (i << 8)
        p.fields["ReferentID"] = v
        sentinels.append(struct.pack("<I", v))
    data = obj.getData() + obj.getDataReferents()
    positions = []
    for p, v in zip(ptrs, sentinels):
        assert data.count(v) == 1, "pointer sentinel not unique"
        positions.append((data.index(v), p))
    positions.sort(key=lambda t: t[0])
    for rank, (_pos, p) in enumerate(positions):
        p.fields["ReferentID"] = gv.FIRST_REF_ID + 4 * rank


def _ts_getdata(self, soFar=0):
    """TypeSerialization1.getData with the object's pointers renumbered in wire order first."""
    if not _IN_RENUMBER[0]:
        _IN_RENUMBER[0] = True
        try:
            renumber_struct(self)
        finally:
            _IN_RENUMBER[0] = False
    return _ORIG_TS_GETDATA(self, soFar)


def _swap_consts(func, old, new):
    code = func.__code__
    consts = tuple(new if (type(c) is type(old) and c == old) else c for c in code.co_consts)
    return code, code.replace(co_consts=consts)


@contextlib.contextmanager
def patched(zero):
    """Deterministic CIDs and referent ids; with zero=True also every filler Impacket writes
    (NDR gaps, 0xFA property padding, the private header's 0xcccccccc) as zeros."""
    saved_generate = dcomrt.generate
    dcomrt.generate = lambda: string_to_bin(CID)
    rpcrt.TypeSerialization1.getData = _ts_getdata
    swaps = []
    if zero:
        for f in (dcomrt.IRemoteSCMActivator.RemoteCreateInstance,
                  dcomrt.IRemoteSCMActivator.RemoteGetClassObject):
            orig, new = _swap_consts(f, b"\xFA", b"\x00")
            swaps.append((f, orig))
            f.__code__ = new
        f = rpcrt.PrivateHeader.__init__
        orig, new = _swap_consts(f, 0xCCCCCCCC, 0)
        swaps.append((f, orig))
        f.__code__ = new
    ctx = gv.zero_fillers() if zero else contextlib.nullcontext()
    try:
        with ctx:
            yield
    finally:
        for f, orig in swaps:
            f.__code__ = orig
        rpcrt.TypeSerialization1.getData = _ORIG_TS_GETDATA
        dcomrt.generate = saved_generate


class Captured(Exception):
    pass


class FakeDce:
    """Stands in for DCERPC_v5: records the request's stub (pointers renumbered) and stops."""

    def __init__(self):
        self.stub = None
        self.req = None

    def connect(self):
        pass

    def bind(self, iid):
        pass

    def request(self, req, uuid=None):
        gv.renumber_pointers(req)
        self.req = req
        self.stub = req.getData()
        raise Captured()


def run_client(call, zero):
    with patched(zero):
        dce = FakeDce()
        try:
            call(dce)
        except Captured:
            pass
        assert dce.stub is not None
        return dce


def mask_of(data, zeroed):
    assert len(data) == len(zeroed)
    return bytearray(0xFF if a != b else 0 for a, b in zip(data, zeroed))


def mark_object_buffer_lengths(blob, blob_off, mask):
    """Marks (fe) each ObjectBufferLength of the blob at blob_off that differs from the
    specification's value (the property's size from pSizes minus 16)."""
    ch_off = blob_off + 8
    ch = dcomrt.ACTIVATION_BLOB(blob)["CustomHeader"]
    sizes = [d["Data"] for d in ch["pSizes"]]
    header_size = ch["headerSize"]
    spans = [(ch_off, header_size)]
    off = ch_off + header_size
    for s in sizes:
        spans.append((off, s))
        off += s
    n = 0
    full = bytes(blob)
    for start, size in spans:
        rel = start - blob_off
        obl = struct.unpack_from("<I", full, rel + 8)[0]
        if obl != size - 16:
            for i in range(start + 8, start + 12):
                mask[i] = 0xFE
            n += 1
    return n


# ---------------------------------------------------------------------------------------------
# Vectors
# ---------------------------------------------------------------------------------------------


def orpc_vectors():
    s = "ORPC headers (MS-DCOM 2.2.13)"
    t = dcomrt.ORPCTHIS()
    t["cid"] = string_to_bin(CID)
    t["extensions"] = NULL
    t["flags"] = 1
    emit_ndr("orpcthis_activation", t, s, "dcomrt.ORPCTHIS as RemoteCreateInstance fills it",
             "version 5.7 (COMVERSION defaults), flags 1, reserved1 0, cid %s, extensions NULL" % CID)

    t = dcomrt.ORPCTHIS()
    t["cid"] = string_to_bin(CID)
    t["flags"] = 0
    ext = dcomrt.ORPC_EXTENT()
    ext["id"] = string_to_bin(EXT_ID)
    ext["size"] = 5
    ext["data"] = list(b"hello\x00\x00\x00")
    pext = dcomrt.PORPC_EXTENT()
    pext["Data"] = ext
    t["extensions"]["size"] = 1
    t["extensions"]["reserved"] = 0
    t["extensions"]["extent"].append(pext)
    t["extensions"]["extent"].append(NULL)
    emit_ndr("orpcthis_one_extent", t, s,
             "dcomrt.ORPCTHIS with ORPC_EXTENT_ARRAY / PORPC_EXTENT / ORPC_EXTENT",
             "version 5.7, flags 0, cid %s, extensions = { size 1, reserved 0, extent = [&{ id %s, "
             "size 5, data 'hello' + 3 zeros }, NULL] }" % (CID, EXT_ID),
             "The array of extent pointers has (size+1)&~1 = 2 entries, the second null.")

    t = dcomrt.ORPCTHAT()
    t["flags"] = 0
    t["extensions"] = NULL
    emit_ndr("orpcthat_null", t, s, "dcomrt.ORPCTHAT", "flags 0, extensions NULL")

    t = dcomrt.ORPCTHAT()
    t["flags"] = 0
    for i, payload in enumerate((b"A" * 16, b"bc")):
        ext = dcomrt.ORPC_EXTENT()
        ext["id"] = string_to_bin("0000031c-0000-0000-c000-00000000004%d" % (6 + i))
        ext["size"] = len(payload)
        ext["data"] = list(payload + b"\x00" * ((8 - len(payload) % 8) % 8))
        pext = dcomrt.PORPC_EXTENT()
        pext["Data"] = ext
        t["extensions"]["extent"].append(pext)
    t["extensions"]["size"] = 2
    t["extensions"]["reserved"] = 0
    emit_ndr("orpcthat_two_extents", t, s, "dcomrt.ORPCTHAT with two extents",
             "flags 0, extensions { size 2, [&{id ...0046, size 16, 'A'*16}, &{id ...0047, size 2, "
             "'bc' + 6 zeros}] }")


def std(flags=0, refs=5):
    v = dcomrt.STDOBJREF()
    v["flags"] = flags
    v["cPublicRefs"] = refs
    v["oxid"] = OXID_1
    v["oid"] = OID_1
    v["ipid"] = string_to_bin(IPID_1)
    return v


def binding_units(strings, security):
    """aStringArray built from Impacket's STRINGBINDING/SECURITYBINDING classes, as u16s."""
    out = b""
    for tower, addr in strings:
        b = dcomrt.STRINGBINDING()
        b["wTowerId"] = tower
        b["aNetworkAddr"] = addr + "\x00"
        out += b.getData()
    out += b"\x00\x00"
    sec_off = len(out) // 2
    for authn, princ in security:
        b = dcomrt.SECURITYBINDING()
        b["wAuthnSvc"] = authn
        b["Reserved"] = 0xFFFF
        b["aPrincName"] = princ + "\x00"
        out += b.getData()
    out += b"\x00\x00"
    units = list(struct.unpack("<%dH" % (len(out) // 2), out))
    return units, sec_off


BINDINGS = (
    [(7, "WIN-DCOM01[49668]"), (7, "192.168.56.10[49668]")],
    [(10, ""), (9, ""), (16, "host/win-dcom01")],
)
EXT_BINDINGS = ([(7, "WIN-DCOM01[49668]")], [(10, "")])
RESOLVER_BINDINGS = (
    [(7, "WIN-DCOM01"), (7, "192.168.56.10"), (7, "fe80::1c2d:3e4f:5a6b:7c8d")],
    [(9, ""), (10, ""), (16, ""), (22, ""), (30, "")],
)


def packed_dsa(strings, security):
    units, sec_off = binding_units(strings, security)
    d = dcomrt.DUALSTRINGARRAYPACKED()
    d["wNumEntries"] = len(units)
    d["wSecurityOffset"] = sec_off
    d["aStringArray"] = struct.pack("<%dH" % len(units), *units)
    return d.getData()


def ndr_dsa(strings, security):
    units, sec_off = binding_units(strings, security)
    d = dcomrt.DUALSTRINGARRAY()
    d["wNumEntries"] = len(units)
    d["wSecurityOffset"] = sec_off
    d["aStringArray"] = units
    return d


def objref_vectors():
    s = "OBJREF and DUALSTRINGARRAY (MS-DCOM 2.2.18-2.2.19)"
    emit_ndr("stdobjref", std(), s, "dcomrt.STDOBJREF",
             "flags 0, cPublicRefs 5, oxid %#x, oid %#x, ipid %s" % (OXID_1, OID_1, IPID_1))

    d = ndr_dsa(*BINDINGS)
    emit_ndr("dualstringarray_exporter", d, s,
             "dcomrt.DUALSTRINGARRAY, aStringArray from dcomrt.STRINGBINDING / SECURITYBINDING",
             "strings: 7 'WIN-DCOM01[49668]', 7 '192.168.56.10[49668]'; security: (10, ''), (9, ''), "
             "(16, 'host/win-dcom01'), authz 0xffff",
             "NDR conformant structure (max_count hoisted); no padding entries.")
    d = ndr_dsa(*RESOLVER_BINDINGS)
    emit_ndr("dualstringarray_resolver", d, s, "as dualstringarray_exporter",
             "strings without endpoints (what ServerAlive2 answers): 7 'WIN-DCOM01', "
             "7 '192.168.56.10', 7 'fe80::1c2d:3e4f:5a6b:7c8d'; security: 9, 10, 16, 22, 30 with "
             "empty principal names")
    d = dcomrt.DUALSTRINGARRAY()
    d["wNumEntries"] = 4
    d["wSecurityOffset"] = 2
    d["aStringArray"] = [0, 0, 0, 0]
    emit_ndr("dualstringarray_empty", d, s, "dcomrt.DUALSTRINGARRAY",
             "wNumEntries 4, wSecurityOffset 2, four zeros", "The smallest array (2.2.19.1).")

    o = dcomrt.OBJREF_STANDARD()
    o["iid"] = string_to_bin(IID_IDISPATCH)
    o["std"] = std()
    o["saResAddr"] = packed_dsa(*BINDINGS)
    emit("objref_standard", o.getData(), None, s, "dcomrt.OBJREF_STANDARD",
         "iid IDispatch, std as in stdobjref, saResAddr = packed dualstringarray_exporter")

    o = dcomrt.OBJREF_STANDARD()
    o["iid"] = string_to_bin(IID_IDISPATCH)
    o["std"] = std(flags=dcomrt.SORF_NOPING, refs=1)
    o["saResAddr"] = packed_dsa([], [])
    emit("objref_standard_noping_empty_bindings", o.getData(), None, s, "dcomrt.OBJREF_STANDARD",
         "std flags SORF_NOPING, 1 ref; saResAddr: 2 zeros, offset 1",
         "One terminator per empty section (what the binding classes give); 2.2.19.1's smallest "
         "array is four zeros with offset 2, which msrpc writes. Both parse as no bindings.")

    o = dcomrt.OBJREF_HANDLER()
    o["iid"] = string_to_bin(IID_IDISPATCH)
    o["std"] = std()
    o["clsid"] = string_to_bin(CLSID_DEMO)
    o["saResAddr"] = packed_dsa(*BINDINGS)
    emit("objref_handler", o.getData(), None, s, "dcomrt.OBJREF_HANDLER",
         "iid IDispatch, std, clsid %s, saResAddr as objref_standard" % CLSID_DEMO)

    o = dcomrt.OBJREF_CUSTOM()
    o["iid"] = string_to_bin(IID_IDISPATCH)
    o["clsid"] = string_to_bin(CLSID_DEMO)
    o["cbExtension"] = 0
    o["pObjectData"] = b"custom marshaled data\x00\x00\x00"
    o["ObjectReferenceSize"] = len(o["pObjectData"]) + 8
    emit("objref_custom", o.getData(), None, s, "dcomrt.OBJREF_CUSTOM",
         "iid IDispatch, clsid %s, cbExtension 0, reserved (ObjectReferenceSize) = len+8, "
         "24 data bytes" % CLSID_DEMO)

    for name, bindings, what in (
        ("objref_extended", EXT_BINDINGS, "saResAddr with 24 units (48 bytes: nElms needs no "
         "alignment); "),
        ("objref_extended_impacket_aligned", BINDINGS, "saResAddr as objref_standard (53 units: "
         "Impacket's NDR engine inserts 2 filler bytes before nElms); "),
    ):
        o = dcomrt.OBJREF_EXTENDED()
        o["iid"] = string_to_bin(IID_IDISPATCH)
        o["std"] = std()
        o["Signature1"] = 0x4E535956
        units, sec_off = binding_units(*bindings)
        d = dcomrt.DUALSTRINGARRAYPACKED()
        d["wNumEntries"] = len(units)
        d["wSecurityOffset"] = sec_off
        d["aStringArray"] = struct.pack("<%dH" % len(units), *units)
        o["saResAddr"] = d
        o["nElms"] = 1
        o["Signature2"] = 0x4E535956
        e = dcomrt.DATAELEMENT()
        e["dataID"] = string_to_bin("0000033b-0000-0000-c000-000000000046")
        e["cbSize"] = 12
        e["cbRounded"] = 16
        e["Data"] = b"context-data" + b"\x00" * 4
        o["ElmArray"] = e
        emit(name, o.getData(), None, s, "dcomrt.OBJREF_EXTENDED (nElms and Signature2 set "
             "explicitly: the constructor sets Signature1 twice and nElms to 0x4E535956)",
             "std, Signature1 0x4E535956, " + what + "nElms 1, Signature2, DATAELEMENT { dataID "
             "CLSID_ContextMarshaler, cbSize 12, cbRounded 16 }",
             "" if name == "objref_extended" else
             "2.2.18.7 lays nElms right after saResAddr; Impacket aligns it to 4. msrpc refuses "
             "this form (its nElms reads as the filler).")


def activation_vectors():
    s = "Activation (MS-DCOM 2.2.22, 3.1.2.5.2)"

    def create(dce):
        dcomrt.IRemoteSCMActivator(dce).RemoteCreateInstance(
            string_to_bin(CLSID_DEMO), string_to_bin(IID_IDISPATCH))

    def get_class(dce):
        dcomrt.IRemoteSCMActivator(dce).RemoteGetClassObject(
            string_to_bin(CLSID_DEMO), dcomrt.IID_IClassFactory[:-4])

    for name, call, what in (("remote_create_instance", create, "RemoteCreateInstance"),
                             ("remote_get_class_object", get_class, "RemoteGetClassObject")):
        real = run_client(call, zero=False)
        zeroed = run_client(call, zero=True)
        stub = real.stub
        mask = mask_of(stub, zeroed.stub)
        objref = bytes(real.req["pActProperties"]["abData"])
        obj_off = stub.index(objref)
        blob = dcomrt.OBJREF_CUSTOM(objref)["pObjectData"]
        blob_off = stub.index(blob)
        marked = mark_object_buffer_lengths(blob, blob_off, mask)
        emit("%s_request" % name, stub, mask, s,
             "dcomrt.IRemoteSCMActivator.%s (the stub it hands to DCERPC_v5.request)" % what,
             "ORPCTHIS 5.7 flags 1 cid %s; %s; CLSID %s, IID %s" % (
                 CID, "pUnkOuter NULL, pActProperties" if what == "RemoteCreateInstance"
                 else "pActProperties", CLSID_DEMO,
                 IID_IDISPATCH if what == "RemoteCreateInstance" else "IClassFactory"),
             "%d ObjectBufferLength fields marked fe (Impacket leaves the 0xFA padding out)." % marked)
        emit("%s_objref" % name, objref, mask[obj_off:obj_off + len(objref)], s,
             "the pActProperties abData of %s_request" % name,
             "OBJREF_CUSTOM: iid IActivationPropertiesIn, clsid CLSID_ActivationPropertiesIn, "
             "reserved = blob length + 8")
        emit("%s_blob" % name, blob, mask[blob_off:blob_off + len(blob)], s,
             "the pObjectData of %s_objref" % name,
             "ACTIVATION_BLOB: CustomHeader (destCtx 2, 4 properties) + InstantiationInfo (cIID 1, "
             "thisSize 0: Impacket sets it after serializing), ActivationContextInfo (both "
             "pointers NULL), LocationInfo (machineName NULL), ScmRequestInfo (one protseq, 7)")

    def remote_activation(dce):
        dcomrt.IActivation(dce).RemoteActivation(string_to_bin(CLSID_DEMO),
                                                 string_to_bin(IID_IDISPATCH))

    real = run_client(remote_activation, zero=False)
    zeroed = run_client(remote_activation, zero=True)
    emit("remote_activation_request", real.stub, mask_of(real.stub, zeroed.stub), s,
         "dcomrt.IActivation.RemoteActivation",
         "ORPCTHIS 5.7 flags 1; Clsid %s; pwszObjectName NULL; pObjectStorage NULL; "
         "ClientImpLevel 2; Mode 0; Interfaces 1; pIIDs [IDispatch]; protseqs [7]" % CLSID_DEMO,
         "Impacket leaves request['ORPCthis'] at its default: its cid is GUID_NULL and flags 0, "
         "not the ORPCthis it builds.")

    # The reply shape Impacket's RemoteCreateInstance reads: PropsOutInfo then ScmReplyInfo.
    real = reply_blob(zero=False)
    mask = mask_of(real, reply_blob(zero=True))
    marked = mark_object_buffer_lengths(real, 0, mask)
    emit("activation_reply_blob", real, mask, s,
         "dcomrt.ACTIVATION_BLOB with dcomrt.PropsOutInfo and dcomrt.ScmReplyInfoData",
         "PropsOutInfo { cIfs 1, IDispatch, S_OK, OBJREF_STANDARD as objref_standard }, "
         "ScmReplyInfo { pdwReserved 0, Oxid %#x, bindings as dualstringarray_exporter, "
         "ipidRemUnknown %s, authnHint 5, serverVersion 5.7 }" % (OXID_1, IPID_REMUNK),
         "Properties padded with zeros to 8 (counted in pSizes, as RemoteCreateInstance pads "
         "its own); %d ObjectBufferLength fields marked fe. Read back with ACTIVATION_BLOB "
         "as RemoteCreateInstance does." % marked)


def reply_blob(zero):
    with patched(zero):
        props = dcomrt.PropsOutInfo()
        props["cIfs"] = 1
        iid = dcomrt.IID()
        iid["Data"] = string_to_bin(IID_IDISPATCH)
        props["piid"].append(iid)
        hr = dcomrt.HRESULT()
        hr["Data"] = 0
        props["phresults"].append(hr)
        o = dcomrt.OBJREF_STANDARD()
        o["iid"] = string_to_bin(IID_IDISPATCH)
        o["std"] = std()
        o["saResAddr"] = packed_dsa(*BINDINGS)
        ip = dcomrt.PMInterfacePointer()
        ip["Data"]["ulCntData"] = len(o.getData())
        ip["Data"]["abData"] = list(o.getData())
        props["ppIntfData"].append(ip)
        p0 = props.getData() + props.getDataReferents()
        p0 += b"\x00" * ((8 - len(p0) % 8) % 8)

        scm = dcomrt.ScmReplyInfoData()
        scm["pdwReserved"] = 0
        scm["remoteReply"]["Oxid"] = OXID_1
        units, sec_off = binding_units(*BINDINGS)
        scm["remoteReply"]["pdsaOxidBindings"]["wNumEntries"] = len(units)
        scm["remoteReply"]["pdsaOxidBindings"]["wSecurityOffset"] = sec_off
        scm["remoteReply"]["pdsaOxidBindings"]["aStringArray"] = units
        scm["remoteReply"]["ipidRemUnknown"] = string_to_bin(IPID_REMUNK)
        scm["remoteReply"]["authnHint"] = 5
        p1 = scm.getData() + scm.getDataReferents()
        p1 += b"\x00" * ((8 - len(p1) % 8) % 8)

        blob = dcomrt.ACTIVATION_BLOB()
        blob["CustomHeader"]["destCtx"] = 2
        blob["CustomHeader"]["pdwReserved"] = NULL
        for clsid, size in ((dcomrt.CLSID_PropsOutInfo, len(p0)),
                            (dcomrt.CLSID_ScmReplyInfo, len(p1))):
            c = dcomrt.CLSID()
            c["Data"] = clsid
            blob["CustomHeader"]["pclsid"].append(c)
            d = dcomrt.DWORD()
            d["Data"] = size
            blob["CustomHeader"]["pSizes"].append(d)
        blob["Property"] = p0 + p1
        data = blob.getData()
    # Read back as RemoteCreateInstance does.
    back = dcomrt.ACTIVATION_BLOB(data)
    sizes = [d["Data"] for d in back["CustomHeader"]["pSizes"]]
    scmr = dcomrt.ScmReplyInfoData()
    part = back["Property"][sizes[0]:sizes[0] + sizes[1]]
    n = scmr.fromString(part)
    scmr.fromStringReferents(part[n:])
    assert scmr["remoteReply"]["authnHint"] == 5
    return data


def resolver_vectors():
    s = "IObjectExporter and IRemUnknown (MS-DCOM 3.1.2.5.1, 3.1.1.5.6)"

    def call(f):
        real = run_client(f, zero=False).stub
        return real, mask_of(real, run_client(f, zero=True).stub)

    stub, mask = call(lambda dce: dcomrt.IObjectExporter(dce).ComplexPing(0, 0, [OID_1, OID_1 + 1], []))
    emit("complex_ping_request_add", stub, mask, s, "dcomrt.IObjectExporter.ComplexPing(0, 0, [oid, oid+1], [])",
         "pSetId 0, SequenceNum 0 (Impacket copies the set id), cAddToSet 2, cDelFromSet 0, "
         "AddToSet [%#x, %#x], DelFromSet NULL" % (OID_1, OID_1 + 1))
    stub, mask = call(lambda dce: dcomrt.IObjectExporter(dce).ComplexPing(0x77, 0, [], [OID_1]))
    emit("complex_ping_request_del", stub, mask, s, "dcomrt.IObjectExporter.ComplexPing(0x77, 0, [], [oid])",
         "pSetId 0x77, SequenceNum 0x77, cAddToSet 0, cDelFromSet 1, AddToSet NULL, DelFromSet [%#x]" % OID_1)
    stub, mask = call(lambda dce: dcomrt.IObjectExporter(dce).SimplePing(0x77))
    emit("simple_ping_request", stub, mask, s, "dcomrt.IObjectExporter.SimplePing(0x77)", "pSetId 0x77")
    stub, mask = call(lambda dce: dcomrt.IObjectExporter(dce).ResolveOxid2(OXID_1, [7]))
    emit("resolve_oxid2_request", stub, mask, s, "dcomrt.IObjectExporter.ResolveOxid2(oxid, [7])",
         "pOxid %#x, cRequestedProtseqs 1, [7]" % OXID_1)

    dce = run_client(lambda dce: dcomrt.IObjectExporter(dce).ServerAlive2(), zero=False)
    assert dce.req.opnum == 5
    emit("server_alive2_request", dce.stub, None, s, "dcomrt.IObjectExporter.ServerAlive2()",
         "opnum 5, no [in] parameter", "An empty stub: what `msrpc dcom alive` must send.")

    r = dcomrt.ServerAlive2Response()
    r["pComVersion"]["MajorVersion"] = 5
    r["pComVersion"]["MinorVersion"] = 7
    units, sec_off = binding_units(*RESOLVER_BINDINGS)
    r["ppdsaOrBindings"]["wNumEntries"] = len(units)
    r["ppdsaOrBindings"]["wSecurityOffset"] = sec_off
    r["ppdsaOrBindings"]["aStringArray"] = units
    r["pReserved"] = NULL
    r["ErrorCode"] = 0
    emit_ndr("server_alive2_response", r, s, "dcomrt.ServerAlive2Response",
             "COMVERSION 5.7, bindings as dualstringarray_resolver, pReserved 0, status 0",
             "Impacket declares pReserved as a [unique] pointer (LPLONG); the IDL has [out, ref] "
             "DWORD*: a null pointer and a zero DWORD are the same four bytes.")

    r = dcomrt.ResolveOxid2Response()
    units, sec_off = binding_units(*BINDINGS)
    r["ppdsaOxidBindings"]["wNumEntries"] = len(units)
    r["ppdsaOxidBindings"]["wSecurityOffset"] = sec_off
    r["ppdsaOxidBindings"]["aStringArray"] = units
    r["pipidRemUnknown"] = string_to_bin(IPID_REMUNK)
    r["pAuthnHint"] = 5
    r["ErrorCode"] = 0
    emit_ndr("resolve_oxid2_response", r, s, "dcomrt.ResolveOxid2Response",
             "bindings as dualstringarray_exporter, ipidRemUnknown %s, authnHint 5, COMVERSION 5.7, "
             "status 0" % IPID_REMUNK)

    # IRemUnknown requests, through Impacket's INTERFACE plumbing (request() replaced).
    def remunk_call(method, *args):
        real = remunk_once(False, method, *args)
        return real, mask_of(real, remunk_once(True, method, *args))

    def remunk_once(zero, method, *args):
        with patched(zero):
            return remunk_run(method, *args)

    def remunk_run(method, *args):
        captured = {}

        def fake_request(self, req, iid=None, uuid=None):
            gv.renumber_pointers(req)
            captured["stub"] = req.getData()
            raise Captured()

        ci = dcomrt.CLASS_INSTANCE(None, [])
        orpc = dcomrt.ORPCTHIS()
        orpc["cid"] = string_to_bin(CID)
        orpc["extensions"] = NULL
        ci._CLASS_INSTANCE__ORPCthis = orpc
        iface = dcomrt.INTERFACE(ci, None, string_to_bin(IPID_REMUNK), string_to_bin(IPID_1),
                                 oxid=OXID_1, oid=OID_1, target="server")
        ru = dcomrt.IRemUnknown2(iface)
        ru.request = types.MethodType(fake_request, ru)
        try:
            getattr(ru, method)(*args)
        except Captured:
            pass
        return captured["stub"]

    emit("rem_query_interface_request", *remunk_call("RemQueryInterface", 1, [string_to_bin(IID_IDISPATCH)]),
         s, "dcomrt.IRemUnknown.RemQueryInterface(1, [IDispatch])",
         "ORPCTHIS 5.7 flags 0 cid %s; ripid %s; cRefs 1; cIids 1; iids [IDispatch]" % (CID, IPID_1))
    emit("rem_add_ref_request", *remunk_call("RemAddRef"), s, "dcomrt.IRemUnknown.RemAddRef()",
         "ORPCTHIS; cInterfaceRefs 1; [{ipid %s, cPublicRefs 1, cPrivateRefs 0}]" % IPID_1)
    emit("rem_release_request", *remunk_call("RemRelease"), s, "dcomrt.IRemUnknown.RemRelease()",
         "ORPCTHIS; cInterfaceRefs 1; [{ipid %s, cPublicRefs 1, cPrivateRefs 0}]" % IPID_1)

    r = dcomrt.RemQueryInterfaceResponse()
    r["ORPCthat"]["flags"] = 0
    r["ORPCthat"]["extensions"] = NULL
    r["ppQIResults"]["hResult"] = 0
    r["ppQIResults"]["std"] = std()
    r["ErrorCode"] = 0
    emit_ndr("rem_query_interface_response", r, s, "dcomrt.RemQueryInterfaceResponse",
             "ORPCTHAT null; ppQIResults -> [{S_OK, std as in stdobjref}]; HRESULT 0",
             "Impacket declares ppQIResults as a pointer to one REMQIRESULT; with cIids 1 the IDL's "
             "[size_is(,cIids)] REMQIRESULT** adds the array's max_count (1) after the referent id. "
             "Decode-only under the IDL: see the Rust test.")


DEPARTURES = """## Where Impacket departs from MS-DCOM / MS-RPCE

- **Type serialization (MS-RPCE 2.2.6.2).** Impacket's activation code pads each property to a
  multiple of 8 with 0xFA bytes and counts them in the CustomHeader's pSizes, but its
  PrivateHeader.ObjectBufferLength leaves them out; the specification says the length includes
  the padding and the padding follows the data. Its PrivateHeader Filler is 0xcccccccc; the
  specification says 0. msrpc reads both forms and writes the specification's.
- **InstantiationInfoData.thisSize** is 0 on the wire: RemoteCreateInstance and
  RemoteGetClassObject set it after the property was serialized.
- **OBJREF_EXTENDED**: Impacket's constructor sets Signature1 twice and nElms to 0x4E535956
  (2.2.18.7: nElms MUST be 1; Signature2 MUST be 0x4E535956); objref_extended sets them. Its
  NDR engine also aligns nElms to 4 after saResAddr, which 2.2.18.7's packet layout does not
  (objref_extended_impacket_aligned; msrpc refuses it).
- **IActivation.RemoteActivation** sends a default ORPCTHIS (cid GUID_NULL, flags 0) rather
  than the one it builds.
- **RemQueryInterfaceResponse.ppQIResults** is a pointer to one REMQIRESULT in Impacket; the IDL
  ([out, size_is(,cIids)] REMQIRESULT**) makes it a pointer to a conformant array, whose
  max_count Impacket neither writes nor reads.
- **ServerAlive2Response.pReserved** is a unique pointer in Impacket, a [ref] DWORD in the IDL
  (same bytes when null/zero).
"""


def write_manifest():
    lines = [
        "# Impacket DCOM vectors",
        "",
        "Produced by `tools/impacket-vectors/gen_dcom_vectors.py` with Impacket %s "
        "(`impacket.dcerpc.v5.dcomrt`). Do not edit by hand: re-run the script." % impacket_version.version,
        "",
        "`NAME.hex`: lowercase hex, 32 bytes a line. `NAME.mask.hex`: `ff` = filler an encoder may "
        "write freely (NDR gaps, Impacket's 0xFA property padding, the private header's "
        "0xcccccccc); `fe` = an ObjectBufferLength where Impacket leaves the padding out "
        "(msrpc writes the specification's value). NDR vectors are little-endian NDR20; referent "
        "ids renumbered 0x00020000, 0x00020004, ... in wire order within each NDR stream. "
        "Fixed values: CID %s, OXID %#x, OID %#x, IPID %s, IRemUnknown IPID %s, CLSID %s "
        "(MMC20.Application)." % (CID, OXID_1, OID_1, IPID_1, IPID_REMUNK, CLSID_DEMO),
        "",
    ]
    sections = []
    for v in VECTORS:
        if v["section"] not in sections:
            sections.append(v["section"])
    for sec in sections:
        lines += ["## %s" % sec, "", "| vector | bytes | produced by | values | notes |",
                  "| --- | --- | --- | --- | --- |"]
        for v in VECTORS:
            if v["section"] != sec:
                continue
            name = "`%s`" % v["name"]
            if v["mask"] is not None:
                ff = sum(1 for b in v["mask"] if b == 0xFF)
                fe = sum(1 for b in v["mask"] if b == 0xFE)
                name += " (+mask: %d ff%s)" % (ff, ", %d fe" % fe if fe else "")
            cells = [name, str(len(v["data"])), v["producer"], v["values"], v["notes"]]
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        lines.append("")
    lines.append(DEPARTURES)
    with open(os.path.join(OUT, "MANIFEST.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines))


def main():
    global OUT
    if len(sys.argv) == 3 and sys.argv[1] == "--out":
        OUT = sys.argv[2]
    elif len(sys.argv) != 1:
        sys.exit("usage: gen_dcom_vectors.py [--out DIR]")
    if impacket_version.version != gv.EXPECTED_IMPACKET:
        sys.exit("impacket %s found, %s required" % (impacket_version.version, gv.EXPECTED_IMPACKET))
    os.makedirs(OUT, exist_ok=True)
    gv.seeded()
    orpc_vectors()
    objref_vectors()
    activation_vectors()
    resolver_vectors()
    gv.write_vectors(OUT, VECTORS)
    write_manifest()
    if ROUNDTRIP_FAILURES:
        sys.exit("Impacket does not read back: %s" % ", ".join(ROUNDTRIP_FAILURES))
    print("%d vectors written to %s" % (len(VECTORS), os.path.relpath(OUT, REPO)))


if __name__ == "__main__":
    main()
