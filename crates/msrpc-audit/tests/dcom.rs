//! DCOM calls as audit events: Impacket's request and response vectors interpreted by
//! `msrpc_audit::dcom::interpret_call`, the daemon's live path (`Live` keeps and reads the
//! stubs) and the technique library's DCOM rules (fire for MMC20.Application, ShellWindows,
//! ShellBrowserWindow, Excel and Outlook, once per source and target per window; never for
//! WMI's login class alone or other classes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_audit::dcom::{self, CallFacts, IREM_UNKNOWN2};
use msrpc_audit::detect::{DetectorConfig, Detectors};
use msrpc_audit::live::{Input, Live, REQUEST_STUB_INTERFACES};
use msrpc_audit::names::{IOBJECT_EXPORTER, ISYSTEM_ACTIVATOR};
use msrpc_audit::{ConnId, Event, EventKind};
use msrpc_dcom::activation::{ActivationBlob, InstantiationInfoData, Property};
use msrpc_dcom::activator::RemoteCreateInstanceRequest;
use msrpc_dcom::ids::guids;
use msrpc_dcom::OrpcThis;
use msrpc_ndr::{DataRep, Unique, Uuid};
use msrpc_proto::pdu::{FaultStatus, SyntaxId};

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const NDR20: msrpc_ndr::TransferSyntax = msrpc_ndr::TransferSyntax::Ndr20;
const MMC20: &str = "49b2791a-b1ae-4c90-9b8e-e860ba07f889";

fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/vectors/impacket-dcom/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    hex::decode(
        std::fs::read_to_string(path)
            .unwrap()
            .split_whitespace()
            .collect::<String>(),
    )
    .unwrap()
}

fn facts() -> CallFacts {
    CallFacts {
        call_id: 9,
        auth_level: Some("integrity".into()),
        user: Some("CORP\\alice".into()),
    }
}

/// A RemoteCreateInstance request stub for `clsid` (what Impacket's CoCreateInstanceEx sends).
fn create_instance(clsid: Uuid) -> Vec<u8> {
    let info = InstantiationInfoData::new(clsid, vec![guids::IID_IUNKNOWN]).unwrap();
    let blob = ActivationBlob::new(vec![Property::InstantiationInfo(info)]);
    RemoteCreateInstanceRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(1)),
        unk_outer: Unique::null(),
        act_properties: Unique::new(blob.to_interface_pointer(true).unwrap()),
    }
    .to_stub(LE)
    .unwrap()
}

#[test]
fn impacket_activation_requests_name_class_and_interfaces() {
    for (vec, opnum, op, iid) in [
        (
            "remote_create_instance_request",
            4,
            "RemoteCreateInstance",
            "00020400-0000-0000-c000-000000000046",
        ),
        (
            "remote_get_class_object_request",
            3,
            "RemoteGetClassObject",
            "00000001-0000-0000-c000-000000000046",
        ),
    ] {
        let k = dcom::interpret_call(
            &ISYSTEM_ACTIVATOR,
            opnum,
            &vector(vec),
            LE,
            NDR20,
            None,
            &facts(),
        )
        .unwrap_or_else(|| panic!("{vec}"));
        let EventKind::DcomActivation {
            call_id,
            operation,
            clsid,
            class_name,
            iids,
            hresult,
            oxid,
            auth_level,
            user,
            ..
        } = k
        else {
            panic!("{k:?}")
        };
        assert_eq!((call_id, operation.as_str()), (9, op));
        assert_eq!(clsid, MMC20);
        assert_eq!(class_name.as_deref(), Some("MMC20.Application"));
        assert_eq!(iids, [iid]);
        assert_eq!((hresult, oxid), (None, None));
        assert_eq!(auth_level.as_deref(), Some("integrity"));
        assert_eq!(user.as_deref(), Some("CORP\\alice"));
    }
    let k = dcom::interpret_call(
        &msrpc_audit::names::IREMOTE_ACTIVATION,
        0,
        &vector("remote_activation_request"),
        LE,
        NDR20,
        None,
        &facts(),
    )
    .unwrap();
    assert!(
        matches!(&k, EventKind::DcomActivation { operation, clsid, .. } if operation == "RemoteActivation" && clsid == MMC20),
        "{k:?}"
    );
    // Other interfaces, other opnums and garbage: nothing.
    assert!(dcom::interpret_call(&ISYSTEM_ACTIVATOR, 2, &[], LE, NDR20, None, &facts()).is_none());
    assert!(dcom::interpret_call(
        &ISYSTEM_ACTIVATOR,
        4,
        &[0xff; 40],
        LE,
        NDR20,
        None,
        &facts()
    )
    .is_none());
    assert!(dcom::interpret_call(
        &Uuid::from_u128(7),
        4,
        &vector("remote_create_instance_request"),
        LE,
        NDR20,
        None,
        &facts()
    )
    .is_none());
}

#[test]
fn impacket_resolver_and_remunknown_calls() {
    let k = dcom::interpret_call(
        &IOBJECT_EXPORTER,
        5,
        &vector("server_alive2_request"),
        LE,
        NDR20,
        Some((&vector("server_alive2_response"), LE)),
        &facts(),
    )
    .unwrap();
    let EventKind::DcomResolver {
        operation,
        com_version,
        bindings,
        status,
        ..
    } = k
    else {
        panic!()
    };
    assert_eq!(operation, "ServerAlive2");
    assert_eq!(com_version.as_deref(), Some("5.7"));
    assert_eq!(
        bindings,
        [
            "ncacn_ip_tcp:WIN-DCOM01",
            "ncacn_ip_tcp:192.168.56.10",
            "ncacn_ip_tcp:fe80::1c2d:3e4f:5a6b:7c8d"
        ]
    );
    assert_eq!(status, Some(0));

    let k = dcom::interpret_call(
        &IOBJECT_EXPORTER,
        4,
        &vector("resolve_oxid2_request"),
        LE,
        NDR20,
        Some((&vector("resolve_oxid2_response"), LE)),
        &facts(),
    )
    .unwrap();
    let EventKind::DcomResolver { oxid, bindings, .. } = k else {
        panic!()
    };
    assert_eq!(oxid.as_deref(), Some("0x2f47a0c1d4e5f601"));
    assert_eq!(
        bindings,
        [
            "ncacn_ip_tcp:WIN-DCOM01[49668]",
            "ncacn_ip_tcp:192.168.56.10[49668]"
        ]
    );

    let k = dcom::interpret_call(
        &IREM_UNKNOWN2,
        3,
        &vector("rem_query_interface_request"),
        LE,
        NDR20,
        None,
        &facts(),
    )
    .unwrap();
    let EventKind::DcomRemUnknown {
        operation,
        ipids,
        iids,
        ..
    } = k
    else {
        panic!()
    };
    assert_eq!(operation, "RemQueryInterface");
    assert_eq!(ipids, ["0000a801-0a2c-0000-5d1a-c37a9f1f3c4e"]);
    assert_eq!(iids, ["00020400-0000-0000-c000-000000000046"]);
    let k = dcom::interpret_call(
        &IREM_UNKNOWN2,
        5,
        &vector("rem_release_request"),
        LE,
        NDR20,
        None,
        &facts(),
    )
    .unwrap();
    assert!(matches!(k, EventKind::DcomRemUnknown { operation, .. } if operation == "RemRelease"));
}

fn event(ts: f64, src: &str, kind: EventKind) -> Event {
    Event {
        ts,
        conn: ConnId {
            uid: "C1".into(),
            orig_h: Some(src.parse().unwrap()),
            orig_p: Some(50000),
            resp_h: Some("10.0.0.2".parse().unwrap()),
            resp_p: Some(135),
        },
        kind,
    }
}

fn activation_of(clsid: &str) -> EventKind {
    let clsid: Uuid = clsid.parse().unwrap();
    dcom::interpret_call(
        &ISYSTEM_ACTIVATOR,
        4,
        &create_instance(clsid),
        LE,
        NDR20,
        None,
        &facts(),
    )
    .unwrap()
}

fn alerts(d: &mut Detectors, e: &Event) -> Vec<(String, String, String)> {
    d.observe(e)
        .into_iter()
        .filter_map(|a| match a.kind {
            EventKind::Alert {
                detector,
                severity,
                attack,
                ..
            } => Some((detector, severity, attack.unwrap_or_default())),
            _ => None,
        })
        .collect()
}

#[test]
fn lateral_movement_rules_fire_for_abused_classes_only() {
    let mut d = Detectors::new(DetectorConfig::default());
    let one = |rule: &str, severity: &str| {
        vec![(
            rule.to_string(),
            severity.to_string(),
            "T1021.003".to_string(),
        )]
    };
    for (i, (c, rule)) in [
        (MMC20, "dcom_mmc20_application"),
        ("9ba05972-f6a8-11cf-a442-00a0c90a8f39", "dcom_shellwindows"),
        (
            "c08afd90-f2a1-11d1-8455-00a0c91f3880",
            "dcom_shellbrowserwindow",
        ),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            alerts(
                &mut d,
                &event(10.0 + i as f64, "10.0.0.1", activation_of(c))
            ),
            one(rule, "high"),
            "{c}"
        );
    }
    // WMI's login class: management tools activate it to query, so the activation alone is
    // quiet (wmi_exec_method fires on ExecMethod calls).
    assert!(alerts(
        &mut d,
        &event(
            20.0,
            "10.0.0.1",
            activation_of("8bc3f05e-d86b-11d0-a075-00c04fb68820")
        )
    )
    .is_empty());
    // Once per (source, target) per window; another source alerts again.
    assert!(alerts(&mut d, &event(30.0, "10.0.0.1", activation_of(MMC20))).is_empty());
    assert_eq!(
        alerts(&mut d, &event(31.0, "10.0.0.3", activation_of(MMC20))).len(),
        1
    );
    assert_eq!(
        alerts(&mut d, &event(400.0, "10.0.0.1", activation_of(MMC20))).len(),
        1
    );
    // Excel.Application: medium.
    assert_eq!(
        alerts(
            &mut d,
            &event(
                500.0,
                "10.0.0.1",
                activation_of("00024500-0000-0000-c000-000000000046")
            )
        ),
        one("dcom_office_excel_outlook", "medium")
    );
    // An unknown class and the IActivationPropertiesIn CLSID never alert.
    for c in [
        "11111111-2222-3333-4444-555555555555",
        "00000338-0000-0000-c000-000000000046",
    ] {
        assert!(
            alerts(&mut d, &event(500.0, "10.0.0.1", activation_of(c))).is_empty(),
            "{c}"
        );
    }
    // Disabled: nothing.
    let mut off = Detectors::new(DetectorConfig {
        dcom_lateral_movement: false,
        ..DetectorConfig::default()
    });
    assert!(alerts(&mut off, &event(1.0, "10.0.0.1", activation_of(MMC20))).is_empty());
}

#[test]
fn live_calls_become_dcom_events() {
    assert!(REQUEST_STUB_INTERFACES.contains(&ISYSTEM_ACTIVATOR));
    assert!(REQUEST_STUB_INTERFACES.contains(&IOBJECT_EXPORTER));
    let mut live = Live::new(1);
    live.feed(
        1.0,
        Input::Opened {
            conn_id: 1,
            peer: Some("10.0.0.1:50000".parse().unwrap()),
            local: Some("10.0.0.2:135".parse().unwrap()),
        },
    );
    let d = std::time::Duration::from_millis(1);
    // A refused activation of MMC20.Application: the event without an answer.
    let stub = vector("remote_create_instance_request");
    let evs = live.feed(
        2.0,
        Input::call_done(
            1,
            3,
            SyntaxId::new(ISYSTEM_ACTIVATOR, 0, 0),
            4,
            LE,
            NDR20,
            &stub,
            stub.len(),
            Err(FaultStatus::ACCESS_DENIED),
            d,
        ),
    );
    let act = evs
        .iter()
        .find(|e| matches!(e.kind, EventKind::DcomActivation { .. }))
        .unwrap_or_else(|| panic!("{evs:?}"));
    let EventKind::DcomActivation {
        call_id,
        clsid,
        hresult,
        ..
    } = &act.kind
    else {
        panic!()
    };
    assert_eq!((*call_id, clsid.as_str(), *hresult), (3, MMC20, None));
    assert_eq!(act.conn.orig_h, Some("10.0.0.1".parse().unwrap()));
    let mut det = Detectors::new(DetectorConfig::default());
    assert_eq!(alerts(&mut det, act).len(), 1);
    let m = msrpc_audit::metrics::Metrics::new();
    m.observe(act);
    let text = m.render();
    assert!(
        text.contains(
            "msrpc_dcom_activations_total{class=\"MMC20.Application\",operation=\"RemoteCreateInstance\",result=\"unanswered\"} 1"
        ),
        "{text}"
    );

    // ServerAlive2 with its answer.
    let resp = vector("server_alive2_response");
    let evs = live.feed(
        3.0,
        Input::call_done(
            1,
            4,
            SyntaxId::new(IOBJECT_EXPORTER, 0, 0),
            5,
            LE,
            NDR20,
            &[],
            0,
            Ok(&resp),
            d,
        ),
    );
    assert!(
        evs.iter().any(|e| matches!(&e.kind, EventKind::DcomResolver { operation, status: Some(0), bindings, .. } if operation == "ServerAlive2" && bindings.len() == 3)),
        "{evs:?}"
    );
}

/// The DCOM host's own records: a hosted class's name on its activations, ORPC calls, pings and
/// collection (the collector's on the host's own connection, without addresses), as JSON
/// lines and counters.
#[test]
fn live_host_records_name_hosted_classes_calls_pings_and_collection() {
    use msrpc_audit::json::JsonSink;
    use msrpc_audit::live::{DcomInput, MAX_LISTED_OIDS};
    let calc = Uuid::from_u128(0xe316f1a9_1aa2_4272_a77c_3b9abdceaf56);
    let icalc = Uuid::from_u128(0xbf30c0af_df87_42e5_ab32_930938b49417);
    let mut live = Live::new(1);
    let mut evs = live.feed(
        1.0,
        Input::Opened {
            conn_id: 1,
            peer: Some("10.0.0.1:50000".parse().unwrap()),
            local: Some("10.0.0.2:135".parse().unwrap()),
        },
    );
    let activate = |live: &mut Live| {
        let stub = create_instance(calc);
        live.feed(
            2.0,
            Input::call_done(
                1,
                3,
                SyntaxId::new(ISYSTEM_ACTIVATOR, 0, 0),
                4,
                LE,
                NDR20,
                &stub,
                stub.len(),
                Err(FaultStatus::ACCESS_DENIED),
                std::time::Duration::from_millis(1),
            ),
        )
    };
    let class_of = |evs: &[Event]| {
        evs.iter()
            .find_map(|e| match &e.kind {
                EventKind::DcomActivation { class_name, .. } => Some(class_name.clone()),
                _ => None,
            })
            .unwrap()
    };
    // Unknown to the table and not named by the host: no name.
    assert_eq!(class_of(&activate(&mut live)), None);
    // The host names it (before the activation's call ends): the record carries it.
    assert!(live
        .feed(
            2.5,
            Input::ClassName {
                clsid: calc,
                name: "MsrpcCalculator".into()
            }
        )
        .is_empty());
    let act = activate(&mut live);
    assert_eq!(class_of(&act), Some("MsrpcCalculator".into()));
    evs.extend(act);
    let ipid = Uuid::from_u128(0x1234);
    evs.extend(live.feed(
        3.0,
        Input::Dcom {
            conn_id: 1,
            input: Box::new(DcomInput::Call {
                call_id: 4,
                ipid,
                oid: Some(0x42),
                class: Some("MsrpcCalculator"),
                interface: icalc,
                opnum: 3,
                hresult: 0,
            }),
        },
    ));
    evs.extend(live.feed(
        3.5,
        Input::Dcom {
            conn_id: 1,
            input: Box::new(DcomInput::Call {
                call_id: 5,
                ipid,
                oid: None,
                class: None,
                interface: icalc,
                opnum: 3,
                hresult: 0x8001_0113,
            }),
        },
    ));
    let many: Vec<u64> = (1..=100).collect();
    evs.extend(live.feed(
        4.0,
        Input::Dcom {
            conn_id: 1,
            input: Box::new(DcomInput::Ping {
                call_id: 6,
                complex: true,
                set_id: 7,
                added: many.clone(),
                removed: vec![],
                status: 0,
            }),
        },
    ));
    let gc = live.feed(
        5.0,
        Input::Dcom {
            conn_id: 0,
            input: Box::new(DcomInput::Collected {
                reason: "ping_timeout",
                oids: many,
                objects: 0,
                ipids: 0,
                sets: 0,
            }),
        },
    );
    assert_eq!(gc.len(), 1);
    assert_eq!(gc[0].conn.orig_h, None);
    assert_eq!(gc[0].conn.uid, msrpc_audit::live::uid(1, 0));
    evs.extend(gc);
    let mut sink = JsonSink::new(Vec::new());
    for e in &evs {
        sink.write(e).unwrap();
    }
    let text = String::from_utf8(sink.into_inner()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let call = lines.iter().find(|l| l["event"] == "dcom_call").unwrap();
    assert_eq!(call["ipid"], ipid.to_string());
    assert_eq!(call["oid"], "0x0000000000000042");
    assert_eq!(call["class_name"], "MsrpcCalculator");
    assert_eq!(call["interface"], icalc.to_string());
    assert_eq!(call["opnum"], 3);
    assert_eq!(call["hresult"], 0);
    assert_eq!(call["id.orig_h"], "10.0.0.1");
    let ping = lines.iter().find(|l| l["event"] == "dcom_ping").unwrap();
    assert_eq!(ping["operation"], "ComplexPing");
    assert_eq!(ping["set_id"], "0x0000000000000007");
    assert_eq!(ping["added"].as_array().unwrap().len(), MAX_LISTED_OIDS);
    assert_eq!(ping["added"][0], "0x0000000000000001");
    assert_eq!(ping["status"], 0);
    let gc = lines.iter().find(|l| l["event"] == "dcom_gc").unwrap();
    assert_eq!(gc["reason"], "ping_timeout");
    assert_eq!(gc["collected"], 100);
    assert_eq!(gc["oids"].as_array().unwrap().len(), MAX_LISTED_OIDS);
    assert_eq!(
        (
            gc["objects"].clone(),
            gc["ipids"].clone(),
            gc["sets"].clone()
        ),
        (0.into(), 0.into(), 0.into())
    );
    assert!(gc["id.orig_h"].is_null());
    // Each line reads back as the event it was.
    for (l, e) in lines.iter().zip(&evs) {
        assert_eq!(&serde_json::from_value::<Event>(l.clone()).unwrap(), e);
    }
    let m = msrpc_audit::metrics::Metrics::new();
    for e in &evs {
        m.observe(e);
    }
    let text = m.render();
    for want in [
        "msrpc_dcom_activations_total{class=\"MsrpcCalculator\",operation=\"RemoteCreateInstance\",result=\"unanswered\"} 1",
        "msrpc_dcom_orpc_calls_total{class=\"MsrpcCalculator\",result=\"ok\"} 1",
        "msrpc_dcom_orpc_calls_total{class=\"unknown\",result=\"error\"} 1",
        "msrpc_dcom_pings_total{operation=\"ComplexPing\",result=\"ok\"} 1",
        "msrpc_dcom_collected_total{reason=\"ping_timeout\"} 100",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
}
