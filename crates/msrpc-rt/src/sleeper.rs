//! A tokio [`Sleeper`] for the reference rpcecho service.

use std::time::Duration;

use msrpc_echo::Sleeper;
use msrpc_proto::dispatch::BoxFuture;

/// Sleeps with `tokio::time::sleep`, so `EchoService::new(TokioSleeper)` serves `TestSleep`
/// without holding up other calls.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}
