//! OBJREFs and activation blobs from the third-party captures (`$MSRPC_CAPTURES`, default
//! `../shared/captures`): Windows clients and servers activating ShellWindows and WMI classes,
//! Impacket-style tools, Samba. The MInterfacePointers are found in the raw capture bytes
//! (`ulCntData` right before the `MEOW` signature), so no pcap parsing is involved.
//!
//! Every OBJREF found decodes and re-encodes to its bytes; every activation blob decodes under
//! the default limits, and those written by Windows (private type-serialization filler 0) re-encode
//! byte for byte, which pins our encoder to Windows' layout (padding counted in the object
//! buffer length, zero padding, 0xcccccccc common-header filler).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;

use msrpc_dcom::activation::{ActivationBlob, ActivationLimits, Property};
use msrpc_dcom::dualstring::BindingLimits;
use msrpc_dcom::ids::guids;
use msrpc_dcom::objref::{ObjRef, ObjRefBody};

fn captures_dir() -> PathBuf {
    let dir = std::env::var_os("MSRPC_CAPTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures"),
        PathBuf::from,
    );
    assert!(
        dir.join("SOURCES.md").is_file(),
        "the third-party captures are missing: expected them in {} (set MSRPC_CAPTURES)",
        dir.display()
    );
    dir
}

#[test]
fn shared_captures_objrefs_and_activation_blobs() {
    let mut objrefs = 0;
    let mut blobs = 0;
    let mut windows_blobs = 0;
    let mut kinds = std::collections::BTreeSet::new();
    let mut entries: Vec<_> = std::fs::read_dir(captures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let mut start = 4;
        while let Some(i) = bytes[start..].windows(4).position(|w| w == b"MEOW") {
            let at = start + i;
            start = at + 4;
            let cnt = u32::from_le_bytes(bytes[at - 4..at].try_into().unwrap()) as usize;
            if cnt < 40 || at + cnt > bytes.len() {
                continue;
            }
            let data = &bytes[at..at + cnt];
            let o = ObjRef::decode(data)
                .unwrap_or_else(|e| panic!("{name}@{at}: OBJREF does not decode: {e}"));
            assert_eq!(o.encode().unwrap(), data, "{name}@{at}: OBJREF re-encoding");
            objrefs += 1;
            kinds.insert(o.flags());
            match &o.body {
                ObjRefBody::Standard { resolver, .. } => {
                    resolver.parse(&BindingLimits::DEFAULT).unwrap();
                }
                ObjRefBody::Custom(c)
                    if c.clsid == guids::CLSID_ACTIVATION_PROPERTIES_IN
                        || c.clsid == guids::CLSID_ACTIVATION_PROPERTIES_OUT =>
                {
                    let blob = ActivationBlob::from_objref(&o, &ActivationLimits::DEFAULT)
                        .unwrap_or_else(|e| panic!("{name}@{at}: blob does not decode: {e}"));
                    blobs += 1;
                    assert!(blob
                        .properties
                        .iter()
                        .all(|p| !matches!(p, Property::Unknown { .. })));
                    // The CustomHeader's private filler: 0 from Windows, 0xcccccccc from Impacket.
                    if c.data[20..24] == [0; 4] {
                        assert_eq!(
                            blob.encode().unwrap(),
                            c.data,
                            "{name}@{at}: blob re-encoding"
                        );
                        windows_blobs += 1;
                    }
                }
                _ => {}
            }
        }
    }
    eprintln!("{objrefs} OBJREFs (flags {kinds:?}), {blobs} activation blobs, {windows_blobs} byte-identical");
    assert!(objrefs >= 30, "{objrefs} OBJREFs");
    assert!(blobs >= 9, "{blobs} blobs");
    assert!(windows_blobs >= 9, "{windows_blobs} Windows blobs");
}
