//! The remote management interface (`mgmt`, afa8bd80-7d8a-11c9-bef4-08002b102989 v1.0,
//! C706 appendix Q) that every DCE/RPC server exports.

use msrpc_macros::interface;
use msrpc_ndr::Unique;

use crate::RpcIfIdVector;

/// Index of the "calls received" counter in `inq_stats`' statistics.
pub const RPC_C_STATS_CALLS_IN: usize = 0;
/// Index of "calls sent".
pub const RPC_C_STATS_CALLS_OUT: usize = 1;
/// Index of "packets received".
pub const RPC_C_STATS_PKTS_IN: usize = 2;
/// Index of "packets sent".
pub const RPC_C_STATS_PKTS_OUT: usize = 3;

/// The management interface.
#[interface(uuid = "afa8bd80-7d8a-11c9-bef4-08002b102989", version = "1.0")]
pub trait Mgmt {
    /// `rpc__mgmt_inq_if_ids`: the interfaces the server offers.
    #[opnum(0)]
    fn inq_if_ids(#[ndr(out)] if_id_vector: Unique<RpcIfIdVector>, #[ndr(out)] status: u32);

    /// `rpc__mgmt_inq_stats`: the client sends how many counters it wants (`count`), the
    /// server answers with how many it returns and a conformant array of that size (C706
    /// appendix Q: `[in, out] unsigned32 *count, [out, size_is(*count)] unsigned32 statistics[*]`).
    #[opnum(1)]
    fn inq_stats(
        #[ndr(in, out)] count: u32,
        #[ndr(out, size_is = "count")] statistics: Vec<u32>,
        #[ndr(out)] status: u32,
    );

    /// `rpc__mgmt_is_server_listening`: non-zero (`boolean32`) when the server listens.
    #[opnum(2)]
    fn is_server_listening(#[ndr(out)] status: u32) -> u32;

    /// `rpc__mgmt_stop_server_listening`.
    #[opnum(3)]
    fn stop_server_listening(#[ndr(out)] status: u32);

    /// `rpc__mgmt_inq_princ_name`: the server's principal name for `authn_proto`, in a
    /// buffer of `princ_name_size` characters.
    #[opnum(4)]
    fn inq_princ_name(
        #[ndr(in)] authn_proto: u32,
        #[ndr(in)] princ_name_size: u32,
        #[ndr(out, string = "char", size_is = "princ_name_size")] princ_name: String,
        #[ndr(out)] status: u32,
    );
}
