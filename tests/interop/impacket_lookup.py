#!/usr/bin/env python3
"""Walks an endpoint mapper's database with Impacket's ept_lookup classes, one entry per call,
keeping the entries of every batch whatever its status (unlike Impacket's hept_lookup, which
drops everything on a non-zero status, and Samba's rpcclient, which drops the batch that comes
with ept_s_not_registered). A second reference for tests/interop/run.sh.

    impacket_lookup.py HOST [PORT]      -> JSON on stdout:
    {"entries": [{"uuid", "version", "binding", "annotation"}], "calls": N,
     "final_status": "0x16c9a0d6", "final_batch": 1}

Stops when the returned handle is null or the status is non-zero; at most 5000 calls.
"""

import json
import sys

from impacket.dcerpc.v5 import epm, transport
from impacket.dcerpc.v5.ndr import NULL


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    host = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) == 3 else 135
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[%d]" % (host, port))
    t.set_connect_timeout(20)
    dce = t.get_dce_rpc()
    dce.connect()
    dce.bind(epm.MSRPC_UUID_PORTMAP)
    handle = epm.ept_lookup_handle_t()
    out, calls, status, batch = [], 0, 0, 0
    while calls < 5000:
        r = epm.ept_lookup()
        r["inquiry_type"] = epm.RPC_C_EP_ALL_ELTS
        r["object"] = NULL
        r["Ifid"] = NULL
        r["vers_option"] = epm.RPC_C_VERS_ALL
        r["entry_handle"] = handle
        r["max_ents"] = 1
        resp = dce.request(r, checkError=False)
        calls += 1
        batch = resp["num_ents"]
        for i in range(batch):
            e = resp["entries"][i]
            tower = epm.EPMTower(b"".join(e["tower"]["tower_octet_string"]))
            floor0 = str(tower["Floors"][0])  # "UUID vMAJ.MIN"
            uuid, _, ver = floor0.partition(" v")
            out.append(
                {
                    "uuid": uuid.lower(),
                    "version": ver,
                    "binding": epm.PrintStringBinding(tower["Floors"]),
                    "annotation": b"".join(e["annotation"]).rstrip(b"\x00").decode("utf-8", "replace"),
                }
            )
        status = resp["status"]
        handle = resp["entry_handle"]
        if status != 0 or handle.isNull():
            break
    dce.disconnect()
    json.dump(
        {"entries": out, "calls": calls, "final_status": "%#010x" % status, "final_batch": batch},
        sys.stdout,
        indent=1,
    )
    print()


if __name__ == "__main__":
    main()
