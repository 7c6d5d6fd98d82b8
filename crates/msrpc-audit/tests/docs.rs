//! `docs/detection.md` documents every rule of the technique library: its rules table is the
//! one [`Library::to_markdown`] renders from `rules/techniques.toml` (run with
//! `MSRPC_BLESS=1` to rewrite it after changing the rules), and every row of the detection facts
//! table (`../shared/DETECTION-TECHNIQUES.md`) is either a rule's technique or listed, with its
//! reason, under "Rows not covered by a library rule".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_audit::technique::Library;

const BEGIN: &str = "<!-- rules:begin (generated from rules/techniques.toml; MSRPC_BLESS=1 cargo test -p msrpc-audit --test docs) -->\n";
const END: &str = "<!-- rules:end -->";

/// The rows of the facts table (technique names), in its order.
const ROWS: &[&str] = &[
    "epm_full_walk",
    "epm_map_sensitive_interface",
    "rpc_mgmt_ifid_probe",
    "oxid_serveralive2_iface_discovery",
    "session_enum",
    "loggedon_user_enum",
    "share_enum",
    "samr_domain_account_enum",
    "samr_group_membership_enum",
    "lsa_sid_name_lookup",
    "lsa_policy_trust_enum",
    "remote_registry_query",
    "eventlog_remote_read",
    "zerologon",
    "netsync_trust_password_get",
    "dcsync",
    "dcshadow",
    "sid_history_add",
    "dpapi_backupkey_lsa_export",
    "dpapi_backupkey_bkrp",
    "lsa_secret_remote_rw",
    "remote_sam_hive_dump",
    "samr_password_set",
    "samr_account_or_group_change",
    "lsa_rights_grant",
    "adcs_icpr_cert_request",
    "petitpotam_efsr_lsa_pipes",
    "petitpotam_efsr_efsrpc_pipe",
    "printerbug_rprn",
    "dfscoerce",
    "shadowcoerce",
    "eventlog_backup_coerce",
    "coercion_callback",
    "printnightmare_rprn",
    "printnightmare_par",
    "print_monitor_or_processor_add",
    "scm_service_create_start",
    "scm_ephemeral_service",
    "scm_service_reconfigure",
    "at_job_add",
    "tsch_task_register_run",
    "wmi_exec_method",
    "dcom_mmc20_application",
    "dcom_shellwindows",
    "dcom_shellbrowserwindow",
    "dcom_office_excel_outlook",
    "remote_registry_write",
    "remote_eventlog_clear",
    "remote_eventlog_clear_even6",
    "remote_shutdown",
    "messenger_netsend_spam",
    "blaster_activation_overflow",
];

fn doc_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/detection.md")
}

#[test]
fn the_rules_table_is_the_rules_file() {
    let path = doc_path();
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc.find(BEGIN).expect("the rules:begin marker") + BEGIN.len();
    let end = doc.find(END).expect("the rules:end marker");
    let table = Library::builtin().to_markdown();
    if doc.get(start..end) != Some(table.as_str()) {
        if std::env::var_os("MSRPC_BLESS").is_some() {
            let fresh = format!("{}{}{}", &doc[..start], table, &doc[end..]);
            std::fs::write(&path, fresh).unwrap();
        } else {
            panic!(
                "docs/detection.md's rules table is not the rules file's: run \
                 `MSRPC_BLESS=1 cargo test -p msrpc-audit --test docs` and review the diff"
            );
        }
    }
    for r in Library::builtin().rules() {
        assert!(
            doc.contains(&format!("| `{}` |", r.id)),
            "{} undocumented",
            r.id
        );
    }
}

#[test]
fn every_technique_row_is_a_rule_or_says_why_not() {
    let doc = std::fs::read_to_string(doc_path()).unwrap();
    let uncovered = doc
        .split("## Rows not covered by a library rule")
        .nth(1)
        .expect("the uncovered rows section")
        .split("\n## ")
        .next()
        .unwrap();
    let lib = Library::builtin();
    let mut rules_rows = 0;
    for row in ROWS {
        let covered = lib.rules().iter().any(|r| r.technique == *row);
        let listed = uncovered.contains(&format!("`{row}`"));
        assert!(
            covered || listed,
            "row {row}: no rule and not listed as uncovered"
        );
        assert!(
            !(covered && listed),
            "row {row}: has rules but is listed as uncovered"
        );
        rules_rows += usize::from(covered);
    }
    // Every rule's technique is a row.
    for r in lib.rules() {
        assert!(
            ROWS.contains(&r.technique.as_str()),
            "{}: {}",
            r.id,
            r.technique
        );
    }
    assert_eq!(rules_rows, ROWS.len() - 1, "rows with rules");
    let claim = format!(
        "The built-in library: {} rules over {rules_rows} of the facts table's {} rows.",
        lib.rules().len(),
        ROWS.len()
    );
    assert!(doc.contains(&claim), "the docs should say: {claim}");
}
