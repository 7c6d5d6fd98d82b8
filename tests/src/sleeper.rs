//! A tokio-backed [`Sleeper`] for the reference rpcecho service.

use std::time::Duration;

use msrpc_echo::Sleeper;
use msrpc_proto::dispatch::BoxFuture;

/// Sleeps with `tokio::time::sleep` (so a paused test clock controls it).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleep;

impl Sleeper for TokioSleep {
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}
