"""Impacket's NDR engine as an independent MS-EFSR client of msrpc-windows' generated efsrpc
server (crates/msrpc-windows/tests/efsrpc.rs hosts it). Impacket 0.13.1 ships no MS-EFSR
module, so the call structures are declared here on its NDR classes, from MS-EFSR 3.1.4.

Calls, in order: EfsRpcOpenFileRaw, EfsRpcCloseRaw, EfsRpcEncryptFileSrv with a UNC path,
EfsRpcDecryptFileSrv, EfsRpcFileKeyInfo (an [out] EFS_RPC_BLOB ** answer),
EfsRpcQueryUsersOnFile (an ENCRYPTION_CERTIFICATE_HASH_LIST ** answer) and EfsRpcAddUsersToFile
(an ENCRYPTION_CERTIFICATE_LIST in). Prints one JSON object with what Impacket decoded; the
Rust test compares it with what its server returned and checks what the server received.

    impacket_efsr.py HOST PORT UUID
"""
import json
import sys

from impacket.dcerpc.v5 import transport
from impacket.dcerpc.v5.dtypes import BOOL, DWORD, LONG, PRPC_SID, ULONG, WSTR, LPWSTR
from impacket.dcerpc.v5.ndr import (NDRCALL, NDRPOINTER, NDRSTRUCT, NDRUniConformantArray)
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.uuid import uuidtup_to_bin


class HandleBytes(NDRSTRUCT):
    """A context handle: 20 bytes on the wire (attributes, then the GUID)."""
    structure = (("Data", "20s=b''"),)


class ByteArray(NDRUniConformantArray):
    item = "c"


class PByteArray(NDRPOINTER):
    referent = (("Data", ByteArray),)


class EfsRpcBlob(NDRSTRUCT):
    structure = (("cbData", DWORD), ("bData", PByteArray))


class PEfsRpcBlob(NDRPOINTER):
    referent = (("Data", EfsRpcBlob),)


class EfsHashBlob(NDRSTRUCT):
    structure = (("cbData", DWORD), ("bData", PByteArray))


class PEfsHashBlob(NDRPOINTER):
    referent = (("Data", EfsHashBlob),)


class CertHash(NDRSTRUCT):
    structure = (
        ("cbTotalLength", DWORD),
        ("UserSid", PRPC_SID),
        ("Hash", PEfsHashBlob),
        ("lpDisplayInformation", LPWSTR),
    )


class PCertHash(NDRPOINTER):
    referent = (("Data", CertHash),)


class CertHashPtrs(NDRUniConformantArray):
    item = PCertHash


class PCertHashPtrs(NDRPOINTER):
    referent = (("Data", CertHashPtrs),)


class CertHashList(NDRSTRUCT):
    structure = (("nCert_Hash", DWORD), ("Users", PCertHashPtrs))


class PCertHashList(NDRPOINTER):
    referent = (("Data", CertHashList),)


class CertBlob(NDRSTRUCT):
    structure = (("dwCertEncodingType", DWORD), ("cbData", DWORD), ("bData", PByteArray))


class PCertBlob(NDRPOINTER):
    referent = (("Data", CertBlob),)


class Cert(NDRSTRUCT):
    structure = (("cbTotalLength", DWORD), ("UserSid", PRPC_SID), ("CertBlob", PCertBlob))


class PCert(NDRPOINTER):
    referent = (("Data", Cert),)


class CertPtrs(NDRUniConformantArray):
    item = PCert


class PCertPtrs(NDRPOINTER):
    referent = (("Data", CertPtrs),)


class CertList(NDRSTRUCT):
    structure = (("nUsers", DWORD), ("Users", PCertPtrs))


class EfsRpcOpenFileRaw(NDRCALL):
    opnum = 0
    structure = (("FileName", WSTR), ("Flags", LONG))


class EfsRpcOpenFileRawResponse(NDRCALL):
    structure = (("hContext", HandleBytes), ("ErrorCode", LONG))


class EfsRpcCloseRaw(NDRCALL):
    opnum = 3
    structure = (("hContext", HandleBytes),)


class EfsRpcCloseRawResponse(NDRCALL):
    structure = (("hContext", HandleBytes),)


class EfsRpcEncryptFileSrv(NDRCALL):
    opnum = 4
    structure = (("FileName", WSTR),)


class EfsRpcEncryptFileSrvResponse(NDRCALL):
    structure = (("ErrorCode", LONG),)


class EfsRpcDecryptFileSrv(NDRCALL):
    opnum = 5
    structure = (("FileName", WSTR), ("OpenFlag", ULONG))


class EfsRpcDecryptFileSrvResponse(NDRCALL):
    structure = (("ErrorCode", LONG),)


class EfsRpcQueryUsersOnFile(NDRCALL):
    opnum = 6
    structure = (("FileName", WSTR),)


class EfsRpcQueryUsersOnFileResponse(NDRCALL):
    structure = (("Users", PCertHashList), ("ErrorCode", ULONG))


class EfsRpcAddUsersToFile(NDRCALL):
    opnum = 9
    structure = (("FileName", WSTR), ("EncryptionCertificates", CertList))


class EfsRpcAddUsersToFileResponse(NDRCALL):
    structure = (("ErrorCode", ULONG),)


class EfsRpcFileKeyInfo(NDRCALL):
    opnum = 12
    structure = (("FileName", WSTR), ("InfoClass", DWORD))


class EfsRpcFileKeyInfoResponse(NDRCALL):
    structure = (("KeyInfo", PEfsRpcBlob), ("ErrorCode", ULONG))


def handle_bytes(h):
    """A context handle's 20 bytes, however Impacket hands the structure back."""
    return bytes(h) if isinstance(h, (bytes, bytearray)) else h.getData()


def wstr(s):
    return s + "\x00"


def blob_bytes(b):
    data = b["bData"]
    if not data:
        return b""
    return b"".join(x if isinstance(x, bytes) else bytes([x]) for x in data)


def sid_text(ptr):
    """The SID behind a PRPC_SID, as S-1-... text (Impacket's own formatting)."""
    sid = ptr.fields["Data"] if "Data" in getattr(ptr, "fields", {}) else ptr
    return sid.formatCanonical()


def call(dce, req):
    """The response, or {"error": code} when Impacket raises on the status word."""
    try:
        return dce.request(req)
    except DCERPCException as e:
        return {"error": e.get_error_code()}


def main():
    host, port, uuid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[%d]" % (host, port))
    dce = t.get_dce_rpc()
    dce.connect()
    dce.bind(uuidtup_to_bin((uuid, "1.0")))
    out = {}

    r = EfsRpcOpenFileRaw()
    r["FileName"] = wstr("C:\\data\\report.docx")
    r["Flags"] = 0
    resp = dce.request(r)
    handle = handle_bytes(resp["hContext"])
    out["open_handle"] = handle.hex()

    r = EfsRpcCloseRaw()
    r["hContext"] = handle
    resp = dce.request(r)
    out["closed_handle"] = handle_bytes(resp["hContext"]).hex()

    r = EfsRpcEncryptFileSrv()
    r["FileName"] = wstr("\\\\192.0.2.10\\share\\x")
    resp = call(dce, r)
    out["encrypt"] = resp["error"] if isinstance(resp, dict) else resp["ErrorCode"]

    r = EfsRpcDecryptFileSrv()
    r["FileName"] = wstr("C:\\data\\report.docx")
    r["OpenFlag"] = 1
    resp = dce.request(r)
    out["decrypt"] = resp["ErrorCode"]

    r = EfsRpcFileKeyInfo()
    r["FileName"] = wstr("C:\\data\\report.docx")
    r["InfoClass"] = 1
    resp = dce.request(r)
    out["key_info"] = blob_bytes(resp["KeyInfo"]).hex()

    r = EfsRpcQueryUsersOnFile()
    r["FileName"] = wstr("C:\\data\\report.docx")
    resp = dce.request(r)
    users = []
    for p in resp["Users"]["Users"]:
        u = p
        users.append({
            "total": u["cbTotalLength"],
            "sid": sid_text(u["UserSid"]),
            "hash": blob_bytes(u["Hash"]).hex(),
            "display": u["lpDisplayInformation"].rstrip("\x00"),
        })
    out["users"] = users

    r = EfsRpcAddUsersToFile()
    r["FileName"] = wstr("C:\\data\\report.docx")
    cert = Cert()
    cert["cbTotalLength"] = 64
    cert["UserSid"].fromCanonical("S-1-5-21-1-2-3-1104")
    cert["CertBlob"]["dwCertEncodingType"] = 1
    der = bytes(range(40))
    cert["CertBlob"]["cbData"] = len(der)
    cert["CertBlob"]["bData"] = list(der)
    ptr = PCert()
    ptr["Data"] = cert
    r["EncryptionCertificates"]["nUsers"] = 1
    r["EncryptionCertificates"]["Users"].append(ptr)
    resp = dce.request(r)
    out["add_users"] = resp["ErrorCode"]

    dce.disconnect()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
