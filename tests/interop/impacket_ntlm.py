"""Impacket (as NTLM client) against our NTLMv2 acceptor: binds rpcecho with NTLM at
PKT_INTEGRITY and PKT_PRIVACY (WINNT auth type), calls AddOne and EchoData through Impacket's own
signing/sealing, and checks that a wrong password is refused.

    impacket_ntlm.py HOST PORT USER PASSWORD
"""
import sys

from impacket.dcerpc.v5 import transport
from impacket.dcerpc.v5.rpcrt import (
    RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
    RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
    RPC_C_AUTHN_WINNT,
    DCERPCException,
)

from rpcecho_impacket import ECHO, AddOne, EchoData

RESULTS = []


def check(name, ok, detail):
    RESULTS.append(bool(ok))
    print("%s %-34s %s" % ("PASS" if ok else "FAIL", name, detail), flush=True)


def session(host, port, user, password, level):
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[%d]" % (host, port))
    t.set_credentials(user, password, "")
    dce = t.get_dce_rpc()
    dce.set_auth_type(RPC_C_AUTHN_WINNT)
    dce.set_auth_level(level)
    dce.connect()
    dce.bind(ECHO)
    # Impacket sends a request as one fragment unless told a size; we hold it to what the bind
    # negotiated (a larger fragment is a protocol violation msrpc answers by closing).
    dce.set_max_fragment_size(2048)
    return dce


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    for name, level in (("integrity", RPC_C_AUTHN_LEVEL_PKT_INTEGRITY), ("privacy", RPC_C_AUTHN_LEVEL_PKT_PRIVACY)):
        try:
            dce = session(host, port, user, password, level)
            r = AddOne()
            r["in_data"] = 41
            resp = dce.request(r, checkError=False)
            check("NTLM %s AddOne(41)" % name, resp["out_data"] == 42, "= %d" % resp["out_data"])
            data = bytes(range(256)) * 40  # 10240 bytes: several signed/sealed fragments each way
            r = EchoData()
            r["len"] = len(data)
            r["in_data"] = data
            resp = dce.request(r, checkError=False)
            got = b"".join(resp["out_data"]) if isinstance(resp["out_data"], list) else bytes(resp["out_data"])
            check("NTLM %s EchoData(10240)" % name, got == data, "%d bytes back" % len(got))
            dce.disconnect()
        except Exception as e:  # noqa: BLE001 - report any failure as a check
            check("NTLM %s session" % name, False, "%s: %s" % (type(e).__name__, e))
    # Wrong password: the bind legs complete (NTLM's AUTHENTICATE goes in auth3, unanswered),
    # then the first request must be refused.
    try:
        dce = session(host, port, user, password + "-wrong", RPC_C_AUTHN_LEVEL_PKT_PRIVACY)
        r = AddOne()
        r["in_data"] = 1
        dce.request(r, checkError=False)
        check("wrong password refused", False, "the call succeeded")
    except DCERPCException as e:
        check("wrong password refused", True, str(e)[:80])
    except Exception as e:  # noqa: BLE001
        check("wrong password refused", True, "%s: %s" % (type(e).__name__, str(e)[:80]))
    passed = sum(RESULTS)
    print("impacket_ntlm: %d passed, %d failed" % (passed, len(RESULTS) - passed))
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
