#!/usr/bin/env bash
# The packet rate the live sensor (`msrpc analyze --interface lo`) sustains on one core, beside
# tshark capturing and dissecting the same kind of traffic, and the offered rate.
#
#   scripts/bench-sensor.sh [SECONDS [CONNS...]]   (defaults 5 and "1 4 16")
#
# A release msrpcd --demo listens on 127.0.0.142; `msrpc bench --op echo-add-one --conns N` (our
# load tool, closed loops) is the traffic. For each N, two rounds of SECONDS each, one after the
# other with the same load:
#   sensor: `taskset -c 1 msrpc --json analyze --interface lo --bpf "host 127.0.0.142"` (the
#           default detectors, JSON events to a file); its final sensor_stats event gives packets
#           analysed and the drops (libpcap's ps_drop/ps_ifdrop and the sensor's queue);
#   tshark: `taskset -c 1 tshark -i lo -f "host 127.0.0.142" -d tcp.port==PORT,dcerpc
#           -T fields -e dcerpc.opnum` (every packet dissected, the fields printed to a file);
#           the packets it processed are the lines it wrote, its drops what it prints at exit.
# The offered rate is what the kernel passed the filter in the sensor's round (ps_recv counts
# each loopback packet twice, once leaving and once arriving: halved) over the load's time
# (warm-up and measured); tshark's round is compared with that rate scaled by its calls/s.
# CPU: user + system time of the sensor (of tshark and its dumpcap) over the round, read from
# /proc when the load ends; packets per CPU-second is the rate one core would sustain for the
# process alone (an estimate; the drops column is the measured fact).
# The load tool and msrpcd float over both cores (the machine has two), so the sensor's core is
# shared with them: the figures are a floor for a dedicated core.
# Output: a Markdown table on stdout. Needs root (capture), tshark, taskset. Bounded by timeout.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECS=${1:-5}
shift || true
CONNS=("${@:-1 4 16}")
# shellcheck disable=SC2206
CONNS=(${CONNS[*]})
IP=127.0.0.142
WORK=${BENCH_WORK:-target/bench-sensor}
mkdir -p "$WORK"
die() { echo "bench-sensor: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (capturing on lo)"
command -v tshark >/dev/null || die "tshark missing"
command -v taskset >/dev/null || die "taskset missing"
timeout 3600 cargo build --release -p msrpcd -p msrpc-cli >"$WORK/build.log" 2>&1 ||
  die "release build failed (see $WORK/build.log)"
MSRPC=target/release/msrpc
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

target/release/msrpcd --listen "$IP" --demo --registration-socket "$WORK/epm.sock" \
  >"$WORK/msrpcd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/$IP/135") 2>/dev/null && break; sleep 0.1; done
# The demo's dynamic port (for tshark's decode-as).
PORT=$(timeout 10 "$MSRPC" --json dump "$IP" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for e in d.get("entries", []):
    b = e.get("binding", "")
    if "[" in b and "rpcecho" in json.dumps(e):
        print(b.split("[")[1].rstrip("]")); break')
[ -n "$PORT" ] || die "no rpcecho port in msrpcd's endpoint map"

cpu_of() { # pid: CPU seconds (user + system) of the process and its children still running
  local total=0 p
  for p in $1 $(pgrep -P "$1") $(for c in $(pgrep -P "$1"); do pgrep -P "$c"; done); do
    [ -r "/proc/$p/stat" ] || continue
    total=$(( total + $(awk '{print $14 + $15}' "/proc/$p/stat") ))
  done
  python3 -c "print($total / $(getconf CLK_TCK))"
}

load() { # conns seconds
  timeout $(($2 + 20)) "$MSRPC" --json bench "ncacn_ip_tcp:$IP" --op echo-add-one \
    --conns "$1" --warmup 0.5 --duration "$2" >"$WORK/bench.json" 2>"$WORK/bench.err"
  python3 -c 'import json; print(round(json.load(open("'"$WORK/bench.json"'"))["calls_per_sec"]))' \
    2>/dev/null || echo "?"
}

echo "| conns | calls/s (sensor / tshark round) | offered pkts/s | sensor pkts/s | sensor drops (kernel/if/queue) | sensor / offered | sensor CPU (cores) | sensor pkts per CPU-s | tshark pkts/s | tshark drops | tshark / offered | tshark CPU (cores) | tshark pkts per CPU-s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for n in "${CONNS[@]}"; do
  DUR=$(python3 -c "print($SECS + 1.5)")
  LOADT=$(python3 -c "print($SECS + 0.5)")  # the load's warm-up and measured time
  # Round 1: the sensor.
  rm -f "$WORK/sensor.jsonl"
  timeout $((SECS + 30)) taskset -c 1 "$MSRPC" --json analyze --interface lo --bpf "host $IP" \
    --duration "$DUR" --stats-interval 3600 --log "$WORK/sensor.jsonl" >/dev/null 2>"$WORK/sensor.err" &
  SP=$!
  sleep 0.5
  calls1=$(load "$n" "$SECS")
  scpu=$(cpu_of "$SP")  # the load is over, the sensor still runs (idle) for about a second
  wait "$SP" || die "sensor failed: $(cat "$WORK/sensor.err")"
  read -r offered sensor drops < <(python3 - "$WORK/sensor.jsonl" "$LOADT" <<'EOF'
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if '"sensor_stats"' in l][-1]
t = float(sys.argv[2])
print(round(last["pcap_received"] / 2 / t), round(last["packets_analyzed"] / t),
      "%d/%d/%d" % (last["pcap_dropped"], last["pcap_if_dropped"], last["queue_dropped"]))
EOF
  )
  # Round 2: tshark, dissecting every packet.
  timeout $((SECS + 30)) taskset -c 1 tshark -i lo -f "host $IP" -d "tcp.port==$PORT,dcerpc" \
    -a "duration:$DUR" -T fields -e dcerpc.opnum >"$WORK/tshark.out" 2>"$WORK/tshark.err" &
  TP=$!
  sleep 1.5  # tshark starts slower (dumpcap child)
  calls2=$(load "$n" "$SECS")
  tcpu=$(cpu_of "$TP")
  wait "$TP"
  tpk=$(wc -l <"$WORK/tshark.out")
  tdrop=$(grep -o '[0-9]* packets\? dropped' "$WORK/tshark.err" | grep -o '^[0-9]*' | head -1)
  trate=$(python3 -c "print(round($tpk / $LOADT))")
  python3 - "$n" "$calls1" "$calls2" "$offered" "$sensor" "$drops" "$trate" "${tdrop:-0}" "$scpu" "$tcpu" "$LOADT" <<'EOF'
import sys
n, c1, c2, off, sen, drops, tr, td, scpu, tcpu, t = sys.argv[1:]
scpu, tcpu, t = float(scpu), float(tcpu), float(t)
off, sen, tr = int(off), int(sen), int(tr)
# tshark's round offered about the sensor round's packets scaled by its calls.
off2 = off * float(c2) / float(c1) if c1 not in ("?", "0") and c2 != "?" else off
r = lambda a, o: "%.3f" % (a / o) if o else "?"
# Packets per CPU second: what one core would sustain if the process had it alone.
cap = lambda pk, c: "%d" % (pk * t / c) if c > 0 else "?"
print(f"| {n} | {c1} / {c2} | {off} | {sen} | {drops} | {r(sen, off)} | {scpu / t:.2f} | {cap(sen, scpu)} "
      f"| {tr} | {td} | {r(tr, off2)} | {tcpu / t:.2f} | {cap(tr, tcpu)} |")
EOF
done
