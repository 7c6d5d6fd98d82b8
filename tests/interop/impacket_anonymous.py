"""Impacket's anonymous NTLM (no credentials: an empty user name and password, what rpcmap.py
sends by default) against msrpcd's rpcecho, bare NTLM (auth type 10, WINNT, through Impacket's
own DCE/RPC client) and SPNEGO (auth type 9, driven from Impacket's spnego/ntlm classes as
impacket_spnego.py does, with the mechListMIC both ways), at RPC_C_AUTHN_LEVEL_CONNECT,
PKT_INTEGRITY and PKT_PRIVACY. Impacket derives the anonymous session key as Windows does
(KeyExchangeKey Z(16), a random exported key RC4-encrypted under it), so every signed or sealed
response verifying here proves msrpcd computed the same keys.

    impacket_anonymous.py HOST PORT [served|refused|denied]

  served   (default) on each association AddOne(41) = 42 and EchoData comes back (5000
           bytes over NTLM: several fragments each way);
  refused  anonymous logons are off: nothing is served, and the association does not survive
           (bind_nak "authentication type not recognized", or a refused logon: the first call
           gets a fault and the connection closes);
  denied   the logon holds but each call is refused with rpc_s_access_denied (0x5), the
           association staying up for the next (what the [policy]
           restrict-remote-clients = "authenticated" does to anonymous callers).
"""
import os
import struct
import sys

from impacket.dcerpc.v5 import transport
from impacket.dcerpc.v5.rpcrt import (
    MSRPC_FAULT,
    MSRPC_RESPONSE,
    PFC_FIRST_FRAG,
    PFC_LAST_FRAG,
    RPC_C_AUTHN_LEVEL_CONNECT,
    RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
    RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
    RPC_C_AUTHN_WINNT,
    DCERPCException,
    MSRPCRequestHeader,
    MSRPCRespHeader,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import impacket_spnego  # noqa: E402 - the SPNEGO driver next to this script
from rpcecho_impacket import ECHO, AddOne, AddOneResponse, EchoData, EchoDataResponse  # noqa: E402

ACCESS_DENIED = 0x5
LEVELS = (
    ("connect", RPC_C_AUTHN_LEVEL_CONNECT),
    ("integrity", RPC_C_AUTHN_LEVEL_PKT_INTEGRITY),
    ("privacy", RPC_C_AUTHN_LEVEL_PKT_PRIVACY),
)
DATA = bytes((i * 7 + 3) & 0xFF for i in range(5000))

RESULTS = []


def check(name, ok, detail):
    RESULTS.append(bool(ok))
    print("%s %-36s %s" % ("PASS" if ok else "FAIL", name, detail), flush=True)


def as_bytes(v):
    return b"".join(v) if isinstance(v, list) else bytes(v)


def outcome(f, want):
    """Runs one call: ("ok", matches want) / ("denied", text) for rpc_s_access_denied /
    ("error", text) for anything else (a closed connection, another fault)."""
    try:
        got = f()
        return ("ok", got == want, got if isinstance(got, int) else "%d bytes" % len(got))
    except DCERPCException as e:
        if "rpc_s_access_denied" in str(e) or e.get_error_code() == ACCESS_DENIED:
            return ("denied", str(e)[:70])
        return ("error", "%s: %s" % (type(e).__name__, str(e)[:70]))
    except impacket_spnego.Refused as e:
        if "0x00000005" in str(e):
            return ("denied", str(e)[:70])
        return ("error", "Refused: %s" % str(e)[:70])
    except Exception as e:  # noqa: BLE001 - any other failure
        return ("error", "%s: %s" % (type(e).__name__, str(e)[:70]))


def ntlm_calls(host, port, level):
    """Bare NTLM through Impacket's client: the outcomes of AddOne(41) and EchoData(5000) on
    one association (a bind that fails is one "error")."""
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[%d]" % (host, port))
    t.set_credentials("", "", "")
    dce = t.get_dce_rpc()
    dce.set_auth_type(RPC_C_AUTHN_WINNT)
    dce.set_auth_level(level)
    try:
        dce.connect()
        dce.bind(ECHO)
    except Exception as e:  # noqa: BLE001 - the bind's failure is the outcome
        return [("error", "bind: %s: %s" % (type(e).__name__, str(e)[:70]))]
    dce.set_max_fragment_size(2048)

    def add_one():
        r = AddOne()
        r["in_data"] = 41
        return dce.request(r, checkError=False)["out_data"]

    def echo():
        r = EchoData()
        r["len"] = len(DATA)
        r["in_data"] = DATA
        return as_bytes(dce.request(r, checkError=False)["out_data"])

    out = [outcome(add_one, 42), outcome(echo, DATA)]
    try:
        dce.disconnect()
    except Exception:  # noqa: BLE001
        pass
    return out


class AnonymousSpnego(impacket_spnego.Spnego):
    """impacket_spnego.Spnego with an empty user and password; at CONNECT its requests carry
    no verifier (what the connect level means on the wire)."""

    def __init__(self, host, port, level):
        super().__init__(host, port, "", "", level, mech_list_mic=True)

    def call(self, opnum, stub):
        if self.level != RPC_C_AUTHN_LEVEL_CONNECT:
            return super().call(opnum, stub)
        req = MSRPCRequestHeader()
        req["type"] = 0
        req["flags"] = PFC_FIRST_FRAG | PFC_LAST_FRAG
        req["call_id"] = self.call_id
        self.call_id += 1
        req["ctx_id"] = 0
        req["op_num"] = opnum
        req["alloc_hint"] = len(stub)
        req["pduData"] = stub
        self.t.send(req.get_packet())
        out = b""
        while True:
            raw = self.recv_pdu()
            if raw[2] == MSRPC_FAULT:
                raise impacket_spnego.Refused("fault %#010x" % struct.unpack("<L", raw[24:28])[0])
            if raw[2] != MSRPC_RESPONSE:
                raise ValueError("ptype %d" % raw[2])
            resp = MSRPCRespHeader(raw)
            out += resp["pduData"]
            if raw[3] & PFC_LAST_FRAG:
                return out


def spnego_calls(host, port, level):
    """SPNEGO carrying anonymous NTLM: the outcomes of AddOne(41) and EchoData(1500)."""
    try:
        s = AnonymousSpnego(host, port, level)
    except Exception as e:  # noqa: BLE001 - the handshake's failure is the outcome
        return [("error", "handshake: %s: %s" % (type(e).__name__, str(e)[:70]))]

    def add_one():
        r = AddOne()
        r["in_data"] = 41
        return AddOneResponse(s.call(0, r.getData()))["out_data"]

    def echo():
        # The SPNEGO driver sends single-fragment requests: 1500 bytes fit one.
        r = EchoData()
        r["len"] = 1500
        r["in_data"] = DATA[:1500]
        return as_bytes(EchoDataResponse(s.call(1, r.getData()))["out_data"])

    out = [outcome(add_one, 42), outcome(echo, DATA[:1500])]
    try:
        s.close()
    except Exception:  # noqa: BLE001
        pass
    return out


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    expect = sys.argv[3] if len(sys.argv) > 3 else "served"
    if expect not in ("served", "refused", "denied"):
        print("usage: impacket_anonymous.py HOST PORT [served|refused|denied]")
        return 2
    for mech, run in (("NTLM", ntlm_calls), ("SPNEGO", spnego_calls)):
        for lname, level in LEVELS:
            name = "anonymous %s %s" % (mech, lname)
            got = run(host, port, level)
            kinds = [g[0] for g in got]
            if expect == "served":
                check(name + " served", kinds == ["ok", "ok"] and all(g[1] for g in got), repr(got))
            elif expect == "denied":
                # Both calls answered access denied on one association: the logon held and
                # the policy refused each call (a refused logon closes the connection).
                check(name + " denied", kinds == ["denied", "denied"], repr(got))
            else:
                # Nothing served, and the association did not survive a refusal.
                check(name + " refused", "ok" not in kinds and kinds != ["denied", "denied"], repr(got))
    passed = sum(RESULTS)
    print("impacket_anonymous (%s): %d passed, %d failed" % (expect, passed, len(RESULTS) - passed))
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
