//! Lists the shares of a host with srvsvc `NetrShareEnum` at level 1 (name, type, remark).
//!
//! ```text
//! cargo run -p msrpc-windows --example srvsvc_shares -- HOST [USER PASSWORD [DOMAIN]]
//! ```
//!
//! The endpoint mapper on HOST:135 says where srvsvc listens over `ncacn_ip_tcp`; without a
//! user the calls are unauthenticated, with one they are made under NTLM at packet privacy.

use std::process::ExitCode;
use std::time::Duration;

use msrpc_ndr::Unique;
use msrpc_ntlm::NtlmClient;
use msrpc_proto::dispatch::Interface;
use msrpc_proto::pdu::AuthLevel;
use msrpc_proto::security::SecurityProvider;
use msrpc_rt::{Client, ClientAuth, ClientOptions};
use msrpc_windows::srvsvc::{
    NetrShareEnumRequest, ShareEnumStruct, ShareEnumUnion, ShareInfo1Container, SrvsvcClient,
    SrvsvcInterface,
};

/// Share types (MS-SRVS 2.2.2.4): the low bits name the kind, 0x80000000 marks a special
/// (administrative) share.
fn share_type(t: u32) -> String {
    let kind = match t & 0x0fff_ffff {
        0 => "disk",
        1 => "print queue",
        2 => "device",
        3 => "IPC",
        _ => "other",
    };
    if t & 0x8000_0000 != 0 {
        format!("{kind}, special")
    } else {
        kind.to_string()
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let host = args
        .first()
        .ok_or("usage: srvsvc_shares HOST [USER PASSWORD [DOMAIN]]")?;
    let mut opts = ClientOptions {
        call_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    if let (Some(user), Some(password)) = (args.get(1), args.get(2)) {
        let (user, password) = (user.clone(), password.clone());
        let domain = args.get(3).cloned().unwrap_or_default();
        opts.auth = Some(ClientAuth::new(AuthLevel::PKT_PRIVACY, move || {
            Box::new(NtlmClient::new(&user, &domain, &password)) as Box<dyn SecurityProvider>
        }));
    }
    let conn = Client::connect_via_epm(host, SrvsvcInterface::SYNTAX, opts)
        .await
        .map_err(|e| format!("connect to srvsvc on {host}: {e}"))?;
    let srvsvc = SrvsvcClient::new(conn.clone());
    let reply = srvsvc
        .netr_share_enum(NetrShareEnumRequest {
            server_name: Some(format!("\\\\{host}")),
            info_struct: ShareEnumStruct {
                level: 1,
                share_info: ShareEnumUnion::Level1(Unique::new(ShareInfo1Container::default())),
            },
            prefered_maximum_length: u32::MAX,
            resume_handle: None,
        })
        .await
        .map_err(|e| format!("NetrShareEnum: {e}"))?;
    conn.close();
    if reply.result != 0 {
        return Err(format!("NetrShareEnum: status {:#010x}", reply.result));
    }
    let ShareEnumUnion::Level1(container) = reply.info_struct.share_info else {
        return Err("NetrShareEnum answered another level than 1".into());
    };
    let shares = container
        .get()
        .and_then(|c| c.buffer.get())
        .map(Vec::as_slice)
        .unwrap_or_default();
    println!("{} share(s) on {host}:", shares.len());
    for s in shares {
        let name = s.shi1_netname.get().map(String::as_str).unwrap_or("");
        let remark = s.shi1_remark.get().map(String::as_str).unwrap_or("");
        println!("  {name:<16} {:<16} {remark}", share_type(s.shi1_type));
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("srvsvc_shares: {e}");
            ExitCode::FAILURE
        }
    }
}
