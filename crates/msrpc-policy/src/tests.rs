//! Evaluation of every rule kind, the order between them, prefixes, users, levels, the file
//! format and the handle.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use msrpc_ndr::Uuid;
use msrpc_proto::dispatch::CallAuth;
use msrpc_proto::pdu::{AuthLevel, AuthType, FaultStatus, SyntaxId};

use crate::*;

const ECHO: &str = "60a15ec5-4de8-11d7-a637-005056a20182";
const OTHER: &str = "12345778-1234-abcd-ef00-0123456789ab";

fn uuid(s: &str) -> Uuid {
    s.parse().unwrap()
}

fn policy(text: &str) -> Policy {
    toml::from_str(text).unwrap()
}

fn auth(level: AuthLevel, user: &str) -> CallAuth {
    CallAuth {
        auth_type: AuthType::WINNT,
        level,
        user: Some(user.to_string()),
        anonymous: false,
    }
}

fn anonymous(level: AuthLevel) -> CallAuth {
    CallAuth {
        auth_type: AuthType::WINNT,
        level,
        user: Some("ANONYMOUS LOGON".to_string()),
        anonymous: true,
    }
}

fn call<'a>(
    iface: &str,
    opnum: u16,
    remote: Option<&str>,
    auth: Option<&'a CallAuth>,
) -> CallerInfo<'a> {
    CallerInfo {
        interface: SyntaxId::new(uuid(iface), 1, 0),
        opnum,
        remote: remote.map(|r| r.parse::<IpAddr>().unwrap()),
        local: remote.is_none(),
        auth,
    }
}

fn reason(p: &Policy, c: &CallerInfo<'_>) -> Option<&'static str> {
    p.check(c).refusal.map(|r| {
        assert_eq!(r.status, FaultStatus::ACCESS_DENIED);
        r.reason.code()
    })
}

const EPM: &str = "e1af8308-5d1f-11c9-91a4-08002b14a0fa";
const MGMT: &str = "afa8bd80-7d8a-11c9-bef4-08002b102989";

#[test]
fn the_empty_policy_permits_everything() {
    let p = policy("");
    assert_eq!(p, Policy::default());
    for c in [
        call(ECHO, 0, Some("192.0.2.1"), None),
        call(EPM, 3, Some("192.0.2.1"), None),
        call(ECHO, 1, None, None),
    ] {
        assert_eq!(p.check(&c), Verdict::default());
    }
}

#[test]
fn interface_min_level() {
    let p = policy(&format!(
        "[[interface]]\nuuid = \"{ECHO}\"\nmin-auth-level = \"privacy\"\n"
    ));
    let integ = auth(AuthLevel::PKT_INTEGRITY, "D\\alice");
    let priv_ = auth(AuthLevel::PKT_PRIVACY, "D\\alice");
    let remote = Some("192.0.2.1");
    assert_eq!(
        reason(&p, &call(ECHO, 0, remote, None)),
        Some("policy_min_level")
    );
    assert_eq!(
        reason(&p, &call(ECHO, 0, remote, Some(&integ))),
        Some("policy_min_level")
    );
    assert_eq!(reason(&p, &call(ECHO, 0, remote, Some(&priv_))), None);
    // Local callers are held to interface levels too.
    assert_eq!(
        reason(&p, &call(ECHO, 0, None, None)),
        Some("policy_min_level")
    );
    // Other interfaces are not concerned.
    assert_eq!(reason(&p, &call(OTHER, 0, remote, None)), None);
    assert_eq!(p.min_level(&uuid(ECHO)), Level::Privacy);
    assert_eq!(p.min_level(&uuid(OTHER)), Level::None);
}

#[test]
fn levels_are_ordered_and_default_is_connect() {
    let all = [
        Level::None,
        Level::Connect,
        Level::Call,
        Level::Pkt,
        Level::Integrity,
        Level::Privacy,
    ];
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(Level::from_wire(AuthLevel::DEFAULT), Level::Connect);
    assert_eq!(Level::from_wire(AuthLevel::NONE), Level::None);
    assert_eq!(Level::from_wire(AuthLevel::PKT), Level::Pkt);
    assert_eq!(Level::from_wire(AuthLevel::PKT_PRIVACY), Level::Privacy);
    // Undefined levels never satisfy a requirement.
    assert_eq!(Level::from_wire(AuthLevel(7)), Level::None);
    assert_eq!(Level::from_wire(AuthLevel(0xff)), Level::None);
    let p = policy(&format!(
        "[[interface]]\nuuid = \"{ECHO}\"\nmin-auth-level = \"connect\"\n"
    ));
    let dflt = auth(AuthLevel::DEFAULT, "u");
    let none = auth(AuthLevel::NONE, "u");
    assert_eq!(
        reason(&p, &call(ECHO, 0, Some("10.0.0.1"), Some(&dflt))),
        None
    );
    assert_eq!(
        reason(&p, &call(ECHO, 0, Some("10.0.0.1"), Some(&none))),
        Some("policy_min_level")
    );
}

#[test]
fn prefixes_v4_and_v6() {
    let p = |s: &str| Prefix::parse(s).unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(p("10.0.0.0/8").contains(ip("10.255.1.2")));
    assert!(!p("10.0.0.0/8").contains(ip("11.0.0.1")));
    assert!(p("192.0.2.7").contains(ip("192.0.2.7")));
    assert!(!p("192.0.2.7").contains(ip("192.0.2.8")));
    assert!(p("0.0.0.0/0").contains(ip("203.0.113.9")));
    assert!(
        !p("0.0.0.0/0").contains(ip("2001:db8::1")),
        "families differ"
    );
    assert!(p("192.0.2.0/25").contains(ip("192.0.2.127")));
    assert!(!p("192.0.2.0/25").contains(ip("192.0.2.128")));
    assert!(p("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
    assert!(!p("2001:db8::/32").contains(ip("2001:db9::1")));
    assert!(p("::/0").contains(ip("::1")));
    assert!(p("fe80::1").contains(ip("fe80::1")));
    // IPv4-mapped IPv6 callers are IPv4 callers.
    assert!(p("127.0.0.0/8").contains(ip("::ffff:127.0.0.5")));
    assert!(p("::ffff:10.1.2.3").contains(ip("10.1.2.3")));
    for bad in [
        "10.0.0.0/33",
        "::/129",
        "10.0.0/8",
        "x",
        "10.0.0.0/",
        "10.0.0.0/-1",
    ] {
        assert!(Prefix::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn filters_by_interface_opnum_remote_level_and_user() {
    let p = policy(&format!(
        r#"
[[filter]]
name = "no-echo-from-lab"
action = "deny"
interface = "{ECHO}"
remote = ["10.0.0.0/8", "2001:db8::/32"]

[[filter]]
name = "no-opnum-5"
action = "deny"
opnum = [5, 6]

[[filter]]
name = "no-weak"
action = "deny"
interface = ["{OTHER}"]
auth-level-below = "integrity"

[[filter]]
name = "no-bob"
action = "deny"
user = ['CORP\bob', "mallory", 'Équipe\Zoé']

[[filter]]
name = "no-exact-pkt"
action = "deny"
auth-level = "pkt"
"#
    ));
    let rule = |c: &CallerInfo<'_>| {
        p.check(c)
            .refusal
            .and_then(|r| r.rule)
            .map(|r| r.to_string())
    };
    assert_eq!(
        rule(&call(ECHO, 0, Some("10.1.1.1"), None)).as_deref(),
        Some("no-echo-from-lab")
    );
    assert_eq!(
        rule(&call(ECHO, 0, Some("2001:db8::5"), None)).as_deref(),
        Some("no-echo-from-lab")
    );
    assert_eq!(rule(&call(ECHO, 0, Some("192.0.2.1"), None)), None);
    assert_eq!(rule(&call(ECHO, 0, None, None)), None, "local: no address");
    assert_eq!(
        rule(&call(ECHO, 6, Some("192.0.2.1"), None)).as_deref(),
        Some("no-opnum-5")
    );
    assert_eq!(
        rule(&call(OTHER, 0, Some("192.0.2.1"), None)).as_deref(),
        Some("no-weak")
    );
    let integ = auth(AuthLevel::PKT_INTEGRITY, "CORP\\alice");
    assert_eq!(rule(&call(OTHER, 0, Some("192.0.2.1"), Some(&integ))), None);
    // Users: DOMAIN\user exact (any case), bare names in any domain.
    for (user, denied) in [
        ("corp\\BOB", true),
        ("OTHER\\bob", false),
        ("bob", false),
        ("X\\Mallory", true),
        ("mallory", true),
        ("alice", false),
        ("ÉQUIPE\\Mallory", true),
    ] {
        let a = auth(AuthLevel::PKT_PRIVACY, user);
        let got = rule(&call(ECHO, 0, Some("192.0.2.1"), Some(&a)));
        assert_eq!(got.as_deref() == Some("no-bob"), denied, "{user}: {got:?}");
    }
    // Non-ASCII names compare case-insensitively too.
    for (user, denied) in [
        ("ÉQUIPE\\ZOÉ", true),
        ("équipe\\zoé", true),
        ("X\\zoé", false),
    ] {
        let a = auth(AuthLevel::PKT_PRIVACY, user);
        let got = rule(&call(ECHO, 0, Some("192.0.2.1"), Some(&a)));
        assert_eq!(got.as_deref() == Some("no-bob"), denied, "{user}: {got:?}");
    }
    let pkt = auth(AuthLevel::PKT, "alice");
    assert_eq!(
        rule(&call(ECHO, 0, Some("192.0.2.1"), Some(&pkt))).as_deref(),
        Some("no-exact-pkt")
    );
    assert_eq!(
        reason(&p, &call(ECHO, 0, Some("10.1.1.1"), None)),
        Some("policy_filter_deny")
    );
}

#[test]
fn first_permit_or_deny_decides_and_audits_never_do() {
    let p = policy(&format!(
        r#"
default-action = "deny"

[[filter]]
name = "audit-all"
action = "audit"

[[filter]]
name = "lab-ok"
action = "permit"
remote = "10.0.0.0/8"

[[filter]]
name = "no-lab-echo"
action = "deny"
interface = "{ECHO}"

[[filter]]
name = "audit-echo"
action = "audit"
interface = "{ECHO}"

[[interface]]
uuid = "{ECHO}"
min-auth-level = "integrity"
"#
    ));
    // Permitted by the first permit: the later deny is not consulted, but the interface
    // level still applies; both audits are recorded.
    let v = p.check(&call(ECHO, 0, Some("10.0.0.9"), None));
    assert_eq!(v.refusal.as_ref().unwrap().reason, Reason::MinLevel);
    let audits: Vec<&str> = v.audits.iter().map(|a| &**a).collect();
    assert_eq!(audits, ["audit-all", "audit-echo"]);
    let integ = auth(AuthLevel::PKT_INTEGRITY, "u");
    let v = p.check(&call(ECHO, 0, Some("10.0.0.9"), Some(&integ)));
    assert!(v.permitted());
    assert_eq!(v.audits.len(), 2);
    // Not from the lab: the deny filter matches.
    let v = p.check(&call(ECHO, 0, Some("192.0.2.1"), Some(&integ)));
    assert_eq!(v.refusal.unwrap().rule.as_deref(), Some("no-lab-echo"));
    assert_eq!(
        v.audits.len(),
        2,
        "audits are recorded for refused calls too"
    );
    // Nothing matches: default-action deny.
    let v = p.check(&call(OTHER, 0, Some("192.0.2.1"), None));
    let r = v.refusal.unwrap();
    assert_eq!((r.reason, r.rule), (Reason::FilterDefault, None));
    assert_eq!(v.audits.len(), 1);
}

#[test]
fn restrict_modes() {
    let mode = |m: &str| {
        policy(&format!(
            "restrict-remote-clients = \"{m}\"\n[[interface]]\nuuid = \"{OTHER}\"\nallow-unauthenticated = true\n"
        ))
    };
    let remote = Some("192.0.2.1");
    let a = auth(AuthLevel::CONNECT, "alice");
    let none_level = auth(AuthLevel::NONE, "alice");
    let table = [
        // (mode, interface, authenticated?, local?, refused?)
        ("none", ECHO, false, false, false),
        ("authenticated", ECHO, false, false, true),
        ("authenticated", ECHO, true, false, false),
        ("authenticated", EPM, false, false, false),
        ("authenticated", MGMT, false, false, true),
        ("authenticated", OTHER, false, false, false),
        ("authenticated", ECHO, false, true, false),
        ("authenticated_without_exceptions", EPM, false, false, true),
        (
            "authenticated_without_exceptions",
            OTHER,
            false,
            false,
            true,
        ),
        ("authenticated_without_exceptions", ECHO, true, false, false),
        ("authenticated_without_exceptions", EPM, false, true, false),
    ];
    for (m, iface, authed, local, refused) in table {
        let p = mode(m);
        let c = call(
            iface,
            0,
            if local { None } else { remote },
            authed.then_some(&a),
        );
        let got = reason(&p, &c);
        assert_eq!(
            got,
            refused.then_some("policy_restrict_remote"),
            "{m} {iface} authed={authed} local={local}"
        );
    }
    // An auth trailer at level none is not authentication.
    assert_eq!(
        reason(
            &mode("authenticated"),
            &call(ECHO, 0, remote, Some(&none_level))
        ),
        Some("policy_restrict_remote")
    );
}

#[test]
fn anonymous_logons_are_unauthenticated_but_keep_their_level() {
    let remote = Some("192.0.2.1");
    let anon_priv = anonymous(AuthLevel::PKT_PRIVACY);
    let anon_connect = anonymous(AuthLevel::CONNECT);
    let alice = auth(AuthLevel::PKT_PRIVACY, "alice");
    // The caller facts.
    let c = call(ECHO, 0, remote, Some(&anon_priv));
    assert!(c.anonymous() && !c.authenticated());
    assert_eq!(c.level(), Level::Privacy);
    assert_eq!(c.user(), Some("ANONYMOUS LOGON"));
    assert!(!call(ECHO, 0, remote, Some(&alice)).anonymous());

    // restrict-remote-clients = "authenticated": anonymous at any level is refused, except
    // to the endpoint mapper and allow-unauthenticated interfaces, as unauthenticated calls.
    let p = policy(&format!(
        "restrict-remote-clients = \"authenticated\"\n[[interface]]\nuuid = \"{OTHER}\"\nallow-unauthenticated = true\n"
    ));
    for a in [&anon_priv, &anon_connect] {
        assert_eq!(
            reason(&p, &call(ECHO, 0, remote, Some(a))),
            Some("policy_restrict_remote")
        );
        assert_eq!(
            reason(&p, &call(MGMT, 0, remote, Some(a))),
            Some("policy_restrict_remote")
        );
        assert_eq!(reason(&p, &call(EPM, 3, remote, Some(a))), None);
        assert_eq!(reason(&p, &call(OTHER, 0, remote, Some(a))), None);
        // Local callers are exempt as ever.
        assert_eq!(reason(&p, &call(ECHO, 0, None, Some(a))), None);
    }
    assert_eq!(reason(&p, &call(ECHO, 0, remote, Some(&alice))), None);
    let p = policy("restrict-remote-clients = \"authenticated_without_exceptions\"");
    assert_eq!(
        reason(&p, &call(EPM, 3, remote, Some(&anon_priv))),
        Some("policy_restrict_remote")
    );

    // epm-lookup = "require_authentication": anonymous is not enough.
    let p = policy("epm-lookup = \"require_authentication\"");
    assert_eq!(
        reason(&p, &call(EPM, 2, remote, Some(&anon_priv))),
        Some("policy_epm_lookup")
    );
    assert_eq!(reason(&p, &call(EPM, 2, remote, Some(&alice))), None);

    // min-auth-level: the level asked for counts.
    let p = policy(&format!(
        "[[interface]]\nuuid = \"{ECHO}\"\nmin-auth-level = \"privacy\"\n"
    ));
    assert_eq!(reason(&p, &call(ECHO, 0, remote, Some(&anon_priv))), None);
    assert_eq!(
        reason(&p, &call(ECHO, 0, remote, Some(&anon_connect))),
        Some("policy_min_level")
    );

    // User filters: `ANONYMOUS LOGON` or `NT AUTHORITY\ANONYMOUS LOGON` (any case) match
    // anonymous logons and nothing else; other names never match an anonymous caller.
    let p = policy(
        r#"
[[filter]]
name = "no-anonymous"
action = "deny"
user = "Anonymous Logon"

[[filter]]
name = "no-nt-authority-anonymous"
action = "deny"
user = 'NT AUTHORITY\ANONYMOUS LOGON'
interface = "12345778-1234-abcd-ef00-0123456789ab"

[[filter]]
name = "no-other-domain-anonymous"
action = "deny"
user = 'CORP\ANONYMOUS LOGON'

[[filter]]
name = "audit-alice"
action = "audit"
user = ["alice", "anonymous"]

[[filter]]
name = "level-filter"
action = "audit"
auth-level = "privacy"
"#,
    );
    let v = p.check(&call(ECHO, 0, remote, Some(&anon_priv)));
    assert_eq!(v.refusal.unwrap().rule.as_deref(), Some("no-anonymous"));
    let audits: Vec<&str> = v.audits.iter().map(|a| &**a).collect();
    assert_eq!(
        audits,
        ["level-filter"],
        "auth-level filters see the level asked"
    );
    // A named account that happens to be called ANONYMOUS LOGON is not anonymous: the
    // anonymous rules do not match it (NTLM acceptors refuse that name anyway).
    let impostor = auth(AuthLevel::PKT_PRIVACY, "ANONYMOUS LOGON");
    let v = p.check(&call(ECHO, 0, remote, Some(&impostor)));
    assert!(v.permitted());
    let v = p.check(&call(ECHO, 0, remote, Some(&alice)));
    assert!(v.permitted());
    assert_eq!(v.audits.len(), 2);
    // The domain-qualified form, and a rule in another domain that never matches.
    let p = policy(
        r#"
[[filter]]
name = "nt"
action = "deny"
user = 'nt authority\anonymous logon'

[[filter]]
name = "corp"
action = "deny"
user = 'CORP\ANONYMOUS LOGON'
"#,
    );
    assert_eq!(
        p.check(&call(ECHO, 0, remote, Some(&anon_connect)))
            .refusal
            .unwrap()
            .rule
            .as_deref(),
        Some("nt")
    );
    let p =
        policy("[[filter]]\nname = \"corp\"\naction = \"deny\"\nuser = 'CORP\\ANONYMOUS LOGON'\n");
    assert!(p
        .check(&call(ECHO, 0, remote, Some(&anon_connect)))
        .permitted());
}

#[test]
fn epm_lookup_policy() {
    let p = |m: &str| policy(&format!("epm-lookup = \"{m}\""));
    let remote = Some("192.0.2.1");
    let a = auth(AuthLevel::PKT_INTEGRITY, "alice");
    for opnum in [2u16, 3, 4] {
        assert_eq!(reason(&p("allow"), &call(EPM, opnum, remote, None)), None);
        assert_eq!(
            reason(&p("refuse"), &call(EPM, opnum, remote, None)),
            Some("policy_epm_lookup")
        );
        assert_eq!(
            reason(&p("refuse"), &call(EPM, opnum, remote, Some(&a))),
            Some("policy_epm_lookup")
        );
        assert_eq!(
            reason(
                &p("require_authentication"),
                &call(EPM, opnum, remote, None)
            ),
            Some("policy_epm_lookup")
        );
        assert_eq!(
            reason(
                &p("require_authentication"),
                &call(EPM, opnum, remote, Some(&a))
            ),
            None
        );
        // Local callers may always look up.
        assert_eq!(reason(&p("refuse"), &call(EPM, opnum, None, None)), None);
    }
    // Other EPM operations (ept_insert, ept_inq_object) and other interfaces are untouched.
    for opnum in [0u16, 1, 5, 6] {
        assert_eq!(reason(&p("refuse"), &call(EPM, opnum, remote, None)), None);
    }
    assert_eq!(reason(&p("refuse"), &call(ECHO, 2, remote, None)), None);
}

#[test]
fn handle_callbacks_and_replacement() {
    let h = PolicyHandle::new(policy(&format!(
        "[[interface]]\nuuid = \"{ECHO}\"\nmin-auth-level = \"integrity\"\n"
    )));
    let calls = Arc::new(AtomicUsize::new(0));
    let n = calls.clone();
    h.set_callback(
        uuid(ECHO),
        Arc::new(move |c: &CallerInfo<'_>| {
            n.fetch_add(1, Ordering::SeqCst);
            if c.user().is_some_and(|u| u.eq_ignore_ascii_case("D\\alice")) {
                Decision::Permit
            } else {
                Decision::Deny
            }
        }),
    );
    let alice = auth(AuthLevel::PKT_PRIVACY, "D\\alice");
    let bob = auth(AuthLevel::PKT_PRIVACY, "D\\bob");
    let remote = Some("192.0.2.1");
    assert!(h.check(&call(ECHO, 0, remote, Some(&alice))).permitted());
    let v = h.check(&call(ECHO, 0, remote, Some(&bob)));
    assert_eq!(v.refusal.unwrap().reason, Reason::Callback);
    // The callback runs only after the static checks passed.
    let v = h.check(&call(ECHO, 0, remote, None));
    assert_eq!(v.refusal.unwrap().reason, Reason::MinLevel);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Other interfaces have no callback.
    assert!(h.check(&call(OTHER, 0, remote, None)).permitted());
    // A replacement is seen by the next check; callbacks stay.
    let old = h.replace(policy("epm-lookup = \"refuse\""));
    assert_eq!(old.min_level(&uuid(ECHO)), Level::Integrity);
    assert!(h.check(&call(ECHO, 0, remote, Some(&alice))).permitted());
    assert_eq!(
        h.check(&call(ECHO, 0, remote, None))
            .refusal
            .unwrap()
            .reason,
        Reason::Callback
    );
    assert!(h.remove_callback(&uuid(ECHO)));
    assert!(h.check(&call(ECHO, 0, remote, None)).permitted());
    assert!(!h.remove_callback(&uuid(ECHO)));
    assert!(format!("{h:?}").contains("Refuse"));
}

#[test]
fn file_format_round_trips_and_refuses_mistakes() {
    let text = format!(
        r#"
restrict-remote-clients = "authenticated"
epm-lookup = "require_authentication"
default-action = "deny"

[[interface]]
uuid = "{ECHO}"
min-auth-level = "privacy"

[[filter]]
name = "lab"
action = "permit"
remote = "10.0.0.0/8"
opnum = 3
"#
    );
    let p = policy(&text);
    assert_eq!(p.restrict_mode(), RestrictMode::Authenticated);
    assert_eq!(p.epm_lookup(), EpmLookup::RequireAuthentication);
    let back = toml::to_string(&p).unwrap();
    assert_eq!(policy(&back), p, "{back}");
    assert!(back.contains("min-auth-level = \"privacy\""), "{back}");

    let bad = |t: &str| toml::from_str::<Policy>(t).unwrap_err().to_string();
    assert!(bad("bogus = 1").contains("unknown field"));
    assert!(bad("restrict-remote-clients = \"high\"").contains("unknown variant"));
    assert!(bad("[[interface]]\nuuid = \"x\"").contains("not a UUID"));
    assert!(bad(&format!(
        "[[interface]]\nuuid = \"{ECHO}\"\nmin-auth-level = \"max\""
    ))
    .contains("unknown variant"));
    assert!(bad(&format!(
        "[[interface]]\nuuid = \"{ECHO}\"\n[[interface]]\nuuid = \"{}\"",
        ECHO.to_uppercase()
    ))
    .contains("twice"));
    assert!(
        bad("[[filter]]\nname = \"a\"\naction = \"deny\"\nremote = \"10.0.0.0/40\"")
            .contains("filter `a`")
    );
    assert!(
        bad("[[filter]]\nname = \"a\"\naction = \"deny\"\nbogus = 1").contains("unknown field")
    );
    assert!(bad("[[filter]]\nname = \"a\"\naction = \"block\"").contains("unknown variant"));
    assert!(bad("[[filter]]\nname = \"\"\naction = \"deny\"").contains("non-empty name"));
    assert!(bad("[[filter]]\nname = \"a\"\naction = \"deny\"\n[[filter]]\nname = \"a\"\naction = \"permit\"")
        .contains("two filters"));
    assert!(bad("[[filter]]\nname = \"a\"\naction = \"deny\"\nopnum = []").contains("empty list"));
    assert!(
        bad("[[filter]]\nname = \"a\"\naction = \"deny\"\nuser = 'D\\'").contains("empty user")
    );
    assert!(
        toml::from_str::<Policy>("[[filter]]\nname = \"a\"\naction = \"deny\"\nopnum = 70000")
            .is_err()
    );
}

const CALC: &str = "e316f1a9-1aa2-4272-a77c-3b9abdceaf56";

fn class_reason(p: &Policy, right: ClassRight, c: &CallerInfo<'_>) -> Option<&'static str> {
    p.check_class(&uuid(CALC), right, c).map(|r| {
        assert_eq!(r.status, FaultStatus::ACCESS_DENIED);
        assert_eq!(
            r.rule.as_deref(),
            Some(format!("dcom-class:{CALC}").as_str())
        );
        r.reason.code()
    })
}

#[test]
fn dcom_class_rights_match_users_and_addresses_as_filters_do() {
    let p = policy(&format!(
        r#"
        [[dcom-class]]
        clsid = "{CALC}"
        launch-users = ["alice", "CORP\\bob", "ANONYMOUS LOGON"]
        launch-remote = ["10.0.0.0/8", "::1"]
        access-remote = "192.0.2.0/24"
        "#
    ));
    assert!(p.has_class_rules());
    let alice = auth(AuthLevel::PKT_INTEGRITY, "ALICE");
    let bob_corp = auth(AuthLevel::PKT_INTEGRITY, "corp\\Bob");
    let bob_other = auth(AuthLevel::PKT_INTEGRITY, "other\\bob");
    let anon = anonymous(AuthLevel::PKT_PRIVACY);
    let launch = ClassRight::Launch;
    let access = ClassRight::Access;
    // Launch: both lists must hold.
    let ok = call(OTHER, 4, Some("10.1.2.3"), Some(&alice));
    assert_eq!(class_reason(&p, launch, &ok), None);
    let mapped = call(OTHER, 4, Some("::ffff:10.9.9.9"), Some(&bob_corp));
    assert_eq!(
        class_reason(&p, launch, &mapped),
        None,
        "v4-mapped, domain\\user"
    );
    let v6 = call(OTHER, 4, Some("::1"), Some(&anon));
    assert_eq!(
        class_reason(&p, launch, &v6),
        None,
        "anonymous listed by name"
    );
    for (c, why) in [
        (
            call(OTHER, 4, Some("10.1.2.3"), Some(&bob_other)),
            "other domain",
        ),
        (call(OTHER, 4, Some("10.1.2.3"), None), "unauthenticated"),
        (call(OTHER, 4, Some("192.0.2.1"), Some(&alice)), "address"),
        (
            call(OTHER, 4, None, Some(&alice)),
            "local caller has no address",
        ),
    ] {
        assert_eq!(
            class_reason(&p, launch, &c),
            Some("dcom_launch_denied"),
            "{why}"
        );
    }
    // Access: only the address list.
    let c = call(OTHER, 3, Some("192.0.2.9"), None);
    assert_eq!(class_reason(&p, access, &c), None);
    let c = call(OTHER, 3, Some("10.1.2.3"), Some(&alice));
    assert_eq!(class_reason(&p, access, &c), Some("dcom_access_denied"));
    // Another class: no entry, no restriction.
    let other = uuid(OTHER);
    assert!(p.check_class(&other, launch, &c).is_none());
    // An empty list lets nobody through; a right without lists everybody.
    let p = policy(&format!(
        "[[dcom-class]]\nclsid = \"{CALC}\"\nlaunch-users = []\n"
    ));
    let c = call(OTHER, 4, Some("10.1.2.3"), Some(&alice));
    assert_eq!(class_reason(&p, launch, &c), Some("dcom_launch_denied"));
    assert_eq!(class_reason(&p, access, &c), None);
    assert!(!Policy::default().has_class_rules());
}

#[test]
fn dcom_class_entries_are_validated_with_the_key_named() {
    for (text, want) in [
        (
            "[[dcom-class]]\nclsid = \"nope\"\n",
            "dcom-class: clsid: `nope` is not a UUID",
        ),
        (
            &format!("[[dcom-class]]\nclsid = \"{CALC}\"\nlaunch-remote = \"10.0.0.0/33\"\n"),
            "launch-remote: `10.0.0.0/33`",
        ),
        (
            &format!("[[dcom-class]]\nclsid = \"{CALC}\"\naccess-users = [\"CORP\\\\\"]\n"),
            "access-users: an empty user name",
        ),
        (
            &format!("[[dcom-class]]\nclsid = \"{CALC}\"\n[[dcom-class]]\nclsid = \"{CALC}\"\n"),
            "listed twice",
        ),
        (
            &format!("[[dcom-class]]\nclsid = \"{CALC}\"\nlaunch-user = \"a\"\n"),
            "unknown field `launch-user`",
        ),
    ] {
        let e = toml::from_str::<Policy>(text).unwrap_err().to_string();
        assert!(e.contains(want), "{text}: {e}");
        if want.contains("remote") || want.contains("users") {
            assert!(e.contains(&format!("dcom-class {CALC}")), "{e}");
        }
    }
    // The file reads back.
    let text = format!("[[dcom-class]]\nclsid = \"{CALC}\"\naccess-users = \"alice\"\n");
    let p = policy(&text);
    let back: Policy = toml::from_str(&toml::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}
