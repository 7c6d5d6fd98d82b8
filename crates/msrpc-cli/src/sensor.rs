//! `msrpc analyze --interface IFACE`: the live sensor. Packets come from libpcap
//! (`msrpc_analyze::live`, a capture thread and a bounded queue) and go through the same
//! `Analyzer` and detectors as a capture file; events are written as JSON lines (stdout with
//! `--json`, a file with `--log`), counted in Prometheus metrics (`--metrics ADDR`, the
//! daemon's `msrpc_*` families plus `msrpc_sensor_*`), and the sensor's own counters are a
//! `sensor_stats` event every `--stats-interval` seconds and at the end. SIGINT and SIGTERM
//! stop it cleanly: the queued packets are analysed, every connection closed, the final
//! summary printed and the log flushed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Args;

/// The live sensor's options (with `analyze --interface`).
#[derive(Args, Debug, Default)]
pub struct LiveArgs {
    /// Capture from this network interface (`lo`, `eth0`, `any`) instead of reading a file:
    /// the live sensor. Needs CAP_NET_RAW (and CAP_NET_ADMIN for --promisc).
    #[arg(long, value_name = "IFACE", conflicts_with = "file")]
    pub interface: Option<String>,
    /// BPF filter (pcap-filter syntax). Default: `tcp or udp port 135 or (udp[8] = 4 and udp[9] < 11 and udp[4:2] >= 88)` (DCE/RPC over TCP is found on any port: learned from
    /// endpoint-mapper answers, or by content; connectionless DCE/RPC by its header).
    #[arg(long, value_name = "FILTER", requires = "interface")]
    pub bpf: Option<String>,
    /// Bytes kept of each packet (64..262144).
    #[arg(
        long,
        default_value_t = 65_535,
        value_name = "BYTES",
        requires = "interface"
    )]
    pub snaplen: u32,
    /// Kernel capture buffer, in MiB.
    #[arg(long, default_value_t = 32, value_name = "MIB", requires = "interface")]
    pub buffer_mib: u32,
    /// Packets queued between the capture thread and the analyzer (beyond: dropped and counted).
    #[arg(
        long,
        default_value_t = 262_144,
        value_name = "N",
        requires = "interface"
    )]
    pub queue: usize,
    /// Bytes of packet data that queue holds, in MiB (whichever bound comes first).
    #[arg(long, default_value_t = 64, value_name = "MIB", requires = "interface")]
    pub queue_mib: usize,
    /// Put the interface in promiscuous mode.
    #[arg(long, requires = "interface")]
    pub promisc: bool,
    /// Also write every packet captured to this pcap file.
    #[arg(long, value_name = "FILE", requires = "interface")]
    pub write: Option<PathBuf>,
    /// Append the JSON lines of events to this file (flushed at least once a second).
    #[arg(long, value_name = "FILE", requires = "interface")]
    pub log: Option<PathBuf>,
    /// Serve Prometheus metrics at `http://ADDR/metrics`.
    #[arg(long, value_name = "ADDR", requires = "interface")]
    pub metrics: Option<SocketAddr>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS", requires = "interface")]
    pub duration: Option<f64>,
    /// Stop after analysing this many packets.
    #[arg(long, value_name = "N", requires = "interface")]
    pub count: Option<u64>,
    /// Seconds between two `sensor_stats` events.
    #[arg(
        long,
        default_value_t = 60.0,
        value_name = "SECS",
        requires = "interface"
    )]
    pub stats_interval: f64,
    /// Seconds after which a silent connection is closed.
    #[arg(
        long,
        default_value_t = 3600.0,
        value_name = "SECS",
        requires = "interface"
    )]
    pub idle_timeout: f64,
}

/// Sets `flag` on SIGINT or SIGTERM; a second signal ends the process at once (exit 130).
/// Must run inside the tokio runtime (the CLI's `main`).
fn stop_on_signals(flag: Arc<AtomicBool>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        // Ends at the second signal (or when the runtime shuts down).
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            if flag.swap(true, Ordering::Relaxed) {
                errln!("msrpc: second signal, exiting without the final summary");
                std::process::exit(130);
            }
        }
    });
    Ok(())
}

#[cfg(feature = "live")]
pub use imp::run;

#[cfg(not(feature = "live"))]
/// Without the `live` feature there is no capture.
pub fn run(
    _g: &crate::Global,
    _a: &crate::analyze::AnalyzeArgs,
    _iface: &str,
    _detectors: msrpc_audit::detect::Detectors,
) -> Result<(), crate::fail::Failure> {
    let _ = stop_on_signals;
    Err(crate::fail::Failure::usage(
        "this msrpc was built without the `live` feature (libpcap): --interface is not available",
    ))
}

#[cfg(feature = "live")]
mod imp {
    use std::fs::OpenOptions;
    use std::io::{BufWriter, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use msrpc_analyze::live::{LiveConfig, LiveSource, Recv, SensorCounters, DEFAULT_FILTER};
    use msrpc_analyze::{Analyzer, Config};
    use msrpc_audit::detect::Detectors;
    use msrpc_audit::metrics::Metrics;
    use msrpc_audit::{ConnId, Event, EventKind};

    use super::stop_on_signals;
    use crate::analyze::AnalyzeArgs;
    use crate::fail::{Exit, Failure};
    use crate::Global;

    /// What the analysis loop publishes for the metrics responder.
    #[derive(Debug, Default)]
    struct Gauges {
        /// Packets analysed.
        analyzed: AtomicU64,
        /// Connections tracked.
        flows: AtomicU64,
        /// Bytes they hold.
        held: AtomicU64,
    }

    /// How long one wait for packets lasts (the loop checks its bounds and signals between).
    const POLL: Duration = Duration::from_millis(100);
    /// The log is flushed at least this often.
    const FLUSH_EVERY: Duration = Duration::from_secs(1);
    /// Longest HTTP request head the metrics responder reads.
    const MAX_REQUEST: usize = 8 * 1024;
    /// How long a metrics client may take to send its request or read the answer.
    const HTTP_TIMEOUT: Duration = Duration::from_secs(2);

    fn wall_now() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }

    /// Where events go: stdout (`--json`), the `--log` file, the metrics.
    struct Sink {
        stdout: Option<BufWriter<std::io::Stdout>>,
        log: Option<BufWriter<std::fs::File>>,
        metrics: Arc<Metrics>,
        flushed: Instant,
        /// Lines not written (stdout closed, disk full); counted, never fatal.
        write_errors: u64,
    }

    impl Sink {
        fn event(&mut self, ev: &Event) {
            if !matches!(ev.kind, EventKind::SensorStats { .. }) {
                self.metrics.observe(ev);
            }
            if self.stdout.is_none() && self.log.is_none() {
                return;
            }
            let Ok(line) = serde_json::to_string(ev) else {
                return;
            };
            for w in [
                self.stdout.as_mut().map(|w| w as &mut dyn Write),
                self.log.as_mut().map(|w| w as &mut dyn Write),
            ]
            .into_iter()
            .flatten()
            {
                if writeln!(w, "{line}").is_err() {
                    self.write_errors += 1;
                }
            }
        }

        fn flush(&mut self) {
            self.flushed = Instant::now();
            if let Some(w) = self.stdout.as_mut() {
                let _ = w.flush();
            }
            if let Some(w) = self.log.as_mut() {
                let _ = w.flush();
            }
        }
    }

    fn stats_event(
        iface: &str,
        c: &SensorCounters,
        analyzer: &Analyzer<Detectors>,
        analyzed: u64,
        end: bool,
    ) -> Event {
        let s = c.snapshot();
        Event {
            ts: wall_now(),
            conn: ConnId {
                uid: "sensor".into(),
                orig_h: None,
                orig_p: None,
                resp_h: None,
                resp_p: None,
            },
            kind: EventKind::SensorStats {
                interface: iface.to_string(),
                packets_captured: s.captured,
                packets_analyzed: analyzed,
                bytes_captured: s.bytes,
                pcap_received: s.pcap_received,
                pcap_dropped: s.pcap_dropped,
                pcap_if_dropped: s.pcap_if_dropped,
                queue_dropped: s.queue_dropped,
                flows: analyzer.flows() as u64,
                held_bytes: analyzer.held_bytes() as u64,
                end,
            },
        }
    }

    /// Runs the sensor until a signal, `--duration` or `--count`.
    pub fn run(
        g: &Global,
        a: &AnalyzeArgs,
        iface: &str,
        detectors: Detectors,
    ) -> Result<(), Failure> {
        let l = &a.live;
        if !(l.stats_interval.is_finite() && l.stats_interval >= 0.1) {
            return Err(Failure::usage("--stats-interval must be at least 0.1 s"));
        }
        if !(l.idle_timeout.is_finite() && l.idle_timeout > 0.0) {
            return Err(Failure::usage("--idle-timeout must be positive"));
        }
        let duration = match l.duration {
            Some(d) if !(d.is_finite() && d > 0.0 && d <= 1e9) => {
                return Err(Failure::usage("--duration must be positive"))
            }
            Some(d) => Some(Duration::from_secs_f64(d)),
            None => None,
        };
        let buffer_bytes = l
            .buffer_mib
            .checked_mul(1024 * 1024)
            .ok_or_else(|| Failure::usage("--buffer-mib must be below 2048"))?;
        let metrics = Arc::new(Metrics::new());
        let gauges = Arc::new(Gauges::default());
        let log = match &l.log {
            Some(p) => Some(BufWriter::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| Failure::usage(format!("{}: {e}", p.display())))?,
            )),
            None => None,
        };
        let cfg = LiveConfig {
            interface: iface.to_string(),
            filter: l.bpf.clone().unwrap_or_else(|| DEFAULT_FILTER.to_string()),
            snaplen: l.snaplen,
            buffer_bytes,
            queue_packets: l.queue,
            queue_bytes: l.queue_mib.saturating_mul(1024 * 1024),
            promisc: l.promisc,
            write: l.write.clone(),
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        stop_on_signals(stop.clone())
            .map_err(|e| Failure::usage(format!("cannot handle signals: {e}")))?;
        let src = LiveSource::open(&cfg).map_err(|e| Failure::new(Exit::Connect, e))?;
        let counters = src.counters();
        if let Some(addr) = l.metrics {
            let listener = TcpListener::bind(addr)
                .map_err(|e| Failure::usage(format!("cannot serve metrics on {addr}: {e}")))?;
            let (m, c, gg) = (metrics.clone(), counters.clone(), gauges.clone());
            std::thread::Builder::new()
                .name("msrpc-metrics".into())
                .spawn(move || serve_metrics(&listener, &m, &c, &gg))
                .map_err(|e| Failure::usage(format!("cannot start the metrics thread: {e}")))?;
        }
        errln!(
            "msrpc: capturing on {iface} (filter {:?}, snaplen {})",
            cfg.filter,
            cfg.snaplen
        );

        let acfg = Config {
            max_flows: a.max_flows,
            idle_timeout: l.idle_timeout,
            ..Config::default()
        };
        let mut analyzer = Analyzer::with_detectors(acfg, detectors);
        let mut sink = Sink {
            stdout: g.json.then(|| BufWriter::new(std::io::stdout())),
            log,
            metrics,
            flushed: Instant::now(),
            write_errors: 0,
        };
        let lt = src.linktype();
        let stats_every = Duration::from_secs_f64(l.stats_interval);
        let started = Instant::now();
        let mut next_stats = started + stats_every;
        let mut analyzed = 0u64;
        let limit = l.count.unwrap_or(u64::MAX);
        let feed = |analyzer: &mut Analyzer<Detectors>,
                    sink: &mut Sink,
                    analyzed: &mut u64,
                    batch: Vec<msrpc_analyze::live::LivePacket>| {
            for p in batch {
                if *analyzed >= limit {
                    break;
                }
                analyzer.packet(p.ts, lt, &p.data);
                *analyzed += 1;
            }
            for ev in analyzer.take_events() {
                sink.event(&ev);
            }
        };
        // Bounded by the signal flag, --duration and --count, or the capture ending.
        loop {
            if stop.load(Ordering::Relaxed)
                || analyzed >= limit
                || duration.is_some_and(|d| started.elapsed() >= d)
            {
                break;
            }
            match src.recv(POLL) {
                Recv::Packets(batch) => feed(&mut analyzer, &mut sink, &mut analyzed, batch),
                Recv::Idle => {
                    analyzer.tick(wall_now());
                    for ev in analyzer.take_events() {
                        sink.event(&ev);
                    }
                }
                Recv::Ended => break,
            }
            gauges.analyzed.store(analyzed, Ordering::Relaxed);
            gauges
                .flows
                .store(analyzer.flows() as u64, Ordering::Relaxed);
            gauges
                .held
                .store(analyzer.held_bytes() as u64, Ordering::Relaxed);
            let now = Instant::now();
            if now >= next_stats {
                next_stats = now + stats_every;
                sink.event(&stats_event(iface, &counters, &analyzer, analyzed, false));
            }
            if sink.flushed.elapsed() >= FLUSH_EVERY {
                sink.flush();
            }
        }
        let (rest, outcome) = src.stop();
        for batch in rest {
            feed(&mut analyzer, &mut sink, &mut analyzed, batch);
        }
        analyzer.finish();
        for ev in analyzer.take_events() {
            sink.event(&ev);
        }
        gauges.analyzed.store(analyzed, Ordering::Relaxed);
        let last = stats_event(iface, &counters, &analyzer, analyzed, true);
        sink.event(&last);
        sink.flush();
        if !g.json {
            outln!("{}", analyzer.summary().render());
            let s = counters.snapshot();
            outln!(
                "sensor on {iface}: {} packets captured ({} bytes), {analyzed} analysed; dropped: \
                 {} by the kernel (ps_drop), {} by the interface (ps_ifdrop), {} from the queue",
                s.captured,
                s.bytes,
                s.pcap_dropped,
                s.pcap_if_dropped,
                s.queue_dropped
            );
        }
        if sink.write_errors > 0 {
            errln!(
                "msrpc: {} event lines could not be written",
                sink.write_errors
            );
        }
        outcome.map_err(|e| Failure::new(Exit::Connect, e))
    }

    /// Answers `GET /metrics` one connection at a time (each bounded by [`HTTP_TIMEOUT`]);
    /// the process ends this thread when it exits.
    fn serve_metrics(
        listener: &TcpListener,
        metrics: &Metrics,
        counters: &SensorCounters,
        gauges: &Gauges,
    ) {
        for stream in listener.incoming() {
            match stream {
                Ok(s) => {
                    let _ = answer(s, metrics, counters, gauges);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn answer(
        mut s: TcpStream,
        metrics: &Metrics,
        counters: &SensorCounters,
        gauges: &Gauges,
    ) -> std::io::Result<()> {
        s.set_read_timeout(Some(HTTP_TIMEOUT))?;
        s.set_write_timeout(Some(HTTP_TIMEOUT))?;
        let deadline = Instant::now() + HTTP_TIMEOUT;
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
            let n = s.read(&mut chunk)?;
            if n == 0 || buf.len() > MAX_REQUEST || Instant::now() > deadline {
                break;
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
        let head = String::from_utf8_lossy(&buf);
        let mut parts = head.lines().next().unwrap_or("").split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (status, ctype, body) = match (method, path.split('?').next().unwrap_or("")) {
            ("GET", "/metrics") => (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                exposition(metrics, counters, gauges),
            ),
            ("GET", _) => (
                "404 Not Found",
                "text/plain",
                "not found: try /metrics\n".into(),
            ),
            _ => ("405 Method Not Allowed", "text/plain", "only GET\n".into()),
        };
        let resp = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(resp.as_bytes())?;
        s.shutdown(std::net::Shutdown::Write)
    }

    /// The daemon's families (`Metrics::render`) and the sensor's.
    fn exposition(metrics: &Metrics, counters: &SensorCounters, gauges: &Gauges) -> String {
        use std::fmt::Write as _;
        let mut t = metrics.render();
        let c = counters.snapshot();
        let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let plain: [(&str, &str, &str, u64); 6] = [
            (
                "msrpc_sensor_packets_total",
                "counter",
                "Packets the sensor read from libpcap.",
                c.captured,
            ),
            (
                "msrpc_sensor_bytes_total",
                "counter",
                "Bytes captured (each packet cut at the snap length).",
                c.bytes,
            ),
            (
                "msrpc_sensor_analyzed_packets_total",
                "counter",
                "Packets the analyzer processed.",
                g(&gauges.analyzed),
            ),
            (
                "msrpc_sensor_pcap_received_total",
                "counter",
                "libpcap's ps_recv: packets that passed the filter.",
                c.pcap_received,
            ),
            (
                "msrpc_sensor_flows",
                "gauge",
                "Connections the analyzer tracks now.",
                g(&gauges.flows),
            ),
            (
                "msrpc_sensor_held_bytes",
                "gauge",
                "Bytes the tracked connections hold.",
                g(&gauges.held),
            ),
        ];
        for (name, kind, help, v) in plain {
            let _ = writeln!(t, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        }
        let _ = writeln!(
            t,
            "# HELP msrpc_sensor_dropped_packets_total Packets lost: kernel (libpcap's ps_drop, its \
             buffer full), interface (ps_ifdrop), queue (the sensor's queue to the analyzer full).\n\
             # TYPE msrpc_sensor_dropped_packets_total counter\n\
             msrpc_sensor_dropped_packets_total{{where=\"kernel\"}} {}\n\
             msrpc_sensor_dropped_packets_total{{where=\"interface\"}} {}\n\
             msrpc_sensor_dropped_packets_total{{where=\"queue\"}} {}",
            c.pcap_dropped, c.pcap_if_dropped, c.queue_dropped
        );
        t
    }
}
