//! `msrpc bench-register`: fills a local msrpcd's endpoint map for benchmarks.
//!
//! It connects to msrpcd's registration socket (a local caller, so `ept_insert` is allowed),
//! inserts `--count` synthetic elements (interface `SYNTHETIC_BASE + i`, version 1.0, TCP port
//! `49152 + i % 16384` on 127.0.0.1) and, with `--copy-from`, every element another endpoint
//! mapper lists (so a lookup returns as many elements as that one does), then holds the
//! connection for `--hold` seconds: the elements belong to that connection's association
//! group and msrpcd removes them when it closes. Bounded: at most [`MAX_COUNT`] elements, in
//! calls of at most [`BATCH`] elements, and a hold of at most one day.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use msrpc_epm::tower::Tower;
use msrpc_epm::{EptClient, EptEntry, EptInsertRequest};
use msrpc_ndr::{Unique, Uuid};
use msrpc_proto::pdu::SyntaxId;
use msrpc_rt::Client;

use crate::fail::{status_text, Failure};
use crate::target::{client_options, connect_or_epm, parse_target};
use crate::Global;

/// The first synthetic interface UUID; element `i` has `SYNTHETIC_BASE + i`.
pub const SYNTHETIC_BASE: u128 = 0x6d737270_6300_4000_8000_000000000000;
/// The most elements one run inserts.
pub const MAX_COUNT: usize = 1_000_000;
/// Elements per `ept_insert` call (well within the server's 4 MiB stub limit).
pub const BATCH: usize = 5_000;

/// `msrpc bench-register` arguments.
#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// msrpcd's registration socket.
    pub socket: PathBuf,
    /// Synthetic elements to insert (interface SYNTHETIC_BASE + i, see `--help`).
    #[arg(long, default_value_t = 0)]
    pub count: usize,
    /// Also insert every element this endpoint mapper lists (HOST, HOST:PORT or a binding).
    #[arg(long, value_name = "TARGET")]
    pub copy_from: Option<String>,
    /// Seconds to hold the registration (the elements go when this command ends).
    #[arg(long, default_value_t = 600.0)]
    pub hold: f64,
}

/// The interface of synthetic element `i` (what `msrpc bench --map-interface` names).
pub fn synthetic_interface(i: usize) -> SyntaxId {
    SyntaxId::new(Uuid::from_u128(SYNTHETIC_BASE + i as u128), 1, 0)
}

fn synthetic(i: usize) -> Result<EptEntry, Failure> {
    let port = 49_152 + (i % 16_384) as u16;
    let twr = Tower::ncacn_ip_tcp(
        synthetic_interface(i),
        SyntaxId::NDR20,
        Ipv4Addr::LOCALHOST,
        port,
    )
    .to_twr()
    .map_err(|e| Failure::usage(format!("tower: {e}")))?;
    Ok(EptEntry {
        object: Uuid::nil(),
        tower: Unique::new(twr),
        annotation: "bench".into(),
    })
}

/// Runs `msrpc bench-register`.
pub async fn run(g: &Global, a: RegisterArgs) -> Result<(), Failure> {
    if a.count > MAX_COUNT {
        return Err(Failure::usage(format!("--count is at most {MAX_COUNT}")));
    }
    if !(a.hold.is_finite() && a.hold >= 0.0 && a.hold <= 86_400.0) {
        return Err(Failure::usage("--hold must be between 0 and 86400 seconds"));
    }
    let mut entries = Vec::with_capacity(a.count);
    if let Some(t) = &a.copy_from {
        let b = parse_target(t)?;
        let peer = connect_or_epm(g, &b).await?;
        let walk = crate::dump::lookup_all(&peer, MAX_COUNT).await;
        peer.close();
        if let Some(f) = walk.failure {
            return Err(f);
        }
        entries.extend(walk.entries);
    }
    let copied = entries.len();
    for i in 0..a.count {
        entries.push(synthetic(i)?);
    }
    let client = Client::connect_unix(&a.socket, client_options(g))
        .await
        .map_err(Failure::connecting)?;
    let ept = EptClient::new(client.clone());
    for chunk in entries.chunks(BATCH) {
        let req = EptInsertRequest {
            num_ents: u32::try_from(chunk.len()).unwrap_or(u32::MAX),
            entries: chunk.to_vec(),
            replace: 0,
        };
        let r = ept
            .ept_insert(req)
            .await
            .map_err(|e| Failure::call("ept_insert", e))?;
        if r.status != 0 {
            return Err(Failure::refused(format!(
                "ept_insert answered {}",
                status_text(r.status)
            )));
        }
    }
    outln!(
        "registered {} elements ({copied} copied, {} synthetic); holding for {} s",
        entries.len(),
        a.count,
        a.hold
    );
    tokio::time::sleep(Duration::from_secs_f64(a.hold)).await;
    client.close();
    Ok(())
}
