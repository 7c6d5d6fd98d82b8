//! A COM class hosted by another process behind msrpcd's resolver (issue 12): msrpcd without
//! the in-process calculator, `msrpc-calc-service` attached over the registration socket; our
//! client activates through msrpcd, calls the process's exporter, pings msrpcd, releases; the
//! objects msrpcd runs down go from the process; when the activator socket disappears
//! activation answers CO_E_SERVER_EXEC_FAILURE, when the process dies REGDB_E_CLASSNOTREG and
//! its OXID no longer resolves, while msrpcd keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::time::Duration;

use msrpc_dcom::client::{activate, choose_exporter, ClientError, Exporter, Pinger};
use msrpc_dcom::demo::{
    AddRequest, CalculatorClient, SpawnRequest, CLSID_CALCULATOR, IID_ICALCULATOR,
};
use msrpc_dcom::hresult::status;
use msrpc_dcom::orpc::RemInterfaceRef;
use msrpc_dcom::resolver::{ObjectExporterClient, ResolveOxid2Request};
use msrpc_dcom::{HResult, OrpcThis, Oxid};
use msrpc_ndr::Uuid;
use msrpc_rt::ClientOptions;
use support::{connect, lookup_all, Proc, MSRPCD, WAIT};

const CALC_SERVICE: &str = env!("CARGO_BIN_EXE_msrpc-calc-service");
const EPM: &str = "127.0.0.68:1135";

async fn resolve(oxid: Oxid) -> u32 {
    let c = connect(EPM.parse().unwrap()).await;
    let r = ObjectExporterClient::new(c.clone())
        .resolve_oxid2(ResolveOxid2Request {
            oxid,
            c_requested_protseqs: 1,
            requested_protseqs: vec![7],
        })
        .await
        .unwrap();
    c.close();
    r.result
}

async fn activation_status() -> Result<(), u32> {
    match activate(
        "127.0.0.68",
        1135,
        CLSID_CALCULATOR,
        &[IID_ICALCULATOR],
        ClientOptions::default(),
        WAIT,
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(ClientError::Status { status, .. }) => Err(status),
        Err(e) => panic!("activation: {e}"),
    }
}

fn this() -> OrpcThis {
    OrpcThis::new(Uuid::new_v4())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_hosted_by_another_process_is_activated_through_msrpcd() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("epm.sock");
    let sock = sock.to_str().unwrap();
    let activator = dir.path().join("calc.sock");
    let config = dir.path().join("msrpcd.toml");
    // Fast collection: a set unpinged for 2 s expires, the collector runs every second.
    std::fs::write(
        &config,
        "[dcom]\nmin-activation-level = \"none\"\nping-period = 1\nmissed-pings = 2\ngc-interval = 1\n",
    )
    .unwrap();
    let mut d = Proc::spawn(
        MSRPCD,
        &[
            "--listen",
            EPM,
            "--registration-socket",
            sock,
            "--config",
            config.to_str().unwrap(),
        ],
    );
    d.addr_line("EPM listening on").await;
    // Nothing hosts the class yet.
    assert_eq!(
        activation_status().await,
        Err(HResult::REGDB_E_CLASSNOTREG.0)
    );

    let mut s = Proc::spawn(
        CALC_SERVICE,
        &[
            "--listen",
            "127.0.0.68",
            "--registration-socket",
            sock,
            "--activator-socket",
            activator.to_str().unwrap(),
            "--min-level",
            "none",
            "--rundown-poll",
            "1",
        ],
    );
    let exporter_at = s.addr_line("DCOM object exporter on").await;
    let line = s.line("attached OXID").await;
    let oxid = Oxid(
        u64::from_str_radix(
            line.rsplit(' ').next().unwrap().trim_start_matches("0x"),
            16,
        )
        .unwrap(),
    );
    assert_eq!(resolve(oxid).await, status::OK);

    // Activation through msrpcd, forwarded to the process.
    let a = activate(
        "127.0.0.68",
        1135,
        CLSID_CALCULATOR,
        &[IID_ICALCULATOR],
        ClientOptions::default(),
        WAIT,
    )
    .await
    .unwrap();
    assert_eq!(a.oxid, oxid);
    assert_eq!(a.authn_hint, 1, "the client's level, set by msrpcd");
    assert_eq!(a.interfaces[0].hresult, HResult::S_OK);
    let std = *a.interfaces[0].objref.as_ref().unwrap().std().unwrap();
    assert_eq!(std.oxid, oxid);
    let to = choose_exporter("127.0.0.68", &a.bindings, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(to.port, exporter_at.port(), "the process's exporter");
    let ex = Exporter::connect(
        &to.host,
        to.port,
        a.ipid_rem_unknown,
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let calc = CalculatorClient::new(ex.client().clone()).with_object(std.ipid.0);
    let r = calc
        .add(AddRequest {
            orpcthis: this(),
            a: 2,
            b: 3,
        })
        .await
        .unwrap();
    assert_eq!((r.sum, r.result), (5, HResult::S_OK));
    let r = calc
        .spawn(SpawnRequest {
            orpcthis: this(),
            offset: 10,
        })
        .await
        .unwrap();
    assert_eq!(r.result, HResult::S_OK);
    let child = *r.child.get().unwrap().std().unwrap();
    assert_eq!(child.oxid, oxid);
    let child_calc = CalculatorClient::new(ex.client().clone()).with_object(child.ipid.0);
    let r = child_calc
        .add(AddRequest {
            orpcthis: this(),
            a: 1,
            b: 1,
        })
        .await
        .unwrap();
    assert_eq!((r.sum, r.result), (12, HResult::S_OK));

    // Pings go to msrpcd, which knows both OIDs (ComplexPing adds them to a set).
    let resolver = connect(EPM.parse().unwrap()).await;
    let mut pinger = Pinger::new(resolver.clone());
    pinger.add(std.oid);
    pinger.add(child.oid);
    pinger.ping().await.unwrap();
    // Pinged through a few expiry periods, the objects stay.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        pinger.ping().await.unwrap();
    }
    let r = child_calc
        .add(AddRequest {
            orpcthis: this(),
            a: 0,
            b: 0,
        })
        .await
        .unwrap();
    assert_eq!(
        (r.sum, r.result),
        (10, HResult::S_OK),
        "kept alive by pings"
    );

    // The first object released by the client: gone from the process.
    ex.release(&[RemInterfaceRef {
        ipid: std.ipid,
        public_refs: 1,
        private_refs: 0,
    }])
    .await
    .unwrap();
    let r = calc
        .add(AddRequest {
            orpcthis: this(),
            a: 1,
            b: 1,
        })
        .await
        .unwrap();
    assert_eq!(r.result, HResult::RPC_E_INVALID_IPID);

    // The child, no longer pinged (its set expires): msrpcd runs it down, the process drops it.
    pinger.remove(child.oid);
    pinger.ping().await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let r = child_calc
            .add(AddRequest {
                orpcthis: this(),
                a: 0,
                b: 0,
            })
            .await
            .unwrap();
        if r.result == HResult::RPC_E_INVALID_IPID {
            break;
        }
        assert_eq!(r.result, HResult::S_OK);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the unpinged child was never run down"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    resolver.close();
    ex.close();

    // Registered but unreachable (its activator socket is gone): CO_E_SERVER_EXEC_FAILURE.
    std::fs::remove_file(&activator).unwrap();
    assert_eq!(activation_status().await, Err(0x8008_0005));

    // The process killed: its class and its OXID go, msrpcd keeps serving.
    s.kill9().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while activation_status().await != Err(HResult::REGDB_E_CLASSNOTREG.0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the class stayed registered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(resolve(oxid).await, status::OR_INVALID_OXID);
    assert!(lookup_all(EPM.parse().unwrap()).await.is_empty());
    let c = connect(EPM.parse().unwrap()).await;
    let alive = msrpc_dcom::client::server_alive2_on(&c).await.unwrap();
    assert!(!alive.tcp_addresses().is_empty());
    c.close();
    assert!(d.child.try_wait().unwrap().is_none(), "msrpcd exited");
    let status = d.terminate().await;
    assert!(status.success(), "{status:?}\n{}", d.stderr());
}
