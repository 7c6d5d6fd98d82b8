//! A conformance run of the rpcecho interface: calls every operation through a generated
//! [`RpcechoClient`] and checks each answer against Samba's semantics (the table on
//! [`EchoService`]). Tests over every transport use it, so "every operation
//! works" means the same thing everywhere, and so does the loopback example.

use msrpc_ndr::Unique;
use msrpc_proto::dispatch::{CallError, Invoke};
use msrpc_proto::pdu::FaultStatus;

use crate::*;

/// What one operation returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpReport {
    /// Operation (IDL name).
    pub op: &'static str,
    /// What was sent and received, for people.
    pub detail: String,
}

/// The first answer that differs from Samba's semantics.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{op}: {problem}")]
pub struct ConformanceError {
    /// Operation.
    pub op: &'static str,
    /// What was wrong.
    pub problem: String,
}

fn fail(op: &'static str, problem: impl Into<String>) -> ConformanceError {
    ConformanceError {
        op,
        problem: problem.into(),
    }
}

fn call<T>(op: &'static str, r: Result<T, CallError>) -> Result<T, ConformanceError> {
    r.map_err(|e| fail(op, format!("call failed: {e}")))
}

fn check(
    op: &'static str,
    ok: bool,
    what: impl FnOnce() -> String,
) -> Result<(), ConformanceError> {
    if ok {
        Ok(())
    } else {
        Err(fail(op, what()))
    }
}

/// Calls every rpcecho operation once (TestCall2 at every level, TestDoublePointer with and
/// without a null pointer, plus an unknown TestCall2 level that must fault with
/// `nca_s_fault_invalid_tag`). `payload` is the EchoData/SourceData size: make it larger than
/// the fragment size to exercise fragmentation both ways. `sleep` is TestSleep's argument.
pub async fn exercise<C: Invoke>(
    c: &RpcechoClient<C>,
    payload: u32,
    sleep: u32,
) -> Result<Vec<OpReport>, ConformanceError> {
    let mut out = Vec::new();
    let mut report = |op, detail: String| out.push(OpReport { op, detail });

    let r = call("AddOne", c.add_one(AddOneRequest { in_data: 41 }).await)?;
    check("AddOne", r.out_data == 42, || {
        format!("AddOne(41) = {}", r.out_data)
    })?;
    let r = call(
        "AddOne",
        c.add_one(AddOneRequest { in_data: u32::MAX }).await,
    )?;
    check("AddOne", r.out_data == 0, || {
        format!("AddOne(u32::MAX) = {}", r.out_data)
    })?;
    report("AddOne", "41 -> 42, u32::MAX -> 0".into());

    let data: Vec<u8> = (0..payload)
        .map(|i| (i.wrapping_mul(7) % 251) as u8)
        .collect();
    let r = call(
        "EchoData",
        c.echo_data(EchoDataRequest {
            len: payload,
            in_data: data.clone(),
        })
        .await,
    )?;
    check("EchoData", r.out_data == data, || {
        format!("{} bytes came back altered", payload)
    })?;
    report("EchoData", format!("{payload} bytes echoed intact"));

    call(
        "SinkData",
        c.sink_data(SinkDataRequest {
            len: 3,
            data: vec![1, 2, 3],
        })
        .await,
    )?;
    report("SinkData", "3 bytes accepted".into());

    let r = call(
        "SourceData",
        c.source_data(SourceDataRequest { len: payload }).await,
    )?;
    let want: Vec<u8> = (0..payload).map(|i| (i & 0xff) as u8).collect();
    check("SourceData", r.data == want, || {
        "bytes differ from i & 0xff".into()
    })?;
    report("SourceData", format!("{payload} bytes, byte i = i & 0xff"));

    let s = "héllo wörld ✓";
    let r = call(
        "TestCall",
        c.test_call(TestCallRequest { s1: s.into() }).await,
    )?;
    check(
        "TestCall",
        r.s2.get().map(String::as_str) == Some(s),
        || format!("s2 = {:?}", r.s2),
    )?;
    report("TestCall", format!("{s:?} returned"));

    for level in 1..=7u16 {
        let r = call("TestCall2", c.test_call2(TestCall2Request { level }).await)?;
        check(
            "TestCall2",
            Some(r.info) == info_for_level(level) && r.result == NtStatus::OK,
            || format!("level {level}: {:?}, {:?}", r.info, r.result),
        )?;
    }
    match c.test_call2(TestCall2Request { level: 8 }).await {
        Err(CallError::Fault(FaultStatus::NCA_S_FAULT_INVALID_TAG)) => {}
        other => {
            return Err(fail(
                "TestCall2",
                format!("level 8 gave {other:?}, not nca_s_fault_invalid_tag"),
            ))
        }
    }
    report(
        "TestCall2",
        "levels 1-7 as Samba, level 8 faults with invalid_tag".into(),
    );

    let r = call(
        "TestSleep",
        c.test_sleep(TestSleepRequest { seconds: sleep }).await,
    )?;
    check("TestSleep", r.result == sleep, || {
        format!("returned {}", r.result)
    })?;
    report("TestSleep", format!("slept {sleep} s"));

    let named = EchoEnum2 {
        e1: EchoEnum1::Enum1,
        e2: EchoEnum1_32::Enum2,
    };
    // Values the IDL does not name travel as they are (Samba's client sends them; Samba's and
    // Windows' stubs hand them to the service), up to the wire widths.
    let unnamed = EchoEnum2 {
        e1: EchoEnum1::Unknown(76),
        e2: EchoEnum1_32::Unknown(0xffff_ffff),
    };
    for (foo1, foo2, foo3) in [
        (EchoEnum1::Enum1, named, EchoEnum3::E1(EchoEnum1::Enum2)),
        (
            EchoEnum1::Enum2,
            named,
            EchoEnum3::E2(EchoEnum2 {
                e1: EchoEnum1::Enum2,
                e2: EchoEnum1_32::Enum1,
            }),
        ),
        (
            EchoEnum1::Enum1,
            unnamed,
            EchoEnum3::E1(EchoEnum1::Unknown(0xffff)),
        ),
        (
            EchoEnum1::Enum2,
            unnamed,
            EchoEnum3::E2(EchoEnum2 {
                e1: EchoEnum1::Unknown(0x8000),
                e2: EchoEnum1_32::Unknown(76),
            }),
        ),
    ] {
        let r = call(
            "TestEnum",
            c.test_enum(TestEnumRequest { foo1, foo2, foo3 }).await,
        )?;
        check(
            "TestEnum",
            (r.foo1, r.foo2, r.foo3)
                == (
                    foo1,
                    EchoEnum2 {
                        e1: EchoEnum1::Enum2,
                        ..foo2
                    },
                    foo3,
                ),
            || format!("{r:?}"),
        )?;
    }
    report(
        "TestEnum",
        "both union arms echoed, values the IDL does not name unchanged, foo2.e1 set to ECHO_ENUM2 as Samba does".into(),
    );

    let data = EchoSurrounding {
        x: 3,
        surrounding: vec![1, 2, 3],
    };
    let r = call(
        "TestSurrounding",
        c.test_surrounding(TestSurroundingRequest { data }).await,
    )?;
    check(
        "TestSurrounding",
        r.data
            == EchoSurrounding {
                x: 6,
                surrounding: vec![0; 6],
            },
        || format!("{:?}", r.data),
    )?;
    report("TestSurrounding", "x 3 -> 6, six zeros".into());

    let r = call(
        "TestDoublePointer",
        c.test_double_pointer(TestDoublePointerRequest {
            data: Unique::new(Unique::new(0x4242)),
        })
        .await,
    )?;
    check("TestDoublePointer", r.result == 0x4242, || {
        format!("returned {:#x}", r.result)
    })?;
    let r = call(
        "TestDoublePointer",
        c.test_double_pointer(TestDoublePointerRequest {
            data: Unique::new(Unique::null()),
        })
        .await,
    )?;
    check("TestDoublePointer", r.result == 0, || {
        format!("null inner pointer gave {:#x}", r.result)
    })?;
    report(
        "TestDoublePointer",
        "0x4242, and 0 for a null pointer".into(),
    );
    Ok(out)
}
