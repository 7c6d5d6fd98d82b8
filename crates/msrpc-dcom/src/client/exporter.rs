//! The object exporter side of the client: [`Exporter`] (a connection to one exporter and its
//! `IRemUnknown2`) and [`ComRef`], an owned reference to one interface of one object there,
//! released when dropped.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use msrpc_rt::{Client, ClientOptions};
use tokio::sync::{mpsc, oneshot};

use super::{ClientError, PingTask};
use crate::com::{ComInterface, ComPtr};
use crate::error::DcomError;
use crate::hresult::HResult;
use crate::ids::{Iid, Ipid, Oid, Oxid};
use crate::objref::ObjRef;
use crate::orpc::{
    MInterfacePointer, OrpcThis, RemInterfaceRef, RemQiResult, StdObjRef, SORF_NOPING,
};
use crate::remunknown2::RemUnknown2Client;

/// Releases taken into one background batch, at most.
const MAX_BATCH: usize = 1024;
/// References given back by one RemRelease, at most.
const MAX_REFS_PER_CALL: usize = 512;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How an [`Exporter`] treats the references it hands out.
#[derive(Clone, Debug)]
pub struct ExporterOptions {
    /// The exporter's OXID, when known (from the activation): an interface pointer naming
    /// another exporter is refused, since its references could not be released here.
    pub oxid: Option<Oxid>,
    /// The ping task of the exporter machine's resolver: the OIDs of the objects held are
    /// pinged (unless marshaled with `SORF_NOPING`). `None`: nothing is pinged.
    pub pinger: Option<PingTask>,
    /// The bound of each RemRelease sent for dropped references. Default 30 s.
    pub release_timeout: Duration,
    /// How long the release task waits after a handle is dropped for others to join the same
    /// RemRelease (a scope ending drops several). Default 5 ms.
    pub release_linger: Duration,
}

impl Default for ExporterOptions {
    fn default() -> Self {
        ExporterOptions {
            oxid: None,
            pinger: None,
            release_timeout: Duration::from_secs(30),
            release_linger: Duration::from_millis(5),
        }
    }
}

/// What the background releases of an [`Exporter`] have done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReleaseStats {
    /// RemRelease calls that succeeded.
    pub calls: u64,
    /// References given back by them.
    pub references: u64,
    /// RemRelease calls that failed (transport, timeout, error HRESULT), and references that
    /// could not be queued.
    pub failures: u64,
    /// The most recent failure.
    pub last_error: Option<String>,
}

enum ReleaseMsg {
    /// Give back `refs` (when not empty); then, unless another handle took the OID again,
    /// take `unping` out of the ping set.
    Release {
        refs: Option<RemInterfaceRef>,
        unping: Option<Oid>,
    },
    /// Answer once everything queued before is done.
    Flush(oneshot::Sender<()>),
}

struct ExporterShared {
    client: Client,
    rem_unknown: Ipid,
    oxid: Option<Oxid>,
    pinger: Option<PingTask>,
    /// Handles alive per pinged OID: the OID leaves the ping set when its count reaches 0.
    live: Arc<Mutex<HashMap<Oid, usize>>>,
    queue: Option<mpsc::UnboundedSender<ReleaseMsg>>,
    stats: Arc<Mutex<ReleaseStats>>,
    release_timeout: Duration,
}

/// A connection to an object exporter (the address [`super::choose_exporter`] found), calling
/// its `IRemUnknown2` (MS-DCOM 3.1.1.5.7) at the IPID the activation named
/// ([`super::Activated::ipid_rem_unknown`]): ORPC calls with ORPCTHIS 5.7, the IPID as the
/// object UUID, each bounded by [`ClientOptions::call_timeout`]. Authentication is the
/// caller's `opts.auth`: Windows exporters want at least the activation's `authnHint`.
///
/// It hands out [`ComRef`]s ([`Exporter::adopt`], [`Exporter::query`], [`ComRef`]'s methods),
/// owned references whose drop gives them back: a background task (one per exporter, started
/// with it, so create it inside a tokio runtime) batches the releases of the handles dropped
/// together into one `RemRelease` each bounded by [`ExporterOptions::release_timeout`], then
/// takes the objects no handle holds any more out of the ping set. The connection stays open
/// while a clone or a handle exists and until the queued releases are sent.
///
/// Clones share the connection, the handles' bookkeeping and the release task.
#[derive(Clone)]
pub struct Exporter {
    shared: Arc<ExporterShared>,
}

impl fmt::Debug for Exporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exporter")
            .field("peer", &self.shared.client.peer_addr())
            .field("rem_unknown", &self.shared.rem_unknown)
            .field("oxid", &self.shared.oxid)
            .finish()
    }
}

impl Exporter {
    /// Connects to the exporter at `host:port`; no OXID check, nothing pinged.
    pub async fn connect(
        host: &str,
        port: u16,
        rem_unknown: Ipid,
        opts: ClientOptions,
    ) -> Result<Exporter, ClientError> {
        Exporter::connect_with(host, port, rem_unknown, opts, ExporterOptions::default()).await
    }

    /// Connects to the exporter at `host:port` with `xo`.
    pub async fn connect_with(
        host: &str,
        port: u16,
        rem_unknown: Ipid,
        opts: ClientOptions,
        xo: ExporterOptions,
    ) -> Result<Exporter, ClientError> {
        let client = Client::connect_host(host, port, opts).await?;
        Ok(Exporter::from_client(client, rem_unknown, xo))
    }

    /// An exporter over a connection already made. Outside a tokio runtime there is no
    /// release task: dropped handles are only counted as failures in [`Exporter::release_stats`].
    pub fn from_client(client: Client, rem_unknown: Ipid, xo: ExporterOptions) -> Exporter {
        let live = Arc::new(Mutex::new(HashMap::new()));
        let stats = Arc::new(Mutex::new(ReleaseStats::default()));
        let queue = tokio::runtime::Handle::try_current().ok().map(|rt| {
            let (tx, rx) = mpsc::unbounded_channel();
            rt.spawn(release_task(ReleaseTask {
                rx,
                client: client.clone(),
                rem_unknown,
                pinger: xo.pinger.clone(),
                live: Arc::clone(&live),
                stats: Arc::clone(&stats),
                timeout: xo.release_timeout,
                linger: xo.release_linger,
            }));
            tx
        });
        Exporter {
            shared: Arc::new(ExporterShared {
                client,
                rem_unknown,
                oxid: xo.oxid,
                pinger: xo.pinger,
                live,
                queue,
                stats,
                release_timeout: xo.release_timeout,
            }),
        }
    }

    /// The connection.
    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// The IPID of the exporter's IRemUnknown.
    pub fn rem_unknown_ipid(&self) -> Ipid {
        self.shared.rem_unknown
    }

    /// The exporter's OXID, when known.
    pub fn oxid(&self) -> Option<Oxid> {
        self.shared.oxid
    }

    /// The ping task its objects are pinged by, if any.
    pub fn pinger(&self) -> Option<&PingTask> {
        self.shared.pinger.as_ref()
    }

    /// What the background releases have done.
    pub fn release_stats(&self) -> ReleaseStats {
        lock(&self.shared.stats).clone()
    }

    fn rem_unknown(&self) -> RemUnknown2Client<Client> {
        RemUnknown2Client::new(self.shared.client.clone()).with_object(self.shared.rem_unknown.0)
    }

    /// `RemQueryInterface`: `refs` references to each of `iids` of the object behind `ipid`;
    /// one result per IID (its HRESULT and, on success, its STDOBJREF). A failed call
    /// HRESULT is an error; the entries' own HRESULTs are returned as they are. The references
    /// are the caller's to release: [`Exporter::query`] returns handles instead.
    pub async fn query_interface(
        &self,
        ipid: Ipid,
        refs: u32,
        iids: &[Iid],
    ) -> Result<Vec<RemQiResult>, ClientError> {
        let what = "RemQueryInterface";
        let c_iids = u16::try_from(iids.len())
            .map_err(|_| DcomError::Unencodable("more than 65535 IIDs"))?;
        let resp = self
            .rem_unknown()
            .rem_query_interface(crate::remunknown::RemQueryInterfaceRequest {
                orpcthis: OrpcThis::new(uuid::Uuid::new_v4()),
                ripid: ipid,
                c_refs: refs,
                c_iids,
                iids: iids.to_vec(),
            })
            .await
            .map_err(|source| ClientError::Call { what, source })?;
        if !resp.result.is_success() {
            return Err(ClientError::Status {
                what,
                status: resp.result.0,
            });
        }
        let results = resp.qi_results.get().cloned().unwrap_or_default();
        if results.len() != iids.len() {
            return Err(DcomError::Invalid("RemQueryInterface: not one result per IID").into());
        }
        Ok(results)
    }

    /// `RemAddRef`: takes more references; one HRESULT per entry. A failed call HRESULT is an
    /// error.
    pub async fn add_ref(&self, refs: &[RemInterfaceRef]) -> Result<Vec<HResult>, ClientError> {
        let what = "RemAddRef";
        let c_interface_refs = u16::try_from(refs.len())
            .map_err(|_| DcomError::Unencodable("more than 65535 references"))?;
        let resp = self
            .rem_unknown()
            .rem_add_ref(crate::remunknown::RemAddRefRequest {
                orpcthis: OrpcThis::new(uuid::Uuid::new_v4()),
                c_interface_refs,
                interface_refs: refs.to_vec(),
            })
            .await
            .map_err(|source| ClientError::Call { what, source })?;
        if !resp.result.is_success() {
            return Err(ClientError::Status {
                what,
                status: resp.result.0,
            });
        }
        if resp.results.len() != refs.len() {
            return Err(DcomError::Invalid("RemAddRef: not one result per reference").into());
        }
        Ok(resp.results)
    }

    /// `RemRelease`: gives back references (what a client does when it drops interfaces).
    pub async fn release(&self, refs: &[RemInterfaceRef]) -> Result<(), ClientError> {
        rem_release(&self.shared.client, self.shared.rem_unknown, refs).await
    }

    /// Takes ownership of the references `std` carries for interface `iid` (an interface
    /// pointer the exporter marshaled: an activation's, an `[out]` parameter's): the handle
    /// releases them when dropped, and its OID is pinged while a handle holds it (unless
    /// `SORF_NOPING`). Refused when `std` names another exporter than the one this is known
    /// to be.
    pub fn adopt(&self, iid: Iid, std: StdObjRef) -> Result<ComRef, ClientError> {
        if let Some(oxid) = self.shared.oxid {
            if std.oxid != oxid {
                return Err(DcomError::Invalid(
                    "the interface pointer names another object exporter",
                )
                .into());
            }
        }
        if std.flags & SORF_NOPING == 0 {
            let mut live = lock(&self.shared.live);
            let n = live.entry(std.oid).or_insert(0);
            *n += 1;
            if *n == 1 {
                if let Some(p) = &self.shared.pinger {
                    p.add(std.oid);
                }
            }
        }
        Ok(ComRef {
            exporter: self.clone(),
            iid,
            std,
            held: true,
        })
    }

    /// [`Exporter::adopt`] of a decoded OBJREF (standard, handler or extended), for the IID it
    /// was marshaled for.
    pub fn adopt_objref(&self, objref: &ObjRef) -> Result<ComRef, ClientError> {
        let std = objref.std().ok_or(DcomError::Invalid(
            "the interface pointer is not a standard OBJREF",
        ))?;
        self.adopt(objref.iid, *std)
    }

    /// [`Exporter::adopt_objref`] of a marshaled interface pointer.
    pub fn adopt_pointer(&self, ip: &MInterfacePointer) -> Result<ComRef, ClientError> {
        self.adopt_objref(&ObjRef::from_interface_pointer(ip)?)
    }

    /// [`Exporter::adopt`] of a typed interface pointer (an `[out]` parameter the generated
    /// code decoded, already checked to be marshaled for `I`).
    pub fn adopt_ptr<I>(&self, ptr: &ComPtr<I>) -> Result<ComRef, ClientError> {
        self.adopt_objref(ptr.objref())
    }

    /// `RemQueryInterface` for one reference to each of `iids` of the object behind `ipid`,
    /// as handles: one entry per IID, its HRESULT when the exporter refused it.
    pub async fn query(
        &self,
        ipid: Ipid,
        iids: &[Iid],
    ) -> Result<Vec<Result<ComRef, ClientError>>, ClientError> {
        let results = self.query_interface(ipid, 1, iids).await?;
        Ok(iids
            .iter()
            .zip(results)
            .map(|(iid, r)| {
                if r.hresult.is_success() {
                    self.adopt(*iid, r.std)
                } else {
                    Err(ClientError::Status {
                        what: "RemQueryInterface",
                        status: r.hresult.0,
                    })
                }
            })
            .collect())
    }

    /// Waits (at most `timeout`) until the releases of the handles dropped so far are sent.
    pub async fn flush_releases(&self, timeout: Duration) -> Result<(), ClientError> {
        let Some(q) = &self.shared.queue else {
            return Ok(());
        };
        let (tx, rx) = oneshot::channel();
        if q.send(ReleaseMsg::Flush(tx)).is_err() {
            return Err(ClientError::Background {
                what: "release",
                message: "the release task ended".into(),
            });
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(ClientError::Background {
                what: "release",
                message: "the release task ended".into(),
            }),
            Err(_) => Err(ClientError::Timeout(timeout)),
        }
    }

    /// Ends the session with the exporter, each step within `timeout`: sends the releases of
    /// the handles dropped so far, then the ping changes they caused (so the server can
    /// collect the objects at once), then closes the connection. Handles still alive can no
    /// longer be released here.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), ClientError> {
        let released = self.flush_releases(timeout).await;
        let pinged = match &self.shared.pinger {
            Some(p) => p.flush(timeout).await,
            None => Ok(()),
        };
        self.close();
        released.and(pinged)
    }

    /// Closes the connection now (queued releases fail).
    pub fn close(&self) {
        self.shared.client.close();
    }

    /// One handle of `oid` less; true when it was the last (the OID is to leave the ping
    /// set).
    fn forget(&self, std: &StdObjRef) -> bool {
        if std.flags & SORF_NOPING != 0 {
            return false;
        }
        let mut live = lock(&self.shared.live);
        match live.get_mut(&std.oid) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                live.remove(&std.oid);
                true
            }
            None => false,
        }
    }

    /// Takes `oid` out of the ping set unless a handle took it again.
    fn unping(&self, oid: Oid) {
        unping(&self.shared.live, self.shared.pinger.as_ref(), oid);
    }

    /// Queues the release of a dropped handle; never blocks.
    fn queue_release(&self, refs: Option<RemInterfaceRef>, unping: Option<Oid>) {
        if refs.is_none() && unping.is_none() {
            return;
        }
        let sent = self
            .shared
            .queue
            .as_ref()
            .is_some_and(|q| q.send(ReleaseMsg::Release { refs, unping }).is_ok());
        if !sent {
            if refs.is_some() {
                let mut s = lock(&self.shared.stats);
                s.failures += 1;
                s.last_error = Some("a dropped reference could not be queued for release".into());
            }
            if let Some(oid) = unping {
                self.unping(oid);
            }
        }
    }
}

fn unping(live: &Mutex<HashMap<Oid, usize>>, pinger: Option<&PingTask>, oid: Oid) {
    let held = lock(live).contains_key(&oid);
    if let (false, Some(p)) = (held, pinger) {
        p.remove(oid);
    }
}

/// `RemRelease` of `refs` at the IRemUnknown `rem_unknown` on `client`.
async fn rem_release(
    client: &Client,
    rem_unknown: Ipid,
    refs: &[RemInterfaceRef],
) -> Result<(), ClientError> {
    let what = "RemRelease";
    let c_interface_refs = u16::try_from(refs.len())
        .map_err(|_| DcomError::Unencodable("more than 65535 references"))?;
    let resp = RemUnknown2Client::new(client.clone())
        .with_object(rem_unknown.0)
        .rem_release(crate::remunknown::RemReleaseRequest {
            orpcthis: OrpcThis::new(uuid::Uuid::new_v4()),
            c_interface_refs,
            interface_refs: refs.to_vec(),
        })
        .await
        .map_err(|source| ClientError::Call { what, source })?;
    if resp.result.is_success() {
        Ok(())
    } else {
        Err(ClientError::Status {
            what,
            status: resp.result.0,
        })
    }
}

struct ReleaseTask {
    rx: mpsc::UnboundedReceiver<ReleaseMsg>,
    client: Client,
    rem_unknown: Ipid,
    pinger: Option<PingTask>,
    live: Arc<Mutex<HashMap<Oid, usize>>>,
    stats: Arc<Mutex<ReleaseStats>>,
    timeout: Duration,
    linger: Duration,
}

/// Sends the releases of dropped handles, batching those queued together; ends when the
/// exporter and every handle are gone and the queue is empty.
async fn release_task(mut t: ReleaseTask) {
    while let Some(first) = t.rx.recv().await {
        // Handles dropped together (a scope ending) join one batch: wait `linger` for them,
        // unless someone waits for a flush.
        let deadline = tokio::time::Instant::now() + t.linger;
        let mut flushing = matches!(first, ReleaseMsg::Flush(_));
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            let next = if flushing {
                t.rx.try_recv().ok()
            } else {
                tokio::time::timeout_at(deadline, t.rx.recv())
                    .await
                    .ok()
                    .flatten()
            };
            let Some(m) = next else { break };
            flushing |= matches!(m, ReleaseMsg::Flush(_));
            batch.push(m);
        }
        let mut refs: Vec<RemInterfaceRef> = Vec::new();
        let mut unpings = Vec::new();
        let mut flushes = Vec::new();
        for m in batch {
            match m {
                ReleaseMsg::Release { refs: r, unping } => {
                    if let Some(r) = r {
                        match refs.iter_mut().find(|x| x.ipid == r.ipid) {
                            Some(x) => {
                                x.public_refs = x.public_refs.saturating_add(r.public_refs);
                                x.private_refs = x.private_refs.saturating_add(r.private_refs);
                            }
                            None => refs.push(r),
                        }
                    }
                    unpings.extend(unping);
                }
                ReleaseMsg::Flush(tx) => flushes.push(tx),
            }
        }
        for chunk in refs.chunks(MAX_REFS_PER_CALL) {
            let r =
                match tokio::time::timeout(t.timeout, rem_release(&t.client, t.rem_unknown, chunk))
                    .await
                {
                    Ok(r) => r,
                    Err(_) => Err(ClientError::Timeout(t.timeout)),
                };
            let mut s = lock(&t.stats);
            match r {
                Ok(()) => {
                    s.calls += 1;
                    s.references += chunk.iter().map(|r| u64::from(r.public_refs)).sum::<u64>();
                }
                Err(e) => {
                    s.failures += 1;
                    s.last_error = Some(e.to_string());
                }
            }
        }
        for oid in unpings {
            unping(&t.live, t.pinger.as_ref(), oid);
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

/// An owned reference to one interface of one object on an object exporter: its IPID (the
/// object UUID of calls to it), OID, IID and the public references it holds. Dropping it gives
/// the references back (queued to the exporter's release task: `Drop` never blocks) and, when
/// it was the object's last handle, takes the OID out of the ping set; [`ComRef::release`]
/// does the same and returns the result. [`ComRef::add_ref`] takes a further reference as a
/// new handle; [`ComRef::client`] builds the interface's generated client.
pub struct ComRef {
    exporter: Exporter,
    iid: Iid,
    std: StdObjRef,
    held: bool,
}

impl fmt::Debug for ComRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComRef")
            .field("iid", &self.iid)
            .field("ipid", &self.std.ipid)
            .field("oid", &self.std.oid)
            .field("public_refs", &self.std.public_refs)
            .finish()
    }
}

impl ComRef {
    /// The interface.
    pub fn iid(&self) -> Iid {
        self.iid
    }

    /// The interface's IPID: the object UUID of every call to it.
    pub fn ipid(&self) -> Ipid {
        self.std.ipid
    }

    /// The object.
    pub fn oid(&self) -> Oid {
        self.std.oid
    }

    /// The object exporter.
    pub fn oxid(&self) -> Oxid {
        self.std.oxid
    }

    /// The public references this handle holds.
    pub fn public_refs(&self) -> u32 {
        self.std.public_refs
    }

    /// The STDOBJREF it came from (with the references it holds).
    pub fn std_objref(&self) -> StdObjRef {
        self.std
    }

    /// True when the object is pinged while held (not marshaled with `SORF_NOPING`).
    pub fn is_pinged(&self) -> bool {
        self.std.flags & SORF_NOPING == 0
    }

    /// The exporter.
    pub fn exporter(&self) -> &Exporter {
        &self.exporter
    }

    /// The connection calls to the interface go on.
    pub fn connection(&self) -> &Client {
        self.exporter.client()
    }

    /// The generated client of interface `I` for this IPID; refused when this handle is for
    /// another IID.
    pub fn client<I: ComInterface>(&self) -> Result<I::Client<Client>, ClientError> {
        if I::IID != self.iid {
            return Err(ClientError::WrongInterface {
                held: self.iid,
                asked: I::IID,
            });
        }
        Ok(I::client(self.exporter.client().clone(), self.std.ipid))
    }

    /// `RemQueryInterface` for one reference to `iid` of the same object, as a new handle.
    pub async fn query_interface(&self, iid: Iid) -> Result<ComRef, ClientError> {
        self.exporter
            .query(self.std.ipid, &[iid])
            .await?
            .pop()
            .unwrap_or(Err(
                DcomError::Invalid("RemQueryInterface: no result").into()
            ))
    }

    /// `RemQueryInterface` for one reference to each of `iids`, as handles (one entry per
    /// IID).
    pub async fn query_interfaces(
        &self,
        iids: &[Iid],
    ) -> Result<Vec<Result<ComRef, ClientError>>, ClientError> {
        self.exporter.query(self.std.ipid, iids).await
    }

    /// `RemAddRef` of one public reference, returned as a new handle (released on its own).
    pub async fn add_ref(&self) -> Result<ComRef, ClientError> {
        let r = RemInterfaceRef {
            ipid: self.std.ipid,
            public_refs: 1,
            private_refs: 0,
        };
        let results = self.exporter.add_ref(&[r]).await?;
        match results.first() {
            Some(hr) if hr.is_success() => self.exporter.adopt(
                self.iid,
                StdObjRef {
                    public_refs: 1,
                    ..self.std
                },
            ),
            Some(hr) => Err(ClientError::Status {
                what: "RemAddRef",
                status: hr.0,
            }),
            None => Err(DcomError::Invalid("RemAddRef: no result").into()),
        }
    }

    /// Gives the references back now (`RemRelease`, within the exporter's release timeout)
    /// and returns its result; afterwards the OID leaves the ping set if no other handle
    /// holds the object. The handle is spent either way.
    pub async fn release(mut self) -> Result<(), ClientError> {
        self.held = false;
        let unping = self.exporter.forget(&self.std);
        let r = if self.std.public_refs == 0 {
            Ok(())
        } else {
            let t = self.exporter.shared.release_timeout;
            match tokio::time::timeout(t, self.exporter.release(&[self.rem_ref()])).await {
                Ok(r) => r,
                Err(_) => Err(ClientError::Timeout(t)),
            }
        };
        if unping {
            self.exporter.unping(self.std.oid);
        }
        r
    }

    /// Gives up the references without releasing them (they become the caller's, e.g. to
    /// marshal to someone else); the OID leaves the ping set if no other handle holds it.
    pub fn into_std_objref(mut self) -> StdObjRef {
        self.held = false;
        if self.exporter.forget(&self.std) {
            self.exporter.unping(self.std.oid);
        }
        self.std
    }

    fn rem_ref(&self) -> RemInterfaceRef {
        RemInterfaceRef {
            ipid: self.std.ipid,
            public_refs: self.std.public_refs,
            private_refs: 0,
        }
    }
}

impl Drop for ComRef {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        self.held = false;
        let unping = self.exporter.forget(&self.std).then_some(self.std.oid);
        let refs = (self.std.public_refs > 0).then(|| self.rem_ref());
        self.exporter.queue_release(refs, unping);
    }
}
