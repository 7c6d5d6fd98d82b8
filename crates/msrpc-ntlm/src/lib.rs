//! NTLMv2 (MS-NLMP) for msrpc: an [`NtlmClient`] and an [`NtlmAcceptor`] implementing
//! [`msrpc_proto::security::SecurityProvider`] for `auth_type` `RPC_C_AUTHN_WINNT` (0x0a).
//!
//! What it does:
//! - the NEGOTIATE / CHALLENGE / AUTHENTICATE exchange (MS-NLMP 2.2, [`messages`]), with
//!   bounded parsing that reports [`messages::MessageError`] and never panics;
//! - NTLMv2 responses, key exchange with an RC4-encrypted random session key, the MIC, and
//!   message signing and sealing with extended session security and 128-bit keys
//!   (MS-NLMP 3.3.2, 3.4; [`crypto`]), one sequence number and RC4 handle per direction;
//! - an acceptor that verifies the client's NTProofStr against its own [`UserStore`] of NT
//!   hashes, so a wrong password, an unknown user or a proof made for another user's name is
//!   refused, and a MIC announced in the client's AV pairs must verify.
//!
//! What it does not: NTLMv1, LM and LM_KEY (refused by the acceptor, never produced by the
//! client), DES, sessions without extended session security or with 40/56-bit keys,
//! channel bindings, datagram (connectionless) NTLM, and pass-through to a domain controller.
//! Anonymous logons are refused unless [`NtlmAcceptor::allow_anonymous`] is set; then they
//! are accepted as [`ANONYMOUS_LOGON`] with the session key MS-NLMP gives them (derived from
//! `Z(16)`, as Windows, Samba and Impacket compute it), so they sign and seal;
//! [`NtlmClient::anonymous`] is the matching client.
//!
//! SPNEGO ([`spnego`]) wraps both for `auth_type` `RPC_C_AUTHN_GSS_NEGOTIATE` (0x09), with
//! the mechListMIC exchanged both ways (see the module for the sequence-number and RC4
//! findings), checked against Samba and Impacket.
//!
//! Secrets (NT hashes, NTOWFv2, session keys) are zeroized on drop and no `Debug` output
//! prints them.

pub mod crypto;
pub mod messages;
mod provider;
pub mod session;
pub mod spnego;
pub mod store;

pub use provider::{
    is_anonymous_logon, MemoryUserStore, NtlmAcceptor, NtlmClient, UserStore, ANONYMOUS_LOGON,
};
pub use session::SIGNATURE_LEN;
pub use spnego::{SpnegoAcceptor, SpnegoClient};
pub use store::{FileUserStore, StoreError};
