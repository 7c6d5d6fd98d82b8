//! Faults, transport errors and timeouts as a client sees them, over loopback TCP.
//!
//!     cargo run -p msrpc --example faults
//!
//! 1. the service returns a fault (division by zero): `CallError::Fault`, the connection lives on;
//! 2. an operation the server's interface lacks: the runtime's fault `NCA_S_OP_RNG_ERROR`;
//! 3. an interface the server does not host: the bind is refused, `CallError::NotBound`;
//! 4. a call slower than the client's call timeout: `CallError::Timeout`;
//! 5. an operation's own status: a successful call whose `result` says what went wrong.

use std::error::Error;
use std::time::Duration;

use msrpc::prelude::*;

/// `interface Calc`, as the server implements it.
#[interface(uuid = "5c8e0a1d-3b7f-4e29-9a64-d2f1c0b8e735", version = "1.0")]
pub trait Calc {
    /// Faults on a zero divisor.
    #[opnum(0)]
    fn divide(#[ndr(in)] a: i32, #[ndr(in)] b: i32, #[ndr(out)] q: i32);

    /// Sleeps `ms` milliseconds.
    #[opnum(1)]
    fn sleep(#[ndr(in)] ms: u32);

    /// Returns a Win32 status: 0 (`ERROR_SUCCESS`) for an even number, else 87
    /// (`ERROR_INVALID_PARAMETER`).
    #[opnum(2)]
    fn check_even(#[ndr(in)] n: u32) -> u32;
}

/// A newer version of the same interface, as a client compiled against it sees it: one more
/// operation, which this server does not have.
#[interface(uuid = "5c8e0a1d-3b7f-4e29-9a64-d2f1c0b8e735", version = "1.0")]
pub trait CalcNext {
    /// Not implemented by the server.
    #[opnum(3)]
    fn modulo(#[ndr(in)] a: i32, #[ndr(in)] b: i32, #[ndr(out)] r: i32);
}

/// An interface nobody serves.
#[interface(uuid = "0f0e0d0c-0b0a-4908-8706-050403020100", version = "1.0")]
pub trait Elsewhere {
    /// Never reached.
    #[opnum(0)]
    fn ping();
}

struct Service;

impl Calc for Service {
    async fn divide(
        &self,
        _: &CallContext,
        req: DivideRequest,
    ) -> Result<DivideResponse, RpcFault> {
        if req.b == 0 {
            return Err(RpcFault(FaultStatus::NCA_S_FAULT_INT_DIV_BY_ZERO));
        }
        Ok(DivideResponse {
            q: req.a.wrapping_div(req.b),
        })
    }

    async fn sleep(&self, _: &CallContext, req: SleepRequest) -> Result<SleepResponse, RpcFault> {
        tokio::time::sleep(Duration::from_millis(u64::from(req.ms))).await;
        Ok(SleepResponse {})
    }

    async fn check_even(
        &self,
        _: &CallContext,
        req: CheckEvenRequest,
    ) -> Result<CheckEvenResponse, RpcFault> {
        Ok(CheckEvenResponse {
            result: if req.n % 2 == 0 { 0 } else { 87 },
        })
    }
}

/// What each case produced, in order.
#[derive(Debug)]
pub struct Outcomes {
    /// 1: the service's fault.
    pub service_fault: CallError,
    /// 2: an opnum out of range.
    pub unknown_opnum: CallError,
    /// 3: an interface the server lacks.
    pub unknown_interface: CallError,
    /// 4: the call timeout.
    pub timeout: CallError,
    /// 5: the operation's own status.
    pub status: u32,
}

/// Runs every case against a server on loopback.
pub async fn run() -> Result<Outcomes, Box<dyn Error>> {
    let server = Server::builder()
        .listen("127.0.0.1:0".parse()?)
        .service(CalcServer::new(Service))
        .start()
        .await?;
    let port = server.local_addrs().first().ok_or("no listener")?.port();
    let binding = Binding::parse(&format!("ncacn_ip_tcp:127.0.0.1[{port}]"))?;
    let opts = ClientOptions {
        call_timeout: Some(Duration::from_millis(300)),
        ..ClientOptions::default()
    };
    let conn = Client::connect(&binding, opts).await?;
    let calc = CalcClient::new(conn.clone());

    // 1. The service's fault; the next call on the same connection succeeds.
    let service_fault = calc
        .divide(DivideRequest { a: 1, b: 0 })
        .await
        .err()
        .ok_or("1/0 succeeded")?;
    println!("1. divide(1, 0): {service_fault}");
    let q = calc.divide(DivideRequest { a: 84, b: 2 }).await?.q;
    println!("   divide(84, 2) on the same connection: {q}");

    // 2. Opnum 3 on an interface whose server knows opnums 0 to 2.
    let unknown_opnum = CalcNextClient::new(conn.clone())
        .modulo(ModuloRequest { a: 5, b: 3 })
        .await
        .err()
        .ok_or("an unknown opnum succeeded")?;
    println!("2. modulo (opnum 3): {unknown_opnum}");

    // 3. An interface the server does not host.
    let unknown_interface = ElsewhereClient::new(conn.clone())
        .ping(PingRequest {})
        .await
        .err()
        .ok_or("an unknown interface answered")?;
    println!("3. Elsewhere::ping: {unknown_interface}");

    // 4. Longer than the call timeout (300 ms): the client gives up and orphans the call.
    let timeout = calc
        .sleep(SleepRequest { ms: 2000 })
        .await
        .err()
        .ok_or("a 2 s call beat a 300 ms timeout")?;
    println!("4. sleep(2000 ms): {timeout}");

    // 5. Not an error at the RPC level: the operation ran and returned its status.
    let status = calc.check_even(CheckEvenRequest { n: 3 }).await?.result;
    println!("5. check_even(3): the call succeeded, the operation returned {status}");

    server.shutdown().await;
    Ok(Outcomes {
        service_fault,
        unknown_opnum,
        unknown_interface,
        timeout,
        status,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    run().await.map(drop)
}
