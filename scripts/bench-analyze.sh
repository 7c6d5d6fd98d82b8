#!/usr/bin/env bash
# Throughput of `msrpc analyze` beside tshark on the same capture.
#
#   scripts/bench-analyze.sh [MB [STUB]]   (defaults 300 and 4096)
#
# MB is the synthetic capture's approximate size, STUB the stub bytes of each call each way.
# The capture is synthetic (crates/msrpc-analyze/examples/gen_capture.rs): connections from
# distinct clients to 10.255.0.1:49700, each a handshake, an rpcecho bind, 20 EchoData calls of
# STUB bytes each way (fragmented at 4280 bytes, 1460-byte segments) and FINs. Reported per tool: wall
# seconds (best of 3), MB/s and peak RSS; tshark runs as `tshark -r FILE` (plain, summary lines)
# and `tshark -r FILE -Y dcerpc -d tcp.port==49700,dcerpc` (full DCE/RPC dissection).
# Output: a Markdown table on stdout. Every run is bounded by `timeout`.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MB=${1:-300}
STUB=${2:-4096}
WORK=${BENCH_WORK:-target/bench-analyze}
mkdir -p "$WORK"
timeout 3600 cargo build --release -p msrpc-cli -p msrpc-analyze --example gen_capture >"$WORK/build.log" 2>&1 ||
  { echo "build failed (see $WORK/build.log)" >&2; exit 1; }
MSRPC=target/release/msrpc
# One connection: 2 * 20 calls of STUB bytes plus headers (24 per fragment, 70 per segment).
PER_CONN=$(( 40 * (STUB + 24 + 70 * (STUB / 1460 + 1)) + 1000 ))
CONNS=$(( MB * 1000000 / PER_CONN + 1 ))
CAP="$WORK/synthetic-${MB}MB-${STUB}.pcap"
[ -s "$CAP" ] || target/release/examples/gen_capture "$CAP" "$CONNS" 20 "$STUB"
SIZE=$(stat -c %s "$CAP")
command -v tshark >/dev/null || { echo "tshark missing" >&2; exit 1; }

# measure NAME CMD...: best wall time of 3 runs and the peak RSS of the best, into globals.
measure() {
  local best="" rss=""
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$WORK/time.txt" timeout 1800 "$@" >/dev/null 2>"$WORK/err.txt" || {
      local rc=$?
      # msrpc analyze exits 4 only when nothing was found; anything else is a failure.
      [ $rc -eq 0 ] || { echo "failed ($rc): $* : $(tail -2 "$WORK/err.txt")" >&2; exit 1; }
    }
    read -r t m < <(tail -1 "$WORK/time.txt")
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; rss=$m; fi
  done
  T=$best
  RSS=$rss
}

row() { # label seconds rss
  awk -v l="$1" -v t="$2" -v r="$3" -v s="$SIZE" -v base="$4" 'BEGIN{
    mbs = (t > 0) ? s / 1e6 / t : 0;
    printf "| %s | %.2f | %.1f | %.0f | %s |\n", l, t, mbs, r / 1024, (base > 0 && t > 0) ? sprintf("%.1fx", base / t) : "1.0x" }'
}

measure "$MSRPC" analyze "$CAP"
T_OURS=$T; R_OURS=$RSS
measure "$MSRPC" analyze --json "$CAP"
T_JSON=$T; R_JSON=$RSS
measure tshark -n -r "$CAP"
T_TS=$T; R_TS=$RSS
measure tshark -n -r "$CAP" -Y dcerpc -d tcp.port==49700,dcerpc
T_TSD=$T; R_TSD=$RSS

echo "Synthetic capture: $SIZE bytes, $CONNS connections, $((CONNS * 20)) calls ($(nproc) cores)."
echo
echo "| tool | seconds (best of 3) | MB/s | peak RSS (MiB) | speed vs tshark -Y dcerpc |"
echo "|---|---|---|---|---|"
row "msrpc analyze (summary)" "$T_OURS" "$R_OURS" "$T_TSD"
row "msrpc analyze --json (all events)" "$T_JSON" "$R_JSON" "$T_TSD"
row "tshark -r (plain)" "$T_TS" "$R_TS" "$T_TSD"
row "tshark -r -Y dcerpc -d tcp.port==49700,dcerpc" "$T_TSD" "$R_TSD" "$T_TSD"
