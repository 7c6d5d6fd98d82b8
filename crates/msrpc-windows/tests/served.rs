//! The generated server traits, implemented and hosted on `msrpc-rt` (127.0.5.2:135, beside
//! an endpoint mapper that lists them, since rpcclient asks the endpoint mapper), answer our generated clients (which offer NDR20 and NDR64; our server prefers NDR64,
//! so these calls run in NDR64) and Samba's `rpcclient` (NDR20), whose decoded structures
//! (`-d 10`) must show what the services returned: wkssvc NetrWkstaGetInfo, dssetup
//! DsRolerGetPrimaryDomainInformation, netdfs NetrDfsManagerGetVersion.
//!
//! Needs rpcclient (Debian package smbclient); fails loudly when it is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use msrpc_ndr::{Unique, Uuid};
use msrpc_proto::dispatch::{CallContext, Interface, Invoke, RpcFault};

use msrpc_rt::{Binding, Client, ClientOptions, Server};
use msrpc_windows::{dssetup, netdfs, wkssvc};

const ADDR: &str = "127.0.5.2";
const GUID: &str = "8f1c2a3b-4d5e-4f60-9a7b-0c1d2e3f4a5b";

struct Workstation;

impl wkssvc::Wkssvc for Workstation {
    async fn netr_wksta_get_info(
        &self,
        _ctx: &CallContext,
        req: wkssvc::NetrWkstaGetInfoRequest,
    ) -> Result<wkssvc::NetrWkstaGetInfoResponse, RpcFault> {
        let info = |ver_minor| wkssvc::WkstaInfo100 {
            wki100_platform_id: 500,
            wki100_computername: Unique::new("MSRPCHOST".into()),
            wki100_langroup: Unique::new("MSRPCGROUP".into()),
            wki100_ver_major: 10,
            wki100_ver_minor: ver_minor,
        };
        Ok(match req.level {
            100 => wkssvc::NetrWkstaGetInfoResponse {
                wksta_info: wkssvc::WkstaInfo::WkstaInfo100(Unique::new(info(0))),
                result: 0,
            },
            // ERROR_INVALID_LEVEL, with the empty default arm.
            other => wkssvc::NetrWkstaGetInfoResponse {
                wksta_info: wkssvc::WkstaInfo::Other(other),
                result: 124,
            },
        })
    }
}

struct Roles;

impl dssetup::Dssetup for Roles {
    async fn ds_roler_get_primary_domain_information(
        &self,
        _ctx: &CallContext,
        req: dssetup::DsRolerGetPrimaryDomainInformationRequest,
    ) -> Result<dssetup::DsRolerGetPrimaryDomainInformationResponse, RpcFault> {
        use dssetup::DsrolePrimaryDomainInfoLevel as Level;
        let info = match req.info_level {
            Level::DsRolePrimaryDomainInfoBasic => {
                dssetup::DsrolerPrimaryDomainInformation::DomainInfoBasic(
                    dssetup::DsrolerPrimaryDomainInfoBasic {
                        machine_role: dssetup::DsroleMachineRole::RoleMemberServer,
                        flags: 0x0100_0000,
                        domain_name_flat: Unique::new("MSRPCGROUP".into()),
                        domain_name_dns: Unique::new("msrpc.test".into()),
                        domain_forest_name: Unique::new("msrpc.test".into()),
                        domain_guid: Uuid::parse_str(GUID).unwrap(),
                    },
                )
            }
            // Levels 2 and 3 are not served here: ERROR_INVALID_PARAMETER, no information.
            _ => {
                return Ok(dssetup::DsRolerGetPrimaryDomainInformationResponse {
                    domain_info: Unique::default(),
                    result: 87,
                })
            }
        };
        Ok(dssetup::DsRolerGetPrimaryDomainInformationResponse {
            domain_info: Unique::new(info),
            result: 0,
        })
    }
}

struct Dfs;

impl netdfs::Netdfs for Dfs {
    async fn netr_dfs_manager_get_version(
        &self,
        _ctx: &CallContext,
        _req: netdfs::NetrDfsManagerGetVersionRequest,
    ) -> Result<netdfs::NetrDfsManagerGetVersionResponse, RpcFault> {
        Ok(netdfs::NetrDfsManagerGetVersionResponse { result: 4 })
    }
}

/// rpcclient's `-d 10` dump of the `out:` structure `name`: its `key : value` lines.
fn dump(text: &str, name: &str) -> Vec<String> {
    let anchor = format!("out: struct {name}");
    let at = text
        .find(&anchor)
        .unwrap_or_else(|| panic!("rpcclient printed no {anchor}:\n{text}"));
    text[at..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("result"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn rpcclient(port: u16, command: &str) -> String {
    let binding = format!("ncacn_ip_tcp:{ADDR}[{port}]");
    let (ok, text) = common::run_rpcclient(None, "-U%", &binding, command, true);
    assert!(ok, "rpcclient -c {command}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_servers_answer_our_clients_and_rpcclient() {
    // Every interface on port 135, listed in the endpoint map there.
    let epm = common::epm_listing(
        ADDR,
        &[
            wkssvc::WkssvcInterface::SYNTAX,
            dssetup::DssetupInterface::SYNTAX,
            netdfs::NetdfsInterface::SYNTAX,
        ],
    );
    let server = Server::builder()
        .listen(format!("{ADDR}:135").parse().unwrap())
        .service(epm)
        .service(wkssvc::WkssvcServer::new(Workstation))
        .service(dssetup::DssetupServer::new(Roles))
        .service(netdfs::NetdfsServer::new(Dfs))
        .start()
        .await
        .unwrap_or_else(|e| panic!("listen on {ADDR}:135 (needs root): {e}"));
    let port = 135;

    // Our clients (NDR64 accepted: the server prefers it).
    let binding = Binding::parse(&format!("ncacn_ip_tcp:{ADDR}[{port}]")).unwrap();
    let conn = Client::connect(
        &binding,
        ClientOptions {
            call_timeout: Some(Duration::from_secs(30)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let w = wkssvc::WkssvcClient::new(conn.clone());
    let r = w
        .netr_wksta_get_info(wkssvc::NetrWkstaGetInfoRequest {
            server_name: None,
            level: 100,
        })
        .await
        .unwrap();
    assert_eq!(r.result, 0);
    let wkssvc::WkstaInfo::WkstaInfo100(i) = &r.wksta_info else {
        panic!("{r:?}")
    };
    assert_eq!(
        i.get().unwrap().wki100_computername.get().unwrap(),
        "MSRPCHOST"
    );
    let r = w
        .netr_wksta_get_info(wkssvc::NetrWkstaGetInfoRequest {
            server_name: None,
            level: 1013,
        })
        .await
        .unwrap();
    assert_eq!(
        (r.result, r.wksta_info),
        (124, wkssvc::WkstaInfo::Other(1013))
    );
    let d = dssetup::DssetupClient::new(conn.clone());
    let r = d
        .ds_roler_get_primary_domain_information(
            dssetup::DsRolerGetPrimaryDomainInformationRequest {
                info_level: dssetup::DsrolePrimaryDomainInfoLevel::DsRolePrimaryDomainInfoBasic,
            },
        )
        .await
        .unwrap();
    let Some(dssetup::DsrolerPrimaryDomainInformation::DomainInfoBasic(b)) = r.domain_info.get()
    else {
        panic!("{r:?}")
    };
    assert_eq!(b.domain_guid.to_string(), GUID);
    let v = netdfs::NetdfsClient::new(conn.clone())
        .netr_dfs_manager_get_version(netdfs::NetrDfsManagerGetVersionRequest {})
        .await
        .unwrap();
    assert_eq!(v.result, 4);
    assert_eq!(
        conn.transfer_syntax(wkssvc::WkssvcInterface::SYNTAX)
            .await
            .unwrap(),
        msrpc_ndr::TransferSyntax::Ndr64,
        "our server prefers NDR64 when the client offers it"
    );
    conn.close();

    // Samba's client.
    let t = rpcclient(port, "wkssvc_wkstagetinfo");
    let out = dump(&t, "wkssvc_NetWkstaGetInfo");
    for want in [
        "platform_id : PLATFORM_ID_NT (500)",
        "server_name : 'MSRPCHOST'",
        "domain_name : 'MSRPCGROUP'",
        "version_major : 0x0000000a (10)",
        "version_minor : 0x00000000 (0)",
    ] {
        assert!(out.iter().any(|l| l == want), "{want} not in {out:#?}");
    }
    let t = rpcclient(port, "dsroledominfo");
    let out = dump(&t, "dssetup_DsRoleGetPrimaryDomainInformation");
    for want in [
        "role : DS_ROLE_MEMBER_SERVER (3)",
        "domain : 'MSRPCGROUP'",
        "dns_domain : 'msrpc.test'",
        "forest : 'msrpc.test'",
        &format!("domain_guid : {GUID}"),
    ] {
        assert!(out.iter().any(|l| l == want), "{want} not in {out:#?}");
    }
    let t = rpcclient(port, "dfsversion");
    assert!(t.contains("dfs is present (4)"), "{t}");
    server.shutdown().await;
}
