#!/usr/bin/env bash
# End-to-end benchmark: msrpcd against raw TCP round trips of the same sizes and against Samba's
# samba-dcerpcd, all on this machine, measured with the same load tool (`msrpc bench`) in
# interleaved rounds; prints a Markdown table of medians. Bounded: ROUNDS x ops x conns x SECONDS.
#   scripts/bench-e2e.sh [ROUNDS] [SECONDS]
# Needs root (Samba on 127.0.0.2:135) and the Debian samba package; builds release binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-3}
cargo build --release -q -p msrpcd -p msrpc-cli
msrpc=target/release/msrpc
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  tests/interop/samba-dcerpcd.sh stop "$tmp/samba" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
target/release/msrpcd --listen 127.0.0.31:1135 --demo --registration-socket "$tmp/epm.sock" --log-level warn >"$tmp/msrpcd.log" 2>&1 &
pids+=($!)
"$msrpc" bench-raw serve 127.0.0.31:1136 --duration 3600 >"$tmp/raw.log" 2>&1 &
pids+=($!)
tests/interop/samba-dcerpcd.sh start "$tmp/samba" 127.0.0.2 >/dev/null
sleep 1

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

declare -A results
for round in $(seq 1 "$rounds"); do
  for c in 1 16; do
    results[raw,$c]+="$("$msrpc" bench-raw run 127.0.0.31:1136 --conns $c --duration "$secs" --warmup 0.5 --request-size 24 --response-size 32 --json | field "['calls_per_sec']") "
    for op in mgmt-is-listening ept-map ept-lookup; do
      j=$("$msrpc" bench 127.0.0.31:1135 --conns $c --duration "$secs" --warmup 0.5 --op $op --json)
      results[msrpcd,$op,$c]+="$(field "['calls_per_sec']" <<<"$j") "
      results[p50,$op,$c]+="$(field "['latency_us']['p50']" <<<"$j") "
      results[p99,$op,$c]+="$(field "['latency_us']['p99']" <<<"$j") "
      results[samba,$op,$c]+="$("$msrpc" bench 127.0.0.2:135 --conns $c --duration "$secs" --warmup 0.5 --op $op --json | field "['calls_per_sec']") "
    done
  done
done

echo "| operation | conns | raw TCP 24/32 B calls/s | msrpcd calls/s | msrpcd p50 / p99 µs | Samba 4.17 calls/s | msrpcd / raw | msrpcd / Samba |"
echo "|---|---|---|---|---|---|---|---|"
for op in mgmt-is-listening ept-map ept-lookup; do
  for c in 1 16; do
    raw=$(tr ' ' '\n' <<<"${results[raw,$c]}" | grep . | median)
    ours=$(tr ' ' '\n' <<<"${results[msrpcd,$op,$c]}" | grep . | median)
    theirs=$(tr ' ' '\n' <<<"${results[samba,$op,$c]}" | grep . | median)
    p50=$(tr ' ' '\n' <<<"${results[p50,$op,$c]}" | grep . | median)
    p99=$(tr ' ' '\n' <<<"${results[p99,$op,$c]}" | grep . | median)
    printf '| %s | %s | %.0f | %.0f | %.0f / %.0f | %.0f | %.2f | %.2f |\n' "$op" "$c" "$raw" "$ours" "$p50" "$p99" "$theirs" \
      "$(echo "$ours / $raw" | bc -l)" "$(echo "$ours / $theirs" | bc -l)"
  done
done
