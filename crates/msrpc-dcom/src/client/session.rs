//! [`DcomClient`]: activation, the exporter connection, the owned interface handles and one
//! ping task per resolver, put together.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use msrpc_rt::ClientOptions;

use super::{
    activate, choose_exporter, Activated, ClientError, ComRef, Exporter, ExporterAddr,
    ExporterOptions, PingConfig, PingTask,
};
use crate::error::DcomError;
use crate::ids::{Clsid, Iid};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Timing of a [`DcomClient`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcomConfig {
    /// The ping tasks' timing (MS-DCOM's 120 s period by default).
    pub ping: PingConfig,
    /// The bound of a whole activation exchange (connect, bind, RemoteCreateInstance), and of
    /// the connection to the exporter. Default 30 s.
    pub timeout: Duration,
    /// How long [`choose_exporter`] tries each advertised binding. Default 5 s.
    pub probe_timeout: Duration,
    /// The bound of each RemRelease sent for dropped handles. Default 30 s.
    pub release_timeout: Duration,
    /// How long dropped handles wait for others to share their RemRelease. Default 5 ms.
    pub release_linger: Duration,
}

impl Default for DcomConfig {
    fn default() -> Self {
        DcomConfig {
            ping: PingConfig::default(),
            timeout: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(5),
            release_timeout: Duration::from_secs(30),
            release_linger: Duration::from_millis(5),
        }
    }
}

/// An activated object: where it lives and one handle per interface asked for.
#[derive(Debug)]
pub struct Instance {
    /// What the activator answered.
    pub activated: Activated,
    /// The address the exporter was reached at.
    pub address: ExporterAddr,
    /// The exporter connection the handles use.
    pub exporter: Exporter,
    /// One entry per IID asked for, in order: the handle, or why there is none (the
    /// interface's HRESULT as [`ClientError::Status`], an interface pointer that is not a
    /// standard OBJREF of this exporter).
    pub interfaces: Vec<Result<ComRef, ClientError>>,
}

impl Instance {
    /// Takes the handle of the `i`-th IID asked for (an error when there is none, or it was
    /// taken).
    pub fn take(&mut self, i: usize) -> Result<ComRef, ClientError> {
        let missing = || ClientError::from(DcomError::Invalid("no such interface handle"));
        match self.interfaces.get_mut(i) {
            Some(slot) => std::mem::replace(slot, Err(missing())),
            None => Err(missing()),
        }
    }
}

/// A DCOM client: the options every connection is made with (authentication included), the
/// timing, and one [`PingTask`] per OXID resolver (host and port), shared by every exporter
/// of that machine and alive while any of them holds an object. [`DcomClient::create_instance`]
/// activates a class and returns owned handles whose drop releases the object.
///
/// ```no_run
/// # async fn demo() -> Result<(), msrpc_dcom::client::ClientError> {
/// use msrpc_dcom::client::{DcomClient, DcomConfig};
/// use msrpc_dcom::demo::{AddRequest, CalculatorInterface, CLSID_CALCULATOR, IID_ICALCULATOR};
///
/// let dcom = DcomClient::new(msrpc_rt::ClientOptions::default(), DcomConfig::default());
/// let mut obj = dcom.create_instance("192.0.2.10", 135, CLSID_CALCULATOR, &[IID_ICALCULATOR]).await?;
/// let calc = obj.take(0)?;
/// let sum = calc
///     .client::<CalculatorInterface>()?
///     .add(AddRequest { orpcthis: msrpc_dcom::OrpcThis::new(uuid::Uuid::new_v4()), a: 2, b: 3 })
///     .await;
/// drop(calc); // RemRelease in the background; the OID leaves the ping set
/// obj.exporter.shutdown(std::time::Duration::from_secs(5)).await?;
/// # let _ = sum; Ok(()) }
/// ```
#[derive(Clone)]
pub struct DcomClient {
    opts: ClientOptions,
    config: DcomConfig,
    pingers: Arc<Mutex<HashMap<(String, u16), PingTask>>>,
}

impl fmt::Debug for DcomClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DcomClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl DcomClient {
    /// A client connecting with `opts`, timed by `config`.
    pub fn new(opts: ClientOptions, config: DcomConfig) -> DcomClient {
        DcomClient {
            opts,
            config,
            pingers: Arc::default(),
        }
    }

    /// The connection options.
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// The timing.
    pub fn config(&self) -> &DcomConfig {
        &self.config
    }

    /// The ping task of the resolver at `host:port`, shared by every exporter of that machine
    /// (created at the first call; inside a tokio runtime).
    pub fn pinger(&self, host: &str, port: u16) -> PingTask {
        let mut map = lock(&self.pingers);
        // Forget the tasks that stopped with nothing to ping and that no exporter holds.
        map.retain(|_, p| p.is_running() || p.holders() > 1);
        map.entry((host.to_string(), port))
            .or_insert_with(|| {
                PingTask::new(host, port, self.opts.clone(), self.config.ping.clone())
            })
            .clone()
    }

    /// Activates `clsid` for `iids` at the activator (and resolver) `host:port`, connects to
    /// the object exporter (an advertised binding that answers, else `host` with the advertised
    /// port) and returns a handle per interface, whose objects are pinged through
    /// [`DcomClient::pinger`]`(host, port)`. Each step is bounded by [`DcomConfig::timeout`].
    /// Fails when the activation fails or the exporter cannot be reached; an interface the
    /// activator refused is an error entry in [`Instance::interfaces`].
    pub async fn create_instance(
        &self,
        host: &str,
        port: u16,
        clsid: Clsid,
        iids: &[Iid],
    ) -> Result<Instance, ClientError> {
        let t = self.config.timeout;
        let activated = activate(host, port, clsid, iids, self.opts.clone(), t).await?;
        let (exporter, address) = self.connect_exporter(host, port, &activated).await?;
        let interfaces = activated
            .interfaces
            .iter()
            .map(|i| {
                if !i.hresult.is_success() {
                    return Err(ClientError::Status {
                        what: "RemoteCreateInstance interface",
                        status: i.hresult.0,
                    });
                }
                match &i.objref {
                    Some(o) => exporter.adopt_objref(o),
                    None => Err(
                        DcomError::Invalid("the activation returned no interface pointer").into(),
                    ),
                }
            })
            .collect();
        Ok(Instance {
            activated,
            address,
            exporter,
            interfaces,
        })
    }

    /// Connects to the object exporter an activation at `host:port` named, with the OXID
    /// check and the pinging of `host:port`'s resolver.
    pub async fn connect_exporter(
        &self,
        host: &str,
        port: u16,
        activated: &Activated,
    ) -> Result<(Exporter, ExporterAddr), ClientError> {
        let t = self.config.timeout;
        let Some(address) =
            choose_exporter(host, &activated.bindings, self.config.probe_timeout).await
        else {
            return Err(DcomError::Invalid(
                "the activation named no ncacn_ip_tcp binding for the exporter",
            )
            .into());
        };
        let xo = ExporterOptions {
            oxid: Some(activated.oxid),
            pinger: Some(self.pinger(host, port)),
            release_timeout: self.config.release_timeout,
            release_linger: self.config.release_linger,
        };
        let exporter = tokio::time::timeout(
            t,
            Exporter::connect_with(
                &address.host,
                address.port,
                activated.ipid_rem_unknown,
                self.opts.clone(),
                xo,
            ),
        )
        .await
        .map_err(|_| ClientError::Timeout(t))??;
        Ok((exporter, address))
    }
}
