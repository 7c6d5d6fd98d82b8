//! `msrpc dcom call` and `msrpc dcom bench`: method calls on the demo class `MsrpcCalculator`
//! (`msrpc_dcom::demo`, `docs/dcom.md`) through its generated ORPC client. The class is
//! activated (`RemoteCreateInstance`) through [`DcomClient`], the object exporter reached at the
//! address [`msrpc_dcom::client::choose_exporter`] finds, and every `ICalculator` call names its
//! interface by IPID in the request's object UUID. What the command holds are [`ComRef`]s: it
//! releases them (`RemRelease`) at the end, on every path, and ends the exporter session so the
//! server can collect the objects at once.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use msrpc_dcom::client::{
    activate_on, ClientError, ComRef, DcomClient, DcomConfig, Exporter, ExporterOptions, Instance,
};
use msrpc_dcom::demo::{
    AddRequest, CalculatorClient, EchoRequest, SpawnRequest, CLSID_CALCULATOR, IID_ICALCULATOR,
};
use msrpc_dcom::ids::{Clsid, Iid};
use msrpc_dcom::orpc::OrpcThis;
use msrpc_ndr::Uuid;
use msrpc_rt::{Client, ClientOptions};
use serde::Serialize;

use crate::dcom::{failure, parse_uuid};
use crate::fail::{call_exit, describe_call_error, Exit, Failure};
use crate::output::print_json;
use crate::stats::{self, CallOutcome, Plan, ReportHead};
use crate::target::{client_options, display_addr, parse_target};
use crate::Global;

/// Longest `echo` text (UTF-16 code units are sent; a bound on what we send).
const MAX_TEXT: usize = 65_536;

/// What `msrpc dcom call` calls.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum CallOp {
    /// `Add(a, b)`: prints the sum.
    Add {
        /// First addend.
        #[arg(allow_negative_numbers = true)]
        a: i32,
        /// Second addend.
        #[arg(allow_negative_numbers = true)]
        b: i32,
    },
    /// `Echo(text)`: prints the reply.
    Echo {
        /// The text.
        text: String,
    },
    /// `Spawn(offset)`, then `Add(a, b)` on the child calculator it returns (whose sums
    /// include the offset).
    Spawn {
        /// The child's offset.
        #[arg(allow_negative_numbers = true)]
        offset: i32,
        /// First addend.
        #[arg(allow_negative_numbers = true)]
        a: i32,
        /// Second addend.
        #[arg(allow_negative_numbers = true)]
        b: i32,
    },
}

/// `msrpc dcom call` arguments.
#[derive(Args, Debug)]
pub struct CallArgs {
    /// The host: HOST, HOST:PORT (the activator's port, `--epm-port`, by default) or a string
    /// binding.
    pub target: String,
    /// The class (the demo's MsrpcCalculator by default).
    #[arg(long, default_value_t = CLSID_CALCULATOR.to_string())]
    pub clsid: String,
    /// The interface (the demo's ICalculator by default).
    #[arg(long, default_value_t = IID_ICALCULATOR.to_string())]
    pub iid: String,
    /// The method and its arguments.
    #[command(subcommand)]
    pub op: CallOp,
}

/// What `msrpc dcom bench` calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DcomBenchOp {
    /// `ICalculator::Add(2, 3)`.
    Add,
    /// `ICalculator::Echo` of this many characters.
    Echo(u32),
    /// `RemoteCreateInstance` then `RemRelease` of the interface it returned.
    Activate,
}

impl std::str::FromStr for DcomBenchOp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "add" => Ok(DcomBenchOp::Add),
            "activate" => Ok(DcomBenchOp::Activate),
            other => match other.strip_prefix("echo:").map(str::parse::<u32>) {
                Some(Ok(n)) if usize::try_from(n).is_ok_and(|n| n <= MAX_TEXT) => {
                    Ok(DcomBenchOp::Echo(n))
                }
                Some(_) => Err(format!("echo:SIZE needs a size of 0 to {MAX_TEXT}")),
                None => Err(format!(
                    "unknown operation `{other}`: expected add, echo:SIZE or activate"
                )),
            },
        }
    }
}

impl std::fmt::Display for DcomBenchOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DcomBenchOp::Add => f.write_str("add"),
            DcomBenchOp::Echo(n) => write!(f, "echo:{n}"),
            DcomBenchOp::Activate => f.write_str("activate"),
        }
    }
}

/// `msrpc dcom bench` arguments.
#[derive(Args, Debug)]
pub struct DcomBenchArgs {
    /// The host: HOST, HOST:PORT (the activator's port, `--epm-port`, by default) or a string
    /// binding.
    pub target: String,
    /// Connections to the object exporter (for `activate`: to the activator, each with one
    /// to the exporter for the releases), each with its own closed loop.
    #[arg(long, default_value_t = 1)]
    pub conns: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Operation: add (ICalculator::Add), echo:SIZE (ICalculator::Echo of SIZE characters) or
    /// activate (RemoteCreateInstance + RemRelease).
    #[arg(long, default_value = "add")]
    pub op: DcomBenchOp,
    /// Seconds of calls before measuring.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Measured calls over all connections, at most.
    #[arg(long, visible_alias = "calls", default_value_t = 10_000_000)]
    pub max_calls: u64,
}

fn orpcthis() -> OrpcThis {
    OrpcThis::new(Uuid::new_v4())
}

fn status(what: &str, hr: u32) -> Failure {
    Failure::new(
        Exit::Refused,
        anyhow::anyhow!("{what} answered HRESULT {hr:#010x}"),
    )
}

fn call_failure(what: &str, e: &msrpc_proto::dispatch::CallError) -> Failure {
    Failure::new(
        call_exit(e),
        anyhow::anyhow!("{what}: {}", describe_call_error(e)),
    )
}

/// The DCOM client of a command: `--timeout` bounds each step (the activation exchange, which
/// connects, binds and calls, twice that); MS-DCOM's ping period.
fn dcom_client(g: &Global, opts: ClientOptions) -> DcomClient {
    let t = Duration::from_secs_f64(g.timeout);
    DcomClient::new(
        opts,
        DcomConfig {
            timeout: t * 2,
            probe_timeout: t,
            release_timeout: t,
            ..DcomConfig::default()
        },
    )
}

/// The handle of the first IID asked for: the interface's own HRESULT when it was refused.
fn first_interface(inst: &mut Instance) -> Result<ComRef, Failure> {
    match inst.take(0) {
        Ok(r) => Ok(r),
        Err(ClientError::Status { status: hr, .. }) => {
            Err(status("the activation of the interface", hr))
        }
        Err(e) => Err(Failure::refused(format!(
            "the activation returned no usable interface: {e}"
        ))),
    }
}

/// An ICalculator client for the interface `r` holds (whatever its IID: the server answers
/// E_NOINTERFACE for another interface).
fn calculator(r: &ComRef) -> CalculatorClient<Client> {
    CalculatorClient::new(r.connection().clone()).with_object(r.ipid().0)
}

async fn add(c: &CalculatorClient<Client>, a: i32, b: i32) -> Result<i32, Failure> {
    let r = c
        .add(AddRequest {
            orpcthis: orpcthis(),
            a,
            b,
        })
        .await
        .map_err(|e| call_failure("ICalculator::Add", &e))?;
    if r.result.is_success() {
        Ok(r.sum)
    } else {
        Err(status("ICalculator::Add", r.result.0))
    }
}

async fn echo(c: &CalculatorClient<Client>, text: &str) -> Result<String, Failure> {
    let r = c
        .echo(EchoRequest {
            orpcthis: orpcthis(),
            text: text.to_string(),
        })
        .await
        .map_err(|e| call_failure("ICalculator::Echo", &e))?;
    if !r.result.is_success() {
        return Err(status("ICalculator::Echo", r.result.0));
    }
    Ok(r.reply.get().cloned().unwrap_or_default())
}

/// The `call --json` document.
#[derive(Serialize, Debug)]
struct CallJson {
    target: String,
    exporter: String,
    clsid: String,
    iid: String,
    oxid: String,
    ipid: String,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sum: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_ipid: Option<String>,
    released: bool,
}

/// Runs `msrpc dcom call`.
pub async fn call(g: &Global, a: CallArgs) -> Result<(), Failure> {
    let b = parse_target(&a.target)?;
    let clsid = parse_uuid("CLSID", &a.clsid)?;
    let iid = parse_uuid("IID", &a.iid)?;
    if let CallOp::Echo { text } = &a.op {
        if text.chars().count() > MAX_TEXT {
            return Err(Failure::usage(format!(
                "the text is longer than {MAX_TEXT} characters"
            )));
        }
    }
    let port = b.port.unwrap_or(g.epm_port);
    let mut opts = client_options(g);
    b.apply_to(&mut opts.config);
    let t = Duration::from_secs_f64(g.timeout);
    let dcom = dcom_client(g, opts);
    let mut inst = dcom
        .create_instance(&b.host, port, clsid, &[iid])
        .await
        .map_err(failure)?;
    let exporter = inst.exporter.clone();
    let obj = match first_interface(&mut inst) {
        Ok(o) => o,
        Err(f) => {
            // Nothing is held; the session ends.
            let _ = exporter.shutdown(t).await;
            return Err(f);
        }
    };
    let mut doc = CallJson {
        target: display_addr(&b.host, port),
        exporter: display_addr(&inst.address.host, inst.address.port),
        clsid: clsid.to_string(),
        iid: iid.to_string(),
        oxid: format!("{:#018x}", inst.activated.oxid.0),
        ipid: obj.ipid().0.to_string(),
        method: "",
        sum: None,
        reply: None,
        child_ipid: None,
        released: false,
    };
    let calc = calculator(&obj);
    let mut child: Option<ComRef> = None;
    let outcome: Result<(), Failure> = async {
        match &a.op {
            CallOp::Add { a, b } => {
                doc.method = "Add";
                doc.sum = Some(add(&calc, *a, *b).await?);
            }
            CallOp::Echo { text } => {
                doc.method = "Echo";
                doc.reply = Some(echo(&calc, text).await?);
            }
            CallOp::Spawn { offset, a, b } => {
                doc.method = "Spawn";
                let r = calc
                    .spawn(SpawnRequest {
                        orpcthis: orpcthis(),
                        offset: *offset,
                    })
                    .await
                    .map_err(|e| call_failure("ICalculator::Spawn", &e))?;
                if !r.result.is_success() {
                    return Err(status("ICalculator::Spawn", r.result.0));
                }
                let Some(ptr) = r.child.get() else {
                    return Err(Failure::refused(
                        "ICalculator::Spawn returned no interface pointer",
                    ));
                };
                // The child's references are ours from here (released below); one of another
                // exporter could not be released here and is refused.
                let c = exporter
                    .adopt_ptr(ptr)
                    .map_err(|e| Failure::refused(format!("ICalculator::Spawn: {e}")))?;
                doc.child_ipid = Some(c.ipid().0.to_string());
                let c = child.insert(c);
                doc.sum = Some(add(&calculator(c), *a, *b).await?);
            }
        }
        Ok(())
    }
    .await;
    // Give back what is held, whatever happened to the call, then end the session (pings).
    let mut released: Result<(), ClientError> = Ok(());
    for r in child.into_iter().chain(Some(obj)) {
        if let Err(e) = r.release().await {
            released = Err(e);
        }
    }
    let ended = exporter.shutdown(t).await;
    let released = released.and(ended);
    doc.released = released.is_ok();
    outcome?;
    released.map_err(failure)?;
    if g.json {
        print_json(&doc)?;
    } else {
        outln!("Exporter : {} (OXID {})", doc.exporter, doc.oxid);
        outln!("IPID     : {}", doc.ipid);
        if let Some(c) = &doc.child_ipid {
            outln!("Child    : {c}");
        }
        if let Some(sum) = doc.sum {
            outln!("{}", sum);
        }
        if let Some(r) = &doc.reply {
            outln!("{r}");
        }
    }
    Ok(())
}

/// One connection's loop of `msrpc dcom bench`.
struct Caller {
    op: DcomBenchOp,
    calc: CalculatorClient<Client>,
    text: Arc<String>,
    /// For `activate`: the activator connection and the exporter the releases go to.
    activator: Option<Client>,
    exporter: Option<Exporter>,
    clsid: Clsid,
    iid: Iid,
}

fn outcome_of(client: &Client, e: &msrpc_proto::dispatch::CallError) -> CallOutcome {
    CallOutcome::Err {
        message: describe_call_error(e),
        fatal: client.is_closed(),
    }
}

impl Caller {
    async fn call(&self) -> CallOutcome {
        let c = self.calc.invoker();
        match self.op {
            DcomBenchOp::Add => match self
                .calc
                .add(AddRequest {
                    orpcthis: orpcthis(),
                    a: 2,
                    b: 3,
                })
                .await
            {
                Ok(r) if r.result.is_success() && r.sum == 5 => CallOutcome::Ok,
                Ok(r) => CallOutcome::Err {
                    message: format!("Add(2, 3): {} (HRESULT {:#010x})", r.sum, r.result.0),
                    fatal: false,
                },
                Err(e) => outcome_of(c, &e),
            },
            DcomBenchOp::Echo(_) => match self
                .calc
                .echo(EchoRequest {
                    orpcthis: orpcthis(),
                    text: self.text.as_ref().clone(),
                })
                .await
            {
                Ok(r) if r.result.is_success() && r.reply.get() == Some(self.text.as_ref()) => {
                    CallOutcome::Ok
                }
                Ok(r) => CallOutcome::Err {
                    message: format!("Echo: other text back (HRESULT {:#010x})", r.result.0),
                    fatal: false,
                },
                Err(e) => outcome_of(c, &e),
            },
            DcomBenchOp::Activate => {
                let (Some(act_client), Some(exporter)) = (&self.activator, &self.exporter) else {
                    return CallOutcome::Err {
                        message: "no activator connection".into(),
                        fatal: true,
                    };
                };
                let act = match activate_on(act_client, self.clsid, &[self.iid]).await {
                    Ok(a) => a,
                    Err(e) => {
                        return CallOutcome::Err {
                            message: e.to_string(),
                            fatal: act_client.is_closed(),
                        }
                    }
                };
                let adopted = match act.interfaces.first() {
                    Some(i) if !i.hresult.is_success() => Err(format!(
                        "the activation of the interface answered HRESULT {:#010x}",
                        i.hresult.0
                    )),
                    Some(i) => match &i.objref {
                        Some(o) => exporter.adopt_objref(o).map_err(|e| e.to_string()),
                        None => Err("the activation returned no interface pointer".into()),
                    },
                    None => Err("the activation returned no interface".into()),
                };
                let iface = match adopted {
                    Ok(r) => r,
                    Err(message) => {
                        return CallOutcome::Err {
                            message,
                            fatal: false,
                        }
                    }
                };
                match iface.release().await {
                    Ok(()) => CallOutcome::Ok,
                    Err(e) => CallOutcome::Err {
                        message: e.to_string(),
                        fatal: exporter.client().is_closed(),
                    },
                }
            }
        }
    }
}

impl stats::LoadOp for Caller {
    fn call(&mut self) -> impl std::future::Future<Output = CallOutcome> + Send + '_ {
        Caller::call(self)
    }
}

/// Request and response PDU sizes of an unauthenticated call: the header (24 bytes) with the
/// object UUID (16) on requests; ORPCTHIS is 32 bytes, ORPCTHAT 8, the HRESULT 4.
fn pdu_sizes(op: DcomBenchOp) -> Option<(usize, usize)> {
    match op {
        DcomBenchOp::Add => Some((24 + 16 + 32 + 8, 24 + 8 + 4 + 4)),
        DcomBenchOp::Echo(_) | DcomBenchOp::Activate => None,
    }
}

/// Runs `msrpc dcom bench`.
pub async fn bench(g: &Global, a: DcomBenchArgs) -> Result<(), Failure> {
    let b = parse_target(&a.target)?;
    let (duration, warmup) = stats::check_load(a.conns, a.duration, a.warmup, a.max_calls)?;
    let port = b.port.unwrap_or(g.epm_port);
    let mut opts = client_options(g);
    b.apply_to(&mut opts.config);
    let t = Duration::from_secs_f64(g.timeout);
    let (clsid, iid) = (CLSID_CALCULATOR, IID_ICALCULATOR);
    // One object for the method loops (and the exporter's address for all), pinged while the
    // run lasts.
    let dcom = dcom_client(g, opts.clone());
    let mut inst = dcom
        .create_instance(&b.host, port, clsid, &[iid])
        .await
        .map_err(failure)?;
    let exporter_addr = display_addr(&inst.address.host, inst.address.port);
    let obj = match first_interface(&mut inst) {
        Ok(o) => o,
        Err(f) => {
            let _ = inst.exporter.shutdown(t).await;
            return Err(f);
        }
    };
    let text = Arc::new(match a.op {
        DcomBenchOp::Echo(n) => (0..n)
            .map(|i| char::from(b'a' + u8::try_from(i % 26).unwrap_or(0)))
            .collect(),
        _ => String::new(),
    });
    let mut callers = Vec::with_capacity(a.conns);
    let mut extra: Vec<Exporter> = Vec::new();
    let mut activators: Vec<Client> = Vec::new();
    let setup: Result<(), Failure> = async {
        for i in 0..a.conns {
            // Connection 0 is the session's own exporter connection (which pings the
            // session's object, so the `activate` loop's objects just come and go in its set);
            // the others ping nothing.
            let exporter = if i == 0 {
                inst.exporter.clone()
            } else {
                let e = connect_exporter(&inst, opts.clone(), t).await?;
                extra.push(e.clone());
                e
            };
            let activator = if a.op == DcomBenchOp::Activate {
                let c = tokio::time::timeout(t, Client::connect_host(&b.host, port, opts.clone()))
                    .await
                    .map_err(|_| Failure::connect(format!("no connection within {t:?}")))?
                    .map_err(Failure::connecting)?;
                activators.push(c.clone());
                Some(c)
            } else {
                None
            };
            callers.push(Caller {
                op: a.op,
                calc: CalculatorClient::new(exporter.client().clone()).with_object(obj.ipid().0),
                text: Arc::clone(&text),
                activator,
                exporter: Some(exporter),
                clsid,
                iid,
            });
        }
        // One call before the clock starts: it must work (and binds, authenticates).
        for c in &callers {
            if let CallOutcome::Err { message, fatal } = c.call().await {
                let exit = if fatal { Exit::Connect } else { Exit::Refused };
                return Err(Failure::new(
                    exit,
                    anyhow::anyhow!("{} refused before the run: {message}", a.op),
                ));
            }
        }
        Ok(())
    }
    .await;
    let finish = |extra: &[Exporter], activators: &[Client]| {
        for e in extra {
            e.close();
        }
        for c in activators {
            c.close();
        }
    };
    if let Err(f) = setup {
        drop(callers);
        let _ = obj.release().await;
        let _ = inst.exporter.shutdown(t).await;
        finish(&extra, &activators);
        return Err(f);
    }
    let plan = Plan::new(warmup, duration, a.max_calls);
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for caller in callers {
        let counter = Arc::clone(&counter);
        tasks.spawn(async move {
            let mut caller = caller;
            stats::closed_loop(plan, counter, &mut caller).await
        });
    }
    let mut results = Vec::with_capacity(a.conns);
    let mut task_error = None;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(res) => results.push(res),
            Err(e) => task_error = Some(format!("load task failed: {e}")),
        }
    }
    let _ = obj.release().await;
    let _ = inst.exporter.shutdown(t).await;
    finish(&extra, &activators);
    if let Some(e) = task_error {
        return Err(Failure::connect(e));
    }
    let sizes = pdu_sizes(a.op);
    let report = stats::report(
        ReportHead {
            mode: "orpc",
            op: a.op.to_string(),
            target: exporter_addr,
            request_bytes: sizes.map(|s| s.0),
            response_bytes: sizes.map(|s| s.1),
            duration,
            warmup,
        },
        plan,
        results,
    );
    stats::publish(&report, g.json)
}

/// A further connection to the exporter an activation named, with its OXID check and no
/// pinging (the bench's own object is pinged through the session's connection).
async fn connect_exporter(
    inst: &Instance,
    opts: ClientOptions,
    t: Duration,
) -> Result<Exporter, Failure> {
    let xo = ExporterOptions {
        oxid: Some(inst.activated.oxid),
        pinger: None,
        release_timeout: t,
        ..ExporterOptions::default()
    };
    tokio::time::timeout(
        t,
        Exporter::connect_with(
            &inst.address.host,
            inst.address.port,
            inst.activated.ipid_rem_unknown,
            opts,
            xo,
        ),
    )
    .await
    .map_err(|_| Failure::connect(format!("no connection to the exporter within {t:?}")))?
    .map_err(failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_parse_and_print() {
        for s in ["add", "echo:32", "activate"] {
            assert_eq!(
                s.parse::<DcomBenchOp>().map(|o| o.to_string()),
                Ok(s.to_string())
            );
        }
        assert!("echo:x".parse::<DcomBenchOp>().is_err());
        assert!("echo:100000".parse::<DcomBenchOp>().is_err());
        assert!("nope".parse::<DcomBenchOp>().is_err());
    }
}
