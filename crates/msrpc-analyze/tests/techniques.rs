//! The technique library on the shared third-party captures: the attack captures fire their
//! rules (Zerologon, Empire's PsExec-style service, WMI ExecMethod, DCOM ShellWindows, ...),
//! and no rule fires on any other capture: domain joins, Netlogon logons, DsRole queries, a
//! Kerberos WMI activation, MAPI. The events carry the decoded arguments the rules read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use msrpc_audit::detect::{DetectorConfig, Detectors};
use msrpc_audit::technique::Library;
use msrpc_audit::{Event, EventKind};

const ZEROLOGON: &str = "sv__zerologon.pcap";
const PSEXEC: &str = "otrf__empire_psexec_dcerpc_tcp_svcctl_WORKSTATION5.cap";

/// Rules that fire on each capture; every capture not named here fires none.
const EXPECTED: &[(&str, &[&str])] = &[
    // A synthetic capture of one call per interface, a DRSGetNCChanges among them.
    ("arkime__dcerpc-test.pcap", &["dcsync"]),
    // Suricata's auth3 capture is a service created, started and deleted twice (sealed).
    (
        "sv__dcerpc-auth3-5133.pcap",
        &["scm_ephemeral_service", "scm_service_create_start"],
    ),
    ("sv__dcerpc-ctxids.pcap", &["dcom_mmc20_application"]),
    // Zeek's 20-FIDs capture, over SMB2 named pipes: one client opening \\pipe\\samr twenty
    // times and paging through the domain's users each time (20 SamrEnumerateUsersInDomain):
    // account enumeration, low severity (admin practice too).
    ("zeek__20-fids.pcap", &["samr_domain_account_enum"]),
    (
        ZEROLOGON,
        &[
            "epm_map_sensitive_interface",
            "zerologon_password_reset",
            "zerologon_storm",
            "zerologon_zero_credential",
        ],
    ),
    (
        "otrf__empire_dcom_shellwindows_WORKSTATION5.cap",
        &["dcom_shellwindows"],
    ),
    (
        PSEXEC,
        &["scm_ephemeral_service", "scm_service_create_start"],
    ),
    (
        "otrf__empire_wmi_dcerpc_wmi_IWbemServices_ExecMethod_WORKSTATION5.cap",
        &["wmi_exec_method"],
    ),
];

/// Ordinary traffic that must raise no alert at all.
const BENIGN: &[&str] = &[
    "zeek__dce_rpc_netlogon.pcapng",
    "zeek__cs_window7-join_stream092.pcap",
    "zeek__dssetup_DsRoleGetPrimaryDomainInformation_standalone_workstation.cap",
    "zeek__kerberos135_auth.pcapng",
    "zeek__mapi.pcap",
    "scapy__dcerpc_msnrpc.pcapng",
    "scapy__dcerpc_privacy_krb.pcapng",
];

fn run(name: &str) -> (Vec<Event>, Vec<Event>) {
    let (_, events) = common::analyze(&common::captures_dir().join(name));
    let mut d = Detectors::new(DetectorConfig::default());
    let mut alerts: Vec<Event> = events.iter().flat_map(|e| d.observe(e)).collect();
    alerts.extend(d.finish());
    (events, alerts)
}

fn detector(a: &Event) -> &str {
    match &a.kind {
        EventKind::Alert { detector, .. } => detector,
        _ => "",
    }
}

fn alert<'a>(alerts: &'a [Event], rule: &str) -> &'a Event {
    alerts
        .iter()
        .find(|a| detector(a) == rule)
        .unwrap_or_else(|| panic!("no {rule} alert"))
}

#[test]
fn shared_captures_rules_fire_where_expected_and_nowhere_else() {
    let lib = Library::builtin();
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
        let mut got: Vec<&str> = alerts
            .iter()
            .map(detector)
            .filter(|d| lib.rule(d).is_some())
            .collect();
        got.sort_unstable();
        got.dedup();
        let want: Vec<&str> = EXPECTED
            .iter()
            .find(|(f, _)| f == n)
            .map(|(_, r)| r.to_vec())
            .unwrap_or_default();
        assert_eq!(got, want, "{n}");
        if BENIGN.contains(&n.as_str()) {
            assert!(alerts.is_empty(), "{n}: {alerts:?}");
        }
    }
}

#[test]
fn shared_captures_zerologon_arguments_and_evidence() {
    let (events, alerts) = run(ZEROLOGON);
    // 21 challenge/authenticate pairs with all-zero challenges and credentials, Netlogon's
    // flags without sign/seal, then the empty password.
    let auths: Vec<&Vec<msrpc_audit::CallArg>> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Call {
                opnum: 26, args, ..
            } => Some(args),
            _ => None,
        })
        .collect();
    assert_eq!(auths.len(), 21);
    for a in &auths {
        let get = |n: &str| msrpc_audit::args::get(a, n).unwrap();
        assert_eq!(get("ClientCredential"), "0000000000000000");
        assert_eq!(get("NegotiateFlags"), "0x212fffff");
        assert_eq!(get("SecureChannelType"), "6");
        assert_eq!(get("AccountName"), "BAS-AD-01$");
    }
    let EventKind::Alert {
        severity,
        confidence,
        attack,
        evidence,
        benign,
        ..
    } = &alert(&alerts, "zerologon_storm").kind
    else {
        unreachable!()
    };
    assert_eq!(
        (severity.as_str(), confidence.as_str(), attack.as_deref()),
        ("high", "medium", Some("T1210"))
    );
    assert!(benign.contains("retry"), "{benign}");
    assert_eq!(evidence["count"], 10);
    assert!(evidence["first_ts"].as_f64().unwrap() < evidence["last_ts"].as_f64().unwrap());
    assert_eq!(evidence["calls"][0]["args"]["ComputerName"], "BAS-AD-01");
    let EventKind::Alert { evidence, .. } = &alert(&alerts, "zerologon_password_reset").kind else {
        unreachable!()
    };
    assert_eq!(evidence["calls"][0]["args"]["ClearNewPassword"], "zero");
    assert_eq!(evidence["calls"][0]["operation"], "NetrServerPasswordSet2");
}

#[test]
fn shared_captures_psexec_service_is_low_and_says_it_is_admin_practice_too() {
    let (_, alerts) = run(PSEXEC);
    let EventKind::Alert {
        severity,
        benign,
        summary,
        evidence,
        attack,
        ..
    } = &alert(&alerts, "scm_service_create_start").kind
    else {
        unreachable!()
    };
    assert_eq!(severity, "low");
    assert_eq!(attack.as_deref(), Some("T1569.002"));
    assert!(benign.contains("PsExec"), "{benign}");
    assert!(summary.contains("admin practice"), "{summary}");
    // RCreateServiceA then RStartServiceA, sealed (no arguments).
    let ops: Vec<u64> = evidence["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["opnum"].as_u64().unwrap())
        .collect();
    assert_eq!(ops, [24, 31]);
    assert_eq!(evidence["calls"][0]["auth_level"], "privacy");
    let EventKind::Alert { evidence, .. } = &alert(&alerts, "scm_ephemeral_service").kind else {
        unreachable!()
    };
    assert_eq!(evidence["count"], 3);
}
