//! Runs every example of `examples/` on loopback (their `run` functions, the code `main`
//! calls), so the guide's programs keep working. `register_with_msrpcd` starts the `msrpcd`
//! built in the same target directory (`cargo test --workspace` builds it; with `cargo test
//! -p msrpc` alone, build it first with `cargo build -p msrpcd`: the test fails, not skips,
//! without it). `dcom_calculator` needs the `dcom` feature (`--all-features`).
#![cfg(all(feature = "client", feature = "server"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;

use msrpc::rpc::{CallError, FaultStatus};

#[allow(dead_code)]
#[path = "../examples/hello.rs"]
mod hello;

#[cfg(feature = "ntlm")]
#[allow(dead_code)]
#[path = "../examples/authenticated.rs"]
mod authenticated;

#[allow(dead_code)]
#[path = "../examples/faults.rs"]
mod faults;

#[allow(dead_code)]
#[path = "../examples/register_with_msrpcd.rs"]
mod register_with_msrpcd;

#[cfg(all(feature = "dcom", feature = "ntlm"))]
#[allow(dead_code)]
#[path = "../examples/dcom_calculator.rs"]
mod dcom_calculator;

#[tokio::test]
async fn hello_serves_and_calls() {
    let reply = hello::run().await.unwrap();
    assert!(
        reply.starts_with("hello, world (from 127.0.0.1:"),
        "{reply}"
    );
}

#[cfg(feature = "ntlm")]
#[tokio::test]
async fn authenticated_runs_both_mechanisms_at_three_levels() {
    assert_eq!(authenticated::run().await.unwrap(), 6);
}

#[tokio::test]
async fn faults_tells_faults_from_transport_errors() {
    let o = faults::run().await.unwrap();
    assert_eq!(
        o.service_fault,
        CallError::Fault(FaultStatus::NCA_S_FAULT_INT_DIV_BY_ZERO)
    );
    assert_eq!(
        o.unknown_opnum,
        CallError::Fault(FaultStatus::NCA_S_OP_RNG_ERROR)
    );
    assert!(
        matches!(o.unknown_interface, CallError::NotBound(_)),
        "{:?}",
        o.unknown_interface
    );
    assert_eq!(o.timeout, CallError::Timeout);
    assert_eq!(o.status, 87);
}

/// The `msrpcd` next to this test's directory: target/debug/deps/examples-HASH ->
/// target/debug/msrpcd.
fn msrpcd() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let p = exe.parent().unwrap().parent().unwrap().join("msrpcd");
    assert!(
        p.is_file(),
        "{} is missing: build it first (cargo build -p msrpcd); cargo test --workspace does",
        p.display()
    );
    p
}

#[tokio::test]
async fn register_with_msrpcd_is_found_through_the_endpoint_mapper() {
    assert_eq!(register_with_msrpcd::run(&msrpcd()).await.unwrap(), 7);
}

#[cfg(all(feature = "dcom", feature = "ntlm"))]
#[tokio::test]
async fn dcom_calculator_hosts_activates_and_calls() {
    assert_eq!(dcom_calculator::run().await.unwrap(), (42, 105));
}
