//! tshark (Wireshark's dissector, software we did not write) reads every PDU our client and
//! server exchange — binds, fragmented requests and responses in both byte orders, every
//! rpcecho operation, faults — without a malformed packet, and sees the packet types and
//! opnums we sent. Both transfer syntaxes: NDR64 (our client offers NDR20 and NDR64, our
//! server prefers NDR64, as 64-bit Windows; tshark must see the bind_ack accept NDR64 and
//! every request go to that context) and NDR20 only. The test fails loudly when tshark is
//! missing (scripts/test.sh installs it).
//!
//! Wireshark 4.0 has no rpcecho stub dissector, so what it reads of NDR64 here is the
//! connection-oriented layer over NDR64 stubs (fragmentation and reassembly included); the
//! NDR64 stubs of an interface it does dissect are the endpoint mapper's, checked in
//! tests/interop/run.sh, where its EPM dissector's NDR64 bug (an `ept_lookup` answer's
//! annotation counts read as 32-bit) is the one exception allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::Command;

use msrpc_echo::*;
use msrpc_ndr::DataRep;
use msrpc_proto::client::ClientConfig;
use msrpc_proto::dispatch::{Interface, Invoke};
use msrpc_proto::server::ServerConfig;
use msrpc_tests::{pcap, Loopback, Registry, TokioSleep};

async fn exchange(drep: DataRep, offer_ndr64: bool) -> Vec<pcap::Segment> {
    let lb = Loopback::new(
        ClientConfig {
            drep,
            max_xmit_frag: 1432,
            max_recv_frag: 1432,
            offer_ndr64,
            ..Default::default()
        },
        ServerConfig {
            sec_addr: "49152".into(),
            ..Default::default()
        },
        Registry::default()
            .with_ndr64()
            .with(RpcechoServer::new(EchoService::new(TokioSleep))),
    );
    let c = RpcechoClient::new(lb.clone());
    msrpc_echo::conformance::exercise(&c, 6000, 0)
        .await
        .unwrap();
    // a fault: unknown opnum
    let _ = lb
        .invoke(RpcechoInterface::SYNTAX, 42, None, vec![0; 4], drep)
        .await;
    lb.wire()
}

const NDR20: &str = "8a885d04-1ceb-11c9-9fe8-08002b104860";
const NDR64: &str = "71710533-beba-4937-8319-b5dbef9ccc36";

fn tshark(pcap_path: &std::path::Path, fields: &[&str], filter: Option<&str>) -> String {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n")
        .arg("-r")
        .arg(pcap_path)
        .arg("-d")
        .arg("tcp.port==49152,dcerpc");
    if let Some(f) = filter {
        cmd.arg("-Y").arg(f);
    }
    cmd.arg("-T").arg("fields");
    for f in fields {
        cmd.arg("-e").arg(f);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("tshark is required for this test and could not be run ({e}); scripts/test.sh installs it (apt-get install tshark)")
    });
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn tshark_finds_no_malformed_packet_and_agrees_on_types_and_opnums() {
    let dir = std::env::temp_dir().join(format!("msrpc-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let runs = [
        (DataRep::LITTLE_ENDIAN, true),
        (DataRep::BIG_ENDIAN, true),
        (DataRep::LITTLE_ENDIAN, false),
        (DataRep::BIG_ENDIAN, false),
    ];
    for (i, (drep, ndr64)) in runs.into_iter().enumerate() {
        let segments = exchange(drep, ndr64).await;
        let path = dir.join(format!("echo-{i}.pcap"));
        std::fs::write(&path, pcap::tcp_session(50000, 49152, &segments)).unwrap();

        // The syntax tshark sees the calls made in: the bind_ack's accepted context, and the
        // context of every request.
        let want = if ndr64 { NDR64 } else { NDR20 };
        let bind_ctx = tshark(&path, &["dcerpc.cn_ctx_id"], Some("dcerpc.pkt_type == 11"));
        let ack = tshark(
            &path,
            &["dcerpc.cn_ack_result", "dcerpc.cn_ack_trans_id"],
            Some("dcerpc.pkt_type == 12"),
        );
        let ids: Vec<&str> = bind_ctx.trim().split(',').collect();
        let (results, syntaxes) = ack.trim().split_once('\t').unwrap();
        let results: Vec<&str> = results.split(',').collect();
        let syntaxes: Vec<&str> = syntaxes.split(',').collect();
        let accepted: Vec<(&str, &str)> = results
            .iter()
            .zip(&syntaxes)
            .zip(&ids)
            .filter(|((r, _), _)| **r == "0")
            .map(|((_, s), id)| (*id, *s))
            .collect();
        assert_eq!(
            accepted.len(),
            1,
            "one accepted context expected: bind {bind_ctx:?}, ack {ack:?}"
        );
        let (ctx, syntax) = accepted[0];
        assert_eq!(syntax, want, "accepted syntax (ndr64 run: {ndr64})");
        let req_ctx = tshark(&path, &["dcerpc.cn_ctx_id"], Some("dcerpc.pkt_type == 0"));
        assert!(
            req_ctx.lines().count() > 10 && req_ctx.lines().all(|l| l.trim() == ctx),
            "requests not all on context {ctx}: {req_ctx}"
        );

        let malformed = tshark(
            &path,
            &["frame.number"],
            Some("_ws.malformed || _ws.expert.severity == error"),
        );
        assert!(
            malformed.trim().is_empty(),
            "tshark flags frames {malformed} in {}",
            path.display()
        );

        // Every PDU we sent is seen by tshark as a DCE/RPC PDU of the same type.
        let ours: Vec<u8> = segments.iter().map(|s| s.data[2]).collect();
        let theirs: Vec<u8> = tshark(&path, &["dcerpc.pkt_type"], Some("dcerpc"))
            .lines()
            .flat_map(|l| {
                l.split(',')
                    .map(|v| v.trim().parse::<u8>().unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(theirs, ours, "packet types differ");

        // tshark reads the same opnums from the requests.
        let opnums: Vec<u16> = tshark(&path, &["dcerpc.opnum"], Some("dcerpc.pkt_type == 0"))
            .lines()
            .flat_map(|l| {
                l.split(',')
                    .map(|v| v.trim().parse::<u16>().unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        for op in 0..=9u16 {
            assert!(opnums.contains(&op), "opnum {op} missing from {opnums:?}");
        }
        assert!(opnums.contains(&42));
        // and reassembles our fragmented EchoData request (opnum 1) from all its fragments.
        let ours_frags = opnums.iter().filter(|&&o| o == 1).count();
        assert!(ours_frags >= 4, "EchoData request was not fragmented");
        let counts = tshark(
            &path,
            &["dcerpc.fragment.count"],
            Some("dcerpc.pkt_type == 0 && dcerpc.opnum == 1 && dcerpc.fragment.count"),
        );
        assert_eq!(
            counts.trim(),
            ours_frags.to_string(),
            "tshark reassembled a different fragment count"
        );
    }
}
