#!/usr/bin/env python3
"""Parsers and comparisons for tests/interop/run.sh (standard library only).

Each subcommand prints what it compared and exits 0 when the check holds, 1 when it does not,
2 when an input cannot be read at all.

  msrpc-dump JSON                           entries `msrpc dump --json` reported, one a line
  tcp-port JSON UUID [HOST]                 the ncacn_ip_tcp port of UUID in the dump
  rpcdump-covers JSON RPCDUMP_OUT           rpcdump.py lists every entry of the dump
  rpcmap-lists RPCMAP_OUT UUID...           rpcmap.py lists (at least) these UUIDs
  rpcmap-opnums RPCMAP_OUT N                opnums 0..N-1 exist, N.. give nca_s_op_rng_error
  epm-same JSON RPCCLIENT_OUT WALK_JSON     the dump, `rpcclient -c epmlookup` and
                                            impacket_lookup.py agree
  epm-walk-windows JSON WALK_JSON           impacket_lookup.py's max_ents=1 walk of msrpcd has
                                            the dump's entries and ends as Windows ends it
  if-ids-cover IFIDS_OUT JSON PORT          mgmt inq_if_ids lists the dump's UUIDs on PORT
  text-lists JSON TEXT_OUT                  `msrpc dump` (text) shows what --json shows
  tshark PDUS_TSV SERVER_IP...              every server saw bind/bind_ack/request/response
  tshark-malformed BAD_TSV CTX_TSV          no frame tshark flags malformed or as an expert error,
                                            except NDR64 ept_lookup answers (Wireshark's EPM
                                            dissector reads their annotation counts as 32-bit)
  audit-alerts LOG FROM none|[only] DETECTOR...  msrpcd's JSON-lines audit log from line FROM (1-based):
                                            every line is an event with the Zeek fields; `none`:
                                            no alert; `only`: exactly these DETECTORs alerted;
                                            else each DETECTOR alerted
  metrics URL DETECTOR...                   GET URL parses as Prometheus text and counts at least
                                            one alert of each DETECTOR
"""

import json
import re
import sys

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
BINDING_RE = re.compile(r"^(ncacn_[a-z_]+|ncadg_[a-z_]+|ncalrpc):([^\[]*)(?:\[([^\]]*)\])?$")
NIL = "00000000-0000-0000-0000-000000000000"

EPM = "e1af8308-5d1f-11c9-91a4-08002b14a0fa"
MGMT = "afa8bd80-7d8a-11c9-bef4-08002b102989"
ECHO = "60a15ec5-4de8-11d7-a637-005056a20182"
NAMES = {EPM: "EPM", MGMT: "mgmt", ECHO: "rpcecho"}


def name(u):
    return "%s (%s)" % (u, NAMES[u]) if u in NAMES else u


class Entry:
    """One endpoint-map entry: interface UUID and version, and the binding its tower gives."""

    def __init__(self, uuid, version, binding):
        self.uuid = uuid.lower()
        self.version = version  # "major.minor" or None when the source does not say
        self.binding = binding
        m = BINDING_RE.match(binding or "")
        self.protseq = m.group(1) if m else None
        self.host = m.group(2) if m else None
        self.endpoint = (m.group(3) or "").split(",")[0] if m else None

    def key(self):
        return (self.uuid, self.protseq, self.host, self.endpoint)

    def __repr__(self):
        return "%s v%s %s" % (self.uuid, self.version, self.binding)


# --- msrpc dump --json -----------------------------------------------------------------------

def msrpc_dump(path):
    """Entries of `msrpc dump --json`: {"complete": bool, "count": N, "entries": [{"interface":
    {"uuid", "version"} | null, "object", "annotation", "binding" | null, ...}]}. Exits 2 when
    the document does not have that shape, or says the walk was incomplete."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        doc = json.loads(text)
        entries = doc["entries"]
        out = []
        for e in entries:
            iface = e.get("interface") or {}
            out.append(Entry(iface.get("uuid") or "?", iface.get("version"), e.get("binding") or ""))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        sys.exit("%s is not the JSON document `msrpc dump --json` prints (%s):\n%s" % (path, e, text[:2000]))
    if doc.get("complete") is not True:
        sys.exit("%s: msrpc dump says the walk is incomplete: %s" % (path, text[:2000]))
    if doc.get("count") != len(out):
        sys.exit("%s: count %r but %d entries" % (path, doc.get("count"), len(out)))
    return out


# --- Impacket rpcdump.py / rpcmap.py ---------------------------------------------------------


def rpcdump(path):
    """(entries, count) from rpcdump.py's output: UUID blocks with their bindings, and the
    'Received N endpoints.' count (0 for 'No endpoints found.')."""
    entries, count, cur = [], None, None
    failed = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"^UUID\s*:\s*(\S+)\s+v(\d+\.\d+)", line)
            if m:
                cur = (m.group(1), m.group(2))
                continue
            s = line.strip()
            if cur and BINDING_RE.match(s):
                entries.append(Entry(cur[0], cur[1], s))
                continue
            if not s:
                cur = None
            m = re.search(r"Received (\d+) endpoints", line)
            if m:
                count = int(m.group(1))
            elif "Received one endpoint" in line:
                count = 1
            elif "No endpoints found" in line:
                count = 0
            if "Protocol failed" in line:
                failed.append(s)
    return entries, count, failed


def rpcmap(path):
    uuids = {}
    opnums = []
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for m in re.finditer(r"^UUID: (\S+) v(\d+\.\d+)", text, re.M):
        uuids[m.group(1).lower()] = m.group(2)
    for m in re.finditer(r"^Opnums? (\d+)(?:-(\d+))?: (.*)$", text, re.M):
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        opnums.append((lo, hi, m.group(3).strip()))
    return uuids, opnums, text


# --- rpcclient -c epmlookup ------------------------------------------------------------------

_RPCCLIENT_RE = re.compile(
    r"^(\S+) (\w+):(\S*?)\[([^,\]]*),abstract_syntax=([0-9a-fA-F-]{36})/0x([0-9a-fA-F]{8})\]"
)


def rpcclient_epm(path):
    """Entries from Samba's `rpcclient -c epmlookup`: 'OBJ PROTSEQ:HOST[EP,abstract_syntax=UUID/0xVVVVvvvv]: ANN'.
    The version word is major in the low 16 bits, minor in the high 16 bits."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = _RPCCLIENT_RE.match(line.strip())
            if not m:
                continue
            ver = int(m.group(6), 16)
            binding = "%s:%s[%s]" % (m.group(2), m.group(3), m.group(4))
            out.append(Entry(m.group(5), "%d.%d" % (ver & 0xFFFF, ver >> 16), binding))
    return out


# --- subcommands -----------------------------------------------------------------------------


def cmd_msrpc_dump(js):
    for e in msrpc_dump(js):
        print("  %r" % e)
    return 0


def cmd_tcp_port(js, uuid, host=None):
    for e in msrpc_dump(js):
        if e.uuid == uuid.lower() and e.protseq == "ncacn_ip_tcp" and (host is None or e.host == host):
            if e.endpoint and e.endpoint.isdigit():
                print(e.endpoint)
                return 0
    print("no ncacn_ip_tcp entry for %s in the dump" % name(uuid.lower()), file=sys.stderr)
    return 1


def cmd_rpcdump_covers(js, out):
    ours = msrpc_dump(js)
    theirs, count, failed = rpcdump(out)
    ok = True
    if failed:
        print("rpcdump.py: %s" % "; ".join(failed))
        ok = False
    have = {e.key() for e in theirs}
    missing = [e for e in ours if e.key() not in have]
    for e in missing:
        print("rpcdump.py does not list %r" % e)
    if missing:
        ok = False
    if count != len(ours):
        print("rpcdump.py received %s entries; msrpc dump --json reports %d" % (count, len(ours)))
        ok = False
    if not any(e.uuid == ECHO and e.protseq == "ncacn_ip_tcp" for e in theirs):
        print("rpcdump.py lists no ncacn_ip_tcp entry for rpcecho")
        ok = False
    if ok:
        print("rpcdump.py lists all %d entries msrpc dump reports (incl. rpcecho over ncacn_ip_tcp)" % len(ours))
    return 0 if ok else 1


def cmd_rpcmap_lists(out, *uuids):
    found, _, text = rpcmap(out)
    ok = True
    for u in uuids:
        if u.lower() not in found:
            print("rpcmap.py does not list %s" % name(u.lower()))
            ok = False
    for bad in ("Protocol failed", "Bruteforcing", "Target MGMT interface not available"):
        if bad in text:
            print("rpcmap.py: %s" % next(l for l in text.splitlines() if bad in l))
            ok = False
    if ok:
        print("rpcmap.py lists %s" % ", ".join(name(u.lower()) for u in uuids))
    return 0 if ok else 1


def cmd_rpcmap_opnums(out, n):
    n = int(n)
    _, opnums, text = rpcmap(out)
    ok = True
    seen_rng = None
    for lo, hi, res in opnums:
        for op in range(lo, hi + 1):
            rng = "nca_s_op_rng_error" in res
            if op < n and rng:
                print("rpcmap.py: opnum %d reported as %s" % (op, res))
                ok = False
            if op >= n and not rng:
                print("rpcmap.py: opnum %d answered %r, want nca_s_op_rng_error" % (op, res))
                ok = False
            if op >= n and rng:
                seen_rng = op
    if not opnums:
        print("rpcmap.py printed no opnum results:\n%s" % text[-1500:])
        ok = False
    elif seen_rng is None:
        print("rpcmap.py probed no opnum >= %d" % n)
        ok = False
    if ok:
        print("rpcmap.py -brute-opnums: opnums 0..%d exist, %d..%d give nca_s_op_rng_error" % (n - 1, n, seen_rng))
    return 0 if ok else 1


def impacket_walk(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    return [Entry(e["uuid"], e["version"], e["binding"]) for e in doc["entries"]], doc


def cmd_epm_same(js, out, walk):
    """msrpc dump vs Samba's rpcclient (the reference: same UUIDs, versions, TCP endpoints,
    same entries) and vs a one-entry-per-call Impacket walk (same entries, same order).

    Known peer quirk, checked rather than ignored: Samba's server returns its last entry
    together with ept_s_not_registered and a null handle; rpcclient 4.17 (`epmlookup`, one
    entry per call) stops on that status without printing the entry. So rpcclient may list
    exactly one entry fewer: the database's last one, which the Impacket walk shows arriving
    with that status."""
    ours = msrpc_dump(js)
    theirs = rpcclient_epm(out)
    walked, wdoc = impacket_walk(walk)
    if not theirs:
        print("rpcclient epmlookup printed no entry")
        return 1
    ok = True
    notes = []
    su, tu = {e.uuid for e in ours}, {e.uuid for e in theirs}
    if su != tu:
        ok = False
        for u in sorted(tu - su):
            print("msrpc dump misses interface %s (rpcclient lists it)" % name(u))
        for u in sorted(su - tu):
            print("msrpc dump lists interface %s that rpcclient does not" % name(u))
    sv = {(e.uuid, e.version) for e in ours}
    tv = {(e.uuid, e.version) for e in theirs}
    if sv != tv:
        ok = False
        print("interface versions differ: msrpc only %s; rpcclient only %s" % (sorted(sv - tv), sorted(tv - sv)))
    st = {(e.uuid, e.endpoint) for e in ours if e.protseq == "ncacn_ip_tcp"}
    tt = {(e.uuid, e.endpoint) for e in theirs if e.protseq == "ncacn_ip_tcp"}
    if st != tt:
        ok = False
        print("ncacn_ip_tcp endpoints differ: msrpc only %s; rpcclient only %s" % (sorted(st - tt), sorted(tt - st)))

    ok_keys = [e.key() for e in ours]
    # Entry by entry against the Impacket walk (order included).
    if ok_keys != [e.key() for e in walked]:
        ok = False
        print("msrpc dump (%d entries) and the Impacket ept_lookup walk (%d) differ:" % (len(ours), len(walked)))
        a, b = set(ok_keys), {e.key() for e in walked}
        for k in sorted(b - a):
            print("  only Impacket: %s" % (k,))
        for k in sorted(a - b):
            print("  only msrpc:    %s" % (k,))
        if a == b:
            print("  (same entries, different order)")
    # Entry by entry against rpcclient.
    tk = [e.key() for e in theirs]
    if tk == ok_keys:
        pass
    elif (
        tk == ok_keys[:-1]
        and wdoc["final_batch"] == 1
        and wdoc["final_status"] == "0x16c9a0d6"
    ):
        notes.append(
            "rpcclient omits the last entry (%s), which Samba sends with ept_s_not_registered"
            % (ours[-1],)
        )
    else:
        ok = False
        print("msrpc dump reports %d entries, rpcclient epmlookup %d" % (len(ours), len(theirs)))
        a, b = set(ok_keys), set(tk)
        for k in sorted(b - a):
            print("  only rpcclient: %s" % (k,))
        for k in sorted(a - b):
            print("  only msrpc:     %s" % (k,))
    for n in notes:
        print("note: %s" % n)
    if ok:
        print(
            "msrpc dump agrees with rpcclient epmlookup and an Impacket ept_lookup walk: %d entries, "
            "%d interfaces, %d TCP endpoints" % (len(ours), len(su), len(st))
        )
    return 0 if ok else 1


def cmd_epm_walk_windows(js, walk):
    """A one-entry-per-call Impacket walk of msrpcd's EPM ends as Windows' endpoint mapper ends
    it (captures of Windows hosts): every entry in an answer of its own with status 0 and a live
    handle, then an answer with no entry, ept_s_not_registered (0x16c9a0d6) and the null handle.
    The entries are those of `msrpc dump --json`, in the same order."""
    ours = msrpc_dump(js)
    walked, wdoc = impacket_walk(walk)
    ok = True
    if [e.key() for e in walked] != [e.key() for e in ours]:
        ok = False
        print("the walk (%d entries) and msrpc dump (%d) differ" % (len(walked), len(ours)))
    if wdoc["final_status"] != "0x16c9a0d6" or wdoc["final_batch"] != 0:
        ok = False
        print(
            "the walk ended with status %s and %d entries; Windows ends it with 0x16c9a0d6 and none"
            % (wdoc["final_status"], wdoc["final_batch"])
        )
    if wdoc["calls"] != len(walked) + 1:
        ok = False
        print("%d calls for %d entries (Windows: one per entry and a last, empty one)" % (wdoc["calls"], len(walked)))
    if ok:
        print(
            "max_ents=1 walk: %d entries one per call, then 0 entries with ept_s_not_registered, as Windows"
            % len(walked)
        )
    return 0 if ok else 1


def cmd_if_ids_cover(out, js, port):
    with open(out, encoding="utf-8", errors="replace") as f:
        text = f.read()
    got = {m.group(0).lower() for m in UUID_RE.finditer(text)}
    want = {e.uuid for e in msrpc_dump(js) if e.protseq == "ncacn_ip_tcp" and e.endpoint == port}
    if not want:
        print("the dump has no entry on TCP port %s" % port)
        return 1
    missing = want - got
    if missing:
        print("mgmt inq_if_ids on port %s lacks %s (output: %s)" % (port, sorted(missing), text.strip()[:500]))
        return 1
    print("mgmt inq_if_ids on port %s lists the %d interfaces the EPM maps there" % (port, len(want)))
    return 0


def cmd_text_lists(js, text_out):
    """The text form of `msrpc dump` names every interface and binding the JSON form has."""
    with open(text_out, encoding="utf-8", errors="replace") as f:
        text = f.read().lower()
    ours = msrpc_dump(js)
    missing = sorted({e.uuid for e in ours if e.uuid not in text} | {e.binding for e in ours if e.binding.lower() not in text})
    if missing:
        print("msrpc dump (text) lacks %s" % ", ".join(missing))
        return 1
    print("msrpc dump (text) shows all %d interfaces and bindings of the JSON form" % len({e.uuid for e in ours}))
    return 0


PTYPES = {0: "request", 2: "response", 11: "bind", 12: "bind_ack"}


def cmd_tshark(tsv, *servers):
    """tsv: 'ip.src<TAB>ip.dst<TAB>dcerpc.pkt_type[,type...]' per frame."""
    counts = {}
    with open(tsv, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or not parts[2]:
                continue
            src, dst = parts[0], parts[1]
            for t in parts[2].split(","):
                t = int(t)
                counts[(src, dst, t)] = counts.get((src, dst, t), 0) + 1
    ok = True
    for srv in servers:
        row = []
        for t, what in sorted(PTYPES.items()):
            from_server = t in (2, 12)
            n = sum(c for (s, d, tt), c in counts.items()
                    if tt == t and ((s == srv) if from_server else (d == srv)))
            row.append("%s %d" % (what, n))
            if n == 0:
                ok = False
                print("capture: no %s PDU %s %s" % (what, "from" if from_server else "to", srv))
        def n_of(t, from_server):
            return sum(c for (s, d, tt), c in counts.items()
                       if tt == t and ((s == srv) if from_server else (d == srv)))
        binds, acks, naks = n_of(11, False), n_of(12, True), n_of(13, True)
        faults = n_of(3, True)
        row.append("bind_nak %d, fault %d" % (naks, faults))
        if acks + naks != binds:
            ok = False
            print("capture: %d binds to %s but %d bind_ack + %d bind_nak (a lost packet or an unanswered bind)"
                  % (binds, srv, acks, naks))
        print("capture, server %s: %s" % (srv, ", ".join(row)))
    return 0 if ok else 1


NDR64 = "71710533-beba-4937-8319-b5dbef9ccc36"


def cmd_tshark_malformed(bad_tsv, ctx_tsv):
    """Every frame tshark flags (malformed, or an expert error) fails the check, but for one
    case: the answer to an EPM ept_lookup (opnum 2) on a presentation context accepted in
    NDR64. Wireshark's EPM dissector (epan/dissectors/packet-dcerpc-epm.c,
    epm_dissect_ept_entry_t) reads each entry's annotation offset and actual count with
    dissect_ndr_uint32, where NDR64 carries them in 8 bytes (MS-RPCE 2.2.5.3.3; its NDR engine's
    dissect_ndr_uint3264 would): it reads the annotation as empty, then the next fields out
    of place, and flags the packet, whoever answers (Windows' NDR64 answers too). Those frames
    are counted and named; any other flagged frame is a failure.

    bad_tsv: frame.number, tcp.stream, dcerpc.pkt_type, dcerpc.cn_ctx_id, epm.opnum,
             _ws.expert.message per flagged frame.
    ctx_tsv: tcp.stream, dcerpc.pkt_type, dcerpc.cn_call_id, dcerpc.cn_ctx_id,
             dcerpc.cn_bind_to_uuid, dcerpc.cn_ack_result, dcerpc.cn_ack_trans_id per bind,
             alter_context and their answers."""
    offered = {}  # (stream, call_id) -> [(ctx_id, interface)] in order
    answers = []  # (stream, call_id, [(result, transfer)])
    with open(ctx_tsv, encoding="utf-8") as f:
        for line in f:
            p = (line.rstrip("\n").split("\t") + [""] * 7)[:7]
            stream, ptype, call = p[0], p[1].split(","), p[2].split(",")
            if not stream or not ptype[0]:
                continue
            if ptype[0] in ("11", "14"):
                items = list(zip(p[3].split(","), p[4].lower().split(",")))
                offered[(stream, call[0])] = items
            elif ptype[0] in ("12", "15"):
                answers.append((stream, call[0], list(zip(p[5].split(","), p[6].lower().split(",")))))
    ndr64_epm = set()
    for stream, call, results in answers:
        for (ctx, iface), (result, transfer) in zip(offered.get((stream, call), []), results):
            if result == "0" and transfer == NDR64 and iface == EPM:
                ndr64_epm.add((stream, ctx))
    allowed, failing = [], []
    with open(bad_tsv, encoding="utf-8") as f:
        for line in f:
            p = (line.rstrip("\n").split("\t") + [""] * 6)[:6]
            if not p[0]:
                continue
            frame, stream = p[0], p[1]
            ptypes, ctxs, opnums = p[2].split(","), p[3].split(","), p[4].split(",")
            lookup_answer = (
                ptypes == ["2"] and opnums == ["2"] and len(ctxs) == 1
                and (stream, ctxs[0]) in ndr64_epm
            )
            (allowed if lookup_answer else failing).append((frame, stream, p[2], p[4], p[5]))
    if allowed:
        print("note: %d NDR64 ept_lookup answer(s) flagged by Wireshark's EPM dissector "
              "(32-bit annotation counts in NDR64), allowed: frames %s"
              % (len(allowed), " ".join(a[0] for a in allowed)))
    for frame, stream, ptype, opnum, msg in failing:
        print("frame %s (tcp.stream %s, pkt_type %s, epm opnum %s): %s"
              % (frame, stream, ptype or "-", opnum or "-", msg))
    print("%d NDR64 EPM contexts; %d flagged frames allowed (NDR64 ept_lookup answers), %d not"
          % (len(ndr64_epm), len(allowed), len(failing)))
    return 0 if not failing else 1


ZEEK_FIELDS = ("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "event")


def cmd_audit_alerts(log, start, *want):
    start = int(start)
    with open(log, encoding="utf-8") as f:
        lines = f.read().splitlines()[start - 1:]
    ok = True
    events, alerts = {}, {}
    for n, line in enumerate(lines, start):
        try:
            ev = json.loads(line)
        except ValueError as e:
            print("line %d is not JSON (%s): %s" % (n, e, line[:120]))
            ok = False
            continue
        missing = [k for k in ZEEK_FIELDS if k not in ev]
        if missing:
            print("line %d lacks %s: %s" % (n, missing, line[:120]))
            ok = False
        events[ev.get("event")] = events.get(ev.get("event"), 0) + 1
        if ev.get("event") == "alert":
            d = ev.get("detector")
            alerts[d] = alerts.get(d, 0) + 1
            print("alert %s (%s) from %s: %s" % (d, ev.get("severity"), ev.get("source"), ev.get("summary")))
            print("  evidence: %s" % json.dumps(ev.get("evidence"))[:300])
    print("events from line %d: %s" % (start, ", ".join("%s=%d" % kv for kv in sorted(events.items(), key=str))))
    if list(want) == ["none"]:
        if alerts:
            print("expected no alert, got %s" % alerts)
            ok = False
    elif want and want[0] == "only":
        if set(alerts) != set(want[1:]):
            print("expected exactly the alerts %s, got %s" % (sorted(want[1:]), alerts or "none"))
            ok = False
    else:
        for d in want:
            if not alerts.get(d):
                print("expected an alert from %s, got %s" % (d, alerts or "none"))
                ok = False
    return 0 if ok else 1


def cmd_metrics(url, *detectors):
    import urllib.request
    with urllib.request.urlopen(url, timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        text = r.read().decode("utf-8")
    ok = ctype.startswith("text/plain")
    if not ok:
        print("Content-Type %r is not text/plain" % ctype)
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.eE+]+)$')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = sample.match(line)
        if not m:
            print("not a sample: %r" % line)
            ok = False
            continue
        labels = tuple(label.findall(m.group(3) or ""))
        values[(m.group(1), labels)] = float(m.group(4))
    conns = values.get(("msrpc_connections_total", ()), 0)
    print("metrics: %d samples, msrpc_connections_total %d" % (len(values), conns))
    if conns < 1:
        ok = False
    for d in detectors:
        v = values.get(("msrpc_alerts_total", (("detector", d),)), 0)
        print("msrpc_alerts_total{detector=%s} %d" % (d, v))
        if v < 1:
            ok = False
    return 0 if ok else 1


def main():
    cmds = {
        "audit-alerts": cmd_audit_alerts,
        "metrics": cmd_metrics,
        "msrpc-dump": cmd_msrpc_dump,
        "tcp-port": cmd_tcp_port,
        "rpcdump-covers": cmd_rpcdump_covers,
        "rpcmap-lists": cmd_rpcmap_lists,
        "rpcmap-opnums": cmd_rpcmap_opnums,
        "epm-same": cmd_epm_same,
        "epm-walk-windows": cmd_epm_walk_windows,
        "if-ids-cover": cmd_if_ids_cover,
        "text-lists": cmd_text_lists,
        "tshark": cmd_tshark,
        "tshark-malformed": cmd_tshark_malformed,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return cmds[sys.argv[1]](*sys.argv[2:])
    except (OSError, ValueError, TypeError) as e:
        print("%s: %s" % (sys.argv[1], e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
