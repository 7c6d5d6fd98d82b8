#!/usr/bin/python3
"""Samba's own rpcecho client (python3-samba: samba.dcerpc.echo, pidl-generated, Samba's NDR
engine and gensec) against msrpcd --demo --users, in big-endian and little-endian PDUs, at every
authenticated level, with NTLM (auth type WINNT) and SPNEGO (GSS_NEGOTIATE).

    /usr/bin/python3 tests/interop/samba_py_bigendian.py HOST ECHO_PORT USER PASSWORD

For each binding `ncacn_ip_tcp:HOST[ECHO_PORT,<bigendian,>AUTH,LEVEL]` (AUTH ntlm or spnego,
LEVEL connect, packet, sign or seal) it runs AddOne (with wrap-around), EchoData and SourceData of
20000 bytes (several fragments each way), SinkData, TestCall (a UTF-16 string with a non-BMP
character), TestCall2 at levels 1-7 (structures and unions), TestSurrounding (a conformant
array in a structure) and TestDoublePointer, and checks each result against Samba's rpcecho
semantics. Then a wrong password is refused in both byte orders. Prints one PASS/FAIL line per
binding and `N passed, M failed`; exits 1 on any failure.

Before msrpcd read the verification trailer little-endian in big-endian requests, every
signed or sealed big-endian call here failed with NT_STATUS_RPC_CALL_FAILED (fault 0x1).
Must run under the system Python (/usr/bin/python3), where python3-samba lives.
"""
import sys

try:
    from samba import credentials
    from samba.dcerpc import base, echo
    from samba.param import LoadParm
except ImportError as e:  # a missing peer is a failure, never a skip
    print(f"FAIL: python3-samba is not importable ({e}); install the Debian package python3-samba")
    sys.exit(1)

LEVELS = ["connect", "packet", "sign", "seal"]
AUTHS = ["ntlm", "spnego"]
BIG = 20000
TEXT = "h\u00e9llo w\u00f6rld \U0001f389"
# TestCall2 level -> the fields Samba's rpc_echo.c fills in.
CALL2 = {
    1: lambda i: i.v == 10,
    2: lambda i: i.v == 20,
    3: lambda i: i.v == 30,
    4: lambda i: i.v == 40,
    5: lambda i: (i.v1, i.v2) == (50, 60),
    6: lambda i: (i.v1, i.info1.v) == (70, 80),
    7: lambda i: (i.v1, i.info4.v) == (80, 90),
}


def creds_for(lp, user, password):
    c = credentials.Credentials()
    c.guess(lp)
    c.set_username(user)
    c.set_password(password)
    c.set_domain("WORKGROUP")
    c.set_kerberos_state(credentials.DONT_USE_KERBEROS)
    return c


def expect(what, got, want):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def exercise(pipe):
    """Every check on one association; raises on the first wrong answer."""
    expect("AddOne(41)", pipe.AddOne(41), 42)
    expect("AddOne(0xffffffff)", pipe.AddOne(0xFFFFFFFF), 0)
    data = [(i * 7) & 0xFF for i in range(BIG)]
    expect("EchoData(20000)", pipe.EchoData(data), data)
    expect("SinkData(20000)", pipe.SinkData(data), None)
    expect("SourceData(20000)", pipe.SourceData(BIG), [i & 0xFF for i in range(BIG)])
    expect("TestCall", pipe.TestCall(TEXT), TEXT)
    for level, ok in CALL2.items():
        info = pipe.TestCall2(level)
        if not ok(info):
            raise AssertionError(f"TestCall2({level}): unexpected {info!r}")
    s = echo.Surrounding()
    s.x = 5
    s.surrounding = [0] * 5
    r = pipe.TestSurrounding(s)
    expect("TestSurrounding.x", r.x, 10)
    expect("TestSurrounding.surrounding", list(r.surrounding), [0] * 10)
    expect("TestDoublePointer(513)", pipe.TestDoublePointer(base.ndr_pointer(513)), 513)
    return "AddOne, EchoData/SinkData/SourceData 20000, TestCall, TestCall2 1-7, TestSurrounding, TestDoublePointer"


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        return 2
    host, port, user, password = sys.argv[1:]
    lp = LoadParm()
    good = creds_for(lp, user, password)
    passed = failed = 0
    for endian in ["bigendian", "littleendian"]:
        for auth in AUTHS:
            for level in LEVELS:
                opts = ([endian] if endian == "bigendian" else []) + [auth, level]
                binding = f"ncacn_ip_tcp:{host}[{port},{','.join(opts)}]"
                try:
                    pipe = echo.rpcecho(binding, lp, good)
                    done = exercise(pipe)
                    print(f"PASS: {binding}: {done}")
                    passed += 1
                except Exception as e:  # noqa: BLE001 - report every binding
                    print(f"FAIL: {binding}: {e!r}")
                    failed += 1
        # A wrong password is refused (at bind or at the first call) in this byte order too.
        opts = ([endian] if endian == "bigendian" else []) + ["spnego", "seal"]
        binding = f"ncacn_ip_tcp:{host}[{port},{','.join(opts)}]"
        try:
            pipe = echo.rpcecho(binding, lp, creds_for(lp, user, password + "-wrong"))
            pipe.AddOne(1)
            print(f"FAIL: {binding} with a wrong password was answered")
            failed += 1
        except Exception as e:  # noqa: BLE001
            print(f"PASS: {binding} with a wrong password is refused: {e}")
            passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
