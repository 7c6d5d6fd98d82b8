#!/usr/bin/python3
"""Samba's side of the spoolss (MS-RPRN) NDR cross-check (tests/tests/samba_ndr_spoolss.rs).

    /usr/bin/python3 tests/interop/samba_ndr_spoolss.py --ours DIR --samba DIR

The same procedure as samba_ndr_cross.py (whose helpers it imports), for the spoolss cases of
tests/tests/samba_ndr_spoolss.rs, name for name: for each case, byte order and direction it
builds the value with python3-samba's samba.dcerpc.spoolss classes, writes Samba's packing to
--samba, unpacks our bytes from --ours and compares every field, re-packs what it read, compares
our bytes with Samba's (identical but for referent ids), and runs `ndrdump --validate` over
our little-endian files. A case may list the byte orders it runs in, and a Quirk per
(direction, order) where Samba departs from MS-RPRN; the script checks that the departure
still holds and leaves a NAME.DIR.ORDER.quirk file for the Rust side.

Exit status: 0 all passed, 1 a check failed, 2 Samba's tools are missing.
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import samba_ndr_cross as X  # noqa: E402  (exits 2 when python3-samba or ndrdump is missing)

from samba.dcerpc import spoolss  # noqa: E402
from samba.ndr import ndr_unpack  # noqa: E402


def fn(pyname):
    return X.Fn(spoolss, pyname, "spoolss", "spoolss_" + pyname)


class Case:
    def __init__(self, name, f, build, orders=("le", "be"), quirks=None):
        self.name = name
        self.fn = f
        self.build = build
        self.orders = orders
        self.quirks = quirks or {}

    def quirk(self, direction, order):
        return self.quirks.get((direction, order))


CASES = {}


def case(name, f, orders=("le", "be"), quirks=None):
    def register(build):
        assert name not in CASES, name
        CASES[name] = Case(name, f, build, orders, quirks)
        return build
    return register


# ------------------------------------------------------------------------------------------
# Values (mirroring tests/tests/samba_ndr_spoolss.rs)
# ------------------------------------------------------------------------------------------

HOST = "\\\\server"


def multisz(names):
    """A spoolss_StringArray (MS-RPRN's multisz): the Python binding cannot build one from a
    list, so it is unpacked from its little-endian bytes."""
    text = "".join(n + "\0" for n in names) + "\0"
    units = len(text)
    raw = units.to_bytes(4, "little") + text.encode("utf-16-le")
    return ndr_unpack(spoolss.StringArray, raw)


def client_info1():
    u = spoolss.UserLevel1()
    u.size, u.client, u.user, u.build = 28, "\\\\client", "alice", 9200
    u.major, u.minor, u.processor = 6, 2, 9
    ctr = spoolss.UserLevelCtr()
    ctr.level = 1
    ctr.user_info = u
    return ctr


def no_devmode():
    d = spoolss.DevmodeContainer()
    d.devmode = None
    return d


@case("spoolss_RpcOpenPrinterEx", fn("OpenPrinterEx"))
def _(be):
    return X.new(fn("OpenPrinterEx"), in_printername=HOST + "\\printer1", in_datatype="RAW",
                 in_devmode_ctr=no_devmode(), in_access_mask=0x00020008,
                 in_userlevel_ctr=client_info1(), out_handle=X.whandle(7), result=0)


# MS-RPRN 2.2.1.3.3 ends SPLCLIENT_INFO_3 with `unsigned __int64 hSplPrinter`, an NDR hyper
# (aligned to 8, which also aligns the structure to 8); Samba's spoolss_UserLevel3 ends with
# `udlong reserved`, a 64-bit value aligned to 4. After wProcessorArchitecture (offset 32) the
# specification pads to 40, Samba to 36.
USERLEVEL3_ALIGN = X.Quirk(
    "userlevel3_udlong",
    "Samba's spoolss_UserLevel3 ends in a udlong (4-byte aligned); MS-RPRN's SPLCLIENT_INFO_3 "
    "ends in unsigned __int64 hSplPrinter, an 8-byte-aligned hyper, so the member (and the "
    "strings after the structure) sit 4 bytes apart",
    ours_rejected=True, theirs="none")


@case("spoolss_RpcOpenPrinterEx_level3", fn("OpenPrinterEx"),
      quirks={("in", "le"): USERLEVEL3_ALIGN, ("in", "be"): USERLEVEL3_ALIGN})
def _(be):
    u = spoolss.UserLevel3()
    u.size, u.flags, u.size2, u.client, u.user = 48, 0, 28, "\\\\client", "alice"
    u.build, u.major, u.minor, u.processor = 9200, 6, 2, 9
    u.reserved = 0x0102030405060708
    ctr = spoolss.UserLevelCtr()
    ctr.level = 3
    ctr.user_info = u
    return X.new(fn("OpenPrinterEx"), in_printername=HOST + "\\printer1", in_datatype="RAW",
                 in_devmode_ctr=no_devmode(), in_access_mask=0x00020008,
                 in_userlevel_ctr=ctr, out_handle=X.whandle(7), result=0)


def notify_type(kind, fields):
    t = spoolss.NotifyOptionType()
    t.type, t.u1, t.u2, t.u3, t.count = kind, 0, 0, 0, len(fields)
    t.fields = fields
    return t


@case("spoolss_RpcRemoteFindFirstPrinterChangeNotificationEx",
      fn("RemoteFindFirstPrinterChangeNotifyEx"))
def _(be):
    o = spoolss.NotifyOption()
    o.version, o.flags, o.count = 2, 0, 2
    o.types = [notify_type(0, [0x0e, 0x12]), notify_type(1, [0x0a])]
    return X.new(fn("RemoteFindFirstPrinterChangeNotifyEx"), in_handle=X.whandle(7),
                 in_flags=0x000000FF, in_options=0, in_local_machine="\\\\client",
                 in_printer_local=0x1234, in_notify_options=o, result=0)


def devmode():
    d = spoolss.DeviceMode()
    d.devicename, d.specversion, d.driverversion, d.size = "printer1", 0x0401, 0x0600, 220
    d.fields = 0x103
    (d.orientation, d.papersize, d.paperlength, d.paperwidth, d.scale, d.copies,
     d.defaultsource, d.printquality, d.color, d.duplex, d.yresolution, d.ttoption,
     d.collate) = (1, 9, 0, 0, 100, 1, 7, 0xFFFC, 1, 1, 600, 2, 0)
    d.formname = "A4"
    d.logpixels, d.bitsperpel, d.pelswidth, d.pelsheight = 0, 0, 0, 0
    d.displayflags, d.displayfrequency = 1, 0
    d.icmmethod, d.icmintent, d.mediatype, d.dithertype = 1, 2, 1, 0
    d.reserved1 = d.reserved2 = d.panningwidth = d.panningheight = 0
    d.driverextra_data = b""
    return d


def printer_info2():
    i = spoolss.SetPrinterInfo2()
    i.servername, i.printername, i.sharename, i.portname = HOST, "printer1", "printer1", "LPT1:"
    i.drivername, i.comment, i.location = "Generic / Text Only", "msrpc test printer", "lab"
    i.devmode_ptr, i.sepfile, i.printprocessor, i.datatype = 0, None, "winprint", "RAW"
    i.parameters, i.secdesc_ptr, i.attributes, i.priority = None, 0, 0x48, 1
    i.defaultpriority, i.starttime, i.untiltime = 1, 0, 0
    i.status, i.cjobs, i.averageppm = 0, 0, 0
    return i


# Samba pushes the DEVMODE (a subcontext of DevmodeContainer) in the PDU's byte order; MS-RPRN
# 2.2.2.1 makes it a custom-marshaled structure, little-endian like every other (2.2: strings
# UTF-16LE; Windows is little-endian), and we carry it as opaque bytes.
DEVMODE_ORDER = X.Quirk(
    "devmode_byte_order",
    "Samba marshals the DEVMODE inside DEVMODE_CONTAINER in the NDR stream's byte order "
    "(big-endian fields in a big-endian PDU); MS-RPRN 2.2.2.1 makes it a custom-marshaled, "
    "little-endian structure carried as bytes, which we send as it says",
    ours_rejected=True, theirs="none")


@case("spoolss_RpcAddPrinter_level2", fn("AddPrinter"),
      quirks={("in", "be"): DEVMODE_ORDER})
def _(be):
    ctr = spoolss.SetPrinterInfoCtr()
    ctr.level = 2
    ctr.info = printer_info2()
    dm = spoolss.DevmodeContainer()
    dm.devmode = devmode()
    sd = X.security.sec_desc_buf()
    sd.sd = None
    return X.new(fn("AddPrinter"), in_server=HOST, in_info_ctr=ctr, in_devmode_ctr=dm,
                 in_secdesc_ctr=sd, out_handle=X.whandle(8), result=0)


DRIVER_FILES = ("\\\\server\\print$\\x64\\UNIDRV.DLL", "\\\\server\\print$\\x64\\TTY.GPD",
                "\\\\server\\print$\\x64\\UNIDRVUI.DLL")


@case("spoolss_RpcAddPrinterDriver_level2", fn("AddPrinterDriver"))
def _(be):
    i = spoolss.AddDriverInfo2()
    i.version, i.driver_name, i.architecture = 3, "Generic / Text Only", "Windows x64"
    i.driver_path, i.data_file, i.config_file = DRIVER_FILES
    ctr = spoolss.AddDriverInfoCtr()
    ctr.level = 2
    ctr.info = i
    return X.new(fn("AddPrinterDriver"), in_servername=HOST, in_info_ctr=ctr, result=0)


@case("spoolss_RpcAddPrinterDriver_level3", fn("AddPrinterDriver"))
def _(be):
    i = spoolss.AddDriverInfo3()
    i.version, i.driver_name, i.architecture = 3, "Generic / Text Only", "Windows x64"
    i.driver_path, i.data_file, i.config_file = DRIVER_FILES
    i.help_file, i.monitor_name, i.default_datatype = "\\\\server\\print$\\x64\\UNIDRV.HLP", \
        None, "RAW"
    i.dependent_files = multisz(["TTYRES.DLL", "TTY.INI"])
    ctr = spoolss.AddDriverInfoCtr()
    ctr.level = 3
    ctr.info = i
    return X.new(fn("AddPrinterDriver"), in_servername=HOST, in_info_ctr=ctr, result=0x0d)


@case("spoolss_RpcAddPrinterDriverEx_level8", fn("AddPrinterDriverEx"))
def _(be):
    i = spoolss.AddDriverInfo8()
    i.version, i.driver_name, i.architecture = 3, "Generic / Text Only", "Windows x64"
    i.driver_path, i.data_file, i.config_file = DRIVER_FILES
    i.help_file, i.monitor_name, i.default_datatype = "\\\\server\\print$\\x64\\UNIDRV.HLP", \
        None, "RAW"
    i.dependent_files = multisz(["TTYRES.DLL", "TTY.INI"])
    i.previous_names = multisz(["Old Text Driver"])
    # NTTIME: Samba's FILETIME, a 64-bit value aligned to 4 (low DWORD first), as MS-DTYP's.
    i.driver_date = 0x01D0000012345678
    i.driver_version = 0x000A00004A610001
    i.manufacturer_name, i.manufacturer_url = "Generic", "http://printers.example/"
    i.hardware_id, i.provider, i.print_processor = "generic_text", "msrpc", "winprint"
    i.vendor_setup = None
    i.color_profiles = multisz(["sRGB Color Space Profile.icm"])
    i.inf_path = "C:\\Windows\\INF\\ntprint.inf"
    i.printer_driver_attributes = 0x1
    i.core_driver_dependencies = multisz(["{D20EA372-DD35-4950-9ED8-A6335AFE79F0}"])
    i.min_inbox_driver_ver_date = 0x01C0000087654321
    i.min_inbox_driver_ver_version = 0x00060001_1DB10000
    ctr = spoolss.AddDriverInfoCtr()
    ctr.level = 8
    ctr.info = i
    return X.new(fn("AddPrinterDriverEx"), in_servername=HOST, in_info_ctr=ctr, in_flags=0x20,
                 result=0)


# Samba's spoolss_SetPortInfoContainer switches spoolss_SetPrinterInfo (the printer union:
# level 1 is SetPrinterInfo1, four members), not its own port union; and its AddPortEx marks
# the monitor name [unique]. MS-RPRN 2.2.1.2.7 and its RpcAddPortEx: PORT_CONTAINER's
# level 1 is PORT_INFO_1 (one string), and pMonitorName is [in, string] wchar_t*, a [ref]
# pointer with no referent id.
PORT_CONTAINER = X.Quirk(
    "port_container_union",
    "Samba's spoolss_SetPortInfoContainer carries the printer information union "
    "(spoolss_SetPrinterInfo) instead of the port one, and spoolss_AddPortEx's monitor_name is "
    "[unique] where MS-RPRN's pMonitorName is a [ref] string: Samba cannot read MS-RPRN's "
    "RpcAddPortEx (nor pack it)",
    ours_rejected=True, theirs="none")


@case("spoolss_RpcAddPortEx_level1", fn("AddPortEx"),
      quirks={("in", "le"): PORT_CONTAINER, ("in", "be"): PORT_CONTAINER})
def _(be):
    # The nearest value Samba's types hold: what it would read our PORT_INFO_1 as.
    c = spoolss.SetPortInfoContainer()
    c.level = 1
    i = spoolss.SetPrinterInfo1()
    i.flags, i.description, i.name, i.comment = 0, "LPT9:", None, None
    c.info = i
    v = spoolss.PortVarContainer()
    v.monitor_data_size, v.monitor_data = 0, None
    return X.new(fn("AddPortEx"), in_servername=HOST, in_port_ctr=c, in_port_var_ctr=v,
                 in_monitor_name="Local Port", result=0)


@case("spoolss_RpcEnumPrinters_sizing", fn("EnumPrinters"))
def _(be):
    return X.new(fn("EnumPrinters"), in_flags=2, in_server=HOST, in_level=1, in_buffer=None,
                 in_offered=0, out_info=None, out_count=0, out_needed=120, result=122)


# Samba pushes the custom-marshaled INFO structures of the Enum/Get buffers in the PDU's byte
# order too (and reads them so); MS-RPRN 2.2.2 describes one little-endian layout.
INFO_ORDER = X.Quirk(
    "info_byte_order",
    "Samba marshals the PRINTER_INFO structures inside the RpcEnumPrinters buffer in the NDR "
    "stream's byte order; MS-RPRN 2.2.2's custom-marshaled structures are little-endian bytes",
    ours_rejected=True, theirs="none")


@case("spoolss_RpcEnumPrinters_level1", fn("EnumPrinters"),
      quirks={("out", "be"): INFO_ORDER})
def _(be):
    i = spoolss.PrinterInfo1()
    i.flags = 0x00800000
    i.name = HOST + "\\printer1"
    i.description = HOST + "\\printer1,Generic / Text Only,msrpc test printer"
    i.comment = "msrpc test printer"
    return X.new(fn("EnumPrinters"), in_flags=2, in_server=HOST, in_level=1,
                 in_buffer=b"\0" * 240, in_offered=240, out_info=[i], out_count=1,
                 out_needed=240, result=0)


# ------------------------------------------------------------------------------------------
# The run (samba_ndr_cross.py's check_call, with byte orders and quirks per case)
# ------------------------------------------------------------------------------------------

def check_case(c, ours_dir, samba_dir, rep):
    notes = []
    before = len(rep.failures)
    for order in c.orders:
        be = order == "be"
        expected = c.build(be)
        ours_files = {}
        for direction in ("in", "out"):
            what = "%s %s %s" % (c.name, direction, order)
            quirk = c.quirk(direction, order)
            prefixes = ("in_",) if direction == "in" else ("out_",)
            theirs = None
            if quirk is None or quirk.theirs != "none":
                try:
                    theirs = X.pack(expected, direction, be)
                    X.write_hex(os.path.join(samba_dir, "%s.%s.%s.hex"
                                             % (c.name, direction, order)), theirs)
                except Exception as e:
                    rep.fail(what, "Samba cannot pack the value: %s" % (e,))
            if quirk is not None and quirk.theirs is not None:
                with open(os.path.join(samba_dir, "%s.%s.%s.quirk"
                                       % (c.name, direction, order)), "w") as f:
                    f.write("%s: %s\n" % (quirk.theirs, quirk.key))
            try:
                ours = X.read_hex(os.path.join(ours_dir, "%s.%s.%s.hex"
                                               % (c.name, direction, order)))
            except OSError as e:
                rep.fail(what, "our vector is missing (%s)" % e)
                continue
            ours_files[direction] = ours
            got = expected.__class__() if direction == "in" else X.with_inputs(c.fn, expected)
            try:
                X.unpack_into(got, direction, ours, be)
                error = None
            except Exception as e:
                error = e
            if quirk is not None and quirk.ours_rejected:
                if error is None:
                    problems = []
                    X.diff({k: X.plain(getattr(expected, k)) for k in X.fields(expected, prefixes)},
                           {k: X.plain(getattr(got, k)) for k in X.fields(got, prefixes)},
                           c.fn.cname, problems)
                    if not problems:
                        rep.fail(what, "Samba now reads our bytes right: the documented "
                                 "departure (%s) no longer holds; update the case" % quirk.key)
                    else:
                        notes.append("%s %s: Samba misreads our bytes (%s), as documented: %s"
                                     % (direction, order, problems[0], X.explain(quirk)))
                else:
                    notes.append("%s %s: Samba refuses our bytes (%s), as documented: %s"
                                 % (direction, order, error, X.explain(quirk)))
                continue
            if error is not None:
                rep.fail(what, "Samba cannot unpack our bytes: %s" % (error,))
                continue
            problems = []
            X.diff({k: X.plain(getattr(expected, k)) for k in X.fields(expected, prefixes)},
                   {k: X.plain(getattr(got, k)) for k in X.fields(got, prefixes)},
                   c.fn.cname, problems)
            for p in problems:
                rep.fail(what, "Samba reads %s" % p)
            try:
                if X.pack(got, direction, be) != X.pack(expected, direction, be):
                    rep.fail(what, "Samba's re-packing of what it read differs from its "
                             "packing of the expected value")
            except Exception as e:
                rep.fail(what, "Samba cannot re-pack what it read: %s" % (e,))
            byte_note = None
            if theirs is not None:
                byte_note = X.compare_bytes(rep, what, ours, theirs, be, "Samba's")
            if not be:
                in_ctx = None
                if direction == "out":
                    # The request sizes the response: ours, or Samba's own where it cannot
                    # read ours.
                    in_quirk = c.quirk("in", order)
                    ctx = (X.pack(expected, "in", False)
                           if in_quirk is not None and in_quirk.ours_rejected
                           else ours_files.get("in"))
                    if ctx is not None:
                        in_ctx = X.bin_file(samba_dir, c.name, "in", ctx)
                ok, out = X.ndrdump(c.fn, direction,
                                    X.bin_file(samba_dir, c.name, direction, ours), in_ctx)
                if not ok:
                    rep.fail(what, "ndrdump --validate failed:\n" + X.indent(out))
                else:
                    for p in X.ndrdump_verdict(out, byte_note):
                        rep.fail(what, "ndrdump --validate: " + p)
    return notes, len(rep.failures) == before


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ours", required=True)
    ap.add_argument("--samba", required=True)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.samba, "ndrdump"), exist_ok=True)
    rep = X.Report()
    manifest = {}
    with open(os.path.join(args.ours, "MANIFEST")) as f:
        for line in f:
            if line.strip():
                name, orders = line.split()
                manifest[name] = tuple(orders.split(","))
    for name in sorted(set(manifest) | set(CASES)):
        mine = CASES[name].orders if name in CASES else None
        if manifest.get(name) != mine:
            rep.fail(name, "the case lists disagree: Rust has %s, this script %s"
                     % (manifest.get(name, "nothing"), mine or "nothing"))
    print("Samba %s, %d spoolss cases" % (
        subprocess.run([X.NDRDUMP, "--version"], stdout=subprocess.PIPE).stdout.decode().strip(),
        len(manifest)))
    for name in manifest:
        if name not in CASES:
            continue
        notes, ok = check_case(CASES[name], args.ours, args.samba, rep)
        print("  [%s] %s" % ("ok" if ok else "FAIL", name))
        for n in notes:
            print("         " + n)
    print("%d failure(s)" % len(rep.failures))
    sys.stdout.flush()
    os._exit(1 if rep.failures else 0)


if __name__ == "__main__":
    main()
