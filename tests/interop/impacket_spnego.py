"""Impacket as a library, speaking SPNEGO (auth_type 9, GSS_NEGOTIATE) carrying NTLM to msrpcd.

Impacket's own DCE/RPC client binds GSS_NEGOTIATE only with Kerberos, so this script drives the
exchange itself from Impacket's building blocks: impacket.spnego (SPNEGO_NegTokenInit /
SPNEGO_NegTokenResp), impacket.ntlm (NEGOTIATE / AUTHENTICATE, SIGNKEY / SEALKEY, SIGN / SEAL)
and impacket.dcerpc.v5.rpcrt (MSRPCHeader, MSRPCBind, CtxItem, MSRPCBindAck, SEC_TRAILER,
MSRPCRequestHeader, MSRPCRespHeader) over Impacket's TCP transport:

  bind (NegTokenInit: [NTLMSSP], NEGOTIATE) -> bind_ack (accept-incomplete, CHALLENGE)
  -> alter_context (AUTHENTICATE + mechListMIC) -> alter_context_resp (accept-completed +
  msrpcd's mechListMIC, verified here); both sides then re-key RC4 and keep sequence number 1
  for the first request (MS-SPNG 3.1.5.1, as Samba does).

Then rpcecho's EchoData, SourceData (several response fragments) and SinkData at PKT_INTEGRITY
and PKT_PRIVACY, every response fragment's signature verified (and unsealed) here. Also: the
same without mechListMIC (Impacket's AUTHENTICATE carries no NTLM MIC, so msrpcd must accept
the older exchange: no MICs, no re-keying, sequence numbers from 0), a tampered mechListMIC and
a wrong password refused.

    impacket_spnego.py HOST PORT USER PASSWORD
"""
import struct
import sys

from Cryptodome.Cipher import ARC4
from impacket import ntlm
from impacket.dcerpc.v5 import transport
from impacket.dcerpc.v5.dtypes import ULONG
from impacket.dcerpc.v5.ndr import NDRCALL, NDRUniConformantArray
from impacket.dcerpc.v5.rpcrt import (
    MSRPC_ALTERCTX,
    MSRPC_ALTERCTX_R,
    MSRPC_BIND,
    MSRPC_BINDACK,
    MSRPC_FAULT,
    MSRPC_RESPONSE,
    PFC_FIRST_FRAG,
    PFC_LAST_FRAG,
    RPC_C_AUTHN_GSS_NEGOTIATE,
    RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
    RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
    SEC_TRAILER,
    CtxItem,
    MSRPCBind,
    MSRPCBindAck,
    MSRPCHeader,
    MSRPCRequestHeader,
    MSRPCRespHeader,
)
from impacket.spnego import (
    ASN1_OID,
    ASN1_SEQUENCE,
    SPNEGO_NegTokenInit,
    SPNEGO_NegTokenResp,
    TypesMech,
    asn1decode,
    asn1encode,
)
from impacket.uuid import uuidtup_to_bin

ECHO = uuidtup_to_bin(("60a15ec5-4de8-11d7-a637-005056a20182", "1.0"))
NDR20 = uuidtup_to_bin(("8a885d04-1ceb-11c9-9fe8-08002b104860", "2.0"))
NTLMSSP = TypesMech["NTLMSSP - Microsoft NTLM Security Support Provider"]
AUTH_CTX = 79231
SIG_LEN = 16


class BYTES(NDRUniConformantArray):
    item = "c"


class EchoData(NDRCALL):
    opnum = 1
    structure = (("len", ULONG), ("in_data", BYTES))


class EchoDataResponse(NDRCALL):
    structure = (("out_data", BYTES),)


class SinkData(NDRCALL):
    opnum = 2
    structure = (("len", ULONG), ("data", BYTES))


class SourceData(NDRCALL):
    opnum = 3
    structure = (("len", ULONG),)


class SourceDataResponse(NDRCALL):
    structure = (("data", BYTES),)


RESULTS = []


def check(name, ok, detail):
    RESULTS.append(bool(ok))
    print("%s %-44s %s" % ("PASS" if ok else "FAIL", name, detail), flush=True)


class Refused(Exception):
    """The server refused (fault, bind_nak or a closed connection)."""


def mech_types_der():
    """DER of the MechTypeList [NTLMSSP] (what the mechListMICs cover)."""
    return bytes([ASN1_SEQUENCE]) + asn1encode(bytes([ASN1_OID]) + asn1encode(NTLMSSP))


def parse_final(token):
    """negState and mechListMIC of an accept-completed NegTokenResp. Impacket's
    SPNEGO_NegTokenResp cannot read one that carries only negState and mechListMIC (its parser
    wants a supportedMech or responseToken after negState), so the fields are walked here with
    Impacket's asn1decode."""
    if token[:1] != b"\xa1":
        raise ValueError("not a NegTokenResp: %r" % token[:4])
    body, _ = asn1decode(token[1:])
    if body[:1] != bytes([ASN1_SEQUENCE]):
        raise ValueError("no SEQUENCE")
    rest, _ = asn1decode(body[1:])
    fields = {}
    while rest:
        tag = rest[0]
        inner, used = asn1decode(rest[1:])
        fields[tag] = inner
        rest = rest[1 + used:]
    state = None
    if 0xA0 in fields:  # [0] ENUMERATED
        value, _ = asn1decode(fields[0xA0][1:])
        state = value[0]
    mic = None
    if 0xA3 in fields:  # [3] OCTET STRING
        mic, _ = asn1decode(fields[0xA3][1:])
    return state, mic


class Spnego:
    """One authenticated rpcecho association over SPNEGO/NTLM."""

    def __init__(self, host, port, user, password, level, mech_list_mic=True, tamper_mic=False):
        self.level = level
        self.t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[%d]" % (host, port))
        self.t.connect()
        self.call_id = 1
        # Leg 1: bind with NegTokenInit carrying NEGOTIATE.
        type1 = ntlm.getNTLMSSPType1("", "", signingRequired=True, use_ntlmv2=True)
        init = SPNEGO_NegTokenInit()
        init["MechTypes"] = [NTLMSSP]
        init["MechToken"] = type1.getData()
        ack = self.bind_like(MSRPC_BIND, init.getData())
        if ack["type"] != MSRPC_BINDACK:
            raise Refused("bind answered with ptype %d" % ack["type"])
        self.max_xmit = ack["max_rfrag"]
        # Leg 2: accept-incomplete with CHALLENGE.
        resp = SPNEGO_NegTokenResp(ack["auth_data"])
        if resp["SupportedMech"] != NTLMSSP or resp["NegState"] != b"\x01":
            raise ValueError("unexpected first reply %r" % resp.fields)
        # Leg 3: AUTHENTICATE (+ mechListMIC) in an alter_context.
        type3, key = ntlm.getNTLMSSPType3(type1, resp["ResponseToken"], user, password, "")
        self.flags = type3["flags"]
        self.cli_sign = ntlm.SIGNKEY(self.flags, key, "Client")
        self.srv_sign = ntlm.SIGNKEY(self.flags, key, "Server")
        self.cli_seal = ntlm.SEALKEY(self.flags, key, "Client")
        self.srv_seal = ntlm.SEALKEY(self.flags, key, "Server")
        self.cli_rc4 = ARC4.new(self.cli_seal).encrypt
        self.srv_rc4 = ARC4.new(self.srv_seal).encrypt
        self.send_seq = 0
        self.recv_seq = 0
        final = SPNEGO_NegTokenResp()
        final["ResponseToken"] = type3.getData()
        if mech_list_mic:
            mic = ntlm.SIGN(self.flags, self.cli_sign, mech_types_der(), 0, self.cli_rc4).getData()
            self.send_seq = 1
            if tamper_mic:
                mic = mic[:5] + bytes([mic[5] ^ 1]) + mic[6:]
            final["mechListMIC"] = mic
        alter = self.bind_like(MSRPC_ALTERCTX, final.getData())
        if alter["type"] != MSRPC_ALTERCTX_R:
            raise Refused("alter_context answered with ptype %d" % alter["type"])
        # Leg 4: accept-completed, with msrpcd's mechListMIC when we sent ours.
        state, server_mic = parse_final(alter["auth_data"])
        if state != 0:
            raise ValueError("negState %r, not accept-completed" % state)
        if mech_list_mic:
            want = ntlm.SIGN(self.flags, self.srv_sign, mech_types_der(), 0, self.srv_rc4).getData()
            if server_mic != want:
                raise ValueError("msrpcd's mechListMIC does not verify")
            self.recv_seq = 1
            # MS-SPNG 3.1.5.1: re-key RC4 for the first message, keep the sequence numbers.
            self.cli_rc4 = ARC4.new(self.cli_seal).encrypt
            self.srv_rc4 = ARC4.new(self.srv_seal).encrypt
        elif server_mic is not None:
            raise ValueError("a mechListMIC we did not ask for")
        self.server_mic = server_mic

    def recv_pdu(self):
        try:
            head = self.t.recv(count=16)
        except Exception as e:  # noqa: BLE001 - a closed connection is a refusal
            raise Refused("connection closed: %s" % e)
        frag_len = struct.unpack("<H", head[8:10])[0]
        if frag_len < 16:
            raise ValueError("frag_len %d" % frag_len)
        return head + self.t.recv(count=frag_len - 16)

    def bind_like(self, ptype, token):
        """A bind or alter_context for rpcecho/NDR20 carrying `token`; the parsed answer."""
        body = MSRPCBind()
        item = CtxItem()
        item["ContextID"] = 0
        item["TransItems"] = 1
        item["AbstractSyntax"] = ECHO
        item["TransferSyntax"] = NDR20
        body.addCtxItem(item)
        pdu = MSRPCHeader()
        pdu["type"] = ptype
        pdu["call_id"] = self.call_id
        self.call_id += 1
        pdu["pduData"] = body.getData()
        trailer = SEC_TRAILER()
        trailer["auth_type"] = RPC_C_AUTHN_GSS_NEGOTIATE
        trailer["auth_level"] = self.level
        trailer["auth_ctx_id"] = AUTH_CTX
        pdu["sec_trailer"] = trailer.getData()
        pdu["auth_data"] = token
        self.t.send(pdu.get_packet())
        raw = self.recv_pdu()
        if raw[2] == MSRPC_FAULT:
            raise Refused("fault %#010x" % struct.unpack("<L", raw[24:28])[0])
        if raw[2] not in (MSRPC_BINDACK, MSRPC_ALTERCTX_R):
            raise Refused("ptype %d" % raw[2])
        return MSRPCBindAck(raw)

    def call(self, opnum, stub):
        """One request (single fragment) and its response, every fragment verified."""
        if 24 + len(stub) + 3 + 8 + SIG_LEN > self.max_xmit:
            raise ValueError("request larger than one fragment")
        req = MSRPCRequestHeader()
        req["type"] = 0
        req["flags"] = PFC_FIRST_FRAG | PFC_LAST_FRAG
        req["call_id"] = self.call_id
        self.call_id += 1
        req["ctx_id"] = 0
        req["op_num"] = opnum
        req["alloc_hint"] = len(stub)
        trailer = SEC_TRAILER()
        trailer["auth_type"] = RPC_C_AUTHN_GSS_NEGOTIATE
        trailer["auth_level"] = self.level
        trailer["auth_ctx_id"] = AUTH_CTX
        pad = (4 - (24 + len(stub)) % 4) % 4
        trailer["auth_pad_len"] = pad
        req["pduData"] = stub + b"\xbb" * pad
        req["sec_trailer"] = trailer.getData()
        req["auth_data"] = b" " * SIG_LEN
        plain = req["pduData"]
        if self.level == RPC_C_AUTHN_LEVEL_PKT_PRIVACY:
            sealed, sig = ntlm.SEAL(self.flags, self.cli_sign, self.cli_seal, req.get_packet()[:-SIG_LEN],
                                    plain, self.send_seq, self.cli_rc4)
            req["pduData"] = sealed
        else:
            sig = ntlm.SIGN(self.flags, self.cli_sign, req.get_packet()[:-SIG_LEN], self.send_seq, self.cli_rc4)
        self.send_seq += 1
        req["auth_data"] = sig.getData()
        self.t.send(req.get_packet())
        out = b""
        while True:
            raw = self.recv_pdu()
            if raw[2] == MSRPC_FAULT:
                raise Refused("fault %#010x" % struct.unpack("<L", raw[24:28])[0])
            if raw[2] != MSRPC_RESPONSE:
                raise ValueError("ptype %d" % raw[2])
            resp = MSRPCRespHeader(raw)
            auth_len = resp["auth_len"]
            if auth_len != SIG_LEN:
                raise ValueError("auth_len %d" % auth_len)
            start = 24
            end = len(raw) - 8 - SIG_LEN
            enc = raw[start:end]
            if self.level == RPC_C_AUTHN_LEVEL_PKT_PRIVACY:
                dec = self.srv_rc4(enc)
            else:
                dec = enc
            signed = raw[:start] + dec + raw[end:len(raw) - SIG_LEN]
            want = ntlm.SIGN(self.flags, self.srv_sign, signed, self.recv_seq, self.srv_rc4).getData()
            self.recv_seq += 1
            if want != raw[len(raw) - SIG_LEN:]:
                raise ValueError("response signature does not verify (seq %d)" % (self.recv_seq - 1))
            pad_len = raw[end + 2]
            out += dec[:len(dec) - pad_len]
            if raw[3] & PFC_LAST_FRAG:
                return out

    def close(self):
        self.t.disconnect()


def exercise(name, s):
    data = bytes((i * 7) & 0xFF for i in range(3000))
    r = EchoData()
    r["len"] = len(data)
    r["in_data"] = data
    got = EchoDataResponse(s.call(1, r.getData()))
    got = b"".join(got["out_data"]) if isinstance(got["out_data"], list) else bytes(got["out_data"])
    check("%s EchoData(3000)" % name, got == data, "%d bytes back" % len(got))
    r = SourceData()
    r["len"] = 9000
    before = s.recv_seq
    got = SourceDataResponse(s.call(3, r.getData()))
    frags = s.recv_seq - before
    check("%s SourceData in several fragments" % name, frags > 1, "%d response fragments verified" % frags)
    got = b"".join(got["data"]) if isinstance(got["data"], list) else bytes(got["data"])
    want = bytes(i & 0xFF for i in range(9000))
    check("%s SourceData(9000), fragmented" % name, got == want, "%d bytes, pattern %s" % (len(got), got[:4].hex()))
    r = SinkData()
    r["len"] = 2000
    r["data"] = b"\x5a" * 2000
    got = s.call(2, r.getData())
    check("%s SinkData(2000)" % name, got == b"", "empty response stub")


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    for lname, level in (("integrity", RPC_C_AUTHN_LEVEL_PKT_INTEGRITY), ("privacy", RPC_C_AUTHN_LEVEL_PKT_PRIVACY)):
        for mic in (True, False):
            name = "SPNEGO %s %s" % (lname, "mechListMIC" if mic else "no-MIC")
            try:
                s = Spnego(host, port, user, password, level, mech_list_mic=mic)
                check("%s handshake" % name, (s.server_mic is not None) == mic,
                      "msrpcd's mechListMIC %s" % ("verified" if s.server_mic else "absent, as asked"))
                exercise(name, s)
                s.close()
            except Exception as e:  # noqa: BLE001 - report any failure as a check
                check("%s session" % name, False, "%s: %s" % (type(e).__name__, e))
    for what, kw in (("tampered mechListMIC", {"tamper_mic": True}), ("wrong password", {})):
        pw = password + "-wrong" if what == "wrong password" else password
        try:
            s = Spnego(host, port, user, pw, RPC_C_AUTHN_LEVEL_PKT_PRIVACY, **kw)
            check("%s refused" % what, False, "the handshake succeeded")
            s.close()
        except Refused as e:
            check("%s refused" % what, True, str(e)[:80])
        except Exception as e:  # noqa: BLE001
            check("%s refused" % what, False, "%s: %s" % (type(e).__name__, e))
    passed = sum(RESULTS)
    print("impacket_spnego: %d passed, %d failed" % (passed, len(RESULTS) - passed))
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
