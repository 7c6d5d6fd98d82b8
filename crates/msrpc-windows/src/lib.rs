//! tmp
#[cfg(feature = "srvsvc")]
pub mod srvsvc {
    include!(concat!(env!("OUT_DIR"), "/srvsvc.rs"));
}
#[cfg(feature = "wkssvc")]
pub mod wkssvc {
    include!(concat!(env!("OUT_DIR"), "/wkssvc.rs"));
}
#[cfg(feature = "dssetup")]
pub mod dssetup {
    include!(concat!(env!("OUT_DIR"), "/dssetup.rs"));
}
#[cfg(feature = "netdfs")]
pub mod netdfs {
    include!(concat!(env!("OUT_DIR"), "/netdfs.rs"));
}
#[cfg(feature = "winreg")]
pub mod winreg {
    include!(concat!(env!("OUT_DIR"), "/winreg.rs"));
}
#[cfg(feature = "samr")]
pub mod samr {
    include!(concat!(env!("OUT_DIR"), "/samr.rs"));
}
