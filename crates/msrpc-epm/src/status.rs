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
