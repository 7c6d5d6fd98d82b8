//! Decoded arguments of the calls the technique library looks into: for a handful of
//! operations whose parameters tell an attack from ordinary use (a UNC path naming another
//! host, a service's binary path, an all-zero Netlogon credential), the request stub is read
//! far enough to name those parameters ([`extract`]), and the `call` event carries them
//! ([`crate::EventKind::Call`]'s `args`).
//!
//! Only stubs in the clear are read: the daemon sees its requests unsealed; the analyzer
//! reads a captured request only below packet privacy. Decoding uses `msrpc-ndr`'s bounded
//! [`Reader`] under [`LIMITS`] (alignment from the stub start, the data representation's byte
//! order, counts checked before anything is allocated); a stub that stops making sense ends the
//! extraction, keeping the arguments read before it. Nothing here panics on peer data.
//!
//! Stubs are read in the transfer syntax of the call's presentation context: NDR20, or NDR64
//! (Windows accepts it for SAMR, LSARPC, DRSUAPI, NETLOGON...), where pointers and counts are
//! 8 bytes aligned to 8, a structure holding a pointer or an `__int3264` aligns to 8, a union's
//! arm to the union's alignment, and an enum is 4 bytes (MS-RPCE 2.2.5).
//!
//! | interface | operations read | arguments |
//! |---|---|---|
//! | MS-RPRN spoolss | 1 RpcOpenPrinter, 69 RpcOpenPrinterEx | `pPrinterName`, `AccessRequired`; Ex level 1 client info: `pMachineName`, `pUserName` |
//! | | 62 / 65 RpcRemoteFindFirstPrinterChangeNotification(Ex) | `fdwFlags`, `pszLocalMachine` |
//! | | 9 RpcAddPrinterDriver, 89 RpcAddPrinterDriverEx | `pName`; level 2 driver info: `pDriverPath`, `pDataFile`, `pConfigFile`; Ex: `dwFileCopyFlags` |
//! | MS-EFSR (both UUIDs) | 0, 4-9, 12, 13, 15 | `FileName` (13: `SrcFileName`, `DestFileName`) |
//! | MS-DFSNM | 12 NetrDfsAddStdRoot, 13 NetrDfsRemoveStdRoot | `ServerName`, `RootShare` |
//! | | 23 / 24 NetrDfsAdd/RemoveRootTarget | `pDfsPath`, `pTargetPath` |
//! | MS-FSRVP | 8 IsPathSupported, 9 IsPathShadowCopied | `ShareName` |
//! | MS-SCMR | 12, 24, 44, 45, 60 RCreateService* | `lpServiceName`, `lpDisplayName`, `dwServiceType`, `dwStartType`, `lpBinaryPathName` |
//! | | 16 / 28 ROpenService | `lpServiceName` |
//! | | 11 / 23 RChangeServiceConfig | `dwServiceType`, `dwStartType`, `lpBinaryPathName` |
//! | | 19 / 31 RStartService | `argc` |
//! | MS-TSCH ITaskSchedulerService | 1 SchRpcRegisterTask | `path`, `command`, `arguments` (from the task XML) |
//! | | 12 SchRpcRun, 13 SchRpcDelete | `path` |
//! | MS-TSCH ATSvc | 0 NetrJobAdd | `Command` |
//! | MS-NRPC | 4 NetrServerReqChallenge | `ComputerName`, `ClientChallenge` |
//! | | 5, 15, 26 NetrServerAuthenticate(2,3) | `AccountName`, `SecureChannelType`, `ComputerName`, `ClientCredential`, `NegotiateFlags` |
//! | | 30 NetrServerPasswordSet2 | `AccountName`, `SecureChannelType`, `ComputerName`, `ClearNewPassword` (`zero` or `set`) |
//! | MS-DRSR | 3 DRSGetNCChanges, 17 DRSAddEntry | `dwInVersion` |
//! | MS-BKRP | 0 BackuprKey | `pguidActionAgent` |
//! | MS-LSAD | 16 LsarCreateSecret, 28 LsarOpenSecret | `SecretName` |
//! | | 42 LsarStorePrivateData, 43 LsarRetrievePrivateData | `KeyName` |
//! | MS-EVEN | 7 ElfrOpenELW | `ModuleName` |
//! | | 9 ElfrOpenBELW | `BackupFileName` |
//! | MS-RRP winreg | 6 BaseRegCreateKey, 15 BaseRegOpenKey | `lpSubKey` |
//! | | 20 BaseRegSaveKey, 31 BaseRegSaveKeyEx | `lpFile` |
//!
//! The endpoint mapper's `ept_lookup` inquiry and DCOM activation CLSIDs are decoded into their
//! own events ([`crate::epm`], [`crate::dcom`]).

use msrpc_ndr::{string, DataRep, DecodeLimits, Ndr, Reader, TransferSyntax, Uuid};

use crate::CallArg;

/// MS-RPRN `winspool` (the print spooler, `\pipe\spoolss`).
pub const SPOOLSS: Uuid = Uuid::from_u128(0x12345678_1234_abcd_ef00_0123456789ab);
/// MS-EFSR on the LSA pipes (c681d488-d850-11d0-8c52-00c04fd90f7e).
pub const EFSR_LSA: Uuid = Uuid::from_u128(0xc681d488_d850_11d0_8c52_00c04fd90f7e);
/// MS-EFSR `efsrpc` (df1941c5-fe89-4e79-bf10-463657acf44d).
pub const EFSR: Uuid = Uuid::from_u128(0xdf1941c5_fe89_4e79_bf10_463657acf44d);
/// MS-DFSNM `netdfs`.
pub const DFSNM: Uuid = Uuid::from_u128(0x4fc742e0_4a10_11cf_8273_00aa004ae673);
/// MS-FSRVP `FileServerVssAgent`.
pub const FSRVP: Uuid = Uuid::from_u128(0xa8e0653c_2744_4389_a61d_7373df8b2292);
/// MS-SCMR `svcctl`.
pub const SCMR: Uuid = Uuid::from_u128(0x367abb81_9844_35f1_ad32_98f038001003);
/// MS-TSCH `ITaskSchedulerService`.
pub const TSCH: Uuid = Uuid::from_u128(0x86d35949_83c9_4044_b424_db363231fd0c);
/// MS-TSCH `ATSvc`.
pub const ATSVC: Uuid = Uuid::from_u128(0x1ff70682_0a51_30e8_076d_740be8cee98b);
/// MS-NRPC `netlogon`.
pub const NRPC: Uuid = Uuid::from_u128(0x12345678_1234_abcd_ef00_01234567cffb);
/// MS-DRSR `drsuapi`.
pub const DRSUAPI: Uuid = Uuid::from_u128(0xe3514235_4b06_11d1_ab04_00c04fc2dcd2);
/// MS-BKRP `BackupKey`.
pub const BKRP: Uuid = Uuid::from_u128(0x3dde7c30_165d_11d1_ab8f_00805f14db40);
/// MS-LSAD / MS-LSAT `lsarpc`.
pub const LSARPC: Uuid = Uuid::from_u128(0x12345778_1234_abcd_ef00_0123456789ab);
/// MS-EVEN `eventlog`.
pub const EVENTLOG: Uuid = Uuid::from_u128(0x82273fdc_e32a_18c3_3f78_827929dc23ea);
/// MS-RRP `winreg`.
pub const WINREG: Uuid = Uuid::from_u128(0x338cd001_2244_31f1_aaaa_900038001003);

/// The interfaces [`extract`] reads: a producer keeps request stubs only for these (and the
/// endpoint mapper's and DCOM's, which have their own interpreters).
pub const INTERFACES: [Uuid; 14] = [
    SPOOLSS, EFSR_LSA, EFSR, DFSNM, FSRVP, SCMR, TSCH, ATSVC, NRPC, DRSUAPI, BKRP, LSARPC,
    EVENTLOG, WINREG,
];

/// Decode limits for argument extraction: a task's XML is the largest value read.
pub const LIMITS: DecodeLimits = DecodeLimits {
    max_depth: 8,
    max_elements: 1 << 20,
    max_alloc_bytes: 4 << 20,
};

/// Longest argument value kept (characters); longer ones end with `...`.
pub const MAX_VALUE: usize = 256;

/// Whether [`extract`] reads calls on `interface` (their request stubs are worth keeping).
pub fn reads(interface: &Uuid) -> bool {
    INTERFACES.contains(interface)
}

/// Whether [`extract`] reads operation `opnum` of `interface`.
pub fn reads_op(interface: &Uuid, opnum: u16) -> bool {
    let u = *interface;
    if u == SPOOLSS {
        matches!(opnum, 1 | 9 | 62 | 65 | 69 | 89)
    } else if u == EFSR_LSA || u == EFSR {
        matches!(opnum, 0 | 4..=9 | 12 | 13 | 15)
    } else if u == DFSNM {
        matches!(opnum, 12 | 13 | 23 | 24)
    } else if u == FSRVP {
        matches!(opnum, 8 | 9)
    } else if u == SCMR {
        matches!(opnum, 11 | 12 | 16 | 19 | 23 | 24 | 28 | 31 | 44 | 45 | 60)
    } else if u == TSCH {
        matches!(opnum, 1 | 12 | 13)
    } else if u == ATSVC {
        opnum == 0
    } else if u == NRPC {
        matches!(opnum, 4 | 5 | 15 | 26 | 30)
    } else if u == DRSUAPI {
        matches!(opnum, 3 | 17)
    } else if u == BKRP {
        opnum == 0
    } else if u == LSARPC {
        matches!(opnum, 16 | 28 | 42 | 43)
    } else if u == EVENTLOG {
        matches!(opnum, 7 | 9)
    } else if u == WINREG {
        matches!(opnum, 6 | 15 | 20 | 31)
    } else {
        false
    }
}

/// The arguments of a request stub of operation `opnum` of `interface` in data representation
/// `drep` and transfer syntax `syntax`, in parameter order; empty for operations not in the
/// table above or stubs that do not decode from their first parameter.
pub fn extract(
    interface: &Uuid,
    opnum: u16,
    stub: &[u8],
    drep: DataRep,
    syntax: TransferSyntax,
) -> Vec<CallArg> {
    let mut x = Args {
        r: Reader::with_syntax(stub, drep, syntax, LIMITS),
        out: Vec::new(),
    };
    if reads_op(interface, opnum) {
        // `None`: the stub stopped decoding; what was read before stays.
        let _ = x.operation(*interface, opnum);
    }
    x.out
}

/// A reader and the arguments read so far.
struct Args<'a> {
    r: Reader<'a>,
    out: Vec<CallArg>,
}

impl Args<'_> {
    fn operation(&mut self, u: Uuid, opnum: u16) -> Option<()> {
        if u == SPOOLSS {
            self.spoolss(opnum)
        } else if u == EFSR_LSA || u == EFSR {
            self.efsr(opnum)
        } else if u == DFSNM {
            self.dfsnm(opnum)
        } else if u == FSRVP {
            let s = self.wide()?;
            self.push("ShareName", s);
            Some(())
        } else if u == SCMR {
            self.scmr(opnum)
        } else if u == TSCH {
            self.tsch(opnum)
        } else if u == ATSVC {
            self.netr_job_add()
        } else if u == NRPC {
            self.nrpc(opnum)
        } else if u == DRSUAPI {
            self.handle()?;
            let v = self.u32()?;
            self.push("dwInVersion", v.to_string());
            Some(())
        } else if u == BKRP {
            let g = Uuid::decode(&mut self.r).ok()?;
            self.push("pguidActionAgent", g.to_string());
            Some(())
        } else if u == LSARPC {
            self.handle()?;
            let s = self.unicode_string()?;
            let name = if matches!(opnum, 16 | 28) {
                "SecretName"
            } else {
                "KeyName"
            };
            self.push(name, s);
            Some(())
        } else if u == EVENTLOG {
            self.unique_wide()?;
            let s = self.unicode_string()?;
            let name = if opnum == 7 {
                "ModuleName"
            } else {
                "BackupFileName"
            };
            self.push(name, s);
            Some(())
        } else if u == WINREG {
            self.handle()?;
            let s = self.unicode_string()?;
            let name = if matches!(opnum, 20 | 31) {
                "lpFile"
            } else {
                "lpSubKey"
            };
            self.push(name, s);
            Some(())
        } else {
            None
        }
    }

    /// MS-RPRN 3.1.4.
    fn spoolss(&mut self, opnum: u16) -> Option<()> {
        match opnum {
            // RpcOpenPrinter(Ex): pPrinterName, pDatatype, pDevModeContainer, AccessRequired
            // (, SPLCLIENT_CONTAINER).
            1 | 69 => {
                if let Some(name) = self.unique_wide()? {
                    self.push("pPrinterName", name);
                }
                self.unique_wide()?;
                // DEVMODE_CONTAINER { cbBuf; [unique, size_is(cbBuf)] BYTE* pDevMode }.
                self.struct_start()?;
                self.u32()?;
                if self.ptr()? != 0 {
                    self.byte_array()?;
                }
                let access = self.u32()?;
                self.push("AccessRequired", hex(access));
                if opnum == 69 {
                    // SPLCLIENT_CONTAINER { Level; [switch_is(Level)] union { [unique]
                    // SPLCLIENT_INFO_1* ... } }: the union's tag, then the arm's pointer.
                    self.struct_start()?;
                    let level = self.u32()?;
                    let _tag = self.u32()?;
                    if level == 1 && self.ptr()? != 0 {
                        // SPLCLIENT_INFO_1 { dwSize; [string] pMachineName; [string]
                        // pUserName; dwBuildNum; dwMajorVersion; dwMinorVersion;
                        // wProcessorArchitecture }, then the two strings.
                        self.struct_start()?;
                        self.u32()?;
                        let machine = self.ptr()?;
                        let user = self.ptr()?;
                        self.u32()?;
                        self.u32()?;
                        self.u32()?;
                        self.r.u16().ok()?;
                        if machine != 0 {
                            let s = self.wide()?;
                            self.push("pMachineName", s);
                        }
                        if user != 0 {
                            let s = self.wide()?;
                            self.push("pUserName", s);
                        }
                    }
                }
                Some(())
            }
            // RpcRemoteFindFirstPrinterChangeNotification(Ex): hPrinter, fdwFlags, fdwOptions,
            // pszLocalMachine, ...
            62 | 65 => {
                self.handle()?;
                let flags = self.u32()?;
                self.push("fdwFlags", hex(flags));
                self.u32()?;
                if let Some(m) = self.unique_wide()? {
                    self.push("pszLocalMachine", m);
                }
                Some(())
            }
            // RpcAddPrinterDriver(Ex): pName, DRIVER_CONTAINER (, dwFileCopyFlags).
            9 | 89 => {
                if let Some(n) = self.unique_wide()? {
                    self.push("pName", n);
                }
                self.struct_start()?;
                let level = self.u32()?;
                let _tag = self.u32()?;
                if level != 2 || self.ptr()? == 0 {
                    return Some(());
                }
                // DRIVER_INFO_2 { cVersion; pName; pEnvironment; pDriverPath; pDataFile;
                // pConfigFile }, then the strings present.
                self.struct_start()?;
                self.u32()?;
                let mut ptrs = [0u64; 5];
                for p in &mut ptrs {
                    *p = self.ptr()?;
                }
                for (p, name) in
                    ptrs.iter()
                        .zip(["", "", "pDriverPath", "pDataFile", "pConfigFile"])
                {
                    if *p != 0 {
                        let s = self.wide()?;
                        if !name.is_empty() {
                            self.push(name, s);
                        }
                    }
                }
                if opnum == 89 {
                    let flags = self.u32()?;
                    self.push("dwFileCopyFlags", hex(flags));
                }
                Some(())
            }
            _ => None,
        }
    }

    /// MS-EFSR 3.1.4.2: the file name is the first parameter of each operation read, but for
    /// EfsRpcAddUsersToFileEx (dwFlags and a reserved pointer first).
    fn efsr(&mut self, opnum: u16) -> Option<()> {
        match opnum {
            13 => {
                let s = self.wide()?;
                self.push("SrcFileName", s);
                let d = self.wide()?;
                self.push("DestFileName", d);
            }
            15 => {
                self.u32()?;
                // A non-null EFS_RPC_BLOB would come first: not read.
                if self.ptr()? != 0 {
                    return None;
                }
                let s = self.wide()?;
                self.push("FileName", s);
            }
            _ => {
                let s = self.wide()?;
                self.push("FileName", s);
            }
        }
        Some(())
    }

    /// MS-DFSNM 3.1.4.
    fn dfsnm(&mut self, opnum: u16) -> Option<()> {
        if matches!(opnum, 12 | 13) {
            let s = self.wide()?;
            self.push("ServerName", s);
            let r = self.wide()?;
            self.push("RootShare", r);
        } else {
            if let Some(p) = self.unique_wide()? {
                self.push("pDfsPath", p);
            }
            if let Some(t) = self.unique_wide()? {
                self.push("pTargetPath", t);
            }
        }
        Some(())
    }

    /// MS-SCMR 3.1.4.
    fn scmr(&mut self, opnum: u16) -> Option<()> {
        let ascii = matches!(opnum, 23 | 24 | 28 | 31 | 44);
        self.handle()?;
        match opnum {
            // RCreateService*: hSCManager, lpServiceName, lpDisplayName, dwDesiredAccess,
            // dwServiceType, dwStartType, dwErrorControl, lpBinaryPathName, ...
            12 | 24 | 44 | 45 | 60 => {
                let name = self.text(ascii)?;
                self.push("lpServiceName", name);
                if self.ptr()? != 0 {
                    let d = self.text(ascii)?;
                    self.push("lpDisplayName", d);
                }
                self.u32()?;
                let ty = self.u32()?;
                self.push("dwServiceType", hex(ty));
                let start = self.u32()?;
                self.push("dwStartType", start.to_string());
                self.u32()?;
                let path = self.text(ascii)?;
                self.push("lpBinaryPathName", path);
            }
            // ROpenService: hSCManager, lpServiceName, dwDesiredAccess.
            16 | 28 => {
                let name = self.text(ascii)?;
                self.push("lpServiceName", name);
            }
            // RChangeServiceConfig: hService, dwServiceType, dwStartType, dwErrorControl,
            // [unique] lpBinaryPathName, ...
            11 | 23 => {
                let ty = self.u32()?;
                self.push("dwServiceType", hex(ty));
                let start = self.u32()?;
                self.push("dwStartType", start.to_string());
                self.u32()?;
                if self.ptr()? != 0 {
                    let path = self.text(ascii)?;
                    self.push("lpBinaryPathName", path);
                }
            }
            // RStartService: hService, argc, argv.
            19 | 31 => {
                let argc = self.u32()?;
                self.push("argc", argc.to_string());
            }
            _ => return None,
        }
        Some(())
    }

    /// MS-TSCH 3.2.5.4.
    fn tsch(&mut self, opnum: u16) -> Option<()> {
        if opnum == 1 {
            if let Some(p) = self.unique_wide()? {
                self.push("path", p);
            }
            let xml = string::decode_wide(&mut self.r).ok()?;
            if let Some(c) = xml_element(&xml, "Command") {
                self.push("command", c);
            }
            if let Some(a) = xml_element(&xml, "Arguments") {
                self.push("arguments", a);
            }
        } else {
            let p = self.wide()?;
            self.push("path", p);
        }
        Some(())
    }

    /// MS-TSCH 3.2.5.2.1 NetrJobAdd: ServerName, AT_INFO { JobTime; DaysOfMonth; DaysOfWeek;
    /// Flags; [string] Command } (`JobTime` a `DWORD_PTR`: 8 bytes in NDR64).
    fn netr_job_add(&mut self) -> Option<()> {
        self.unique_wide()?;
        self.struct_start()?;
        if self.r.is_ndr64() {
            self.r.u64().ok()?;
        } else {
            self.u32()?;
        }
        self.u32()?;
        self.r.u8().ok()?;
        self.r.u8().ok()?;
        if self.ptr()? != 0 {
            let c = self.wide()?;
            self.push("Command", c);
        }
        Some(())
    }

    /// MS-NRPC 3.5.4.4: the secure channel's setup, in the clear by design.
    fn nrpc(&mut self, opnum: u16) -> Option<()> {
        self.unique_wide()?;
        if opnum == 4 {
            let c = self.wide()?;
            self.push("ComputerName", c);
            let ch = self.r.take(8).ok()?;
            self.push("ClientChallenge", hex_bytes(ch));
            return Some(());
        }
        let account = self.wide()?;
        self.push("AccountName", account);
        let ty = self.enum16()?;
        self.push("SecureChannelType", ty.to_string());
        let c = self.wide()?;
        self.push("ComputerName", c);
        if opnum == 30 {
            // NETLOGON_AUTHENTICATOR { Credential[8]; Timestamp }, then NL_TRUST_PASSWORD
            // { WCHAR Buffer[256]; ULONG Length } (516 bytes).
            self.r.align(4).ok()?;
            self.r.take(8).ok()?;
            self.u32()?;
            self.r.align(4).ok()?;
            let pw = self.r.take(516).ok()?;
            let zero = pw.iter().all(|&b| b == 0);
            self.push("ClearNewPassword", if zero { "zero" } else { "set" }.into());
            return Some(());
        }
        let cred = self.r.take(8).ok()?;
        self.push("ClientCredential", hex_bytes(cred));
        if opnum != 5 {
            let flags = self.u32()?;
            self.push("NegotiateFlags", hex(flags));
        }
        Some(())
    }

    fn push(&mut self, name: &str, value: String) {
        self.out.push(CallArg {
            name: name.to_string(),
            value: clip(value),
        });
    }

    fn u32(&mut self) -> Option<u32> {
        self.r.u32().ok()
    }

    /// A pointer's referent id (4 bytes in NDR20, 8 aligned to 8 in NDR64); 0 is null.
    fn ptr(&mut self) -> Option<u64> {
        self.r.ref_id().ok()
    }

    /// The alignment of a structure holding a pointer (or a union of pointers): 4 in NDR20, 8
    /// in NDR64 (MS-RPCE 2.2.5.3.4.1).
    fn struct_start(&mut self) -> Option<()> {
        self.r.align_syntax(4, 8).ok()
    }

    /// An enum (MS-RPCE 2.2.5.2: 2 bytes in NDR20, 4 in NDR64).
    fn enum16(&mut self) -> Option<u32> {
        if self.r.is_ndr64() {
            self.u32()
        } else {
            self.r.u16().ok().map(u32::from)
        }
    }

    /// A context handle (20 bytes, aligned to 4).
    fn handle(&mut self) -> Option<()> {
        self.r.align(4).ok()?;
        self.r.take(20).ok().map(|_| ())
    }

    /// A `[string] wchar_t*` reference parameter: the conformant-varying string itself.
    fn wide(&mut self) -> Option<String> {
        string::decode_wide(&mut self.r).ok()
    }

    /// A `[string] char*` or `wchar_t*` reference parameter.
    fn text(&mut self, ascii: bool) -> Option<String> {
        if ascii {
            string::decode_char(&mut self.r).ok()
        } else {
            self.wide()
        }
    }

    /// A `[string, unique] wchar_t*` parameter: its referent id, then the string when not null.
    fn unique_wide(&mut self) -> Option<Option<String>> {
        if self.ptr()? == 0 {
            return Some(None);
        }
        self.wide().map(Some)
    }

    /// A conformant byte array (skipped).
    fn byte_array(&mut self) -> Option<()> {
        let n = self.r.count().ok()?;
        let n = self.r.reserve(n, 1, 0).ok()?;
        self.r.take(n).ok().map(|_| ())
    }

    /// An `RPC_UNICODE_STRING` parameter (MS-DTYP 2.3.10: `Length`, `MaximumLength`, a unique
    /// pointer to a conformant-varying array of UTF-16 units, not necessarily terminated) with
    /// its buffer, which follows the structure; a null buffer reads as empty.
    fn unicode_string(&mut self) -> Option<String> {
        self.struct_start()?;
        self.r.u16().ok()?;
        self.r.u16().ok()?;
        if self.ptr()? == 0 {
            return Some(String::new());
        }
        let max = self.r.count().ok()?;
        let offset = self.r.count().ok()?;
        let actual = self.r.count().ok()?;
        if offset > max || actual > max - offset {
            return None;
        }
        let n = self.r.reserve(actual, 2, 2).ok()?;
        let mut units = Vec::with_capacity(n.min(MAX_VALUE * 2));
        for _ in 0..n {
            let u = self.r.u16().ok()?;
            if units.len() < MAX_VALUE * 2 {
                units.push(u);
            }
        }
        while units.last() == Some(&0) {
            units.pop();
        }
        Some(String::from_utf16_lossy(&units))
    }
}

/// The text of the first `<name>...</name>` element of a task's XML, entities replaced.
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml.get(start..)?.find(&close)?;
    let raw = xml.get(start..start + len)?;
    Some(
        raw.replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// `v` clipped to [`MAX_VALUE`] characters.
fn clip(v: String) -> String {
    match v.char_indices().nth(MAX_VALUE) {
        Some((end, _)) => format!("{}...", v.get(..end).unwrap_or_default()),
        None => v,
    }
}

fn hex(v: u32) -> String {
    format!("{v:#010x}")
}

fn hex_bytes(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// The value of argument `name` in `args`.
pub fn get<'a>(args: &'a [CallArg], name: &str) -> Option<&'a str> {
    args.iter()
        .find(|a| a.name == name)
        .map(|a| a.value.as_str())
}
