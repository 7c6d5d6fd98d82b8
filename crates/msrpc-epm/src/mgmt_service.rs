//! [`MgmtService`]: the remote management interface (`mgmt`, C706 appendix Q) that every
//! endpoint serves.
//!
//! # Behaviour
//! | operation | behaviour |
//! |---|---|
//! | `inq_if_ids` | The interfaces served on this endpoint, read at each call from the shared list (or the closure) the runtime keeps up to date; status 0 (an empty vector when the list is empty). |
//! | `inq_stats` | `count = min(requested, 4)` counters from [`MgmtStats`] in C706 order (calls in, calls out, packets in, packets out), each the low 32 bits of its 64-bit counter (a wrapping `unsigned32`, as a DCE counter would); status 0. |
//! | `is_server_listening` | True (1) and status 0 until a stop was requested, then false (0), status 0. |
//! | `stop_server_listening` | Local callers ([`CallContext::local`]): sets the stop flag the runtime observes ([`MgmtService::stop_flag`]), status 0. Anyone else: `RPC_S_ACCESS_DENIED` (5) and nothing changes (Windows refuses remote stops by default). |
//! | `inq_princ_name` | Served to every caller, authenticated or not (Windows' default management authorization allows it). For an `authn_proto` configured with [`MgmtService::with_principal`]: that name truncated to `princ_name_size - 1` characters (the NUL takes the last place), status 0. Otherwise the empty string and `RPC_S_UNKNOWN_AUTHN_SERVICE` (0x6d3, what Windows' `RpcServerInqDefaultPrincName` reports). A `princ_name_size` of 0 leaves no room even for the NUL: fault `nca_s_fault_invalid_bound`. |

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use msrpc_ndr::Unique;
use msrpc_proto::dispatch::{CallContext, RpcFault};
use msrpc_proto::pdu::FaultStatus;

use crate::mgmt::{
    InqIfIdsRequest, InqIfIdsResponse, InqPrincNameRequest, InqPrincNameResponse, InqStatsRequest,
    InqStatsResponse, IsServerListeningRequest, IsServerListeningResponse, Mgmt,
    StopServerListeningRequest, StopServerListeningResponse,
};
use crate::{status, RpcIfId, RpcIfIdVector};

/// The interface ids served on an endpoint, shared with the runtime (which updates it as
/// interfaces are registered).
pub type SharedIfIds = Arc<RwLock<Vec<RpcIfId>>>;

/// Traffic counters the runtime increments and `inq_stats` reports. Clones share the
/// counters.
#[derive(Clone, Debug, Default)]
pub struct MgmtStats {
    /// Calls received (`rpc_c_stats_calls_in`).
    pub calls_in: Arc<AtomicU64>,
    /// Calls sent (`rpc_c_stats_calls_out`).
    pub calls_out: Arc<AtomicU64>,
    /// Packets (PDUs) received (`rpc_c_stats_pkts_in`).
    pub pkts_in: Arc<AtomicU64>,
    /// Packets (PDUs) sent (`rpc_c_stats_pkts_out`).
    pub pkts_out: Arc<AtomicU64>,
}

impl MgmtStats {
    /// Fresh counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The four counters in `inq_stats` order.
    pub fn snapshot(&self) -> [u64; 4] {
        [
            self.calls_in.load(Ordering::Relaxed),
            self.calls_out.load(Ordering::Relaxed),
            self.pkts_in.load(Ordering::Relaxed),
            self.pkts_out.load(Ordering::Relaxed),
        ]
    }
}

/// Where `inq_if_ids` reads the interface list.
#[derive(Clone)]
enum IfIds {
    Shared(SharedIfIds),
    Fn(Arc<dyn Fn() -> Vec<RpcIfId> + Send + Sync>),
}

impl fmt::Debug for IfIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IfIds::Shared(s) => f.debug_tuple("Shared").field(s).finish(),
            IfIds::Fn(_) => f.write_str("Fn(..)"),
        }
    }
}

/// The management service (see the [module documentation](self)); serve it with
/// [`MgmtServer::new`](crate::mgmt::MgmtServer::new).
#[derive(Clone, Debug)]
pub struct MgmtService {
    if_ids: IfIds,
    stats: MgmtStats,
    principals: Vec<(u32, String)>,
    stop: Arc<AtomicBool>,
}

impl MgmtService {
    /// A service reporting the interfaces in `if_ids` and the counters of `stats`.
    pub fn new(if_ids: SharedIfIds, stats: MgmtStats) -> Self {
        Self::from_source(IfIds::Shared(if_ids), stats)
    }

    /// A service asking `if_ids` for the interface list at each `inq_if_ids`.
    pub fn with_if_ids_fn(
        if_ids: impl Fn() -> Vec<RpcIfId> + Send + Sync + 'static,
        stats: MgmtStats,
    ) -> Self {
        Self::from_source(IfIds::Fn(Arc::new(if_ids)), stats)
    }

    fn from_source(if_ids: IfIds, stats: MgmtStats) -> Self {
        MgmtService {
            if_ids,
            stats,
            principals: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Answers `inq_princ_name` for authentication service `authn_proto` (10 for NTLM, 9 for
    /// SPNEGO, 16 for Kerberos) with `name`. Characters above U+00FF and NULs (which an NDR
    /// `char` string cannot carry) become `?`. A later name for the same service wins.
    #[must_use]
    pub fn with_principal(mut self, authn_proto: u32, name: impl Into<String>) -> Self {
        let name: String = name
            .into()
            .chars()
            .map(|c| {
                if c == '\0' || u32::from(c) > 0xff {
                    '?'
                } else {
                    c
                }
            })
            .collect();
        self.principals.retain(|(p, _)| *p != authn_proto);
        self.principals.push((authn_proto, name));
        self
    }

    /// The counters.
    pub fn stats(&self) -> &MgmtStats {
        &self.stats
    }

    /// The flag a local `stop_server_listening` sets; the runtime watches it.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// True once a local caller asked the server to stop listening.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The interface list as `inq_if_ids` reports it now.
    pub fn if_ids(&self) -> Vec<RpcIfId> {
        match &self.if_ids {
            IfIds::Shared(s) => s.read().unwrap_or_else(PoisonError::into_inner).clone(),
            IfIds::Fn(f) => f(),
        }
    }
}

impl Mgmt for MgmtService {
    async fn inq_if_ids(
        &self,
        _ctx: &CallContext,
        _req: InqIfIdsRequest,
    ) -> Result<InqIfIdsResponse, RpcFault> {
        let ids = self.if_ids();
        Ok(InqIfIdsResponse {
            if_id_vector: Unique::new(RpcIfIdVector {
                count: u32::try_from(ids.len()).unwrap_or(u32::MAX),
                if_id: ids.into_iter().map(Unique::new).collect(),
            }),
            status: status::RPC_S_OK,
        })
    }

    async fn inq_stats(
        &self,
        _ctx: &CallContext,
        req: InqStatsRequest,
    ) -> Result<InqStatsResponse, RpcFault> {
        let statistics: Vec<u32> = self
            .stats
            .snapshot()
            .iter()
            .take(usize::try_from(req.count).unwrap_or(usize::MAX))
            // the low 32 bits: an unsigned32 counter wraps
            .map(|&v| (v & u64::from(u32::MAX)) as u32)
            .collect();
        Ok(InqStatsResponse {
            count: u32::try_from(statistics.len()).unwrap_or(0),
            statistics,
            status: status::RPC_S_OK,
        })
    }

    async fn is_server_listening(
        &self,
        _ctx: &CallContext,
        _req: IsServerListeningRequest,
    ) -> Result<IsServerListeningResponse, RpcFault> {
        Ok(IsServerListeningResponse {
            status: status::RPC_S_OK,
            result: u32::from(!self.stop_requested()),
        })
    }

    async fn stop_server_listening(
        &self,
        ctx: &CallContext,
        _req: StopServerListeningRequest,
    ) -> Result<StopServerListeningResponse, RpcFault> {
        if !ctx.local {
            return Ok(StopServerListeningResponse {
                status: status::RPC_S_ACCESS_DENIED,
            });
        }
        self.stop.store(true, Ordering::SeqCst);
        Ok(StopServerListeningResponse {
            status: status::RPC_S_OK,
        })
    }

    async fn inq_princ_name(
        &self,
        _ctx: &CallContext,
        req: InqPrincNameRequest,
    ) -> Result<InqPrincNameResponse, RpcFault> {
        let Some(room) = usize::try_from(req.princ_name_size)
            .unwrap_or(usize::MAX)
            .checked_sub(1)
        else {
            return Err(RpcFault(FaultStatus::NCA_S_FAULT_INVALID_BOUND));
        };
        let found = self.principals.iter().find(|(p, _)| *p == req.authn_proto);
        Ok(match found {
            Some((_, name)) => InqPrincNameResponse {
                princ_name: name.chars().take(room).collect(),
                status: status::RPC_S_OK,
            },
            None => InqPrincNameResponse {
                princ_name: String::new(),
                status: status::RPC_S_UNKNOWN_AUTHN_SERVICE,
            },
        })
    }
}

#[cfg(test)]
mod tests;
