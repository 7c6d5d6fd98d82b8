#!/usr/bin/env bash
# Every benchmark figure of issue 6, each beside its baseline from the same run, on this machine
# (client and server share its cores; every load comes from `msrpc bench` / `msrpc bench-raw run`):
#   1. calls/s and p50/p99 at 1 and 16 connections: msrpcd vs raw TCP round trips of the same
#      size (24-byte request, 32-byte response: an is_server_listening call) vs Samba;
#   2. server CPU per call (utime+stime deltas from /proc, all of Samba's processes summed) at
#      16 connections for mgmt is_server_listening, ept_map and an ept_lookup returning every
#      entry, msrpcd holding a copy of Samba's own endpoint map (same entries, same count);
#   3. ept_map p50 with 100,000 registrations against 10 (two msrpcd, synthetic entries
#      registered over the registration socket by `msrpc bench-register`);
#   4. RSS per idle connection at 10,000 connections (scripts/idle-rss.py);
#   5. NTLM privacy vs unauthenticated (scripts/bench-auth.sh, run separately).
# Rounds are interleaved (every server in every round) and medians reported, with `uptime`.
# Bounded: ROUNDS x 17 runs x SECONDS, plus setup (about 1 + ROUNDS x 70 s at 3 s).
#   scripts/bench-issue6.sh [ROUNDS] [SECONDS]
# Needs root (Samba on port 135) and Debian's samba package. Addresses: 127.0.0.170-175
# (override with BENCH_NET=127.0.0.X, the first three octets and a dot, and BENCH_BASE=170).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-3}
net=${BENCH_NET:-127.0.0.}
base=${BENCH_BASE:-170}
ours=$net$base             # msrpcd with a copy of Samba's map
raw=$net$((base + 1))      # raw TCP echo
map10=$net$((base + 2))    # msrpcd with 10 synthetic entries
map100k=$net$((base + 3))  # msrpcd with 100,000 synthetic entries
idle=$net$((base + 4))     # msrpcd for idle connections
samba=$net$((base + 5))    # samba-dcerpcd
cargo build --release -q -p msrpcd -p msrpc-cli
msrpc=target/release/msrpc
msrpcd=target/release/msrpcd
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  tests/interop/samba-dcerpcd.sh stop "$tmp/samba" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
wait_port() { for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.2; done; echo "nothing on $1:$2" >&2; exit 1; }
start_msrpcd() { # ADDR NAME [extra args]
  local addr=$1 name=$2; shift 2
  "$msrpcd" --listen "$addr:1135" --registration-socket "$tmp/$name.sock" --log-level warn "$@" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  eval "pid_$name=$!"
  wait_port "$addr" 1135
}
register() { # NAME ARGS... : holds the registration in the background until the script ends
  local name=$1; shift
  "$msrpc" bench-register "$tmp/$name.sock" --hold 7200 "$@" >"$tmp/reg-$name.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do grep -qs '^registered' "$tmp/reg-$name.out" && return 0; sleep 0.1; done
  echo "registration in $name failed: $(cat "$tmp/reg-$name.out")" >&2; exit 1
}

samba_pid=$(tests/interop/samba-dcerpcd.sh start "$tmp/samba" "$samba")
start_msrpcd "$ours" ours --epm-max-entries 200000
start_msrpcd "$map10" map10 --epm-max-entries 200000
start_msrpcd "$map100k" map100k --epm-max-entries 200000
start_msrpcd "$idle" idle --max-connections 12000
"$msrpc" bench-raw serve "$raw:1136" --duration 7200 >"$tmp/raw.log" 2>&1 &
raw_pid=$!
pids+=($raw_pid)
wait_port "$raw" 1136
register ours --copy-from "$samba"
register map10 --count 10
register map100k --count 100000
n_samba=$("$msrpc" --json dump "$samba" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['entries']))")
n_ours=$("$msrpc" --json --epm-port 1135 dump "$ours" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['entries']))")

# CPU ticks (utime+stime) of a process and all its descendants.
tree_ticks() {
  python3 - "$1" <<'EOF'
import os, sys
root = int(sys.argv[1]); kids = {}; ticks = {}
for p in os.listdir('/proc'):
    if not p.isdigit(): continue
    try: f = open(f'/proc/{p}/stat').read()
    except OSError: continue
    rest = f[f.rindex(')') + 2:].split()
    kids.setdefault(int(rest[1]), []).append(int(p)); ticks[int(p)] = int(rest[11]) + int(rest[12])
todo, total = [root], 0
while todo:
    p = todo.pop(); total += ticks.get(p, 0); todo += kids.get(p, [])
print(total)
EOF
}
hz=$(getconf CLK_TCK)
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A R
# run KEY PID CMD...: records calls/s, p50, p99 and the server's CPU microseconds per call.
run() {
  local key=$1 pid=$2; shift 2
  local t0 t1 j
  t0=$(tree_ticks "$pid")
  j=$("$@" --conns "$c" --duration "$secs" --warmup 0 --json)
  t1=$(tree_ticks "$pid")
  R[$key,rate]+="$(field "['calls_per_sec']" <<<"$j") "
  R[$key,p50]+="$(field "['latency_us']['p50']" <<<"$j") "
  R[$key,p99]+="$(field "['latency_us']['p99']" <<<"$j") "
  R[$key,cpu]+="$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print((int(sys.argv[3])-int(sys.argv[2]))*1e6/int(sys.argv[4])/max(d['calls'],1))" "$j" "$t0" "$t1" "$hz") "
}
load=()
for round in $(seq 1 "$rounds"); do
  load+=("$(uptime | sed 's/.*load average: //')")
  for c in 1 16; do
    run "raw,$c" "$raw_pid" "$msrpc" bench-raw run "$raw:1136" --request-size 24 --response-size 32
    for op in mgmt-is-listening ept-map ept-lookup; do
      run "ours,$op,$c" "$pid_ours" "$msrpc" bench "$ours:1135" --op $op
      run "samba,$op,$c" "$samba_pid" "$msrpc" bench "$samba:135" --op $op
    done
  done
  c=1
  run "map10" "$pid_map10" "$msrpc" bench "$map10:1135" --op ept-map --map-interface synthetic:5
  run "map100k" "$pid_map100k" "$msrpc" bench "$map100k:1135" --op ept-map --map-interface synthetic:5
done
rss=$(python3 scripts/idle-rss.py "$pid_idle" "$idle" 1135 10000)

m() { median <<<"${R[$1]}"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.3f' % (a/b if b else 0))" "$1" "$2"; }
met() { python3 -c "import sys; print('met' if float(sys.argv[1]) $2 float(sys.argv[2]) else 'NOT met')" "$1" "$3"; }
echo "Medians of $rounds interleaved rounds of $secs s; load average at each round: ${load[*]}"
echo "Endpoint maps: Samba $n_samba entries, msrpcd $n_ours (a copy of Samba's)."
echo
echo "| operation | conns | raw TCP calls/s | msrpcd calls/s | msrpcd p50 / p99 µs | raw p50 / p99 µs | Samba calls/s | Samba p50 / p99 µs | msrpcd / raw (target) | msrpcd / Samba |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for op in mgmt-is-listening ept-map ept-lookup; do
  for c in 1 16; do
    r=$(m "raw,$c,rate"); o=$(m "ours,$op,$c,rate"); s=$(m "samba,$op,$c,rate"); q=$(ratio "$o" "$r")
    target=""
    [ $op = mgmt-is-listening ] && target=" (>= 0.95: $(met "$q" '>=' 0.95))"
    printf '| %s | %s | %.0f | %.0f | %.0f / %.0f | %.0f / %.0f | %.0f | %.0f / %.0f | %s%s | %s |\n' "$op" "$c" "$r" "$o" \
      "$(m "ours,$op,$c,p50")" "$(m "ours,$op,$c,p99")" "$(m "raw,$c,p50")" "$(m "raw,$c,p99")" "$s" \
      "$(m "samba,$op,$c,p50")" "$(m "samba,$op,$c,p99")" "$q" "$target" "$(ratio "$o" "$s")"
  done
done
echo
echo "| server CPU per call, 16 conns | msrpcd µs | Samba 4.17 µs | raw TCP server µs | Samba / msrpcd | target |"
echo "|---|---|---|---|---|---|"
for op in mgmt-is-listening:1.33 ept-map:3 ept-lookup:8; do
  o=$(m "ours,${op%:*},16,cpu"); s=$(m "samba,${op%:*},16,cpu"); q=$(ratio "$s" "$o")
  printf '| %s | %.2f | %.2f | %.2f | %s | >= %s: %s |\n' "${op%:*}" "$o" "$s" "$(m "raw,16,cpu")" "$q" "${op#*:}" "$(met "$q" '>=' "${op#*:}")"
done
echo
a=$(m "map10,p50"); b=$(m "map100k,p50"); q=$(ratio "$b" "$a")
echo "| ept_map, 1 conn | p50 µs | p99 µs | calls/s |"
echo "|---|---|---|---|"
printf '| 10 registrations | %.1f | %.1f | %.0f |\n' "$a" "$(m "map10,p99")" "$(m "map10,rate")"
printf '| 100,000 registrations | %.1f | %.1f | %.0f |\n' "$b" "$(m "map100k,p99")" "$(m "map100k,rate")"
echo "p50 100,000 / 10: $q (target <= 1.2: $(met "$q" '<=' 1.2))"
echo
python3 - "$rss" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
ok = 'met' if d['kib_per_conn'] <= 16 else 'NOT met'
print(f"RSS per idle connection (bound, one call made), {d['conns']} connections: {d['kib_per_conn']} KiB "
      f"(VmRSS {d['rss_before_kib']} -> {d['rss_after_kib']} KiB; target <= 16 KiB: {ok})")
EOF
