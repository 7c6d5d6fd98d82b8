#!/usr/bin/env bash
# NTLMv2 cost: the same operations, unauthenticated and at PKT_INTEGRITY and PKT_PRIVACY, against
# one msrpcd (with --users), with the same load tool, interleaved rounds; prints medians.
#   scripts/bench-auth.sh [ROUNDS] [SECONDS]     (BENCH_AUTH_ADDR: loopback address, default 127.0.0.176)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-3}
addr=${BENCH_AUTH_ADDR:-127.0.0.176}
cargo build --release -q -p msrpcd -p msrpc-cli
msrpc=target/release/msrpc
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
printf 'bench-pw\n' | "$msrpc" users add "$tmp/users" bench >/dev/null
target/release/msrpcd --listen $addr:1135 --demo --users "$tmp/users" \
  --registration-socket "$tmp/epm.sock" --log-level warn >"$tmp/msrpcd.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/$addr/1135") 2>/dev/null && break; sleep 0.2; done
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A r
export MSRPC_PASSWORD=bench-pw
for _ in $(seq 1 "$rounds"); do
  for op in mgmt-is-listening echo-data:4096; do
    # mgmt on the EPM endpoint; rpcecho found through the EPM
    if [ "$op" = mgmt-is-listening ]; then b=$addr:1135; else b=ncacn_ip_tcp:$addr; fi
    for c in 1 16; do
      r[none,$op,$c]+="$("$msrpc" --epm-port 1135 bench "$b" --conns $c --duration "$secs" --warmup 0.5 --op $op --json | field "['calls_per_sec']") "
      for lvl in integrity privacy; do
        r[$lvl,$op,$c]+="$("$msrpc" --epm-port 1135 --user bench --auth-level $lvl bench "$b" --conns $c --duration "$secs" --warmup 0.5 --op $op --json | field "['calls_per_sec']") "
      done
    done
  done
done
echo "Medians of $rounds interleaved rounds of $secs s; load average at the end: $(uptime | sed 's/.*load average: //')"
echo
echo "| operation | conns | unauthenticated calls/s | NTLM integrity calls/s | NTLM privacy calls/s | privacy / unauthenticated |"
echo "|---|---|---|---|---|---|"
for op in mgmt-is-listening echo-data:4096; do
  for c in 1 16; do
    n=$(tr ' ' '\n' <<<"${r[none,$op,$c]}" | grep . | median)
    i=$(tr ' ' '\n' <<<"${r[integrity,$op,$c]}" | grep . | median)
    p=$(tr ' ' '\n' <<<"${r[privacy,$op,$c]}" | grep . | median)
    q=$(echo "$p / $n" | bc -l)
    printf '| %s | %s | %.0f | %.0f | %.0f | %.2f (>= 0.85: %s) |\n' "$op" "$c" "$n" "$i" "$p" "$q" "$(python3 -c "import sys; print('met' if float(sys.argv[1]) >= 0.85 else 'NOT met')" "$q")"
  done
done
