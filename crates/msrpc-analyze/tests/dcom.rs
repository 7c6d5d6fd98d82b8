//! DCOM in the third-party captures: activations, resolver and IRemUnknown calls become
//! `dcom_*` events, and the technique library raises `dcom_shellwindows` on the ShellWindows
//! capture, `wmi_exec_method` (T1047) on the WMI capture (its ExecMethod call; the activation of
//! WMI's login class alone is what management tools do too, and stays quiet), and
//! `dcom_mmc20_application` on Suricata's ctxids capture; no DCOM rule fires on any other
//! capture (netlogon, zerologon, psexec, Zeek's WMI activation, ...).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use msrpc_audit::detect::{DetectorConfig, Detectors};
use msrpc_audit::{Event, EventKind};

const SHELLWINDOWS: &str = "otrf__empire_dcom_shellwindows_WORKSTATION5.cap";
const WMI: &str = "otrf__empire_wmi_dcerpc_wmi_IWbemServices_ExecMethod_WORKSTATION5.cap";
const CTXIDS: &str = "sv__dcerpc-ctxids.pcap";

/// The events of a capture and the alerts the detectors raise over them.
fn run(name: &str) -> (Vec<Event>, Vec<Event>) {
    let (_, events) = common::analyze(&common::captures_dir().join(name));
    let mut d = Detectors::new(DetectorConfig::default());
    let mut alerts: Vec<Event> = events.iter().flat_map(|e| d.observe(e)).collect();
    alerts.extend(d.finish());
    (events, alerts)
}

/// The DCOM and WMI rules' alerts: (severity, ATT&CK id, rule, the activation's class name
/// and operation, or the call's operation).
fn dcom_alerts(alerts: &[Event]) -> Vec<(String, String, String, String)> {
    alerts
        .iter()
        .filter_map(|a| match &a.kind {
            EventKind::Alert {
                detector,
                severity,
                evidence,
                attack,
                ..
            } if detector.starts_with("dcom_") || detector.starts_with("wmi_") => {
                let call = &evidence["calls"][0];
                Some((
                    severity.clone(),
                    attack.clone().unwrap(),
                    detector.clone(),
                    format!(
                        "{} {}",
                        call["class_name"].as_str().unwrap_or("-"),
                        call["operation"]
                            .as_str()
                            .map_or_else(|| call["opnum"].to_string(), str::to_string)
                    ),
                ))
            }
            _ => None,
        })
        .collect()
}

fn activations(events: &[Event]) -> Vec<&EventKind> {
    events
        .iter()
        .map(|e| &e.kind)
        .filter(|k| matches!(k, EventKind::DcomActivation { .. }))
        .collect()
}

#[test]
fn shared_captures_shellwindows_activation_alerts() {
    let (events, alerts) = run(SHELLWINDOWS);
    let acts = activations(&events);
    assert_eq!(acts.len(), 1, "{acts:?}");
    let EventKind::DcomActivation {
        operation,
        clsid,
        class_name,
        iids,
        hresult,
        oxid,
        bindings,
        ..
    } = acts[0]
    else {
        unreachable!()
    };
    // RemoteGetClassObject for IClassFactory's IUnknown, answered with the exporter's bindings.
    assert_eq!(operation, "RemoteGetClassObject");
    assert_eq!(clsid, "9ba05972-f6a8-11cf-a442-00a0c90a8f39");
    assert_eq!(class_name.as_deref(), Some("ShellWindows"));
    assert_eq!(iids, &["00000001-0000-0000-c000-000000000046"]);
    assert_eq!(*hresult, Some(0));
    assert!(oxid.is_some());
    assert_eq!(
        bindings,
        &[
            "ncacn_ip_tcp:WORKSTATION6[49913]",
            "ncacn_ip_tcp:172.18.39.6[49913]"
        ]
    );
    assert_eq!(
        dcom_alerts(&alerts),
        vec![(
            "high".into(),
            "T1021.003".into(),
            "dcom_shellwindows".into(),
            "ShellWindows RemoteGetClassObject".into()
        )]
    );
    // ResolveOxid2 and the IRemUnknown2 traffic on the exporter.
    assert!(
        events.iter().any(|e| matches!(&e.kind,
        EventKind::DcomResolver { operation, status: Some(0), .. } if operation == "ResolveOxid2"))
    );
    let remunk = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::DcomRemUnknown { .. }))
        .count();
    assert_eq!(remunk, 35);
}

#[test]
fn shared_captures_wmi_exec_method_alerts() {
    let (events, alerts) = run(WMI);
    let acts = activations(&events);
    assert_eq!(acts.len(), 1, "{acts:?}");
    // At connect level (no verifier on the call): the level is the bind's.
    assert!(
        matches!(acts[0], EventKind::DcomActivation { operation, class_name: Some(n), hresult: Some(0), auth_level: Some(l), .. }
        if operation == "RemoteCreateInstance" && n == "WbemLevel1Login" && l == "connect")
    );
    // The activation is quiet; IWbemServices::ExecMethod (opnum 24, sealed) fires.
    assert_eq!(
        dcom_alerts(&alerts),
        vec![(
            "medium".into(),
            "T1047".into(),
            "wmi_exec_method".into(),
            "- 24".into()
        )]
    );
    // Windows' own ServerAlive2 after the activation: the host's addresses, no endpoints.
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::DcomResolver { operation, com_version: Some(v), bindings, .. }
            if operation == "ServerAlive2" && v == "5.7"
                && bindings == &["ncacn_ip_tcp:WORKSTATION6", "ncacn_ip_tcp:172.18.39.6"])));
}

#[test]
fn shared_captures_ctxids_is_an_mmc20_activation() {
    // Suricata's dcerpc-ctxids test capture is DCOM lateral movement too: PURP\Administrator
    // activates MMC20.Application (RemoteGetClassObject at integrity) on a domain controller,
    // then binds IRemUnknown2 on the exporter's port. A true positive.
    let (summary, _) = common::analyze(&common::captures_dir().join(CTXIDS));
    assert_eq!(
        summary
            .dcom_activations
            .get("MMC20.Application 49b2791a-b1ae-4c90-9b8e-e860ba07f889"),
        Some(&1)
    );
    let (events, alerts) = run(CTXIDS);
    let acts = activations(&events);
    assert_eq!(acts.len(), 1, "{acts:?}");
    assert!(
        matches!(acts[0], EventKind::DcomActivation { user: Some(u), auth_level: Some(l), class_name: Some(n), .. }
        if u == "PURP\\Administrator" && l == "integrity" && n == "MMC20.Application")
    );
    assert_eq!(
        dcom_alerts(&alerts),
        vec![(
            "high".into(),
            "T1021.003".into(),
            "dcom_mmc20_application".into(),
            "MMC20.Application RemoteGetClassObject".into()
        )]
    );
}

#[test]
fn shared_captures_no_dcom_alert_elsewhere() {
    // Zeek's kerberos135_auth capture is a WMI activation (WbemLevel1Login, Kerberos at
    // connect level) and nothing more: what a management tool's query starts with, so quiet.
    // Every other capture (netlogon, zerologon, psexec, SMB, ...) must stay quiet too.
    let expected: &[(&str, &str, &str)] = &[
        (SHELLWINDOWS, "T1021.003", "dcom_shellwindows"),
        (WMI, "T1047", "wmi_exec_method"),
        (CTXIDS, "T1021.003", "dcom_mmc20_application"),
    ];
    let dir = common::captures_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".cap"))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    for n in &names {
        let (_, alerts) = run(n);
        let got: Vec<(String, String)> = dcom_alerts(&alerts)
            .into_iter()
            .map(|(_, t, c, _)| (t, c))
            .collect();
        let want: Vec<(String, String)> = expected
            .iter()
            .filter(|(f, _, _)| f == n)
            .map(|(_, t, c)| (t.to_string(), c.to_string()))
            .collect();
        assert_eq!(got, want, "{n}");
    }
}
