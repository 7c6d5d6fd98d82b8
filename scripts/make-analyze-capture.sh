#!/usr/bin/env bash
# Makes tests/data/analyze-impacket-msrpcd.pcapng: Impacket 0.13.1 (software we did not write)
# against a release msrpcd --demo on 127.0.0.140, captured on lo by tshark:
#   rpcdump.py (ept_lookup walk on 135), impacket_echo.py via ept_map (every rpcecho operation,
#   a 20000-byte EchoData sent in fragments and answered in several, an unknown opnum fault),
#   rpcmap.py -brute-opnums (faults nca_s_op_rng_error), impacket_ntlm.py (NTLM binds at
#   integrity and privacy as alice, then a wrong password that must be refused).
# The analyzer's expected events for it are checked by crates/msrpc-analyze/tests/own_capture.rs.
# Needs root (port 135, capturing on lo), tshark, target/venv with Impacket. Every wait is bounded.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
IP=${ANALYZE_CAPTURE_IP:-127.0.0.140}
OUT=${1:-tests/data/analyze-impacket-msrpcd.pcapng}
PY=target/venv/bin/python
VENV=target/venv
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
die() { echo "make-analyze-capture: $*" >&2; exit 1; }
[ -x "$PY" ] || die "no Impacket venv at $VENV"
command -v tshark >/dev/null || die "tshark missing"
timeout 3600 cargo build --release -p msrpcd -p msrpc-cli >"$WORK/build.log" 2>&1 || die "release build failed"

wait_tcp() { # host port seconds
  for _ in $(seq 1 $(($3 * 10))); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

printf 'S3cret!pw\n' | target/release/msrpc users add "$WORK/users" alice >/dev/null 2>&1 || die "users add failed"
chmod 600 "$WORK/users"

tshark -n -i lo -f "host $IP" -w "$WORK/cap.pcapng" >"$WORK/tshark.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 150); do grep -q "Capturing on" "$WORK/tshark.log" 2>/dev/null && break; sleep 0.1; done
grep -q "Capturing on" "$WORK/tshark.log" || die "tshark did not start: $(cat "$WORK/tshark.log")"

target/release/msrpcd --listen "$IP" --demo --users "$WORK/users" \
  --registration-socket "$WORK/epm.sock" >"$WORK/msrpcd.log" 2>&1 &
PIDS+=($!)
wait_tcp "$IP" 135 20 || die "msrpcd did not listen: $(cat "$WORK/msrpcd.log")"
PORT=
for _ in $(seq 1 20); do
  PORT=$(timeout 10 target/release/msrpc dump --json "$IP" 2>/dev/null | python3 -c '
import json,sys
d=json.load(sys.stdin)
for e in d.get("entries", []):
    b=e.get("binding") or ""
    if (e.get("interface") or {}).get("uuid")=="60a15ec5-4de8-11d7-a637-005056a20182" and b.startswith("ncacn_ip_tcp"):
        print(b.split("[")[1].rstrip("]")); break
' 2>/dev/null)
  [ -n "$PORT" ] && break
  sleep 0.5
done
[ -n "$PORT" ] || die "rpcecho not registered"
echo "rpcecho on $IP:$PORT"

timeout 60 "$PY" "$VENV/bin/rpcdump.py" "$IP" >"$WORK/rpcdump.out" 2>&1 || die "rpcdump failed: $(tail -3 "$WORK/rpcdump.out")"
timeout 120 "$PY" tests/interop/impacket_echo.py "$IP" >"$WORK/echo.out" 2>&1 || die "impacket_echo failed: $(tail -3 "$WORK/echo.out")"
timeout 120 "$PY" "$VENV/bin/rpcmap.py" -auth-level 1 -uuid 60a15ec5-4de8-11d7-a637-005056a20182 \
  -brute-opnums -opnum-max 12 "ncacn_ip_tcp:$IP[$PORT]" >"$WORK/rpcmap.out" 2>&1 || die "rpcmap failed"
timeout 120 "$PY" tests/interop/impacket_ntlm.py "$IP" "$PORT" alice 'S3cret!pw' >"$WORK/ntlm.out" 2>&1 ||
  die "impacket_ntlm failed: $(tail -3 "$WORK/ntlm.out")"

# Let the last packets reach the file (size stable for 1 s, at most 6 s), then stop tshark.
last=-1
for _ in $(seq 1 30); do
  size=$(stat -c %s "$WORK/cap.pcapng" 2>/dev/null || echo 0)
  [ "$size" = "$last" ] && break
  last=$size
  sleep 1
done
kill "${PIDS[1]}" 2>/dev/null
kill "${PIDS[0]}" 2>/dev/null
wait "${PIDS[0]}" 2>/dev/null
mkdir -p "$(dirname "$OUT")"
cp "$WORK/cap.pcapng" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes, $(capinfos -c "$OUT" 2>/dev/null | awk -F: '/Number/{print $2}' | tr -d ' ') packets)"
