//! `msrpc`: a command-line client, inspector and load generator for Microsoft RPC (DCE/RPC
//! over `ncacn_ip_tcp`).
//!
//! # Commands
//! | command | what it does |
//! |---|---|
//! | `msrpc dump HOST[:PORT]` | Lists the endpoint mapper's database (`ept_lookup`, paged 500 entries at a time until the handle is null), grouped by interface like Impacket's rpcdump: interface UUID and version, known name and protocol, annotation, binding strings. Port 135 by default. |
//! | `msrpc map BINDING [--brute]` | Lists the interfaces a server offers: `mgmt inq_if_ids` first; when that fails (fault, not bound, error status) or with `--brute`, binds to every well-known interface and reports those accepted (like Impacket's rpcmap). |
//! | `msrpc call BINDING OP [ARGS]` | Calls one operation: `echo-add-one N`, `echo-data HEX` / `echo-data --len N`, `echo-sink --len N`, `echo-source N`, `echo-call STRING`, `echo-call2 LEVEL`, `echo-sleep SECONDS`, `echo-enum`, `echo-surrounding N`, `echo-double-pointer N\|null\|inner-null`, `mgmt-is-listening`, `mgmt-if-ids`, `mgmt-stats`, `mgmt-princ-name [--authn N]`, `ept-map UUID[/VERSION]` (a name from the well-known table works too: `ept-map samr`). |
//! | `msrpc bench BINDING --conns N --duration S [--op OP] [--warmup S] [--max-calls N]` | Closed-loop load: N connections, each calling OP back to back; reports calls/s, latency percentiles and errors. OP: `mgmt-is-listening` (default), `ept-map`, `ept-lookup`, `echo-add-one`, `echo-data:SIZE`. |
//! | `msrpc bench-idle BINDING --conns N [--bind] [--hold S]` | Opens N connections (`--parallel` at a time; with `--bind` each binds with one mgmt is_server_listening call), prints `holding N connections` (or a JSON line), holds them idle for `--hold` seconds or until SIGTERM/SIGINT, then closes them; exit 2 when any failed to open or was closed by the server meanwhile. For measuring the server's memory per idle connection. |
//! | `msrpc bench-raw serve ADDR` | A plain TCP request/response server for the baseline (length-prefixed frames). |
//! | `msrpc bench-raw run ADDR --conns N --duration S --request-size A --response-size B` | The same closed loop over raw TCP: A bytes out, B bytes back per round trip (frame headers included, so sizes can match RPC PDUs byte for byte). |
//! | `msrpc analyze FILE [--json] [--detectors-config FILE] [--max-flows N]` | Reads a pcap or pcapng capture offline: TCP reassembly, DCE/RPC on port 135, on ports the capture's endpoint mapper answers reveal and by content, and over SMB named pipes (SMB1 and SMB2/3 on ports 139 and 445; events carry `named_pipe`); prints a summary table (connections, PDUs by type, interfaces with calls per opnum, faults, authenticated users, malformed input, alerts, connectionless packets), or with `--json` one JSON line per audit event (`msrpc-audit`'s `Event`). A progress bar on a terminal for files of 16 MiB and more. Exit 1 for an unreadable or corrupt file (after printing what was read), 4 when the capture holds no DCE/RPC. |
//! | `msrpc dcom alive HOST[:PORT]` | Calls `IObjectExporter::ServerAlive2` on the OXID resolver (port 135 unless given; `--user` authenticates, Windows answers without): prints the COM version, the network addresses of the host's `ncacn_ip_tcp` string bindings (every name and address it advertises, other networks included), other string bindings and the security bindings (authentication services). Exit 2 when it cannot connect or the whole exchange exceeds twice `--timeout`, 3 for a fault, an error status or bindings that do not parse. |
//! | `msrpc dcom activate HOST[:PORT] CLSID [IID...]` | `IRemoteSCMActivator::RemoteCreateInstance` of CLSID for the IIDs (IUnknown by default; `--user` authenticates: Windows wants packet integrity or more): prints the object exporter's OXID, COM version, authnHint, IRemUnknown IPID, string bindings, the address a client would use (the first advertised `ncacn_ip_tcp` binding that accepts a connection within `--timeout`, else the dialled host with the advertised port) and each interface's HRESULT and IPID. Exit 3 for a fault, a failed HRESULT, or when no interface came back. |
//! | `msrpc dcom call HOST[:PORT] add A B \| echo TEXT \| spawn OFFSET A B` | Activates msrpcd's demo calculator (`--clsid`/`--iid` for another), calls `ICalculator::Add`/`Echo`/`Spawn` (then `Add` on the child) on the object exporter through the generated ORPC client with the IPID as object UUID, prints the result and gives the references back with `RemRelease`. Exit 3 for a fault or a failed HRESULT (an activation below packet integrity: `0x80070005`). |
//! | `msrpc dcom bench HOST[:PORT] --conns N --duration S [--op add\|echo:SIZE\|activate]` | Closed-loop DCOM load: N exporter connections calling `ICalculator::Add`/`Echo` on one activated calculator, or activate + release loops; reported like `bench`. |
//! | `msrpc audit HOST... [--concurrency N] [--sarif] [--fail-on SEVERITY] [--no-bad-password] [--no-udp]` | Audits what hosts (HOST, HOST:PORT, CIDR ranges) expose: endpoint map walk, `mgmt inq_if_ids` on every TCP endpoint, each interface probed under no logon, anonymous NTLM, a made-up account and `--user` with a no-op call (opnum 65535, which no interface defines), DCOM `ServerAlive2`, and (unless `--no-udp`) `ept_lookup` over UDP on the endpoint mapper's port (answered, the WAY callback, bytes each way); findings with severity, evidence and fixes (msrpcd, Windows, Samba); text, `--json` or SARIF. Read-only: bind, `ept_lookup`, `ept_lookup_handle_free`, `inq_if_ids`, `ServerAlive2` and the no-op call only. docs/hardening.md. |
//! | `msrpc firewall [HOST] [--audit FILE] [--config FILE] [--format nft\|iptables\|netsh] [--allow-from CIDR]...` | Prints firewall rules (never applies them): TCP 135 rate-limited, and exactly the ports the endpoint map lists (live walk of HOST), the ports of an audit result, or an msrpcd config's `ports` range and `[dcom] exporter-port`; other ports of the dynamic range blocked; sources limited to `--allow-from`; UDP 135 and the `ncadg_ip_udp` ports likewise, only where connectionless RPC is in use. |
//! | `msrpc users add FILE USER [--domain D]` / `users del FILE USER` / `users list FILE` | Manages the NTLM user file `msrpcd --users` reads (`name:domain:NT-hash` lines, mode 0600, written atomically; never a plaintext password). `add` reads the password from stdin when stdin is not a terminal, otherwise prompts twice without echo. `del` of an unknown user exits 4; an unreadable, world-readable or malformed file exits 1. |
//!
//! A BINDING is a string binding (`ncacn_ip_tcp:127.0.0.1[49152]`, `ncacn_ip_tcp:[::1][135]`;
//! the option `bigendian`, as in Samba's bindings, makes `call`, `dump`, `bench` and `map`'s
//! `inq_if_ids` send big-endian PDUs: `ncacn_ip_tcp:127.0.0.1[135,bigendian]`) or
//! `HOST[:PORT]`. Without a port, `call` and `bench` ask the endpoint mapper
//! (`--epm-port`, 135 by default) where the operation's interface listens; `map` and
//! `ept-map` use the endpoint mapper's own port.
//!
//! `--json` (before or after the command) prints one JSON document on stdout (for `bench-raw
//! serve`, one JSON line when listening); errors then also come as `{"error": {...}}`.
//!
//! # Exit codes
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | usage error (bad arguments, unparsable binding or UUID) |
//! | 2 | cannot resolve or connect, the connection failed or timed out, or the endpoint mapper has no endpoint for the interface |
//! | 3 | the server refused: fault, bind rejected (bind_nak or presentation context rejected), protocol error, or an error status from the operation |
//! | 4 | nothing found: no endpoints registered, no interface offered, `ept_map` found no tower |
//! | 5 | `audit --fail-on SEVERITY`: a finding of that severity or more |
//!
//! # Bounds
//! Every loop is bounded in count and time: `dump` stops after `--max-entries` (100 000) or
//! 300 s and frees the lookup handle; `map` probes each well-known interface version once,
//! within 300 s and 64 fresh connections; `ept-map` pages at most 64 times; `bench` and `bench-raw run` stop
//! at `--duration` (plus `--warmup`) or `--max-calls`, whichever comes first; `bench-raw serve`
//! stops after `--duration` (1 hour by default) and serves at most `--max-conns` connections.
//! Each connect and call is bounded by `--timeout` (10 s).

/// `println!` that ignores a closed stdout (`msrpc dump | head` must not panic).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that ignores a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod analyze;
mod audit;
mod bench;
mod call;
mod cl_probe;
mod dcom;
mod dcom_call;
mod dump;
mod exposure;
mod fail;
mod firewall;
mod idl;
mod idle;
mod map;
mod output;
mod raw;
mod register;
mod sensor;
mod stats;
mod target;
mod users;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::fail::Failure;

/// The exit codes, shown by every `--help`.
const EXIT_CODES: &str = "Exit codes:
  0  success
  1  usage error
  2  cannot resolve or connect; the connection failed or timed out; the endpoint mapper has
     no endpoint for the interface
  3  the server refused: fault, bind rejected, protocol error, error status
  4  nothing found: no endpoints, no interface offered, no tower
  5  msrpc audit: a finding at or above --fail-on";

/// Microsoft RPC (DCE/RPC over TCP) client, endpoint mapper inspector and load generator.
#[derive(Parser, Debug)]
#[command(name = "msrpc", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Print one JSON document (JSON lines for `bench-raw serve`) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Seconds allowed for each connect and each call.
    #[arg(long, global = true, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Port of the endpoint mapper, for bindings without a port.
    #[arg(long, global = true, default_value_t = 135, value_name = "PORT")]
    pub epm_port: u16,
    /// Authenticate with NTLMv2 as this user (the password comes from the environment
    /// variable MSRPC_PASSWORD, never from the command line).
    #[arg(long, global = true, value_name = "USER")]
    pub user: Option<String>,
    /// Authenticate with anonymous NTLM (no user, no password; what Impacket's rpcmap.py
    /// does by default): the server sees ANONYMOUS LOGON. Signs and seals like --user, with
    /// keys anyone who saw the logon can derive.
    #[arg(long, global = true, conflicts_with = "user")]
    pub anonymous: bool,
    /// The user's domain (default: empty).
    #[arg(long, global = true, default_value = "", value_name = "DOMAIN")]
    pub domain: String,
    /// Authentication level with --user or --anonymous: connect (the association is
    /// authenticated, PDUs are not protected), packet (PKT: signed, as integrity), integrity
    /// (signed) or privacy (signed and sealed).
    #[arg(long, global = true, default_value = "privacy",
          value_parser = ["connect", "packet", "integrity", "privacy"])]
    pub auth_level: String,
    /// Authentication type with --user or --anonymous: ntlm (RPC_C_AUTHN_WINNT, 0x0a) or spnego
    /// (RPC_C_AUTHN_GSS_NEGOTIATE, 0x09, carrying NTLMv2 with the mechListMIC).
    #[arg(long, global = true, default_value = "ntlm", value_parser = ["ntlm", "spnego"])]
    pub auth_type: String,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the endpoint mapper's registrations (ept_lookup), grouped by interface.
    #[command(after_help = EXIT_CODES)]
    Dump(dump::DumpArgs),
    /// List the interfaces a server offers (mgmt inq_if_ids, or bind probes).
    #[command(after_help = EXIT_CODES)]
    Map(map::MapArgs),
    /// Call one operation.
    #[command(after_help = EXIT_CODES)]
    Call(call::CallArgs),
    /// Closed-loop load generator over RPC.
    #[command(after_help = EXIT_CODES)]
    Bench(bench::BenchArgs),
    /// Open many connections and hold them idle (server memory per connection).
    #[command(after_help = EXIT_CODES)]
    BenchIdle(idle::IdleArgs),
    /// Raw TCP request/response baseline (server and load generator).
    #[command(subcommand, after_help = EXIT_CODES)]
    BenchRaw(raw::RawCommand),
    /// Fill a local msrpcd's endpoint map for benchmarks (synthetic elements, or a copy of
    /// another endpoint mapper's) and hold the registration.
    #[command(after_help = EXIT_CODES)]
    BenchRegister(register::RegisterArgs),
    /// Analyze DCE/RPC in a pcap or pcapng capture, or live on a network interface with
    /// `--interface` (summary table, or JSON lines of events).
    #[command(after_help = EXIT_CODES)]
    Analyze(analyze::AnalyzeArgs),
    /// DCOM: `alive HOST` (ServerAlive2: COM version and the host's network addresses),
    /// `activate HOST CLSID [IID...]` (RemoteCreateInstance), `call HOST add|echo|spawn ...`
    /// (the demo calculator), `bench HOST` (DCOM load).
    #[command(subcommand, after_help = EXIT_CODES)]
    Dcom(dcom::DcomCommand),
    /// Compile MIDL files into Rust (`#[derive(Ndr)]` types and `#[interface]` traits), one
    /// formatted `.rs` per file, for committing generated code (build scripts use msrpc-build).
    Idl(idl::IdlArgs),
    /// Audit hosts' MS-RPC exposure (endpoint map, interfaces and the weakest logon each
    /// accepts, DCOM resolver), graded with fixes; read-only probes. Text, --json or --sarif.
    #[command(after_help = EXIT_CODES)]
    Audit(audit::AuditArgs),
    /// Print firewall rules (nftables, iptables, Windows netsh) that allow 135 and exactly the
    /// RPC ports in use, from a live endpoint map, an msrpcd config or an audit result.
    #[command(after_help = EXIT_CODES)]
    Firewall(firewall::FirewallArgs),
    /// Manage the NTLM user file of `msrpcd --users` (add, del, list).
    #[command(subcommand, after_help = EXIT_CODES)]
    Users(users::UsersCommand),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(fail::Exit::Usage.code())
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            errln!("msrpc: cannot start the async runtime: {e}");
            return ExitCode::from(fail::Exit::Usage.code());
        }
    };
    let result = runtime.block_on(run(cli));
    // Connections still draining must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            f.report(json);
            ExitCode::from(f.exit.code())
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let g = cli.global;
    if !(g.timeout.is_finite() && g.timeout > 0.0 && g.timeout <= 86_400.0) {
        return Err(Failure::usage(
            "--timeout must be between 0 and 86400 seconds",
        ));
    }
    match cli.command {
        Command::Dump(a) => dump::run(&g, a).await,
        Command::Map(a) => map::run(&g, a).await,
        Command::Call(a) => call::run(&g, a).await,
        Command::Bench(a) => bench::run(&g, a).await,
        Command::BenchRaw(c) => raw::run(&g, c).await,
        Command::BenchIdle(a) => idle::run(&g, a).await,
        Command::BenchRegister(a) => register::run(&g, a).await,
        Command::Dcom(c) => dcom::run(&g, c).await,
        Command::Users(c) => users::run(&g, c),
        Command::Idl(a) => idl::run(&g, a),
        Command::Analyze(a) => analyze::run(&g, a),
        Command::Audit(a) => audit::run(&g, a).await,
        Command::Firewall(a) => firewall::run(&g, a).await,
    }
}
