//! tshark (Wireshark's dissector, software we did not write) reads every connectionless PDU
//! our client and server exchange over UDP port 135 — requests and responses in both byte
//! orders, multi-fragment calls with facks, the conv_who_are_you2 callback, acks, pings,
//! working, rejects, faults, cancels, EPM lookup and map — without a malformed packet, and sees the packet types,
//! opnums, sequence numbers and activities we sent. Fails loudly when tshark is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use msrpc_echo::*;
use msrpc_epm::db::{EndpointDb, NewEntry};
use msrpc_epm::{
    EpmService, EptClient, EptInterface, EptLookupRequest, EptMapRequest, EptServer, Tower,
};
use msrpc_ndr::{ContextHandle, Unique};
use msrpc_ndr::{DataRep, Uuid};
use msrpc_proto::cl::client::{ClActivity, ClClientConfig, ClRequest};
use msrpc_proto::cl::pdu::{ClHeader, ClPdu};
use msrpc_proto::cl::server::{ClOutcome, ClServer, ClServerConfig, ClServerEvent};
use msrpc_proto::dispatch::{
    BoxFuture, CallContext, CallError, Dispatch, DispatchError, Interface, Invoke, ResponseStub,
};
use msrpc_proto::pdu::{FaultStatus, SyntaxId};
use msrpc_tests::{pcap, TokioSleep};
use tokio::sync::Mutex;

struct Loop {
    server: ClServer,
    client: ClActivity,
    now: Instant,
    wire: Vec<pcap::Segment>,
    /// Fragments to the server to drop (by index), to make the client recover.
    drop: Vec<usize>,
    sent: usize,
    cancel: bool,
}

/// The CL client and server in memory, serving rpcecho.
struct ClLoop {
    inner: Mutex<Loop>,
    services: Vec<Arc<dyn Dispatch>>,
    drep: DataRep,
}

impl ClLoop {
    fn new(drep: DataRep) -> Self {
        ClLoop {
            inner: Mutex::new(Loop {
                server: ClServer::new(
                    ClServerConfig {
                        boot_time: 0x5f00_0000,
                        max_frag_body: 1200,
                        window: 2,
                        ..Default::default()
                    },
                    [RpcechoInterface::SYNTAX, EptInterface::SYNTAX],
                ),
                client: ClActivity::new(
                    Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
                    ClClientConfig {
                        drep,
                        max_frag_body: 1200,
                        window: 2,
                        ..Default::default()
                    },
                ),
                now: Instant::now(),
                wire: vec![],
                drop: vec![],
                sent: 0,
                cancel: false,
            }),
            services: vec![
                Arc::new(RpcechoServer::new(EchoService::new(TokioSleep))),
                Arc::new(EptServer::new(EpmService::new(epm_db()))),
            ],
            drep,
        }
    }
}

impl Invoke for ClLoop {
    fn invoke<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        _drep: DataRep,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        Box::pin(async move {
            let mut l = self.inner.lock().await;
            let l = &mut *l;
            let now = l.now;
            l.client.start_call(
                now,
                ClRequest {
                    interface: syntax,
                    opnum,
                    object,
                    stub,
                    idempotent: false,
                    maybe: false,
                    deadline: now + Duration::from_secs(600),
                },
            )?;
            let peer = "127.0.0.1:50000".parse().unwrap();
            let mut held = vec![];
            loop {
                let mut moved = false;
                while let Some(d) = l.client.poll_transmit() {
                    moved = true;
                    l.wire.push(pcap::Segment {
                        to_server: true,
                        data: d.clone(),
                    });
                    let n = l.sent;
                    l.sent += 1;
                    if !l.drop.contains(&n) {
                        l.server.handle_datagram(l.now, peer, &d);
                    }
                }
                while let Some(ev) = l.server.poll_event() {
                    if let ClServerEvent::Call(c) = ev {
                        moved = true;
                        if l.cancel {
                            held.push(c.id);
                            continue;
                        }
                        let ctx = CallContext {
                            opnum: c.opnum,
                            ..Default::default()
                        };
                        let service = self
                            .services
                            .iter()
                            .find(|s| s.syntax().uuid == c.interface.uuid)
                            .unwrap();
                        let r = service
                            .dispatch(ctx, c.stub, c.drep, msrpc_ndr::DecodeLimits::DEFAULT)
                            .await;
                        let o = match r {
                            Ok(s) => ClOutcome::Response(s),
                            Err(DispatchError::OpnumOutOfRange(_)) => {
                                ClOutcome::Reject(FaultStatus::NCA_S_OP_RNG_ERROR)
                            }
                            Err(e) => ClOutcome::Fault(e.status()),
                        };
                        l.server.complete(l.now, c.id, o);
                    } else if let ClServerEvent::Cancel(id) = ev {
                        l.server.complete(
                            l.now,
                            id,
                            ClOutcome::Fault(FaultStatus::NCA_S_FAULT_CANCEL),
                        );
                        held.retain(|h| *h != id);
                    }
                }
                while let Some(t) = l.server.poll_transmit() {
                    moved = true;
                    l.wire.push(pcap::Segment {
                        to_server: false,
                        data: t.bytes.clone(),
                    });
                    l.client.handle_datagram(l.now, &t.bytes);
                }
                if moved {
                    continue;
                }
                if let Some(o) = l.client.poll_outcome() {
                    while let Some(d) = l.client.poll_transmit() {
                        l.wire.push(pcap::Segment {
                            to_server: true,
                            data: d.clone(),
                        });
                        l.server.handle_datagram(l.now, peer, &d);
                    }
                    return o;
                }
                if !held.is_empty() && l.cancel {
                    // a held call: let a ping get "working", then cancel it
                    l.now += Duration::from_secs(1);
                    l.client.handle_timeout(l.now);
                    l.client.cancel();
                    l.cancel = false;
                    continue;
                }
                let next = [l.client.next_timeout(), l.server.next_timeout()]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap();
                l.now = l.now.max(next);
                l.client.handle_timeout(l.now);
                l.server.handle_timeout(l.now);
            }
        })
    }

    fn drep(&self) -> DataRep {
        self.drep
    }
}

/// An endpoint map with rpcecho's UDP and TCP towers.
fn epm_db() -> std::sync::Arc<std::sync::Mutex<EndpointDb>> {
    let db = Arc::new(std::sync::Mutex::new(EndpointDb::new()));
    let ip = std::net::Ipv4Addr::new(127, 0, 6, 1);
    db.lock()
        .unwrap()
        .register(
            1,
            vec![
                NewEntry::new(
                    Uuid::nil(),
                    Tower::ncadg_ip_udp(RpcechoInterface::SYNTAX, SyntaxId::NDR20, ip, 4000),
                    "udp",
                ),
                NewEntry::new(
                    Uuid::nil(),
                    Tower::ncacn_ip_tcp(RpcechoInterface::SYNTAX, SyntaxId::NDR20, ip, 4001),
                    "tcp",
                ),
            ],
            false,
        )
        .unwrap();
    db
}

/// A shared handle (the generated client takes its invoker by value).
#[derive(Clone)]
struct Shared(Arc<ClLoop>);

impl Invoke for Shared {
    fn invoke<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        drep: DataRep,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        self.0.invoke(syntax, opnum, object, stub, drep)
    }
    fn drep(&self) -> DataRep {
        self.0.drep
    }
}

fn tshark(path: &std::path::Path, fields: &[&str], filter: Option<&str>) -> String {
    let mut cmd = Command::new("tshark");
    // Wireshark's WireGuard heuristic claims a datagram whose first byte is 4 (a WireGuard
    // transport message; the CL rpc_vers) before the DCE/RPC one: it is disabled.
    cmd.arg("-n")
        .arg("-r")
        .arg(path)
        .arg("--disable-protocol")
        .arg("wg");
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
async fn tshark_dissects_our_connectionless_pdus_without_malformed_packets() {
    let dir = std::env::temp_dir().join(format!("msrpc-tshark-cl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, drep) in [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN]
        .into_iter()
        .enumerate()
    {
        let lb = Arc::new(ClLoop::new(drep));
        // lose the second request fragment of the first multi-fragment call
        let c = RpcechoClient::new(Shared(lb.clone()));
        c.add_one(AddOneRequest { in_data: 1 }).await.unwrap();
        let sent = lb.inner.lock().await.sent;
        lb.inner.lock().await.drop = vec![sent + 1];
        msrpc_echo::conformance::exercise(&c, 5000, 0)
            .await
            .unwrap();
        // a reject (opnum out of range) and a cancelled call
        let r = lb
            .invoke(RpcechoInterface::SYNTAX, 42, None, vec![0; 4], drep)
            .await;
        assert_eq!(r, Err(CallError::Fault(FaultStatus::NCA_S_OP_RNG_ERROR)));
        // EPM over CL: a lookup and a map (idempotent calls, as UdpClient sends them)
        let ept = EptClient::new(Shared(lb.clone()));
        let r = ept
            .ept_lookup(EptLookupRequest {
                inquiry_type: 0,
                object: Unique::null(),
                interface_id: Unique::null(),
                vers_option: 1,
                entry_handle: ContextHandle::default(),
                max_ents: 10,
            })
            .await
            .unwrap();
        assert_eq!(r.entries.len(), 2);
        let asked = Tower::ncadg_ip_udp(
            RpcechoInterface::SYNTAX,
            SyntaxId::NDR20,
            std::net::Ipv4Addr::UNSPECIFIED,
            0,
        );
        let r = ept
            .ept_map(EptMapRequest {
                object: Unique::null(),
                map_tower: Unique::new(asked.to_twr().unwrap()),
                entry_handle: ContextHandle::default(),
                max_towers: 4,
            })
            .await
            .unwrap();
        assert_eq!(r.towers.len(), 1);
        lb.inner.lock().await.cancel = true;
        let r = lb
            .invoke(RpcechoInterface::SYNTAX, 6, None, vec![0, 0, 0, 9], drep)
            .await;
        assert_eq!(r, Err(CallError::Fault(FaultStatus::NCA_S_FAULT_CANCEL)));
        let wire = std::mem::take(&mut lb.inner.lock().await.wire);
        let path = dir.join(format!("cl-{i}.pcap"));
        std::fs::write(&path, pcap::udp_datagrams(50000, 135, &wire)).unwrap();

        let malformed = tshark(
            &path,
            &["frame.number"],
            Some("_ws.malformed || _ws.expert.severity >= error"),
        );
        assert!(
            malformed.trim().is_empty(),
            "{drep:?}: malformed frames: {malformed}"
        );

        // Every datagram is DCE/RPC for tshark, with our packet type, seqnum and activity.
        let out = tshark(
            &path,
            &[
                "dcerpc.pkt_type",
                "dcerpc.dg_seqnum",
                "dcerpc.dg_act_id",
                "dcerpc.dg_frag_num",
            ],
            None,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines.len(),
            wire.len(),
            "{drep:?}: tshark saw {} datagrams of {}",
            lines.len(),
            wire.len()
        );
        let mut types = BTreeSet::new();
        for (line, seg) in lines.iter().zip(&wire) {
            let h = ClHeader::decode(&seg.data).unwrap();
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f[0], h.ptype.0.to_string(), "{drep:?}: {line}");
            assert_eq!(f[1], h.seqnum.to_string(), "{drep:?}: {line}");
            assert_eq!(f[2], h.activity.to_string(), "{drep:?}: {line}");
            assert_eq!(f[3], h.fragnum.to_string(), "{drep:?}: {line}");
            types.insert(h.ptype.0);
            ClPdu::decode(&seg.data).unwrap();
        }
        // request, response, fault, working, reject, ack, cl_cancel, fack, cancel_ack
        for t in [0u8, 2, 3, 4, 6, 7, 8, 9, 10] {
            assert!(
                types.contains(&t),
                "{drep:?}: no packet of type {t} in the exchange: {types:?}"
            );
        }
        // tshark names the EPM calls over UDP (its epm dissector: lookup 2, map 3)
        let epm = tshark(&path, &["dcerpc.opnum"], Some("epm"));
        let epm_ops: BTreeSet<u16> = epm.lines().filter_map(|l| l.trim().parse().ok()).collect();
        assert!(
            epm_ops.contains(&2) && epm_ops.contains(&3),
            "{drep:?}: epm ops {epm_ops:?}"
        );
        // Opnums of requests as tshark reads them.
        let ops = tshark(
            &path,
            &["dcerpc.opnum"],
            Some("dcerpc.pkt_type == 0 && dcerpc.dg_frag_num == 0"),
        );
        let ops: BTreeSet<u16> = ops.lines().filter_map(|l| l.trim().parse().ok()).collect();
        for op in 0..=9u16 {
            assert!(ops.contains(&op), "{drep:?}: opnum {op} not seen: {ops:?}");
        }
        // the fack's selective-ack fields are read
        let facks = tshark(
            &path,
            &["dcerpc.fack_serial_num", "dcerpc.fack_window_size"],
            Some("dcerpc.pkt_type == 9"),
        );
        assert!(!facks.trim().is_empty());
    }
}
