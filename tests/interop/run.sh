#!/usr/bin/env bash
# Interoperability tests against software we did not write, run by scripts/test.sh:
#   Impacket 0.13.1 (rpcdump.py, rpcmap.py, and tests/interop/impacket_echo.py on its DCE/RPC
#   client) against msrpcd; Impacket's NTLM (impacket_ntlm.py) and, built from its spnego/ntlm/
#   rpcrt classes, SPNEGO (impacket_spnego.py) clients and Samba's rpcclient (NTLM and SPNEGO,
#   sign and seal) against msrpcd --users; Samba's own Python rpcecho client (python3-samba,
#   tests/interop/samba_py_bigendian.py) against msrpcd --users in both byte orders at every level,
#   and (samba_py_echo.py) with enum values the IDL does not name against msrpcd --demo;
#   Impacket's anonymous NTLM (rpcmap.py's defaults and impacket_anonymous.py) against msrpcd with
#   and without --users, switched off and under a policy; our `msrpc` tool against Samba's
#   samba-dcerpcd (named and anonymous, also big-endian, every level), with Samba's own
#   rpcclient as the reference; Impacket binding msrpcd's EPM and rpcecho with NDR64 only
#   (impacket_ndr64.py); tshark (Wireshark's dissectors) over everything on the wire.
#
#   tests/interop/run.sh            (from anywhere; builds the release binaries first)
#
# Needs: target/venv with impacket (scripts/test.sh installs it), the Debian packages samba,
# samba-common-bin, smbclient, python3-samba and tshark, and root (port 135; capturing on lo). Without root,
# msrpcd's EPM goes to 127.0.0.41:1135 and the tools are told so (Samba's part then fails:
# samba-dcerpcd only serves its EPM on 135). A missing peer is a failure, never a skip.
# Set INTEROP_KEEP=1 to keep the work directory (logs, capture) after a passing run;
# INTEROP_MSRPCD_IP / INTEROP_SAMBA_IP change the loopback addresses (127.0.0.41 / 127.0.0.42),
# INTEROP_EPM_PORT msrpcd's EPM port (135 as root, else 1135); INTEROP_POLICY_IP the address of
# the msrpcd that section (e3) runs with a security policy (127.0.0.113); INTEROP_BIGENDIAN_IP the
# address of section (e5)'s msrpcd --users for Samba's Python client (127.0.0.62); INTEROP_ENUM_IP
# that of section (e6)'s msrpcd for Samba's Python client (127.0.0.61); INTEROP_DCOM_IP /
# INTEROP_DCOM_OPEN_IP those of section (e7)'s msrpcd for Impacket's DCOM client (127.0.0.64 with
# the default minimum activation level, 127.0.0.65 with none and short pings); INTEROP_ANON_IP the
# address of section (h)'s daemons taking anonymous NTLM logons (127.0.0.63); INTEROP_OUTPROC_IP /
# INTEROP_OUTPROC_OPEN_IP those of section (e8), the calculator hosted out of msrpcd by
# msrpc-calc-service (127.0.0.66 / 127.0.0.67; tests/interop/dcom_outproc.sh, which also runs alone).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

# Loopback addresses of their own (other tests use 127.0.0.1 and 127.0.0.2), so concurrent runs
# of other suites do not collide with these servers.
MSRPCD_IP=${INTEROP_MSRPCD_IP:-127.0.0.41}
SAMBA_IP=${INTEROP_SAMBA_IP:-127.0.0.42}
NTLM_IP=${INTEROP_NTLM_IP:-127.0.0.43}
NTLM_PORT=1140
POLICY_IP=${INTEROP_POLICY_IP:-127.0.0.113}
POLICY_PORTS=1170-1179
AUDIT_IP=${INTEROP_AUDIT_IP:-127.0.0.130}
AUDIT_METRICS_PORT=9135
# msrpcd --demo for Samba's Python rpcecho client (samba_py_echo.py: enum values the IDL does not name).
ENUM_IP=${INTEROP_ENUM_IP:-127.0.0.61}
ENUM_ECHO_PORT=
# msrpcd --users --demo for Samba's rpcclient (NTLM and SPNEGO) and impacket_spnego.py.
AUTH_IP=${INTEROP_AUTH_IP:-127.0.0.122}
# Section (h): msrpcd daemons (one at a time) taking anonymous NTLM logons.
ANON_IP=${INTEROP_ANON_IP:-127.0.0.63}
AUTH_USER=alice
AUTH_PASSWORD='Sp3nego!pw'
AUTH_ECHO_PORT=
# msrpcd --users --demo for Samba's Python rpcecho client in both byte orders (section e5).
BIGENDIAN_IP=${INTEROP_BIGENDIAN_IP:-127.0.0.62}
BIGENDIAN_ECHO_PORT=
# msrpcd --users --demo for Impacket's DCOM client (section e7; DCOMConnection dials 135), and
# a second one allowing activation at any level with a ping timeout of 3 s (GC checks).
DCOM_IP=${INTEROP_DCOM_IP:-127.0.0.64}
DCOM_OPEN_IP=${INTEROP_DCOM_OPEN_IP:-127.0.0.65}
DCOM_PORTS=
ECHO_UUID=60a15ec5-4de8-11d7-a637-005056a20182
EPM_UUID=e1af8308-5d1f-11c9-91a4-08002b14a0fa
MGMT_UUID=afa8bd80-7d8a-11c9-bef4-08002b102989
VENV=$ROOT/target/venv
PY=$VENV/bin/python
MSRPCD=$ROOT/target/release/msrpcd
MSRPC=$ROOT/target/release/msrpc
HELP="$ROOT/tests/interop/interop.py"

PASSED=0
FAILED=0
FAILS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/msrpc-interop.XXXXXX")
PCAP=$WORK/capture.pcapng
MSRPCD_PID=
AUDIT_PID=
TSHARK_PID=
SAMBA_STARTED=

section() { printf '\n--- %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf 'PASS: %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); FAILS+=("$*"); printf 'FAIL: %s\n' "$*"; }
show() { # show FILE [LINES]: indent the tail of a log
  [ -s "$1" ] && tail -n "${2:-25}" "$1" | sed 's/^/    | /'
  return 0
}
# check NAME CMD...: runs CMD, output to $WORK/NAME.out; pass/fail on its exit status.
check() {
  local name=$1
  shift
  local rc=0
  "$@" >"$WORK/$name.out" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    grep '^note:' "$WORK/$name.out" | sed 's/^/    /'
    pass "$name: $(tail -n 1 "$WORK/$name.out")"
    return 0
  fi
  fail "$name (exit $rc)"
  show "$WORK/$name.out" 40
  return 1
}

summary() {
  printf '\n'
  if [ "$FAILED" -gt 0 ]; then
    printf 'interop failures:\n'
    printf '  - %s\n' "${FAILS[@]}"
  fi
  printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
}

# fatal: a prerequisite is missing; nothing after it can run.
fatal() {
  fail "$*"
  summary
  exit 1
}

stop_all() {
  if [ -n "$AUDIT_PID" ] && kill -0 "$AUDIT_PID" 2>/dev/null; then
    kill "$AUDIT_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$AUDIT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$AUDIT_PID" 2>/dev/null
    wait "$AUDIT_PID" 2>/dev/null
  fi
  AUDIT_PID=
  if [ -n "${ANON_PID:-}" ] && kill -0 "$ANON_PID" 2>/dev/null; then
    kill -9 "$ANON_PID" 2>/dev/null
    wait "$ANON_PID" 2>/dev/null
  fi
  ANON_PID=
  if [ -n "$MSRPCD_PID" ] && kill -0 "$MSRPCD_PID" 2>/dev/null; then
    kill "$MSRPCD_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$MSRPCD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$MSRPCD_PID" 2>/dev/null
    wait "$MSRPCD_PID" 2>/dev/null
  fi
  MSRPCD_PID=
  if [ -n "$SAMBA_STARTED" ]; then
    timeout 20 tests/interop/samba-dcerpcd.sh stop "$WORK/samba" >/dev/null 2>&1
    SAMBA_STARTED=
  fi
  if [ -n "$TSHARK_PID" ] && kill -0 "$TSHARK_PID" 2>/dev/null; then
    # libpcap hands packets over in blocks that the kernel retires on a timeout: let the last
    # ones reach the file (its size stable for 1.5 s, at most 6 s) before stopping tshark.
    local last=-1 size stable=0
    for _ in $(seq 1 12); do
      size=$(stat -c %s "$PCAP" 2>/dev/null || echo 0)
      if [ "$size" = "$last" ]; then stable=$((stable + 1)); else stable=0; fi
      [ "$stable" -ge 3 ] && break
      last=$size
      sleep 0.5
    done
    kill -INT "$TSHARK_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$TSHARK_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$TSHARK_PID" 2>/dev/null
    wait "$TSHARK_PID" 2>/dev/null
  fi
  TSHARK_PID=
}

on_exit() {
  local rc=$?
  stop_all
  if [ "$FAILED" -eq 0 ] && [ "$rc" -eq 0 ] && [ "${INTEROP_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
  else
    echo "interop work directory kept: $WORK"
  fi
}
trap on_exit EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# wait_tcp HOST PORT SECONDS: until something accepts on HOST:PORT.
wait_tcp() {
  local end=$((SECONDS + $3))
  while [ "$SECONDS" -lt "$end" ]; do
    if timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  return 1
}

tcp_in_use() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
# demo_start IP NAME ARG...: msrpcd --demo on IP (port $EPM_PORT) with ARGs, output in
# $WORK/NAME.out/.err; waits (bounded) for its EPM and its rpcecho announcement. Sets DEMO_PID and
# DEMO_ECHO (rpcecho's port); fails (and says why) when either does not come.
DEMO_PID=
DEMO_ECHO=
demo_start() {
  local ip=$1 name=$2 listen=$1
  shift 2
  [ "$EPM_PORT" = 135 ] || listen=$ip:$EPM_PORT
  mkdir -p "$(dirname "$WORK/$name")"
  "$MSRPCD" --listen "$listen" --demo --registration-socket "$WORK/$name.sock" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  DEMO_PID=$!
  DEMO_ECHO=
  if ! wait_tcp "$ip" "$EPM_PORT" 20; then
    fail "msrpcd ($name) did not listen on $ip:$EPM_PORT within 20 s"
    show "$WORK/$name.err"
    return 1
  fi
  for _ in $(seq 1 50); do grep -q '^rpcecho demo on' "$WORK/$name.out" && break; sleep 0.1; done
  DEMO_ECHO=$(sed -n 's/^rpcecho demo on .*:\([0-9]*\)$/\1/p' "$WORK/$name.out" | head -1)
  if [ -z "$DEMO_ECHO" ]; then
    fail "msrpcd ($name) did not announce its rpcecho demo"
    show "$WORK/$name.out"
    return 1
  fi
}
# Section (e8): the calculator hosted out of msrpcd (OUTPROC_IP, OUTPROC_OPEN_IP, its function).
# shellcheck source=tests/interop/dcom_outproc.sh
. "$ROOT/tests/interop/dcom_outproc.sh"
# pid_stop PID: SIGTERM, up to 5 s for it to go, then SIGKILL; reaps it.
pid_stop() {
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
section "peers (software we did not write)"
missing=()
command -v tshark >/dev/null 2>&1 || missing+=("tshark (Debian package tshark)")
command -v rpcclient >/dev/null 2>&1 || missing+=("rpcclient (Debian package smbclient)")
[ -x /usr/libexec/samba/samba-dcerpcd ] || missing+=("/usr/libexec/samba/samba-dcerpcd (Debian package samba)")
command -v python3 >/dev/null 2>&1 || missing+=("python3")
/usr/bin/python3 -c 'import samba.dcerpc.echo' >/dev/null 2>&1 ||
  missing+=("samba.dcerpc.echo for /usr/bin/python3 (Debian package python3-samba)")
if [ ! -x "$PY" ] || ! "$PY" -c 'import impacket' 2>/dev/null; then
  missing+=("Impacket in $VENV (python3 -m venv target/venv && target/venv/bin/pip install impacket==0.13.1)")
fi
for s in rpcdump.py rpcmap.py; do
  [ -f "$VENV/bin/$s" ] || missing+=("$VENV/bin/$s (Impacket's example scripts)")
done
if [ ${#missing[@]} -gt 0 ]; then
  for m in "${missing[@]}"; do echo "missing: $m" >&2; done
  fatal "peers missing: ${missing[*]} (scripts/test.sh installs them)"
fi
echo "tshark: $(tshark --version 2>/dev/null | head -1)"
echo "samba:  $(/usr/libexec/samba/samba-dcerpcd --version 2>/dev/null | head -1)"
echo "impacket: $("$PY" -c 'from impacket import version; print(version.version)')"
if [ -n "${INTEROP_EPM_PORT:-}" ]; then
  EPM_PORT=$INTEROP_EPM_PORT
  echo "NOTE: INTEROP_EPM_PORT: msrpcd's EPM listens on $MSRPCD_IP:$EPM_PORT and the tools are given that port"
elif [ "$(id -u)" = 0 ]; then
  EPM_PORT=135
else
  EPM_PORT=1135
  echo "NOTE: not root: msrpcd's EPM listens on $MSRPCD_IP:$EPM_PORT (not 135) and the tools are given"
  echo "      that port; samba-dcerpcd needs 135 and capturing on lo needs privileges, so expect failures."
fi

# ---------------------------------------------------------------------------------------------
section "(a) release build of msrpcd and msrpc"
if ! timeout 3600 cargo build --release -p msrpcd -p msrpc-cli >"$WORK/build.log" 2>&1; then
  show "$WORK/build.log" 30
  fatal "cargo build --release -p msrpcd -p msrpc-cli failed"
fi
[ -x "$MSRPCD" ] && [ -x "$MSRPC" ] || fatal "the build did not produce target/release/msrpcd and target/release/msrpc"
pass "release build: target/release/msrpcd, target/release/msrpc"

for a in "$MSRPCD_IP:$EPM_PORT" "$SAMBA_IP:135" "$POLICY_IP:$EPM_PORT" "$AUDIT_IP:$EPM_PORT" "$AUTH_IP:$EPM_PORT" \
  "$BIGENDIAN_IP:$EPM_PORT" "$ENUM_IP:$EPM_PORT" "$ANON_IP:$EPM_PORT" "$DCOM_IP:$EPM_PORT" "$DCOM_OPEN_IP:$EPM_PORT" \
  "$OUTPROC_IP:$EPM_PORT" "$OUTPROC_OPEN_IP:$EPM_PORT"; do
  if tcp_in_use "${a%:*}" "${a#*:}"; then
    fatal "$a is already taken by another process (a leftover from an earlier run?); stop it first"
  fi
done

# ---------------------------------------------------------------------------------------------
section "(b) tshark capturing on lo"
FILTER="host $MSRPCD_IP or host $SAMBA_IP or host $NTLM_IP or host $POLICY_IP or host $AUDIT_IP or host $AUTH_IP or host $BIGENDIAN_IP or host $ENUM_IP or host $ANON_IP or host $DCOM_IP or host $DCOM_OPEN_IP or host $OUTPROC_IP or host $OUTPROC_OPEN_IP"
tshark -n -i lo -f "$FILTER" -w "$PCAP" >"$WORK/tshark-capture.log" 2>&1 &
TSHARK_PID=$!
capturing=
for _ in $(seq 1 150); do
  if grep -q "Capturing on" "$WORK/tshark-capture.log" 2>/dev/null; then capturing=1; break; fi
  kill -0 "$TSHARK_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$capturing" ]; then
  pass "tshark capturing on lo ($FILTER)"
else
  show "$WORK/tshark-capture.log"
  fail "tshark did not start capturing on lo within 15 s (root or the wireshark group is needed)"
  kill "$TSHARK_PID" 2>/dev/null
  wait "$TSHARK_PID" 2>/dev/null
  TSHARK_PID=
fi

# ---------------------------------------------------------------------------------------------
section "(c) msrpcd --listen $MSRPCD_IP:$EPM_PORT --demo"
LISTEN=$MSRPCD_IP
[ "$EPM_PORT" = 135 ] || LISTEN=$MSRPCD_IP:$EPM_PORT
"$MSRPCD" --listen "$LISTEN" --demo --registration-socket "$WORK/epm.sock" >"$WORK/msrpcd.log" 2>&1 &
MSRPCD_PID=$!
ECHO_PORT=
if ! wait_tcp "$MSRPCD_IP" "$EPM_PORT" 20; then
  show "$WORK/msrpcd.log"
  fail "msrpcd did not accept on $MSRPCD_IP:$EPM_PORT within 20 s"
fi
# The demo registers rpcecho in the EPM; wait (bounded) until the dump shows it.
for _ in $(seq 1 20); do
  kill -0 "$MSRPCD_PID" 2>/dev/null || break
  if timeout 10 "$MSRPC" dump --json --timeout 3 "$MSRPCD_IP:$EPM_PORT" >"$WORK/msrpcd-dump.json" 2>"$WORK/msrpcd-dump.err" &&
    ECHO_PORT=$(python3 "$HELP" tcp-port "$WORK/msrpcd-dump.json" "$ECHO_UUID" 2>/dev/null); then
    break
  fi
  ECHO_PORT=
  sleep 0.5
done
if [ -n "$ECHO_PORT" ]; then
  pass "msrpcd up; msrpc dump --json lists rpcecho at ncacn_ip_tcp:$MSRPCD_IP[$ECHO_PORT]"
  python3 "$HELP" msrpc-dump "$WORK/msrpcd-dump.json"
else
  show "$WORK/msrpcd-dump.json"
  show "$WORK/msrpcd-dump.err"
  show "$WORK/msrpcd.log"
  fail "msrpc dump --json $MSRPCD_IP:$EPM_PORT never listed rpcecho over ncacn_ip_tcp (msrpcd up 10 s)"
fi

# ---------------------------------------------------------------------------------------------
section "(d) Impacket against msrpcd"
impacket_against_msrpcd() {
  if [ "$EPM_PORT" = 135 ]; then
    rpcdump() { timeout 60 "$PY" "$VENV/bin/rpcdump.py" "$MSRPCD_IP"; }
  else
    # rpcdump.py only knows the EPM on 135 (its -port picks a transport); the same class on 1135.
    rpcdump() {
      timeout 60 "$PY" - "$VENV/bin/rpcdump.py" "$MSRPCD_IP" "$EPM_PORT" <<'PYEOF'
import runpy, sys
from impacket.examples import logger
script, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
logger.init()
mod = runpy.run_path(script, run_name="rpcdump")
cls = mod["RPCDump"]
cls.KNOWN_PROTOCOLS[port] = {"bindstr": "ncacn_ip_tcp:%%s[%d]" % port}
cls(port=port).dump(host, host)
PYEOF
    }
  fi
  rpcdump >"$WORK/rpcdump.out" 2>&1
  echo "rpcdump.py: $(grep -cE '^UUID' "$WORK/rpcdump.out") interfaces, $(grep -E 'Received|No endpoints|Protocol failed' "$WORK/rpcdump.out" | tr -d '\n')"
  check rpcdump-lists-every-entry python3 "$HELP" rpcdump-covers "$WORK/msrpcd-dump.json" "$WORK/rpcdump.out" ||
    show "$WORK/rpcdump.out" 40

  # An ept_lookup walk with max_ents = 1 (Impacket's classes) ends as Windows ends it.
  timeout 60 "$PY" tests/interop/impacket_lookup.py "$MSRPCD_IP" "$EPM_PORT" >"$WORK/msrpcd-walk.json" \
    2>"$WORK/msrpcd-walk.err" || show "$WORK/msrpcd-walk.err"
  check epm-walk-ends-as-windows python3 "$HELP" epm-walk-windows "$WORK/msrpcd-dump.json" "$WORK/msrpcd-walk.json"

  timeout 60 "$PY" "$VENV/bin/rpcmap.py" -auth-level 1 "ncacn_ip_tcp:$MSRPCD_IP[$ECHO_PORT]" \
    >"$WORK/rpcmap-echo.out" 2>&1
  check rpcmap-demo-endpoint python3 "$HELP" rpcmap-lists "$WORK/rpcmap-echo.out" "$ECHO_UUID" "$MGMT_UUID"

  timeout 60 "$PY" "$VENV/bin/rpcmap.py" -auth-level 1 "ncacn_ip_tcp:$MSRPCD_IP[$EPM_PORT]" \
    >"$WORK/rpcmap-epm.out" 2>&1
  check rpcmap-epm-endpoint python3 "$HELP" rpcmap-lists "$WORK/rpcmap-epm.out" "$EPM_UUID" "$MGMT_UUID"

  timeout 120 "$PY" "$VENV/bin/rpcmap.py" -auth-level 1 -uuid "$ECHO_UUID" -brute-opnums -opnum-max 12 \
    "ncacn_ip_tcp:$MSRPCD_IP[$ECHO_PORT]" >"$WORK/rpcmap-opnums.out" 2>&1
  check rpcmap-brute-opnums python3 "$HELP" rpcmap-opnums "$WORK/rpcmap-opnums.out" 10

  echo "impacket_echo.py, explicit port:"
  if timeout 120 "$PY" tests/interop/impacket_echo.py "$MSRPCD_IP" "$ECHO_PORT" 2>&1 |
    tee "$WORK/impacket-echo-port.out" | sed 's/^/    /'; then
    pass "impacket_echo.py $MSRPCD_IP $ECHO_PORT: $(tail -n 1 "$WORK/impacket-echo-port.out")"
  else
    fail "impacket_echo.py $MSRPCD_IP $ECHO_PORT: $(tail -n 1 "$WORK/impacket-echo-port.out")"
  fi
  echo "impacket_echo.py, port from the EPM (epm.hept_map):"
  if timeout 120 "$PY" tests/interop/impacket_echo.py --epm-port "$EPM_PORT" "$MSRPCD_IP" 2>&1 |
    tee "$WORK/impacket-echo-epm.out" | sed 's/^/    /'; then
    pass "impacket_echo.py $MSRPCD_IP (via ept_map): $(tail -n 1 "$WORK/impacket-echo-epm.out")"
  else
    fail "impacket_echo.py $MSRPCD_IP (via ept_map): $(tail -n 1 "$WORK/impacket-echo-epm.out")"
  fi

}
if [ -n "$ECHO_PORT" ]; then
  impacket_against_msrpcd
else
  fail "Impacket checks not run: msrpcd is not serving rpcecho (see (c))"
fi

# ---------------------------------------------------------------------------------------------
section "(d2) Impacket binding msrpcd's EPM with NDR64 only (getArch.py's probe), ept_lookup and rpcecho AddOne in NDR64"
# The msrpcd of (c): its EPM on $MSRPCD_IP:$EPM_PORT, its rpcecho demo found in the lookup.
# The NDR64 ept_lookup answers are in the capture; (f) explains what tshark makes of them.
if [ -n "$ECHO_PORT" ]; then
  if timeout 120 "$PY" tests/interop/impacket_ndr64.py "$MSRPCD_IP" "$EPM_PORT" >"$WORK/impacket-ndr64.out" 2>&1; then
    grep -vE '^entry ' "$WORK/impacket-ndr64.out" | sed 's/^/    /'
    pass "impacket_ndr64.py $MSRPCD_IP $EPM_PORT: $(tail -n 1 "$WORK/impacket-ndr64.out")"
  else
    fail "impacket_ndr64.py $MSRPCD_IP $EPM_PORT: $(tail -n 1 "$WORK/impacket-ndr64.out")"
    show "$WORK/impacket-ndr64.out" 30
  fi
else
  fail "Impacket NDR64 checks not run: msrpcd is not serving rpcecho (see (c))"
fi

# ---------------------------------------------------------------------------------------------
section "(e) msrpc against Samba's samba-dcerpcd on $SAMBA_IP"
if timeout 60 tests/interop/samba-dcerpcd.sh start "$WORK/samba" "$SAMBA_IP" >"$WORK/samba-start.out" 2>&1; then
  SAMBA_STARTED=1
  pass "samba-dcerpcd serving its EPM on $SAMBA_IP:135"
  timeout 30 rpcclient -s "$WORK/samba/smb.conf" -U% "ncacn_ip_tcp:$SAMBA_IP[135]" -c epmlookup \
    >"$WORK/rpcclient-epm.out" 2>&1 || fail "rpcclient epmlookup exited $?"
  echo "rpcclient epmlookup: $(grep -c abstract_syntax "$WORK/rpcclient-epm.out") entries"
  # msrpc authenticated to Samba's EPM (mgmt inq_if_ids on 135), NTLM and SPNEGO (alter_context
  # with both mechListMICs), signed and sealed: every response's signature verified by msrpc.
  # The passdb user is the Unix account daemon (Debian has it).
  if printf 'Samba-pw1\nSamba-pw1\n' | timeout 30 pdbedit -s "$WORK/samba/smb.conf" -a -u daemon -t \
    >"$WORK/pdbedit.out" 2>&1; then
    # Every level (connect: the association only; packet and integrity: signed; privacy:
    # sealed), in little-endian and, with the binding option `bigendian`, big-endian PDUs.
    for t in ntlm spnego; do
      for l in connect packet integrity privacy; do
        for e in "" ",bigendian"; do
          check "msrpc-samba-$t-$l${e/,/-}" env MSRPC_PASSWORD=Samba-pw1 "$MSRPC" --user daemon \
            --domain MSRPCSAMBA --auth-type "$t" --auth-level "$l" call "ncacn_ip_tcp:$SAMBA_IP[135$e]" mgmt-if-ids
        done
      done
    done
    if env MSRPC_PASSWORD=wrong "$MSRPC" --user daemon --domain MSRPCSAMBA --auth-type spnego \
      call "ncacn_ip_tcp:$SAMBA_IP[135]" mgmt-if-ids >"$WORK/msrpc-samba-wrong.out" 2>&1; then
      fail "Samba answered msrpc's SPNEGO call with a wrong password"
    else
      pass "Samba refuses msrpc's SPNEGO call with a wrong password: $(tail -n 1 "$WORK/msrpc-samba-wrong.out")"
    fi
  else
    fail "pdbedit -a -u daemon failed"
    show "$WORK/pdbedit.out"
  fi
  # msrpc's anonymous logon (a null session to Samba), signed and sealed, NTLM and SPNEGO.
  for t in ntlm spnego; do
    for l in integrity privacy; do
      check "msrpc-samba-anonymous-$t-$l" "$MSRPC" --anonymous --auth-type "$t" --auth-level "$l" \
        call "ncacn_ip_tcp:$SAMBA_IP[135]" mgmt-if-ids
    done
  done
  if timeout 30 "$MSRPC" dump --json "$SAMBA_IP" >"$WORK/samba-dump.json" 2>"$WORK/samba-dump.err"; then
    pass "msrpc dump --json $SAMBA_IP exits 0"
    if timeout 30 "$MSRPC" dump "$SAMBA_IP" >"$WORK/samba-dump.txt" 2>&1; then
      check samba-dump-text python3 "$HELP" text-lists "$WORK/samba-dump.json" "$WORK/samba-dump.txt"
    else
      fail "msrpc dump $SAMBA_IP (text) exited $?"
      show "$WORK/samba-dump.txt"
    fi
    timeout 60 "$PY" tests/interop/impacket_lookup.py "$SAMBA_IP" >"$WORK/samba-walk.json" 2>"$WORK/samba-walk.err" ||
      show "$WORK/samba-walk.err"
    check samba-epm-same-as-rpcclient python3 "$HELP" epm-same "$WORK/samba-dump.json" \
      "$WORK/rpcclient-epm.out" "$WORK/samba-walk.json"
    # One of Samba's TCP endpoints, from the dump: lsarpc's (samr and dssetup share it).
    SPORT=$(python3 "$HELP" tcp-port "$WORK/samba-dump.json" 12345778-1234-abcd-ef00-0123456789ab "$SAMBA_IP" 2>/dev/null)
    if [ -z "$SPORT" ]; then
      fail "msrpc dump of $SAMBA_IP has no ncacn_ip_tcp entry for lsarpc"
    else
      B="ncacn_ip_tcp:$SAMBA_IP[$SPORT]"
      if timeout 30 "$MSRPC" call "$B" mgmt-is-listening >"$WORK/mgmt-listening.out" 2>&1; then
        pass "msrpc call $B mgmt-is-listening: $(tr '\n' ' ' <"$WORK/mgmt-listening.out")"
      else
        fail "msrpc call $B mgmt-is-listening exited $?"
        show "$WORK/mgmt-listening.out"
      fi
      if timeout 30 "$MSRPC" call "$B" mgmt-if-ids >"$WORK/mgmt-if-ids.out" 2>&1; then
        check samba-mgmt-if-ids python3 "$HELP" if-ids-cover "$WORK/mgmt-if-ids.out" "$WORK/samba-dump.json" "$SPORT"
      else
        fail "msrpc call $B mgmt-if-ids exited $?"
        show "$WORK/mgmt-if-ids.out"
      fi
      BB="ncacn_ip_tcp:$SAMBA_IP[$SPORT,bigendian]"
      if timeout 30 "$MSRPC" call "$BB" mgmt-if-ids >"$WORK/mgmt-if-ids-be.out" 2>&1; then
        check samba-mgmt-if-ids-bigendian python3 "$HELP" if-ids-cover "$WORK/mgmt-if-ids-be.out" \
          "$WORK/samba-dump.json" "$SPORT"
      else
        fail "msrpc call $BB mgmt-if-ids exited $?"
        show "$WORK/mgmt-if-ids-be.out"
      fi
    fi
  else
    fail "msrpc dump --json $SAMBA_IP exited $?"
    show "$WORK/samba-dump.err"
  fi
else
  fail "samba-dcerpcd did not start on $SAMBA_IP:135"
  show "$WORK/samba-start.out"
  show "$WORK/samba/samba-dcerpcd.out"
fi

# ---------------------------------------------------------------------------------------------
section "(e2) Impacket's NTLM client against our NTLMv2 acceptor (rpcecho at integrity and privacy)"
if timeout 1800 cargo build --release -p msrpc-ntlm --example ntlm_echo_server >"$WORK/ntlm-build.log" 2>&1; then
  "$ROOT/target/release/examples/ntlm_echo_server" "$NTLM_IP:$NTLM_PORT" alice 'S3cret!pw' 120 \
    >"$WORK/ntlm-server.log" 2>&1 &
  NTLM_PID=$!
  if wait_tcp "$NTLM_IP" "$NTLM_PORT" 20; then
    check impacket-ntlm "$PY" tests/interop/impacket_ntlm.py "$NTLM_IP" "$NTLM_PORT" alice 'S3cret!pw'
    # CONNECT answered; PKT (Impacket sends its requests unsigned) refused.
    check impacket-auth-levels "$PY" tests/interop/impacket_auth_levels.py "$NTLM_IP" "$NTLM_PORT" alice 'S3cret!pw'
    for level in integrity privacy; do
      check "msrpc-ntlm-$level" env MSRPC_PASSWORD='S3cret!pw' "$MSRPC" --user alice --auth-level "$level" \
        call "ncacn_ip_tcp:$NTLM_IP[$NTLM_PORT]" echo-data --len 9000
    done
    if env MSRPC_PASSWORD=wrong "$MSRPC" --user alice call "ncacn_ip_tcp:$NTLM_IP[$NTLM_PORT]" echo-add-one 1 \
      >"$WORK/msrpc-ntlm-wrong.out" 2>&1; then
      fail "msrpc with a wrong NTLM password was not refused"
    else
      pass "msrpc with a wrong NTLM password is refused (exit $?)"
    fi
  else
    fail "ntlm_echo_server did not listen on $NTLM_IP:$NTLM_PORT"
    show "$WORK/ntlm-server.log"
  fi
  kill "$NTLM_PID" 2>/dev/null
  wait "$NTLM_PID" 2>/dev/null
else
  fail "cargo build --release -p msrpc-ntlm --example ntlm_echo_server failed"
  show "$WORK/ntlm-build.log" 30
fi

section "(e3) msrpcd's security policy against Impacket (rpcecho privacy-only, epm-lookup = refuse)"
# Its own msrpcd on $POLICY_IP: rpcecho (the demo) requires PKT_PRIVACY and endpoint lookups are
# refused. Impacket's client must get rpc_s_access_denied unauthenticated and at PKT_INTEGRITY,
# be served at PKT_PRIVACY, and rpcdump.py must be refused.
POLICY_ECHO_PORT=
policy_against_impacket() {
  local dir=$WORK/policy
  mkdir -p "$dir"
  cat >"$dir/msrpcd.toml" <<TOML
listen = ["$POLICY_IP:$EPM_PORT"]
ports = "$POLICY_PORTS"
demo = true
registration-socket = "$dir/run/epm.sock"

[policy]
epm-lookup = "refuse"

[[policy.interface]]
uuid = "$ECHO_UUID"
min-auth-level = "privacy"
TOML
  if ! printf 'S3cret!pw\n' | "$MSRPC" users add "$dir/users" alice >"$dir/users.out" 2>&1; then
    fail "msrpc users add (for the policy msrpcd)"
    show "$dir/users.out"
    return
  fi
  "$MSRPCD" --config "$dir/msrpcd.toml" --users "$dir/users" >"$dir/msrpcd.out" 2>"$dir/msrpcd.err" &
  local pid=$!
  if wait_tcp "$POLICY_IP" "$EPM_PORT" 20; then
    for _ in $(seq 1 50); do grep -q '^rpcecho demo on' "$dir/msrpcd.out" && break; sleep 0.1; done
    POLICY_ECHO_PORT=$(sed -n 's/^rpcecho demo on .*:\([0-9]*\)$/\1/p' "$dir/msrpcd.out" | head -1)
    if [ -n "$POLICY_ECHO_PORT" ]; then
      check impacket-policy timeout 180 "$PY" tests/interop/impacket_policy.py "$POLICY_IP" "$EPM_PORT" \
        "$POLICY_ECHO_PORT" alice 'S3cret!pw' "$VENV/bin/rpcdump.py"
      local refused
      refused=$(grep -c 'call refused by the security policy' "$dir/msrpcd.err")
      if [ "$refused" -ge 3 ] && grep -q 'reason="policy_min_level"' "$dir/msrpcd.err" &&
        grep -q 'reason="policy_epm_lookup"' "$dir/msrpcd.err"; then
        pass "msrpcd logged $refused policy refusals (policy_min_level, policy_epm_lookup)"
      else
        fail "msrpcd did not log the policy refusals"
        show "$dir/msrpcd.err"
      fi
    else
      fail "the policy msrpcd did not announce its rpcecho demo"
      show "$dir/msrpcd.out"
    fi
  else
    fail "the policy msrpcd did not listen on $POLICY_IP:$EPM_PORT"
    show "$dir/msrpcd.err"
  fi
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
policy_against_impacket
# ---------------------------------------------------------------------------------------------
section "(e4) Samba's rpcclient and Impacket (SPNEGO) against msrpcd --users on $AUTH_IP"
# rpcclient's binding options pick the auth type (ntlm: WINNT 0x0a, spnego: GSS_NEGOTIATE 0x09,
# which Samba's client completes with an alter_context carrying the mechListMIC) and the level
# (sign: PKT_INTEGRITY, seal: PKT_PRIVACY); epmlookup then walks msrpcd's EPM one element per
# call over the protected association.
auth_against_msrpcd() {
  local users="$WORK/auth-users" conf="$WORK/rpcclient.conf" listen=$AUTH_IP pid=""
  [ "$EPM_PORT" = 135 ] || listen=$AUTH_IP:$EPM_PORT
  printf '%s\n' "$AUTH_PASSWORD" | "$MSRPC" users add "$users" "$AUTH_USER" >"$WORK/auth-users.out" 2>&1 ||
    { fail "msrpc users add failed"; show "$WORK/auth-users.out"; return; }
  printf '[global]\n  workgroup = WORKGROUP\n' >"$conf"
  "$MSRPCD" --listen "$listen" --users "$users" --demo --registration-socket "$WORK/auth-epm.sock" \
    >"$WORK/msrpcd-auth.log" 2>&1 &
  pid=$!
  if ! wait_tcp "$AUTH_IP" "$EPM_PORT" 20; then
    fail "msrpcd --users did not accept on $AUTH_IP:$EPM_PORT within 20 s"
    show "$WORK/msrpcd-auth.log"
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    return
  fi
  for _ in $(seq 1 20); do
    if timeout 10 "$MSRPC" dump --json --timeout 3 "$AUTH_IP:$EPM_PORT" >"$WORK/auth-dump.json" 2>/dev/null &&
      AUTH_ECHO_PORT=$(python3 "$HELP" tcp-port "$WORK/auth-dump.json" "$ECHO_UUID" 2>/dev/null); then
      break
    fi
    AUTH_ECHO_PORT=
    sleep 0.5
  done
  local auth lvl name
  for auth in ntlm spnego; do
    for lvl in sign seal; do
      name="rpcclient-$auth-$lvl"
      if timeout 60 rpcclient -s "$conf" -U "$AUTH_USER%$AUTH_PASSWORD" \
        "ncacn_ip_tcp:$AUTH_IP[$auth,$lvl]" -c epmlookup >"$WORK/$name.out" 2>&1 &&
        grep -q "abstract_syntax=$ECHO_UUID" "$WORK/$name.out" &&
        [ "$(grep -c "abstract_syntax=$ECHO_UUID" "$WORK/$name.out")" -lt 10 ]; then
        pass "$name: epmlookup over msrpcd's EPM lists rpcecho ($(grep -c abstract_syntax "$WORK/$name.out") entries)"
      else
        fail "$name: rpcclient epmlookup against msrpcd (exit status or output wrong)"
        show "$WORK/$name.out" 15
      fi
    done
  done
  # msrpcd logged each as an authenticated association of the right type and level.
  local t l
  for t in WINNT GSS_NEGOTIATE; do
    for l in PKT_INTEGRITY PKT_PRIVACY; do
      if grep "authentication" "$WORK/msrpcd-auth.log" | grep "auth_type=AuthType::$t " |
        grep "level=AuthLevel::$l " | grep -q "user=Some(\"WORKGROUP\\\\\\\\$AUTH_USER\")"; then
        pass "msrpcd authenticated rpcclient's $t at $l as WORKGROUP\\$AUTH_USER"
      else
        fail "msrpcd did not log rpcclient's $t authentication at $l"
        grep authentication "$WORK/msrpcd-auth.log" | tail -n 8 | sed 's/^/    | /'
      fi
    done
  done
  for auth in ntlm spnego; do
    if timeout 60 rpcclient -s "$conf" -U "$AUTH_USER%wrong-password" \
      "ncacn_ip_tcp:$AUTH_IP[$auth,seal]" -c epmlookup >"$WORK/rpcclient-$auth-wrong.out" 2>&1 &&
      grep -q "abstract_syntax=" "$WORK/rpcclient-$auth-wrong.out"; then
      fail "rpcclient $auth with a wrong password was answered"
    elif grep -q "ACCESS_DENIED" "$WORK/rpcclient-$auth-wrong.out"; then
      pass "rpcclient $auth with a wrong password is refused (NT_STATUS_ACCESS_DENIED)"
    else
      fail "rpcclient $auth with a wrong password: no access denied"
      show "$WORK/rpcclient-$auth-wrong.out" 10
    fi
  done
  if [ -n "$AUTH_ECHO_PORT" ]; then
    for l in integrity privacy; do
      check "msrpc-spnego-$l" env MSRPC_PASSWORD="$AUTH_PASSWORD" "$MSRPC" --user "$AUTH_USER" --auth-type spnego \
        --auth-level "$l" call "ncacn_ip_tcp:$AUTH_IP[$AUTH_ECHO_PORT]" echo-data --len 9000
    done
    check impacket-spnego "$PY" tests/interop/impacket_spnego.py "$AUTH_IP" "$AUTH_ECHO_PORT" \
      "$AUTH_USER" "$AUTH_PASSWORD"
    grep -E '^(PASS|FAIL)' "$WORK/impacket-spnego.out" | sed 's/^/    /'
  else
    fail "msrpcd --users --demo never listed rpcecho (impacket_spnego.py not run)"
    show "$WORK/msrpcd-auth.log"
  fi
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
auth_against_msrpcd
# ---------------------------------------------------------------------------------------------
section "(e5) Samba's Python rpcecho client against msrpcd --users on $BIGENDIAN_IP, both byte orders"
# python3-samba's pidl-generated client (Samba's NDR engine and gensec) with bindings
# [bigendian,AUTH,LEVEL] and [AUTH,LEVEL], AUTH ntlm / spnego, LEVEL connect / packet / sign /
# seal: every rpcecho check of samba_py_bigendian.py, then a wrong password refused. Big-endian
# signed or sealed calls failed (NT_STATUS_RPC_CALL_FAILED) while msrpcd read the verification
# trailer in the request's byte order.
bigendian_against_msrpcd() {
  local dir=$WORK/bigendian
  mkdir -p "$dir"
  printf '%s\n' "$AUTH_PASSWORD" | "$MSRPC" users add "$dir/users" "$AUTH_USER" >"$dir/users.out" 2>&1 ||
    { fail "msrpc users add (for the big-endian msrpcd)"; show "$dir/users.out"; return; }
  if demo_start "$BIGENDIAN_IP" bigendian/msrpcd --users "$dir/users"; then
    BIGENDIAN_ECHO_PORT=$DEMO_ECHO
    check samba-py-bigendian timeout 300 /usr/bin/python3 tests/interop/samba_py_bigendian.py \
      "$BIGENDIAN_IP" "$BIGENDIAN_ECHO_PORT" "$AUTH_USER" "$AUTH_PASSWORD"
    grep -E '^(PASS|FAIL)' "$WORK/samba-py-bigendian.out" | sed 's/^/    /'
  fi
  pid_stop "$DEMO_PID"
}
bigendian_against_msrpcd
# ---------------------------------------------------------------------------------------------
section "(e6) Samba's Python rpcecho client (python3-samba) against msrpcd --demo on $ENUM_IP"
# Samba's pidl-generated client sends TestEnum with enum values echo.idl does not name (e1 = 76,
# up to the wire widths); an NDR enum is an integer on the wire, so the server must hand them
# back as Samba's dcesrv_echo_TestEnum does (foo2.e1 set to ECHO_ENUM2, the rest unchanged).
samba_py_against_msrpcd() {
  if demo_start "$ENUM_IP" msrpcd-enum; then
    ENUM_ECHO_PORT=$DEMO_ECHO
    check samba-py-echo-enums timeout 60 /usr/bin/python3 tests/interop/samba_py_echo.py "$ENUM_IP" "$ENUM_ECHO_PORT"
    grep -E '^(PASS|FAIL)' "$WORK/samba-py-echo-enums.out" | sed 's/^/    /'
  fi
  pid_stop "$DEMO_PID"
}
samba_py_against_msrpcd
# ---------------------------------------------------------------------------------------------
section "(e7) Impacket's DCOM client (DCOMConnection) against msrpcd --users --demo on $DCOM_IP and $DCOM_OPEN_IP"
# tests/interop/impacket_dcom.py: ServerAlive2; DCOMConnection + CoCreateInstanceEx of the demo
# calculator (docs/dcom.md) + ICalculator calls (one returning another object) + RemQueryInterface
# + RemAddRef + RemRelease at integrity and privacy; activation at connect and none refused with
# E_ACCESSDENIED (the default minimum level, integrity) and audited. On $DCOM_OPEN_IP ([dcom]
# min-activation-level = "none", ping timeout 3 s): the same session at none, and an object kept
# alive by Impacket's pingServer() then collected once the pings stop.
dcom_against_impacket() {
  local dir=$WORK/dcom
  mkdir -p "$dir"
  if [ "$EPM_PORT" != 135 ]; then
    fail "DCOM: Impacket's DCOMConnection only dials port 135 (root needed); msrpcd is on $EPM_PORT"
    return
  fi
  if ! printf 'S3cret!pw\n' | "$MSRPC" users add "$dir/users" alice >"$dir/users.out" 2>&1; then
    fail "msrpc users add (for the DCOM msrpcd)"
    show "$dir/users.out"
    return
  fi
  cat >"$dir/open.toml" <<TOML
listen = ["$DCOM_OPEN_IP:135"]
demo = true
registration-socket = "$dir/open/epm.sock"

[dcom]
min-activation-level = "none"
ping-period = 1
missed-pings = 3
gc-interval = 1
TOML
  "$MSRPCD" --listen "$DCOM_IP" --users "$dir/users" --demo --registration-socket "$dir/epm.sock" \
    --audit-log "$dir/audit.json" >"$dir/msrpcd.out" 2>"$dir/msrpcd.err" &
  local pid=$!
  "$MSRPCD" --config "$dir/open.toml" --users "$dir/users" >"$dir/open.out" 2>"$dir/open.err" &
  local open_pid=$!
  if wait_tcp "$DCOM_IP" 135 20 && wait_tcp "$DCOM_OPEN_IP" 135 20; then
    for _ in $(seq 1 50); do
      grep -q '^DCOM object exporter on' "$dir/msrpcd.out" && grep -q '^DCOM object exporter on' "$dir/open.out" && break
      sleep 0.1
    done
    DCOM_PORTS=$(sed -n 's/^DCOM object exporter on .*:\([0-9]*\)$/\1/p' "$dir/msrpcd.out" "$dir/open.out" | sort -u | tr '\n' ' ')
    check impacket-dcom timeout 300 "$PY" tests/interop/impacket_dcom.py "$DCOM_IP" alice 'S3cret!pw' \
      integrity privacy --refused connect none
    grep -E '^(PASS|FAIL)' "$WORK/impacket-dcom.out" | sed 's/^/    /'
    check impacket-dcom-open timeout 300 "$PY" tests/interop/impacket_dcom.py "$DCOM_OPEN_IP" alice 'S3cret!pw' \
      none --gc integrity
    grep -E '^(PASS|FAIL)' "$WORK/impacket-dcom-open.out" | sed 's/^/    /'
    # The refusals below the minimum level reached the audit log (Windows' event 10036).
    local refused=0
    for _ in $(seq 1 30); do
      refused=$(grep -c '"reason":"dcom_activation_level"' "$dir/audit.json" 2>/dev/null)
      [ "$refused" -ge 2 ] && break
      sleep 0.1
    done
    if [ "$refused" -ge 2 ] && grep -q 'DCOM activation refused' "$dir/msrpcd.err"; then
      pass "msrpcd audited $refused activations below the minimum level (policy deny, dcom_activation_level)"
    else
      fail "msrpcd did not audit the activations below the minimum level ($refused events)"
      show "$dir/msrpcd.err"
    fi
    if grep -q 'DCOM garbage collection collected=1 objects=0 ipids=0 sets=0' "$dir/open.err"; then
      pass "msrpcd collected the unpinged object; objects, IPIDs and ping sets back to zero"
    else
      fail "msrpcd did not log the collection of the unpinged object"
      show "$dir/open.err"
    fi
  else
    fail "the DCOM msrpcd did not listen on $DCOM_IP:135 and $DCOM_OPEN_IP:135"
    show "$dir/msrpcd.err"
    show "$dir/open.err"
  fi
  local p
  for p in "$pid" "$open_pid"; do
    kill "$p" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
}
dcom_against_impacket
# ---------------------------------------------------------------------------------------------
section "(e8) Impacket's DCOM client against the calculator hosted by msrpc-calc-service behind msrpcd on $OUTPROC_IP and $OUTPROC_OPEN_IP"
dcom_outproc_against_impacket
# ---------------------------------------------------------------------------------------------
section "(g) audit: msrpcd --audit-log --metrics; Impacket's probing raises alerts, one rpcdump only the low epm_full_walk"
# A daemon of its own (its log holds only this section's traffic), with NTLM accounts.
audit_section() {
  local log=$WORK/audit.json users=$WORK/audit-users echo_port from
  printf 'S3cret!pw\n' | "$MSRPC" users add "$users" alice >"$WORK/audit-users.out" 2>&1 ||
    { fail "msrpc users add failed"; show "$WORK/audit-users.out"; return; }
  "$MSRPCD" --listen "$AUDIT_IP:$EPM_PORT" --demo --users "$users" --registration-socket "$WORK/audit.sock" \
    --audit-log "$log" --metrics "$AUDIT_IP:$AUDIT_METRICS_PORT" >"$WORK/audit-msrpcd.log" 2>&1 &
  AUDIT_PID=$!
  if ! wait_tcp "$AUDIT_IP" "$EPM_PORT" 20 || ! wait_tcp "$AUDIT_IP" "$AUDIT_METRICS_PORT" 5; then
    fail "msrpcd --audit-log --metrics did not accept on $AUDIT_IP:$EPM_PORT and :$AUDIT_METRICS_PORT within 20 s"
    show "$WORK/audit-msrpcd.log"
    return
  fi
  # One rpcdump.py (as (d) runs it) walks the whole endpoint map: endpoint-map enumeration
  # (T1046), low severity, whatever its tool (issue 13's rule), and nothing else.
  if [ "$EPM_PORT" = 135 ]; then
    timeout 60 "$PY" "$VENV/bin/rpcdump.py" "$AUDIT_IP" >"$WORK/audit-rpcdump.out" 2>&1
  else
    timeout 60 "$PY" - "$VENV/bin/rpcdump.py" "$AUDIT_IP" "$EPM_PORT" >"$WORK/audit-rpcdump.out" 2>&1 <<'PYEOF'
import runpy, sys
from impacket.examples import logger
script, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
logger.init()
mod = runpy.run_path(script, run_name="rpcdump")
cls = mod["RPCDump"]
cls.KNOWN_PROTOCOLS[port] = {"bindstr": "ncacn_ip_tcp:%%s[%d]" % port}
cls(port=port).dump(host, host)
PYEOF
  fi
  grep -q '^UUID' "$WORK/audit-rpcdump.out" || { fail "rpcdump.py against the audited msrpcd listed nothing"; show "$WORK/audit-rpcdump.out"; }
  sleep 1 # the writer flushes when its queue is empty
  check audit-rpcdump-walk python3 "$HELP" audit-alerts "$log" 1 only epm_full_walk
  sed 's/^/    /' "$WORK/audit-rpcdump-walk.out"
  echo_port=$(grep -oE "rpcecho demo on $AUDIT_IP:[0-9]+" "$WORK/audit-msrpcd.log" | grep -oE '[0-9]+$' | head -1)
  [ -n "$echo_port" ] || { fail "the audited msrpcd did not announce its rpcecho demo"; return; }

  # rpcmap.py -brute-uuids: a connection and a bind per known UUID (interface brute force).
  from=$(($(wc -l <"$log") + 1))
  timeout 300 "$PY" "$VENV/bin/rpcmap.py" -auth-level 1 -brute-uuids "ncacn_ip_tcp:$AUDIT_IP[$EPM_PORT]" \
    >"$WORK/audit-rpcmap-uuids.out" 2>&1
  echo "rpcmap.py -brute-uuids: $(grep -c '^Protocol' "$WORK/audit-rpcmap-uuids.out") interfaces found"
  sleep 1
  check audit-interface-brute-force python3 "$HELP" audit-alerts "$log" "$from" interface_brute_force
  sed 's/^/    /' "$WORK/audit-interface-brute-force.out" | head -12

  # rpcmap.py -brute-opnums up to 40 on rpcecho (10 operations): op_rng faults for 30 opnums.
  from=$(($(wc -l <"$log") + 1))
  timeout 300 "$PY" "$VENV/bin/rpcmap.py" -auth-level 1 -uuid "$ECHO_UUID" -brute-opnums -opnum-max 40 \
    "ncacn_ip_tcp:$AUDIT_IP[$echo_port]" >"$WORK/audit-rpcmap-opnums.out" 2>&1
  sleep 1
  check audit-opnum-brute-force python3 "$HELP" audit-alerts "$log" "$from" opnum_brute_force
  sed 's/^/    /' "$WORK/audit-opnum-brute-force.out" | head -12

  # A wrong-password burst (6 Impacket NTLM logons as alice), then a spray (5 users).
  from=$(($(wc -l <"$log") + 1))
  check audit-guess-refused "$PY" tests/interop/impacket_audit.py "$AUDIT_IP" "$echo_port" guess alice 6
  sleep 1
  check audit-password-guessing python3 "$HELP" audit-alerts "$log" "$from" password_guessing
  sed 's/^/    /' "$WORK/audit-password-guessing.out" | head -12
  from=$(($(wc -l <"$log") + 1))
  check audit-spray-refused "$PY" tests/interop/impacket_audit.py "$AUDIT_IP" "$echo_port" spray 5
  sleep 1
  check audit-password-spraying python3 "$HELP" audit-alerts "$log" "$from" password_spraying
  sed 's/^/    /' "$WORK/audit-password-spraying.out" | head -12

  check audit-metrics python3 "$HELP" metrics "http://$AUDIT_IP:$AUDIT_METRICS_PORT/metrics" \
    interface_brute_force opnum_brute_force password_guessing password_spraying
  sed 's/^/    /' "$WORK/audit-metrics.out"
  kill "$AUDIT_PID" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$AUDIT_PID" 2>/dev/null || break; sleep 0.1; done
  wait "$AUDIT_PID" 2>/dev/null
  AUDIT_PID=
}
if [ -x "$MSRPCD" ] && [ -x "$MSRPC" ]; then
  audit_section
else
  fail "audit checks not run: no release build (see (a))"
fi

# ---------------------------------------------------------------------------------------------
section "(h) anonymous NTLM (Impacket's default: no credentials, privacy) against msrpcd on $ANON_IP"
# Daemons of their own on $ANON_IP, one after the other: a default `msrpcd --demo` (no --users),
# one with --users, two with `[security] allow-anonymous = false` (without and with --users) and
# one whose [policy] says restrict-remote-clients = "authenticated" (with an audit log).
ANON_PID=
ANON_ECHO=
# anon_start NAME ARG...: msrpcd --demo on $ANON_IP with ARGs; sets ANON_PID and ANON_ECHO.
anon_start() {
  local name=$1
  shift
  demo_start "$ANON_IP" "anon/$name" "$@"
  local rc=$?
  ANON_PID=$DEMO_PID
  ANON_ECHO=$DEMO_ECHO
  return $rc
}
anon_stop() {
  pid_stop "$ANON_PID"
  ANON_PID=
}
# anon_rpcmap NAME PORT: Impacket's rpcmap.py with its defaults (anonymous NTLM at privacy).
anon_rpcmap() {
  timeout 60 "$PY" "$VENV/bin/rpcmap.py" "ncacn_ip_tcp:$ANON_IP[$2]" >"$WORK/anon/$1.rpcmap" 2>&1
}
anonymous_section() {
  local d=$WORK/anon users=$WORK/anon/users t l
  mkdir -p "$d"
  printf 'S3cret!pw\n' | "$MSRPC" users add "$users" alice >"$d/users.out" 2>&1 ||
    { fail "msrpc users add (for the anonymous section)"; show "$d/users.out"; return; }
  printf '[security]\nallow-anonymous = false\n' >"$d/off.toml"
  printf '[policy]\nrestrict-remote-clients = "authenticated"\n' >"$d/restrict.toml"

  # (a) A default msrpcd --demo: no --users, nothing configured. rpcmap.py's defaults list the
  # endpoint mapper's interfaces on 135 and the demo's on its port (before anonymous logons,
  # both failed with "Authentication type not recognized").
  if anon_start default; then
    anon_rpcmap default-epm "$EPM_PORT"
    check anon-rpcmap-default-epm python3 "$HELP" rpcmap-lists "$d/default-epm.rpcmap" "$EPM_UUID" "$MGMT_UUID"
    anon_rpcmap default-echo "$ANON_ECHO"
    check anon-rpcmap-default-echo python3 "$HELP" rpcmap-lists "$d/default-echo.rpcmap" "$ECHO_UUID" "$MGMT_UUID"
    # (c) rpcecho anonymously, NTLM and SPNEGO, at connect, integrity and privacy.
    check anon-impacket-default "$PY" tests/interop/impacket_anonymous.py "$ANON_IP" "$ANON_ECHO" served
    grep -E '^(PASS|FAIL)' "$WORK/anon-impacket-default.out" | sed 's/^/    /'
    # Our client logs on anonymously too.
    for t in ntlm spnego; do
      for l in integrity privacy; do
        check "anon-msrpc-$t-$l" "$MSRPC" --anonymous --auth-type "$t" --auth-level "$l" \
          call "ncacn_ip_tcp:$ANON_IP[$ANON_ECHO]" echo-data --len 9000
      done
    done
    anon_stop
    if grep 'authentication' "$d/default.err" | grep 'level=AuthLevel::PKT_PRIVACY' |
      grep -q 'user=Some("ANONYMOUS LOGON") error=None'; then
      pass "msrpcd (no --users) logged rpcmap.py's logon as ANONYMOUS LOGON at PKT_PRIVACY"
    else
      fail "msrpcd (no --users) did not log an anonymous logon at PKT_PRIVACY"
      grep authentication "$d/default.err" | tail -n 5 | sed 's/^/    | /'
    fi
  fi

  # (b) The same with --users: anonymous and named logons side by side.
  if anon_start users --users "$users"; then
    anon_rpcmap users-epm "$EPM_PORT"
    check anon-rpcmap-users-epm python3 "$HELP" rpcmap-lists "$d/users-epm.rpcmap" "$EPM_UUID" "$MGMT_UUID"
    anon_rpcmap users-echo "$ANON_ECHO"
    check anon-rpcmap-users-echo python3 "$HELP" rpcmap-lists "$d/users-echo.rpcmap" "$ECHO_UUID" "$MGMT_UUID"
    check anon-impacket-users "$PY" tests/interop/impacket_anonymous.py "$ANON_IP" "$ANON_ECHO" served
    check anon-impacket-users-named "$PY" tests/interop/impacket_ntlm.py "$ANON_IP" "$ANON_ECHO" alice 'S3cret!pw'
    anon_stop
  fi

  # (d) [security] allow-anonymous = false: refused. Without --users nothing is offered (bind_nak
  # "authentication type not recognized", as before); with --users the logon fails.
  if anon_start off --config "$d/off.toml"; then
    anon_rpcmap off-epm "$EPM_PORT"
    if grep -q 'Authentication type not recognized' "$d/off-epm.rpcmap" && ! grep -q '^UUID' "$d/off-epm.rpcmap"; then
      pass "allow-anonymous = false: rpcmap.py refused ($(grep -m1 'Protocol failed' "$d/off-epm.rpcmap"))"
    else
      fail "allow-anonymous = false: rpcmap.py was not refused with authentication type not recognized"
      show "$d/off-epm.rpcmap" 10
    fi
    check anon-impacket-off "$PY" tests/interop/impacket_anonymous.py "$ANON_IP" "$ANON_ECHO" refused
    anon_stop
  fi
  if anon_start off-users --config "$d/off.toml" --users "$users"; then
    check anon-impacket-off-users "$PY" tests/interop/impacket_anonymous.py "$ANON_IP" "$ANON_ECHO" refused
    check anon-impacket-off-users-named "$PY" tests/interop/impacket_ntlm.py "$ANON_IP" "$ANON_ECHO" alice 'S3cret!pw'
    anon_stop
    if grep 'authentication' "$d/off-users.err" | grep 'user=Some("ANONYMOUS LOGON")' |
      grep -q 'anonymous logons are not accepted'; then
      pass "allow-anonymous = false: msrpcd logged the refused anonymous logons"
    else
      fail "allow-anonymous = false: no refused anonymous logon in msrpcd's log"
      grep authentication "$d/off-users.err" | tail -n 5 | sed 's/^/    | /'
    fi
  fi

  # (e) restrict-remote-clients = "authenticated": an anonymous caller is not authenticated (as
  # for Windows' RestrictRemoteClients); its logon holds, its calls to rpcecho are refused with
  # rpc_s_access_denied, and the audit log names it and the policy's reason.
  if anon_start restrict --config "$d/restrict.toml" --audit-log "$d/restrict-audit.json"; then
    check anon-impacket-restrict "$PY" tests/interop/impacket_anonymous.py "$ANON_IP" "$ANON_ECHO" denied
    sleep 1 # the audit writer flushes when its queue is empty
    anon_stop
    check anon-audit-restrict python3 - "$d/restrict-audit.json" "$ECHO_UUID" <<'PYEOF'
import json, sys
path, echo = sys.argv[1], sys.argv[2]
events = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
anon = "ANONYMOUS LOGON"
auths = [e for e in events if e.get("event") == "auth"]
denies = [e for e in events if e.get("event") == "policy" and e.get("action") == "deny"]
odd = [e for e in auths if e.get("user") != anon or e.get("outcome") != "success"]
odd += [e for e in denies if e.get("user") != anon or e.get("reason") != "policy_restrict_remote"
        or e.get("interface") != echo]
# A refused call is recorded by its policy event (it never reached a service: no call event).
odd += [e for e in events if e.get("event") == "call" and e.get("interface") == echo]
print(f"{len(auths)} logons, {len(denies)} policy denials")
if denies:
    print("e.g. " + json.dumps({k: denies[0].get(k) for k in ("event", "action", "reason", "interface", "opnum", "user")}))
if len(auths) != 6 or len(denies) != 12 or odd:
    sys.exit(f"want 6 anonymous logons and 12 denials naming {anon} and policy_restrict_remote; odd: {odd[:2]}")
print(f"6 anonymous logons; every denial names {anon} and policy_restrict_remote")
PYEOF
    sed 's/^/    /' "$WORK/anon-audit-restrict.out"
  fi
}
if [ -x "$MSRPCD" ] && [ -x "$MSRPC" ]; then
  anonymous_section
  anon_stop
else
  fail "anonymous checks not run: no release build (see (a))"
fi

section "(f) stop everything; tshark reads the capture"
stop_all
if [ ! -s "$PCAP" ]; then
  fail "no capture file was written ($PCAP)"
else
  # Decode the dynamic endpoints as DCE/RPC explicitly (the heuristic would find most of them).
  DECODE=()
  for p in $ECHO_PORT $POLICY_ECHO_PORT $AUTH_ECHO_PORT $BIGENDIAN_ECHO_PORT $ENUM_ECHO_PORT $DCOM_PORTS $OUTPROC_PORTS $(grep -oE "ncacn_ip_tcp:$SAMBA_IP\[[0-9]+" "$WORK/rpcclient-epm.out" 2>/dev/null |
    grep -oE '[0-9]+$' | sort -u); do
    [ "$p" = 135 ] || DECODE+=(-d "tcp.port==$p,dcerpc")
  done
  frames=$(timeout 300 tshark -n -r "$PCAP" 2>/dev/null | wc -l)
  # One exception, and only it: an ept_lookup answer on an EPM context accepted in NDR64
  # (section (d2)'s Impacket, and our own client, which offers NDR64 as 64-bit Windows does).
  # Wireshark's EPM dissector reads an entry's annotation offset and actual count as 32-bit
  # (epm_dissect_ept_entry_t calls dissect_ndr_uint32; NDR64 carries them in 8 bytes, MS-RPCE
  # 2.2.5.3.3), so it flags every such answer, Windows' too; Impacket reads ours right (d2).
  # interop.py tshark-malformed pairs binds and bind_acks to find those contexts.
  if timeout 300 tshark -n -r "$PCAP" "${DECODE[@]}" -Y "_ws.malformed || _ws.expert.severity == error" \
    -T fields -e frame.number -e tcp.stream -e dcerpc.pkt_type -e dcerpc.cn_ctx_id -e epm.opnum \
    -e _ws.expert.message >"$WORK/tshark-bad.tsv" 2>"$WORK/tshark-bad.err" &&
    timeout 300 tshark -n -r "$PCAP" "${DECODE[@]}" -Y "dcerpc.pkt_type >= 11 && dcerpc.pkt_type <= 15" \
      -T fields -e tcp.stream -e dcerpc.pkt_type -e dcerpc.cn_call_id -e dcerpc.cn_ctx_id \
      -e dcerpc.cn_bind_to_uuid -e dcerpc.cn_ack_result -e dcerpc.cn_ack_trans_id \
      >"$WORK/tshark-ctx.tsv" 2>>"$WORK/tshark-bad.err"; then
    if python3 "$HELP" tshark-malformed "$WORK/tshark-bad.tsv" "$WORK/tshark-ctx.tsv" >"$WORK/tshark-bad.out" 2>&1; then
      grep '^note:' "$WORK/tshark-bad.out" | sed 's/^/    /'
      pass "tshark: no malformed packet or expert error in $frames frames but NDR64 ept_lookup answers ($(tail -n 1 "$WORK/tshark-bad.out"))"
    else
      fail "tshark flags frames of $frames as malformed or expert errors: $(tail -n 1 "$WORK/tshark-bad.out")"
      show "$WORK/tshark-bad.out" 30
    fi
  else
    fail "tshark could not read the capture"
    show "$WORK/tshark-bad.err"
  fi
  timeout 300 tshark -n -r "$PCAP" "${DECODE[@]}" -Y dcerpc -T fields -E separator=/t \
    -e ip.src -e ip.dst -e dcerpc.pkt_type >"$WORK/pdus.tsv" 2>"$WORK/pdus.err"
  check tshark-pdus-both-peers python3 "$HELP" tshark "$WORK/pdus.tsv" "$MSRPCD_IP" "$SAMBA_IP"
  cat "$WORK/tshark-pdus-both-peers.out" | sed 's/^/    /'
  # Section (e4) is in the capture: SPNEGO's alter_context / alter_context_resp legs (auth type 9)
  # and sealed requests to msrpcd --users, all dissected without a malformed packet (above).
  spnego_legs=$(timeout 300 tshark -n -r "$PCAP" "${DECODE[@]}" -Y "ip.addr==$AUTH_IP && dcerpc.auth_type == 9 && (dcerpc.pkt_type == 14 || dcerpc.pkt_type == 15)" 2>/dev/null | wc -l)
  sealed=$(timeout 300 tshark -n -r "$PCAP" "${DECODE[@]}" -Y "ip.addr==$AUTH_IP && dcerpc.auth_level == 6 && dcerpc.pkt_type == 0" 2>/dev/null | wc -l)
  if [ "$spnego_legs" -ge 8 ] && [ "$sealed" -gt 0 ]; then
    pass "tshark: $spnego_legs SPNEGO alter_context legs and $sealed sealed requests with msrpcd --users ($AUTH_IP)"
  else
    fail "tshark: section (e4) missing from the capture ($spnego_legs SPNEGO alter_context legs, $sealed sealed requests)"
  fi

  # Section (e7) is in the capture: the resolver, the activator and the exporter's IRemUnknown
  # and ICalculator calls, dissected by Wireshark's DCOM dissectors without a malformed packet.
  dcom_counts=
  for f in oxid isystemactivator remunk "dcerpc.cn_bind_to_uuid == bf30c0af-df87-42e5-ab32-930938b49417" "dcerpc.pkt_type == 0 && dcerpc.obj_id"; do
    n=$(timeout 300 tshark -n -r "$PCAP" "${DECODE[@]}" -Y "(ip.addr==$DCOM_IP || ip.addr==$DCOM_OPEN_IP || ip.addr==$OUTPROC_IP || ip.addr==$OUTPROC_OPEN_IP) && ($f)" 2>/dev/null | wc -l)
    dcom_counts="$dcom_counts ${f%% *}:$n"
    [ "$n" -gt 0 ] || dcom_counts="$dcom_counts(none)"
  done
  if [[ "$dcom_counts" != *none* ]]; then
    pass "tshark: DCOM traffic of section (e7) dissected ($dcom_counts)"
  else
    fail "tshark: DCOM traffic of section (e7) missing from the capture ($dcom_counts)"
  fi

  # Sections (e) and (e5) are in the capture in big-endian: requests at PKT (4), PKT_INTEGRITY (5)
  # and PKT_PRIVACY (6) to Samba and to msrpcd --users, each peer answering with protected
  # responses (Samba in its own byte order, little-endian; msrpcd in the request's), none
  # malformed (above).
  for peer in "$SAMBA_IP" "$BIGENDIAN_IP"; do
    counts=
    for lvl in 4 5 6; do
      n=$(timeout 300 tshark -n -r "$PCAP" "${DECODE[@]}" -Y "ip.dst==$peer && dcerpc.pkt_type == 0 && dcerpc.drep.byteorder == 0 && dcerpc.auth_level == $lvl" 2>/dev/null | wc -l)
      counts="$counts $lvl:$n"
      [ "$n" -gt 0 ] || counts="$counts(none)"
    done
    resp=$(timeout 300 tshark -n -r "$PCAP" "${DECODE[@]}" -Y "ip.src==$peer && dcerpc.pkt_type == 2 && dcerpc.auth_level >= 4" 2>/dev/null | wc -l)
    if [[ "$counts" != *none* ]] && [ "$resp" -gt 0 ]; then
      pass "tshark: big-endian signed/sealed requests to $peer by level ($counts), $resp protected responses"
    else
      fail "tshark: big-endian requests to $peer missing from the capture (by level:$counts; $resp protected responses)"
    fi
  done

  # The offline analyzer over the same capture: the alerts the live daemon raised in (g) are found
  # again from the packets alone (same decoders, same detectors), and every server seen here is
  # read without an error exit.
  section "(f2) msrpc analyze over the capture: the live detectors' alerts found offline"
  if "$MSRPC" --json analyze "$PCAP" >"$WORK/analyze.json" 2>"$WORK/analyze.err"; then
    check analyze-alerts python3 - "$WORK/analyze.json" "$AUDIT_IP" <<'PYEOF'
import json, sys
path, audit_ip = sys.argv[1], sys.argv[2]
events = [json.loads(l) for l in open(path) if l.strip()]
alerts = [e for e in events if e.get("event") == "alert"]
# rpcdump.py's walk of the endpoint map is the technique library's epm_full_walk (T1046, low).
want = {"interface_brute_force", "opnum_brute_force", "password_guessing", "password_spraying",
        "epm_full_walk"}
found = {a["detector"] for a in alerts}
calls = sum(1 for e in events if e.get("event") == "call")
print(f"{len(events)} events, {calls} calls, alerts: {sorted(found)}")
missing = want - found
if missing:
    sys.exit(f"missing alerts offline: {sorted(missing)}")
# Every loopback client comes from 127.0.0.1, so offline the detectors see the whole suite's
# traffic from one source (password failures against every server, not only the audited one):
# the alerts must name that source.
for a in alerts:
    if a["detector"] in want and a.get("source") != "127.0.0.1":
        sys.exit(f"alert {a['detector']} names source {a.get('source')}, expected 127.0.0.1")
print(f"offline alerts match the live ones: {sorted(want)}")
PYEOF
    # Section (h)'s anonymous logons are named offline as the live audit names them.
    check analyze-anonymous python3 - "$WORK/analyze.json" "$ANON_IP" <<'PYEOF'
import json, sys
path, ip = sys.argv[1], sys.argv[2]
events = [json.loads(l) for l in open(path) if l.strip()]
ok = [e for e in events if e.get("event") == "auth" and e.get("id.resp_h") == ip
      and e.get("user") == "ANONYMOUS LOGON" and e.get("outcome") == "success"]
calls = [e for e in events if e.get("event") == "call" and e.get("id.resp_h") == ip
         and e.get("user") == "ANONYMOUS LOGON"]
print(f"{len(ok)} anonymous logons and {len(calls)} of their calls on {ip} named ANONYMOUS LOGON")
if len(ok) < 12 or not calls:
    sys.exit("the analyzer does not name section (h)'s anonymous logons")
PYEOF
  else
    fail "msrpc analyze could not read the interop capture"
    show "$WORK/analyze.err"
  fi
fi

summary
[ "$FAILED" -eq 0 ]
