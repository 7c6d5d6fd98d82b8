//! `msrpc dump`: the endpoint mapper's registrations through `ept_lookup`.
//!
//! Paging (C706 appendix O, and what real servers do): start with the null handle, ask for
//! [`MAX_ENTS`] entries at a time and continue with the returned handle until it is null.
//! A batch with status `ept_s_not_registered` ends the walk but keeps the entries it carries
//! (Samba's file server sends its last batch that way; its AD DC ends with an empty one).
//! Any other status ends the walk with an error, keeping what was received. A walk that stops
//! with a live handle (entry limit, error, no progress) frees it with `ept_lookup_handle_free`.

use clap::Args;
use msrpc_epm::status::{EPT_S_NOT_REGISTERED, RPC_S_OK};
use msrpc_epm::tower::Tower;
use msrpc_epm::{
    EptClient, EptEntry, EptLookupHandleFreeRequest, EptLookupRequest, RPC_C_EP_ALL_ELTS,
    RPC_C_VERS_ALL,
};
use msrpc_ndr::{ContextHandle, Unique, Uuid};
use msrpc_proto::pdu::SyntaxId;
use serde::Serialize;

use crate::fail::{status_text, Failure};
use crate::output::{description_or_na, name_or_na, print_json, InterfaceJson};
use crate::target::{display_addr, parse_target};
use crate::Global;

/// Entries asked for per `ept_lookup` (what Impacket asks for too).
pub const MAX_ENTS: u32 = 500;
/// Consecutive empty batches with a live handle after which the walk gives up.
const MAX_EMPTY_BATCHES: u32 = 3;
/// The longest a walk may take, whatever the server sends.
pub const WALK_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// `msrpc dump` arguments.
#[derive(Args, Debug)]
pub struct DumpArgs {
    /// The endpoint mapper: HOST, HOST:PORT (port 135 by default) or a string binding.
    pub target: String,
    /// Stop after this many entries (the lookup handle is then freed).
    #[arg(long, default_value_t = 100_000)]
    pub max_entries: usize,
}

/// How a lookup walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkEnd {
    /// The handle came back null (or the server said `ept_s_not_registered`).
    Complete,
    /// Stopped early: entry limit or no progress.
    Truncated(String),
    /// The server answered an error status or the call failed.
    Failed(String),
}

/// Everything `ept_lookup` returned.
#[derive(Debug)]
pub struct Walk {
    /// The entries, in the order received.
    pub entries: Vec<EptEntry>,
    /// The status of the last batch.
    pub last_status: u32,
    /// Calls made.
    pub batches: u32,
    /// How it ended.
    pub end: WalkEnd,
    /// Exit for a failed walk.
    pub failure: Option<Failure>,
}

/// Walks the endpoint map of `client` (see the module docs).
pub async fn lookup_all(client: &crate::target::Conn, max_entries: usize) -> Walk {
    let deadline = std::time::Instant::now() + WALK_TIME_LIMIT;
    let ept = EptClient::new(client.clone());
    let mut handle = ContextHandle::NULL;
    let mut entries: Vec<EptEntry> = Vec::new();
    let mut batches = 0u32;
    let mut empty_run = 0u32;
    let mut last_status = RPC_S_OK;
    let mut failure = None;
    // At most max_entries / 1 + MAX_EMPTY_BATCHES calls: each call adds an entry or counts
    // towards the empty-batch limit.
    let end = loop {
        if entries.len() >= max_entries {
            break WalkEnd::Truncated(format!("stopped at --max-entries {max_entries}"));
        }
        if std::time::Instant::now() >= deadline {
            break WalkEnd::Truncated(format!("stopped after {} s", WALK_TIME_LIMIT.as_secs()));
        }
        let req = EptLookupRequest {
            inquiry_type: RPC_C_EP_ALL_ELTS,
            object: Unique::null(),
            interface_id: Unique::null(),
            vers_option: RPC_C_VERS_ALL,
            entry_handle: handle,
            max_ents: MAX_ENTS,
        };
        let resp = match ept.ept_lookup(req).await {
            Ok(r) => r,
            Err(e) => {
                let f = Failure::call("ept_lookup", e);
                let msg = f.to_string();
                failure = Some(f);
                break WalkEnd::Failed(msg);
            }
        };
        batches = batches.saturating_add(1);
        last_status = resp.status;
        let got = resp.entries.len();
        let room = max_entries.saturating_sub(entries.len());
        entries.extend(resp.entries.into_iter().take(room));
        handle = resp.entry_handle;
        match resp.status {
            RPC_S_OK => {}
            EPT_S_NOT_REGISTERED => break WalkEnd::Complete,
            s => {
                let msg = format!("ept_lookup answered status {}", status_text(s));
                failure = Some(Failure::refused(&msg));
                break WalkEnd::Failed(msg);
            }
        }
        if handle.is_null() {
            break WalkEnd::Complete;
        }
        if got == 0 {
            empty_run += 1;
            if empty_run >= MAX_EMPTY_BATCHES {
                break WalkEnd::Truncated(format!(
                    "{MAX_EMPTY_BATCHES} empty batches with a live handle: gave up"
                ));
            }
        } else {
            empty_run = 0;
        }
    };
    if !handle.is_null() && !client.is_closed() {
        // Best effort: the walk stopped early; tell the server to drop it.
        let _ = ept
            .ept_lookup_handle_free(EptLookupHandleFreeRequest {
                entry_handle: handle,
            })
            .await;
    }
    Walk {
        entries,
        last_status,
        batches,
        end,
        failure,
    }
}

/// One entry as `dump` shows it.
#[derive(Serialize, Debug, Clone)]
pub struct EntryJson {
    /// The interface of the tower's first floor (absent when the tower does not decode).
    pub interface: Option<InterfaceJson>,
    /// Object UUID.
    pub object: String,
    /// Annotation.
    pub annotation: String,
    /// String binding from the tower (`ncacn_ip_tcp:127.0.0.1[49152]`).
    pub binding: Option<String>,
    /// Protocol sequence.
    pub protocol_sequence: Option<&'static str>,
    /// Why the tower did not decode.
    pub tower_error: Option<String>,
    /// The tower's octets in hex when it did not decode or has no binding string.
    pub tower_hex: Option<String>,
}

/// A decoded entry.
struct Decoded {
    interface: Option<SyntaxId>,
    json: EntryJson,
}

fn decode_entry(e: &EptEntry) -> Decoded {
    let octets = e.tower.get().map(|t| t.tower_octet_string.as_slice());
    let (tower, tower_error) = match octets {
        None => (None, Some("no tower".to_string())),
        Some(o) => match Tower::decode(o) {
            Ok(t) => (Some(t), None),
            Err(err) => (None, Some(err.to_string())),
        },
    };
    let interface = tower.as_ref().and_then(Tower::interface);
    let binding = tower.as_ref().and_then(Tower::binding_string);
    let tower_hex = match (&binding, octets) {
        (None, Some(o)) => Some(hex::encode(o)),
        _ => None,
    };
    Decoded {
        interface,
        json: EntryJson {
            interface: interface.as_ref().map(InterfaceJson::new),
            object: e.object.to_string(),
            annotation: e.annotation.clone(),
            binding,
            protocol_sequence: tower.as_ref().and_then(Tower::protocol_sequence),
            tower_error,
            tower_hex,
        },
    }
}

/// The JSON document of `dump`.
#[derive(Serialize, Debug)]
struct DumpJson {
    target: String,
    complete: bool,
    note: Option<String>,
    last_status: String,
    batches: u32,
    count: usize,
    interfaces: usize,
    entries: Vec<EntryJson>,
}

/// Groups entries by interface, in order of first appearance.
fn group(decoded: &[Decoded]) -> Vec<(Option<SyntaxId>, Vec<&Decoded>)> {
    let mut groups: Vec<(Option<SyntaxId>, Vec<&Decoded>)> = Vec::new();
    for d in decoded {
        match groups.iter_mut().find(|(k, _)| *k == d.interface) {
            Some((_, v)) => v.push(d),
            None => groups.push((d.interface, vec![d])),
        }
    }
    groups
}

fn print_text(target: &str, decoded: &[Decoded], batches: u32) {
    let groups = group(decoded);
    for (iface, members) in &groups {
        match iface {
            Some(s) => {
                outln!("Protocol  : {}", description_or_na(s));
                outln!("Name      : {}", name_or_na(s));
                outln!("UUID      : {} v{}.{}", s.uuid, s.major, s.minor);
            }
            None => {
                outln!("Protocol  : N/A");
                outln!("Name      : N/A");
                outln!("UUID      : (tower has no interface floor)");
            }
        }
        let mut annotations: Vec<&str> = Vec::new();
        for m in members {
            let a = m.json.annotation.as_str();
            if !a.is_empty() && !annotations.contains(&a) {
                annotations.push(a);
            }
        }
        if !annotations.is_empty() {
            outln!("Annotation: {}", annotations.join(" | "));
        }
        outln!("Bindings  :");
        for m in members {
            let mut line = match (&m.json.binding, &m.json.tower_error, &m.json.tower_hex) {
                (Some(b), _, _) => b.clone(),
                (None, Some(err), _) => format!("<undecodable tower: {err}>"),
                (None, None, Some(h)) => format!("<tower {h}>"),
                (None, None, None) => "<no tower>".to_string(),
            };
            if m.json.object != Uuid::nil().to_string() {
                line.push_str(&format!("  (object {})", m.json.object));
            }
            outln!("            {line}");
        }
        outln!();
    }
    outln!(
        "{} endpoints, {} interfaces, from {target} in {} ept_lookup calls.",
        decoded.len(),
        groups.len(),
        batches
    );
}

/// Runs `msrpc dump`.
pub async fn run(g: &Global, a: DumpArgs) -> Result<(), Failure> {
    let b = parse_target(&a.target)?;
    if a.max_entries == 0 {
        return Err(Failure::usage("--max-entries must be at least 1"));
    }
    let port = b.port.unwrap_or(g.epm_port);
    let target = display_addr(&b.host, port);
    let client = crate::target::connect_or_epm(g, &b).await?;
    let walk = lookup_all(&client, a.max_entries).await;
    client.close();
    let decoded: Vec<Decoded> = walk.entries.iter().map(decode_entry).collect();
    let note = match &walk.end {
        WalkEnd::Complete => None,
        WalkEnd::Truncated(m) | WalkEnd::Failed(m) => Some(m.clone()),
    };
    let failure = match walk.failure {
        Some(f) => Some(f),
        None if decoded.is_empty() => Some(Failure::not_found(format!(
            "no endpoints registered at {target} (status {})",
            status_text(walk.last_status)
        ))),
        None => None,
    };
    if let Some(n) = &note {
        errln!("msrpc: warning: {n} ({} entries kept)", decoded.len());
    }
    if decoded.is_empty() {
        return failure.map_or(Ok(()), Err);
    }
    if g.json {
        let doc = DumpJson {
            target: target.clone(),
            complete: walk.end == WalkEnd::Complete,
            note,
            last_status: status_text(walk.last_status),
            batches: walk.batches,
            count: decoded.len(),
            interfaces: group(&decoded).len(),
            entries: decoded.iter().map(|d| d.json.clone()).collect(),
        };
        print_json(&doc)?;
        // The document says it is incomplete and why; the exit code says the rest.
        return failure.map_or(Ok(()), |f| Err(f.json_printed()));
    }
    print_text(&target, &decoded, walk.batches);
    failure.map_or(Ok(()), Err)
}
