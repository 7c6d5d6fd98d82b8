//! The `msrpcd` binary end to end: the demo over the endpoint mapper, registration of another
//! process through the socket (and its removal when that process dies, and re-registration
//! after a daemon restart), port 135 (as root, and the error message without privileges),
//! the configuration file and `--print-config`. Each test has its own loopback address
//! (127.0.0.21-29) and socket directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::net::SocketAddr;
use std::process::Stdio;

use msrpc_echo::{AddOneRequest, RpcechoClient, RpcechoInterface};
use msrpc_epm::mgmt::{
    InqIfIdsRequest, InqStatsRequest, MgmtClient, MgmtInterface, StopServerListeningRequest,
};
use msrpc_epm::status::RPC_S_ACCESS_DENIED;
use msrpc_epm::{EptClient, EptEntry, EptInsertRequest, EptInterface, Tower};
use msrpc_ndr::{Unique, Uuid};
use msrpc_proto::dispatch::Interface;
use msrpc_proto::pdu::SyntaxId;
use msrpc_rt::{Client, ClientOptions};
use support::*;

/// The interfaces `inq_if_ids` reports at `addr`.
async fn if_ids(addr: SocketAddr) -> Vec<SyntaxId> {
    let c = connect(addr).await;
    let r = MgmtClient::new(c.clone())
        .inq_if_ids(InqIfIdsRequest {})
        .await
        .unwrap();
    assert_eq!(r.status, 0);
    let v = r.if_id_vector.get().unwrap();
    c.close();
    assert!(
        v.if_id.iter().all(|p| p.get().is_some()),
        "a null interface id"
    );
    v.syntaxes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_is_listed_reachable_and_writes_from_the_network_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run").join("epm.sock");
    let mut d = Proc::spawn(
        MSRPCD,
        &[
            "--listen",
            "127.0.0.21:1135",
            "--demo",
            "--ports",
            "50000-59999",
            "--registration-socket",
            sock.to_str().unwrap(),
        ],
    );
    let epm = d.addr_line("EPM listening on").await;
    assert_eq!(epm, "127.0.0.21:1135".parse().unwrap());
    let demo = d.addr_line("rpcecho demo on").await;
    assert_eq!(demo.ip(), epm.ip());
    assert!((50000..=59999).contains(&demo.port()), "{demo}");
    assert!(sock.exists());

    // ept_lookup lists the demo (and not the endpoint mapper itself).
    let listing = lookup_all(epm).await;
    assert_eq!(listing.len(), 1, "{listing:#?}");
    let e = &listing[0];
    assert_eq!(e.annotation, "rpcecho demo");
    assert_eq!(e.tower.interface(), Some(RpcechoInterface::SYNTAX));
    assert_eq!(e.tower.transfer_syntax(), Some(SyntaxId::NDR20));
    assert_eq!(e.tower.protocol_sequence(), Some("ncacn_ip_tcp"));
    assert_eq!(port_of(&listing, "rpcecho demo"), Some(demo.port()));
    assert!(listing
        .iter()
        .all(|l| l.tower.interface() != Some(EptInterface::SYNTAX)));

    // connect_via_epm finds rpcecho; AddOne works.
    let opts = ClientOptions {
        epm_port: epm.port(),
        ..opts()
    };
    let c = Client::connect_via_epm("127.0.0.21", RpcechoInterface::SYNTAX, opts)
        .await
        .unwrap();
    assert_eq!(c.peer_addr(), demo);
    let r = RpcechoClient::new(c.clone())
        .add_one(AddOneRequest { in_data: 41 })
        .await
        .unwrap();
    assert_eq!(r.out_data, 42);
    c.close();

    // mgmt on both endpoints, listing what each serves.
    assert_eq!(
        if_ids(epm).await,
        vec![EptInterface::SYNTAX, MgmtInterface::SYNTAX]
    );
    assert_eq!(
        if_ids(demo).await,
        vec![RpcechoInterface::SYNTAX, MgmtInterface::SYNTAX]
    );
    // inq_stats counts this endpoint's calls and PDUs.
    let c = connect(epm).await;
    let s = MgmtClient::new(c.clone())
        .inq_stats(InqStatsRequest { count: 4 })
        .await
        .unwrap();
    assert_eq!(s.count, 4);
    assert!(s.statistics[0] >= 4, "calls in: {:?}", s.statistics);
    assert!(
        s.statistics[2] >= s.statistics[0],
        "pkts in: {:?}",
        s.statistics
    );
    assert!(
        s.statistics[3] >= s.statistics[0],
        "pkts out: {:?}",
        s.statistics
    );

    // ept_insert from the network: access denied, nothing registered.
    let tower = Tower::ncacn_ip_tcp(
        RpcechoInterface::SYNTAX,
        SyntaxId::NDR20,
        "127.0.0.21".parse().unwrap(),
        4444,
    );
    let r = EptClient::new(c.clone())
        .ept_insert(EptInsertRequest {
            num_ents: 1,
            entries: vec![EptEntry {
                object: Uuid::nil(),
                tower: Unique::new(tower.to_twr().unwrap()),
                annotation: "hijack".into(),
            }],
            replace: 1,
        })
        .await
        .unwrap();
    assert_eq!(r.status, RPC_S_ACCESS_DENIED);
    c.close();
    assert_eq!(lookup_all(epm).await.len(), 1);

    // SIGTERM: graceful stop, socket file removed.
    let status = d.terminate().await;
    assert!(status.success(), "{status:?}; stderr:\n{}", d.stderr());
    assert!(said_eventually(&d, "msrpcd stopped (SIGTERM)").await);
    assert!(!sock.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_process_registers_is_dropped_when_killed_and_comes_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("epm.sock");
    let sock = sock.to_str().unwrap();
    let daemon_args = ["--listen", "127.0.0.23:1135", "--registration-socket", sock];
    let service_args = [
        "--listen",
        "127.0.0.23",
        "--registration-socket",
        sock,
        "--annotation",
        "echo service test",
    ];
    let annotation = "echo service test";
    let mut d = Proc::spawn(MSRPCD, &daemon_args);
    let epm = d.addr_line("EPM listening on").await;
    assert!(lookup_all(epm).await.is_empty());

    // Registration from another process.
    let mut s = Proc::spawn(ECHO_SERVICE, &service_args);
    let at = s.addr_line("rpcecho on").await;
    s.line("registered 1").await;
    let listing = lookup_all(epm).await;
    assert_eq!(
        port_of(&listing, annotation),
        Some(at.port()),
        "{listing:#?}"
    );
    let opts = ClientOptions {
        epm_port: epm.port(),
        ..opts()
    };
    let c = Client::connect_via_epm("127.0.0.23", RpcechoInterface::SYNTAX, opts.clone())
        .await
        .unwrap();
    let r = RpcechoClient::new(c.clone())
        .add_one(AddOneRequest { in_data: 1 })
        .await
        .unwrap();
    assert_eq!(r.out_data, 2);
    c.close();

    // kill -9: the daemon sees the connection close and drops the entry.
    s.kill9().await;
    lookup_until(epm, "entry of the killed service removed", |l| {
        port_of(l, annotation).is_none()
    })
    .await;

    // A new service process, then the daemon dies (kill -9, stale socket) and restarts: the
    // service registers again by itself.
    let mut s = Proc::spawn(ECHO_SERVICE, &service_args);
    let at = s.addr_line("rpcecho on").await;
    s.line("registered 1").await;
    d.kill9().await;
    let mut d = Proc::spawn(MSRPCD, &daemon_args);
    let epm = d.addr_line("EPM listening on").await;
    s.line("registered 2").await;
    let listing = lookup_until(epm, "re-registered", |l| {
        port_of(l, annotation) == Some(at.port())
    })
    .await;
    assert_eq!(listing.len(), 1, "{listing:#?}");

    // SIGTERM to the service: it unregisters (ept_delete) and exits cleanly.
    let status = s.terminate().await;
    assert!(status.success(), "{status:?}; stderr:\n{}", s.stderr());
    assert!(lookup_all(epm).await.is_empty());
    let status = d.terminate().await;
    assert!(status.success(), "{status:?}; stderr:\n{}", d.stderr());
    // A second daemon on a live socket is refused with a clear message.
    let mut d = Proc::spawn(MSRPCD, &daemon_args);
    d.addr_line("EPM listening on").await;
    let mut d2 = Proc::spawn(
        MSRPCD,
        &["--listen", "127.0.0.23:1136", "--registration-socket", sock],
    );
    let (status, err) = d2.exit().await;
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("another msrpcd is already running"), "{err}");

    // mgmt stop_server_listening: refused from the network, obeyed from the local socket.
    let c = connect("127.0.0.23:1135".parse().unwrap()).await;
    let r = MgmtClient::new(c.clone())
        .stop_server_listening(StopServerListeningRequest {})
        .await
        .unwrap();
    assert_eq!(r.status, RPC_S_ACCESS_DENIED);
    c.close();
    let local = Client::connect_unix(sock, support::opts()).await.unwrap();
    let r = MgmtClient::new(local.clone())
        .stop_server_listening(StopServerListeningRequest {})
        .await
        .unwrap();
    assert_eq!(r.status, 0);
    local.close();
    let status = d.wait().await;
    assert!(status.success(), "{status:?}; stderr:\n{}", d.stderr());
    assert!(
        said_eventually(&d, "msrpcd stopped (mgmt stop_server_listening)").await,
        "stdout: {:?}",
        d.stdout()
    );
}

/// True once `line` is among the process's stdout lines. The reader task may still be copying
/// the last lines out of the closed pipe when the exit is seen, so this waits a bounded moment.
async fn said_eventually(d: &support::Proc, line: &str) -> bool {
    for _ in 0..100 {
        if d.stdout().iter().any(|l| l == line) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

/// `ip_unprivileged_port_start`: ports below it need privileges (1024 unless changed).
fn unprivileged_port_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024)
}

/// The exact text of the "needs privileges" error for `addr`.
fn denied_message(addr: &str) -> String {
    format!(
        "cannot listen on {addr}: permission denied — run as root, grant CAP_NET_BIND_SERVICE \
         (setcap cap_net_bind_service=+ep {MSRPCD}), or use --listen"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_135_as_root_or_a_clear_error_without_privileges() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("epm.sock");
    let sock = sock.to_str().unwrap();
    let root = rustix::process::geteuid().is_root();
    let privileged = unprivileged_port_start() > 135;
    if root {
        println!("running as root: checking that --listen 127.0.0.22 binds port 135");
        let mut d = Proc::spawn(
            MSRPCD,
            &["--listen", "127.0.0.22", "--registration-socket", sock],
        );
        let epm = d.addr_line("EPM listening on").await;
        assert_eq!(epm, "127.0.0.22:135".parse().unwrap());
        assert!(lookup_all(epm).await.is_empty());
        assert!(d.terminate().await.success());
    }
    // Without privileges: as ourselves when not root, else as `nobody` through setpriv.
    if !privileged {
        println!(
            "SKIPPED the unprivileged check: ip_unprivileged_port_start is {}, so anyone may bind port 135 here",
            unprivileged_port_start()
        );
        return;
    }
    let nobody_dir = tempfile::Builder::new()
        .prefix("msrpcd-test-")
        .tempdir_in("/tmp")
        .unwrap();
    let nobody_sock = nobody_dir.path().join("n").join("epm.sock");
    let args = [
        "--listen",
        "127.0.0.22",
        "--registration-socket",
        nobody_sock.to_str().unwrap(),
    ];
    let (status, err) = if root {
        let setpriv = std::process::Command::new("setpriv")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !setpriv {
            println!("SKIPPED the unprivileged check: running as root and setpriv is missing");
            return;
        }
        std::fs::set_permissions(
            nobody_dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        println!("running as root: checking the error message as nobody (setpriv)");
        let mut cmd = tokio::process::Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            MSRPCD,
        ]);
        let mut p = Proc::spawn_cmd(cmd, "setpriv", &args);
        p.exit().await
    } else {
        println!("not root: checking the error message");
        let mut p = Proc::spawn(MSRPCD, &args);
        p.exit().await
    };
    assert_eq!(status.code(), Some(1), "{err}");
    let want = denied_message("127.0.0.22:135");
    assert!(err.contains(&want), "expected {want:?} in:\n{err}");
    assert!(err.contains("127.0.0.22:1135"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_names_the_process_holding_it() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("epm.sock");
    let holder = std::net::TcpListener::bind("127.0.0.24:1136").unwrap();
    let mut d = Proc::spawn(
        MSRPCD,
        &[
            "--listen",
            "127.0.0.24:1136",
            "--registration-socket",
            sock.to_str().unwrap(),
        ],
    );
    let (status, err) = d.exit().await;
    drop(holder);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot listen on 127.0.0.24:1136: address already in use"),
        "{err}"
    );
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "the holder (this test) is named: {err}"
    );
    assert!(err.contains("--listen"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_round_trip_overrides_and_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s").join("epm.sock");
    let file = dir.path().join("msrpcd.toml");
    std::fs::write(
        &file,
        format!(
            "listen = [\"127.0.0.25:1135\"]\nports = \"50000-50100\"\ndemo = true\n\
             registration-socket = \"{}\"\nlog-level = \"debug\"\n",
            sock.display()
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();

    // --print-config shows the file's values; its output read back prints the same.
    let (status, printed, err) = run(MSRPCD, &["--config", f, "--print-config"]).await;
    assert!(status.success(), "{err}");
    let v: toml::Table = printed.parse().unwrap();
    assert_eq!(
        v["listen"].as_array().unwrap()[0].as_str(),
        Some("127.0.0.25:1135")
    );
    assert_eq!(v["ports"].as_str(), Some("50000-50100"));
    assert_eq!(v["demo"].as_bool(), Some(true));
    assert_eq!(v["registration-socket"].as_str(), sock.to_str());
    assert_eq!(v["log-level"].as_str(), Some("debug"));
    let copy = dir.path().join("printed.toml");
    std::fs::write(&copy, &printed).unwrap();
    let (status, again, err) = run(
        MSRPCD,
        &["--config", copy.to_str().unwrap(), "--print-config"],
    )
    .await;
    assert!(status.success(), "{err}");
    assert_eq!(again, printed);

    // The command line overrides the file.
    let (status, out, err) = run(
        MSRPCD,
        &[
            "--config",
            f,
            "--listen",
            "127.0.0.26",
            "--ports",
            "60000-60010",
            "--log-level",
            "warn",
            "--print-config",
        ],
    )
    .await;
    assert!(status.success(), "{err}");
    let v: toml::Table = out.parse().unwrap();
    assert_eq!(
        v["listen"].as_array().unwrap()[0].as_str(),
        Some("127.0.0.26:135")
    );
    assert_eq!(v["ports"].as_str(), Some("60000-60010"));
    assert_eq!(v["log-level"].as_str(), Some("warn"));
    assert_eq!(v["demo"].as_bool(), Some(true));

    // The built-in defaults.
    let (status, out, _) = run(MSRPCD, &["--print-config"]).await;
    assert!(status.success());
    let v: toml::Table = out.parse().unwrap();
    assert_eq!(v["ports"].as_str(), Some("49152-65535"));
    assert_eq!(v["demo"].as_bool(), Some(false));
    assert_eq!(
        v["listen"].as_array().unwrap()[0].as_str(),
        Some("0.0.0.0:135")
    );

    // The daemon runs with the file's settings.
    let mut d = Proc::spawn(MSRPCD, &["--config", f]);
    let epm = d.addr_line("EPM listening on").await;
    assert_eq!(epm, "127.0.0.25:1135".parse().unwrap());
    let demo = d.addr_line("rpcecho demo on").await;
    assert!((50000..=50100).contains(&demo.port()), "{demo}");
    assert!(sock.exists());
    assert!(d.terminate().await.success());

    // Unknown keys and bad values are errors (exit status 2) that say where.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = [\"127.0.0.25\"]\nbogus = 1\n").unwrap();
    let (status, _, err) = run(MSRPCD, &["--config", bad.to_str().unwrap()]).await;
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("unknown field `bogus`"), "{err}");
    assert!(err.contains("bad.toml"), "{err}");
    std::fs::write(&bad, "ports = \"9-1\"\n").unwrap();
    let (status, _, err) = run(
        MSRPCD,
        &["--config", bad.to_str().unwrap(), "--print-config"],
    )
    .await;
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("invalid port range `9-1`"), "{err}");
    let (status, _, err) = run(MSRPCD, &["--config", "/nonexistent/msrpcd.toml"]).await;
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent/msrpcd.toml"), "{err}");
    let (status, _, err) = run(MSRPCD, &["--listen", "not-an-address"]).await;
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("invalid listen address"), "{err}");
}
