//! The tokio [`Sleeper`]: the timer this runtime gives hosted services.

use std::time::Duration;

use msrpc_proto::dispatch::{BoxFuture, Sleeper};

/// Sleeps with `tokio::time::sleep`, so a service waiting through it (rpcecho's `TestSleep`,
/// say: `EchoService::new(TokioSleeper)`) does not hold up other calls.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}
