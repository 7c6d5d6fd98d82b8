#!/usr/bin/env bash
# The one command that runs every test: formatting, lints, unit/integration/doc tests, the
# Impacket cross-check of our vector files, the interop tests against Impacket, Samba and tshark
# (tests/interop/run.sh), and a short fuzz smoke run.
# It installs what it needs: Impacket and scapy into target/venv (PyPI), cargo-fuzz (crates.io), and as root
# the Debian packages tshark, samba, samba-common-bin, smbclient (tests/interop/run.sh's peers),
# python3-samba and samba-testsuite (Samba's NDR engine and ndrdump, tests/tests/samba_ndr.rs),
# and libpcap-dev (the live sensor, `msrpc analyze --interface`, links libpcap).
# Set MSRPC_SKIP_FUZZ=1 to leave out the fuzz smoke run while iterating locally, and
# MSRPC_SKIP_LOAD=1 to leave out the load and fault tests (scripts/load.sh, about three minutes).
#
# Third-party captures (real traffic of Windows hosts and attack tools, which we may not
# redistribute) live outside the repository: MSRPC_CAPTURES names their directory (default
# ../shared/captures from the repository root). Without them, the tests that need them
# (`shared_captures_*`) are skipped and named at the start and the end of the run, and
# everything else runs; with MSRPC_REQUIRE_CAPTURES=1 (.ci/run sets it) their absence fails.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "third-party captures"
MSRPC_CAPTURES=${MSRPC_CAPTURES:-$(cd .. && pwd)/shared/captures}
CAPTURE_SKIP=()
if [ -f "$MSRPC_CAPTURES/SOURCES.md" ]; then
  export MSRPC_CAPTURES
  echo "using $MSRPC_CAPTURES ($(find "$MSRPC_CAPTURES" -maxdepth 1 -type f | wc -l) files)"
elif [ "${MSRPC_REQUIRE_CAPTURES:-0}" = 1 ]; then
  echo "FAIL: the third-party captures are required (MSRPC_REQUIRE_CAPTURES=1) and missing:" >&2
  echo "      no $MSRPC_CAPTURES/SOURCES.md; set MSRPC_CAPTURES to their directory" >&2
  exit 1
else
  unset MSRPC_CAPTURES
  CAPTURE_SKIP=(--skip shared_captures_)
  skipped_capture_tests() {
    grep -ho 'fn shared_captures_[a-z0-9_]*' crates/*/tests/*.rs | sed 's/^fn /    /'
  }
  echo "NOTE: no third-party captures (MSRPC_CAPTURES unset and no ../shared/captures):"
  echo "      these tests will not run, everything else will (fuzz corpora: Impacket vectors only):"
  skipped_capture_tests
fi

step "peers the tests need: tshark, Samba (samba-dcerpcd, rpcclient, python3-samba, ndrdump), libpcap-dev (Debian packages)"
# tshark dissects our traffic (tests/tests/tshark_dissects.rs, tests/interop/run.sh); Samba's
# samba-dcerpcd and rpcclient are the peers of tests/interop/run.sh; Samba's NDR engine
# (python3-samba's samba.dcerpc, samba-testsuite's ndrdump) cross-checks ours
# (tests/tests/samba_ndr.rs with tests/interop/samba_ndr_cross.py, run by cargo test).
# libpcap-dev: msrpc-cli's default `live` feature links libpcap (crates/msrpc-cli/tests/sensor.rs
# captures on lo as root). nftables, iptables, iproute2: `msrpc firewall`'s rules are loaded in a network
# namespace (crates/msrpc-cli/tests/firewall.rs).
peers_missing() {
  command -v tshark >/dev/null 2>&1 || return 0
  [ -e /usr/include/pcap/pcap.h ] || return 0
  command -v rpcclient >/dev/null 2>&1 || return 0
  [ -x /usr/libexec/samba/samba-dcerpcd ] || return 0
  command -v ndrdump >/dev/null 2>&1 || return 0
  command -v nft >/dev/null 2>&1 || return 0
  command -v iptables-restore >/dev/null 2>&1 || return 0
  /usr/bin/python3 -c 'import samba.dcerpc.epmapper, samba.dcerpc.mgmt, samba.dcerpc.echo' \
    >/dev/null 2>&1 || return 0
  return 1
}
if peers_missing; then
  if [ "$(id -u)" = 0 ]; then
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    # Install without starting Samba's system services (smbd/nmbd would take ports 139/445).
    own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      own_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      tshark samba samba-common-bin smbclient python3-samba samba-testsuite libpcap-dev \
      nftables iptables iproute2 >/dev/null
    [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
  else
    echo "FAIL: tshark, rpcclient, samba-dcerpcd, ndrdump or python3-samba is missing and this is" >&2
    echo "      not root; install them (apt-get install tshark samba samba-common-bin smbclient" >&2
    echo "      python3-samba samba-testsuite libpcap-dev nftables iptables iproute2)" >&2
    exit 1
  fi
fi
if peers_missing; then
  echo "FAIL: tshark, rpcclient, /usr/libexec/samba/samba-dcerpcd, ndrdump, python3-samba, libpcap-dev, nft and iptables-restore are" >&2
  echo "      still not all installed" >&2
  exit 1
fi
tshark --version | head -1
/usr/libexec/samba/samba-dcerpcd --version | head -1
ndrdump --version | head -1

step "Impacket 0.13.1 into target/venv (integration tests and the interop suite use it)"
VENV=target/venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import impacket' 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check impacket==0.13.1
fi
step "scapy 2.6.1 into target/venv (the connectionless hostile datagrams, tests/hostile-udp)"
if ! "$VENV/bin/python" -c 'import scapy.layers.dcerpc' 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check scapy==2.6.1
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo doc (broken or ambiguous doc links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "cargo test --workspace"
# Includes the hostile-input corpus (tests/hostile/*.toml) against a live msrpcd:
# crates/msrpcd/tests/hostile.rs builds msrpcd (CARGO_BIN_EXE_msrpcd) and fails on any case;
# and the cross-check with Samba's NDR engine (tests/tests/samba_ndr.rs, no server needed).
cargo test --workspace -- "${CAPTURE_SKIP[@]}"

step "Impacket: regenerate the NDR/PDU vectors and compare with the checked-in files"
VENV=target/venv
tmp=$(mktemp -d)
"$VENV/bin/python" tools/impacket-vectors/gen_vectors.py --out "$tmp"
if ! diff -r "$tmp" tests/vectors/impacket; then
  echo "FAIL: vectors regenerated by Impacket differ from tests/vectors/impacket" >&2
  exit 1
fi
rm -rf "$tmp"
tmp=$(mktemp -d)
"$VENV/bin/python" tools/impacket-vectors/gen_dcom_vectors.py --out "$tmp"
if ! diff -r "$tmp" tests/vectors/impacket-dcom; then
  echo "FAIL: DCOM vectors regenerated by Impacket differ from tests/vectors/impacket-dcom" >&2
  exit 1
fi
rm -rf "$tmp"
echo "vectors reproduce byte for byte"

step "interop: Impacket and tshark against msrpcd, msrpc against Samba (tests/interop/run.sh)"
tests/interop/run.sh

if [ "${MSRPC_SKIP_LOAD:-0}" != 1 ]; then
  step "load and faults against release msrpcd: 10,000 idle connections, 1,000,000 calls, timeouts, kill -9, restart (scripts/load.sh)"
  scripts/load.sh
fi

if [ "${MSRPC_SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzz smoke run (every target, ${FUZZ_SECONDS:-20}s each)"
  scripts/fuzz.sh smoke
fi

if [ ${#CAPTURE_SKIP[@]} -gt 0 ]; then
  step "all tests passed, but these did not run: the third-party captures are absent (MSRPC_CAPTURES)"
  skipped_capture_tests
else
  step "all tests passed"
fi
