//! `msrpc firewall`'s rules with real packets: msrpcd runs in a network namespace made for
//! the test (`ip netns add msrpcfw-*`, deleted at the end), the nftables rules generated from
//! its live endpoint map and its configuration are loaded there with `nft -f`, and then RPC to
//! its services (endpoint mapper, rpcecho, the DCOM resolver and object exporter) goes
//! through while a TCP listener on another port of the dynamic range is unreachable; rules
//! restricted to other sources close 135. The iptables form passes `iptables-restore --test`
//! in the same namespace. A second namespace runs msrpcd with `listen-udp`: the rules then open
//! UDP 135 and rpcecho's UDP port (connectionless calls go through) and drop a UDP listener on
//! another port of the dynamic range.
//!
//! Needs root, `ip` (iproute2), `nft` (nftables), `iptables-restore` (iptables) and the built
//! `msrpcd` next to `msrpc` (`cargo build -p msrpcd`): the test fails, not skips, without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod daemon;
use daemon::{add_user, msrpc_bin, msrpcd_bin, stdout_lines, wait_lines};

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const ADDR: &str = "127.0.7.1";
const DEMO_PORT: &str = "50100";
const EXPORTER_PORT: &str = "50101";
const STRAY_PORT: &str = "50200";
const PASSWORD: &str = "Fw-pw-1";

fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is missing: this test needs it (apt-get install -y {package}; scripts/test.sh does)"
    );
}

/// A network namespace, deleted (with its processes killed first) when dropped.
struct Netns {
    name: String,
    procs: Vec<Child>,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("msrpcfw{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(st.success(), "ip netns add {name} failed (needs root)");
        let ns = Netns {
            name,
            procs: Vec::new(),
        };
        let st = ns.cmd("ip", &["link", "set", "lo", "up"]).status().unwrap();
        assert!(st.success());
        ns
    }

    /// `ip netns exec NS program args...`.
    fn cmd(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]).args(args);
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.cmd(program, args).output().unwrap()
    }

    /// `msrpcd ARGS` started inside the namespace (stopped with it): its stdout lines.
    fn spawn_msrpcd(&mut self, args: &[&str]) -> mpsc::Receiver<String> {
        let mut daemon = self
            .cmd(msrpcd_bin().to_str().unwrap(), args)
            .env_remove("XDG_RUNTIME_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let rx = stdout_lines(&mut daemon);
        self.procs.push(daemon);
        rx
    }

    /// `msrpc ARGS` inside the namespace.
    fn msrpc(&self, args: &[&str]) -> Output {
        self.cmd(msrpc_bin(), args)
            .env("MSRPC_PASSWORD", PASSWORD)
            .output()
            .unwrap()
    }

    /// Whether a TCP connection to ADDR:port opens within 5 s (bash's /dev/tcp).
    fn connects(&self, port: &str) -> bool {
        self.run(
            "timeout",
            &[
                "5",
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/{ADDR}/{port}"),
            ],
        )
        .status
        .success()
    }

    /// Loads an nftables script.
    fn nft_load(&self, rules: &Path) {
        let out = self.run("nft", &["-f", rules.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "nft -f failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(rules).unwrap()
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.kill();
            let _ = p.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The packets counted by the drop rule of the dynamic range in the loaded table.
fn dynamic_range_drops(ns: &Netns) -> u64 {
    range_drops(ns, "tcp")
}

/// The packets counted by `proto`'s drop rule of the dynamic range.
fn range_drops(ns: &Netns, proto: &str) -> u64 {
    let out = ns.run("nft", &["list", "table", "inet", "msrpc_firewall"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = listing
        .lines()
        .find(|l| l.contains(&format!("{proto} dport 49152-65535 counter packets")))
        .unwrap_or_else(|| panic!("no counter on the dynamic range drop:\n{listing}"));
    let after = line.split("counter packets ").nth(1).unwrap();
    after.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn nftables_rules_let_rpc_through_and_block_other_ports() {
    require("ip", "iproute2");
    require("nft", "nftables");
    require("iptables-restore", "iptables");
    msrpcd_bin(); // fails loudly before any namespace is made when msrpcd is not built
    let dir = tempfile::tempdir().unwrap();
    let mut ns = Netns::new("");

    // msrpcd in the namespace: EPM on 135, rpcecho pinned to 50100, the DCOM exporter to 50101.
    let users = dir.path().join("users");
    add_user(&users, "alice", PASSWORD);
    let cfg = dir.path().join("msrpcd.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = [\"{ADDR}:135\"]\nports = \"{DEMO_PORT}-{DEMO_PORT}\"\ndemo = true\n\
             [dcom]\nexporter-port = {EXPORTER_PORT}\n"
        ),
    )
    .unwrap();
    let rx = ns.spawn_msrpcd(&[
        "--config",
        cfg.to_str().unwrap(),
        "--users",
        users.to_str().unwrap(),
        "--registration-socket",
        dir.path().join("epm.sock").to_str().unwrap(),
    ]);
    let mut ready = (false, false);
    wait_lines(&rx, "msrpcd did not start in the namespace", |line| {
        ready.0 |= line.starts_with("rpcecho demo on ");
        ready.1 |= line.starts_with("DCOM object exporter on ");
        ready.0 && ready.1
    });
    // A stray listener in the dynamic range, which no rule allows.
    let stray = ns
        .cmd(
            msrpc_bin(),
            &[
                "bench-raw",
                "serve",
                &format!("{ADDR}:{STRAY_PORT}"),
                "--duration",
                "300",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ns.procs.push(stray);
    let t0 = std::time::Instant::now();
    while !ns.connects(STRAY_PORT) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the stray listener never opened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The rules, from the live endpoint map and the configuration.
    let rules_out = ns.msrpc(&[
        "firewall",
        ADDR,
        "--config",
        cfg.to_str().unwrap(),
        "--allow-from",
        "127.0.0.0/8",
    ]);
    assert!(rules_out.status.success(), "{}", text(&rules_out));
    let rules = String::from_utf8(rules_out.stdout).unwrap();
    assert!(
        rules.contains(&format!("elements = {{ {DEMO_PORT}, {EXPORTER_PORT} }}")),
        "{rules}"
    );
    let rules_file = dir.path().join("rules.nft");
    std::fs::write(&rules_file, &rules).unwrap();
    ns.nft_load(&rules_file);
    // Loading again replaces the table (the script is idempotent).
    ns.nft_load(&rules_file);

    // RPC goes through: the endpoint map, rpcecho on its port, DCOM on 135 and the exporter.
    let o = ns.msrpc(&["--timeout", "10", "call", ADDR, "echo-add-one", "41"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("42"),
        "{}",
        text(&o)
    );
    let o = ns.msrpc(&["--timeout", "10", "dcom", "alive", ADDR]);
    assert!(o.status.success(), "{}", text(&o));
    let o = ns.msrpc(&[
        "--timeout",
        "10",
        "--user",
        "alice",
        "--auth-level",
        "integrity",
        "dcom",
        "call",
        ADDR,
        "add",
        "2",
        "3",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains('5'),
        "{}",
        text(&o)
    );

    // The stray port is blocked, by the dynamic range's drop rule.
    let before = dynamic_range_drops(&ns);
    assert!(
        !ns.connects(STRAY_PORT),
        "port {STRAY_PORT} still reachable"
    );
    assert!(
        dynamic_range_drops(&ns) > before,
        "the drop rule did not count the SYN"
    );

    // Rules allowing other sources only: 135 is closed to us.
    let other = ns.msrpc(&[
        "firewall",
        ADDR,
        "--config",
        cfg.to_str().unwrap(),
        "--allow-from",
        "10.99.0.0/16",
    ]);
    assert!(other.status.success(), "{}", text(&other));
    let other_file = dir.path().join("other.nft");
    std::fs::write(&other_file, &other.stdout).unwrap();
    ns.nft_load(&other_file);
    let o = ns.msrpc(&["--timeout", "3", "dump", ADDR]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // The iptables form of the first rules parses and builds.
    let ipt = ns.msrpc(&[
        "firewall",
        "--config",
        cfg.to_str().unwrap(),
        "--port",
        DEMO_PORT,
        "--allow-from",
        "127.0.0.0/8",
        "--format",
        "iptables",
    ]);
    assert!(ipt.status.success(), "{}", text(&ipt));
    let ipt_file = dir.path().join("rules.ipt");
    std::fs::write(&ipt_file, &ipt.stdout).unwrap();
    let o = ns.run(
        "sh",
        &[
            "-c",
            &format!("iptables-restore --test --noflush < {}", ipt_file.display()),
        ],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o),
        String::from_utf8_lossy(&ipt.stdout)
    );
    // And a broken one does not (the check is real): a hashlimit without its name.
    std::fs::write(
        &ipt_file,
        "*filter\n-A INPUT -p tcp --dport 135 -m hashlimit --hashlimit-above 20/sec -j DROP\nCOMMIT\n",
    )
    .unwrap();
    let o = ns.run(
        "sh",
        &[
            "-c",
            &format!("iptables-restore --test --noflush < {}", ipt_file.display()),
        ],
    );
    assert!(!o.status.success(), "{}", text(&o));
}

const UDP_ADDR: &str = "127.0.9.5";
const UDP_STRAY_PORT: &str = "50300";

/// Whether a UDP echo server at UDP_ADDR:`port` answers a datagram within 2 s.
fn udp_echoes(ns: &Netns, port: &str) -> bool {
    ns.run(
        "python3",
        &[
            "-c",
            &format!(
                "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(2)\n\
                 s.sendto(b'ping',('{UDP_ADDR}',{port}))\ntry:\n    s.recvfrom(64)\nexcept Exception:\n    sys.exit(1)\n"
            ),
        ],
    )
    .status
    .success()
}

#[test]
fn udp_rules_let_connectionless_rpc_through_and_block_other_udp_ports() {
    require("ip", "iproute2");
    require("nft", "nftables");
    require("iptables-restore", "iptables");
    require("python3", "python3");
    msrpcd_bin(); // fails loudly before any namespace is made when msrpcd is not built
    let dir = tempfile::tempdir().unwrap();
    let mut ns = Netns::new("u");
    let cfg = dir.path().join("msrpcd.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = [\"{UDP_ADDR}:135\"]\nlisten-udp = [\"{UDP_ADDR}:135\"]\nports = \"{DEMO_PORT}-{DEMO_PORT}\"\n\
             demo = true\n[dcom]\nexporter-port = {EXPORTER_PORT}\n"
        ),
    )
    .unwrap();
    let rx = ns.spawn_msrpcd(&[
        "--config",
        cfg.to_str().unwrap(),
        "--registration-socket",
        dir.path().join("epm.sock").to_str().unwrap(),
    ]);
    wait_lines(&rx, "msrpcd did not start in the namespace", |line| {
        line.starts_with("rpcecho demo on ")
    });
    // A stray UDP echo server in the dynamic range, which no rule allows.
    let stray = ns
        .cmd(
            "python3",
            &[
                "-c",
                &format!(
                    "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
                     s.bind(('{UDP_ADDR}',{UDP_STRAY_PORT}))\nwhile True:\n    d,a=s.recvfrom(64)\n    s.sendto(d,a)\n"
                ),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ns.procs.push(stray);
    let t0 = std::time::Instant::now();
    while !udp_echoes(&ns, UDP_STRAY_PORT) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the stray UDP listener never answered"
        );
    }

    // The rules, from the live endpoint map, the UDP probe and the configuration.
    let rules_out = ns.msrpc(&[
        "--timeout",
        "5",
        "firewall",
        UDP_ADDR,
        "--config",
        cfg.to_str().unwrap(),
        "--allow-from",
        "127.0.0.0/8",
    ]);
    assert!(rules_out.status.success(), "{}", text(&rules_out));
    let rules = String::from_utf8(rules_out.stdout).unwrap();
    assert!(
        rules.contains("udp dport 135 ct state new add @epm_udp_meter_v4"),
        "{rules}"
    );
    assert!(
        rules.contains("udp dport @rpc_udp_services accept"),
        "{rules}"
    );
    let rules_file = dir.path().join("rules.nft");
    std::fs::write(&rules_file, &rules).unwrap();
    ns.nft_load(&rules_file);

    // Connectionless RPC goes through: the audit's UDP probe, and an rpcecho call over UDP
    // (ept_map over UDP 135, then rpcecho's UDP port).
    let o = ns.msrpc(&[
        "--json",
        "--timeout",
        "10",
        "audit",
        "--no-bad-password",
        UDP_ADDR,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        doc["hosts"][0]["connectionless"]["answered"],
        true,
        "{}",
        text(&o)
    );
    let o = ns.msrpc(&[
        "--timeout",
        "10",
        "call",
        &format!("ncadg_ip_udp:{UDP_ADDR}"),
        "echo-add-one",
        "41",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("42"),
        "{}",
        text(&o)
    );

    // The stray UDP port is blocked, by the dynamic range's UDP drop rule.
    let before = range_drops(&ns, "udp");
    assert!(
        !udp_echoes(&ns, UDP_STRAY_PORT),
        "UDP port {UDP_STRAY_PORT} still reachable"
    );
    assert!(
        range_drops(&ns, "udp") > before,
        "the UDP drop rule did not count the datagram"
    );

    // The iptables form from the configuration (listen-udp) parses and builds.
    let ipt = ns.msrpc(&[
        "firewall",
        "--config",
        cfg.to_str().unwrap(),
        "--port",
        DEMO_PORT,
        "--allow-from",
        "127.0.0.0/8",
        "--format",
        "iptables",
    ]);
    assert!(ipt.status.success(), "{}", text(&ipt));
    let ipt_text = String::from_utf8_lossy(&ipt.stdout).into_owned();
    assert!(
        ipt_text.contains("-I INPUT 1 -p udp -j MSRPC-INPUT"),
        "{ipt_text}"
    );
    let ipt_file = dir.path().join("rules.ipt");
    std::fs::write(&ipt_file, &ipt.stdout).unwrap();
    let o = ns.run(
        "sh",
        &[
            "-c",
            &format!("iptables-restore --test --noflush < {}", ipt_file.display()),
        ],
    );
    assert!(o.status.success(), "{}\n{ipt_text}", text(&o));
}
