//! `Client::connect_via_epm` against a minimal endpoint mapper (an `Ept` service answering
//! `ept_map` from a fixed table) over loopback TCP, and connect errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};

use msrpc_echo::*;
use msrpc_epm::status::EPT_S_NOT_REGISTERED;
use msrpc_epm::*;
use msrpc_ndr::{ContextHandle, Unique, Uuid};
use msrpc_proto::dispatch::{CallContext, Interface, RpcFault};
use msrpc_proto::pdu::{FaultStatus, SyntaxId};
use msrpc_rt::{Binding, Client, ClientOptions, ConnectError, Server, TokioSleeper};

/// The 5-floor ncacn_ip_tcp tower, written out floor by floor (MS-RPCE 2.2.1.1).
fn tower(iface: SyntaxId, port: u16, ip: [u8; 4]) -> Vec<u8> {
    let mut t = vec![5, 0];
    for s in [iface, SyntaxId::NDR20] {
        t.extend([19, 0, 0x0d]);
        t.extend(s.uuid.to_bytes_le());
        t.extend(s.major.to_le_bytes());
        t.extend([2, 0]);
        t.extend(s.minor.to_le_bytes());
    }
    t.extend([1, 0, 0x0b, 2, 0, 0, 0]);
    t.extend([1, 0, 0x07, 2, 0]);
    t.extend(port.to_be_bytes());
    t.extend([1, 0, 0x09, 4, 0]);
    t.extend(ip);
    t
}

/// Answers `ept_map` from `(interface, port)` pairs; every other operation faults.
#[derive(Clone, Default)]
struct MiniEpm {
    registered: Vec<(SyntaxId, u16)>,
    asked: Arc<Mutex<Vec<Vec<u8>>>>,
}

fn unsupported<T>() -> Result<T, RpcFault> {
    Err(RpcFault(FaultStatus::NCA_S_OP_RNG_ERROR))
}

impl Ept for MiniEpm {
    async fn ept_insert(
        &self,
        _: &CallContext,
        _: EptInsertRequest,
    ) -> Result<EptInsertResponse, RpcFault> {
        unsupported()
    }

    async fn ept_delete(
        &self,
        _: &CallContext,
        _: EptDeleteRequest,
    ) -> Result<EptDeleteResponse, RpcFault> {
        unsupported()
    }

    async fn ept_lookup(
        &self,
        _: &CallContext,
        _: EptLookupRequest,
    ) -> Result<EptLookupResponse, RpcFault> {
        unsupported()
    }

    async fn ept_map(
        &self,
        _: &CallContext,
        req: EptMapRequest,
    ) -> Result<EptMapResponse, RpcFault> {
        let asked = req
            .map_tower
            .get()
            .map(|t| t.tower_octet_string.clone())
            .unwrap_or_default();
        self.asked.lock().unwrap().push(asked.clone());
        let found = self
            .registered
            .iter()
            .find(|(s, _)| tower(*s, 0, [0; 4]) == asked);
        let (towers, status) = match found {
            Some((s, port)) => (
                vec![Unique::new(Twr::new(tower(*s, *port, [127, 0, 0, 1])))],
                0,
            ),
            None => (Vec::new(), EPT_S_NOT_REGISTERED),
        };
        Ok(EptMapResponse {
            entry_handle: ContextHandle::NULL,
            num_towers: towers.len() as u32,
            towers,
            status,
        })
    }

    async fn ept_lookup_handle_free(
        &self,
        _: &CallContext,
        _: EptLookupHandleFreeRequest,
    ) -> Result<EptLookupHandleFreeResponse, RpcFault> {
        unsupported()
    }

    async fn ept_inq_object(
        &self,
        _: &CallContext,
        _: EptInqObjectRequest,
    ) -> Result<EptInqObjectResponse, RpcFault> {
        unsupported()
    }

    async fn ept_mgmt_delete(
        &self,
        _: &CallContext,
        _: EptMgmtDeleteRequest,
    ) -> Result<EptMgmtDeleteResponse, RpcFault> {
        unsupported()
    }

    async fn ept_map_auth(
        &self,
        _: &CallContext,
        _: EptMapAuthRequest,
    ) -> Result<EptMapAuthResponse, RpcFault> {
        unsupported()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_via_epm_finds_the_port_and_connects() {
    let echo = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .start()
        .await
        .unwrap();
    let echo_port = echo.local_addrs()[0].port();
    let epm = MiniEpm {
        registered: vec![(RpcechoInterface::SYNTAX, echo_port)],
        ..Default::default()
    };
    let asked = epm.asked.clone();
    let mapper = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .service(EptServer::new(epm))
        .start()
        .await
        .unwrap();
    let opts = ClientOptions {
        epm_port: mapper.local_addrs()[0].port(),
        ..Default::default()
    };

    let client = Client::connect_via_epm("127.0.0.1", RpcechoInterface::SYNTAX, opts.clone())
        .await
        .unwrap();
    assert_eq!(client.peer_addr().port(), echo_port);
    let c = RpcechoClient::new(client);
    assert_eq!(
        c.add_one(AddOneRequest { in_data: 1 })
            .await
            .unwrap()
            .out_data,
        2
    );
    // The map tower asked for the interface over NDR, ncacn_ip_tcp, port 0, 0.0.0.0.
    assert_eq!(
        asked.lock().unwrap()[0],
        tower(RpcechoInterface::SYNTAX, 0, [0; 4])
    );

    // An interface the mapper does not know.
    let other = SyntaxId::new(Uuid::from_u128(0x1234), 1, 0);
    let e = Client::connect_via_epm("127.0.0.1", other, opts)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ConnectError::NotRegistered { status, interface }
            if status == EPT_S_NOT_REGISTERED && interface == other),
        "{e}"
    );
    echo.shutdown().await;
    mapper.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_errors_say_what_went_wrong() {
    let b = Binding::parse("ncacn_ip_tcp:127.0.0.1").unwrap();
    let e = Client::connect(&b, ClientOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectError::NoPort(_)), "{e}");
    assert!(e.to_string().contains("connect_via_epm"));

    // A port nobody listens on (taken, then released).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let b = Binding::parse(&format!("ncacn_ip_tcp:127.0.0.1[{port}]")).unwrap();
    let e = Client::connect(&b, ClientOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectError::Io { .. }), "{e}");

    // connect_via_epm to a host without a mapper fails on the mapper's port.
    let opts = ClientOptions {
        epm_port: port,
        ..Default::default()
    };
    let e = Client::connect_via_epm("127.0.0.1", RpcechoInterface::SYNTAX, opts)
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectError::Io { .. }), "{e}");
}
