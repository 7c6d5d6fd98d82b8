//! Names for audit records: interface and operation names from `msrpc-epm`'s table of
//! well-known interfaces, and the UUIDs of the DCOM interfaces the exploit-shape inspection
//! looks at.

use msrpc_ndr::Uuid;

/// The endpoint mapper `ept` (e1af8308-5d1f-11c9-91a4-08002b14a0fa).
pub const EPM: Uuid = Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa);
/// DCOM `IRemoteActivation` (4d9f4ab8-7d1c-11cf-861e-0020af6e7c57), MS-DCOM 3.1.2.5.2.
pub const IREMOTE_ACTIVATION: Uuid = Uuid::from_u128(0x4d9f4ab8_7d1c_11cf_861e_0020af6e7c57);
/// DCOM `ISystemActivator` / `IRemoteSCMActivator` (000001a0-0000-0000-c000-000000000046).
pub const ISYSTEM_ACTIVATOR: Uuid = Uuid::from_u128(0x000001a0_0000_0000_c000_000000000046);
/// DCOM `IObjectExporter` (99fcfec4-5260-101b-bbcb-00aa0021347a).
pub const IOBJECT_EXPORTER: Uuid = Uuid::from_u128(0x99fcfec4_5260_101b_bbcb_00aa0021347a);

/// The well-known name of an interface (`epmapper`-style short names from `msrpc-epm`).
pub fn interface_name(uuid: &Uuid) -> Option<&'static str> {
    msrpc_epm::known::lookup(uuid).map(|k| k.name)
}

/// The name of operation `opnum` of interface `uuid`, when known (`msrpc_epm::known`'s table).
pub fn operation_name(uuid: &Uuid, opnum: u16) -> Option<&'static str> {
    msrpc_epm::known::operation_name(uuid, opnum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(operation_name(&EPM, 2), Some("ept_lookup"));
        assert_eq!(operation_name(&EPM, 99), None);
        assert_eq!(
            operation_name(&ISYSTEM_ACTIVATOR, 4),
            Some("RemoteCreateInstance")
        );
        assert_eq!(
            interface_name(&IREMOTE_ACTIVATION),
            Some("IRemoteActivation")
        );
        assert_eq!(interface_name(&Uuid::from_u128(7)), None);
    }
}
