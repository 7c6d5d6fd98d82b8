#!/usr/bin/env bash
# NDR64 vs NDR20 encode/decode of the same values, in instructions (callgrind): for each value
# of msrpc_tests::values, each syntax and direction, tests/examples/ndr_instructions.rs runs N
# times and 0 times; (I(N) - I(0)) / N is the cost of one. Instruction counts do not move with
# the machine's load; `cargo bench -p msrpc-tests --bench codec -- ndr64_vs_ndr20` gives the
# wall-clock times of the same operations.
#
#   scripts/bench-ndr64.sh [N]      (default 2000; needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
cargo build -q --release -p msrpc-tests --example ndr_instructions
BIN=target/release/examples/ndr_instructions
count() { # VALUE SYNTAX OP N -> instructions
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" "$@" 2>&1 |
    sed -nE 's/^==[0-9]+== Collected : ([0-9]+)$/\1/p'
}
printf '%-22s %-7s %12s %12s %8s\n' value op ndr20 ndr64 "64/20"
for v in ept_lookup_50 test_call2_info7 test_enum test_surrounding_256 test_call_64; do
  for op in encode decode; do
    per=()
    for s in ndr20 ndr64; do
      a=$(count "$v" "$s" "$op" "$N")
      b=$(count "$v" "$s" "$op" 0)
      per+=("$(( (a - b) / N ))")
    done
    printf '%-22s %-7s %12d %12d %8s\n' "$v" "$op" "${per[0]}" "${per[1]}" \
      "$(awk -v a="${per[0]}" -v b="${per[1]}" 'BEGIN { printf "%.2f", b / a }')"
  done
done
