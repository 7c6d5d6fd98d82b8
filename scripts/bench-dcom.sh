#!/usr/bin/env bash
# DCOM cost: ICalculator::Add through the object exporter (`msrpc dcom bench --op add`: an ORPC
# call with the IPID as object UUID, ORPCTHIS/ORPCTHAT, request stub 40 bytes) against a plain
# RPC call of the same request stub size (`msrpc bench --op echo-data:32`: rpcecho EchoData,
# request stub 40 bytes) on the same msrpcd, both with NTLMv2 at packet integrity, interleaved
# rounds at 1 and 16 connections; and activations/s (`msrpc dcom bench --op activate`:
# RemoteCreateInstance + RemRelease back to back on one activator connection). Prints medians.
#   scripts/bench-dcom.sh [ROUNDS] [SECONDS]     (BENCH_DCOM_ADDR: loopback address, default 127.0.0.166)
# Every run is bounded: --duration plus 0.5 s of warm-up, at most 5 000 000 calls, and `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-3}
addr=${BENCH_DCOM_ADDR:-127.0.0.166}
port=1135
cargo build --release -q -p msrpcd -p msrpc-cli
msrpc=target/release/msrpc
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
printf 'bench-pw\n' | "$msrpc" users add "$tmp/users" bench >/dev/null
target/release/msrpcd --listen "$addr:$port" --demo --users "$tmp/users" \
  --registration-socket "$tmp/epm.sock" --log-level warn >"$tmp/msrpcd.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null && break; sleep 0.2; done
export MSRPC_PASSWORD=bench-pw
common=(--epm-port "$port" --user bench --auth-level integrity --json)
load=(--duration "$secs" --warmup 0.5 --max-calls 5000000)
limit=$(python3 -c "print(int(float('$secs')) + 60)")
# calls/s p50 p99 of one JSON report
fields() { python3 -c "import json,sys; d=json.load(sys.stdin); l=d['latency_us']; assert d['errors']==0, d; print(d['calls_per_sec'], l['p50'], l['p99'])"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A r
for _ in $(seq 1 "$rounds"); do
  for c in 1 16; do
    r[plain,$c]+="$(timeout "$limit" "$msrpc" "${common[@]}" bench "ncacn_ip_tcp:$addr" --conns $c --op echo-data:32 "${load[@]}" | fields);"
    r[orpc,$c]+="$(timeout "$limit" "$msrpc" "${common[@]}" dcom bench "$addr" --conns $c --op add "${load[@]}" | fields);"
  done
  r[act,1]+="$(timeout "$limit" "$msrpc" "${common[@]}" dcom bench "$addr" --conns 1 --op activate "${load[@]}" | fields);"
done
# column N (1: calls/s, 2: p50, 3: p99) of the runs of KEY, median
col() { tr ';' '\n' <<<"${r[$1]}" | grep . | awk -v n="$2" '{print $n}' | median; }
echo "Medians of $rounds interleaved rounds of $secs s, NTLMv2 at packet integrity, $(nproc) cores shared by msrpcd and the client; load average at the end: $(uptime | sed 's/.*load average: //')"
echo
echo "| load | conns | plain RPC calls/s (p50 / p99 us) | ORPC calls/s (p50 / p99 us) | ORPC / plain calls/s | plain / ORPC p50 | rounds: plain; ORPC calls/s |"
echo "|---|---|---|---|---|---|---|"
for c in 1 16; do
  p=$(col plain,$c 1); o=$(col orpc,$c 1)
  q=$(python3 -c "print(f'{$o / $p:.2f}')")
  l=$(python3 -c "print(f'{$(col plain,$c 2) / $(col orpc,$c 2):.2f}')")
  each() { tr ';' '\n' <<<"${r[$1]}" | grep . | awk '{printf "%s%.0f", (NR>1 ? " " : ""), $1}'; }
  printf '| EchoData(32 B) vs ICalculator::Add | %s | %.0f (%s / %s) | %.0f (%s / %s) | %s (>= 0.9: %s) | %s | %s; %s |\n' \
    "$c" "$p" "$(col plain,$c 2)" "$(col plain,$c 3)" "$o" "$(col orpc,$c 2)" "$(col orpc,$c 3)" "$q" \
    "$(python3 -c "print('met' if $q >= 0.9 else 'NOT met')")" "$l" "$(each plain,$c)" "$(each orpc,$c)"
done
echo
printf 'Activations/s (RemoteCreateInstance + RemRelease, 1 connection): %.0f (p50 %s us, p99 %s us; rounds: %s)\n' \
  "$(col act,1 1)" "$(col act,1 2)" "$(col act,1 3)" "$(each act,1)"
