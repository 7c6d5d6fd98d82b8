#!/usr/bin/python3
"""rpcecho TestEnum with values outside the declared enum constants, sent by Samba's own
pidl-generated Python client (Debian python3-samba, module samba.dcerpc.echo: software we did
not write), against an rpcecho server (msrpcd --demo).

    /usr/bin/python3 samba_py_echo.py HOST PORT

An NDR enum is an integer on the wire: Samba's and Windows' stubs decode any value of the wire
width and the service sees it; Samba's dcesrv_echo_TestEnum (source4/rpc_server/echo/rpc_echo.c)
sets foo2.e1 to ECHO_ENUM2 and returns every other argument as it came. So for each case the
answer must be the request with foo2.e1 = ECHO_ENUM2:

  echo_Enum1    (16-bit enum): ECHO_ENUM1 = 1, ECHO_ENUM2 = 2
  echo_Enum1_32 (v1_enum, 32-bit): ECHO_ENUM1_32 = 1, ECHO_ENUM2_32 = 2
  echo_Enum2    { echo_Enum1 e1; echo_Enum1_32 e2; }
  echo_Enum3    [switch_type(uint16)] union { case 1: echo_Enum1 e1; case 2: echo_Enum2 e2; }
  TestEnum([in,out,ref] echo_Enum1 *foo1, [in,out,ref] echo_Enum2 *foo2,
           [in,out,ref,switch_is(*foo1)] echo_Enum3 *foo3)

foo1 stays a declared constant: it selects foo3's arm, and echo_Enum3 has no default arm, so
Samba's client itself refuses to marshal any other value (NDR_ERR_BAD_SWITCH) before sending.

Samba's Python bindings represent a union by the value of its arm (an int for e1, an
echo.Enum2 for e2). Prints one PASS/FAIL line per case; exits 1 on any failure (including a
missing python3-samba), 2 on a usage error.
"""

import sys

try:
    from samba.dcerpc import echo
except ImportError as e:  # a missing peer is a failure, never a skip
    print("FAIL: samba.dcerpc.echo is not importable with %s (%s); install the Debian package "
          "python3-samba" % (sys.executable, e))
    sys.exit(1)

ECHO_ENUM1 = echo.ECHO_ENUM1
ECHO_ENUM2 = echo.ECHO_ENUM2


def enum2(e1, e2):
    v = echo.Enum2()
    v.e1 = e1
    v.e2 = e2
    return v


def show(v):
    if isinstance(v, int):
        return "%#x" % v
    return "{e1=%#x, e2=%#x}" % (v.e1, v.e2)


def plain(v):
    """A comparable form of an int or an echo.Enum2."""
    if isinstance(v, int):
        return v
    return (v.e1, v.e2)


# (name, foo1, (foo2.e1, foo2.e2), foo3 arm value: int for ECHO_ENUM1, (e1, e2) for ECHO_ENUM2)
CASES = [
    ("declared values", ECHO_ENUM1, (ECHO_ENUM1, 2), ECHO_ENUM2),
    ("foo2.e1 = 76 (Samba's server overwrites it)", ECHO_ENUM1, (76, 2), ECHO_ENUM1),
    ("foo2.e2 = 76 (v1_enum)", ECHO_ENUM1, (ECHO_ENUM1, 76), ECHO_ENUM1),
    ("foo3.e1 = 76 (16-bit enum in the union arm)", ECHO_ENUM1, (76, 76), 76),
    ("foo3.e1 = 0x7fff", ECHO_ENUM1, (ECHO_ENUM2, 0x7FFF), 0x7FFF),
    ("foo3.e1 = 0xffff (beyond MIDL's 0..32767, within the 16-bit wire width)",
     ECHO_ENUM1, (0xFFFF, 0x10000), 0xFFFF),
    ("foo3.e1 = 0", ECHO_ENUM1, (0, 0), 0),
    ("foo3.e2 = {76, 76} (the struct in the union arm)", ECHO_ENUM2, (76, 76), (76, 76)),
    ("foo3.e2 = {0x8000, 0xffffffff}", ECHO_ENUM2, (ECHO_ENUM2, 0xFFFFFFFF), (0x8000, 0xFFFFFFFF)),
    ("foo3.e2 = {2, 0x12345678}", ECHO_ENUM2, (3, 0x80000000), (ECHO_ENUM2, 0x12345678)),
]


def run(conn, name, foo1, foo2, foo3):
    arg3 = enum2(*foo3) if isinstance(foo3, tuple) else foo3
    want = (foo1, (ECHO_ENUM2, foo2[1]), foo3)
    try:
        got1, got2, got3 = conn.TestEnum(foo1, enum2(*foo2), arg3)
    except Exception as e:  # the binding raises on a fault or a decode error
        print("FAIL %s: TestEnum(foo1=%#x, foo2=%s, foo3=%s) raised %r"
              % (name, foo1, show(enum2(*foo2)), show(arg3), e))
        return False
    got = (got1, plain(got2), plain(got3))
    if got != want:
        print("FAIL %s: sent foo1=%#x foo2=%s foo3=%s, got foo1=%#x foo2=%s foo3=%s, want %r"
              % (name, foo1, show(enum2(*foo2)), show(arg3), got1, show(got2), show(got3), want))
        return False
    print("PASS %s: foo1=%#x foo2=%s foo3=%s" % (name, got1, show(got2), show(got3)))
    return True


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: samba_py_echo.py HOST PORT", file=sys.stderr)
        return 2
    binding = "ncacn_ip_tcp:%s[%s]" % (sys.argv[1], sys.argv[2])
    try:
        conn = echo.rpcecho(binding)
    except Exception as e:
        print("FAIL bind to %s with samba.dcerpc.echo.rpcecho: %r" % (binding, e))
        return 1
    failed = 0
    for case in CASES:
        if not run(conn, *case):
            failed += 1
    # The association still serves after the unknown values.
    try:
        if conn.AddOne(41) != 42:
            print("FAIL AddOne(41) after the TestEnum cases")
            failed += 1
    except Exception as e:
        print("FAIL AddOne(41) after the TestEnum cases raised %r" % (e,))
        failed += 1
    total = len(CASES) + 1
    print("samba.dcerpc.echo against %s: %d of %d checks passed" % (binding, total - failed, total))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
