//! `msrpc analyze FILE`: DCE/RPC in a pcap or pcapng capture, offline (`msrpc-analyze`);
//! `msrpc analyze --interface IFACE`: the same live, from a network interface (`crate::sensor`).

use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use msrpc_analyze::{Analyzer, Config};
use msrpc_audit::detect::{DetectorConfig, Detectors};
use msrpc_audit::technique::Library;

use crate::fail::{Exit, Failure};
use crate::Global;

/// Files smaller than this get no progress bar.
const PROGRESS_MIN_BYTES: u64 = 16 * 1024 * 1024;

/// Arguments of `analyze`.
#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// The capture (pcap or pcapng).
    #[arg(required_unless_present = "interface")]
    pub file: Option<PathBuf>,
    /// Detector thresholds (TOML): the keys of msrpcd's `[audit.detectors]`, at the top level
    /// or under `[audit.detectors]` (an msrpcd configuration file works as it is). Default:
    /// the same defaults as msrpcd.
    #[arg(long, value_name = "FILE")]
    pub detectors_config: Option<PathBuf>,
    /// A technique rules file (the built-in library's schema, docs/detection.md) applied over
    /// the built-in rules: new rules, rules replaced by id, `[[override]]`s, `[roles]`.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Connections tracked at once (the least recently active are closed beyond).
    #[arg(long, default_value_t = 65_536, value_name = "N")]
    pub max_flows: usize,
    /// The live sensor (`--interface` and its options).
    #[command(flatten)]
    pub live: crate::sensor::LiveArgs,
}

/// Runs `analyze`: JSON lines of events with `--json`, otherwise a summary table. Exit 4 when
/// the capture holds no DCE/RPC.
pub fn run(g: &Global, a: AnalyzeArgs) -> Result<(), Failure> {
    if a.max_flows == 0 {
        return Err(Failure::usage("--max-flows must be at least 1"));
    }
    let detectors = match &a.detectors_config {
        Some(p) => load_detector_config(p)?,
        None => DetectorConfig::default(),
    };
    let library = match &a.rules {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::usage(format!("{}: {e}", p.display())))?;
            Library::with_file(&text, &p.display().to_string())
                .map_err(|e| Failure::usage(e.to_string()))?
        }
        None => Library::builtin(),
    };
    let detectors = Detectors::with_library(detectors, library);
    let path = match (&a.live.interface, &a.file) {
        (Some(iface), _) => return crate::sensor::run(g, &a, iface, detectors),
        (None, Some(p)) => p.clone(),
        (None, None) => return Err(Failure::usage("a capture FILE or --interface is needed")),
    };
    let file = File::open(&path).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let pb = if len >= PROGRESS_MIN_BYTES && std::io::stderr().is_terminal() {
        let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("reading {bar:40} {bytes}/{total_bytes} {bytes_per_sec}")
        {
            pb.set_style(style);
        }
        pb
    } else {
        ProgressBar::hidden()
    };
    let cfg = Config {
        max_flows: a.max_flows,
        ..Config::default()
    };
    let mut analyzer = Analyzer::with_detectors(cfg, detectors);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let json = g.json;
    let mut closed = false;
    let result = msrpc_analyze::run(
        BufReader::with_capacity(256 * 1024, file),
        &mut analyzer,
        |events| {
            if json && !closed {
                for ev in events {
                    if let Ok(line) = serde_json::to_string(&ev) {
                        if writeln!(out, "{line}").is_err() {
                            // stdout closed (`| head`): stop writing, keep reading quietly.
                            closed = true;
                            break;
                        }
                    }
                }
            }
        },
        |pos| pb.set_position(pos),
    );
    pb.finish_and_clear();
    let _ = out.flush();
    drop(out);
    let summary = analyzer.summary();
    if !json {
        outln!("{}", summary.render());
    }
    if let Err(e) = result {
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!("{}: {e}", path.display()),
        ));
    }
    if summary.rpc_flows == 0 && summary.cl_pdus.is_empty() {
        return Err(Failure::not_found("no DCE/RPC in the capture").json_printed());
    }
    Ok(())
}

/// Reads detector thresholds from `path`: the `[audit.detectors]` table when the file has one
/// (an msrpcd configuration), otherwise the whole file. Unknown keys are refused.
fn load_detector_config(path: &std::path::Path) -> Result<DetectorConfig, Failure> {
    let bad = |e: &dyn std::fmt::Display| Failure::usage(format!("{}: {e}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(&e))?;
    let value: toml::Table = toml::from_str(&text).map_err(|e| bad(&e))?;
    let table = match value.get("audit").and_then(|a| a.get("detectors")) {
        Some(t) => t.clone(),
        None => toml::Value::Table(value),
    };
    table.try_into().map_err(|e| bad(&e))
}
