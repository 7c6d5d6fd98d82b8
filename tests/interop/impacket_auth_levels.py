"""Impacket (as NTLM client) against our acceptor at the lower auth levels: binds rpcecho with
NTLM (WINNT) at RPC_C_AUTHN_LEVEL_CONNECT and calls AddOne and EchoData (Impacket sends no
verifier at CONNECT, and our server must take its requests as authenticated at CONNECT); then
at RPC_C_AUTHN_LEVEL_PKT, where Impacket 0.13.1 binds at level 4 but sends its requests
without any verifier: our server must refuse them (fault access denied), as it refuses every
request below the bound level.

    impacket_auth_levels.py HOST PORT USER PASSWORD
"""
import sys

import os

from impacket.dcerpc.v5.rpcrt import RPC_C_AUTHN_LEVEL_CONNECT, RPC_C_AUTHN_LEVEL_PKT

# The rpcecho call classes, check() and session() are impacket_ntlm.py's.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from impacket_ntlm import RESULTS, AddOne, EchoData, check, session  # noqa: E402


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    try:
        dce = session(host, port, user, password, RPC_C_AUTHN_LEVEL_CONNECT)
        r = AddOne()
        r["in_data"] = 41
        resp = dce.request(r, checkError=False)
        check("NTLM connect AddOne(41)", resp["out_data"] == 42, "= %d" % resp["out_data"])
        data = bytes(range(256)) * 20
        r = EchoData()
        r["len"] = len(data)
        r["in_data"] = data
        resp = dce.request(r, checkError=False)
        got = b"".join(resp["out_data"]) if isinstance(resp["out_data"], list) else bytes(resp["out_data"])
        check("NTLM connect EchoData(5120)", got == data, "%d bytes back" % len(got))
        dce.disconnect()
    except Exception as e:  # noqa: BLE001 - report any failure as a check
        check("NTLM connect session", False, "%s: %s" % (type(e).__name__, e))
    try:
        dce = session(host, port, user, password, RPC_C_AUTHN_LEVEL_PKT)
        r = AddOne()
        r["in_data"] = 1
        dce.request(r, checkError=False)
        check("unsigned request at PKT refused", False, "the call succeeded")
    except Exception as e:  # noqa: BLE001
        text = str(e)
        check("unsigned request at PKT refused", "access_denied" in text.lower() or "0x5" in text, text[:80])
    passed = sum(RESULTS)
    print("impacket_auth_levels: %d passed, %d failed" % (passed, len(RESULTS) - passed))
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
