//! Printing: JSON documents and the interface descriptions text and JSON share.

use msrpc_epm::known;
use msrpc_proto::pdu::SyntaxId;
use serde::Serialize;

use crate::fail::Failure;

/// Prints `value` as one JSON document on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::usage(format!("cannot encode the JSON output: {e}")))?;
    outln!("{text}");
    Ok(())
}

/// An interface as JSON shows it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct InterfaceJson {
    /// UUID.
    pub uuid: String,
    /// `MAJOR.MINOR`.
    pub version: String,
    /// Well-known name, when known.
    pub name: Option<&'static str>,
    /// Well-known description, when known.
    pub description: Option<&'static str>,
}

impl InterfaceJson {
    /// Describes `s` with the well-known table.
    pub fn new(s: &SyntaxId) -> Self {
        let k = known::lookup(&s.uuid);
        InterfaceJson {
            uuid: s.uuid.to_string(),
            version: format!("{}.{}", s.major, s.minor),
            name: k.map(|k| k.name),
            description: k.map(|k| k.description),
        }
    }
}

/// The known name of `uuid`, or `N/A`.
pub fn name_or_na(s: &SyntaxId) -> &'static str {
    known::lookup(&s.uuid).map_or("N/A", |k| k.name)
}

/// The known description of `uuid`, or `N/A`.
pub fn description_or_na(s: &SyntaxId) -> &'static str {
    known::lookup(&s.uuid).map_or("N/A", |k| k.description)
}

/// Lowercase hex of at most `max` bytes, and whether it was cut.
pub fn hex_prefix(data: &[u8], max: usize) -> (String, bool) {
    let shown = data.get(..max.min(data.len())).unwrap_or_default();
    (hex::encode(shown), data.len() > max)
}
