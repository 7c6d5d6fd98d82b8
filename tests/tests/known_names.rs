//! The operation names of `msrpc_epm::known` (data the audit log and the analyzer read without
//! linking the crates that implement the interfaces) agree with those implementations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_echo::RpcechoInterface;
use msrpc_epm::known;
use msrpc_epm::mgmt::MgmtInterface;
use msrpc_epm::EptInterface;
use msrpc_proto::dispatch::Interface;

/// `TestCall2` -> `test_call2`: the IDL name as `#[interface]`'s Rust method is spelled.
fn snake(idl: &str) -> String {
    let mut out = String::new();
    for (i, c) in idl.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn rpcecho_names_follow_the_interface() {
    let uuid = RpcechoInterface::SYNTAX.uuid;
    for opnum in 0..=u16::try_from(RpcechoInterface::OPERATIONS.len()).unwrap() {
        let ours = RpcechoInterface::operation_name(opnum);
        let table = known::operation_name(&uuid, opnum);
        assert_eq!(table.map(snake).as_deref(), ours, "opnum {opnum}");
    }
    assert_eq!(known::operation_name(&uuid, 7), Some("TestEnum"));
}

#[test]
fn epm_and_mgmt_names_are_the_interfaces_own() {
    for (uuid, ops) in [
        (EptInterface::SYNTAX.uuid, EptInterface::OPERATIONS),
        (MgmtInterface::SYNTAX.uuid, MgmtInterface::OPERATIONS),
    ] {
        for (opnum, name) in ops.iter().enumerate() {
            let opnum = u16::try_from(opnum).unwrap();
            assert_eq!(known::operation_name(&uuid, opnum), *name, "{uuid} {opnum}");
        }
        assert_eq!(known::operation_name(&uuid, 200), None);
    }
}
