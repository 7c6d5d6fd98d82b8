//! A process hosting classes behind the machine's resolver (features `server` and `rt`):
//! [`DcomHost::attach`] registers the host's object exporter, its classes and, as they are
//! exported, its OIDs with msrpcd over the registration socket (`crate::local`'s
//! `ILocalObjectExporter`); clients then activate at port 135 and ping there, while this
//! process keeps its IPIDs and reference counts and serves `IRemUnknown` and its interfaces.
//!
//! The attachment's task sends the OIDs the services exported or released, polls the OIDs
//! msrpcd ran down (no client pinged them for the ping timeout) every
//! [`AttachOptions::rundown_poll`] and drops those objects, and notices when msrpcd goes
//! ([`Attachment::lost`]): the OXID is msrpcd's, so it is not re-registered; the process should
//! exit (and be restarted) then.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use msrpc_ndr::ContextHandle;
use msrpc_policy::Level;
use msrpc_proto::dispatch::CallError;
use msrpc_rt::{Client, ClientOptions, ConnectError, ServerBuilder};
use tokio::sync::{watch, Notify};

use super::{lock, string_bindings, Activator, DcomEvent, DcomHost, GcReason};
use crate::activator::{ActivationServer, RemoteScmActivatorServer};
use crate::dualstring::{Bindings, DualStringArray};
use crate::local::{
    AddOidsRequest, FreeOidsRequest, LocalObjectExporterClient, OidList, RegisterClassRequest,
    RegisterExporterRequest, RunDownOidsRequest, UnregisterExporterRequest, MAX_OIDS_PER_CALL,
};
use crate::{HResult, Ipid, Oxid};

/// How a host attaches to the machine's resolver.
#[derive(Clone, Debug)]
pub struct AttachOptions {
    /// The Unix socket where this process serves its activators
    /// ([`DcomHost::activator_services`]): msrpcd forwards activations of its classes there.
    /// Keep it in a directory only msrpcd's user and this process's can reach: calls on it are
    /// trusted as checked by msrpcd.
    pub activator_socket: PathBuf,
    /// How often to fetch the OIDs msrpcd ran down (and keep the connection clear of its idle
    /// timeout). Default 30 s.
    pub rundown_poll: Duration,
    /// Connect and call timeouts on the registration socket.
    pub client: ClientOptions,
}

impl AttachOptions {
    /// The defaults, with the activator socket at `activator_socket`.
    pub fn new(activator_socket: impl Into<PathBuf>) -> Self {
        AttachOptions {
            activator_socket: activator_socket.into(),
            rundown_poll: Duration::from_secs(30),
            client: ClientOptions {
                connect_timeout: Duration::from_secs(5),
                call_timeout: Some(Duration::from_secs(10)),
                ..ClientOptions::default()
            },
        }
    }
}

/// Why [`DcomHost::attach`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// The host has an object exporter already (`set_exporter` or an earlier attach).
    #[error("the host has an object exporter already")]
    AlreadyExporting,
    /// msrpcd's registration socket does not answer.
    #[error("connecting to the registration socket: {0}")]
    Connect(#[from] ConnectError),
    /// A call failed.
    #[error("{what}: {source}")]
    Call {
        /// The operation.
        what: &'static str,
        /// Why.
        source: CallError,
    },
    /// msrpcd refused an operation with this status.
    #[error("{what} refused with status {status:#x}")]
    Refused {
        /// The operation.
        what: &'static str,
        /// The status.
        status: u32,
    },
    /// The exporter's bindings do not encode, or the local tables refused the exporter.
    #[error("the exporter: {0}")]
    Exporter(String),
}

/// The connection to msrpcd an attached host keeps.
pub(super) struct Link {
    client: Client,
    handle: ContextHandle,
    /// Held while OIDs are sent: a caller of `exports_registered` returns only once what was
    /// taken before it is through.
    sending: tokio::sync::Mutex<()>,
}

impl Link {
    fn api(&self) -> LocalObjectExporterClient<Client> {
        LocalObjectExporterClient::new(self.client.clone())
    }

    /// Sends the queued OIDs (under the sending lock).
    async fn flush(&self, host: &DcomHost) -> Result<(), AttachError> {
        let _guard = self.sending.lock().await;
        let pending = host.attached.take();
        for chunk in pending.add.chunks(MAX_OIDS_PER_CALL) {
            let r = self
                .api()
                .add_oids(AddOidsRequest {
                    exporter: self.handle,
                    oids: OidList::new(chunk.to_vec()),
                })
                .await
                .map_err(|source| AttachError::Call {
                    what: "add_oids",
                    source,
                })?;
            if r.result != 0 {
                // The objects cannot be pinged: drop them rather than hand them out.
                lock(&host.tables).remove_objects(chunk);
                return Err(AttachError::Refused {
                    what: "add_oids",
                    status: r.result,
                });
            }
        }
        for chunk in pending.free.chunks(MAX_OIDS_PER_CALL) {
            let r = self
                .api()
                .free_oids(FreeOidsRequest {
                    exporter: self.handle,
                    oids: OidList::new(chunk.to_vec()),
                })
                .await
                .map_err(|source| AttachError::Call {
                    what: "free_oids",
                    source,
                })?;
            if r.result != 0 {
                tracing::warn!(status = r.result, "DCOM: msrpcd refused free_oids");
            }
        }
        Ok(())
    }

    /// Fetches the OIDs msrpcd ran down and drops those objects.
    async fn collect(&self, host: &DcomHost) -> Result<(), AttachError> {
        loop {
            let batch = u32::try_from(MAX_OIDS_PER_CALL).unwrap_or(u32::MAX);
            let r = self
                .api()
                .run_down_oids(RunDownOidsRequest {
                    exporter: self.handle,
                    max: batch,
                })
                .await
                .map_err(|source| AttachError::Call {
                    what: "run_down_oids",
                    source,
                })?;
            let n = r.oids.oids.len();
            let gone = lock(&host.tables).remove_objects(&r.oids.oids);
            if !gone.is_empty() {
                let (objects, ipids, sets) = host.counts();
                tracing::info!(
                    collected = gone.len(),
                    objects,
                    "DCOM: objects run down by msrpcd (no client pinged them)"
                );
                host.emit(DcomEvent::Collected {
                    // Run down by msrpcd's collector: no connection of ours.
                    conn_id: 0,
                    oids: gone,
                    reason: GcReason::PingTimeout,
                    objects,
                    ipids,
                    sets,
                });
            }
            if n < MAX_OIDS_PER_CALL {
                return Ok(());
            }
        }
    }
}

/// A host attached to msrpcd by [`DcomHost::attach`].
pub struct Attachment {
    oxid: Oxid,
    lost: watch::Receiver<Option<String>>,
    task: tokio::task::JoinHandle<()>,
    host: Arc<DcomHost>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("oxid", &self.oxid)
            .finish()
    }
}

impl Attachment {
    /// The OXID msrpcd gave the exporter.
    pub fn oxid(&self) -> Oxid {
        self.oxid
    }

    /// Completes when the connection to msrpcd is lost (it stopped or restarted), with why.
    pub async fn lost(&self) -> String {
        let mut rx = self.lost.clone();
        let why = match rx.wait_for(Option::is_some).await {
            Ok(why) => why.clone().unwrap_or_default(),
            Err(_) => "the attachment task ended".to_string(),
        };
        why
    }

    /// Unregisters the exporter (its OIDs and classes go from msrpcd) and closes the
    /// connection. Dropping the attachment closes the connection too (msrpcd then runs the
    /// exporter down all the same).
    pub async fn detach(self) {
        self.task.abort();
        if let Some(link) = self.host.attached.link.get() {
            let r = link
                .api()
                .unregister_exporter(UnregisterExporterRequest {
                    exporter: link.handle,
                })
                .await;
            if let Err(e) = r {
                tracing::debug!(error = %e, "DCOM: unregister_exporter");
            }
            link.client.close();
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(link) = self.host.attached.link.get() {
            link.client.close();
        }
    }
}

/// `authnHint` for a minimum activation level.
fn hint(level: Level) -> u32 {
    match level {
        Level::Privacy => 6,
        Level::Integrity => 5,
        Level::Pkt => 4,
        Level::Call => 3,
        Level::Connect => 2,
        Level::None => 1,
    }
}

impl DcomHost {
    /// Adds the activators only (`IRemoteSCMActivator`, `IActivation`) to `builder`: for the
    /// Unix socket ([`AttachOptions::activator_socket`]) where an attached process receives
    /// the activations msrpcd forwards. Calls there are local and trusted as checked by
    /// msrpcd (minimum level, shape).
    pub fn activator_services(self: &Arc<Self>, builder: ServerBuilder) -> ServerBuilder {
        builder
            .service(RemoteScmActivatorServer::new(Activator(self.clone())))
            .service(ActivationServer::new(Activator(self.clone())))
    }

    /// Attaches this host to the machine's resolver (msrpcd) at `registration_socket`
    /// instead of running a resolver of its own: registers the object exporter listening at
    /// `exporter_addrs` (started with [`DcomHost::exporter_services`], in place of
    /// [`DcomHost::set_exporter`]) and every class of the registry, to be activated through
    /// msrpcd (port 135) and forwarded to `opts.activator_socket`. From then on new objects'
    /// OIDs are registered with msrpcd (await [`DcomHost::exports_registered`] before handing
    /// an interface pointer out of a method), clients ping msrpcd, and the objects msrpcd runs
    /// down are dropped here; [`DcomHost::spawn_gc`] is not needed.
    pub async fn attach(
        self: &Arc<Self>,
        registration_socket: impl AsRef<Path>,
        exporter_addrs: &[SocketAddr],
        opts: AttachOptions,
    ) -> Result<Attachment, AttachError> {
        if self.exporter.get().is_some() || self.attached.link.get().is_some() {
            return Err(AttachError::AlreadyExporting);
        }
        let client =
            Client::connect_unix(registration_socket.as_ref(), opts.client.clone()).await?;
        let bindings = Bindings {
            strings: string_bindings(exporter_addrs, true),
            security: self.security.clone(),
        };
        let dsa = DualStringArray::from_bindings(&bindings)
            .map_err(|e| AttachError::Exporter(e.to_string()))?;
        let rem_unknown = Ipid(uuid::Uuid::new_v4());
        let authn_hint = hint(self.settings.min_activation_level);
        let api = LocalObjectExporterClient::new(client.clone());
        let call = |what| move |source| AttachError::Call { what, source };
        let r = api
            .register_exporter(RegisterExporterRequest {
                bindings: dsa,
                ipid_rem_unknown: rem_unknown,
                authn_hint,
            })
            .await
            .map_err(call("register_exporter"))?;
        if r.result != 0 {
            client.close();
            return Err(AttachError::Refused {
                what: "register_exporter",
                status: r.result,
            });
        }
        let (oxid, handle) = (r.oxid, r.exporter);
        lock(&self.tables)
            .insert_exporter(Some(oxid), Some(rem_unknown), bindings, authn_hint)
            .map_err(|e| AttachError::Exporter(e.to_string()))?;
        let _ = self.exporter.set(oxid);
        let _ = self.exporter_addrs.set(exporter_addrs.to_vec());
        let activator = opts.activator_socket.to_string_lossy().into_owned();
        for (clsid, (name, _)) in &self.classes.classes {
            let r = api
                .register_class(RegisterClassRequest {
                    exporter: handle,
                    clsid: *clsid,
                    name: (*name).to_string(),
                    activator: activator.clone(),
                })
                .await
                .map_err(call("register_class"))?;
            if r.result != 0 {
                client.close();
                return Err(AttachError::Refused {
                    what: "register_class",
                    status: r.result,
                });
            }
            tracing::info!(%clsid, name, "DCOM: class registered with msrpcd");
        }
        let link = Arc::new(Link {
            client: client.clone(),
            handle,
            sending: tokio::sync::Mutex::new(()),
        });
        let _ = self.attached.link.set(link.clone());
        let notify = Arc::new(Notify::new());
        let wake = notify.clone();
        self.attached.activate(Box::new(move || wake.notify_one()));
        let (lost_tx, lost) = watch::channel(None);
        let host = self.clone();
        let poll = opts.rundown_poll;
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let why = loop {
                let r = tokio::select! {
                    _ = link.client.closed() => break "msrpcd closed the connection".to_string(),
                    _ = notify.notified() => link.flush(&host).await,
                    _ = tick.tick() => match link.flush(&host).await {
                        Ok(()) => link.collect(&host).await,
                        Err(e) => Err(e),
                    },
                };
                match r {
                    Ok(()) => {}
                    Err(AttachError::Refused { what, status }) => {
                        tracing::warn!(what, status, "DCOM: msrpcd refused");
                    }
                    Err(e) => break e.to_string(),
                }
            };
            tracing::warn!(reason = %why, "DCOM: lost msrpcd");
            let _ = lost_tx.send(Some(why));
        });
        tracing::info!(?oxid, "DCOM: object exporter attached to msrpcd");
        Ok(Attachment {
            oxid,
            lost,
            task,
            host: self.clone(),
        })
    }

    /// Completes once msrpcd knows every OID this host exported so far (at once when it is
    /// not attached). A method handing out a new interface pointer awaits it before answering,
    /// so the client's first ping finds the OID. `CO_E_SERVER_EXEC_FAILURE` when msrpcd
    /// cannot be told (the new objects are dropped then).
    pub async fn exports_registered(&self) -> Result<(), HResult> {
        let Some(link) = self.attached.link.get() else {
            return Ok(());
        };
        match tokio::time::timeout(Duration::from_secs(10), link.flush(self)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "DCOM: cannot register new OIDs with msrpcd");
                Err(super::CO_E_SERVER_EXEC_FAILURE)
            }
            Err(_) => Err(super::CO_E_SERVER_EXEC_FAILURE),
        }
    }
}
