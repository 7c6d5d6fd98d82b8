//! `msrpc bench-idle` against an in-process msrpc_rt server: holds bound and raw connections,
//! reports them as JSON lines, and exits 2 when the server closes some (its max_connections).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{msrpc, start, start_with, Config};
use msrpc_echo::{EchoService, RpcechoServer};
use msrpc_rt::{Limits, TokioSleeper};
use serde_json::Value;

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn bench_idle_holds_bound_connections() {
    let s = start(Config::default());
    let r = msrpc(&[
        "--json",
        "bench-idle",
        &s.binding(),
        "--conns",
        "20",
        "--bind",
        "--hold",
        "0.3",
    ])
    .expect_code(0);
    let l = lines(&r.stdout);
    assert_eq!(l.len(), 2, "{}", r.stdout);
    assert_eq!(l[0]["event"], "holding");
    assert_eq!(l[0]["held"], 20);
    assert_eq!(l[0]["failed"], 0);
    assert_eq!(l[0]["bound"], true);
    assert_eq!(l[1]["event"], "closed");
    assert_eq!(l[1]["lost"], 0);
    assert!(l[1]["seconds"].as_f64().unwrap() >= 0.3);
    let r = msrpc(&["bench-idle", &s.binding(), "--conns", "3", "--hold", "0"]).expect_code(0);
    assert!(r.stdout.contains("holding 3 connections"), "{}", r.stdout);
    msrpc(&["bench-idle", &s.binding(), "--conns", "0"]).expect_code(1);
    msrpc(&["bench-idle", &s.binding(), "--hold", "-1"]).expect_code(1);
}

#[test]
fn bench_idle_counts_connections_the_server_closes() {
    let s = start_with(|b| {
        b.limits(Limits {
            max_connections: 5,
            ..Limits::default()
        })
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
    });
    let r = msrpc(&[
        "--json",
        "bench-idle",
        &s.binding(),
        "--conns",
        "8",
        "--hold",
        "0.5",
    ])
    .expect_code(2);
    let l = lines(&r.stdout);
    assert_eq!(l[0]["held"], 8, "{}", r.stdout);
    assert_eq!(l[1]["lost"], 3, "{}", r.stdout);
    assert!(r.stderr.contains("3 lost while held"), "{}", r.stderr);
}
