//! MS-EFSR's generated server trait hosted on `msrpc-rt` (127.0.14.1), called by our generated
//! client in NDR20 and in NDR64 (both pipes included: `EfsRpcReadFileRaw` streams a file out,
//! `EfsRpcWriteFileRaw` in, each larger than one pipe chunk), and by Impacket's NDR engine
//! (`tests/interop/impacket_efsr.py`: structures declared on Impacket's classes, since Impacket
//! ships no MS-EFSR module): what the server received and what each client decoded are
//! compared with what was sent.
//!
//! Samba neither serves MS-EFSR nor knows it in its NDR engine, so Impacket is the third
//! party here. Needs Impacket 0.13.1 in `target/venv`; fails loudly when it is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_ndr::{ContextHandle, Pipe, TransferSyntax, Unique, Uuid};
use msrpc_proto::dispatch::{CallContext, Interface, Invoke, RpcFault};
use msrpc_rt::{Binding, Client, ClientOptions, Server};
use msrpc_windows::efsrpc::{self, Efsrpc};

const ADDR: &str = "127.0.14.1";
const FILE: &str = "C:\\data\\report.docx";

/// What the server saw, for the test to check.
#[derive(Default)]
struct Seen {
    /// Every call, as `name(argument)`.
    calls: Vec<String>,
    /// Raw files by name (what an export reads, what an import writes).
    files: HashMap<String, Vec<u8>>,
    /// Open raw sessions: handle GUID -> (file, import?).
    open: HashMap<Uuid, (String, bool)>,
    /// The certificates EfsRpcAddUsersToFile received: (SID sub-authorities, DER bytes).
    added: Vec<(Vec<u32>, Vec<u8>)>,
}

#[derive(Clone, Default)]
struct Efs(Arc<Mutex<Seen>>);

fn sid(subs: &[u32]) -> efsrpc::RpcSid {
    efsrpc::RpcSid {
        revision: 1,
        sub_authority_count: subs.len() as u8,
        identifier_authority: efsrpc::SidIdentifierAuthority {
            value: [0, 0, 0, 0, 0, 5],
        },
        sub_authority: subs.to_vec(),
    }
}

/// The users EfsRpcQueryUsersOnFile answers with.
fn users() -> efsrpc::EncryptionCertificateHashList {
    let user = |rid: u32, hash: &[u8], name: &str| {
        Unique::new(efsrpc::EncryptionCertificateHash {
            cb_total_length: 100 + rid,
            user_sid: Unique::new(sid(&[21, 1, 2, 3, rid])),
            hash: Unique::new(efsrpc::EfsHashBlob {
                cb_data: hash.len() as u32,
                b_data: Unique::new(hash.to_vec()),
            }),
            lp_display_information: Unique::new(name.into()),
        })
    };
    efsrpc::EncryptionCertificateHashList {
        n_cert_hash: 2,
        users: Unique::new(vec![
            user(1104, &[0xAB; 20], "alice(alice@corp.example)"),
            user(1105, &[0x11, 0x22, 0x33], "bob"),
        ]),
    }
}

/// The blob EfsRpcFileKeyInfo answers with for info class 1 (an EFS_KEY_INFO's bytes).
const KEY_INFO: [u8; 16] = [1, 0, 0, 0, 7, 0, 0, 0, 0x10, 0x66, 0, 0, 0, 1, 0, 0];

fn blob(data: &[u8]) -> efsrpc::EfsRpcBlob {
    efsrpc::EfsRpcBlob {
        cb_data: data.len() as u32,
        b_data: Unique::new(data.to_vec()),
    }
}

const NOT_SUPPORTED: u32 = 50;

impl Efsrpc for Efs {
    async fn efs_rpc_open_file_raw(
        &self,
        _ctx: &CallContext,
        req: efsrpc::EfsRpcOpenFileRawRequest,
    ) -> Result<efsrpc::EfsRpcOpenFileRawResponse, RpcFault> {
        let mut s = self.0.lock().unwrap();
        s.calls
            .push(format!("open({}, {})", req.file_name, req.flags));
        let uuid =
            Uuid::from_u128(0x0123_4567_89ab_cdef_0000_0000_0000_0000 | (s.open.len() as u128 + 1));
        s.open.insert(uuid, (req.file_name, req.flags == 1));
        Ok(efsrpc::EfsRpcOpenFileRawResponse {
            h_context: ContextHandle {
                attributes: 0,
                uuid,
            },
            result: 0,
        })
    }

    async fn efs_rpc_read_file_raw(
        &self,
        _ctx: &CallContext,
        req: efsrpc::EfsRpcReadFileRawRequest,
    ) -> Result<efsrpc::EfsRpcReadFileRawResponse, RpcFault> {
        let mut s = self.0.lock().unwrap();
        let Some((name, _)) = s.open.get(&req.h_context.uuid).cloned() else {
            return Ok(efsrpc::EfsRpcReadFileRawResponse {
                efs_out_pipe: Pipe::default(),
                result: 6, // ERROR_INVALID_HANDLE
            });
        };
        s.calls.push(format!("read({name})"));
        let data = s.files.get(&name).cloned().unwrap_or_default();
        Ok(efsrpc::EfsRpcReadFileRawResponse {
            efs_out_pipe: Pipe::new(data),
            result: 0,
        })
    }

    async fn efs_rpc_write_file_raw(
        &self,
        _ctx: &CallContext,
        req: efsrpc::EfsRpcWriteFileRawRequest,
    ) -> Result<efsrpc::EfsRpcWriteFileRawResponse, RpcFault> {
        let mut s = self.0.lock().unwrap();
        let Some((name, true)) = s.open.get(&req.h_context.uuid).cloned() else {
            return Ok(efsrpc::EfsRpcWriteFileRawResponse { result: 6 });
        };
        let data = req.efs_in_pipe.into_inner();
        s.calls.push(format!("write({name}, {})", data.len()));
        s.files.insert(name, data);
        Ok(efsrpc::EfsRpcWriteFileRawResponse { result: 0 })
    }

    async fn efs_rpc_close_raw(
        &self,
        _ctx: &CallContext,
        req: efsrpc::EfsRpcCloseRawRequest,
    ) -> Result<efsrpc::EfsRpcCloseRawResponse, RpcFault> {
        let mut s = self.0.lock().unwrap();
        let known = s.open.remove(&req.h_context.uuid).is_some();
        s.calls.push(format!("close({known})"));
        Ok(efsrpc::EfsRpcCloseRawResponse {
            h_context: ContextHandle::NULL,
        })
    }

    async fn efs_rpc_encrypt_file_srv(
        &self,
        _ctx: &CallContext,
        req: efsrpc::EfsRpcEncryptFileSrvRequest,
    ) -> Result<efsrpc::EfsRpcEncryptFileSrvResponse, RpcFault> {
        let mut s = self.0.lock().unwrap();
        s.calls.push(format!("encrypt({})", req.file_name));
        // A UNC path is what PetitPotam sends; this server refuses it.
        let result = if req.file_name.starts_with("\\\\") {
            5
        } else {
            0
        };
        Ok(efsrpc::EfsRpcEncryptFileSrvResponse { result })
    }

    async fn efs_rpc_decrypt_file_srv(
        &self,
        _ctx: &CallContext,
        req: efsrpc::EfsRpcDecryptFileSrvRequest,
    ) -> Result<efsrpc::EfsRpcDecryptFileSrvResponse, RpcFault> {
        let mut s = self.0.lock().unwrap();
        s.calls
            .push(format!("decrypt({}, {})", req.file_name, req.open_flag));
        Ok(efsrpc::EfsRpcDecryptFileSrvResponse { result: 0 })
    }

    async fn efs_rpc_query_users_on_file(
        &self,
        _ctx: &CallContext,
        req: efsrpc::EfsRpcQueryUsersOnFileRequest,
    ) -> Result<efsrpc::EfsRpcQueryUsersOnFileResponse, RpcFault> {
        self.0
            .lock()
            .unwrap()
            .calls
            .push(format!("users({})", req.file_name));
        Ok(efsrpc::EfsRpcQueryUsersOnFileResponse {
            users: Unique::new(users()),
            result: 0,
        })
    }

    async fn efs_rpc_query_recovery_agents(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::EfsRpcQueryRecoveryAgentsRequest,
    ) -> Result<efsrpc::EfsRpcQueryRecoveryAgentsResponse, RpcFault> {
        Ok(efsrpc::EfsRpcQueryRecoveryAgentsResponse {
            recovery_agents: Unique::default(),
            result: NOT_SUPPORTED,
        })
    }

    async fn efs_rpc_remove_users_from_file(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::EfsRpcRemoveUsersFromFileRequest,
    ) -> Result<efsrpc::EfsRpcRemoveUsersFromFileResponse, RpcFault> {
        Ok(efsrpc::EfsRpcRemoveUsersFromFileResponse {
            result: NOT_SUPPORTED,
        })
    }

    async fn efs_rpc_add_users_to_file(
        &self,
        _ctx: &CallContext,
        req: efsrpc::EfsRpcAddUsersToFileRequest,
    ) -> Result<efsrpc::EfsRpcAddUsersToFileResponse, RpcFault> {
        let mut s = self.0.lock().unwrap();
        s.calls.push(format!(
            "add_users({}, {})",
            req.file_name, req.encryption_certificates.n_users
        ));
        for u in req
            .encryption_certificates
            .users
            .get()
            .into_iter()
            .flatten()
        {
            let Some(u) = u.get() else { continue };
            let subs = u
                .user_sid
                .get()
                .map(|s| s.sub_authority.clone())
                .unwrap_or_default();
            let der = u
                .cert_blob
                .get()
                .and_then(|b| b.b_data.get().cloned())
                .unwrap_or_default();
            s.added.push((subs, der));
        }
        Ok(efsrpc::EfsRpcAddUsersToFileResponse { result: 0 })
    }

    async fn opnum10_not_used_on_wire(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::Opnum10NotUsedOnWireRequest,
    ) -> Result<efsrpc::Opnum10NotUsedOnWireResponse, RpcFault> {
        Err(RpcFault(msrpc_proto::pdu::FaultStatus::NCA_S_OP_RNG_ERROR))
    }

    async fn efs_rpc_not_supported(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::EfsRpcNotSupportedRequest,
    ) -> Result<efsrpc::EfsRpcNotSupportedResponse, RpcFault> {
        Ok(efsrpc::EfsRpcNotSupportedResponse {
            result: NOT_SUPPORTED,
        })
    }

    async fn efs_rpc_file_key_info(
        &self,
        _ctx: &CallContext,
        req: efsrpc::EfsRpcFileKeyInfoRequest,
    ) -> Result<efsrpc::EfsRpcFileKeyInfoResponse, RpcFault> {
        let mut s = self.0.lock().unwrap();
        s.calls
            .push(format!("key_info({}, {})", req.file_name, req.info_class));
        Ok(efsrpc::EfsRpcFileKeyInfoResponse {
            key_info: Unique::new(blob(&KEY_INFO)),
            result: 0,
        })
    }

    async fn efs_rpc_duplicate_encryption_info_file(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::EfsRpcDuplicateEncryptionInfoFileRequest,
    ) -> Result<efsrpc::EfsRpcDuplicateEncryptionInfoFileResponse, RpcFault> {
        Ok(efsrpc::EfsRpcDuplicateEncryptionInfoFileResponse {
            result: NOT_SUPPORTED,
        })
    }

    async fn opnum14_not_used_on_wire(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::Opnum14NotUsedOnWireRequest,
    ) -> Result<efsrpc::Opnum14NotUsedOnWireResponse, RpcFault> {
        Err(RpcFault(msrpc_proto::pdu::FaultStatus::NCA_S_OP_RNG_ERROR))
    }

    async fn efs_rpc_add_users_to_file_ex(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::EfsRpcAddUsersToFileExRequest,
    ) -> Result<efsrpc::EfsRpcAddUsersToFileExResponse, RpcFault> {
        Ok(efsrpc::EfsRpcAddUsersToFileExResponse {
            result: NOT_SUPPORTED,
        })
    }

    async fn efs_rpc_file_key_info_ex(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::EfsRpcFileKeyInfoExRequest,
    ) -> Result<efsrpc::EfsRpcFileKeyInfoExResponse, RpcFault> {
        Ok(efsrpc::EfsRpcFileKeyInfoExResponse {
            key_info: Unique::default(),
            result: NOT_SUPPORTED,
        })
    }

    async fn opnum17_not_used_on_wire(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::Opnum17NotUsedOnWireRequest,
    ) -> Result<efsrpc::Opnum17NotUsedOnWireResponse, RpcFault> {
        Err(RpcFault(msrpc_proto::pdu::FaultStatus::NCA_S_OP_RNG_ERROR))
    }

    async fn efs_rpc_get_encrypted_file_metadata(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::EfsRpcGetEncryptedFileMetadataRequest,
    ) -> Result<efsrpc::EfsRpcGetEncryptedFileMetadataResponse, RpcFault> {
        Ok(efsrpc::EfsRpcGetEncryptedFileMetadataResponse {
            efs_stream_blob: Unique::default(),
            result: NOT_SUPPORTED,
        })
    }

    async fn efs_rpc_set_encrypted_file_metadata(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::EfsRpcSetEncryptedFileMetadataRequest,
    ) -> Result<efsrpc::EfsRpcSetEncryptedFileMetadataResponse, RpcFault> {
        Ok(efsrpc::EfsRpcSetEncryptedFileMetadataResponse {
            result: NOT_SUPPORTED,
        })
    }

    async fn efs_rpc_flush_efs_cache(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::EfsRpcFlushEfsCacheRequest,
    ) -> Result<efsrpc::EfsRpcFlushEfsCacheResponse, RpcFault> {
        self.0.lock().unwrap().calls.push("flush".into());
        Ok(efsrpc::EfsRpcFlushEfsCacheResponse { result: 0 })
    }

    async fn efs_rpc_encrypt_file_ex_srv(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::EfsRpcEncryptFileExSrvRequest,
    ) -> Result<efsrpc::EfsRpcEncryptFileExSrvResponse, RpcFault> {
        Ok(efsrpc::EfsRpcEncryptFileExSrvResponse {
            result: NOT_SUPPORTED as i32,
        })
    }

    async fn efs_rpc_query_protectors(
        &self,
        _ctx: &CallContext,
        _req: efsrpc::EfsRpcQueryProtectorsRequest,
    ) -> Result<efsrpc::EfsRpcQueryProtectorsResponse, RpcFault> {
        Ok(efsrpc::EfsRpcQueryProtectorsResponse {
            pp_protector_list: Unique::default(),
            result: NOT_SUPPORTED,
        })
    }
}

async fn start(efs: Efs) -> (Server, u16) {
    let server = Server::builder()
        .listen(format!("{ADDR}:0").parse().unwrap())
        .service(efsrpc::EfsrpcServer::new(efs))
        .start()
        .await
        .unwrap_or_else(|e| panic!("listen on {ADDR}: {e}"));
    let port = server.local_addrs()[0].port();
    (server, port)
}

async fn client(port: u16, ndr64: bool) -> Client {
    let binding = Binding::parse(&format!("ncacn_ip_tcp:{ADDR}[{port}]")).unwrap();
    let mut o = ClientOptions {
        call_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    o.config.offer_ndr64 = ndr64;
    Client::connect(&binding, o).await.unwrap()
}

/// A file's raw bytes: more than two pipe chunks, no repeating period a chunk could hide.
fn raw_file(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_in_both_syntaxes_pipes_included() {
    let efs = Efs::default();
    let (server, port) = start(efs.clone()).await;
    let len = 2 * Pipe::<u8>::CHUNK_ELEMENTS + 123;
    for (ndr64, name) in [(false, "C:\\a.bin"), (true, "C:\\b.bin")] {
        let conn = client(port, ndr64).await;
        let c = efsrpc::EfsrpcClient::new(conn.clone());
        // Import: open with CREATE_FOR_IMPORT, write the pipe, close.
        let r = c
            .efs_rpc_open_file_raw(efsrpc::EfsRpcOpenFileRawRequest {
                file_name: name.into(),
                flags: 1,
            })
            .await
            .unwrap();
        assert_eq!(r.result, 0);
        let want = if ndr64 {
            TransferSyntax::Ndr64
        } else {
            TransferSyntax::Ndr20
        };
        assert_eq!(
            conn.transfer_syntax(efsrpc::EfsrpcInterface::SYNTAX)
                .await
                .unwrap(),
            want
        );
        let data = raw_file(len + usize::from(ndr64));
        let w = c
            .efs_rpc_write_file_raw(efsrpc::EfsRpcWriteFileRawRequest {
                h_context: r.h_context,
                efs_in_pipe: Pipe::new(data.clone()),
            })
            .await
            .unwrap();
        assert_eq!(w.result, 0);
        let closed = c
            .efs_rpc_close_raw(efsrpc::EfsRpcCloseRawRequest {
                h_context: r.h_context,
            })
            .await
            .unwrap();
        assert!(closed.h_context.is_null());
        assert_eq!(efs.0.lock().unwrap().files[name], data);
        // Export: open, read the pipe back, close.
        let r = c
            .efs_rpc_open_file_raw(efsrpc::EfsRpcOpenFileRawRequest {
                file_name: name.into(),
                flags: 0,
            })
            .await
            .unwrap();
        let back = c
            .efs_rpc_read_file_raw(efsrpc::EfsRpcReadFileRawRequest {
                h_context: r.h_context,
            })
            .await
            .unwrap();
        assert_eq!(back.result, 0);
        assert_eq!(back.efs_out_pipe.elements, data, "ndr64 {ndr64}");
        // An empty file is the final chunk alone.
        efs.0.lock().unwrap().files.insert(name.into(), Vec::new());
        let empty = c
            .efs_rpc_read_file_raw(efsrpc::EfsRpcReadFileRawRequest {
                h_context: r.h_context,
            })
            .await
            .unwrap();
        assert!(empty.efs_out_pipe.elements.is_empty());
        c.efs_rpc_close_raw(efsrpc::EfsRpcCloseRawRequest {
            h_context: r.h_context,
        })
        .await
        .unwrap();
        // The structures: users on the file (EFS_HASH_BLOB, SIDs, strings) and key information.
        let u = c
            .efs_rpc_query_users_on_file(efsrpc::EfsRpcQueryUsersOnFileRequest {
                file_name: name.into(),
            })
            .await
            .unwrap();
        assert_eq!(u.users.get(), Some(&users()));
        let k = c
            .efs_rpc_file_key_info(efsrpc::EfsRpcFileKeyInfoRequest {
                file_name: name.into(),
                info_class: 1,
            })
            .await
            .unwrap();
        assert_eq!(k.key_info.get(), Some(&blob(&KEY_INFO)));
    }
    let calls = efs.0.lock().unwrap().calls.clone();
    let n = len + 1;
    assert_eq!(
        calls,
        [
            "open(C:\\a.bin, 1)".to_string(),
            format!("write(C:\\a.bin, {len})"),
            "close(true)".into(),
            "open(C:\\a.bin, 0)".into(),
            "read(C:\\a.bin)".into(),
            "read(C:\\a.bin)".into(),
            "close(true)".into(),
            "users(C:\\a.bin)".into(),
            "key_info(C:\\a.bin, 1)".into(),
            "open(C:\\b.bin, 1)".into(),
            format!("write(C:\\b.bin, {n})"),
            "close(true)".into(),
            "open(C:\\b.bin, 0)".into(),
            "read(C:\\b.bin)".into(),
            "read(C:\\b.bin)".into(),
            "close(true)".into(),
            "users(C:\\b.bin)".into(),
            "key_info(C:\\b.bin, 1)".into(),
        ]
    );
    server.shutdown().await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impacket_calls_the_generated_server() {
    let py = workspace().join("target/venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: this test needs Impacket 0.13.1 in target/venv \
         (python3 -m venv target/venv && target/venv/bin/pip install impacket==0.13.1)",
        py.display()
    );
    let efs = Efs::default();
    let (server, port) = start(efs.clone()).await;
    let script = workspace().join("tests/interop/impacket_efsr.py");
    let uuid = efsrpc::EfsrpcInterface::SYNTAX.uuid.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(script)
            .arg(ADDR)
            .arg(port.to_string())
            .arg(uuid)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "impacket_efsr.py: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = stdout.lines().last().unwrap_or_default().to_string();
    let get = |key: &str| -> String {
        let at = json
            .find(&format!("\"{key}\": "))
            .unwrap_or_else(|| panic!("no {key} in {json}"));
        let rest = &json[at + key.len() + 4..];
        let end = rest
            .find(", \"")
            .or_else(|| rest.rfind('}'))
            .unwrap_or(rest.len());
        rest[..end].trim_matches('"').to_string()
    };
    // The handle Impacket got is the one the server made; closing returns the null handle.
    let first = Uuid::from_u128(0x0123_4567_89ab_cdef_0000_0000_0000_0001);
    assert_eq!(
        get("open_handle"),
        format!("00000000{}", hex(&first.to_bytes_le()))
    );
    assert_eq!(get("closed_handle"), "0".repeat(40));
    assert_eq!(
        get("encrypt"),
        "5",
        "the UNC path is refused with ERROR_ACCESS_DENIED"
    );
    assert_eq!(get("decrypt"), "0");
    assert_eq!(get("key_info"), hex(&KEY_INFO));
    assert_eq!(get("add_users"), "0");
    // The users, as Impacket decoded them.
    for (want, rid) in [("alice(alice@corp.example)", 1104), ("bob", 1105)] {
        assert!(
            json.contains(&format!("\"sid\": \"S-1-5-21-1-2-3-{rid}\"")),
            "{json}"
        );
        assert!(json.contains(&format!("\"display\": \"{want}\"")), "{json}");
    }
    assert!(
        json.contains(&format!("\"hash\": \"{}\"", "ab".repeat(20))),
        "{json}"
    );
    assert!(json.contains("\"hash\": \"112233\""), "{json}");
    // What the server decoded from Impacket's requests.
    let (calls, added) = {
        let seen = efs.0.lock().unwrap();
        (seen.calls.clone(), seen.added.clone())
    };
    assert_eq!(
        calls,
        [
            format!("open({FILE}, 0)"),
            "close(true)".into(),
            "encrypt(\\\\192.0.2.10\\share\\x)".into(),
            format!("decrypt({FILE}, 1)"),
            format!("key_info({FILE}, 1)"),
            format!("users({FILE})"),
            format!("add_users({FILE}, 1)"),
        ]
    );
    assert_eq!(
        added,
        [(vec![21, 1, 2, 3, 1104], (0..40).collect::<Vec<u8>>())]
    );
    server.shutdown().await;
}
