#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer). fuzz/ is its own Cargo workspace; see fuzz/README.md.
#
#   scripts/fuzz.sh smoke            seed the corpora, build, run every target FUZZ_SECONDS
#                                    (default 20) each; fails on any crash, leak, OOM or timeout
#   scripts/fuzz.sh long SECONDS     the same for SECONDS per target, then prints libFuzzer's
#                                    final stats (runs, execs/s, cov, ft, corpus) per target
#   scripts/fuzz.sh regressions      run only the committed inputs in fuzz/regressions/, strictly
#                                    (MSRPC_FUZZ_STRICT=1: known, reported findings fail too)
#   scripts/fuzz.sh seed | build     one step alone
#
# Environment:
#   FUZZ_SECONDS   seconds per target for smoke (default 20)
#   FUZZ_TARGETS   space-separated subset of targets (default: all)
#   FUZZ_JOBS      targets run at once (default 1; at most 2 on a 2-core machine)
#   MSRPC_CAPTURES capture directory for seeding (default ../shared/captures from the repo root;
#                  CAPTURES is still read); without captures the corpora are seeded from the
#                  Impacket vectors only
#   FUZZ_NICE      nice level for the fuzzers (default 10)
#
# It installs cargo-fuzz from crates.io when missing. It uses the nightly toolchain when one
# is installed, otherwise the stable one with RUSTC_BOOTSTRAP=1 (cargo-fuzz passes -Z flags).
set -euo pipefail
cd "$(dirname "$0")/.."


ALL_TARGETS="pdu_decode cl_server cl_client server_stream client_stream ndr_epm ndr_echo epm_tower epm_service ntlm analyze_stream verification_trailer audit_args audit_epm audit_inspect audit_dcom dcom_objref dcom_dualstringarray dcom_activation_blob dcom_orpcthis smb_stream dcom_local_service idl_parse ndr_windows_services"
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}
JOBS=${FUZZ_JOBS:-1}
NICE=${FUZZ_NICE:-10}
LOGS=fuzz/artifacts/logs
LIBFUZZER_ARGS=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=70000 -timeout=25 -print_final_stats=1)

say() { printf '==> %s\n' "$*"; }

ensure_cargo_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz (crates.io)"
    cargo install --locked cargo-fuzz
  fi
  if cargo +nightly --version >/dev/null 2>&1; then
    CARGO=(cargo +nightly)
  else
    say "no nightly toolchain: using stable with RUSTC_BOOTSTRAP=1"
    export RUSTC_BOOTSTRAP=1
    CARGO=(cargo)
  fi
}

seed() {
  say "seeding corpora from captures"
  local captures=${MSRPC_CAPTURES:-${CAPTURES:-}}
  if [ -n "$captures" ]; then
    python3 fuzz/seed_corpora.py "$captures"
  else
    python3 fuzz/seed_corpora.py
  fi
}

build() {
  if [ -n "${FUZZ_TARGETS:-}" ]; then
    # Only the targets asked for (cargo fuzz build takes one target name at a time).
    local t
    for t in $TARGETS; do
      say "building fuzz target $t"
      "${CARGO[@]}" fuzz build --fuzz-dir fuzz --debug-assertions "$t"
    done
    return
  fi
  say "building fuzz targets"
  "${CARGO[@]}" fuzz build --fuzz-dir fuzz --debug-assertions
}

# run_target TARGET SECONDS: runs one target on its corpus (plus committed regressions),
# logging to $LOGS/TARGET.log; returns libFuzzer's status.
run_target() {
  local t=$1 secs=$2
  mkdir -p "fuzz/corpus/$t" "fuzz/regressions/$t" "fuzz/artifacts/$t" "$LOGS"
  nice -n "$NICE" "${CARGO[@]}" fuzz run --fuzz-dir fuzz --debug-assertions "$t" \
    "fuzz/corpus/$t" "fuzz/regressions/$t" -- \
    "${LIBFUZZER_ARGS[@]}" -max_total_time="$secs" >"$LOGS/$t.log" 2>&1
}

# Runs every target for SECONDS, FUZZ_JOBS at a time; prints a line per target and fails if
# any target failed.
run_all() {
  local secs=$1 failed=() pids=() names=() t i
  for t in $TARGETS; do
    say "fuzzing $t for ${secs}s (log: $LOGS/$t.log)"
    run_target "$t" "$secs" &
    pids+=($!)
    names+=("$t")
    if [ "${#pids[@]}" -ge "$JOBS" ]; then
      for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then failed+=("${names[$i]}"); fi
      done
      pids=()
      names=()
    fi
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then failed+=("${names[$i]}"); fi
  done
  for t in $TARGETS; do
    summary "$t"
  done
  if [ "${#failed[@]}" -gt 0 ]; then
    for t in "${failed[@]}"; do
      echo "FAIL: $t (see $LOGS/$t.log and fuzz/artifacts/$t/)" >&2
      grep -E '^(==[0-9]+==|SUMMARY|thread .* panicked|artifact_prefix|Test unit written|Running:|panicked at)' "$LOGS/$t.log" | head -20 >&2 || true
      tail -n 30 "$LOGS/$t.log" | sed 's/^/    /' >&2
    done
    return 1
  fi
}

# summary TARGET: the final coverage line and stats of a run.
summary() {
  local t=$1 log=$LOGS/$1.log done_line runs eps
  [ -f "$log" ] || return 0
  done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true)
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -n 1)
  eps=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' | tail -n 1)
  printf '%-14s runs=%s execs/s=%s corpus_files=%s | %s\n' "$t" "${runs:-?}" "${eps:-?}" \
    "$(find "fuzz/corpus/$t" -type f | wc -l)" "${done_line:-no stats (see $log)}"
}

cmd=${1:-smoke}
case "$cmd" in
  smoke)
    ensure_cargo_fuzz
    seed
    build
    run_all "${FUZZ_SECONDS:-20}"
    say "fuzz smoke run passed"
    ;;
  long)
    secs=${2:?usage: scripts/fuzz.sh long SECONDS}
    ensure_cargo_fuzz
    seed
    build
    run_all "$secs"
    echo
    say "final libFuzzer stats"
    for t in $TARGETS; do
      echo "--- $t"
      grep -E '^stat::' "$LOGS/$t.log" || true
      grep -E '^#[0-9]+[[:space:]]+DONE' "$LOGS/$t.log" | tail -n 1 || true
    done
    ;;
  regressions)
    ensure_cargo_fuzz
    build
    status=0
    for t in $TARGETS; do
      files=$(find "fuzz/regressions/$t" -type f 2>/dev/null | sort)
      [ -n "$files" ] || continue
      say "replaying $(echo "$files" | wc -l) regression input(s) for $t"
      # shellcheck disable=SC2086
      mkdir -p "$LOGS"
      if ! MSRPC_FUZZ_STRICT=1 "${CARGO[@]}" fuzz run --fuzz-dir fuzz --debug-assertions "$t" $files -- -runs=1 \
          >"$LOGS/$t.regressions.log" 2>&1; then
        echo "FAIL: $t regression (see $LOGS/$t.regressions.log)" >&2
        status=1
      fi
    done
    exit $status
    ;;
  seed)
    seed
    ;;
  build)
    ensure_cargo_fuzz
    build
    ;;
  *)
    echo "usage: scripts/fuzz.sh smoke | long SECONDS | regressions | seed | build" >&2
    exit 2
    ;;
esac
