//! Live capture from a network interface through libpcap (the `pcap` crate), for the sensor
//! mode of `msrpc analyze --interface`.
//!
//! A [`LiveSource`] owns one capture thread (a plain `std::thread`: this crate has no async
//! runtime). The thread reads packets from libpcap (kernel ring of [`LiveConfig::buffer_bytes`],
//! [`LiveConfig::snaplen`] bytes kept per packet, the BPF filter applied in the kernel), copies
//! each into an owned [`LivePacket`], and hands them in batches of at most [`BATCH`] packets to
//! a bounded channel of [`LiveConfig::queue_packets`] packets. When the consumer falls behind
//! and the channel is full, the batch is dropped and counted ([`SensorCounters::queue_dropped`]);
//! the capture never blocks on the consumer, so the kernel's own drop counter stays meaningful.
//! Optionally every packet read is also written to a pcap file ([`LiveConfig::write`]), before
//! the queue, so that file holds what the sensor saw whether or not the analyzer kept up.
//!
//! Memory: at most `queue_packets` packets and `queue_bytes` bytes of packet data are queued, one
//! batch of at most [`BATCH`] packets of at most `snaplen` bytes is being filled, plus the kernel
//! ring.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Packets per batch handed from the capture thread to the consumer.
pub const BATCH: usize = 64;

/// How long the kernel may hold packets in a ring block before delivering them (libpcap's read
/// timeout, TPACKET_V3's block timeout), and how long the capture thread waits in `poll(2)`
/// before it looks at the stop flag again. The descriptor is non-blocking: with TPACKET_V3,
/// libpcap's own blocking read waits for a packet however long it takes, so the thread could
/// not be stopped on a quiet link.
const READ_TIMEOUT_MS: i32 = 100;

/// How long [`LiveSource::stop`] waits for the capture thread.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// How often the capture thread refreshes libpcap's counters.
const STATS_EVERY: Duration = Duration::from_millis(500);

/// What to capture and with which bounds.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Interface name (`lo`, `eth0`, `any`).
    pub interface: String,
    /// BPF filter expression (pcap-filter syntax); empty captures everything.
    pub filter: String,
    /// Bytes kept of each packet (larger packets are cut; the analyzer sees a gap).
    pub snaplen: u32,
    /// Kernel capture buffer in bytes (libpcap's `buffer_size`).
    pub buffer_bytes: u32,
    /// Packets the queue between the capture thread and the analyzer holds.
    pub queue_packets: usize,
    /// Bytes of packet data that queue holds (whichever bound comes first).
    pub queue_bytes: usize,
    /// Promiscuous mode.
    pub promisc: bool,
    /// Also write every packet read to this pcap file.
    pub write: Option<PathBuf>,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            interface: String::new(),
            filter: DEFAULT_FILTER.to_string(),
            snaplen: 65_535,
            buffer_bytes: 32 * 1024 * 1024,
            queue_packets: 262_144,
            queue_bytes: 64 * 1024 * 1024,
            promisc: false,
            write: None,
        }
    }
}

/// The default BPF filter: every TCP segment (DCE/RPC runs on dynamic ports that only the
/// endpoint mapper's answers in the same traffic reveal, and is found by content elsewhere, so
/// a port list would miss calls), UDP on the endpoint mapper's port 135, and over IPv4 any UDP
/// datagram that starts like a connectionless DCE/RPC header (version 4, a connectionless
/// packet type, at least the 80 header bytes): connectionless calls on ports `ept_map`
/// handed out, answers from another port than the one asked, conversation callbacks to a
/// client's port. libpcap cannot index IPv6 UDP payloads, so over IPv6 only port 135 is seen.
pub const DEFAULT_FILTER: &str =
    "tcp or udp port 135 or (udp[8] = 4 and udp[9] < 11 and udp[4:2] >= 88)";

/// One captured packet, owned.
#[derive(Clone, Debug)]
pub struct LivePacket {
    /// Capture time, seconds since the Unix epoch (the kernel's timestamp).
    pub ts: f64,
    /// The bytes captured (at most `snaplen`).
    pub data: Vec<u8>,
    /// The packet's length on the wire.
    pub wire_len: u32,
}

/// Counters shared by the capture thread and its owner.
#[derive(Debug, Default)]
pub struct SensorCounters {
    /// Packets read from libpcap.
    pub captured: AtomicU64,
    /// Bytes captured (after snaplen).
    pub bytes: AtomicU64,
    /// Packets dropped because the queue to the analyzer was full.
    pub queue_dropped: AtomicU64,
    /// libpcap's `ps_recv`: packets that passed the filter (as of the last refresh).
    pub pcap_received: AtomicU64,
    /// libpcap's `ps_drop`: packets the kernel dropped for want of buffer space.
    pub pcap_dropped: AtomicU64,
    /// libpcap's `ps_ifdrop`: packets the interface or its driver dropped.
    pub pcap_if_dropped: AtomicU64,
    /// Packets written to [`LiveConfig::write`].
    pub written: AtomicU64,
    /// Bytes of packet data in the queue now.
    pub queued_bytes: AtomicU64,
}

/// A copy of [`SensorCounters`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// See [`SensorCounters::captured`].
    pub captured: u64,
    /// See [`SensorCounters::bytes`].
    pub bytes: u64,
    /// See [`SensorCounters::queue_dropped`].
    pub queue_dropped: u64,
    /// See [`SensorCounters::pcap_received`].
    pub pcap_received: u64,
    /// See [`SensorCounters::pcap_dropped`].
    pub pcap_dropped: u64,
    /// See [`SensorCounters::pcap_if_dropped`].
    pub pcap_if_dropped: u64,
    /// See [`SensorCounters::written`].
    pub written: u64,
}

impl SensorCounters {
    /// The counters now.
    pub fn snapshot(&self) -> CounterSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CounterSnapshot {
            captured: l(&self.captured),
            bytes: l(&self.bytes),
            queue_dropped: l(&self.queue_dropped),
            pcap_received: l(&self.pcap_received),
            pcap_dropped: l(&self.pcap_dropped),
            pcap_if_dropped: l(&self.pcap_if_dropped),
            written: l(&self.written),
        }
    }
}

/// Errors of the live capture.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A bound is out of range.
    #[error("{0}")]
    Config(String),
    /// libpcap refused to open the interface, compile the filter or write the file.
    #[error("{what}: {source}")]
    Pcap {
        /// What was being done.
        what: String,
        /// libpcap's error.
        source: pcap::Error,
    },
    /// The capture thread could not be started.
    #[error("cannot start the capture thread: {0}")]
    Thread(std::io::Error),
    /// The capture thread did not stop in time (left behind).
    #[error("the capture thread did not stop within 5 s")]
    Stuck,
    /// The capture thread panicked.
    #[error("the capture thread stopped abnormally")]
    Panicked,
}

/// What [`LiveSource::recv`] returns.
#[derive(Debug)]
pub enum Recv {
    /// A batch of packets, in capture order.
    Packets(Vec<LivePacket>),
    /// Nothing within the wait.
    Idle,
    /// The capture thread has stopped (stop requested, or a read error: see [`LiveSource::stop`]).
    Ended,
}

/// A running capture: a thread reading libpcap and a bounded queue of its packets.
pub struct LiveSource {
    rx: Receiver<Vec<LivePacket>>,
    stop: Arc<AtomicBool>,
    counters: Arc<SensorCounters>,
    thread: Option<JoinHandle<Result<(), LiveError>>>,
    linktype: u32,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource")
            .field("linktype", &self.linktype)
            .field("counters", &self.counters.snapshot())
            .finish_non_exhaustive()
    }
}

fn pcap_err(what: impl Into<String>) -> impl FnOnce(pcap::Error) -> LiveError {
    let what = what.into();
    move |source| LiveError::Pcap { what, source }
}

impl LiveSource {
    /// Opens the interface (libpcap needs CAP_NET_RAW, and CAP_NET_ADMIN for promiscuous mode),
    /// sets the filter and starts the capture thread.
    pub fn open(cfg: &LiveConfig) -> Result<LiveSource, LiveError> {
        if cfg.snaplen < 64 || cfg.snaplen > 262_144 {
            return Err(LiveError::Config(
                "snaplen must be between 64 and 262144 bytes".into(),
            ));
        }
        let buffer = i32::try_from(cfg.buffer_bytes)
            .ok()
            .filter(|b| *b >= 64 * 1024)
            .ok_or_else(|| {
                LiveError::Config("the capture buffer must be between 64 KiB and 2 GiB".into())
            })?;
        if cfg.queue_bytes < 1024 * 1024 {
            return Err(LiveError::Config(
                "the queue must hold at least 1 MiB".into(),
            ));
        }
        if cfg.queue_packets < BATCH || cfg.queue_packets > 16 * 1024 * 1024 {
            return Err(LiveError::Config(format!(
                "the queue must hold between {BATCH} and 16777216 packets"
            )));
        }
        let snaplen = i32::try_from(cfg.snaplen).unwrap_or(65_535);
        let mut cap = pcap::Capture::from_device(cfg.interface.as_str())
            .map_err(pcap_err(format!("interface {}", cfg.interface)))?
            .snaplen(snaplen)
            .buffer_size(buffer)
            .promisc(cfg.promisc)
            .timeout(READ_TIMEOUT_MS)
            .open()
            .map_err(pcap_err(format!("cannot capture on {}", cfg.interface)))?;
        if !cfg.filter.trim().is_empty() {
            cap.filter(&cfg.filter, true)
                .map_err(pcap_err(format!("BPF filter {:?}", cfg.filter)))?;
        }
        let save = match &cfg.write {
            Some(p) => Some(
                cap.savefile(p)
                    .map_err(pcap_err(format!("cannot write {}", p.display())))?,
            ),
            None => None,
        };
        let cap = cap
            .setnonblock()
            .map_err(pcap_err("non-blocking capture"))?;
        let linktype = u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX);
        let (tx, rx) = mpsc::sync_channel(cfg.queue_packets / BATCH);
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(SensorCounters::default());
        let worker = Worker {
            cap,
            save,
            tx,
            stop: stop.clone(),
            counters: counters.clone(),
            last_stats: [0; 3],
            max_queued_bytes: cfg.queue_bytes as u64,
        };
        let thread = std::thread::Builder::new()
            .name("msrpc-capture".into())
            .spawn(move || worker.run())
            .map_err(LiveError::Thread)?;
        Ok(LiveSource {
            rx,
            stop,
            counters,
            thread: Some(thread),
            linktype,
        })
    }

    /// The interface's link type (a pcap `LINKTYPE_*` number, what [`crate::Analyzer::packet`]
    /// takes).
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// The counters, shared (for a metrics responder).
    pub fn counters(&self) -> Arc<SensorCounters> {
        self.counters.clone()
    }

    /// Waits at most `wait` for the next batch.
    pub fn recv(&self, wait: Duration) -> Recv {
        match self.rx.recv_timeout(wait) {
            Ok(b) => {
                self.counters
                    .queued_bytes
                    .fetch_sub(batch_bytes(&b), Ordering::Relaxed);
                Recv::Packets(b)
            }
            Err(RecvTimeoutError::Timeout) => Recv::Idle,
            Err(RecvTimeoutError::Disconnected) => Recv::Ended,
        }
    }

    /// Asks the capture thread to stop (it notices within its read timeout).
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stops the capture thread and waits for it; returns the batches still queued (so the
    /// caller can analyse them) and the thread's outcome (a read error, if it ended on one).
    pub fn stop(mut self) -> (Vec<Vec<LivePacket>>, Result<(), LiveError>) {
        self.request_stop();
        let mut rest = Vec::new();
        // Keep draining until the thread ends: it notices the flag within its poll timeout.
        // Bounded in time all the same; a thread that did not end is left behind.
        let deadline = Instant::now() + STOP_WAIT;
        loop {
            match self.rx.recv_timeout(Duration::from_millis(50)) {
                Ok(b) => rest.push(b),
                Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(RecvTimeoutError::Timeout) => return (rest, Err(LiveError::Stuck)),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let outcome = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(LiveError::Panicked),
            None => Ok(()),
        };
        (rest, outcome)
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Worker {
    cap: pcap::Capture<pcap::Active>,
    save: Option<pcap::Savefile>,
    tx: SyncSender<Vec<LivePacket>>,
    stop: Arc<AtomicBool>,
    counters: Arc<SensorCounters>,
    /// libpcap's raw `ps_recv`, `ps_drop`, `ps_ifdrop` at the last refresh.
    last_stats: [u32; 3],
    /// [`LiveConfig::queue_bytes`].
    max_queued_bytes: u64,
}

fn batch_bytes(b: &[LivePacket]) -> u64 {
    b.iter().map(|p| p.data.len() as u64).sum()
}

impl Worker {
    fn run(mut self) -> Result<(), LiveError> {
        let mut batch = Vec::with_capacity(BATCH);
        let mut stats_at = Instant::now();
        let result = loop {
            if self.stop.load(Ordering::Relaxed) {
                break Ok(());
            }
            match self.cap.next_packet() {
                Ok(p) => {
                    let ts = p.header.ts.tv_sec as f64 + p.header.ts.tv_usec as f64 * 1e-6;
                    if let Some(s) = self.save.as_mut() {
                        s.write(&p);
                        self.counters.written.fetch_add(1, Ordering::Relaxed);
                    }
                    self.counters.captured.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .bytes
                        .fetch_add(p.data.len() as u64, Ordering::Relaxed);
                    batch.push(LivePacket {
                        ts,
                        data: p.data.to_vec(),
                        wire_len: p.header.len,
                    });
                    if batch.len() >= BATCH {
                        self.send(&mut batch);
                    }
                }
                // Nothing ready (non-blocking): hand on what we have, then wait for the
                // kernel to deliver (a block retired) or the timeout, whichever comes first.
                Err(pcap::Error::TimeoutExpired) => {
                    self.send(&mut batch);
                    let timeout = rustix::event::Timespec {
                        tv_sec: 0,
                        tv_nsec: i64::from(READ_TIMEOUT_MS) * 1_000_000,
                    };
                    let mut fds = [rustix::event::PollFd::new(
                        &self.cap,
                        rustix::event::PollFlags::IN,
                    )];
                    // EINTR and the like: the loop polls again.
                    let _ = rustix::event::poll(&mut fds, Some(&timeout));
                }
                Err(e) => break Err(pcap_err("capture read")(e)),
            }
            if stats_at.elapsed() >= STATS_EVERY {
                stats_at = Instant::now();
                self.refresh_stats();
            }
        };
        self.send(&mut batch);
        self.refresh_stats();
        if let Some(s) = self.save.as_mut() {
            let _ = s.flush();
        }
        result
    }

    /// Hands the batch to the consumer, or drops and counts it when the queue is full.
    fn send(&mut self, batch: &mut Vec<LivePacket>) {
        if batch.is_empty() {
            return;
        }
        let full = std::mem::replace(batch, Vec::with_capacity(BATCH));
        let n = full.len() as u64;
        let bytes = batch_bytes(&full);
        let queued = &self.counters.queued_bytes;
        if queued.load(Ordering::Relaxed) + bytes > self.max_queued_bytes {
            self.counters.queue_dropped.fetch_add(n, Ordering::Relaxed);
            return;
        }
        queued.fetch_add(bytes, Ordering::Relaxed);
        match self.tx.try_send(full) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                queued.fetch_sub(bytes, Ordering::Relaxed);
                self.counters.queue_dropped.fetch_add(n, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stop.store(true, Ordering::Relaxed);
            }
        }
        // A savefile is flushed with each batch handed on, so it never lags far behind.
        if let Some(s) = self.save.as_mut() {
            let _ = s.flush();
        }
    }

    /// Adds what libpcap counted since the last refresh (its counters are 32 bits and wrap
    /// on a long run; refreshed every half second, they cannot wrap twice in between).
    fn refresh_stats(&mut self) {
        if let Ok(s) = self.cap.stats() {
            let c = &self.counters;
            let now = [s.received, s.dropped, s.if_dropped];
            let sums = [&c.pcap_received, &c.pcap_dropped, &c.pcap_if_dropped];
            for ((sum, n), last) in sums.into_iter().zip(now).zip(self.last_stats.iter_mut()) {
                sum.fetch_add(u64::from(n.wrapping_sub(*last)), Ordering::Relaxed);
                *last = n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::DEFAULT_FILTER;
    use crate::net::{build_tcp_v4, build_udp_v4};

    #[test]
    fn the_default_filter_takes_tcp_and_connectionless_udp_only() {
        let cap = pcap::Capture::dead(pcap::Linktype::ETHERNET).unwrap();
        let bpf = cap.compile(DEFAULT_FILTER, true).unwrap();
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let mut cl = vec![4u8, 0, 0x20, 0, 0x10, 0, 0, 0];
        cl.resize(88, 0);
        // TCP on any port, UDP on 135, a CL header on another port.
        assert!(bpf.filter(&build_tcp_v4((a, 5000), (b, 49_700), 1, 1, 0x18, b"x")));
        assert!(bpf.filter(&build_udp_v4((a, 5000), (b, 135), b"anything")));
        assert!(bpf.filter(&build_udp_v4((a, 5000), (b, 4000), &cl)));
        // Other UDP: not version 4, a CO packet type, shorter than a header.
        let mut dns = cl.clone();
        dns[0] = 0x12;
        assert!(!bpf.filter(&build_udp_v4((a, 5000), (b, 53), &dns)));
        let mut co = cl.clone();
        co[1] = 11;
        assert!(!bpf.filter(&build_udp_v4((a, 5000), (b, 4000), &co)));
        assert!(!bpf.filter(&build_udp_v4((a, 5000), (b, 4000), &cl[..40])));
    }
}
