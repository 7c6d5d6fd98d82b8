#!/usr/bin/python3
"""Samba's Python clients (python3-samba, pidl-generated) of svcctl and atsvc, run against
msrpc-windows's generated servers by crates/msrpc-windows/tests/served_services.rs.

    /usr/bin/python3 tests/interop/samba_services_client.py BINDING

Prints one line per fact read, `key value...`, for the Rust side to compare with what its
services hold. Exit status 2 when python3-samba is missing.
"""

import sys

try:
    from samba import param
    from samba.dcerpc import atsvc, svcctl
except ImportError as e:
    print("FAIL: python3-samba is missing (%s)" % e)
    sys.exit(2)

binding = sys.argv[1]
lp = param.LoadParm()

c = svcctl.svcctl(binding, lp)
scm = c.OpenSCManagerW("\\\\server", None, svcctl.SC_RIGHT_MGR_CONNECT
                       | svcctl.SC_RIGHT_MGR_ENUMERATE_SERVICE)
buf, needed, returned, resume = c.EnumServicesStatusW(scm, svcctl.SERVICE_TYPE_WIN32,
                                                      svcctl.SERVICE_STATE_ALL, 4096, 0)
print("enum", needed, returned, bytes(buf[:needed]).hex())
for name in sys.argv[2:]:
    h = c.OpenServiceW(scm, name, svcctl.SC_RIGHT_SVC_QUERY_STATUS
                       | svcctl.SC_RIGHT_SVC_QUERY_CONFIG)
    s = c.QueryServiceStatus(h)
    print("status", name, s.type, s.state, s.controls_accepted)
    q, needed = c.QueryServiceConfigW(h, 8192)
    print("config", name, q.service_type, q.start_type, q.error_control, needed)
    print("path", name, q.executablepath)
    print("display", name, q.displayname)
    c.CloseServiceHandle(h)
c.CloseServiceHandle(scm)

a = atsvc.atsvc(binding, lp)
ctr = atsvc.enum_ctr()
ctr.entries_read = 0
ctr.first_entry = None
ctr, total, resume = a.JobEnum("\\\\server", ctr, 0xFFFFFFFF, 0)
print("jobs", total, ctr.entries_read)
for e in ctr.first_entry or []:
    print("job", e.job_id, e.job_time, e.days_of_month, e.days_of_week, e.flags, e.command)
    i = a.JobGetInfo("\\\\server", e.job_id)
    print("info", e.job_id, i.job_time, i.days_of_month, i.days_of_week, i.flags, i.command)
sys.stdout.flush()
