//! Reports, for each IDL file given, whether it parses (with its imports, from the include
//! directory `-I DIR`) and whether it lowers, with the first error. Used to measure msrpc-idl
//! on the published IDL (see docs/idl.md); prints one line per file and totals.

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut include_dirs = Vec::new();
    let mut files = Vec::new();
    while let Some(a) = args.next() {
        if a == "-I" {
            include_dirs.extend(args.next().map(PathBuf::from));
        } else {
            files.push(PathBuf::from(a));
        }
    }
    let opts = msrpc_idl::Options { include_dirs };
    let (mut parsed, mut lowered) = (0, 0);
    for f in &files {
        match msrpc_idl::Program::load(&[f], &opts) {
            Err(e) => println!("PARSE-FAIL {}: {e}", f.display()),
            Ok(p) => {
                parsed += 1;
                match p.lower() {
                    Ok(_) => {
                        lowered += 1;
                        println!("OK {}", f.display());
                    }
                    Err(e) => println!("LOWER-FAIL {}: {e}", f.display()),
                }
            }
        }
    }
    println!(
        "parsed {parsed}/{} lowered {lowered}/{}",
        files.len(),
        files.len()
    );
}
