//! Samba's `rpcecho` test interface (`librpc/idl/echo.idl`, uuid
//! 60a15ec5-4de8-11d7-a637-005056a20182 v1.0, `pointer_default(unique)`), defined with msrpc's
//! `#[interface]`, and [`EchoService`], a reference implementation with Samba's semantics.
//!
//! # Generated API
//! - [`Rpcecho`]: the service trait (one `async`-implementable method per operation).
//! - [`RpcechoServer`]: wraps a service as a [`Dispatch`](msrpc_proto::dispatch::Dispatch).
//! - [`RpcechoClient`]: calls the interface over any [`Invoke`](msrpc_proto::dispatch::Invoke).
//! - [`RpcechoInterface`]: the [`Interface`](msrpc_proto::dispatch::Interface) identity.
//! - `XxxRequest` / `XxxResponse` per operation ([`AddOneRequest`], [`EchoDataResponse`], ...).
//!
//! # IDL mapping
//! Top-level `[ref]` pointers (`[out] uint32 *out_data`) have no wire form and are plain
//! values here; `uint16 **s2` is a [`Unique<String>`]; `uint16 ***data` is a
//! `Unique<Unique<u16>>`.
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::time::Duration;

use msrpc_macros::interface;
use msrpc_ndr::{Ndr, Unique};
use msrpc_proto::dispatch::{CallContext, RpcFault};
use msrpc_proto::pdu::FaultStatus;

/// An `NTSTATUS` value.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NtStatus(pub u32);

impl NtStatus {
    /// `STATUS_SUCCESS`.
    pub const OK: NtStatus = NtStatus(0);
    /// `STATUS_INVALID_LEVEL`.
    pub const INVALID_LEVEL: NtStatus = NtStatus(0xc000_0148);
}

/// `echo_info1`.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoInfo1 {
    /// `uint8 v`.
    pub v: u8,
}

/// `echo_info2`.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoInfo2 {
    /// `uint16 v`.
    pub v: u16,
}

/// `echo_info3`.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoInfo3 {
    /// `uint32 v`.
    pub v: u32,
}

/// `echo_info4`.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoInfo4 {
    /// `hyper v`.
    pub v: u64,
}

/// `echo_info5`.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoInfo5 {
    /// `uint8 v1`.
    pub v1: u8,
    /// `hyper v2`.
    pub v2: u64,
}

/// `echo_info6`.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoInfo6 {
    /// `uint8 v1`.
    pub v1: u8,
    /// `echo_info1 info1`.
    pub info1: EchoInfo1,
}

/// `echo_info7`.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoInfo7 {
    /// `uint8 v1`.
    pub v1: u8,
    /// `echo_info4 info4`.
    pub info4: EchoInfo4,
}

/// `union echo_Info [switch_type(uint16)]`, cases 1 to 7.
#[derive(Ndr, Clone, Copy, Debug, PartialEq, Eq)]
#[ndr(switch_type = "u16")]
pub enum EchoInfo {
    /// Case 1.
    #[ndr(case = 1)]
    Info1(EchoInfo1),
    /// Case 2.
    #[ndr(case = 2)]
    Info2(EchoInfo2),
    /// Case 3.
    #[ndr(case = 3)]
    Info3(EchoInfo3),
    /// Case 4.
    #[ndr(case = 4)]
    Info4(EchoInfo4),
    /// Case 5.
    #[ndr(case = 5)]
    Info5(EchoInfo5),
    /// Case 6.
    #[ndr(case = 6)]
    Info6(EchoInfo6),
    /// Case 7.
    #[ndr(case = 7)]
    Info7(EchoInfo7),
}

/// `echo_Enum1` (a 16-bit NDR enum). Open, as in Samba and Windows: a value the IDL does not
/// name (any of 0..=0xffff) decodes into [`EchoEnum1::Unknown`] and is sent back as it came.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum EchoEnum1 {
    /// `ECHO_ENUM1`.
    #[default]
    Enum1 = 1,
    /// `ECHO_ENUM2`.
    Enum2 = 2,
    /// Any other value. One above 0xffff does not fit the wire: encoding it fails, and a
    /// response holding it faults with `RPC_X_ENUM_VALUE_OUT_OF_RANGE`.
    #[ndr(unknown)]
    Unknown(u32),
}

/// `echo_Enum1_32` (`[v1_enum]`: 32 bits on the wire). Open: any other value decodes into
/// [`EchoEnum1_32::Unknown`].
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[ndr(v1_enum)]
#[repr(u32)]
pub enum EchoEnum1_32 {
    /// `ECHO_ENUM1_32`.
    #[default]
    Enum1 = 1,
    /// `ECHO_ENUM2_32`.
    Enum2 = 2,
    /// Any other value.
    #[ndr(unknown)]
    Unknown(u32),
}

/// `echo_Enum2`.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoEnum2 {
    /// `echo_Enum1 e1`.
    pub e1: EchoEnum1,
    /// `echo_Enum1_32 e2`.
    pub e2: EchoEnum1_32,
}

/// `union echo_Enum3 [switch_type(uint16)]`. Without a default arm (as in the IDL): a
/// discriminant other than 1 or 2 does not decode (the arm's layout is unknown), as in Samba.
#[derive(Ndr, Clone, Copy, Debug, PartialEq, Eq)]
#[ndr(switch_type = "u16")]
pub enum EchoEnum3 {
    /// `case ECHO_ENUM1: echo_Enum1 e1`.
    #[ndr(case = 1)]
    E1(EchoEnum1),
    /// `case ECHO_ENUM2: echo_Enum2 e2`.
    #[ndr(case = 2)]
    E2(EchoEnum2),
}

/// `echo_Surrounding`: a conformant structure (`surrounding`'s max_count is hoisted).
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct EchoSurrounding {
    /// `uint32 x`: the number of elements.
    pub x: u32,
    /// `[size_is(x)] uint16 surrounding[*]`.
    #[ndr(size_is = "x")]
    pub surrounding: Vec<u16>,
}

/// The rpcecho interface (Samba's `echo.idl`).
#[interface(uuid = "60a15ec5-4de8-11d7-a637-005056a20182", version = "1.0")]
pub trait Rpcecho {
    /// `echo_AddOne`: returns `in_data + 1`.
    #[opnum(0)]
    fn add_one(#[ndr(in)] in_data: u32, #[ndr(out)] out_data: u32);

    /// `echo_EchoData`: returns the data it was sent.
    #[opnum(1)]
    fn echo_data(
        #[ndr(in)] len: u32,
        #[ndr(in, size_is = "len")] in_data: Vec<u8>,
        #[ndr(out, size_is = "len")] out_data: Vec<u8>,
    );

    /// `echo_SinkData`: discards the data.
    #[opnum(2)]
    fn sink_data(#[ndr(in)] len: u32, #[ndr(in, size_is = "len")] data: Vec<u8>);

    /// `echo_SourceData`: returns `len` bytes `0, 1, 2, ...`.
    #[opnum(3)]
    fn source_data(#[ndr(in)] len: u32, #[ndr(out, size_is = "len")] data: Vec<u8>);

    /// `echo_TestCall`: returns the string it was sent.
    #[opnum(4)]
    fn test_call(#[ndr(in, string)] s1: String, #[ndr(out, string)] s2: Unique<String>);

    /// `echo_TestCall2`: returns an `echo_Info` for `level`.
    #[opnum(5)]
    fn test_call2(
        #[ndr(in)] level: u16,
        #[ndr(out, switch_is = "level")] info: EchoInfo,
    ) -> NtStatus;

    /// `echo_TestSleep`: sleeps `seconds`, then returns them.
    #[opnum(6)]
    fn test_sleep(#[ndr(in)] seconds: u32) -> u32;

    /// `echo_TestEnum`: returns its arguments, with `foo2.e1` set to `ECHO_ENUM2`.
    #[opnum(7)]
    fn test_enum(
        #[ndr(in, out)] foo1: EchoEnum1,
        #[ndr(in, out)] foo2: EchoEnum2,
        #[ndr(in, out, switch_is = "foo1")] foo3: EchoEnum3,
    );

    /// `echo_TestSurrounding`: doubles `x` and returns that many zeros.
    #[opnum(8)]
    fn test_surrounding(#[ndr(in, out)] data: EchoSurrounding);

    /// `echo_TestDoublePointer`: returns `***data`, or 0 when a pointer is null.
    #[opnum(9)]
    fn test_double_pointer(#[ndr(in)] data: Unique<Unique<u16>>) -> u16;
}

/// The runtime's timer, through which `TestSleep` sleeps (so this crate needs no async runtime):
/// `msrpc_rt::TokioSleeper` on tokio, [`NoSleep`] in tests.
pub use msrpc_proto::dispatch::{NoSleep, Sleeper};

/// The reference rpcecho service, with Samba's semantics (`rpc_server/echo/rpc_echo.c`):
///
/// | operation | behaviour |
/// |---|---|
/// | AddOne | `out_data = in_data + 1` (wrapping) |
/// | EchoData | returns `in_data` |
/// | SinkData | discards the data |
/// | SourceData | returns `len` bytes, byte `i` = `i & 0xff`; `len` above [`EchoService::max_source_len`] (default [`DEFAULT_MAX_SOURCE_LEN`]) faults with `nca_s_fault_remote_no_memory` instead of allocating a peer-chosen size |
/// | TestCall | `s2 = s1` |
/// | TestCall2 | level 1: v=10; 2: v=20; 3: v=30; 4: v=40; 5: v1=50, v2=60; 6: v1=70, info1.v=80; 7: v1=80, info4.v=90; result `STATUS_OK`. Any other level: fault `nca_s_fault_invalid_tag` (the union cannot represent it) |
/// | TestSleep | sleeps `seconds` with the [`Sleeper`], returns `seconds` |
/// | TestEnum | returns its arguments with `foo2.e1 = ECHO_ENUM2` (what Samba's `dcesrv_echo_TestEnum` does); values the enums do not name come back unchanged |
/// | TestSurrounding | `x` doubled, `surrounding` replaced by `x` zeros |
/// | TestDoublePointer | `***data`, or 0 when either pointer is null |
#[derive(Clone, Debug)]
pub struct EchoService<Sl> {
    sleeper: Sl,
    max_source_len: u32,
}

/// Largest SourceData reply [`EchoService`] produces by default (4 MiB, the MS-RPCE request cap).
pub const DEFAULT_MAX_SOURCE_LEN: u32 = 4 * 1024 * 1024;

impl<Sl: Sleeper> EchoService<Sl> {
    /// A service sleeping with `sleeper`.
    pub fn new(sleeper: Sl) -> Self {
        EchoService {
            sleeper,
            max_source_len: DEFAULT_MAX_SOURCE_LEN,
        }
    }

    /// Sets the largest `len` SourceData serves (the peer chooses `len`; nothing else bounds it).
    #[must_use]
    pub fn with_max_source_len(mut self, max: u32) -> Self {
        self.max_source_len = max;
        self
    }

    /// The largest `len` SourceData serves.
    pub fn max_source_len(&self) -> u32 {
        self.max_source_len
    }
}

/// The `echo_Info` Samba's server returns for `level`, if the level exists.
pub fn info_for_level(level: u16) -> Option<EchoInfo> {
    Some(match level {
        1 => EchoInfo::Info1(EchoInfo1 { v: 10 }),
        2 => EchoInfo::Info2(EchoInfo2 { v: 20 }),
        3 => EchoInfo::Info3(EchoInfo3 { v: 30 }),
        4 => EchoInfo::Info4(EchoInfo4 { v: 40 }),
        5 => EchoInfo::Info5(EchoInfo5 { v1: 50, v2: 60 }),
        6 => EchoInfo::Info6(EchoInfo6 {
            v1: 70,
            info1: EchoInfo1 { v: 80 },
        }),
        7 => EchoInfo::Info7(EchoInfo7 {
            v1: 80,
            info4: EchoInfo4 { v: 90 },
        }),
        _ => return None,
    })
}

impl<Sl: Sleeper> Rpcecho for EchoService<Sl> {
    async fn add_one(
        &self,
        _ctx: &CallContext,
        req: AddOneRequest,
    ) -> Result<AddOneResponse, RpcFault> {
        Ok(AddOneResponse {
            out_data: req.in_data.wrapping_add(1),
        })
    }

    async fn echo_data(
        &self,
        _ctx: &CallContext,
        req: EchoDataRequest,
    ) -> Result<EchoDataResponse, RpcFault> {
        Ok(EchoDataResponse {
            out_data: req.in_data,
        })
    }

    async fn sink_data(
        &self,
        _ctx: &CallContext,
        _req: SinkDataRequest,
    ) -> Result<SinkDataResponse, RpcFault> {
        Ok(SinkDataResponse {})
    }

    async fn source_data(
        &self,
        _ctx: &CallContext,
        req: SourceDataRequest,
    ) -> Result<SourceDataResponse, RpcFault> {
        if req.len > self.max_source_len {
            return Err(RpcFault(FaultStatus::NCA_S_FAULT_REMOTE_NO_MEMORY));
        }
        let data = (0..req.len).map(|i| (i & 0xff) as u8).collect();
        Ok(SourceDataResponse { data })
    }

    async fn test_call(
        &self,
        _ctx: &CallContext,
        req: TestCallRequest,
    ) -> Result<TestCallResponse, RpcFault> {
        Ok(TestCallResponse {
            s2: Unique::new(req.s1),
        })
    }

    async fn test_call2(
        &self,
        _ctx: &CallContext,
        req: TestCall2Request,
    ) -> Result<TestCall2Response, RpcFault> {
        match info_for_level(req.level) {
            Some(info) => Ok(TestCall2Response {
                info,
                result: NtStatus::OK,
            }),
            None => Err(RpcFault(FaultStatus::NCA_S_FAULT_INVALID_TAG)),
        }
    }

    async fn test_sleep(
        &self,
        _ctx: &CallContext,
        req: TestSleepRequest,
    ) -> Result<TestSleepResponse, RpcFault> {
        self.sleeper
            .sleep(Duration::from_secs(u64::from(req.seconds)))
            .await;
        Ok(TestSleepResponse {
            result: req.seconds,
        })
    }

    async fn test_enum(
        &self,
        _ctx: &CallContext,
        req: TestEnumRequest,
    ) -> Result<TestEnumResponse, RpcFault> {
        Ok(TestEnumResponse {
            foo1: req.foo1,
            foo2: EchoEnum2 {
                e1: EchoEnum1::Enum2,
                ..req.foo2
            },
            foo3: req.foo3,
        })
    }

    async fn test_surrounding(
        &self,
        _ctx: &CallContext,
        req: TestSurroundingRequest,
    ) -> Result<TestSurroundingResponse, RpcFault> {
        let x = req.data.x.saturating_mul(2);
        let len =
            usize::try_from(x).map_err(|_| RpcFault(FaultStatus::NCA_S_FAULT_REMOTE_NO_MEMORY))?;
        // Bounded by the request: `x` equals the count of elements that decoded within the
        // decode limits, so the reply is at most twice that.
        Ok(TestSurroundingResponse {
            data: EchoSurrounding {
                x,
                surrounding: vec![0; len],
            },
        })
    }

    async fn test_double_pointer(
        &self,
        _ctx: &CallContext,
        req: TestDoublePointerRequest,
    ) -> Result<TestDoublePointerResponse, RpcFault> {
        let v = req.data.get().and_then(Unique::get).copied().unwrap_or(0);
        Ok(TestDoublePointerResponse { result: v })
    }
}

pub mod conformance;

#[cfg(test)]
mod tests;
