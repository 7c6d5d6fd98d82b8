//! The running daemon: the endpoint mapper server (TCP endpoints and the registration
//! socket), the optional rpcecho demo, the security policy, signals (SIGHUP reloads the
//! policy and the user file) and shutdown.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{bail, Context};
use msrpc_echo::RpcechoInterface;
use msrpc_echo::{EchoService, RpcechoServer};
use msrpc_epm::db::IN_PROCESS_OWNER_BASE;
use msrpc_epm::mgmt::{MgmtInterface, MgmtServer};
use msrpc_epm::{EndpointDb, EpmService, EptInterface, EptServer, MgmtStats};
use msrpc_ntlm::{FileUserStore, MemoryUserStore, NtlmAcceptor, SpnegoAcceptor, UserStore};
use msrpc_policy::{Policy, PolicyHandle};
use msrpc_proto::dispatch::Interface;
use msrpc_proto::pdu::AuthType;
use msrpc_proto::security::SecurityProvider;
use msrpc_rt::{SecurityFactory, Server, TokioSleeper};

use crate::audit::Audit;
use crate::config::Config;
use crate::dcom;
use crate::diagnose;
use crate::shared::{mgmt_for, stats_observer};
use msrpc_dcom::demo::CalculatorServer;
use msrpc_dcom::server::demo::CalculatorService;
use msrpc_dcom::server::DcomHost;

/// The annotation of the demo's endpoint-map entries.
pub const DEMO_ANNOTATION: &str = "rpcecho demo";

/// The owner id of the demo's in-process registration.
pub const DEMO_OWNER: u64 = IN_PROCESS_OWNER_BASE;

/// How often the daemon checks whether a local `stop_server_listening` asked it to stop.
const STOP_POLL: Duration = Duration::from_millis(200);

/// Creates the registration socket's directory (mode 0750) when missing, and refuses one
/// that is a symbolic link or belongs to another user (other than root): a directory in
/// `/tmp` someone else created could hand the socket to them.
pub fn prepare_socket_dir(socket: &Path, euid: u32) -> anyhow::Result<()> {
    let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => {
            if meta.file_type().is_symlink() {
                bail!(
                    "the registration socket directory {} is a symbolic link: refusing it",
                    dir.display()
                );
            }
            if !meta.is_dir() {
                bail!(
                    "the registration socket directory {} is not a directory",
                    dir.display()
                );
            }
            if meta.uid() != euid && meta.uid() != 0 {
                bail!(
                    "the registration socket directory {} belongs to uid {}, not to this user \
                     (uid {euid}): refusing it (remove it or choose --registration-socket)",
                    dir.display(),
                    meta.uid()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(dir)
                .with_context(|| {
                    format!(
                        "cannot create the registration socket directory {}",
                        dir.display()
                    )
                })?;
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot inspect {}", dir.display()));
        }
    }
    Ok(())
}

/// SIGINT and SIGTERM, caught from before the first endpoint is announced (a signal that
/// arrives during start-up then stops the daemon cleanly instead of killing it), and SIGHUP
/// (reload).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
        })
    }

    /// Waits for SIGINT or SIGTERM, or for a local `stop_server_listening` (one of
    /// `stop_flags`); returns which. Each SIGHUP meanwhile runs `on_hup`.
    async fn stop_requested(
        &mut self,
        stop_flags: &[Arc<AtomicBool>],
        on_hup: &mut dyn FnMut(),
    ) -> &'static str {
        let mut poll = tokio::time::interval(STOP_POLL);
        loop {
            tokio::select! {
                _ = self.term.recv() => return "SIGTERM",
                _ = self.int.recv() => return "SIGINT",
                _ = self.hup.recv() => on_hup(),
                _ = poll.tick() => {
                    if stop_flags.iter().any(|f| f.load(Ordering::SeqCst)) {
                        return "mgmt stop_server_listening";
                    }
                }
            }
        }
    }
}

/// The NTLM user file (`--users`), re-read on SIGHUP: a [`UserStore`] whose accounts are
/// replaced as a whole by [`reload`](Self::reload) (binds already authenticated keep their
/// session; the next bind sees the new accounts).
pub struct UserFile {
    path: PathBuf,
    store: RwLock<Arc<FileUserStore>>,
}

impl UserFile {
    /// Loads the file at `path` (refused when malformed or readable by other users).
    pub fn load(path: &Path) -> anyhow::Result<UserFile> {
        let store = Self::read(path)?;
        Ok(UserFile {
            path: path.to_path_buf(),
            store: RwLock::new(Arc::new(store)),
        })
    }

    fn read(path: &Path) -> anyhow::Result<FileUserStore> {
        let store =
            FileUserStore::load(path).context("cannot load the NTLM user file (--users)")?;
        if store.is_empty() {
            tracing::warn!(file = %path.display(), "the NTLM user file has no accounts");
        }
        Ok(store)
    }

    /// Re-reads the file; on error the accounts in force stay. Returns the account count.
    pub fn reload(&self) -> anyhow::Result<usize> {
        let store = Self::read(&self.path)?;
        let n = store.len();
        *self
            .store
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(store);
        Ok(n)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many accounts are in force.
    pub fn accounts(&self) -> usize {
        self.current().len()
    }

    fn current(&self) -> Arc<FileUserStore> {
        self.store
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl UserStore for UserFile {
    fn nt_hash(&self, user: &str, domain: &str) -> Option<[u8; 16]> {
        self.current().nt_hash(user, domain)
    }
}

/// The security factory of every endpoint: NTLMv2 bare (`AuthType::WINNT`) or inside SPNEGO
/// (`AuthType::GSS_NEGOTIATE`), checking named users against the user file at `users` (when
/// given; without one every named logon fails like a wrong password) and accepting anonymous
/// logons as `ANONYMOUS LOGON` when `allow_anonymous`. Other authentication types stay
/// refused. `None` when neither is set: nothing is offered and authenticated binds get
/// bind_nak "authentication type not recognized", as before anonymous logons existed. The
/// returned [`UserFile`] reloads the accounts the factory's acceptors use.
pub fn ntlm_security(
    users: Option<&Path>,
    allow_anonymous: bool,
) -> anyhow::Result<(Option<SecurityFactory>, Option<Arc<UserFile>>)> {
    let file = users.map(UserFile::load).transpose()?.map(Arc::new);
    let store: Arc<dyn UserStore> = match &file {
        Some(f) => f.clone(),
        None if allow_anonymous => Arc::new(MemoryUserStore::new()),
        None => return Ok((None, None)),
    };
    match &file {
        Some(f) => tracing::info!(
            file = %f.path().display(),
            accounts = f.accounts(),
            anonymous = allow_anonymous,
            "accepting NTLMv2 and SPNEGO logons"
        ),
        None => {
            tracing::info!("accepting anonymous NTLMv2 and SPNEGO logons only (no --users file)")
        }
    }
    let factory: SecurityFactory = Arc::new(move |t: AuthType| {
        let ntlm = || NtlmAcceptor::new(store.clone()).allow_anonymous(allow_anonymous);
        if t == AuthType::WINNT {
            Some(Box::new(ntlm()) as Box<dyn SecurityProvider>)
        } else if t == AuthType::GSS_NEGOTIATE {
            Some(Box::new(SpnegoAcceptor::new(ntlm())) as Box<dyn SecurityProvider>)
        } else {
            None
        }
    });
    Ok((Some(factory), file))
}

/// Logs the policy in force.
fn log_policy(policy: &Policy, what: &str) {
    let f = policy.file();
    tracing::info!(
        restrict_remote_clients = ?f.restrict_remote_clients,
        epm_lookup = ?f.epm_lookup,
        default_action = ?f.default_action,
        interfaces = f.interface.len(),
        filters = f.filter.len(),
        "{what}"
    );
}

/// What SIGHUP does: puts the `[policy]` of a freshly loaded configuration (`new`) in force,
/// or keeps the current one when `new` is an error; re-reads the user file, keeping the
/// current accounts when it cannot. Settings other than the policy need a restart (logged).
pub fn reload(
    new: anyhow::Result<Config>,
    current: &mut Config,
    policy: &PolicyHandle,
    users: Option<&UserFile>,
) {
    match new {
        Err(e) => tracing::error!(
            error = format!("{e:#}"),
            "reload: the configuration is refused; the current policy stays in force"
        ),
        Ok(cfg) => {
            if cfg.policy == current.policy {
                tracing::info!("reload: security policy unchanged");
            } else {
                policy.replace(cfg.policy.clone());
                log_policy(&cfg.policy, "reload: new security policy in force");
            }
            let restart = [
                ("listen", cfg.listen != current.listen),
                ("listen-udp", cfg.listen_udp != current.listen_udp),
                ("ports", cfg.ports != current.ports),
                ("demo", cfg.demo != current.demo),
                (
                    "registration-socket",
                    cfg.registration_socket != current.registration_socket,
                ),
                ("log-level", cfg.log_level != current.log_level),
                ("users", cfg.users != current.users),
                ("security", cfg.security != current.security),
                ("limits", cfg.limits != current.limits),
                ("dcom", cfg.dcom != current.dcom),
            ];
            for (key, changed) in restart {
                if changed {
                    tracing::warn!(key, "reload: this setting changed; it takes a restart");
                }
            }
            current.policy = cfg.policy;
        }
    }
    if let Some(u) = users {
        match u.reload() {
            Ok(n) => {
                tracing::info!(file = %u.path().display(), accounts = n, "reload: user file re-read")
            }
            Err(e) => tracing::error!(
                file = %u.path().display(),
                error = format!("{e:#}"),
                "reload: the user file is refused; the current accounts stay"
            ),
        }
    }
}

/// Runs the daemon until a signal (or a local `stop_server_listening`), then shuts down.
/// On SIGHUP, `load` gives the configuration anew (the `--config` file re-read) and
/// [`reload`] applies its policy.
pub async fn run(
    mut cfg: Config,
    euid: u32,
    load: impl Fn() -> anyhow::Result<Config>,
) -> anyhow::Result<()> {
    let mut signals = Signals::install()?;
    let exe = std::env::current_exe().unwrap_or_else(|_| "msrpcd".into());
    prepare_socket_dir(&cfg.registration_socket, euid)?;
    let (security, users) = ntlm_security(cfg.users.as_deref(), cfg.security.allow_anonymous)?;
    let policy = PolicyHandle::new(cfg.policy.clone());
    log_policy(&cfg.policy, "security policy");

    let audit = Audit::start(&cfg.audit).await?;
    if let Some(addr) = audit.metrics_addr {
        println!("metrics on http://{addr}/metrics");
    }
    let db = Arc::new(Mutex::new(EndpointDb::with_max_entries(
        cfg.epm_max_entries,
    )));
    let epm_stats = MgmtStats::new();
    let ept = Arc::new(EptServer::new(EpmService::new(Arc::clone(&db))));
    let epm_ifs = [EptInterface::SYNTAX, MgmtInterface::SYNTAX];
    let epm_mgmt = mgmt_for(&epm_ifs, epm_stats.clone());
    let mut stop_flags = vec![epm_mgmt.stop_flag()];
    let dcom = if cfg.dcom.enabled {
        match start_dcom(&cfg, security.clone(), policy.clone(), &audit).await {
            Ok(d) => Some(d),
            Err(e) => {
                audit.shutdown().await;
                return Err(anyhow::anyhow!(diagnose::explain(
                    &e,
                    "the DCOM object exporter",
                    &exe
                )));
            }
        }
    } else {
        None
    };
    let mut builder = Server::builder()
        .limits(cfg.limits.to_rt())
        .udp_config(cfg.limits.to_cl())
        .transfer_preference(cfg.transfer_syntax.to_rt());
    for addr in &cfg.listen {
        builder = builder.listen(*addr);
    }
    for addr in &cfg.listen_udp {
        builder = builder.listen_udp(*addr);
    }
    if let Some(f) = &security {
        builder = builder.security(f.clone());
    }
    if let Some(d) = &dcom {
        // Windows' endpoint mapper lists none of these: they live on 135 by definition.
        builder = d.host.resolver_services(builder);
        // Processes hosting classes attach here (local calls only; see docs/dcom.md).
        builder = d.host.local_services(builder);
    }
    let epm = builder
        .policy(policy.clone())
        .listen_unix(&cfg.registration_socket)
        .service_arc(ept.clone())
        .service(MgmtServer::new(epm_mgmt))
        .call_done_stubs(msrpc_audit::live::REQUEST_STUB_INTERFACES)
        .observer(audit.observer(stats_observer(epm_stats)))
        .start()
        .await
        .map_err(|e| anyhow::anyhow!(diagnose::explain(&e, "the endpoint mapper", &exe)))?;
    for addr in epm.local_addrs() {
        println!("EPM listening on {addr}");
    }
    for addr in epm.udp_addrs() {
        println!("EPM (udp) listening on {addr}");
    }
    if let Some(d) = &dcom {
        if let Some(server) = &d.exporter {
            for addr in server.local_addrs() {
                println!("DCOM object exporter on {addr}");
            }
        }
    }
    println!("registration socket {}", cfg.registration_socket.display());

    let demo = if cfg.demo {
        match start_demo(&cfg, &db, security.clone(), policy.clone(), &audit).await {
            Ok(d) => Some(d),
            Err(e) => {
                epm.shutdown().await;
                return Err(anyhow::anyhow!(diagnose::explain(
                    &e,
                    "the rpcecho demo",
                    &exe
                )));
            }
        }
    } else {
        None
    };
    if let Some((server, flag)) = &demo {
        stop_flags.push(flag.clone());
        for addr in server.local_addrs() {
            println!("rpcecho demo on {addr}");
        }
        for addr in server.udp_addrs() {
            println!("rpcecho demo (udp) on {addr}");
        }
    }
    audit.add_gauges(server_gauges(
        ept,
        epm.handle(),
        demo.as_ref().map(|(s, _)| s.handle()),
        dcom.as_ref()
            .map(|d| (d.host.clone(), d.exporter.as_ref().map(Server::handle))),
    ));
    tracing::info!(
        endpoints = epm.local_addrs().len(),
        demo = cfg.demo,
        "msrpcd ready"
    );

    let mut on_hup = || {
        tracing::info!("SIGHUP: reloading the security policy and the user file");
        reload(load(), &mut cfg, &policy, users.as_deref());
    };
    let why = signals.stop_requested(&stop_flags, &mut on_hup).await;
    tracing::info!(reason = why, "shutting down");
    let epm_handle = epm.handle();
    match demo {
        Some((server, _)) => {
            tokio::join!(server.shutdown(), epm_handle.shutdown());
        }
        None => epm_handle.shutdown().await,
    }
    if let Some(d) = dcom {
        d.gc.abort();
        if let Some(server) = d.exporter {
            server.shutdown().await;
        }
    }
    audit.shutdown().await;
    println!("msrpcd stopped ({why})");
    Ok(())
}

/// The gauges `/metrics` samples from the running servers: live EPM lookup handles,
/// association groups and open connections per server (`epm`, `demo`, `dcom`: the object
/// exporter), and the DCOM objects, IPIDs and ping sets alive. They read the servers' own
/// state, so unlike the event counters they cannot miss a dropped audit input.
fn server_gauges(
    ept: Arc<EptServer<EpmService>>,
    epm: msrpc_rt::ServerHandle,
    demo: Option<msrpc_rt::ServerHandle>,
    dcom: Option<(Arc<DcomHost>, Option<msrpc_rt::ServerHandle>)>,
) -> crate::audit::GaugeFn {
    use std::fmt::Write as _;
    Box::new(move |out: &mut String| {
        let exporter = dcom.as_ref().and_then(|(_, e)| e.as_ref());
        let servers = std::iter::once(("epm", &epm))
            .chain(demo.iter().map(|d| ("demo", d)))
            .chain(exporter.map(|d| ("dcom", d)));
        let servers: Vec<_> = servers.collect();
        if let Some((host, _)) = &dcom {
            let (objects, ipids, sets) = host.counts();
            for (metric, help, v) in [
                ("msrpc_dcom_objects", "DCOM objects exported now.", objects),
                (
                    "msrpc_dcom_ipids",
                    "DCOM interface pointers (IPIDs) alive now.",
                    ipids,
                ),
                (
                    "msrpc_dcom_ping_sets",
                    "DCOM clients' ping sets alive now.",
                    sets,
                ),
            ] {
                let _ = writeln!(
                    out,
                    "# HELP {metric} {help}\n# TYPE {metric} gauge\n{metric} {v}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP msrpc_epm_live_handles Endpoint mapper lookup handles (unfinished ept_lookup/ept_map walks) alive now.\n\
             # TYPE msrpc_epm_live_handles gauge\n\
             msrpc_epm_live_handles {}",
            ept.service().live_handles()
        );
        type Sample = fn(&msrpc_rt::ServerHandle) -> usize;
        let per_server: [(&str, &str, Sample); 2] = [
            (
                "msrpc_assoc_groups",
                "Association groups alive now, per server.",
                msrpc_rt::ServerHandle::assoc_groups,
            ),
            (
                "msrpc_server_connections",
                "Connections the server holds now, per server.",
                msrpc_rt::ServerHandle::connections,
            ),
        ];
        for (metric, help, value) in per_server {
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} gauge");
            for (name, h) in &servers {
                let _ = writeln!(out, "{metric}{{server=\"{name}\"}} {}", value(h));
            }
        }
    })
}

/// Starts the rpcecho demo (rpcecho + mgmt) on a dynamic port of every listen address and
/// registers it in the endpoint map in-process.
async fn start_demo(
    cfg: &Config,
    db: &Arc<Mutex<EndpointDb>>,
    security: Option<SecurityFactory>,
    policy: PolicyHandle,
    audit: &Audit,
) -> Result<(Server, Arc<AtomicBool>), msrpc_rt::StartError> {
    let stats = MgmtStats::new();
    let echo = RpcechoServer::new(EchoService::new(TokioSleeper));
    let ifs = [RpcechoInterface::SYNTAX, MgmtInterface::SYNTAX];
    let mgmt = mgmt_for(&ifs, stats.clone());
    let flag = mgmt.stop_flag();
    let mut builder = Server::builder()
        .dynamic_ports(cfg.ports.range())
        .limits(cfg.limits.to_rt())
        .udp_config(cfg.limits.to_cl())
        .transfer_preference(cfg.transfer_syntax.to_rt());
    for addr in &cfg.listen {
        builder = builder.listen(std::net::SocketAddr::new(addr.ip(), 0));
    }
    // With UDP enabled, the demo serves rpcecho over UDP too (a port of the system's choice on
    // each UDP address), and its ncadg_ip_udp towers go in the endpoint map.
    for addr in &cfg.listen_udp {
        builder = builder.listen_udp(std::net::SocketAddr::new(addr.ip(), 0));
    }
    if let Some(f) = security {
        builder = builder.security(f);
    }
    let server = builder
        .policy(policy)
        .service(echo)
        .service(MgmtServer::new(mgmt))
        .call_done_stubs(msrpc_audit::live::REQUEST_STUB_INTERFACES)
        .observer(audit.observer(stats_observer(stats)))
        .start()
        .await?;
    let entries = server.epm_entries(DEMO_ANNOTATION);
    let registered = db
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .register(DEMO_OWNER, entries, true);
    if let Err(e) = registered {
        tracing::error!(error = %e, "cannot register the demo in the endpoint map");
    }
    Ok((server, flag))
}

/// DCOM in the daemon: the shared host (tables, classes), the object exporter's server (when
/// classes are hosted) and the garbage-collection task.
struct Dcom {
    host: Arc<DcomHost>,
    exporter: Option<Server>,
    gc: tokio::task::JoinHandle<()>,
}

/// Creates the DCOM host (the demo's classes with `--demo`), starts the object exporter on a
/// dynamic port of every listen address when it hosts classes, and the GC timer.
async fn start_dcom(
    cfg: &Config,
    security: Option<SecurityFactory>,
    policy: PolicyHandle,
    audit: &Audit,
) -> Result<Dcom, msrpc_rt::StartError> {
    let classes = if cfg.demo && cfg.dcom.demo_class {
        msrpc_dcom::server::demo::demo_classes()
    } else {
        msrpc_dcom::server::ClassRegistry::default()
    };
    let gc = msrpc_dcom::tables::GcConfig {
        ping_period: cfg.dcom.ping_period,
        missed_pings: cfg.dcom.missed_pings,
        ..msrpc_dcom::tables::GcConfig::DEFAULT
    };
    let host = Arc::new(
        DcomHost::new(
            classes,
            msrpc_dcom::server::DcomSettings {
                min_activation_level: cfg.dcom.min_activation_level,
                gc,
                gc_interval: cfg.dcom.gc_interval,
            },
            &cfg.listen,
            security.is_some(),
            Some(dcom::observer(audit.sender())),
        )
        .with_class_permission(dcom::class_permission(policy.clone())),
    );
    let exporter = if host.classes().is_empty() {
        None
    } else {
        let limits = msrpc_rt::Limits {
            max_auth_contexts: msrpc_dcom::server::EXPORTER_AUTH_CONTEXTS,
            ..cfg.limits.to_rt()
        };
        let mut builder = Server::builder()
            .limits(limits)
            .transfer_preference(cfg.transfer_syntax.to_rt());
        if cfg.dcom.exporter_port == 0 {
            builder = builder.dynamic_ports(cfg.ports.range());
        }
        for addr in &cfg.listen {
            builder = builder.listen(std::net::SocketAddr::new(addr.ip(), cfg.dcom.exporter_port));
        }
        if let Some(f) = security {
            builder = builder.security(f);
        }
        let server = host
            .exporter_services(builder.policy(policy))
            .service(CalculatorServer::new(CalculatorService(host.clone())))
            // IRemUnknown(2)'s stubs, for their `dcom_rem_unknown` records.
            .call_done_stubs(msrpc_audit::live::REQUEST_STUB_INTERFACES)
            .observer(audit.observer(Arc::new(|_: &msrpc_rt::ConnEvent<'_>| {})))
            .start()
            .await?;
        if let Err(e) = host.set_exporter(&server.local_addrs()) {
            tracing::error!(error = %e, "DCOM: cannot register the object exporter");
        }
        Some(server)
    };
    let gc = host.spawn_gc();
    Ok(Dcom { host, exporter, gc })
}
