//! The event record: who (the connection's four-tuple and `uid`), when (`ts`), and what
//! ([`EventKind`]).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The connection an event belongs to, as Zeek names its fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConnId {
    /// Zeek-style unique connection id (`C` followed by letters/digits); stable for the
    /// connection's life, unique within one daemon run or one capture.
    pub uid: String,
    /// Client address (`None` for a local channel such as a Unix socket).
    #[serde(rename = "id.orig_h")]
    pub orig_h: Option<IpAddr>,
    /// Client port.
    #[serde(rename = "id.orig_p")]
    pub orig_p: Option<u16>,
    /// Server address.
    #[serde(rename = "id.resp_h")]
    pub resp_h: Option<IpAddr>,
    /// Server port.
    #[serde(rename = "id.resp_p")]
    pub resp_p: Option<u16>,
}

/// One audit event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Seconds since the Unix epoch (wall clock for the daemon, packet time for captures).
    pub ts: f64,
    /// The connection.
    #[serde(flatten)]
    pub conn: ConnId,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Outcome of an authentication leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthOutcome {
    /// The security context was established.
    Success,
    /// The credentials or tokens were refused.
    Failure,
}

/// One presentation context offered in a bind or alter_context, with its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindContext {
    /// Presentation context id.
    pub context_id: u16,
    /// Interface UUID.
    pub interface: String,
    /// Interface version `major.minor`.
    pub version: String,
    /// The interface's well-known name, when known (`epmapper`, `rpcecho`, ...).
    pub endpoint: Option<String>,
    /// Transfer syntaxes offered (UUID `vN`), NDR20 shown as `ndr20`, NDR64 as `ndr64`,
    /// bind-time feature negotiation as `bind_time_features`.
    pub transfer_syntaxes: Vec<String>,
    /// `accepted`, `user_rejection`, `provider_rejection`, `negotiate_ack`, or `None` when the
    /// answer was not seen (captures cut short).
    pub result: Option<String>,
    /// The provider reason for a rejection (`abstract_syntax_not_supported`, ...).
    pub reason: Option<String>,
}

/// What happened. Serialized with an `event` tag (`"event": "call"`) and the variant's fields
/// inline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A transport connection was accepted (or, in a capture, seen to start).
    ConnOpen,
    /// A connection closed.
    ConnClose {
        /// Why (`peer_closed`, `idle_timeout`, a protocol error's reason code, ...).
        reason: String,
        /// Seconds the connection lived.
        duration: f64,
        /// PDUs received from the client.
        pdus_in: u64,
        /// PDUs sent to the client.
        pdus_out: u64,
        /// Whether a bind was ever accepted on it.
        bound: bool,
    },
    /// A bind or alter_context and its answer (bind_ack, alter_context_resp or bind_nak).
    Bind {
        /// `bind` or `alter_context`.
        kind: String,
        /// Association group id (the server's answer, or the client's request when unanswered).
        assoc_group: u32,
        /// Contexts offered and their results.
        contexts: Vec<BindContext>,
        /// `bind_nak` reason when the whole bind was refused (`None` when it was acked).
        nak_reason: Option<String>,
        /// Auth type of the verifier (`winnt`, `gss_negotiate`, or a number), if any.
        auth_type: Option<String>,
        /// Auth level of the verifier (`connect` ... `privacy`), if any.
        auth_level: Option<String>,
    },
    /// A call completed (response or fault), or was refused before dispatch.
    Call {
        /// `call_id`.
        call_id: u32,
        /// Interface UUID of the call's presentation context (`None` when the context was unknown).
        interface: Option<String>,
        /// Interface name when known (Zeek's `endpoint`).
        endpoint: Option<String>,
        /// Operation number.
        opnum: u16,
        /// Operation name when known (Zeek's `operation`).
        operation: Option<String>,
        /// Request stub bytes (after reassembly and unsealing).
        stub_in: u64,
        /// Response stub bytes (0 on a fault).
        stub_out: u64,
        /// Request fragments.
        fragments: u32,
        /// Seconds from the request's last fragment to the response's first (Zeek's `rtt`).
        rtt: Option<f64>,
        /// Fault status name or hex (`nca_s_op_rng_error`, `0x00000005`) when the call faulted.
        fault: Option<String>,
        /// Auth level the call was protected at.
        auth_level: Option<String>,
        /// Authenticated user, if any.
        user: Option<String>,
    },
    /// An `ept_lookup` answered (what was asked, how many entries returned).
    EpmLookup {
        /// `call_id`.
        call_id: u32,
        /// Inquiry type (`all`, `interface`, `object`, `both`, `interface_exact`, ...).
        inquiry: String,
        /// The interface asked about, when the inquiry names one.
        interface: Option<String>,
        /// Entries returned in this call.
        entries: u32,
        /// `ept_*` status returned.
        status: u32,
        /// True when the call resumed a walk (a non-null entry handle in): the detectors count
        /// walks, not pages, so a client paging one element at a time is one lookup.
        #[serde(default)]
        resumed: bool,
    },
    /// An `ept_map` answered.
    EpmMap {
        /// `call_id`.
        call_id: u32,
        /// The interface asked for (from the map tower), when it decoded.
        interface: Option<String>,
        /// Its well-known name.
        endpoint: Option<String>,
        /// Protocol asked for (`ncacn_ip_tcp`, ...).
        protocol: Option<String>,
        /// Towers returned.
        entries: u32,
        /// `ept_*` status returned.
        status: u32,
    },
    /// A DCOM activation (`ISystemActivator` RemoteGetClassObject / RemoteCreateInstance,
    /// `IRemoteActivation` RemoteActivation): the class and interfaces asked for and, when the
    /// answer was seen, its result and the object exporter's OXID and bindings
    /// ([`crate::dcom`]).
    DcomActivation {
        /// `call_id`.
        call_id: u32,
        /// `RemoteCreateInstance`, `RemoteGetClassObject` or `RemoteActivation`.
        operation: String,
        /// The CLSID activated.
        clsid: String,
        /// The class's name, when [`crate::dcom::CLASSES`] knows it.
        class_name: Option<String>,
        /// The IIDs requested.
        iids: Vec<String>,
        /// The answer's HRESULT (RemoteActivation: its status, else its `phr`), when seen.
        hresult: Option<u32>,
        /// The object exporter's OXID (`0x...`), when the answer carried one.
        oxid: Option<String>,
        /// The object exporter's string bindings (`ncacn_ip_tcp:HOST[PORT]`).
        bindings: Vec<String>,
        /// Auth level of the call.
        auth_level: Option<String>,
        /// Authenticated user.
        user: Option<String>,
    },
    /// An OXID resolver call (`IObjectExporter` ResolveOxid, ResolveOxid2, ServerAlive2).
    DcomResolver {
        /// `call_id`.
        call_id: u32,
        /// `ResolveOxid`, `ResolveOxid2` or `ServerAlive2`.
        operation: String,
        /// The OXID resolved (`0x...`).
        oxid: Option<String>,
        /// The COM version answered (`5.7`).
        com_version: Option<String>,
        /// String bindings answered: the exporter's, or (ServerAlive2) the host's addresses.
        bindings: Vec<String>,
        /// The `error_status_t` answered, when seen.
        status: Option<u32>,
    },
    /// An `IRemUnknown`/`IRemUnknown2` call (RemQueryInterface(2), RemAddRef, RemRelease).
    DcomRemUnknown {
        /// `call_id`.
        call_id: u32,
        /// The operation.
        operation: String,
        /// The IPIDs the call names.
        ipids: Vec<String>,
        /// The IIDs asked for (QueryInterface).
        iids: Vec<String>,
        /// The HRESULT answered, when seen.
        hresult: Option<u32>,
    },
    /// An authentication leg completed or failed.
    Auth {
        /// Mechanism (`winnt`, `gss_negotiate`, or a number).
        auth_type: String,
        /// Level asked for.
        auth_level: String,
        /// User (as `DOMAIN\user` when the domain is known), when the token named one.
        user: Option<String>,
        /// Success or failure.
        outcome: AuthOutcome,
        /// Failure reason.
        reason: Option<String>,
    },
    /// The security policy refused a call, or an audit rule matched it.
    Policy {
        /// `call_id`.
        call_id: u32,
        /// Interface UUID.
        interface: String,
        /// Opnum.
        opnum: u16,
        /// `deny` or `audit`.
        action: String,
        /// Stable reason code (`policy_min_level`, `policy_filter_deny`, ...).
        reason: String,
        /// The rule that matched, when a named rule did.
        rule: Option<String>,
        /// The caller's user, when the call was authenticated (`ANONYMOUS LOGON` for an
        /// anonymous logon), as in the `call` event.
        #[serde(default)]
        user: Option<String>,
    },
    /// The peer sent malformed or out-of-protocol input.
    Malformed {
        /// Stable reason code (`frag_length_below_header`, `reassembly_over_cap`, ...).
        reason: String,
        /// Human-readable detail.
        detail: String,
    },
    /// The connection itself answered a request with a fault (no dispatch).
    Refused {
        /// `call_id`.
        call_id: u32,
        /// Fault status sent.
        status: String,
        /// Stable reason code.
        reason: String,
    },
    /// A request whose stub has the shape of a known exploit (see [`crate::inspect`]).
    ExploitShape {
        /// `call_id`.
        call_id: u32,
        /// Interface UUID.
        interface: String,
        /// Opnum.
        opnum: u16,
        /// Stable shape code (`dcom_oversized_server_name`, `dcom_oversized_name`, ...).
        shape: String,
        /// Human-readable detail.
        detail: String,
    },
    /// A detector raised an alert.
    Alert {
        /// Detector name (`epm_enumeration`, `interface_brute_force`, ...).
        detector: String,
        /// `low`, `medium` or `high`.
        severity: String,
        /// One-line description.
        summary: String,
        /// The source address the alert is about, when it is about one.
        source: Option<IpAddr>,
        /// The evidence: counts, the interfaces or users involved, first and last times.
        evidence: serde_json::Value,
    },
    /// The live sensor's counters (`msrpc analyze --interface`), written periodically and
    /// once when it stops; totals since it started. It belongs to no connection: its `uid` is
    /// `sensor` and the four-tuple is empty.
    SensorStats {
        /// The interface captured.
        interface: String,
        /// Packets read from libpcap.
        packets_captured: u64,
        /// Packets the analyzer processed (captured less those dropped from the queue, less
        /// those still queued).
        packets_analyzed: u64,
        /// Bytes captured (each packet cut at the snap length).
        bytes_captured: u64,
        /// libpcap's `ps_recv`: packets that passed the filter.
        pcap_received: u64,
        /// libpcap's `ps_drop`: packets the kernel dropped, its capture buffer full.
        pcap_dropped: u64,
        /// libpcap's `ps_ifdrop`: packets the interface dropped.
        pcap_if_dropped: u64,
        /// Packets the sensor dropped, its queue to the analyzer full.
        queue_dropped: u64,
        /// Connections tracked now.
        flows: u64,
        /// Bytes the tracked connections hold (reassembly buffers).
        held_bytes: u64,
        /// Whether this is the last one (the sensor is stopping).
        end: bool,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn zeek_field_names_and_tag() {
        let ev = Event {
            ts: 1.5,
            conn: ConnId {
                uid: "C1".into(),
                orig_h: Some("127.0.0.1".parse().unwrap()),
                orig_p: Some(50000),
                resp_h: None,
                resp_p: Some(135),
            },
            kind: EventKind::ConnOpen,
        };
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["id.orig_h"], "127.0.0.1");
        assert_eq!(v["id.resp_p"], 135);
        assert_eq!(v["event"], "conn_open");
        assert_eq!(v["uid"], "C1");
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, ev);
    }
}
