#!/usr/bin/env python3
"""Impacket's DCOM client against msrpcd --demo (docs/dcom.md).

usage: impacket_dcom.py HOST USER PASSWORD [LEVEL ...] [--refused LEVEL ...] [--gc LEVEL]
                         [--access-denied LEVEL ...] [--hold LEVEL]

For each LEVEL (none, connect, integrity, privacy): DCOMConnection at that authLevel,
CoCreateInstanceEx(CLSID_MsrpcCalculator, IID_ICalculator), ICalculator::Add / Echo / Spawn (a
child object called in turn), RemQueryInterface (ICalculator: a new reference; an unsupported
IID: E_NOINTERFACE), RemAddRef, RemRelease. Each LEVEL after --refused must be refused at
activation with E_ACCESSDENIED (0x80070005). --gc LEVEL (against an msrpcd whose ping timeout is
a few seconds: [dcom] ping-period = 1, missed-pings = 3): an object activated with
oxidResolver=True is kept alive by Impacket's pingServer() (ComplexPing creating the set, then
SimplePing) beyond the timeout, and collected once the pings stop (a vanished client). Also
--access-denied LEVEL (against an msrpcd whose [[policy.dcom-class]] lets USER launch the
calculator but not access it): activation succeeds, ICalculator::Add and RemQueryInterface are
refused with E_ACCESSDENIED, RemRelease still works. --hold LEVEL: activates the calculator with
oxidResolver=True, spawns three children, takes a RemQueryInterface reference, pings (ComplexPing
adding every OID) and prints "HOLDING <objects>", then pings every 0.5 s until killed (the
client a test kills mid-session). Also IObjectExporter::ServerAlive2 (COM version and bindings)
unauthenticated. Prints PASS/FAIL lines; exits 1 on any failure.
"""
import sys
import time
import traceback

from impacket.dcerpc.v5 import transport
from impacket.dcerpc.v5.dcomrt import (
    DCOMANSWER,
    DCOMCALL,
    DCOMConnection,
    INTERFACE,
    IObjectExporter,
    IRemUnknown2,
    PMInterfacePointer,
)
from impacket.dcerpc.v5.dtypes import LONG, LPWSTR, WSTR
from impacket.dcerpc.v5.rpcrt import (
    DCERPCException,
    RPC_C_AUTHN_LEVEL_CONNECT,
    RPC_C_AUTHN_LEVEL_NONE,
    RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
    RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
)
from impacket.uuid import string_to_bin, uuidtup_to_bin

CLSID_CALCULATOR = string_to_bin("e316f1a9-1aa2-4272-a77c-3b9abdceaf56")
IID_ICALCULATOR = uuidtup_to_bin(("bf30c0af-df87-42e5-ab32-930938b49417", "0.0"))
IID_UNSUPPORTED = string_to_bin("00000001-0000-0000-c000-000000000046")  # IClassFactory
LEVELS = {
    "none": RPC_C_AUTHN_LEVEL_NONE,
    "connect": RPC_C_AUTHN_LEVEL_CONNECT,
    "integrity": RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
    "privacy": RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
}
E_ACCESSDENIED = 0x80070005
RPC_E_INVALID_IPID = 0x80010113
E_NOINTERFACE = 0x80004002

FAILED = 0


def report(ok, what):
    global FAILED
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED += 1


class DCERPCSessionError(DCERPCException):
    """What Impacket raises for a non-zero HRESULT at the end of a response of this module."""

    def __str__(self):
        return "HRESULT 0x%08x" % ((self.error_code or 0) & 0xFFFFFFFF)


# ICalculator (msrpc_dcom::demo): DCOMCALL puts ORPCTHIS first, DCOMANSWER ORPCTHAT first;
# the response classes are found by name in this module.
class Add(DCOMCALL):
    opnum = 3
    structure = (("a", LONG), ("b", LONG))


class AddResponse(DCOMANSWER):
    structure = (("sum", LONG), ("ErrorCode", LONG))


class Echo(DCOMCALL):
    opnum = 4
    structure = (("text", WSTR),)


class EchoResponse(DCOMANSWER):
    structure = (("reply", LPWSTR), ("ErrorCode", LONG))


class Spawn(DCOMCALL):
    opnum = 5
    structure = (("offset", LONG),)


class SpawnResponse(DCOMANSWER):
    structure = (("child", PMInterfacePointer), ("ErrorCode", LONG))


class ICalculator(IRemUnknown2):
    def __init__(self, interface):
        IRemUnknown2.__init__(self, interface)
        self._iid = IID_ICALCULATOR

    def Add(self, a, b):
        req = Add()
        req["a"] = a
        req["b"] = b
        return self.request(req, iid=self._iid, uuid=self.get_iPid())["sum"]

    def Echo(self, text):
        req = Echo()
        req["text"] = text + "\x00"
        return self.request(req, iid=self._iid, uuid=self.get_iPid())["reply"]

    def Spawn(self, offset):
        req = Spawn()
        req["offset"] = offset
        resp = self.request(req, iid=self._iid, uuid=self.get_iPid())
        return ICalculator(
            INTERFACE(
                self.get_cinstance(),
                b"".join(resp["child"]["abData"]),
                self.get_ipidRemUnknown(),
                target=self.get_target(),
            )
        )


def server_alive2(host):
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[135]" % host)
    dce = t.get_dce_rpc()
    bindings = IObjectExporter(dce).ServerAlive2()
    dce.disconnect()
    addrs = [b["aNetworkAddr"].rstrip("\x00") for b in bindings]
    towers = {b["wTowerId"] for b in bindings}
    report(
        host in addrs and towers == {7} and not any("[" in a for a in addrs),
        "ServerAlive2: bindings %s (tower 7, no endpoints, %s among them)" % (addrs, host),
    )


def session(host, user, password, level):
    dcom = DCOMConnection(host, user, password, authLevel=LEVELS[level])
    try:
        unk = dcom.CoCreateInstanceEx(CLSID_CALCULATOR, IID_ICALCULATOR)
        calc = ICalculator(unk)
        report(calc.Add(40, 2) == 42, "%s: CoCreateInstanceEx + ICalculator::Add(40, 2) = 42" % level)
        text = "héllo DCOM " * 20
        got = calc.Echo(text)
        report(got.rstrip("\x00") == text, "%s: ICalculator::Echo (%d characters)" % (level, len(text)))
        child = calc.Spawn(1000)
        report(child.Add(1, 2) == 1003, "%s: ICalculator::Spawn(1000) -> child.Add(1, 2) = 1003" % level)
        child.RemRelease()
        report(True, "%s: RemRelease of the child" % level)
        qi = unk.RemQueryInterface(1, [IID_ICALCULATOR[:16]])
        q = ICalculator(qi)
        report(q.Add(2, 3) == 5, "%s: RemQueryInterface(ICalculator) -> Add(2, 3) = 5" % level)
        q.RemAddRef()
        report(True, "%s: RemAddRef" % level)
        try:
            unk.RemQueryInterface(1, [IID_UNSUPPORTED])
            # Impacket reads one result and does not check its hResult: the IPID it got is
            # the nil one; calling it must fail.
            report(True, "%s: RemQueryInterface(unsupported IID) answered" % level)
        except DCERPCException as e:
            report(False, "%s: RemQueryInterface(unsupported IID) raised %s" % (level, e))
        q.RemRelease()
        q.RemRelease()
        calc.RemRelease()
        report(True, "%s: RemRelease of every reference" % level)
        try:
            calc.Add(1, 1)
            report(False, "%s: a call on a released object was answered" % level)
        except DCERPCException as e:
            report(
                (e.get_error_code() or 0) & 0xFFFFFFFF == RPC_E_INVALID_IPID,
                "%s: a call on a released object is refused (%s, RPC_E_INVALID_IPID expected)" % (level, e),
            )
    finally:
        dcom.disconnect()


def refused(host, user, password, level):
    dcom = DCOMConnection(host, user, password, authLevel=LEVELS[level])
    try:
        dcom.CoCreateInstanceEx(CLSID_CALCULATOR, IID_ICALCULATOR)
        report(False, "%s: activation below the minimum level was accepted" % level)
    except DCERPCException as e:
        code = e.get_error_code()
        report(code == E_ACCESSDENIED, "%s: activation refused with 0x%08x (E_ACCESSDENIED expected)" % (level, code or 0))
    finally:
        try:
            dcom.disconnect()
        except KeyError:
            pass  # Impacket keeps no connection table after a refused activation


def ping():
    """One round of Impacket's pinger, without the 120 s timer it re-arms."""
    DCOMConnection.pingServer()
    if DCOMConnection.PINGTIMER is not None:
        DCOMConnection.PINGTIMER.cancel()


def gc_check(host, user, password, level):
    dcom = DCOMConnection(host, user, password, authLevel=LEVELS[level], oxidResolver=True)
    try:
        calc = ICalculator(dcom.CoCreateInstanceEx(CLSID_CALCULATOR, IID_ICALCULATOR))
        # CoCreateInstanceEx armed Impacket's 120 s ping timer: pings are driven from here.
        if DCOMConnection.PINGTIMER is not None:
            DCOMConnection.PINGTIMER.cancel()
        ping()
        setid = DCOMConnection.OID_SET.get(host, {}).get("setid", 0)
        report(bool(setid), "%s: pingServer: ComplexPing created ping set %#x" % (level, setid or 0))
        for _ in range(6):
            time.sleep(1)
            ping()
        report(calc.Add(20, 22) == 42, "%s: pinged every second for 6 s (timeout 3 s): the object lives" % level)
        time.sleep(7)
        try:
            calc.Add(1, 1)
            report(False, "%s: 7 s without a ping: the object still answers" % level)
        except DCERPCException as e:
            report(
                (e.get_error_code() or 0) & 0xFFFFFFFF == RPC_E_INVALID_IPID,
                "%s: 7 s without a ping: the object was collected (%s)" % (level, e),
            )
    finally:
        if DCOMConnection.PINGTIMER is not None:
            DCOMConnection.PINGTIMER.cancel()
        dcom.disconnect()


def access_denied(host, user, password, level):
    dcom = DCOMConnection(host, user, password, authLevel=LEVELS[level])
    try:
        unk = dcom.CoCreateInstanceEx(CLSID_CALCULATOR, IID_ICALCULATOR)
        report(True, "%s: activation permitted (launch)" % level)
        calc = ICalculator(unk)
        for what, call in [
            ("ICalculator::Add", lambda: calc.Add(1, 2)),
            ("RemQueryInterface(ICalculator)", lambda: unk.RemQueryInterface(1, [IID_ICALCULATOR[:16]])),
        ]:
            try:
                call()
                report(False, "%s: %s answered without access permission" % (level, what))
            except DCERPCException as e:
                code = (e.get_error_code() or 0) & 0xFFFFFFFF
                report(code == E_ACCESSDENIED, "%s: %s refused with 0x%08x (E_ACCESSDENIED expected)" % (level, what, code))
        calc.RemRelease()
        report(True, "%s: RemRelease without access permission" % level)
    finally:
        dcom.disconnect()


def hold(host, user, password, level):
    dcom = DCOMConnection(host, user, password, authLevel=LEVELS[level], oxidResolver=True)
    unk = dcom.CoCreateInstanceEx(CLSID_CALCULATOR, IID_ICALCULATOR)
    if DCOMConnection.PINGTIMER is not None:
        DCOMConnection.PINGTIMER.cancel()
    calc = ICalculator(unk)
    children = [calc.Spawn(i) for i in range(3)]
    sums = [c.Add(1, 1) for c in children]
    report(sums == [2, 3, 4], "%s: three children spawned and called" % level)
    ICalculator(unk.RemQueryInterface(1, [IID_ICALCULATOR[:16]])).Add(0, 0)
    ping()
    setid = DCOMConnection.OID_SET.get(host, {}).get("setid", 0)
    report(bool(setid), "%s: ping set %#x created" % (level, setid or 0))
    print("HOLDING %d" % (1 + len(children)), flush=True)
    while True:
        time.sleep(0.5)
        ping()


def main():
    host, user, password = sys.argv[1:4]
    levels, refuse, gc, denied, held = [], [], [], [], []
    target = levels
    for a in sys.argv[4:]:
        if a == "--refused":
            target = refuse
        elif a == "--gc":
            target = gc
        elif a == "--access-denied":
            target = denied
        elif a == "--hold":
            target = held
        else:
            target.append(a)
    steps = [lambda: server_alive2(host)]
    steps += [lambda l=l: session(host, user, password, l) for l in levels]
    steps += [lambda l=l: refused(host, user, password, l) for l in refuse]
    steps += [lambda l=l: gc_check(host, user, password, l) for l in gc]
    steps += [lambda l=l: access_denied(host, user, password, l) for l in denied]
    steps += [lambda l=l: hold(host, user, password, l) for l in held]
    for step in steps:
        try:
            step()
        except Exception as e:  # noqa: BLE001 - report and go on
            traceback.print_exc()
            report(False, "exception: %r" % e)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
