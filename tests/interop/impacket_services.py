#!/usr/bin/env python3
"""Impacket's clients of svcctl (scmr), eventlog (even), atsvc, backupkey (bkrp) and
ITaskSchedulerService (tsch), run against msrpc-windows's generated servers by
crates/msrpc-windows/tests/served_services.rs (with target/venv's Python).

    target/venv/bin/python tests/interop/impacket_services.py [--ndr64] ADDR SERVICE...

With --ndr64 every bind offers NDR64 only (as Impacket's getArch.py does) and atsvc is left out:
Impacket 0.13.1 declares AT_INFO's JobTime a DWORD, where MS-TSCH has a DWORD_PTR, 8 bytes in NDR64.

Impacket's NDR engine is its own (pure Python, not Samba's, not ours). Prints one line per
fact read, `key value...`, for the Rust side to compare with what its services hold.
Exit status 2 when Impacket is missing.
"""

import sys

try:
    from impacket.dcerpc.v5 import atsvc, bkrp, even, scmr, transport, tsch
    from impacket.dcerpc.v5.dtypes import NULL
    from impacket.dcerpc.v5.rpcrt import DCERPCException
    from impacket.uuid import string_to_bin
except ImportError as e:
    print("FAIL: Impacket is missing (%s)" % e)
    sys.exit(2)

ARGS = sys.argv[1:]
NDR64 = ARGS[:1] == ["--ndr64"]
if NDR64:
    ARGS = ARGS[1:]
ADDR = ARGS[0]
SERVICES = ARGS[1:]
NDR64_SYNTAX = ("71710533-beba-4937-8319-b5dbef9ccc36", "1.0")


def connect(uuid):
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[135]" % ADDR)
    dce = t.get_dce_rpc()
    dce.connect()
    if NDR64:
        dce.bind(uuid, transfer_syntax=NDR64_SYNTAX)
    else:
        dce.bind(uuid)
    return dce


def status_of(e):
    return e.get_error_code() & 0xFFFFFFFF


# ---- svcctl ----
dce = connect(scmr.MSRPC_UUID_SCMR)
scm = scmr.hROpenSCManagerW(dce, "\\\\server\x00")["lpScHandle"]
req = scmr.REnumServicesStatusW()
req["hSCManager"] = scm
req["dwServiceType"] = scmr.SERVICE_WIN32_OWN_PROCESS | scmr.SERVICE_WIN32_SHARE_PROCESS
req["dwServiceState"] = scmr.SERVICE_STATE_ALL
req["cbBufSize"] = 0
req["lpResumeIndex"] = NULL
try:
    dce.request(req)
    print("enum-small no error")
except DCERPCException as e:
    resp = e.get_packet()
    print("enum-small", status_of(e), resp["pcbBytesNeeded"])
    req["cbBufSize"] = resp["pcbBytesNeeded"]
resp = dce.request(req)
print("enum", resp["lpServicesReturned"], b"".join(resp["lpBuffer"]).hex())
for name in SERVICES:
    h = scmr.hROpenServiceW(dce, scm, name + "\x00")["lpServiceHandle"]
    s = scmr.hRQueryServiceStatus(dce, h)["lpServiceStatus"]
    print("status", name, s["dwServiceType"], s["dwCurrentState"], s["dwControlsAccepted"])
    c = scmr.hRQueryServiceConfigW(dce, h)
    q = c["lpServiceConfig"]
    print("config", name, q["dwServiceType"], q["dwStartType"], q["dwErrorControl"],
          c["pcbBytesNeeded"])
    print("path", name, q["lpBinaryPathName"][:-1])
    print("account", name, q["lpServiceStartName"][:-1])
    d = scmr.hRGetServiceDisplayNameW(dce, scm, name + "\x00", 256)
    print("display", name, d["lpcchBuffer"], d["lpDisplayName"][:-1])
    k = scmr.hRGetServiceKeyNameW(dce, scm, d["lpDisplayName"], 256)
    # (Impacket names the answer of RGetServiceKeyNameW lpDisplayName.)
    print("key", name, k["lpDisplayName"][:-1])
    scmr.hRCloseServiceHandle(dce, h)
scmr.hRCloseServiceHandle(dce, scm)
dce.disconnect()

# ---- eventlog ----
dce = connect(even.MSRPC_UUID_EVEN)
log = even.hElfrOpenELW(dce, "Application", "")["LogHandle"]
print("records", even.hElfrNumberOfRecords(dce, log)["NumberOfRecords"])
print("oldest", even.hElfrOldestRecordNumber(dce, log)["OldestRecordNumber"])
while True:
    flags = even.EVENTLOG_SEQUENTIAL_READ | even.EVENTLOG_FORWARDS_READ
    try:
        even.hElfrReadELW(dce, log, flags, 0, 0)
        raise SystemExit("FAIL: a read of 0 bytes succeeded")
    except DCERPCException as e:
        if status_of(e) == 0xC0000011:  # STATUS_END_OF_FILE
            print("end")
            break
        need = e.get_packet()["MinNumberOfBytesNeeded"]
    r = even.hElfrReadELW(dce, log, flags, 0, need)
    print("record", b"".join(r["Buffer"])[:r["NumberOfBytesRead"]].hex())
even.hElfrCloseEL(dce, log)
dce.disconnect()

# ---- atsvc (NDR20 only: Impacket's JobTime is a DWORD) ----
def atsvc_calls():
    dce = connect(atsvc.MSRPC_UUID_ATSVC)
    r = atsvc.hNetrJobEnum(dce)
    print("jobs", r["pTotalEntries"])
    for j in r["pEnumContainer"]["Buffer"] or []:
        print("job", j["JobId"], j["JobTime"], j["DaysOfMonth"], j["DaysOfWeek"], j["Flags"],
              j["Command"][:-1])
    info = atsvc.AT_INFO()
    info["JobTime"], info["DaysOfMonth"], info["DaysOfWeek"], info["Flags"] = 7200000, 0, 0x40, 0
    info["Command"] = "impacket.cmd\x00"
    print("added", atsvc.hNetrJobAdd(dce, NULL, info)["pJobId"])
    i = atsvc.hNetrJobGetInfo(dce, NULL, 3)["ppAtInfo"]
    print("info", 3, i["JobTime"], i["DaysOfWeek"], i["Command"][:-1])
    dce.disconnect()


if not NDR64:
    atsvc_calls()

# ---- backupkey ----
dce = connect(bkrp.MSRPC_UUID_BKRP)
r = bkrp.hBackuprKey(dce, string_to_bin("018ff48a-eaba-40c6-8f6d-72370240e967"),
                     b"\x01\x02\x03\x04\x05", 7)
print("backupkey", r["pcbDataOut"], b"".join(r["ppDataOut"]).hex())
dce.disconnect()

# ---- ITaskSchedulerService ----
dce = connect(tsch.MSRPC_UUID_TSCHS)
print("version", "%08x" % tsch.hSchRpcHighestVersion(dce)["pVersion"])
r = tsch.hSchRpcEnumFolders(dce, "\\\x00")
print("folders", r["pcNames"], ",".join(n["Data"][:-1] for n in r["pNames"]))
r = tsch.hSchRpcEnumTasks(dce, "\\\x00")
print("tasks", r["pcNames"], ",".join(n["Data"][:-1] for n in r["pNames"]))
r = tsch.hSchRpcRetrieveTask(dce, "\\msrpc\x00")
print("xml", r["pXml"][:-1].replace("\n", " "))
r = tsch.hSchRpcGetTaskInfo(dce, "\\msrpc\x00")
print("taskinfo", r["pEnabled"], r["pState"])
try:
    tsch.hSchRpcGetTaskInfo(dce, "\\missing\x00")
    print("missing found")
except DCERPCException as e:
    print("missing", "%08x" % status_of(e))
dce.disconnect()
sys.stdout.flush()
