//! `msrpcd --check-config`: the defaults are reported against the baseline with the keys to
//! change; a hardened configuration passes; the threshold decides the exit code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const MSRPCD: &str = env!("CARGO_BIN_EXE_msrpcd");

fn check(args: &[&str], config: Option<&str>) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(MSRPCD);
    cmd.arg("--check-config").args(args);
    if let Some(c) = config {
        let p = dir.path().join("msrpcd.toml");
        std::fs::write(&p, c).unwrap();
        cmd.arg("--config").arg(p);
    }
    let out = cmd.env_remove("XDG_RUNTIME_DIR").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn defaults_are_weaker_than_the_baseline() {
    let (code, text) = check(&[], None);
    assert_eq!(code, 3, "{text}");
    for key in [
        "MEDIUM [policy] restrict-remote-clients",
        "MEDIUM [security] allow-anonymous",
        "LOW    [audit] log",
        "INFO   [policy] epm-lookup",
    ] {
        assert!(text.contains(key), "{key} missing:\n{text}");
    }
    assert!(
        text.contains("no connectionless transport configured"),
        "{text}"
    );
    // Nothing at high without the demo; with it, unauthenticated rpcecho is high.
    assert_eq!(check(&["--check-threshold", "high"], None).0, 0);
    let (code, text) = check(&["--demo", "--check-threshold", "high"], None);
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("HIGH   [policy] restrict-remote-clients"),
        "{text}"
    );
    assert!(text.contains("LOW    ports: \"49152-65535\""), "{text}");
    assert!(text.contains("LOW    [dcom] exporter-port"), "{text}");
}

#[test]
fn a_hardened_configuration_passes() {
    let hardened = "ports = \"50100-50101\"\ndemo = true\nlisten = [\"127.0.7.9:135\"]\n\
        [security]\nallow-anonymous = false\n\
        [policy]\nrestrict-remote-clients = \"authenticated\"\nepm-lookup = \"require_authentication\"\n\
        [audit]\nlog = \"/var/log/msrpcd/audit.json\"\n\
        [dcom]\nexporter-port = 50101\n";
    let (code, text) = check(&["--check-threshold", "info"], Some(hardened));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("meets the recommended baseline"), "{text}");
    // One weakening is reported with its key.
    let weaker = hardened.replace("allow-anonymous = false", "allow-anonymous = true");
    let (code, text) = check(&[], Some(&weaker));
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("[security] allow-anonymous"), "{text}");
    assert!(
        check(&["--check-threshold", "urgent"], None).0 == 2,
        "a bad threshold is a usage error"
    );
}
