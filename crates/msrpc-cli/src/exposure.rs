//! What `msrpc audit` grades with: severities, findings with their fixes, the interfaces known
//! to be abused, and the SARIF rendering. No IO here: the probes (`audit.rs`) fill an
//! [`Observed`] per host and [`grade`] turns it into [`Finding`]s.
//!
//! Interface names always come from `msrpc_epm::known` (the table the analyzer and the audit
//! log name calls with); [`ABUSED`] only says why an interface matters, by UUID.

use msrpc_epm::known;
use msrpc_ndr::Uuid;
use msrpc_proto::pdu::SyntaxId;
use serde::Serialize;
use serde_json::json;

/// How bad a finding is.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, nothing to fix by itself.
    Info,
    /// Hardening left undone.
    Low,
    /// An exposure an attacker uses for discovery or as a step.
    Medium,
    /// An interface known to be abused, reachable without a real logon.
    High,
    /// Anyone gets in (a made-up account was accepted).
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a lower-case name.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The SARIF `level` (`error`, `warning`, `note`).
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "note",
        }
    }

    /// GitHub code scanning's `security-severity` score (0.0-10.0).
    pub fn score(self) -> &'static str {
        match self {
            Severity::Critical => "9.5",
            Severity::High => "8.0",
            Severity::Medium => "5.5",
            Severity::Low => "3.0",
            Severity::Info => "0.0",
        }
    }
}

/// How to close a finding, per kind of server.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Fix {
    /// msrpcd's configuration key and value.
    pub msrpcd: Option<String>,
    /// The Windows setting (registry value, Group Policy name, command).
    pub windows: Option<String>,
    /// The Samba `smb.conf` option.
    pub samba: Option<String>,
}

/// One finding about a host.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule (stable, also the SARIF rule id).
    pub rule: &'static str,
    /// How bad.
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// What the probes saw.
    pub evidence: String,
    /// The TCP port concerned, when one is.
    pub port: Option<u16>,
    /// The interface concerned (`UUID vMAJOR.MINOR`), when one is.
    pub interface: Option<String>,
    /// Its well-known name.
    pub interface_name: Option<&'static str>,
    /// How to close it.
    pub fix: Fix,
}

/// The rules `grade` applies, for the SARIF driver: `(id, short description)`.
pub const RULES: &[(&str, &str)] = &[
    ("bad-password-accepted", "A logon with a made-up account and password is accepted"),
    ("abused-interface-unauthenticated", "An interface known to be abused answers calls without authentication"),
    ("abused-interface-anonymous", "An interface known to be abused answers calls after an anonymous NTLM logon"),
    ("abused-interface-exposed", "An interface known to be abused is reachable from the network (authentication required)"),
    ("interface-unauthenticated", "An interface other than the endpoint mapper answers calls without authentication"),
    ("mgmt-unauthenticated", "The management interface lists the served interfaces to unauthenticated callers"),
    ("anonymous-logon-accepted", "Anonymous NTLM logons are accepted"),
    ("epm-anonymous-walk", "The endpoint mapper answers a full anonymous ept_lookup walk"),
    ("dcom-addresses-leaked", "The DCOM resolver answers ServerAlive2 without authentication and lists the host's addresses"),
    ("old-com-version", "The DCOM resolver reports a COM version older than 5.7"),
    ("dynamic-ports-spread", "RPC services listen on ports spread over a wide dynamic range"),
    ("connectionless-enabled", "Connectionless RPC (ncadg_ip_udp) answers on UDP or is registered in the endpoint map"),
];

/// Why an interface matters to an attacker (the technique families of
/// `../shared/DETECTION-TECHNIQUES.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abuse {
    /// Authentication coercion: the server is made to authenticate to a host of the caller's
    /// choice (PetitPotam, PrinterBug, DFSCoerce, ShadowCoerce).
    Coercion,
    /// Remote control: services, scheduled tasks, registry, event logs, shutdown.
    RemoteControl,
    /// Credentials, directory replication and account enumeration.
    Credentials,
    /// DCOM activation (WMI, MMC20, ShellWindows lateral movement).
    Activation,
    /// Legacy interfaces with a history of remote exploits.
    Legacy,
}

impl Abuse {
    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Abuse::Coercion => "authentication coercion",
            Abuse::RemoteControl => "remote service/task/registry control",
            Abuse::Credentials => "credential access and enumeration",
            Abuse::Activation => "DCOM activation (lateral movement)",
            Abuse::Legacy => "legacy interface with remote exploits",
        }
    }
}

/// An abused interface: UUID, family, the techniques, and what to do on Windows and Samba.
pub struct AbusedInterface {
    /// The interface UUID (in `msrpc_epm::known`; a test checks).
    pub uuid: Uuid,
    /// The family.
    pub abuse: Abuse,
    /// The techniques (DETECTION-TECHNIQUES.md rows).
    pub techniques: &'static str,
    /// The Windows fix.
    pub windows: &'static str,
    /// The Samba fix, when Samba serves it.
    pub samba: Option<&'static str>,
}

const fn a(
    uuid: u128,
    abuse: Abuse,
    techniques: &'static str,
    windows: &'static str,
    samba: Option<&'static str>,
) -> AbusedInterface {
    AbusedInterface {
        uuid: Uuid::from_u128(uuid),
        abuse,
        techniques,
        windows,
        samba,
    }
}

const RRC: &str = "Group Policy \"Restrict Unauthenticated RPC clients\" = Authenticated \
(HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Rpc\\RestrictRemoteClients = 1; not on domain controllers)";

/// The Samba fix for an interface served by one of samba-dcerpcd's `rpcd_*` helpers.
const RPCD: &str =
    "start samba-dcerpcd with only the rpcd_* helpers needed (listed on its command line \
instead of --libexec-rpcds)";

/// The interfaces known to be abused.
#[rustfmt::skip]
pub static ABUSED: &[AbusedInterface] = &[
    a(0xc681d488_d850_11d0_8c52_00c04fd90f7e, Abuse::Coercion, "PetitPotam (efsr_coerce)",
      "apply the MS-EFSR updates (KB5005413 guidance) and block the EFSRPC UUIDs with an RPC filter (netsh rpc filter)", None),
    a(0xdf1941c5_fe89_4e79_bf10_463657acf44d, Abuse::Coercion, "PetitPotam (efsr_coerce)",
      "block the EFSRPC UUIDs with an RPC filter (netsh rpc filter); stop the EFS service where unused", None),
    a(0x12345678_1234_abcd_ef00_0123456789ab, Abuse::Coercion, "PrinterBug, PrintNightmare (printerbug_rprn, printnightmare_rprn)",
      "stop and disable the Print Spooler service where no printing is served (always on domain controllers); Group Policy \"Allow Print Spooler to accept client connections\" = Disabled",
      Some("disable spoolss = yes, or leave rpcd_spoolss out of samba-dcerpcd's helpers")),
    a(0x76f03f96_cdfd_44fc_a22c_64950a001209, Abuse::Coercion, "PrintNightmare over MS-PAR (printnightmare_par)",
      "stop and disable the Print Spooler service where no printing is served", None),
    a(0x4fc742e0_4a10_11cf_8273_00aa004ae673, Abuse::Coercion, "DFSCoerce (dfscoerce)",
      "block MS-DFSNM with an RPC filter (netsh rpc filter) on domain controllers",
      Some("netdfs is served by rpcd_classic with srvsvc and wkssvc: leave rpcd_classic out of samba-dcerpcd's helpers where they are not needed, else allow its port only from trusted hosts")),
    a(0xa8e0653c_2744_4389_a61d_7373df8b2292, Abuse::Coercion, "ShadowCoerce (shadowcoerce)",
      "remove the File Server VSS Agent Service role service where unused",
      Some("leave rpcd_fsrvp out of samba-dcerpcd's helpers")),
    a(0x82273fdc_e32a_18c3_3f78_827929dc23ea, Abuse::Coercion, "event log backup coercion, remote log clearing (eventlog_backup_coerce, remote_eventlog_clear)",
      "block MS-EVEN with an RPC filter (netsh rpc filter) from non-management hosts",
      Some(RPCD)),
    a(0x367abb81_9844_35f1_ad32_98f038001003, Abuse::RemoteControl, "service creation (PsExec, scm_service_create_start)",
      "allow the Service Control Manager's RPC only from management hosts (Windows Firewall rule on the dynamic RPC ports with remote address restrictions)",
      Some(RPCD)),
    a(0x1ff70682_0a51_30e8_076d_740be8cee98b, Abuse::RemoteControl, "AT jobs (at_job_add)",
      "block ATSvc with an RPC filter (netsh rpc filter)", None),
    a(0x378e52b0_c0a9_11cf_822d_00aa0051e40f, Abuse::RemoteControl, "AT jobs via SASec (at_job_add)",
      "block SASec with an RPC filter (netsh rpc filter)", None),
    a(0x86d35949_83c9_4044_b424_db363231fd0c, Abuse::RemoteControl, "scheduled task lateral movement (tsch_task_register_run)",
      "restrict \"Remote Scheduled Tasks Management\" firewall rules to management hosts", None),
    a(0x338cd001_2244_31f1_aaaa_900038001003, Abuse::RemoteControl, "remote registry read/write, shutdown (remote_registry_write, remote_shutdown)",
      "stop and disable the RemoteRegistry service where unused",
      Some("leave rpcd_winreg out of samba-dcerpcd's helpers")),
    a(0xf6beaff7_1e19_4fbb_9f8f_b89e2018337c, Abuse::RemoteControl, "remote event log clearing (remote_eventlog_clear_even6)",
      "restrict \"Remote Event Log Management\" firewall rules to management hosts", None),
    a(0x894de0c0_0d55_11d3_a322_00c04fa321a1, Abuse::RemoteControl, "remote shutdown (remote_shutdown)",
      "Group Policy \"Force shutdown from a remote system\": administrators only", None),
    a(0xd95afe70_a6d5_4259_822e_2c84da1ddb0d, Abuse::RemoteControl, "remote shutdown (remote_shutdown)",
      "Group Policy \"Force shutdown from a remote system\": administrators only", None),
    a(0xe3514235_4b06_11d1_ab04_00c04fc2dcd2, Abuse::Credentials, "DCSync, DCShadow (dcsync, dcshadow)",
      "only domain controllers should reach DRSUAPI: restrict the dynamic RPC ports of DCs by source", None),
    a(0x12345678_1234_abcd_ef00_01234567cffb, Abuse::Credentials, "Zerologon (zerologon)",
      "enforce secure RPC for Netlogon (FullSecureChannelProtection = 1, CVE-2020-1472 updates)",
      Some("server schannel = yes (the default)")),
    a(0x3dde7c30_165d_11d1_ab8f_00805f14db40, Abuse::Credentials, "DPAPI backup key retrieval (dpapi_backupkey_bkrp)",
      "restrict the dynamic RPC ports of domain controllers by source", None),
    a(0x12345778_1234_abcd_ef00_0123456789ac, Abuse::Credentials, "account and group enumeration (samr_domain_account_enum)",
      "Group Policy \"Network access: Restrict clients allowed to make remote calls to SAM\" (RestrictRemoteSAM)",
      Some("restrict anonymous = 2 (refuses anonymous SAMR and LSA operations inside the service, which the no-op probe does not see)")),
    a(0x12345778_1234_abcd_ef00_0123456789ab, Abuse::Credentials, "SID/name lookups, RID cycling (lsa_sid_name_lookup)",
      "Group Policy \"Network access: Do not allow anonymous enumeration of SAM accounts and shares\" and \"Allow anonymous SID/Name translation\" = Disabled",
      Some("restrict anonymous = 2 (refuses anonymous SAMR and LSA operations inside the service, which the no-op probe does not see)")),
    a(0x000001a0_0000_0000_c000_000000000046, Abuse::Activation, "WMI/MMC20/ShellWindows lateral movement (wmi_exec_method, dcom_mmc20_application)",
      "keep the DCOM hardening of CVE-2021-26414 (activation at packet integrity); restrict 135 and the dynamic ports to management hosts", None),
    a(0x4d9f4ab8_7d1c_11cf_861e_0020af6e7c57, Abuse::Legacy, "Blaster-era activation overflows (blaster_activation_overflow)",
      "keep the host patched; restrict 135 to trusted networks", None),
    a(0x5a7b91f8_ff00_11d0_a9b2_00c04fb6e6fc, Abuse::Legacy, "Messenger spam and overflow (messenger_netsend_spam)",
      "disable the Messenger service (off by default since Windows XP SP2)", None),
];

/// The abuse entry of `uuid`, if any.
pub fn abused(uuid: &Uuid) -> Option<&'static AbusedInterface> {
    ABUSED.iter().find(|a| a.uuid == *uuid)
}

/// How a probe of one interface under one kind of logon ended.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "result", content = "detail", rename_all = "snake_case")]
pub enum Access {
    /// The no-op call got past the server's access checks (answered "no such operation").
    Reached(String),
    /// The call was refused (access denied, security error, logon refused).
    Denied(String),
    /// The bind (or the logon inside it) was refused.
    BindRefused(String),
    /// No answer could be had (connection failed, timeout).
    Failed(String),
    /// Not probed (no credentials given for this kind of logon).
    NotProbed,
}

impl Access {
    /// Whether the call reached the interface.
    pub fn reached(&self) -> bool {
        matches!(self, Access::Reached(_))
    }
}

/// The kinds of logon each interface is probed with, weakest first.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Logon {
    /// No authentication at all.
    None,
    /// Anonymous NTLM (empty user and password), privacy level.
    Anonymous,
    /// NTLM with a made-up account and random password, privacy level.
    BadPassword,
    /// `--user` with `MSRPC_PASSWORD`, at `--auth-level`.
    User,
}

impl Logon {
    /// In probing order.
    pub const ALL: [Logon; 4] = [
        Logon::None,
        Logon::Anonymous,
        Logon::BadPassword,
        Logon::User,
    ];

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Logon::None => "without authentication",
            Logon::Anonymous => "after an anonymous NTLM logon",
            Logon::BadPassword => "with a made-up account and password",
            Logon::User => "as --user",
        }
    }
}

/// What the probes saw of one interface on one port.
#[derive(Serialize, Debug, Clone)]
pub struct InterfaceAccess {
    /// The interface (`UUID vMAJOR.MINOR`).
    pub interface: String,
    /// Its well-known name.
    pub name: Option<&'static str>,
    /// Where it was found: `epm`, `mgmt`, `dcom` (the resolver and activators on 135, which
    /// the endpoint map does not list).
    pub found_by: Vec<&'static str>,
    /// Why it is abused, when it is.
    pub abuse: Option<&'static str>,
    /// Probe outcome without authentication.
    pub none: Access,
    /// After an anonymous NTLM logon.
    pub anonymous: Access,
    /// With a made-up account and password.
    pub bad_password: Access,
    /// As `--user`.
    pub user: Access,
    /// The weakest logon that reached it (`none`, `anonymous`, `bad_password`, `user`), or
    /// `null` when none did.
    pub lowest: Option<Logon>,
    #[serde(skip)]
    pub(crate) syntax: Option<SyntaxId>,
}

impl InterfaceAccess {
    /// A fresh record, nothing probed yet.
    pub fn new(s: SyntaxId, found_by: &'static str) -> InterfaceAccess {
        InterfaceAccess {
            interface: format!("{} v{}.{}", s.uuid, s.major, s.minor),
            name: known::lookup(&s.uuid).map(|k| k.name),
            found_by: vec![found_by],
            abuse: abused(&s.uuid).map(|a| a.abuse.label()),
            none: Access::NotProbed,
            anonymous: Access::NotProbed,
            bad_password: Access::NotProbed,
            user: Access::NotProbed,
            lowest: None,
            syntax: Some(s),
        }
    }

    /// The outcome for `l`.
    pub fn get(&self, l: Logon) -> &Access {
        match l {
            Logon::None => &self.none,
            Logon::Anonymous => &self.anonymous,
            Logon::BadPassword => &self.bad_password,
            Logon::User => &self.user,
        }
    }

    /// Sets the outcome for `l` and recomputes `lowest`.
    pub fn set(&mut self, l: Logon, a: Access) {
        match l {
            Logon::None => self.none = a,
            Logon::Anonymous => self.anonymous = a,
            Logon::BadPassword => self.bad_password = a,
            Logon::User => self.user = a,
        }
        self.lowest = Logon::ALL.into_iter().find(|l| self.get(*l).reached());
    }

    /// Whether any probe saw the interface served (reached, or refused only after a bind).
    pub fn served(&self) -> bool {
        Logon::ALL
            .into_iter()
            .any(|l| matches!(self.get(l), Access::Reached(_) | Access::Denied(_)))
    }
}

/// One TCP endpoint (port) of a host.
#[derive(Serialize, Debug, Clone)]
pub struct EndpointReport {
    /// The port.
    pub port: u16,
    /// What `mgmt inq_if_ids` answered (interface count, or why not).
    pub mgmt: String,
    /// Every interface probed there.
    pub interfaces: Vec<InterfaceAccess>,
}

/// The endpoint map walk.
#[derive(Serialize, Debug, Clone, Default)]
pub struct EpmReport {
    /// The weakest logon that walked it, `null` when none did.
    pub walked_with: Option<Logon>,
    /// Entries received.
    pub entries: usize,
    /// Whether the walk reached the end.
    pub complete: bool,
    /// Why an unauthenticated walk failed, when it did.
    pub anonymous_error: Option<String>,
    /// Distinct `ncacn_ip_tcp` ports listed.
    pub tcp_ports: Vec<u16>,
    /// Bindings of other protocol sequences (`ncacn_np`, `ncalrpc`, `ncadg_ip_udp`...).
    pub other_bindings: Vec<String>,
    /// `ncadg_ip_udp` (connectionless) bindings listed.
    pub udp_bindings: Vec<String>,
}

/// The DCOM resolver's ServerAlive2 answer.
#[derive(Serialize, Debug, Clone, Default)]
pub struct DcomReport {
    /// Whether it answered without authentication.
    pub answered: bool,
    /// `MAJOR.MINOR`.
    pub com_version: Option<String>,
    /// The `ncacn_ip_tcp` addresses and names it lists.
    pub addresses: Vec<String>,
    /// Why it did not answer.
    pub error: Option<String>,
}

/// The connectionless part: what `msrpc audit`'s UDP probe (`crate::cl_probe`: `ept_lookup`
/// over UDP on the endpoint mapper's port) saw. `probed` is false only with `--no-udp`
/// ([`UDP_NOT_PROBED`]); [`grade`] reports `connectionless-enabled` when it `answered`, or
/// when the endpoint map lists `ncadg_ip_udp` bindings.
#[derive(Serialize, Debug, Clone)]
pub struct ConnectionlessReport {
    /// Whether UDP was probed.
    pub probed: bool,
    /// What the probe saw, or why there was none.
    pub note: String,
    /// Whether connectionless RPC answered on UDP (`null` when not probed).
    pub answered: Option<bool>,
    /// Whether the server called back (`conv_who_are_you2`) before answering, which proves
    /// it verifies source addresses (`null` when nothing answered).
    pub callback: Option<bool>,
    /// Entries `ept_lookup` returned over UDP (`max_ents` 1).
    pub entries: Option<usize>,
    /// Bytes the probe sent.
    pub bytes_sent: u64,
    /// Bytes the probe received.
    pub bytes_received: u64,
    /// Bytes sent before the server called back (all when it never did).
    pub unverified_sent: u64,
    /// Bytes received before the server called back: what it gave an unverified source.
    pub unverified_received: u64,
    /// The calls the probe's request datagrams carried (`UUID vMAJOR.MINOR opnum N`), decoded
    /// from the bytes sent.
    pub sent_calls: Vec<String>,
}

impl ConnectionlessReport {
    /// Not probed (`--no-udp`).
    pub fn not_probed() -> ConnectionlessReport {
        ConnectionlessReport {
            probed: false,
            note: UDP_NOT_PROBED.to_string(),
            answered: None,
            callback: None,
            entries: None,
            bytes_sent: 0,
            bytes_received: 0,
            unverified_sent: 0,
            unverified_received: 0,
            sent_calls: Vec::new(),
        }
    }

    /// The report of a UDP probe of the endpoint mapper on `port`.
    pub fn from_probe(p: &crate::cl_probe::ClProbe, port: u16) -> ConnectionlessReport {
        ConnectionlessReport {
            probed: true,
            note: p.note(port),
            answered: Some(p.answered),
            callback: p.answered.then_some(p.callback),
            entries: p.entries,
            bytes_sent: p.bytes_sent,
            bytes_received: p.bytes_received,
            unverified_sent: p.unverified_sent,
            unverified_received: p.unverified_received,
            sent_calls: p.sent_calls.clone(),
        }
    }
}

/// The note when UDP was not probed (`msrpc audit --no-udp`).
pub const UDP_NOT_PROBED: &str = "not probed (--no-udp)";

/// Everything the probes saw of one host, and its findings.
#[derive(Serialize, Debug, Clone)]
pub struct HostReport {
    /// The host as given.
    pub host: String,
    /// The endpoint mapper's port.
    pub epm_port: u16,
    /// Whether the endpoint mapper's port accepted a TCP connection.
    pub reachable: bool,
    /// Why the audit of this host stopped, when it did.
    pub error: Option<String>,
    /// The endpoint map walk.
    pub epm: EpmReport,
    /// Every TCP endpoint probed (the endpoint mapper's first).
    pub endpoints: Vec<EndpointReport>,
    /// ServerAlive2.
    pub dcom: DcomReport,
    /// UDP.
    pub connectionless: ConnectionlessReport,
    /// The findings, most severe first.
    pub findings: Vec<Finding>,
}

impl HostReport {
    /// An empty report of `host`.
    pub fn new(host: String, epm_port: u16) -> HostReport {
        HostReport {
            host,
            epm_port,
            reachable: false,
            error: None,
            epm: EpmReport::default(),
            endpoints: Vec::new(),
            dcom: DcomReport::default(),
            connectionless: ConnectionlessReport::not_probed(),
            findings: Vec::new(),
        }
    }
}

/// A port range is "wide" above this many ports (a firewall must open them all).
pub const WIDE_SPAN: u32 = 1024;

fn iface_finding(
    rule: &'static str,
    severity: Severity,
    title: String,
    evidence: String,
    port: u16,
    i: &InterfaceAccess,
    fix: Fix,
) -> Finding {
    Finding {
        rule,
        severity,
        title,
        evidence,
        port: Some(port),
        interface: Some(i.interface.clone()),
        interface_name: i.name,
        fix,
    }
}

fn display_name(i: &InterfaceAccess) -> String {
    match i.name {
        Some(n) => format!("{n} ({})", i.interface),
        None => i.interface.clone(),
    }
}

/// The findings `r` supports, most severe first (fills `r.findings`).
pub fn grade(r: &mut HostReport) {
    let mut out: Vec<Finding> = Vec::new();
    let epm_uuid = Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa);
    let mgmt_uuid = Uuid::from_u128(0xafa8bd80_7d8a_11c9_bef4_08002b102989);
    let restrict = "[policy] restrict-remote-clients = \"authenticated\"".to_string();
    let mut anonymous_seen: Vec<String> = Vec::new();
    let mut bad_password_seen: Vec<String> = Vec::new();

    for ep in &r.endpoints {
        for i in &ep.interfaces {
            let Some(s) = i.syntax else { continue };
            let name = display_name(i);
            if i.bad_password.reached() {
                bad_password_seen.push(format!("{name} on port {}", ep.port));
            }
            if i.anonymous.reached() && !i.none.reached() {
                anonymous_seen.push(format!("{name} on port {}", ep.port));
            }
            if let Some(ab) = abused(&s.uuid) {
                let fix = Fix {
                    msrpcd: Some(format!(
                        "{restrict}, or [[policy.interface]] uuid = \"{}\" min-auth-level = \"privacy\"",
                        s.uuid
                    )),
                    windows: Some(format!("{}; {RRC}", ab.windows)),
                    samba: ab.samba.map(str::to_string),
                };
                // Activation checks its own level (msrpcd's [dcom] min-activation-level,
                // Windows since KB5004442), and a legacy interface may be patched: medium.
                let weak = match ab.abuse {
                    Abuse::Activation | Abuse::Legacy => Severity::Medium,
                    _ => Severity::High,
                };
                match i.lowest {
                    Some(Logon::None) => out.push(iface_finding(
                        "abused-interface-unauthenticated",
                        weak,
                        format!("{name} ({}) answers without authentication", ab.abuse.label()),
                        format!(
                            "port {}: a no-op call (opnum {NOOP_OPNUM}) got past the access checks without authentication ({}); abused by {}",
                            ep.port,
                            detail(&i.none),
                            ab.techniques
                        ),
                        ep.port,
                        i,
                        fix,
                    )),
                    Some(Logon::Anonymous) => out.push(iface_finding(
                        "abused-interface-anonymous",
                        weak,
                        format!("{name} ({}) answers anonymous logons", ab.abuse.label()),
                        format!(
                            "port {}: refused without authentication ({}), reached after an anonymous NTLM logon; abused by {}",
                            ep.port,
                            detail(&i.none),
                            ab.techniques
                        ),
                        ep.port,
                        i,
                        Fix {
                            msrpcd: Some(
                                "[security] allow-anonymous = false, or [policy] restrict-remote-clients = \"authenticated\""
                                    .into(),
                            ),
                            ..fix
                        },
                    )),
                    Some(_) | None if i.served() => out.push(iface_finding(
                        "abused-interface-exposed",
                        Severity::Low,
                        format!("{name} ({}) is reachable from the network", ab.abuse.label()),
                        format!(
                            "port {}: served, authentication required; abused by {}. Disable it where it is not needed, or allow it only from management hosts",
                            ep.port, ab.techniques
                        ),
                        ep.port,
                        i,
                        fix,
                    )),
                    _ => {}
                }
                continue;
            }
            if s.uuid == epm_uuid {
                continue;
            }
            if i.lowest == Some(Logon::None) {
                if s.uuid == mgmt_uuid {
                    out.push(iface_finding(
                        "mgmt-unauthenticated",
                        Severity::Low,
                        format!("mgmt answers without authentication on port {}", ep.port),
                        format!(
                            "port {}: inq_if_ids and the no-op call answered without authentication ({}): the served interfaces are listed to anyone",
                            ep.port,
                            detail(&i.none)
                        ),
                        ep.port,
                        i,
                        Fix {
                            msrpcd: Some(restrict.clone()),
                            windows: Some(RRC.into()),
                            samba: None,
                        },
                    ));
                } else {
                    out.push(iface_finding(
                        "interface-unauthenticated",
                        Severity::Medium,
                        format!("{name} answers without authentication"),
                        format!(
                            "port {}: a no-op call (opnum {NOOP_OPNUM}) got past the access checks without authentication ({})",
                            ep.port,
                            detail(&i.none)
                        ),
                        ep.port,
                        i,
                        Fix {
                            msrpcd: Some(format!(
                                "{restrict}, or [[policy.interface]] uuid = \"{}\" min-auth-level = \"integrity\"",
                                s.uuid
                            )),
                            windows: Some(RRC.into()),
                            samba: Some(format!("{RPCD}, leaving out the one serving it")),
                        },
                    ));
                }
            }
        }
    }
    if !bad_password_seen.is_empty() {
        out.push(Finding {
            rule: "bad-password-accepted",
            severity: Severity::Critical,
            title: "a made-up account with a random password gets in".into(),
            evidence: format!(
                "an NTLM logon as {BAD_USER} with a random password reached {}",
                bad_password_seen.join(", ")
            ),
            port: None,
            interface: None,
            interface_name: None,
            fix: Fix {
                msrpcd: Some("never happens with msrpcd's acceptor: report it".into()),
                windows: Some(
                    "disable the Guest account (Accounts: Guest account status = Disabled)".into(),
                ),
                samba: Some("map to guest = never".into()),
            },
        });
    }
    if !anonymous_seen.is_empty() {
        out.push(Finding {
            rule: "anonymous-logon-accepted",
            severity: Severity::Medium,
            title: "anonymous NTLM logons reach interfaces that refuse unauthenticated calls".into(),
            evidence: format!("reached only after an anonymous logon: {}", anonymous_seen.join(", ")),
            port: None,
            interface: None,
            interface_name: None,
            fix: Fix {
                msrpcd: Some("[security] allow-anonymous = false".into()),
                windows: Some(format!(
                    "{RRC} (an anonymous logon counts as unauthenticated); Network access: Restrict anonymous access to Named Pipes and Shares = Enabled"
                )),
                samba: Some("restrict anonymous = 2".into()),
            },
        });
    }
    if r.epm.walked_with == Some(Logon::None) {
        out.push(Finding {
            rule: "epm-anonymous-walk",
            severity: Severity::Medium,
            title: "the endpoint mapper lists every registered endpoint to anyone".into(),
            evidence: format!(
                "an unauthenticated ept_lookup walk returned {} entries{} ({} TCP ports)",
                r.epm.entries,
                if r.epm.complete { "" } else { " (incomplete)" },
                r.epm.tcp_ports.len()
            ),
            port: Some(r.epm_port),
            interface: Some("e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0".into()),
            interface_name: Some("epmapper"),
            fix: Fix {
                msrpcd: Some("[policy] epm-lookup = \"require_authentication\"".into()),
                windows: Some(
                    "RestrictRemoteClients = 2 (\"Authenticated without exceptions\": clients then need EnableAuthEpResolution = 1, HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Rpc); otherwise allow TCP 135 only from trusted networks"
                        .into(),
                ),
                samba: Some(
                    "no option authenticates Samba's endpoint mapper: allow TCP 135 only from trusted networks (msrpc firewall), and bind to internal interfaces (interfaces, bind interfaces only = yes)"
                        .into(),
                ),
            },
        });
    }
    if r.dcom.answered {
        let own = r.host.trim_start_matches('[').trim_end_matches(']');
        // IP addresses other than the one audited: the host is on another network too (names
        // are only names).
        let other: Vec<&String> = r
            .dcom
            .addresses
            .iter()
            .filter(|a| a.parse::<std::net::IpAddr>().is_ok() && !a.eq_ignore_ascii_case(own))
            .collect();
        out.push(Finding {
            rule: "dcom-addresses-leaked",
            severity: if other.is_empty() { Severity::Low } else { Severity::Medium },
            title: "the DCOM resolver tells anyone the host's addresses (ServerAlive2)".into(),
            evidence: format!(
                "ServerAlive2 without authentication listed {} address(es): {}",
                r.dcom.addresses.len(),
                r.dcom.addresses.join(", ")
            ),
            port: Some(r.epm_port),
            interface: Some("99fcfec4-5260-101b-bbcb-00aa0021347a v0.0".into()),
            interface_name: Some("IObjectExporter"),
            fix: Fix {
                msrpcd: Some("[dcom] enabled = false when no COM class is served".into()),
                windows: Some(
                    "no setting restricts ServerAlive2: allow TCP 135 only from trusted networks; where DCOM is unused, HKLM\\SOFTWARE\\Microsoft\\Ole EnableDCOM = \"N\""
                        .into(),
                ),
                samba: None,
            },
        });
        if let Some(v) = &r.dcom.com_version {
            let old = v
                .split_once('.')
                .and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)))
                .is_some_and(|(a, b)| (a, b) < (5, 7));
            if old {
                out.push(Finding {
                    rule: "old-com-version",
                    severity: Severity::Medium,
                    title: format!("the DCOM resolver reports COM version {v}"),
                    evidence: format!("ServerAlive2 answered COM version {v}; current Windows answers 5.7"),
                    port: Some(r.epm_port),
                    interface: Some("99fcfec4-5260-101b-bbcb-00aa0021347a v0.0".into()),
                    interface_name: Some("IObjectExporter"),
                    fix: Fix {
                        msrpcd: None,
                        windows: Some("update the host; keep the DCOM hardening of CVE-2021-26414 (KB5004442) enabled".into()),
                        samba: None,
                    },
                });
            }
        }
    }
    let dynamic: Vec<u16> = r
        .endpoints
        .iter()
        .map(|e| e.port)
        .filter(|p| *p != r.epm_port)
        .collect();
    if let (Some(lo), Some(hi)) = (dynamic.iter().min(), dynamic.iter().max()) {
        let span = u32::from(*hi) - u32::from(*lo) + 1;
        if dynamic.len() > 1 && span > WIDE_SPAN {
            out.push(Finding {
                rule: "dynamic-ports-spread",
                severity: Severity::Low,
                title: format!("RPC services listen on {} ports spread over {lo}-{hi}", dynamic.len()),
                evidence: format!(
                    "ports {}: a firewall must open {span} ports (or the whole dynamic range) to keep RPC working",
                    join_ports(&dynamic)
                ),
                port: None,
                interface: None,
                interface_name: None,
                fix: Fix {
                    msrpcd: Some("ports = \"LOW-HIGH\" (a few ports), [dcom] exporter-port = PORT".into()),
                    windows: Some(
                        "HKLM\\SOFTWARE\\Microsoft\\Rpc\\Internet: Ports (REG_MULTI_SZ, e.g. 5000-5100), PortsInternetAvailable = \"Y\", UseInternetPorts = \"Y\", then restart; or pin services (e.g. NTDS \"TCP/IP Port\", Netlogon DCTcpipPort)"
                            .into(),
                    ),
                    samba: Some("rpc server dynamic port range = LOW-HIGH (rpc server port and rpc server port:SERVICE pin ports on an AD DC)".into()),
                },
            });
        }
    }
    if !r.epm.udp_bindings.is_empty() || r.connectionless.answered == Some(true) {
        let c = &r.connectionless;
        let answered = c.answered == Some(true);
        // An answer larger than the question, sent before the source was verified: a
        // reflector anyone can aim by forging the victim's address.
        let reflects =
            answered && c.callback == Some(false) && c.unverified_received > c.unverified_sent;
        out.push(Finding {
            rule: "connectionless-enabled",
            severity: if reflects { Severity::High } else { Severity::Medium },
            title: if reflects {
                format!(
                    "connectionless RPC answers on UDP {} without verifying the source, with more bytes than it was sent",
                    r.epm_port
                )
            } else if answered {
                format!("connectionless RPC (ncadg_ip_udp) answers on UDP {}", r.epm_port)
            } else {
                "connectionless RPC (ncadg_ip_udp) endpoints are registered".into()
            },
            evidence: format!(
                "UDP {}: {}; the endpoint map lists {} ncadg_ip_udp binding(s){}",
                r.epm_port,
                c.note,
                r.epm.udp_bindings.len(),
                if r.epm.udp_bindings.is_empty() {
                    String::new()
                } else {
                    format!(": {}", r.epm.udp_bindings.join(", "))
                },
            ),
            port: None,
            interface: None,
            interface_name: None,
            fix: Fix {
                msrpcd: Some("remove listen-udp (--listen-udp): connectionless RPC is off by default".into()),
                windows: Some("block UDP 135 and the dynamic UDP ports at the firewall (msrpc firewall --audit writes the rules); connectionless RPC is legacy and spoofable".into()),
                samba: None,
            },
        });
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(b.rule)));
    r.findings = out;
}

/// `49152, 49153, ...` (at most 20 shown).
pub fn join_ports(p: &[u16]) -> String {
    let mut s: Vec<String> = p.iter().take(20).map(u16::to_string).collect();
    if p.len() > 20 {
        s.push(format!("... ({} in all)", p.len()));
    }
    s.join(", ")
}

fn detail(a: &Access) -> String {
    match a {
        Access::Reached(d) | Access::Denied(d) | Access::BindRefused(d) | Access::Failed(d) => {
            d.clone()
        }
        Access::NotProbed => "not probed".into(),
    }
}

/// The opnum of the no-op probe: no interface defines it, so a server answers "no such
/// operation" (`nca_s_op_rng_error`) once the call passed its access checks, and access denied
/// before. It cannot change state.
pub const NOOP_OPNUM: u16 = 0xffff;

/// The account name of the bad-password probe (with a random password).
pub const BAD_USER: &str = "msrpc-audit-nobody";

/// The SARIF 2.1.0 log of `reports`.
pub fn sarif(reports: &[HostReport]) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|(id, text)| {
            json!({
                "id": id,
                "name": id,
                "shortDescription": { "text": text },
                "fullDescription": { "text": text },
                "help": { "text": "See docs/hardening.md in the msrpc sources: each finding's settings for msrpcd, Windows and Samba." },
            })
        })
        .collect();
    let mut results = Vec::new();
    for r in reports {
        for f in &r.findings {
            let port = f.port.unwrap_or(r.epm_port);
            let mut fixes = Vec::new();
            if let Some(x) = &f.fix.msrpcd {
                fixes.push(format!("msrpcd: {x}"));
            }
            if let Some(x) = &f.fix.windows {
                fixes.push(format!("Windows: {x}"));
            }
            if let Some(x) = &f.fix.samba {
                fixes.push(format!("Samba: {x}"));
            }
            let uri = format!(
                "rpc://{}/{}",
                crate::target::display_addr(&r.host, port),
                f.interface
                    .as_deref()
                    .map(|i| i.replace(' ', "/"))
                    .unwrap_or_default()
            );
            results.push(json!({
                "ruleId": f.rule,
                "level": f.severity.sarif_level(),
                "message": { "text": format!("{}: {}. Evidence: {}. Fix: {}", r.host, f.title, f.evidence, fixes.join("; ")) },
                "locations": [{
                    "physicalLocation": { "artifactLocation": { "uri": uri } },
                    "logicalLocations": [{ "name": f.interface_name.unwrap_or("host"), "kind": "module" }],
                }],
                "properties": {
                    "severity": f.severity.name(),
                    "security-severity": f.severity.score(),
                    "host": r.host,
                    "port": port,
                },
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "msrpc audit",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn abused_interfaces_are_named_by_the_well_known_table() {
        for a in ABUSED {
            assert!(known::lookup(&a.uuid).is_some(), "{} not in known", a.uuid);
        }
        let mut seen = std::collections::HashSet::new();
        assert!(ABUSED.iter().all(|a| seen.insert(a.uuid)));
    }

    #[test]
    fn every_rule_graded_is_declared() {
        let ids: Vec<&str> = RULES.iter().map(|(i, _)| *i).collect();
        let spool = SyntaxId::new(
            Uuid::from_u128(0x12345678_1234_abcd_ef00_0123456789ab),
            1,
            0,
        );
        let echo = SyntaxId::new(
            Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
            1,
            0,
        );
        let mut r = HostReport::new("10.0.0.1".into(), 135);
        r.epm.walked_with = Some(Logon::None);
        r.epm
            .udp_bindings
            .push("ncadg_ip_udp:10.0.0.1[49160]".into());
        r.dcom = DcomReport {
            answered: true,
            com_version: Some("5.6".into()),
            addresses: vec!["10.0.0.1".into(), "host1".into(), "192.168.9.1".into()],
            error: None,
        };
        let mut s = InterfaceAccess::new(spool, "epm");
        s.set(Logon::None, Access::Reached("x".into()));
        let mut e = InterfaceAccess::new(echo, "epm");
        e.set(Logon::None, Access::Denied("x".into()));
        e.set(Logon::Anonymous, Access::Reached("x".into()));
        e.set(Logon::BadPassword, Access::Reached("x".into()));
        r.endpoints.push(EndpointReport {
            port: 49152,
            mgmt: String::new(),
            interfaces: vec![s],
        });
        r.endpoints.push(EndpointReport {
            port: 60000,
            mgmt: String::new(),
            interfaces: vec![e],
        });
        grade(&mut r);
        let got: Vec<&str> = r.findings.iter().map(|f| f.rule).collect();
        for g in &got {
            assert!(ids.contains(g), "{g}");
        }
        for want in [
            "bad-password-accepted",
            "abused-interface-unauthenticated",
            "anonymous-logon-accepted",
            "epm-anonymous-walk",
            "dcom-addresses-leaked",
            "old-com-version",
            "dynamic-ports-spread",
            "connectionless-enabled",
        ] {
            assert!(got.contains(&want), "{want} missing from {got:?}");
        }
        assert_eq!(r.findings[0].severity, Severity::Critical);
        let dcom = r
            .findings
            .iter()
            .find(|f| f.rule == "dcom-addresses-leaked")
            .unwrap();
        assert_eq!(
            dcom.severity,
            Severity::Medium,
            "an address of another network"
        );
        let mut only_name = HostReport::new("10.0.0.1".into(), 135);
        only_name.dcom = DcomReport {
            answered: true,
            com_version: Some("5.7".into()),
            addresses: vec!["10.0.0.1".into(), "host1".into()],
            error: None,
        };
        grade(&mut only_name);
        assert_eq!(only_name.findings.len(), 1);
        assert_eq!(
            only_name.findings[0].severity,
            Severity::Low,
            "a name is no other network"
        );
        let s = sarif(&[r]);
        assert_eq!(s["version"], "2.1.0");
        assert_eq!(s["runs"][0]["results"].as_array().unwrap().len(), got.len());
    }

    #[test]
    fn the_udp_probe_grades_connectionless() {
        use crate::cl_probe::ClProbe;
        // A server that verifies sources (it called back before answering).
        let verified = ClProbe {
            answered: true,
            status: Some(0),
            entries: Some(1),
            callback: true,
            bytes_sent: 330,
            bytes_received: 380,
            unverified_sent: 124,
            unverified_received: 100,
            sent_calls: vec!["e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0 opnum 2".into()],
            ..ClProbe::default()
        };
        let mut udp = HostReport::new("10.0.0.1".into(), 135);
        udp.connectionless = ConnectionlessReport::from_probe(&verified, 135);
        assert_eq!(udp.connectionless.answered, Some(true));
        assert_eq!(udp.connectionless.callback, Some(true));
        grade(&mut udp);
        assert_eq!(udp.findings.len(), 1);
        let f = &udp.findings[0];
        assert_eq!(f.rule, "connectionless-enabled");
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.title.contains("answers on UDP 135"), "{}", f.title);
        assert!(f.evidence.contains("verifies sources"), "{}", f.evidence);
        assert!(
            f.evidence.contains("100 bytes for our 124"),
            "{}",
            f.evidence
        );
        // One that answers more than it was sent without calling back: a reflector, high.
        let open = ClProbe {
            callback: false,
            unverified_sent: 124,
            unverified_received: 310,
            ..verified
        };
        let mut udp = HostReport::new("10.0.0.1".into(), 135);
        udp.connectionless = ConnectionlessReport::from_probe(&open, 135);
        grade(&mut udp);
        assert_eq!(udp.findings[0].severity, Severity::High);
        assert!(udp.findings[0].evidence.contains("does not verify sources"));
        // Nothing on UDP and no UDP binding: no finding, and the report says probed.
        let mut off = HostReport::new("10.0.0.1".into(), 135);
        off.connectionless = ConnectionlessReport::from_probe(
            &ClProbe {
                error: Some("nothing listens there".into()),
                ..ClProbe::default()
            },
            135,
        );
        grade(&mut off);
        assert!(off.findings.is_empty());
        assert!(off.connectionless.probed);
        assert_eq!(off.connectionless.answered, Some(false));
        assert_eq!(off.connectionless.callback, None);
        // --no-udp: not probed, said so.
        let skipped = HostReport::new("10.0.0.1".into(), 135);
        assert!(!skipped.connectionless.probed);
        assert_eq!(skipped.connectionless.note, UDP_NOT_PROBED);
    }

    #[test]
    fn lowest_logon_is_the_weakest_that_reached() {
        let s = SyntaxId::new(Uuid::from_u128(1), 1, 0);
        let mut i = InterfaceAccess::new(s, "mgmt");
        assert_eq!(i.lowest, None);
        i.set(Logon::User, Access::Reached("x".into()));
        assert_eq!(i.lowest, Some(Logon::User));
        i.set(Logon::Anonymous, Access::Reached("x".into()));
        assert_eq!(i.lowest, Some(Logon::Anonymous));
        assert_eq!(Severity::parse("HIGH"), Some(Severity::High));
    }
}
