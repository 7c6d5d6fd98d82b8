#!/usr/bin/env bash
# Section (e8) of tests/interop/run.sh: Impacket's DCOM client (DCOMConnection +
# CoCreateInstanceEx, tests/interop/impacket_dcom.py) against the demo calculator hosted OUT of
# msrpcd, by msrpc-calc-service attached over the registration socket (docs/dcom.md,
# "Out-of-process hosting"): msrpcd (no --demo) on $OUTPROC_IP:135 with the default minimum
# activation level (sessions at integrity and privacy, connect and none refused), and on
# $OUTPROC_OPEN_IP:135 with min-activation-level = "none" and a 3 s ping timeout (a session at
# none, and an object kept alive by Impacket's pingServer() at msrpcd, then run down by msrpcd
# and dropped by the process once the pings stop). Then the service is killed: activation
# answers REGDB_E_CLASSNOTREG and msrpcd keeps answering ServerAlive2.
#
# run.sh sources this file (its helpers, capture and tshark checks apply). Run alone,
#   tests/interop/dcom_outproc.sh
# it captures the section's traffic on lo itself and checks it with tshark (no malformed
# packet; the resolver, activator, IRemUnknown and ICalculator dissected). Alone it uses
# target/release binaries when present, else target/debug (INTEROP_BIN_DIR overrides), and
# builds what is missing. Needs root (port 135, capturing on lo), Impacket in target/venv and
# tshark; a missing peer is a failure, never a skip.
# INTEROP_OUTPROC_IP / INTEROP_OUTPROC_OPEN_IP change the addresses (127.0.0.66 / 127.0.0.67).

OUTPROC_IP=${INTEROP_OUTPROC_IP:-127.0.0.66}
OUTPROC_OPEN_IP=${INTEROP_OUTPROC_OPEN_IP:-127.0.0.67}
OUTPROC_PORTS=

# outproc_wait_line FILE PATTERN: up to 20 s for a line matching PATTERN in FILE.
outproc_wait_line() {
  for _ in $(seq 1 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# outproc_stop PID...: SIGTERM, 5 s, SIGKILL; reaps.
outproc_stop() {
  local p
  for p in "$@"; do
    [ -n "$p" ] || continue
    kill "$p" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
}

dcom_outproc_against_impacket() {
  local dir=$WORK/outproc
  local calc=${CALC_SERVICE:-$(dirname "$MSRPCD")/msrpc-calc-service}
  mkdir -p "$dir/main" "$dir/open"
  if [ "$EPM_PORT" != 135 ]; then
    fail "DCOM out of process: Impacket's DCOMConnection only dials port 135 (root needed)"
    return
  fi
  if [ ! -x "$calc" ]; then
    fail "DCOM out of process: $calc is missing (cargo build -p msrpcd)"
    return
  fi
  if ! printf 'S3cret!pw\n' | "$MSRPC" users add "$dir/users" alice >"$dir/users.out" 2>&1; then
    fail "msrpc users add (for the out-of-process DCOM section)"
    show "$dir/users.out"
    return
  fi
  cat >"$dir/open.toml" <<TOML
listen = ["$OUTPROC_OPEN_IP:135"]
registration-socket = "$dir/open/epm.sock"

[dcom]
min-activation-level = "none"
ping-period = 1
missed-pings = 3
gc-interval = 1
TOML
  "$MSRPCD" --listen "$OUTPROC_IP" --users "$dir/users" --registration-socket "$dir/main/epm.sock" \
    >"$dir/msrpcd.out" 2>"$dir/msrpcd.err" &
  local pid=$!
  "$MSRPCD" --config "$dir/open.toml" --users "$dir/users" >"$dir/open.out" 2>"$dir/open.err" &
  local open_pid=$!
  local calc_pid= open_calc_pid=
  if ! wait_tcp "$OUTPROC_IP" 135 20 || ! wait_tcp "$OUTPROC_OPEN_IP" 135 20; then
    fail "msrpcd did not listen on $OUTPROC_IP:135 and $OUTPROC_OPEN_IP:135"
    show "$dir/msrpcd.err"
    show "$dir/open.err"
    outproc_stop "$pid" "$open_pid"
    return
  fi
  outproc_wait_line "$dir/msrpcd.out" '^registration socket'
  outproc_wait_line "$dir/open.out" '^registration socket'
  # Before the service attaches, nothing serves the class: REGDB_E_CLASSNOTREG.
  check outproc-not-yet timeout 60 "$PY" - "$OUTPROC_IP" <<'PYEOF'
import sys
from impacket.dcerpc.v5.dcomrt import DCOMConnection
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.uuid import string_to_bin, uuidtup_to_bin
host = sys.argv[1]
d = DCOMConnection(host, "alice", "S3cret!pw")
try:
    d.CoCreateInstanceEx(string_to_bin("e316f1a9-1aa2-4272-a77c-3b9abdceaf56"),
                         uuidtup_to_bin(("bf30c0af-df87-42e5-ab32-930938b49417", "0.0")))
    sys.exit("activation of a class no process serves succeeded")
except DCERPCException as e:
    code = (e.get_error_code() or 0) & 0xFFFFFFFF
    print("activation before the service attached: %#010x" % code)
    if code != 0x80040154:
        sys.exit("expected REGDB_E_CLASSNOTREG (0x80040154)")
finally:
    try:
        d.disconnect()
    except KeyError:
        pass
PYEOF
  "$calc" --listen "$OUTPROC_IP" --users "$dir/users" --registration-socket "$dir/main/epm.sock" \
    --activator-socket "$dir/main/calc.sock" >"$dir/calc.out" 2>"$dir/calc.err" &
  calc_pid=$!
  "$calc" --listen "$OUTPROC_OPEN_IP" --users "$dir/users" --registration-socket "$dir/open/epm.sock" \
    --activator-socket "$dir/open/calc.sock" --min-level none --rundown-poll 1 \
    >"$dir/open-calc.out" 2>"$dir/open-calc.err" &
  open_calc_pid=$!
  if outproc_wait_line "$dir/calc.out" '^attached OXID' && outproc_wait_line "$dir/open-calc.out" '^attached OXID'; then
    pass "msrpc-calc-service attached to both msrpcd ($(sed -n 's/^attached //p' "$dir/calc.out"), $(sed -n 's/^attached //p' "$dir/open-calc.out"))"
    OUTPROC_PORTS=$(sed -n 's/^DCOM object exporter on .*:\([0-9]*\)$/\1/p' "$dir/calc.out" "$dir/open-calc.out" | sort -u | tr '\n' ' ')
    check impacket-dcom-outproc timeout 300 "$PY" tests/interop/impacket_dcom.py "$OUTPROC_IP" alice 'S3cret!pw' \
      integrity privacy --refused connect none
    grep -E '^(PASS|FAIL)' "$WORK/impacket-dcom-outproc.out" | sed 's/^/    /'
    check impacket-dcom-outproc-open timeout 300 "$PY" tests/interop/impacket_dcom.py "$OUTPROC_OPEN_IP" alice 'S3cret!pw' \
      none --gc integrity
    grep -E '^(PASS|FAIL)' "$WORK/impacket-dcom-outproc-open.out" | sed 's/^/    /'
    if grep -q 'objects run down by msrpcd' "$dir/open-calc.err"; then
      pass "msrpcd ran the unpinged object down and msrpc-calc-service dropped it"
    else
      fail "msrpc-calc-service did not log an object run down by msrpcd"
      show "$dir/open-calc.err"
    fi
    # The service killed: its class goes with its registration connection.
    outproc_stop "$calc_pid"
    calc_pid=
    check outproc-gone timeout 60 "$PY" - "$OUTPROC_IP" <<'PYEOF'
import sys, time
from impacket.dcerpc.v5 import transport
from impacket.dcerpc.v5.dcomrt import DCOMConnection, IObjectExporter
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.uuid import string_to_bin, uuidtup_to_bin
host = sys.argv[1]
code = 0
for _ in range(50):
    d = DCOMConnection(host, "alice", "S3cret!pw")
    try:
        d.CoCreateInstanceEx(string_to_bin("e316f1a9-1aa2-4272-a77c-3b9abdceaf56"),
                             uuidtup_to_bin(("bf30c0af-df87-42e5-ab32-930938b49417", "0.0")))
    except DCERPCException as e:
        code = (e.get_error_code() or 0) & 0xFFFFFFFF
    finally:
        try:
            d.disconnect()
        except KeyError:
            pass
    if code == 0x80040154:
        break
    time.sleep(0.1)
print("activation after the service stopped: %#010x" % code)
if code != 0x80040154:
    sys.exit("expected REGDB_E_CLASSNOTREG (0x80040154)")
t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[135]" % host)
dce = t.get_dce_rpc()
bindings = IObjectExporter(dce).ServerAlive2()
dce.disconnect()
print("msrpcd still answers ServerAlive2 (%d bindings)" % len(bindings))
PYEOF
  else
    fail "msrpc-calc-service did not attach"
    show "$dir/calc.err"
    show "$dir/open-calc.err"
  fi
  outproc_stop "$calc_pid" "$open_calc_pid" "$pid" "$open_pid"
}

# ---------------------------------------------------------------------------------------------
# Run alone: the helpers run.sh would give, a capture of this section, and tshark's verdict.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -uo pipefail
  cd "$(dirname "$0")/../.."
  ROOT=$PWD
  PASSED=0
  FAILED=0
  FAILS=()
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/msrpc-interop-outproc.XXXXXX")
  PY=$ROOT/target/venv/bin/python
  EPM_PORT=135
  [ "$(id -u)" = 0 ] || EPM_PORT=1135
  pass() { PASSED=$((PASSED + 1)); printf 'PASS: %s\n' "$*"; }
  fail() { FAILED=$((FAILED + 1)); FAILS+=("$*"); printf 'FAIL: %s\n' "$*"; }
  show() { [ -s "$1" ] && tail -n "${2:-25}" "$1" | sed 's/^/    | /'; return 0; }
  check() {
    local name=$1 rc=0
    shift
    "$@" >"$WORK/$name.out" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then pass "$name: $(tail -n 1 "$WORK/$name.out")"; return 0; fi
    fail "$name (exit $rc)"
    show "$WORK/$name.out" 40
    return 1
  }
  wait_tcp() {
    local end=$((SECONDS + $3))
    while [ "$SECONDS" -lt "$end" ]; do
      timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
      sleep 0.2
    done
    return 1
  }
  TSHARK_PID=
  finish() {
    if [ -n "$TSHARK_PID" ]; then
      sleep 1.5
      kill -INT "$TSHARK_PID" 2>/dev/null
      for _ in $(seq 1 100); do kill -0 "$TSHARK_PID" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$TSHARK_PID" 2>/dev/null
      wait "$TSHARK_PID" 2>/dev/null
      TSHARK_PID=
    fi
  }
  trap finish EXIT
  missing=()
  command -v tshark >/dev/null 2>&1 || missing+=("tshark")
  { [ -x "$PY" ] && "$PY" -c 'import impacket' 2>/dev/null; } || missing+=("Impacket in $ROOT/target/venv")
  if [ ${#missing[@]} -gt 0 ]; then
    fail "peers missing: ${missing[*]} (scripts/test.sh installs them)"
    exit 1
  fi
  BIN=${INTEROP_BIN_DIR:-}
  if [ -z "$BIN" ]; then
    if [ -x target/release/msrpcd ] && [ -x target/release/msrpc ]; then BIN=$ROOT/target/release; else BIN=$ROOT/target/debug; fi
  fi
  profile=()
  [ "$BIN" = "$ROOT/target/release" ] && profile=(--release)
  if ! cargo build "${profile[@]}" -p msrpcd -p msrpc-cli >"$WORK/build.log" 2>&1; then
    show "$WORK/build.log" 30
    fail "cargo build ${profile[*]} -p msrpcd -p msrpc-cli"
    exit 1
  fi
  MSRPCD=$BIN/msrpcd
  MSRPC=$BIN/msrpc
  for a in "$OUTPROC_IP" "$OUTPROC_OPEN_IP"; do
    if timeout 2 bash -c "exec 3<>/dev/tcp/$a/135" 2>/dev/null; then
      fail "$a:135 is taken already (a leftover?)"
      exit 1
    fi
  done
  PCAP=$WORK/outproc.pcapng
  tshark -n -i lo -f "host $OUTPROC_IP or host $OUTPROC_OPEN_IP" -w "$PCAP" >"$WORK/tshark.log" 2>&1 &
  TSHARK_PID=$!
  for _ in $(seq 1 150); do grep -q "Capturing on" "$WORK/tshark.log" 2>/dev/null && break; sleep 0.1; done
  grep -q "Capturing on" "$WORK/tshark.log" || fail "tshark did not start capturing on lo"
  printf '\n--- (e8) Impacket DCOM against a class hosted out of msrpcd\n'
  dcom_outproc_against_impacket
  finish
  DECODE=()
  for p in $OUTPROC_PORTS; do DECODE+=(-d "tcp.port==$p,dcerpc"); done
  frames=$(timeout 300 tshark -n -r "$PCAP" 2>/dev/null | wc -l)
  read_ok=1
  timeout 300 tshark -n -r "$PCAP" "${DECODE[@]}" -Y "_ws.malformed || _ws.expert.severity == error" \
    >"$WORK/tshark-bad.out" 2>"$WORK/tshark-bad.err" || read_ok=0
  bad=$(wc -l <"$WORK/tshark-bad.out")
  if [ "$read_ok" = 1 ] && [ "$frames" -gt 0 ] && [ "$bad" -eq 0 ]; then
    pass "tshark: no malformed packet or expert error in $frames frames"
  else
    fail "tshark: $bad of $frames frames malformed or expert errors"
    show "$WORK/tshark-bad.out" 30
    show "$WORK/tshark-bad.err"
  fi
  counts=
  for f in oxid isystemactivator remunk "dcerpc.cn_bind_to_uuid == bf30c0af-df87-42e5-ab32-930938b49417" "dcerpc.pkt_type == 0 && dcerpc.obj_id"; do
    n=$(timeout 300 tshark -n -r "$PCAP" "${DECODE[@]}" -Y "$f" 2>/dev/null | wc -l)
    counts="$counts ${f%% *}:$n"
    [ "$n" -gt 0 ] || counts="$counts(none)"
  done
  if [[ "$counts" != *none* ]]; then
    pass "tshark: the section's DCOM traffic dissected ($counts)"
  else
    fail "tshark: DCOM traffic missing from the capture ($counts)"
  fi
  printf '\n'
  [ "$FAILED" -eq 0 ] || printf '  - %s\n' "${FAILS[@]}"
  printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
  if [ "$FAILED" -eq 0 ] && [ "${INTEROP_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else echo "work directory kept: $WORK"; fi
  [ "$FAILED" -eq 0 ]
fi
