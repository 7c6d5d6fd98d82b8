//! SPNEGO (RFC 4178, MS-SPNG) carrying NTLM, for `auth_type` `RPC_C_AUTHN_GSS_NEGOTIATE` (0x09).
//!
//! [`SpnegoClient`] wraps an [`NtlmClient`] and [`SpnegoAcceptor`] an [`NtlmAcceptor`]. Four
//! legs:
//!
//! 1. client: `NegTokenInit` (GSS-API `InitialContextToken` with the SPNEGO OID, mechTypes
//!    `{ NTLMSSP }` by default, mechToken = NTLM NEGOTIATE);
//! 2. acceptor: `NegTokenResp` (accept-incomplete, supportedMech NTLMSSP, CHALLENGE);
//! 3. client: `NegTokenResp` (responseToken = AUTHENTICATE, mechListMIC), returned as
//!    `Continue`, so the DCE/RPC client carries it in an **alter_context** (not auth3);
//! 4. acceptor: `NegTokenResp` (accept-completed, its own mechListMIC), returned as
//!    `Done(Some(..))` and sent in the alter_context_resp; the client verifies it and is done.
//!
//! When the initiator lists another mechanism first (e.g. Kerberos, [`SpnegoClient::with_mech_types`]),
//! the acceptor ignores the optimistic token and answers `request-mic` with supportedMech
//! NTLMSSP and no token; the initiator then sends NEGOTIATE in a `NegTokenResp` (one more
//! leg). An init whose mechTypes lack NTLMSSP is refused (an error from `step`, which the RPC
//! layer turns into a bind_nak / access denied).
//!
//! # mechListMIC (what we found, and what this module does)
//!
//! - **What it is** (RFC 4178 5, MS-SPNG 3.1.5.1): NTLM's GSS_GetMIC over the DER of the
//!   initiator's `MechTypeList` (`SEQUENCE OF OID`, as in the `NegTokenInit`), i.e. an NTLM
//!   signature (MS-NLMP 3.4.4.2): HMAC-MD5 with the sender's signing key over the sender's
//!   sequence number and the list, the checksum RC4-encrypted with the sender's sealing handle
//!   (key exchange). It is the first use of each direction, so it carries **sequence number 0**.
//! - **Afterwards** both sides **re-key the RC4 handles** from the sealing keys (so the first
//!   sealed PDU uses the same keystream start as the MIC did; MS-SPNG 3.1.5.1 "NTLM RC4 key
//!   state for MechListMIC and first signed message") and **keep the sequence numbers**: the
//!   first DCE/RPC request and response carry sequence number 1. Samba does this
//!   (`gensec_may_reset_crypto` with a partial reset once a MIC was checked: RC4 re-keyed,
//!   sequence numbers kept), and `tests/samba_spnego.rs` proves it against samba-dcerpcd: three
//!   signed and three sealed calls on one connection verify both ways.
//! - **When it is sent**: our client always sends it with the AUTHENTICATE (whose NTLM MIC it
//!   always sets) and requires the acceptor's in accept-completed, except when NTLM did not
//!   negotiate signing (the `CONNECT` level, where our NTLM client asks for neither SIGN nor
//!   SEAL, as Samba's does): Samba's acceptor then sends none, and nothing is signed later. Our acceptor verifies the
//!   initiator's when present and **requires** it when NTLM was not the initiator's first
//!   mechanism (RFC 4178 5: only then could a downgrade have happened) or when the
//!   AUTHENTICATE carried an NTLM MIC (MsvAvFlags 0x2; what Samba checks as "new SPNEGO", and
//!   Windows clients that set the NTLM MIC always send the mechListMIC); it answers with its
//!   own mechListMIC exactly when it verified one, then re-keys RC4. A mechListMIC sent
//!   before NTLM completed is refused.
//! - **auth3**: a client that sends its final token in an auth3 never receives the acceptor's
//!   mechListMIC, but the acceptor has consumed its sending sequence number 0 for it, so
//!   their sequence numbers disagree. Windows and Samba clients use alter_context whenever
//!   SPNEGO still expects an answer (as ours does); the server drops the token after auth3.
//!
//! The DER reader is bounded: definite lengths only (at most 4 length octets), single-octet
//! tags, every length checked against the enclosing buffer, no recursion beyond the fixed
//! structure, and no panics on any input.

use std::ops::Range;

use msrpc_proto::pdu::{AuthLevel, AuthType};
use msrpc_proto::security::{AuthStep, SecurityError, SecurityProvider};

use crate::{NtlmAcceptor, NtlmClient};

/// DER content of the SPNEGO OID 1.3.6.1.5.5.2.
pub const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// DER content of the NTLMSSP OID 1.3.6.1.4.1.311.2.2.10.
pub const OID_NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];

const TAG_OID: u8 = 0x06;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_ENUMERATED: u8 = 0x0a;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_APPLICATION_0: u8 = 0x60;
const fn ctx(n: u8) -> u8 {
    0xa0 | n
}

/// Why a DER token could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    /// The input ended inside an element.
    #[error("truncated DER element")]
    Truncated,
    /// An indefinite, over-long or otherwise unsupported length.
    #[error("unsupported DER length")]
    BadLength,
    /// A tag other than the one the structure requires.
    #[error("unexpected DER tag {found:#04x} (expected {expected:#04x})")]
    UnexpectedTag {
        /// Tag expected.
        expected: u8,
        /// Tag found.
        found: u8,
    },
    /// Bytes left over after a complete element, or a malformed value.
    #[error("malformed SPNEGO token: {0}")]
    Malformed(&'static str),
}

impl From<DerError> for SecurityError {
    fn from(e: DerError) -> Self {
        SecurityError::MalformedToken(format!("SPNEGO: {e}"))
    }
}

/// A bounded DER reader over one buffer.
#[derive(Clone, Copy, Debug)]
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    /// Reads one element: (tag, content).
    fn any(&mut self) -> Result<(u8, &'a [u8]), DerError> {
        let (&tag, rest) = self.buf.split_first().ok_or(DerError::Truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(DerError::Malformed("multi-octet tag"));
        }
        let (&first, mut rest) = rest.split_first().ok_or(DerError::Truncated)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err(DerError::BadLength);
            }
            let (octets, r) = rest.split_at_checked(n).ok_or(DerError::Truncated)?;
            rest = r;
            octets
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let (content, rest) = rest.split_at_checked(len).ok_or(DerError::Truncated)?;
        self.buf = rest;
        Ok((tag, content))
    }

    /// Reads one element that must carry `tag`.
    fn expect(&mut self, tag: u8) -> Result<&'a [u8], DerError> {
        let (found, content) = self.any()?;
        if found != tag {
            return Err(DerError::UnexpectedTag {
                expected: tag,
                found,
            });
        }
        Ok(content)
    }

    /// Reads the optional element `tag` if it comes next.
    fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.expect(tag).map(Some)
        } else {
            Ok(None)
        }
    }

    fn finish(&self) -> Result<(), DerError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DerError::Malformed("trailing bytes"))
        }
    }
}

/// Reads exactly one element `tag` filling `buf`.
fn only(buf: &[u8], tag: u8) -> Result<&[u8], DerError> {
    let mut r = Reader::new(buf);
    let c = r.expect(tag)?;
    r.finish()?;
    Ok(c)
}

/// Encodes one DER element.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let octets = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | octets.len() as u8);
        out.extend_from_slice(octets);
    }
    out.extend_from_slice(content);
    out
}

/// SPNEGO `NegTokenInit` (RFC 4178 4.2.1), without reqFlags (ignored on receipt).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NegTokenInit {
    /// mechTypes: DER contents of each OID, most preferred first.
    pub mech_types: Vec<Vec<u8>>,
    /// mechToken: the optimistic token for the first mechanism.
    pub mech_token: Option<Vec<u8>>,
    /// mechListMIC.
    pub mech_list_mic: Option<Vec<u8>>,
}

impl NegTokenInit {
    /// The DER of the mechTypes `SEQUENCE OF OID` (what a mechListMIC covers).
    pub fn mech_types_der(&self) -> Vec<u8> {
        let oids: Vec<u8> = self
            .mech_types
            .iter()
            .flat_map(|o| tlv(TAG_OID, o))
            .collect();
        tlv(TAG_SEQUENCE, &oids)
    }

    /// Encodes as a GSS-API `InitialContextToken` carrying the SPNEGO OID.
    pub fn encode(&self) -> Vec<u8> {
        let mut seq = tlv(ctx(0), &self.mech_types_der());
        if let Some(t) = &self.mech_token {
            seq.extend(tlv(ctx(2), &tlv(TAG_OCTET_STRING, t)));
        }
        if let Some(m) = &self.mech_list_mic {
            seq.extend(tlv(ctx(3), &tlv(TAG_OCTET_STRING, m)));
        }
        let mut inner = tlv(TAG_OID, OID_SPNEGO);
        inner.extend(tlv(ctx(0), &tlv(TAG_SEQUENCE, &seq)));
        tlv(TAG_APPLICATION_0, &inner)
    }

    /// Decodes a GSS-API `InitialContextToken` carrying SPNEGO `NegTokenInit` (also accepted
    /// without the `[APPLICATION 0]` wrapper, as a bare `[0] NegTokenInit`).
    pub fn decode(buf: &[u8]) -> Result<Self, DerError> {
        let body = match buf.first() {
            Some(&TAG_APPLICATION_0) => {
                let mut r = Reader::new(only(buf, TAG_APPLICATION_0)?);
                if r.expect(TAG_OID)? != OID_SPNEGO {
                    return Err(DerError::Malformed("not the SPNEGO OID"));
                }
                let b = r.expect(ctx(0))?;
                r.finish()?;
                b
            }
            _ => only(buf, ctx(0))?,
        };
        let mut r = Reader::new(only(body, TAG_SEQUENCE)?);
        let mut out = Self::default();
        if let Some(types) = r.optional(ctx(0))? {
            let mut list = Reader::new(only(types, TAG_SEQUENCE)?);
            while !list.is_empty() {
                let oid = list.expect(TAG_OID)?;
                if oid.is_empty() {
                    return Err(DerError::Malformed("empty OID"));
                }
                out.mech_types.push(oid.to_vec());
            }
        }
        if let Some(flags) = r.optional(ctx(1))? {
            only(flags, TAG_BIT_STRING)?;
        }
        if let Some(t) = r.optional(ctx(2))? {
            out.mech_token = Some(only(t, TAG_OCTET_STRING)?.to_vec());
        }
        if let Some(m) = r.optional(ctx(3))? {
            out.mech_list_mic = Some(only(m, TAG_OCTET_STRING)?.to_vec());
        }
        r.finish()?;
        Ok(out)
    }
}

/// `negState` of a [`NegTokenResp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegState {
    /// accept-completed (0).
    AcceptCompleted,
    /// accept-incomplete (1).
    AcceptIncomplete,
    /// reject (2).
    Reject,
    /// request-mic (3).
    RequestMic,
}

impl NegState {
    fn value(self) -> u8 {
        match self {
            NegState::AcceptCompleted => 0,
            NegState::AcceptIncomplete => 1,
            NegState::Reject => 2,
            NegState::RequestMic => 3,
        }
    }
}

/// SPNEGO `NegTokenResp` (RFC 4178 4.2.2), encoded as `[1] NegTokenResp`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NegTokenResp {
    /// negState.
    pub neg_state: Option<NegState>,
    /// supportedMech: DER content of the OID.
    pub supported_mech: Option<Vec<u8>>,
    /// responseToken.
    pub response_token: Option<Vec<u8>>,
    /// mechListMIC.
    pub mech_list_mic: Option<Vec<u8>>,
}

impl NegTokenResp {
    /// Encodes as `[1] NegTokenResp`.
    pub fn encode(&self) -> Vec<u8> {
        let mut seq = Vec::new();
        if let Some(s) = self.neg_state {
            seq.extend(tlv(ctx(0), &tlv(TAG_ENUMERATED, &[s.value()])));
        }
        if let Some(m) = &self.supported_mech {
            seq.extend(tlv(ctx(1), &tlv(TAG_OID, m)));
        }
        if let Some(t) = &self.response_token {
            seq.extend(tlv(ctx(2), &tlv(TAG_OCTET_STRING, t)));
        }
        if let Some(m) = &self.mech_list_mic {
            seq.extend(tlv(ctx(3), &tlv(TAG_OCTET_STRING, m)));
        }
        tlv(ctx(1), &tlv(TAG_SEQUENCE, &seq))
    }

    /// Decodes `[1] NegTokenResp`.
    pub fn decode(buf: &[u8]) -> Result<Self, DerError> {
        let mut r = Reader::new(only(only(buf, ctx(1))?, TAG_SEQUENCE)?);
        let mut out = Self::default();
        if let Some(s) = r.optional(ctx(0))? {
            out.neg_state = Some(match only(s, TAG_ENUMERATED)? {
                [0] => NegState::AcceptCompleted,
                [1] => NegState::AcceptIncomplete,
                [2] => NegState::Reject,
                [3] => NegState::RequestMic,
                _ => return Err(DerError::Malformed("negState")),
            });
        }
        if let Some(m) = r.optional(ctx(1))? {
            let oid = only(m, TAG_OID)?;
            if oid.is_empty() {
                return Err(DerError::Malformed("empty OID"));
            }
            out.supported_mech = Some(oid.to_vec());
        }
        if let Some(t) = r.optional(ctx(2))? {
            out.response_token = Some(only(t, TAG_OCTET_STRING)?.to_vec());
        }
        if let Some(m) = r.optional(ctx(3))? {
            out.mech_list_mic = Some(only(m, TAG_OCTET_STRING)?.to_vec());
        }
        r.finish()?;
        Ok(out)
    }
}

fn refuse(why: &str) -> SecurityError {
    SecurityError::AuthenticationFailed(format!("SPNEGO: {why}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Initial,
    /// Waiting for the peer's next token.
    Negotiating,
    /// Client only: AUTHENTICATE and mechListMIC sent, waiting for accept-completed and the
    /// acceptor's mechListMIC.
    AwaitingMic,
    Established,
    Failed,
}

/// SPNEGO initiator wrapping an [`NtlmClient`] (`auth_type` `GSS_NEGOTIATE`).
#[derive(Debug)]
pub struct SpnegoClient {
    inner: NtlmClient,
    phase: Phase,
    /// The mechanisms offered, most preferred first; NTLMSSP is among them.
    mech_types: Vec<Vec<u8>>,
    /// Whether NTLM's NEGOTIATE has been sent (optimistically or after the acceptor chose NTLM).
    ntlm_started: bool,
}

impl SpnegoClient {
    /// Wraps `inner`, which must not have started its exchange, offering only NTLMSSP (with
    /// NEGOTIATE as the optimistic token).
    pub fn new(inner: NtlmClient) -> Self {
        Self {
            inner,
            phase: Phase::Initial,
            mech_types: vec![OID_NTLMSSP.to_vec()],
            ntlm_started: false,
        }
    }

    /// Offers `mech_types` (DER OID contents, most preferred first) instead of NTLMSSP alone,
    /// as Windows does when it lists Kerberos first. NTLMSSP is appended when missing, since
    /// it is the only mechanism this client can run; the optimistic NEGOTIATE is sent only
    /// when NTLMSSP comes first, otherwise it follows once the acceptor selected NTLMSSP.
    pub fn with_mech_types(mut self, mech_types: Vec<Vec<u8>>) -> Self {
        self.mech_types = mech_types;
        if !self.mech_types.iter().any(|m| m == OID_NTLMSSP) {
            self.mech_types.push(OID_NTLMSSP.to_vec());
        }
        self
    }

    fn mech_types_der(&self) -> Vec<u8> {
        NegTokenInit {
            mech_types: self.mech_types.clone(),
            ..NegTokenInit::default()
        }
        .mech_types_der()
    }

    fn negotiate(&mut self) -> Result<Vec<u8>, SecurityError> {
        self.ntlm_started = true;
        match self.inner.step(None)? {
            AuthStep::Continue(t) => Ok(t),
            AuthStep::Done(_) => Err(refuse("NTLM finished early")),
        }
    }

    fn run(&mut self, input: Option<&[u8]>) -> Result<AuthStep, SecurityError> {
        match (self.phase, input) {
            (Phase::Initial, None) => {
                let mech_token = if self.mech_types.first().map(Vec::as_slice) == Some(OID_NTLMSSP)
                {
                    Some(self.negotiate()?)
                } else {
                    None
                };
                self.phase = Phase::Negotiating;
                Ok(AuthStep::Continue(
                    NegTokenInit {
                        mech_types: self.mech_types.clone(),
                        mech_token,
                        mech_list_mic: None,
                    }
                    .encode(),
                ))
            }
            (Phase::Negotiating, Some(buf)) => {
                let resp = NegTokenResp::decode(buf)?;
                match resp.neg_state {
                    // request-mic: NTLM was not our first choice; our mechListMIC always goes.
                    Some(NegState::AcceptIncomplete) | Some(NegState::RequestMic) | None => {}
                    Some(NegState::Reject) => return Err(refuse("rejected by the acceptor")),
                    Some(s) => return Err(refuse(&format!("unexpected negState {s:?}"))),
                }
                if resp
                    .supported_mech
                    .as_deref()
                    .is_some_and(|m| m != OID_NTLMSSP)
                {
                    return Err(refuse("acceptor selected a mechanism other than NTLM"));
                }
                if !self.ntlm_started {
                    // NTLM was not our first choice: the acceptor must name it, and we start it.
                    if resp.supported_mech.is_none() {
                        return Err(refuse("acceptor named no mechanism"));
                    }
                    if resp.response_token.is_some() {
                        return Err(refuse("a token for a mechanism we did not start"));
                    }
                    let negotiate = self.negotiate()?;
                    return Ok(AuthStep::Continue(
                        NegTokenResp {
                            response_token: Some(negotiate),
                            ..NegTokenResp::default()
                        }
                        .encode(),
                    ));
                }
                let challenge = resp
                    .response_token
                    .ok_or_else(|| refuse("no NTLM CHALLENGE in the response"))?;
                let auth = match self.inner.step(Some(&challenge))? {
                    AuthStep::Done(Some(t)) | AuthStep::Continue(t) => t,
                    AuthStep::Done(None) => return Err(refuse("NTLM produced no AUTHENTICATE")),
                };
                if !self.inner.is_established() {
                    return Err(refuse("NTLM not established"));
                }
                // Our AUTHENTICATE always carries a MIC, so the mechListMIC always goes with
                // it, and the acceptor's is awaited (a fourth leg: alter_context in DCE/RPC).
                let mic = self.inner.get_mic(&self.mech_types_der())?;
                self.phase = Phase::AwaitingMic;
                Ok(AuthStep::Continue(
                    NegTokenResp {
                        response_token: Some(auth),
                        mech_list_mic: Some(mic),
                        ..NegTokenResp::default()
                    }
                    .encode(),
                ))
            }
            (Phase::AwaitingMic, Some(buf)) => {
                let resp = NegTokenResp::decode(buf)?;
                match resp.neg_state {
                    Some(NegState::AcceptCompleted) => {}
                    Some(NegState::Reject) => return Err(refuse("rejected by the acceptor")),
                    s => return Err(refuse(&format!("unexpected negState {s:?}"))),
                }
                if resp
                    .supported_mech
                    .as_deref()
                    .is_some_and(|m| m != OID_NTLMSSP)
                {
                    return Err(refuse("acceptor changed the mechanism"));
                }
                if resp.response_token.as_ref().is_some_and(|t| !t.is_empty()) {
                    return Err(refuse("a mechanism token after NTLM completed"));
                }
                match resp.mech_list_mic {
                    Some(mic) => {
                        self.inner
                            .verify_mic(&self.mech_types_der(), &mic)
                            .map_err(|_| refuse("the acceptor's mechListMIC does not verify"))?;
                        self.inner.reset_rc4()?;
                    }
                    // Without NEGOTIATE_SIGN (the CONNECT level) Samba's acceptor does not
                    // answer with a mechListMIC (it has no "new SPNEGO" without signing);
                    // nothing is signed afterwards, and NTLM's own MIC covered the exchange.
                    None if !self.inner.negotiated_signing() => {}
                    None => return Err(refuse("the acceptor sent no mechListMIC")),
                }
                self.phase = Phase::Established;
                Ok(AuthStep::Done(None))
            }
            _ => Err(SecurityError::NotReady("unexpected SPNEGO client step")),
        }
    }
}

/// SPNEGO acceptor wrapping an [`NtlmAcceptor`] (`auth_type` `GSS_NEGOTIATE`).
#[derive(Debug)]
pub struct SpnegoAcceptor {
    inner: NtlmAcceptor,
    phase: Phase,
    /// Whether the inner NTLM acceptor has received NEGOTIATE.
    ntlm_started: bool,
    /// DER of the initiator's mechTypes, which the mechListMICs cover.
    mech_types_der: Vec<u8>,
    /// NTLM was not the initiator's first choice: a mechListMIC is required.
    mic_required: bool,
}

impl SpnegoAcceptor {
    /// Wraps `inner`, which must not have started its exchange.
    pub fn new(inner: NtlmAcceptor) -> Self {
        Self {
            inner,
            phase: Phase::Initial,
            ntlm_started: false,
            mech_types_der: Vec::new(),
            mic_required: false,
        }
    }

    fn incomplete(token: Option<Vec<u8>>, state: NegState) -> AuthStep {
        AuthStep::Continue(
            NegTokenResp {
                neg_state: Some(state),
                supported_mech: Some(OID_NTLMSSP.to_vec()),
                response_token: token,
                mech_list_mic: None,
            }
            .encode(),
        )
    }

    /// Feeds one NTLM token (with the initiator's mechListMIC, if any) to the inner acceptor
    /// and wraps its answer.
    fn ntlm(&mut self, token: &[u8], mic: Option<&[u8]>) -> Result<AuthStep, SecurityError> {
        let first = !self.ntlm_started;
        self.ntlm_started = true;
        if first && mic.is_some() {
            return Err(refuse("mechListMIC before NTLM completed"));
        }
        match self.inner.step(Some(token))? {
            AuthStep::Continue(challenge) if first => {
                self.phase = Phase::Negotiating;
                Ok(Self::incomplete(
                    Some(challenge),
                    NegState::AcceptIncomplete,
                ))
            }
            AuthStep::Done(None) if !first && self.inner.is_established() => {
                let our_mic = match mic {
                    Some(m) => {
                        self.inner
                            .verify_mic(&self.mech_types_der, m)
                            .map_err(|_| refuse("the initiator's mechListMIC does not verify"))?;
                        let ours = self.inner.get_mic(&self.mech_types_der)?;
                        self.inner.reset_rc4()?;
                        Some(ours)
                    }
                    None if self.mic_required || self.inner.authenticate_had_mic() => {
                        return Err(refuse("mechListMIC missing"));
                    }
                    None => None,
                };
                self.phase = Phase::Established;
                Ok(AuthStep::Done(Some(
                    NegTokenResp {
                        neg_state: Some(NegState::AcceptCompleted),
                        mech_list_mic: our_mic,
                        ..NegTokenResp::default()
                    }
                    .encode(),
                )))
            }
            _ => Err(refuse("unexpected NTLM acceptor step")),
        }
    }

    fn run(&mut self, input: Option<&[u8]>) -> Result<AuthStep, SecurityError> {
        match (self.phase, input) {
            (Phase::Initial, Some(buf)) => {
                let init = NegTokenInit::decode(buf)?;
                let pos = init
                    .mech_types
                    .iter()
                    .position(|m| m == OID_NTLMSSP)
                    .ok_or_else(|| refuse("NTLMSSP not among the offered mechanisms"))?;
                self.mech_types_der = init.mech_types_der();
                // RFC 4178 5: another mechanism than the initiator's first needs a mechListMIC.
                self.mic_required = pos != 0;
                match init.mech_token {
                    // The optimistic token is for the first mechanism only.
                    Some(t) if pos == 0 => self.ntlm(&t, None),
                    _ => {
                        self.phase = Phase::Negotiating;
                        // RFC 4178 4.2.2: request-mic when NTLM is not the first choice.
                        let state = if pos == 0 {
                            NegState::AcceptIncomplete
                        } else {
                            NegState::RequestMic
                        };
                        Ok(Self::incomplete(None, state))
                    }
                }
            }
            (Phase::Negotiating, Some(buf)) => {
                let resp = NegTokenResp::decode(buf)?;
                match resp.neg_state {
                    None | Some(NegState::AcceptIncomplete) | Some(NegState::AcceptCompleted) => {}
                    Some(s) => return Err(refuse(&format!("unexpected negState {s:?}"))),
                }
                if resp.supported_mech.is_some() {
                    return Err(refuse("supportedMech from the initiator"));
                }
                let token = resp
                    .response_token
                    .ok_or_else(|| refuse("no NTLM token from the initiator"))?;
                self.ntlm(&token, resp.mech_list_mic.as_deref())
            }
            _ => Err(SecurityError::NotReady("unexpected SPNEGO acceptor step")),
        }
    }
}

macro_rules! delegate {
    ($t:ty) => {
        impl SecurityProvider for $t {
            fn auth_type(&self) -> AuthType {
                AuthType::GSS_NEGOTIATE
            }

            fn step(&mut self, input: Option<&[u8]>) -> Result<AuthStep, SecurityError> {
                let r = self.run(input);
                if r.is_err() {
                    self.phase = Phase::Failed;
                }
                r
            }

            fn is_established(&self) -> bool {
                self.phase == Phase::Established && self.inner.is_established()
            }

            fn peer_name(&self) -> Option<String> {
                if self.is_established() {
                    self.inner.peer_name()
                } else {
                    None
                }
            }

            fn claimed_name(&self) -> Option<String> {
                self.inner.claimed_name()
            }

            fn is_anonymous(&self) -> bool {
                self.is_established() && self.inner.is_anonymous()
            }

            fn signature_len(&self) -> usize {
                self.inner.signature_len()
            }

            fn covers_header(&self) -> bool {
                self.inner.covers_header()
            }

            fn set_auth_level(&mut self, level: AuthLevel) {
                self.inner.set_auth_level(level)
            }

            fn sign(&mut self, pdu: &[u8], data: Range<usize>) -> Result<Vec<u8>, SecurityError> {
                self.ready()?;
                self.inner.sign(pdu, data)
            }

            fn verify(
                &mut self,
                pdu: &[u8],
                data: Range<usize>,
                signature: &[u8],
            ) -> Result<(), SecurityError> {
                self.ready()?;
                self.inner.verify(pdu, data, signature)
            }

            fn seal(
                &mut self,
                pdu: &mut [u8],
                data: Range<usize>,
            ) -> Result<Vec<u8>, SecurityError> {
                self.ready()?;
                self.inner.seal(pdu, data)
            }

            fn unseal(
                &mut self,
                pdu: &mut [u8],
                data: Range<usize>,
                signature: &[u8],
            ) -> Result<(), SecurityError> {
                self.ready()?;
                self.inner.unseal(pdu, data, signature)
            }
        }

        impl $t {
            fn ready(&self) -> Result<(), SecurityError> {
                if self.is_established() {
                    Ok(())
                } else {
                    Err(SecurityError::NotReady("SPNEGO context not established"))
                }
            }
        }
    };
}

delegate!(SpnegoClient);
delegate!(SpnegoAcceptor);
