#!/usr/bin/env bash
# Load and fault tests against release msrpcd, on loopback 127.0.0.160-163 and .165 only (issue 6, part 3):
#   A. LOAD_IDLE_CONNS (10 000) idle connections, each bound (one mgmt call, so each also holds an
#      association group): msrpcd's RSS before/while held -> KiB per connection; all accepted; a
#      normal call (EPM and the rpcecho demo through the EPM) still served while they are held;
#      the server's connection and association-group gauges back to 0 after they close; repeated
#      rounds reuse the memory (RSS stops growing: no leak; glibc does not give it back).
#   A2. the same number of raw TCP connections (never bound) on a fresh msrpcd: KiB per connection.
#   A3. max-connections = 100: of 150 connections 50 are closed at once; served again afterwards.
#   B. LOAD_CALLS (1 000 000) mgmt is_server_listening calls over 64 connections: zero errors.
#   C. short timeouts (idle 3 s, fragment 2 s, send 2 s): a slow sender (half a bind PDU), a
#      half-open connection (connects, never sends) and a client that stops reading a big
#      response are cut by their timeout (audit conn_close reasons, the fragment log line),
#      while other clients are served.
#   D. a client holding 5 EPM lookup handles with an rpcecho TestSleep call in progress is
#      killed (-9): msrpc_epm_live_handles and the association groups return to 0.
#   E. msrpcd restarted (SIGTERM, start again) while msrpc-echo-service is registered: the
#      service re-registers by itself, and a client's retry (through the EPM) succeeds.
# Prints a Markdown table of figures; exits 1 if any expectation failed.
# Bounded: every wait loop has a count and `timeout`; about 3 minutes on 2 cores.
# Needs ~2*LOAD_IDLE_CONNS file descriptors per process (raises `ulimit -n` to the hard limit).
set -euo pipefail
cd "$(dirname "$0")/.."

IDLE_CONNS=${LOAD_IDLE_CONNS:-10000}
CALLS=${LOAD_CALLS:-1000000}
KILL_HANDLES=5
A=127.0.0.160 # idle connections, throughput, kill mid-call (default timeouts)
B=127.0.0.161 # short timeouts
C=127.0.0.162 # restart
A2=127.0.0.163 # idle raw connections (a fresh msrpcd)
A3=127.0.0.165 # max-connections
PORT=1135
MPORT=9135

hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((IDLE_CONNS + 500)) ]; then
  echo "FAIL: the hard limit of open files ($hard) is below $((IDLE_CONNS + 500)); lower LOAD_IDLE_CONNS or raise it" >&2
  exit 1
fi
ulimit -n "$hard"

cargo build --release -q -p msrpcd -p msrpc-cli
bin=target/release
msrpc=$bin/msrpc
tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
ok() { echo "ok: $*"; }
step() { printf '\n==> %s\n' "$*"; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# metric ADDR 'NAME{labels}': one sample of msrpcd's /metrics (empty when absent).
metric() {
  python3 - "$1" "$2" <<'EOF'
import sys, urllib.request
addr, name = sys.argv[1], sys.argv[2]
try:
    text = urllib.request.urlopen(f"http://{addr}/metrics", timeout=5).read().decode()
except OSError as e:
    sys.exit(f"metrics: {e}")
for line in text.splitlines():
    if line.startswith(name + " "):
        print(line.split()[-1])
        break
EOF
}

# wait_metric ADDR SECONDS NAME VALUE [NAME VALUE ...]: polls /metrics every 20 ms until every
# sample equals its VALUE; false after SECONDS.
wait_metric() {
  python3 - "$@" <<'EOF'
import sys, time, urllib.request
addr, secs, pairs = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
want = dict(zip(pairs[0::2], pairs[1::2]))
deadline = time.monotonic() + secs
while True:
    try:
        text = urllib.request.urlopen(f"http://{addr}/metrics", timeout=5).read().decode()
        got = {}
        for line in text.splitlines():
            name, _, value = line.rpartition(" ")
            if name in want:
                got[name] = value
        if all(got.get(k) == v for k, v in want.items()):
            sys.exit(0)
    except OSError:
        pass
    if time.monotonic() >= deadline:
        sys.exit(1)
    time.sleep(0.02)
EOF
}

# wait_line FILE PATTERN SECONDS
wait_line() {
  local i n=$((${3} * 10))
  for ((i = 0; i < n; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# json FILE EXPR: a field of the last JSON line of FILE, e.g. json f "['held']".
json() { tail -n 1 "$1" | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print(d$2)"; }

# start_msrpcd NAME ADDR CONFIG: starts msrpcd (EPM on ADDR:1135, demo, metrics on ADDR:9135),
# sets DPID and waits for it to be ready.
start_msrpcd() {
  $bin/msrpcd --config "$3" --listen "$2:$PORT" --demo --ports 50000-50999 \
    --registration-socket "$tmp/$1.sock" --audit-log "$tmp/$1.audit" --metrics "$2:$MPORT" \
    --log-level info >>"$tmp/$1.log" 2>&1 &
  DPID=$!
  pids+=("$DPID")
  wait_line "$tmp/$1.log" "msrpcd ready" 10 || { cat "$tmp/$1.log" >&2; echo "FAIL: msrpcd $1 did not start" >&2; exit 1; }
}

cat >"$tmp/a.toml" <<EOF
[limits]
max-connections = $((IDLE_CONNS + 1000))
EOF
cat >"$tmp/b.toml" <<EOF
[limits]
idle-timeout = 3
fragment-timeout = 2
send-timeout = 2
EOF
cp "$tmp/a.toml" "$tmp/c.toml"
cat >"$tmp/a3.toml" <<EOF
[limits]
max-connections = 100
EOF

declare -A fig

# ---------------------------------------------------------------------------------------------
step "A. $IDLE_CONNS idle bound connections (msrpcd on $A:$PORT)"
start_msrpcd a $A "$tmp/a.toml"
apid=$DPID
$msrpc call $A:$PORT mgmt-is-listening >/dev/null
$msrpc --epm-port $PORT call $A echo-add-one 1 >/dev/null
sleep 0.5
rss0=$(rss_kib $apid)
idle_round() { # idle_round N: holds the connections; sets RSS_HELD, RSS_AFTER; checks as it goes
  local out=$tmp/idle$1.json
  timeout 180 $msrpc --json bench-idle $A:$PORT --conns "$IDLE_CONNS" --bind --hold 120 --parallel 128 >"$out" 2>&1 &
  local hpid=$!
  pids+=("$hpid")
  if ! wait_line "$out" '"holding"' 120; then
    fail "round $1: the connections were not all opened within 120 s"; cat "$out" >&2
  fi
  sleep 1
  RSS_HELD=$(rss_kib $apid)
  local held failed conns
  held=$(json "$out" "['held']"); failed=$(json "$out" "['failed']")
  conns=$(metric $A:$MPORT 'msrpc_server_connections{server="epm"}')
  [ "$held" = "$IDLE_CONNS" ] && [ "$failed" = 0 ] && ok "round $1: $held connections held, 0 failed" ||
    fail "round $1: held $held of $IDLE_CONNS, failed $failed ($(json "$out" "['first_error']"))"
  [ "$conns" -ge "$IDLE_CONNS" ] && ok "round $1: msrpcd holds $conns connections" ||
    fail "round $1: msrpcd reports $conns connections, expected $IDLE_CONNS"
  local t0 t1
  t0=$(date +%s%N)
  if $msrpc call $A:$PORT mgmt-is-listening >/dev/null && [ "$($msrpc --epm-port $PORT call $A echo-add-one 41)" = 42 ]; then
    t1=$(date +%s%N)
    CALL_MS=$(((t1 - t0) / 1000000))
    ok "round $1: EPM and rpcecho calls served while the connections are held (${CALL_MS} ms for both)"
  else
    fail "round $1: a normal call failed while the connections were held"
  fi
  kill -TERM $hpid
  local rc=0
  wait $hpid || rc=$?
  [ $rc = 0 ] && ok "round $1: no connection lost while held" || { fail "round $1: bench-idle exit $rc"; tail -2 "$out" >&2; }
  wait_metric $A:$MPORT 20 'msrpc_server_connections{server="epm"}' 0 && ok "round $1: connections back to 0" ||
    fail "round $1: msrpcd still reports $(metric $A:$MPORT 'msrpc_server_connections{server="epm"}') connections"
  wait_metric $A:$MPORT 20 'msrpc_assoc_groups{server="epm"}' 0 && ok "round $1: association groups back to 0" ||
    fail "round $1: msrpcd still has $(metric $A:$MPORT 'msrpc_assoc_groups{server="epm"}') association groups"
  sleep 0.5
  RSS_AFTER=$(rss_kib $apid)
}
idle_round 1
rss1=$RSS_HELD
idle_round 2
prev=$RSS_HELD
growth=$((rss1 - rss0))
per_conn=$(python3 -c "print(f'{($rss1 - $rss0) / $IDLE_CONNS:.1f}')")
echo "RSS (KiB): before $rss0; round 1 held $rss1; round 2 held $prev, closed $RSS_AFTER"
# glibc keeps freed memory (RSS does not drop after the close) and the second round may land
# in another thread's arena; after that, identical rounds must reuse the memory. A leak grows
# by the same amount every round: some round among 3-5 must peak at most 10 % of the first
# round's growth above the round before it.
reused=0
for r in 3 4 5; do
  idle_round $r
  echo "RSS (KiB): round $r held $RSS_HELD (+$((RSS_HELD - prev))), closed $RSS_AFTER"
  if [ $((RSS_HELD - prev)) -le $((growth / 10)) ]; then
    ok "memory reused: round $r peaked +$((RSS_HELD - prev)) KiB over round $((r - 1)) (round 1 grew +$growth KiB)"
    reused=1
    break
  fi
  prev=$RSS_HELD
done
[ $reused = 1 ] || fail "RSS kept growing by more than $((growth / 10)) KiB a round over 5 rounds: a leak?"
rss3=$RSS_HELD rss3_after=$RSS_AFTER
fig[rss]="$per_conn"
fig[rss_after]=$(python3 -c "print(f'{($rss3_after - $rss0) / 1024:.0f}')")
fig[rss_peak]=$(python3 -c "print(f'{($rss3 - $rss0) / 1024:.0f}')")
fig[call_ms]=$CALL_MS

step "A2. $IDLE_CONNS idle raw TCP connections (never bound) on a fresh msrpcd ($A2:$PORT)"
start_msrpcd a2 $A2 "$tmp/a.toml"
a2pid=$DPID
$msrpc call $A2:$PORT mgmt-is-listening >/dev/null
sleep 0.5
r0=$(rss_kib $a2pid)
timeout 180 $msrpc --json bench-idle $A2:$PORT --conns "$IDLE_CONNS" --hold 120 >"$tmp/raw.json" 2>&1 &
hpid=$!
pids+=("$hpid")
if wait_line "$tmp/raw.json" '"holding"' 120 && [ "$(json "$tmp/raw.json" "['held']")" = "$IDLE_CONNS" ] &&
  wait_metric $A2:$MPORT 20 'msrpc_server_connections{server="epm"}' "$IDLE_CONNS"; then
  sleep 1
  fig[rss_raw]=$(python3 -c "print(f'{($(rss_kib $a2pid) - $r0) / $IDLE_CONNS:.1f}')")
  ok "$IDLE_CONNS raw connections held: ${fig[rss_raw]} KiB each"
else
  fig[rss_raw]=-
  fail "raw connections: $(cat "$tmp/raw.json")"
fi
kill -TERM $hpid
wait $hpid || fail "bench-idle (raw) lost connections: $(tail -1 "$tmp/raw.json")"
kill -TERM $a2pid

step "A3. max-connections = 100: of 150 connections, 50 are closed at once, the rest served ($A3:$PORT)"
start_msrpcd a3 $A3 "$tmp/a3.toml"
a3pid=$DPID
timeout 60 $msrpc --json bench-idle $A3:$PORT --conns 150 --hold 1 >"$tmp/max.json" 2>"$tmp/max.err" || true
held=$(json "$tmp/max.json" "['held']" 2>/dev/null || echo -)
lost=$(json "$tmp/max.json" "['lost']" 2>/dev/null || echo -)
[ "$held" = 150 ] && [ "$lost" = 50 ] && ok "150 connected, 50 closed at once by msrpcd" ||
  fail "max-connections: held $held, lost $lost (expected 150 and 50): $(cat "$tmp/max.json" "$tmp/max.err")"
wait_metric $A3:$MPORT 10 'msrpc_server_connections{server="epm"}' 0 && $msrpc call $A3:$PORT mgmt-is-listening >/dev/null &&
  ok "served again once they closed" || fail "not served after the connections closed"
kill -TERM $a3pid

# ---------------------------------------------------------------------------------------------
step "B. $CALLS calls over 64 connections (mgmt is_server_listening)"
if timeout 600 $msrpc --json bench $A:$PORT --conns 64 --calls "$CALLS" --duration 500 --warmup 0 \
  --op mgmt-is-listening >"$tmp/bench.json" 2>"$tmp/bench.err"; then :; else
  fail "msrpc bench failed: $(cat "$tmp/bench.err")"
fi
bj() { python3 -c "import json,sys; d=json.load(open('$tmp/bench.json')); print(d$1)"; }
calls=$(bj "['calls']") errors=$(bj "['errors']") broken=$(bj "['broken_conns']")
[ "$calls" = "$CALLS" ] && [ "$errors" = 0 ] && [ "$broken" = 0 ] && ok "$calls calls, 0 errors" ||
  fail "bench: $calls calls of $CALLS, $errors errors, $broken broken connections (first: $(bj "['first_error']"))"
fig[cps]=$(bj "['calls_per_sec']")
fig[p50]=$(bj "['latency_us']['p50']")
fig[p99]=$(bj "['latency_us']['p99']")
fig[errors]=$errors
fig[secs]=$(bj "['measured_s']")

# ---------------------------------------------------------------------------------------------
step "C. slow sender, half-open connection, non-reading client (msrpcd on $B:$PORT: idle 3 s, fragment 2 s, send 2 s)"
start_msrpcd b $B "$tmp/b.toml"
echo_port=$(sed -n 's/^rpcecho demo on .*:\([0-9]*\)$/\1/p' "$tmp/b.log" | head -1)
faults=scripts/load_faults.py
timeout 30 python3 $faults --max 15 slow $B $PORT >"$tmp/slow.json" &
p_slow=$!
timeout 30 python3 $faults --max 15 silent $B $PORT >"$tmp/silent.json" &
p_silent=$!
timeout 40 python3 $faults --max 25 noread $B "$echo_port" --wait 6 >"$tmp/noread.json" &
p_noread=$!
pids+=($p_slow $p_silent $p_noread)
served=0
for i in $(seq 1 20); do
  if $msrpc --timeout 2 call $B:$PORT mgmt-is-listening >/dev/null &&
    [ "$($msrpc --timeout 2 --epm-port $PORT call $B echo-add-one $i)" = $((i + 1)) ]; then
    served=$((served + 1))
  fi
  sleep 0.2
done
[ $served = 20 ] && ok "20 of 20 other clients served meanwhile" || fail "only $served of 20 other clients served meanwhile"
for m in slow silent noread; do
  p=p_$m
  wait ${!p} || true
  if [ "$(json "$tmp/$m.json" "['closed']" 2>/dev/null)" = True ]; then
    fig[$m]=$(json "$tmp/$m.json" "['seconds']")
    if [ $m = noread ]; then
      # The client reads only after --wait; when msrpcd gave up is in its audit record.
      fig[$m]=$(grep '"reason":"write failed: send timed out' "$tmp/b.audit" | python3 -c "import json,sys; print(round(json.loads(sys.stdin.readline())['duration'], 3))" 2>/dev/null || echo -)
    fi
    ok "$m: closed by msrpcd after ${fig[$m]} s ($(json "$tmp/$m.json" "['how']"))"
  else
    fig[$m]=-
    fail "$m: not closed by msrpcd: $(cat "$tmp/$m.json")"
  fi
done
in_range() { python3 -c "import sys; v=float('$1'); sys.exit(0 if $2 <= v <= $3 else 1)" 2>/dev/null; }
in_range "${fig[slow]}" 1.8 4 && ok "slow sender cut at the fragment timeout (2 s)" || fail "slow sender cut after ${fig[slow]} s, not ~2 s"
in_range "${fig[noread]}" 1.8 6 && ok "non-reading client cut by the send timeout (2 s)" || fail "non-reading client cut after ${fig[noread]} s"
in_range "${fig[silent]}" 2.8 5 && ok "half-open connection cut at the idle timeout (3 s)" || fail "half-open connection cut after ${fig[silent]} s, not ~3 s"
sleep 0.5
for reason in '"reason":"fragment_timeout"' '"reason":"idle_timeout"' '"reason":"write failed: send timed out'; do
  grep -q -- "$reason" "$tmp/b.audit" && ok "audit conn_close $reason" || fail "no conn_close with $reason in the audit log"
done
grep -q "fragment not completed in time" "$tmp/b.log" && ok "log line: fragment not completed in time" ||
  fail "no 'fragment not completed in time' log line"
# Each cut connection is reported with its own peer (connection numbers are unique per process).
grep '"event":"conn_close"' "$tmp/b.audit" | grep -q '"id.orig_h":null' &&
  fail "a conn_close event without its connection's addresses (mixed-up connection ids)" ||
  ok "every conn_close event carries its connection's addresses"

# ---------------------------------------------------------------------------------------------
step "D. a client killed mid-call while holding $KILL_HANDLES EPM lookup handles (msrpcd on $A)"
a_echo=$(sed -n 's/^rpcecho demo on .*:\([0-9]*\)$/\1/p' "$tmp/a.log" | head -1)
# Not under `timeout`: the kill must reach the client itself (it bounds its own life, --max).
python3 $faults --max 90 killmid $A $PORT "$a_echo" $KILL_HANDLES >"$tmp/killmid.json" &
p_kill=$!
pids+=($p_kill)
if wait_line "$tmp/killmid.json" '"ready"' 20; then
  handles=$(json "$tmp/killmid.json" "['handles']")
  live=$(metric $A:$MPORT msrpc_epm_live_handles)
  groups=$(metric $A:$MPORT 'msrpc_assoc_groups{server="demo"}')
  [ "$handles" = $KILL_HANDLES ] && [ "$live" = $KILL_HANDLES ] && ok "$live live EPM handles before the kill" ||
    fail "client holds $handles handles, msrpcd reports $live live (expected $KILL_HANDLES)"
  [ "$groups" -ge 1 ] && ok "the call in progress holds a demo association group" || fail "no demo association group during the call"
  t0=$(date +%s%N)
  kill -9 $p_kill
  wait $p_kill 2>/dev/null || true
  if wait_metric $A:$MPORT 10 msrpc_epm_live_handles 0 'msrpc_assoc_groups{server="epm"}' 0 \
    'msrpc_assoc_groups{server="demo"}' 0 'msrpc_server_connections{server="demo"}' 0 \
    'msrpc_server_connections{server="epm"}' 0; then
    fig[rundown]=$((($(date +%s%N) - t0) / 1000000))
    ok "live handles and association groups back to 0 within ${fig[rundown]} ms of the kill"
  else
    fig[rundown]=-
    fail "after the kill: live handles $(metric $A:$MPORT msrpc_epm_live_handles), groups epm $(metric $A:$MPORT 'msrpc_assoc_groups{server="epm"}') demo $(metric $A:$MPORT 'msrpc_assoc_groups{server="demo"}')"
  fi
else
  fig[rundown]=-
  fail "the killmid client did not get ready: $(cat "$tmp/killmid.json")"
fi

# ---------------------------------------------------------------------------------------------
step "E. msrpcd restarted while msrpc-echo-service is registered (msrpcd on $C)"
start_msrpcd c $C "$tmp/c.toml"
cpid=$DPID
$bin/msrpc-echo-service --listen $C:0 --ports 51000-51999 --registration-socket "$tmp/c.sock" \
  --log-level warn >"$tmp/echo.log" 2>&1 &
epid=$!
pids+=($epid)
wait_line "$tmp/echo.log" "registered 1" 10 && ok "msrpc-echo-service registered" || fail "msrpc-echo-service did not register: $(cat "$tmp/echo.log")"
[ "$($msrpc --epm-port $PORT call $C echo-add-one 1)" = 2 ] && ok "call through the EPM before the restart" || fail "call through the EPM failed before the restart"
kill -TERM $cpid
stopped=0
for i in $(seq 1 150); do
  kill -0 $cpid 2>/dev/null || { stopped=1; break; }
  sleep 0.1
done
[ $stopped = 1 ] && ok "msrpcd stopped on SIGTERM" || fail "msrpcd did not stop within 15 s of SIGTERM"
wait $cpid 2>/dev/null || true
t0=$(date +%s%N)
start_msrpcd c $C "$tmp/c.toml"
if wait_line "$tmp/echo.log" "registered 2" 30; then
  fig[rereg]=$((($(date +%s%N) - t0) / 1000000))
  ok "msrpc-echo-service re-registered ${fig[rereg]} ms after msrpcd was started again"
else
  fig[rereg]=-
  fail "msrpc-echo-service did not re-register within 30 s: $(tail -3 "$tmp/echo.log")"
fi
# The client retries (a bounded loop) until the EPM knows the service again.
retried=-
for i in $(seq 1 100); do
  if [ "$($msrpc --timeout 2 --epm-port $PORT call $C echo-add-one 41 2>/dev/null)" = 42 ]; then
    retried=$((($(date +%s%N) - t0) / 1000000))
    break
  fi
  sleep 0.1
done
fig[retry]=$retried
[ "$retried" != - ] && ok "client's retry through the EPM succeeded ${retried} ms after the restart" ||
  fail "client's retries through the EPM failed for 10 s after the restart"

# ---------------------------------------------------------------------------------------------
step "figures"
target_met=$(python3 -c "print('met' if ${fig[rss]} <= 16 else 'not met')")
cat <<EOF
| figure | measured | target / baseline |
|---|---|---|
| RSS per idle bound connection ($IDLE_CONNS held) | ${fig[rss]} KiB | <= 16 KiB ($target_met) |
| RSS per idle raw TCP connection (never bound; $IDLE_CONNS held, fresh msrpcd) | ${fig[rss_raw]} KiB | |
| msrpcd RSS over its start: last round held / after close | ${fig[rss_peak]} / ${fig[rss_after]} MiB | no growth across rounds |
| EPM + rpcecho call while $IDLE_CONNS are held | ${fig[call_ms]} ms | served |
| calls/s, mgmt is_server_listening, 64 connections | ${fig[cps]} | $CALLS calls in ${fig[secs]} s |
| latency p50 / p99 | ${fig[p50]} / ${fig[p99]} µs | |
| errors in $CALLS calls | ${fig[errors]} | 0 |
| slow sender (half a PDU) cut after | ${fig[slow]} s | fragment-timeout = 2 s |
| half-open connection cut after | ${fig[silent]} s | idle-timeout = 3 s |
| non-reading client cut after (msrpcd's audit: connection duration) | ${fig[noread]} s | send-timeout = 2 s |
| client killed mid-call: handles, groups, connections at 0 after | ${fig[rundown]} ms | (polled every 20 ms) |
| msrpcd restarted: echo service re-registered after | ${fig[rereg]} ms | backoff 100 ms doubling to 5 s |
| msrpcd restarted: client's retry through the EPM served after | ${fig[retry]} ms | |
EOF
if [ $failures -gt 0 ]; then
  echo "FAIL: $failures expectation(s) failed" >&2
  exit 1
fi
echo "all load and fault expectations hold"
