//! Status codes (`error_status_t`) of the endpoint mapper and management interfaces, as DCE
//! defines them (C706 appendix E) and Windows sends them on the wire.

/// Success.
pub const RPC_S_OK: u32 = 0;
/// `ept_s_cant_perform_op`: the operation cannot be performed.
pub const EPT_S_CANT_PERFORM_OP: u32 = 0x16c9_a0cd;
/// `ept_s_no_memory`.
pub const EPT_S_NO_MEMORY: u32 = 0x16c9_a0ce;
/// `ept_s_database_invalid`.
pub const EPT_S_DATABASE_INVALID: u32 = 0x16c9_a0cf;
/// `ept_s_cant_create`.
pub const EPT_S_CANT_CREATE: u32 = 0x16c9_a0d0;
/// `ept_s_cant_access`.
pub const EPT_S_CANT_ACCESS: u32 = 0x16c9_a0d1;
/// `ept_s_database_already_open`.
pub const EPT_S_DATABASE_ALREADY_OPEN: u32 = 0x16c9_a0d2;
/// `ept_s_invalid_entry`.
pub const EPT_S_INVALID_ENTRY: u32 = 0x16c9_a0d3;
/// `ept_s_update_failed`.
pub const EPT_S_UPDATE_FAILED: u32 = 0x16c9_a0d4;
/// `ept_s_not_registered`: no (more) matching elements; ends an `ept_lookup`/`ept_map` loop.
pub const EPT_S_NOT_REGISTERED: u32 = 0x16c9_a0d6;
/// Access denied (Windows' `ERROR_ACCESS_DENIED`, what it returns for refused management
/// calls such as a remote `stop_server_listening`).
pub const RPC_S_ACCESS_DENIED: u32 = 0x0000_0005;
/// `EPT_S_CANT_PERFORM_OP` as Windows defines it (MS-RPCE 2.2.1.2.1: 0x6d8), which the
/// service sends for a request it cannot perform (`max_ents` or `max_towers` of zero, an
/// `ept_lookup` by interface without an interface).
pub const EPT_S_CANT_PERFORM_OP_MS: u32 = 0x0000_06d8;
/// `ept_s_invalid_context`: the lookup handle holds another kind of walk.
pub const EPT_S_INVALID_CONTEXT: u32 = 0x16c9_a0d5;
/// `ept_s_server_unavailable`.
pub const EPT_S_SERVER_UNAVAILABLE: u32 = 0x16c9_a0d7;
/// `rpc_s_invalid_inquiry_type`: `ept_lookup`'s `inquiry_type` is not one of the four.
pub const RPC_S_INVALID_INQUIRY_TYPE: u32 = 0x16c9_a0a9;
/// `rpc_s_invalid_vers_option`: `ept_lookup`'s `vers_option` is not one of the five.
pub const RPC_S_INVALID_VERS_OPTION: u32 = 0x16c9_a0bd;
/// `RPC_S_UNKNOWN_AUTHN_SERVICE` (1747): `inq_princ_name` for an authentication service the
/// server has no principal name for (what Windows' `RpcServerInqDefaultPrincName` returns).
pub const RPC_S_UNKNOWN_AUTHN_SERVICE: u32 = 0x0000_06d3;
