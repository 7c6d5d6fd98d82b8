//! Helpers shared by the capture tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use msrpc_analyze::summary::Summary;
use msrpc_analyze::{Analyzer, Config};
use msrpc_audit::Event;

/// The third-party captures: `$MSRPC_CAPTURES`, by default `../shared/captures` from the
/// repository root. Panics (loudly) when they are missing: the tests that need them are named
/// `shared_captures_*`, and `scripts/test.sh` skips those (and says so) when the captures are
/// absent and not required (`MSRPC_REQUIRE_CAPTURES=1`, which `.ci/run` sets).
pub fn captures_dir() -> PathBuf {
    let dir = std::env::var_os("MSRPC_CAPTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures"),
        PathBuf::from,
    );
    assert!(
        dir.join("SOURCES.md").is_file(),
        "the third-party captures are missing: expected them in {} (set MSRPC_CAPTURES, default \
         ../shared/captures from the repository root)",
        dir.display()
    );
    dir
}

/// This crate's test data.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// Runs the analyzer over a file.
pub fn analyze(path: &std::path::Path) -> (Summary, Vec<Event>) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut a = Analyzer::new(Config::default());
    let mut events = Vec::new();
    msrpc_analyze::run(
        std::io::BufReader::new(f),
        &mut a,
        |e| events.extend(e),
        |_| {},
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (a.summary().clone(), events)
}

/// What tshark dissects as connection-oriented DCE/RPC over TCP (directly, or inside SMB
/// named pipes).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tshark {
    /// PDUs by packet type name.
    pub pdus: BTreeMap<String, u64>,
    /// Request PDUs by opnum.
    pub request_opnums: BTreeMap<u16, u64>,
    /// Context elements offered in bind/alter_context by interface UUID.
    pub offered: BTreeMap<String, u64>,
}

/// Runs tshark (which must be installed: the test fails otherwise) with `decode_as` extra
/// `-d` arguments: every connection-oriented PDU over TCP, SMB named pipes included, except
/// inside GRE tunnels (the analyzer decodes no tunnels: `tcpdump__wccp_redirect_gre.pcap`'s
/// one TransactNmPipe request is not seen).
pub fn tshark(path: &std::path::Path, decode_as: &[&str]) -> Tshark {
    tshark_filtered(path, decode_as, "dcerpc && tcp && !gre")
}

/// [`tshark`] for the PDUs carried by SMB named pipes only.
pub fn tshark_np(path: &std::path::Path, decode_as: &[&str]) -> Tshark {
    tshark_filtered(path, decode_as, "dcerpc && (smb || smb2) && !gre")
}

fn tshark_filtered(path: &std::path::Path, decode_as: &[&str], filter: &str) -> Tshark {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(path);
    for d in decode_as {
        cmd.arg("-d").arg(d);
    }
    cmd.args([
        "-Y",
        filter,
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
        "-e",
        "dcerpc.pkt_type",
        "-e",
        "dcerpc.cn_bind_to_uuid",
        "-e",
        "dcerpc.opnum",
    ]);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("tshark is required for this test and could not run: {e}"));
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut t = Tshark::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let list = |i: usize| -> Vec<&str> {
            cols.get(i)
                .map(|c| c.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default()
        };
        let types: Vec<u8> = list(0).iter().map(|s| s.parse().unwrap()).collect();
        for ty in &types {
            let name = msrpc_analyze::names::ptype(msrpc_proto::pdu::PacketType(*ty));
            *t.pdus.entry(name).or_default() += 1;
        }
        for u in list(1) {
            *t.offered.entry(u.to_string()).or_default() += 1;
        }
        // Opnums belong to requests, responses and faults, in PDU order.
        let ops: Vec<u16> = list(2).iter().map(|s| s.parse().unwrap()).collect();
        let with_op: Vec<u8> = types
            .iter()
            .copied()
            .filter(|t| matches!(t, 0 | 2 | 3))
            .collect();
        if with_op.len() == ops.len() {
            for (ty, op) in with_op.iter().zip(&ops) {
                if *ty == 0 {
                    *t.request_opnums.entry(*op).or_default() += 1;
                }
            }
        } else if types.iter().all(|t| *t == 0) {
            // Requests whose opnum tshark printed once per frame.
            for _ in &types {
                if let Some(op) = ops.first() {
                    *t.request_opnums.entry(*op).or_default() += 1;
                }
            }
        }
    }
    t
}

/// The analyzer's numbers in tshark's shape.
pub fn ours(s: &Summary) -> Tshark {
    let mut request_opnums = BTreeMap::new();
    for ops in s.request_pdus.values() {
        for (op, n) in ops {
            *request_opnums.entry(*op).or_default() += n;
        }
    }
    Tshark {
        pdus: s.pdus.clone(),
        request_opnums,
        offered: s.offered.clone(),
    }
}
