"""Impacket against msrpcd's security policy. msrpcd runs with a [policy] that requires
PKT_PRIVACY for rpcecho and refuses endpoint lookups (epm-lookup = "refuse"), and an NTLM user
file. Checks, through Impacket's own client code:

  - rpcecho AddOne unauthenticated and at PKT_INTEGRITY: refused with rpc_s_access_denied (0x5);
  - rpcecho AddOne at PKT_PRIVACY: served (42);
  - Impacket's rpcdump.py (its RPCDump class, pointed at EPM_PORT): ept_lookup refused with
    rpc_s_access_denied ("Protocol failed"), no endpoint listed.

    impacket_policy.py HOST EPM_PORT ECHO_PORT USER PASSWORD [RPCDUMP_PY]
"""
import io
import logging
import os
import runpy
import sys

from impacket.dcerpc.v5 import transport
from impacket.dcerpc.v5.rpcrt import (
    RPC_C_AUTHN_LEVEL_NONE,
    RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
    RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
    RPC_C_AUTHN_WINNT,
    DCERPCException,
)
from impacket.dcerpc.v5.ndr import NDRCALL
from impacket.dcerpc.v5.dtypes import ULONG
from impacket.uuid import uuidtup_to_bin

ECHO = uuidtup_to_bin(("60a15ec5-4de8-11d7-a637-005056a20182", "1.0"))
ACCESS_DENIED = 0x5


class AddOne(NDRCALL):
    opnum = 0
    structure = (("in_data", ULONG),)


class AddOneResponse(NDRCALL):
    structure = (("out_data", ULONG),)


RESULTS = []


def check(name, ok, detail):
    RESULTS.append(bool(ok))
    print("%s %-40s %s" % ("PASS" if ok else "FAIL", name, detail), flush=True)


def add_one(host, port, user, password, level):
    """AddOne(41) at `level`: ("ok", value) or ("fault", error_code) or ("error", text)."""
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[%d]" % (host, port))
    dce = t.get_dce_rpc()
    if level != RPC_C_AUTHN_LEVEL_NONE:
        t.set_credentials(user, password, "")
        dce.set_auth_type(RPC_C_AUTHN_WINNT)
        dce.set_auth_level(level)
    try:
        dce.connect()
        dce.bind(ECHO)
        r = AddOne()
        r["in_data"] = 41
        resp = dce.request(r, checkError=False)
        return ("ok", resp["out_data"])
    except DCERPCException as e:
        # Impacket raises a fault's status as its name (error_code stays None for the
        # runtime's statuses): rpc_s_access_denied is status 0x5.
        return ("fault", e.get_error_code(), str(e))
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        return ("error", "%s: %s" % (type(e).__name__, e))
    finally:
        try:
            dce.disconnect()
        except Exception:  # noqa: BLE001
            pass


def rpcdump(script, host, port):
    """Runs Impacket's rpcdump.py RPCDump class against host:port; returns its log text."""
    from impacket.examples import logger

    logger.init()
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    logging.getLogger().addHandler(handler)
    try:
        mod = runpy.run_path(script, run_name="rpcdump")
        cls = mod["RPCDump"]
        cls.KNOWN_PROTOCOLS[port] = {"bindstr": "ncacn_ip_tcp:%%s[%d]" % port}
        cls(port=port).dump(host, host)
    finally:
        logging.getLogger().removeHandler(handler)
    return buf.getvalue()


def main():
    host, epm_port, echo_port, user, password = (
        sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
    script = sys.argv[6] if len(sys.argv) > 6 else os.path.join(os.path.dirname(sys.executable), "rpcdump.py")

    for name, level in (("unauthenticated", RPC_C_AUTHN_LEVEL_NONE),
                        ("PKT_INTEGRITY", RPC_C_AUTHN_LEVEL_PKT_INTEGRITY)):
        got = add_one(host, echo_port, user, password, level)
        check("rpcecho %s refused" % name,
              got[0] == "fault" and got[1] in (None, ACCESS_DENIED) and "rpc_s_access_denied" in got[2],
              repr(got))
    got = add_one(host, echo_port, user, password, RPC_C_AUTHN_LEVEL_PKT_PRIVACY)
    check("rpcecho PKT_PRIVACY served", got == ("ok", 42), repr(got))

    text = rpcdump(script, host, epm_port)
    check("rpcdump.py refused (epm-lookup)",
          "Protocol failed" in text and "rpc_s_access_denied" in text and "Received" not in text,
          " / ".join(line.strip() for line in text.splitlines() if line.strip())[:160])

    passed = sum(RESULTS)
    print("impacket_policy: %d passed, %d failed" % (passed, len(RESULTS) - passed))
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
