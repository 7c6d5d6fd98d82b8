//! Compiles this crate's own IDL (`idl/`) with msrpc-build, one file per enabled protocol
//! feature.

fn main() {
    #[rustfmt::skip]
    let protocols = [
        "srvsvc", "wkssvc", "samr", "lsarpc", "dssetup", "netdfs", "winreg", "drsuapi",
        "netlogon", // MS-NRPC
        "spoolss",  // MS-RPRN
        "svcctl", "eventlog", "atsvc", "backupkey", "tsch",
        "efsrpc", // MS-EFSR
    ];
    let files: Vec<String> = protocols
        .iter()
        .filter(|p| std::env::var_os(format!("CARGO_FEATURE_{}", p.to_uppercase())).is_some())
        .map(|p| format!("idl/{p}.idl"))
        .collect();
    if files.is_empty() {
        return;
    }
    msrpc_build::Builder::new()
        .include_dir("idl")
        .compile(&files)
        .unwrap_or_else(|e| panic!("{e}"));
}
