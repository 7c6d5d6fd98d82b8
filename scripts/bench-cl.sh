#!/usr/bin/env bash
# Connectionless RPC (ncadg_ip_udp, issue 15): rpcecho AddOne calls/s over UDP beside the same
# call over TCP on the same msrpcd (`msrpc bench --op echo-add-one`, unauthenticated,
# interleaved rounds at 1 and 16 clients: TCP connections or UDP activities, each a closed
# loop), then the amplification factor an unverified source gets (bytes the server sends it /
# bytes it sent, tools/cl-amplification.py with scapy from target/venv: a source that never
# answers the conversation callback). Prints medians and the factors.
#   scripts/bench-cl.sh [ROUNDS] [SECONDS]     (BENCH_CL_ADDR: loopback address, default 127.0.6.70)
# Every run is bounded: --duration plus 0.5 s of warm-up, at most 5 000 000 calls, and `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-3}
addr=${BENCH_CL_ADDR:-127.0.6.70}
port=1135
cargo build --release -q -p msrpcd -p msrpc-cli
msrpc=target/release/msrpc
py=target/venv/bin/python
"$py" -c 'import scapy.layers.dcerpc' || { echo "scapy missing: target/venv/bin/pip install scapy==2.6.1" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
target/release/msrpcd --listen "$addr:$port" --listen-udp "$addr:$port" --demo \
  --registration-socket "$tmp/epm.sock" --log-level warn >"$tmp/msrpcd.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do grep -q "rpcecho demo (udp) on" "$tmp/msrpcd.log" && break; sleep 0.2; done
demo_udp=$(grep "rpcecho demo (udp) on" "$tmp/msrpcd.log" | awk '{print $NF}')
common=(--epm-port "$port" --json)
load=(--duration "$secs" --warmup 0.5 --max-calls 5000000)
limit=$(python3 -c "print(int(float('$secs')) + 60)")
fields() { python3 -c "import json,sys; d=json.load(sys.stdin); l=d['latency_us']; assert d['errors']==0, d; print(d['calls_per_sec'], l['p50'], l['p99'])"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A r
for _ in $(seq 1 "$rounds"); do
  for c in 1 16; do
    r[tcp,$c]+="$(timeout "$limit" "$msrpc" "${common[@]}" bench "ncacn_ip_tcp:$addr" --conns $c --op echo-add-one "${load[@]}" | fields);"
    r[udp,$c]+="$(timeout "$limit" "$msrpc" "${common[@]}" bench "ncadg_ip_udp:$addr" --conns $c --op echo-add-one "${load[@]}" | fields);"
  done
done
col() { tr ';' '\n' <<<"${r[$1]}" | grep . | awk -v n="$2" '{print $n}' | median; }
each() { tr ';' '\n' <<<"${r[$1]}" | grep . | awk '{printf "%s%.0f", (NR>1 ? " " : ""), $1}'; }
echo "Medians of $rounds interleaved rounds of $secs s, rpcecho AddOne unauthenticated, $(nproc) cores shared by msrpcd and the client; load average at the end: $(uptime | sed 's/.*load average: //')"
echo
echo "| conns / activities | TCP calls/s (p50 / p99 us) | UDP calls/s (p50 / p99 us) | UDP / TCP | rounds: TCP; UDP calls/s |"
echo "|---|---|---|---|---|"
for c in 1 16; do
  t=$(col tcp,$c 1); u=$(col udp,$c 1)
  printf '| %s | %.0f (%s / %s) | %.0f (%s / %s) | %s | %s; %s |\n' "$c" "$t" "$(col tcp,$c 2)" "$(col tcp,$c 3)" \
    "$u" "$(col udp,$c 2)" "$(col udp,$c 3)" "$(python3 -c "print(f'{$u / $t:.2f}')")" "$(each tcp,$c)" "$(each udp,$c)"
done
echo
"$py" tools/cl-amplification.py "$addr" "$port" "${demo_udp##*:}"
