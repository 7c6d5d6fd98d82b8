//! `msrpcd --listen-udp`: the endpoint mapper over UDP (ncadg_ip_udp), the demo's UDP towers
//! in the map, rpcecho reached through an `ept_map` over UDP, and UDP off by default.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use msrpc_echo::{AddOneRequest, RpcechoClient, RpcechoInterface};
use msrpc_epm::{EptClient, EptLookupRequest, Tower};
use msrpc_ndr::{ContextHandle, Unique};
use msrpc_proto::dispatch::Interface;
use msrpc_rt::{UdpClient, UdpClientOptions};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_mapper_and_the_demo_answer_over_udp_when_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run").join("epm.sock");
    let log = dir.path().join("audit.json");
    let mut d = Proc::spawn(
        MSRPCD,
        &[
            "--listen",
            "127.0.6.30:1135",
            "--listen-udp",
            "127.0.6.30:1135",
            "--demo",
            "--registration-socket",
            sock.to_str().unwrap(),
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    let _tcp = d.addr_line("EPM listening on").await;
    let udp = d.addr_line("EPM (udp) listening on").await;
    assert_eq!(udp, "127.0.6.30:1135".parse().unwrap());
    let demo_udp = d.addr_line("rpcecho demo (udp) on").await;

    // ept_lookup over UDP lists the demo's TCP and UDP towers.
    let c = UdpClient::new(udp, UdpClientOptions::default());
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        EptClient::new(c).ept_lookup(EptLookupRequest {
            inquiry_type: 0,
            object: Unique::null(),
            interface_id: Unique::null(),
            vers_option: 1,
            entry_handle: ContextHandle::default(),
            max_ents: 50,
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.status, 0);
    let towers: Vec<Tower> = r
        .entries
        .iter()
        .map(|e| Tower::from_twr(e.tower.get().unwrap()).unwrap())
        .collect();
    let udp_tower = Tower::ncadg_ip_udp(
        RpcechoInterface::SYNTAX,
        msrpc_proto::pdu::SyntaxId::NDR20,
        Ipv4Addr::new(127, 0, 6, 30),
        demo_udp.port(),
    );
    assert!(towers.contains(&udp_tower), "{towers:#?}");
    assert!(towers
        .iter()
        .any(|t| t.protocol_sequence() == Some("ncacn_ip_tcp")));

    // ept_map over UDP, then AddOne over UDP.
    let echo = tokio::time::timeout(
        Duration::from_secs(30),
        UdpClient::connect_via_epm(
            "127.0.6.30",
            1135,
            RpcechoInterface::SYNTAX,
            UdpClientOptions::default(),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(echo.server_addr(), demo_udp);
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        RpcechoClient::new(echo).add_one(AddOneRequest { in_data: 41 }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.out_data, 42);

    // A broadcast request is dropped, and the audit log says why.
    let s = std::net::UdpSocket::bind("127.0.6.31:0").unwrap();
    let mut pdu = msrpc_proto::cl::pdu::ClPdu {
        header: msrpc_proto::cl::pdu::ClHeader {
            flags1: msrpc_proto::cl::pdu::ClFlags1::BROADCAST,
            interface: RpcechoInterface::SYNTAX.uuid,
            if_vers: 1,
            activity: msrpc_ndr::Uuid::from_u128(99),
            seqnum: 1,
            ..Default::default()
        },
        body: msrpc_proto::cl::pdu::ClBody::Request(vec![1, 0, 0, 0]),
        auth: vec![],
    };
    s.send_to(&pdu.encode().unwrap(), demo_udp).unwrap();
    pdu.header.flags1 = msrpc_proto::cl::pdu::ClFlags1::default();
    let mut found = false;
    for _ in 0..100 {
        found = audit_events(&log)
            .iter()
            .any(|e| e["event"] == "conn_close" && e["reason"] == "udp_broadcast");
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        found,
        "no udp_broadcast record in {:#?}",
        audit_events(&log)
    );
    d.terminate().await;
}
