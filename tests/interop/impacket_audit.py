"""Impacket as an attacker would use it, for the audit section of run.sh: NTLM binds to rpcecho
with wrong passwords, one fresh connection each.

    impacket_audit.py HOST PORT guess USER N     N wrong-password attempts as USER
    impacket_audit.py HOST PORT spray N          one wrong-password attempt for N users

Prints how many attempts were refused; exits 0 when every one was.
"""
import sys

from impacket.dcerpc.v5 import transport
from impacket.dcerpc.v5.ndr import NDRCALL
from impacket.dcerpc.v5.dtypes import ULONG
from impacket.dcerpc.v5.rpcrt import RPC_C_AUTHN_LEVEL_PKT_INTEGRITY, RPC_C_AUTHN_WINNT
from impacket.uuid import uuidtup_to_bin

ECHO = uuidtup_to_bin(("60a15ec5-4de8-11d7-a637-005056a20182", "1.0"))


class AddOne(NDRCALL):
    opnum = 0
    structure = (("in_data", ULONG),)


class AddOneResponse(NDRCALL):
    structure = (("out_data", ULONG),)


def attempt(host, port, user, password):
    """True when the server refused the logon (bind or first call failed)."""
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[%d]" % (host, port))
    t.set_credentials(user, password, "")
    t.set_connect_timeout(10)
    dce = t.get_dce_rpc()
    dce.set_auth_type(RPC_C_AUTHN_WINNT)
    dce.set_auth_level(RPC_C_AUTHN_LEVEL_PKT_INTEGRITY)
    try:
        dce.connect()
        dce.bind(ECHO)
        r = AddOne()
        r["in_data"] = 1
        dce.request(r, checkError=False)
        return False
    except Exception:  # noqa: BLE001 - any refusal counts
        return True
    finally:
        try:
            dce.disconnect()
        except Exception:  # noqa: BLE001
            pass


def main():
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == "guess":
        user, n = sys.argv[4], int(sys.argv[5])
        tries = [(user, "wrong-%d" % i) for i in range(n)]
    elif mode == "spray":
        n = int(sys.argv[4])
        tries = [("user%d" % i, "Spring2026!") for i in range(n)]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    refused = sum(attempt(host, port, u, p) for u, p in tries)
    print("%s: %d of %d attempts refused" % (mode, refused, len(tries)))
    return 0 if refused == len(tries) else 1


if __name__ == "__main__":
    sys.exit(main())
