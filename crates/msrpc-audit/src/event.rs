//! The event record: who (the connection's four-tuple and `uid`), when (`ts`), and what
//! ([`EventKind`]).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The `transport` of a connectionless call event (`EventKind::Call`): UDP, the only
/// connectionless protocol sequence msrpc speaks.
pub const CL_TRANSPORT: &str = "ncadg_ip_udp";

/// The `fault` of a connectionless call that got no answer (a lost or spoofed request, a
/// conversation callback the client never answered).
pub const CL_NO_RESPONSE: &str = "no_response";

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
        /// The SMB named pipe the call came through (Zeek's named_pipe), e.g. \pipe\spoolss.
        #[serde(default)]
        named_pipe: Option<String>,
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
        /// Fault status name or hex (`nca_s_op_rng_error`, `0x00000005`) when the call faulted
        /// or was rejected; `no_response` ([`CL_NO_RESPONSE`]) for a connectionless call that
        /// got no answer.
        fault: Option<String>,
        /// Arguments decoded from the request stub, when it was in the clear and the operation
        /// is one [`crate::args`] reads (a UNC path, a service binary path, a Netlogon
        /// credential...), in the order of the operation's parameters. Empty otherwise, and
        /// then left out of the JSON record.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        args: Vec<CallArg>,
        /// Auth level the call was protected at.
        auth_level: Option<String>,
        /// Authenticated user, if any.
        user: Option<String>,
        /// The SMB named pipe the call came through (Zeek's named_pipe), e.g. \pipe\spoolss.
        #[serde(default)]
        named_pipe: Option<String>,
        /// The protocol sequence when it is not the connection-oriented one the record's
        /// connection implies: `ncadg_ip_udp` for a connectionless call (its `uid` names the
        /// activity, the four-tuple the caller and the callee). Left out of the JSON record
        /// when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transport: Option<String>,
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
        /// The most entries the client asked for in this call (`max_ents`).
        #[serde(default)]
        max_ents: u32,
        /// True when the answer ended the walk (the null entry handle came back: the last
        /// short page, or `ept_s_not_registered` past the end). An `all` inquiry that ends is
        /// a walk of the whole endpoint map.
        #[serde(default)]
        end: bool,
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
    /// An ORPC call on a hosted object, as the DCOM host answered it (live only: the IPID's
    /// object and class are the host's knowledge, not the wire's).
    DcomCall {
        /// `call_id`.
        call_id: u32,
        /// The IPID the call named (the request's object UUID).
        ipid: String,
        /// The object's OID (`0x...`), when the IPID named one.
        oid: Option<String>,
        /// The object's class (its registered name), when the IPID named one.
        class_name: Option<String>,
        /// The interface called (IID).
        interface: String,
        /// Operation number.
        opnum: u16,
        /// The HRESULT answered.
        hresult: u32,
    },
    /// An OXID resolver ping (`IObjectExporter` SimplePing, ComplexPing), as the host answered
    /// it.
    DcomPing {
        /// `call_id`.
        call_id: u32,
        /// `SimplePing` or `ComplexPing`.
        operation: String,
        /// The ping set (`0x...`; ComplexPing creating one: the new set's id when it succeeded).
        set_id: String,
        /// OIDs added to the set (`0x...`; at most the first 64).
        added: Vec<String>,
        /// OIDs removed from the set (`0x...`; at most the first 64).
        removed: Vec<String>,
        /// The resolver's status (0: OK; `OR_INVALID_SET` 0x778, ...).
        status: u32,
    },
    /// Objects the DCOM host collected: their ping set expired (`ping_timeout`, by the garbage
    /// collector: the record's connection is the host's own, without addresses), a RemRelease
    /// released their last reference (`released`), or a ComplexPing removed them from their
    /// last set (`removed_from_set`).
    DcomGc {
        /// `ping_timeout`, `released` or `removed_from_set`.
        reason: String,
        /// Objects collected.
        collected: u32,
        /// Their OIDs (`0x...`; at most the first 64).
        oids: Vec<String>,
        /// Objects left.
        objects: u64,
        /// IPIDs left.
        ipids: u64,
        /// Ping sets left.
        sets: u64,
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
        /// Detector name: a built-in detector (`interface_brute_force`, `password_guessing`,
        /// ...) or the id of the technique-library rule that fired (`zerologon_storm`,
        /// `scm_service_create_start`, ...; see `docs/detection.md`).
        detector: String,
        /// `low`, `medium` or `high`.
        severity: String,
        /// One-line description.
        summary: String,
        /// The source address the alert is about, when it is about one.
        source: Option<IpAddr>,
        /// The evidence: counts, the calls (with their decoded arguments), interfaces or users
        /// involved, first and last times, the connections' uids.
        evidence: serde_json::Value,
        /// The technique (a row of the detection library: `zerologon`, `dcsync`, ...; for a
        /// built-in detector, the detector's own name).
        #[serde(default)]
        technique: String,
        /// The MITRE ATT&CK technique id (`T1210`, `T1569.002`), when one fits.
        #[serde(default)]
        attack: Option<String>,
        /// How sure the rule is that this is the technique and not look-alike traffic: `low`,
        /// `medium` or `high`.
        #[serde(default)]
        confidence: String,
        /// What would make the alert benign (the administrative or product uses that look the
        /// same), so the reader knows what to check.
        #[serde(default)]
        benign: String,
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

/// One decoded argument of a call ([`EventKind::Call`]'s `args`): the parameter's name as the
/// protocol's IDL spells it (`FileName`, `pszLocalMachine`, `lpBinaryPathName`) and its value
/// as text (strings as sent, clipped to 256 characters; numbers in decimal, flags in `0x` hex;
/// GUIDs in their usual form; binary values in lower-case hex; see [`crate::args`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallArg {
    /// The parameter's name.
    pub name: String,
    /// Its value as text.
    pub value: String,
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
