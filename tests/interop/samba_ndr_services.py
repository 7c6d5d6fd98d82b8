#!/usr/bin/python3
"""Samba's side of the NDR cross-check of msrpc-windows's svcctl and atsvc stubs
(tests/tests/samba_ndr_services.rs runs it).

    /usr/bin/python3 tests/interop/samba_ndr_services.py --ours DIR --samba DIR

The same protocol as samba_ndr_cross.py, whose checks it reuses (imported as a module): for
every case of the MANIFEST and both byte orders, Samba's classes build the value under the
same name as tests/tests/samba_ndr_services.rs, pack it into --samba, unpack our bytes and
compare every field, re-pack them, compare our bytes with Samba's (referent ids aside) and run
`ndrdump --validate` over our little-endian files. Where Samba's IDL departs from MS-SCMR or
MS-TSCH, the case carries a Quirk saying so (and checking the departure still holds).

eventlog and backupkey have no Python classes in python3-samba; the Rust side checks them with
ndrdump alone.

Exit status: 0 all passed, 1 a check failed, 2 Samba's tools are missing.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import samba_ndr_cross as x  # noqa: E402  (exits 2 itself when python3-samba is missing)

try:
    from samba.dcerpc import atsvc, svcctl
except ImportError as e:
    print("FAIL: python3-samba has no svcctl or atsvc classes (%s)" % e)
    sys.exit(2)

SERVICES = set()


def case(name, fn, quirks=None):
    def register(build):
        x.call(name, fn, quirks=quirks)(build)
        SERVICES.add(name)
        return build
    return register


def _svc(pyname):
    return x.Fn(svcctl, pyname, "svcctl", "svcctl_" + pyname)


def _at(pyname):
    return x.Fn(atsvc, pyname, "atsvc", "atsvc_" + pyname)


HOST = "\\\\server"


def status(state, accepted):
    s = svcctl.SERVICE_STATUS()
    s.type, s.state, s.controls_accepted = 0x10, state, accepted
    s.win32_exit_code, s.service_exit_code, s.check_point, s.wait_hint = 0, 0, 0, 0
    return s


# ---- svcctl (MS-SCMR); mirrors svcctl_cases() in tests/tests/samba_ndr_services.rs ----

case("svcctl_ROpenSCManagerW", _svc("OpenSCManagerW"))(
    lambda be: x.new(_svc("OpenSCManagerW"), in_MachineName=HOST, in_DatabaseName="ServicesActive",
                     in_access_mask=5, out_handle=x.whandle(1), result=0))
case("svcctl_REnumServicesStatusW", _svc("EnumServicesStatusW"))(
    lambda be: x.new(_svc("EnumServicesStatusW"), in_handle=x.whandle(1), in_type=0x30,
                     in_state=3, in_offered=40, in_resume_handle=0,
                     out_service=list(range(40)), out_needed=40, out_services_returned=1,
                     out_resume_handle=0, result=0))
case("svcctl_ROpenServiceW", _svc("OpenServiceW"))(
    lambda be: x.new(_svc("OpenServiceW"), in_scmanager_handle=x.whandle(1),
                     in_ServiceName="Spooler", in_access_mask=5, out_handle=x.whandle(2),
                     result=0))
case("svcctl_RQueryServiceStatus", _svc("QueryServiceStatus"))(
    lambda be: x.new(_svc("QueryServiceStatus"), in_handle=x.whandle(2),
                     out_service_status=status(4, 1), result=0))
case("svcctl_RControlService", _svc("ControlService"))(
    lambda be: x.new(_svc("ControlService"), in_handle=x.whandle(2), in_control=1,
                     out_service_status=status(3, 1), result=0))


def _config(be):
    q = svcctl.QUERY_SERVICE_CONFIG()
    q.service_type, q.start_type, q.error_control, q.tag_id = 0x10, 3, 1, 0
    q.executablepath, q.loadordergroup = "C:\\Windows\\spoolsv.exe", ""
    q.dependencies, q.startname, q.displayname = "RPCSS", "LocalSystem", "Print Spooler"
    return x.new(_svc("QueryServiceConfigW"), in_handle=x.whandle(2), in_offered=8192,
                 out_query=q, out_needed=152, result=0)


case("svcctl_RQueryServiceConfigW", _svc("QueryServiceConfigW"))(_config)


def _start(be):
    args = []
    for text in ("-v", "--port=9"):
        a = svcctl.ArgumentString()
        a.string = text
        args.append(a)
    return x.new(_svc("StartServiceW"), in_handle=x.whandle(2), in_NumArgs=2, in_Arguments=args,
                 result=0)


case("svcctl_RStartServiceW", _svc("StartServiceW"))(_start)
case("svcctl_RDeleteService", _svc("DeleteService"))(
    lambda be: x.new(_svc("DeleteService"), in_handle=x.whandle(2), result=1072))
case("svcctl_RCreateServiceW", _svc("CreateServiceW"))(
    lambda be: x.new(_svc("CreateServiceW"), in_scmanager_handle=x.whandle(1),
                     in_ServiceName="msrpctest", in_DisplayName="msrpc test service",
                     in_desired_access=0xF01FF, in_type=0x10, in_start_type=3,
                     in_error_control=1, in_binary_path="C:\\msrpc\\svc.exe",
                     in_LoadOrderGroupKey=None, in_TagId=None,
                     in_dependencies=list(b"R\0P\0C\0S\0S\0\0\0\0\0"), in_dependencies_size=14,
                     in_service_start_name=None, in_password=None, in_password_size=0,
                     out_TagId=None, out_handle=x.whandle(3), result=0))
case("svcctl_RQueryServiceStatusEx", _svc("QueryServiceStatusEx"))(
    lambda be: x.new(_svc("QueryServiceStatusEx"), in_handle=x.whandle(2), in_info_level=0,
                     in_offered=36, out_buffer=[0x10, 0, 0, 0, 4] + [0] * 31, out_needed=36,
                     result=0))
case("svcctl_RQueryServiceConfig2W", _svc("QueryServiceConfig2W"))(
    lambda be: x.new(_svc("QueryServiceConfig2W"), in_handle=x.whandle(2), in_info_level=1,
                     in_offered=8, out_buffer=[4, 0, 0, 0, 0x41, 0, 0, 0], out_needed=8,
                     result=0))
case("svcctl_RCloseServiceHandle", _svc("CloseServiceHandle"))(
    lambda be: x.new(_svc("CloseServiceHandle"), in_handle=x.whandle(2),
                     out_handle=x.handle(null=True), result=0))

def _change(deps):
    return lambda be: x.new(
        _svc("ChangeServiceConfigW"), in_handle=x.whandle(2), in_type=0xFFFFFFFF, in_start_type=4,
        in_error_control=0xFFFFFFFF, in_binary_path=None, in_load_order_group=None, in_tag_id=None,
        in_dependencies=deps, in_dwDependSize=14 if deps else 0, in_service_start_name=None,
        in_password=None, in_dwPwSize=0, in_display_name="Print Spooler (disabled)",
        out_tag_id=None, result=0)


# SERVICE_NO_CHANGE for the type and error control, SERVICE_DISABLED, a new display name.
case("svcctl_RChangeServiceConfigW", _svc("ChangeServiceConfigW"))(_change(None))
# MS-SCMR 3.1.4.11: [in, unique, size_is(dwDependSize)] LPBYTE lpDependencies (a conformant
# byte array: its size, then the bytes); Samba's IDL adds [string,charset(UTF16)] to it, a
# conformant-varying string (size, offset, length), so it reads our first bytes as the offset.
case("svcctl_RChangeServiceConfigW_dependencies", _svc("ChangeServiceConfigW"), quirks={
    "in": x.Quirk(
        "svcctl_change_config_dependencies",
        "MS-SCMR 3.1.4.11 declares lpDependencies (and lpPassword) a unique pointer to a "
        "conformant byte array sized by dwDependSize; Samba's IDL makes it a [string] UTF-16 "
        "array with that size, conformant and varying, and reads the first bytes of our list "
        "as an offset", ours_rejected=True, theirs="none")})(_change("RPCSS"))

# MS-SCMR 3.1.4.20: [in, string] wchar_t *lpServiceName (a top-level reference pointer, no
# referent id), [out, string, size_is(*lpcchBuffer + 1)] wchar_t *lpDisplayName (the same),
# [in, out] DWORD *lpcchBuffer (no referent id). Samba's svcctl.idl has [in,unique] for the
# name, [out,ref] uint16 ** (a unique pointer inside) for the answer and [in,out,unique] for
# the count: three referent ids MS-SCMR does not put on the wire.
DISPLAY_NAME = {
    "in": x.Quirk(
        "svcctl_display_name_pointers",
        "MS-SCMR 3.1.4.20/3.1.4.21 declare lpServiceName, lpDisplayName and lpcchBuffer as "
        "reference pointers (no referent ids on the wire); Samba's IDL makes the name and the "
        "count unique pointers and the answer a pointer to a unique pointer, so it reads our "
        "request off by one referent id (samba-dcerpcd answers the fault bad stub data)",
        ours_rejected=True, theirs="none"),
    "out": x.Quirk("svcctl_display_name_pointers", "(above)", ours_rejected=True,
                   theirs="none"),
}
case("svcctl_RGetServiceDisplayNameW", _svc("GetServiceDisplayNameW"), quirks=DISPLAY_NAME)(
    lambda be: x.new(_svc("GetServiceDisplayNameW"), in_handle=x.whandle(1),
                     in_service_name="Spooler", in_display_name_length=256,
                     out_display_name="Print Spooler", out_display_name_length=13, result=0))


# ---- atsvc (MS-TSCH ATSvc) ----

def job_info():
    j = atsvc.JobInfo()
    j.job_time, j.days_of_month, j.days_of_week, j.flags = 36000000, 0x1, 0x15, 0x11
    j.command = "cmd /c echo msrpc"
    return j


def enum_info(job_id, command):
    e = atsvc.JobEnumInfo()
    e.job_id, e.job_time, e.days_of_month, e.days_of_week, e.flags = job_id, 3600000, 0, 0x40, 1
    e.command = command
    return e


def enum_ctr(entries):
    c = atsvc.enum_ctr()
    c.entries_read = len(entries)
    c.first_entry = entries or None
    return c


case("atsvc_NetrJobAdd", _at("JobAdd"))(
    lambda be: x.new(_at("JobAdd"), in_servername=HOST, in_job_info=job_info(), out_job_id=7,
                     result=0))
case("atsvc_NetrJobDel", _at("JobDel"))(
    lambda be: x.new(_at("JobDel"), in_servername=None, in_min_job_id=1, in_max_job_id=7,
                     result=0))
case("atsvc_NetrJobEnum", _at("JobEnum"))(
    lambda be: x.new(_at("JobEnum"), in_servername=HOST, in_ctr=enum_ctr([]),
                     in_preferred_max_len=0xFFFFFFFF, in_resume_handle=0,
                     out_ctr=enum_ctr([enum_info(1, "backup.cmd"), enum_info(7, "cmd /c dir")]),
                     out_total_entries=2, out_resume_handle=0, result=0))
case("atsvc_NetrJobGetInfo", _at("JobGetInfo"))(
    lambda be: x.new(_at("JobGetInfo"), in_servername=HOST, in_job_id=7,
                     out_job_info=job_info(), result=0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ours", required=True)
    ap.add_argument("--samba", required=True)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.samba, "ndrdump"), exist_ok=True)
    rep = x.Report()
    manifest = {}
    with open(os.path.join(args.ours, "MANIFEST")) as f:
        for line in f:
            if line.strip():
                kind, name = line.split()
                manifest[name] = kind
    for name in sorted(set(manifest) | SERVICES):
        if manifest.get(name) != ("call" if name in SERVICES else None):
            rep.fail(name, "the case lists disagree: Rust has %s, this script %s"
                     % (manifest.get(name, "nothing"), "call" if name in SERVICES else "nothing"))
    print("%d cases" % len(manifest))
    for name in manifest:
        if name not in SERVICES:
            continue
        notes, ok = x.check_call(x.CALLS[name], args.ours, args.samba, rep)
        print("  [%s] %s" % ("ok" if ok else "FAIL", name))
        for n in notes:
            print("         " + n)
    print("%d failure(s)" % len(rep.failures))
    sys.stdout.flush()
    os._exit(1 if rep.failures else 0)


if __name__ == "__main__":
    main()
