//! The live audit reads endpoint mapper stubs in the transfer syntax the call's context
//! accepted. msrpcd (NDR64 preferred, as 64-bit Windows) answers our client in NDR64 and
//! Impacket (which offers NDR20 only) in NDR20; the same `ept_lookup` walk and `ept_map` from
//! both must give the same `epm_lookup` and `epm_map` events. Before the audit followed the
//! context's syntax, the NDR64 walk was logged as a resumed walk of `max_ents` 0.
//!
//! Impacket 0.13.1 comes from `target/venv` (see `ntlm.rs`); the test fails loudly without it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use msrpc_epm::{
    EptClient, EptLookupRequest, EptMapRequest, Tower, RPC_C_EP_ALL_ELTS, RPC_C_VERS_ALL,
};
use msrpc_ndr::{ContextHandle, TransferSyntax, Unique, Uuid};
use msrpc_proto::pdu::SyntaxId;
use serde_json::Value;
use support::*;

const ECHO: Uuid = Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182);

fn python() -> PathBuf {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: this test needs Impacket 0.13.1 in target/venv \
         (python3 -m venv target/venv && target/venv/bin/pip install impacket==0.13.1)",
        py.display()
    );
    py
}

/// Impacket's own helpers on one NDR20 connection: `hept_lookup` (max_ents 500, every element,
/// `RPC_C_VERS_ALL`, following the handle) and `hept_map` of rpcecho over `ncacn_ip_tcp`
/// (max_towers 1).
const IMPACKET: &str = r#"
import sys
from impacket.dcerpc.v5 import transport, epm
from impacket.uuid import uuidtup_to_bin
host, port = sys.argv[1], int(sys.argv[2])
t = transport.DCERPCTransportFactory('ncacn_ip_tcp:%s[%d]' % (host, port))
dce = t.get_dce_rpc()
dce.connect()
entries = epm.hept_lookup(host, dce=dce)
print('entries', len(entries))
dce.disconnect()
dce = t.get_dce_rpc()
dce.connect()
print('map', epm.hept_map(host, uuidtup_to_bin(('60a15ec5-4de8-11d7-a637-005056a20182', '1.0')), protocol='ncacn_ip_tcp', dce=dce))
dce.disconnect()
"#;

/// The EPM events of connection `uid`, without what differs by connection.
fn epm_events(evs: &[Value], uid: &str) -> Vec<Value> {
    evs.iter()
        .filter(|e| e["uid"] == uid && (e["event"] == "epm_lookup" || e["event"] == "epm_map"))
        .map(|e| {
            let mut e = e.clone();
            let o = e.as_object_mut().unwrap();
            for k in [
                "ts",
                "uid",
                "id.orig_h",
                "id.orig_p",
                "id.resp_h",
                "id.resp_p",
                "call_id",
            ] {
                o.remove(k);
            }
            e
        })
        .collect()
}

/// The uids of the connections whose `ept_lookup` or `ept_map` calls ran in `syntax` (from
/// their bind events' accepted context).
fn uids_in(evs: &[Value], syntax: &str) -> Vec<String> {
    evs.iter()
        .filter(|e| e["event"] == "bind")
        .filter(|e| {
            e["contexts"].as_array().unwrap().iter().any(|c| {
                c["endpoint"] == "epmapper"
                    && c["result"] == "accepted"
                    && c["transfer_syntaxes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t == syntax)
            })
        })
        .map(|e| e["uid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndr64_and_ndr20_epm_calls_give_the_same_events() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run").join("epm.sock");
    let log = dir.path().join("audit.json");
    let mut d = Proc::spawn(
        MSRPCD,
        &[
            "--listen",
            "127.0.0.134:1135",
            "--demo",
            "--ports",
            "50000-59999",
            "--registration-socket",
            sock.to_str().unwrap(),
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    let epm = d.addr_line("EPM listening on").await;
    d.addr_line("rpcecho demo on").await;

    // Our client: NDR64 accepted; the same requests Impacket's helpers send.
    let client = connect(epm).await;
    let ept = EptClient::new(client.clone());
    let mut handle = ContextHandle::NULL;
    let mut walked = 0;
    loop {
        let r = ept
            .ept_lookup(EptLookupRequest {
                inquiry_type: RPC_C_EP_ALL_ELTS,
                object: Unique::null(),
                interface_id: Unique::null(),
                vers_option: RPC_C_VERS_ALL,
                entry_handle: handle,
                max_ents: 500,
            })
            .await
            .unwrap();
        walked += r.entries.len();
        handle = r.entry_handle;
        if handle.is_null() {
            break;
        }
    }
    assert!(walked >= 1);
    let epm_syntax = SyntaxId::new(
        Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa),
        3,
        0,
    );
    assert_eq!(
        client.transfer_for(&epm_syntax),
        Some(TransferSyntax::Ndr64),
        "msrpcd accepts NDR64 for the EPM"
    );
    client.close();
    let client = connect(epm).await;
    let ept = EptClient::new(client.clone());
    let query = Tower::ncacn_ip_tcp(
        SyntaxId::new(ECHO, 1, 0),
        SyntaxId::NDR20,
        "0.0.0.0".parse().unwrap(),
        0,
    )
    .to_twr()
    .unwrap();
    let r = ept
        .ept_map(EptMapRequest {
            object: Unique::null(),
            map_tower: Unique::new(query),
            entry_handle: ContextHandle::NULL,
            max_towers: 1,
        })
        .await
        .unwrap();
    assert_eq!(r.num_towers, 1);
    client.close();

    // Impacket: NDR20 only.
    let out = tokio::process::Command::new(&py)
        .arg("-c")
        .arg(IMPACKET)
        .arg(epm.ip().to_string())
        .arg(epm.port().to_string())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "impacket: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("entries {walked}")), "{stdout}");

    let mut evs = Vec::new();
    for _ in 0..100 {
        evs = audit_events(&log);
        if evs.iter().filter(|e| e["event"] == "conn_close").count() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ndr64 = uids_in(&evs, "ndr64");
    let ndr20: Vec<String> = uids_in(&evs, "ndr20")
        .into_iter()
        .filter(|u| !ndr64.contains(u))
        .collect();
    assert_eq!((ndr64.len(), ndr20.len()), (2, 2), "{evs:#?}");
    let ours: Vec<Value> = ndr64.iter().flat_map(|u| epm_events(&evs, u)).collect();
    let theirs: Vec<Value> = ndr20.iter().flat_map(|u| epm_events(&evs, u)).collect();
    assert_eq!(ours, theirs);
    // And what they say is right: a fresh full walk that ended, and rpcecho mapped.
    let walk = ours.iter().find(|e| e["event"] == "epm_lookup").unwrap();
    assert_eq!(walk["inquiry"], "all");
    assert_eq!(walk["resumed"], false);
    assert_eq!(walk["max_ents"], 500);
    assert_eq!(walk["entries"], u64::try_from(walked).unwrap());
    assert_eq!(walk["end"], true);
    let map = ours.iter().find(|e| e["event"] == "epm_map").unwrap();
    assert_eq!(map["interface"], ECHO.to_string());
    assert_eq!(map["endpoint"], "rpcecho");
    assert_eq!(map["protocol"], "ncacn_ip_tcp");
    assert_eq!(map["entries"], 1);
    assert_eq!(map["status"], 0);
}
