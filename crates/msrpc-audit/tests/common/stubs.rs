//! Request stubs of the operations `msrpc_audit::args` reads, laid out as their IDL says (NDR20,
//! either byte order), for the technique tests (here and in `tests/tests/techniques_live_offline.rs`,
//! which includes this file).
#![allow(dead_code, clippy::unwrap_used)]

use msrpc_ndr::{string, DataRep, Ndr, Uuid, Writer};

/// A stub writer.
pub struct Stub(Writer);

impl Stub {
    pub fn new(drep: DataRep) -> Stub {
        Stub(Writer::new(drep))
    }
    pub fn done(self) -> Vec<u8> {
        self.0.into_bytes()
    }
    pub fn u8(mut self, v: u8) -> Self {
        self.0.u8(v);
        self
    }
    pub fn u16(mut self, v: u16) -> Self {
        self.0.u16(v);
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.0.u32(v);
        self
    }
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.0.bytes(b);
        self
    }
    pub fn align(mut self, n: usize) -> Self {
        self.0.align(n);
        self
    }
    /// A context handle.
    pub fn handle(mut self) -> Self {
        self.0.align(4);
        self.0.bytes(&[0x5a; 20]);
        self
    }
    /// A `[string] wchar_t*` reference parameter.
    pub fn wide(mut self, s: &str) -> Self {
        string::encode_wide(s, "s", &mut self.0).unwrap();
        self
    }
    /// A `[string] char*` reference parameter.
    pub fn char(mut self, s: &str) -> Self {
        string::encode_char(s, "s", &mut self.0).unwrap();
        self
    }
    /// A `[string, unique] wchar_t*` parameter.
    pub fn unique_wide(mut self, s: Option<&str>) -> Self {
        match s {
            Some(s) => {
                self.0.u32(0x0002_0000);
                string::encode_wide(s, "s", &mut self.0).unwrap();
            }
            None => self.0.u32(0),
        }
        self
    }
    /// An `RPC_UNICODE_STRING` parameter with its buffer (no terminating NUL).
    pub fn unicode(mut self, s: &str) -> Self {
        let units: Vec<u16> = s.encode_utf16().collect();
        let n = units.len() as u32;
        self.0.u16((n * 2) as u16);
        self.0.u16((n * 2) as u16);
        self.0.u32(0x0002_0004);
        self.0.u32(n);
        self.0.u32(0);
        self.0.u32(n);
        for u in units {
            self.0.u16(u);
        }
        self
    }
    pub fn uuid(mut self, u: &str) -> Self {
        let u: Uuid = u.parse().unwrap();
        u.encode(&mut self.0).unwrap();
        self
    }
}

/// RpcRemoteFindFirstPrinterChangeNotificationEx (65).
pub fn rprn_notify(drep: DataRep, local_machine: &str) -> Vec<u8> {
    Stub::new(drep)
        .handle()
        .u32(0x100)
        .u32(0)
        .unique_wide(Some(local_machine))
        .u32(0)
        .u32(0)
        .done()
}

/// RpcOpenPrinterEx (69) with level-1 client info.
pub fn rprn_open_ex(drep: DataRep, printer: &str, machine: &str, user: &str) -> Vec<u8> {
    Stub::new(drep)
        .unique_wide(Some(printer))
        .unique_wide(None)
        .u32(0)
        .u32(0)
        .u32(0x0002_0000)
        .u32(1)
        .u32(1)
        .u32(0x0002_0008)
        .u32(28)
        .u32(0x0002_000c)
        .u32(0x0002_0010)
        .u32(7601)
        .u32(6)
        .u32(1)
        .u16(9)
        .wide(machine)
        .wide(user)
        .done()
}

/// RpcAddPrinterDriverEx (89), level 2.
pub fn rprn_add_driver_ex(drep: DataRep, config_file: &str) -> Vec<u8> {
    Stub::new(drep)
        .unique_wide(Some("\\\\DC01"))
        .u32(2)
        .u32(2)
        .u32(0x0002_0000)
        .u32(3)
        .u32(0x0002_0004)
        .u32(0x0002_0008)
        .u32(0x0002_000c)
        .u32(0x0002_0010)
        .u32(0x0002_0014)
        .wide("1234")
        .wide("Windows x64")
        .wide("C:\\Windows\\System32\\DriverStore\\FileRepository\\ntprint.inf_amd64\\Amd64\\UNIDRV.DLL")
        .wide("C:\\Windows\\System32\\DriverStore\\FileRepository\\ntprint.inf_amd64\\Amd64\\UNIDRV.DLL")
        .wide(config_file)
        .u32(0x8014)
        .done()
}

/// EFSR operations whose first parameter is the file name (0, 4-9, 12).
pub fn efsr_file(drep: DataRep, file: &str) -> Vec<u8> {
    Stub::new(drep).wide(file).u32(0).done()
}

/// NetrDfsAddStdRoot (12).
pub fn dfs_add_std_root(drep: DataRep, server: &str) -> Vec<u8> {
    Stub::new(drep)
        .wide(server)
        .wide("share")
        .wide("comment")
        .u32(0)
        .done()
}

/// IsPathSupported (8).
pub fn fsrvp_is_path_supported(drep: DataRep, share: &str) -> Vec<u8> {
    Stub::new(drep).wide(share).done()
}

/// RCreateServiceW (12).
pub fn scm_create_w(drep: DataRep, name: &str, path: &str) -> Vec<u8> {
    Stub::new(drep)
        .handle()
        .wide(name)
        .unique_wide(Some(name))
        .u32(0xf01ff)
        .u32(0x10)
        .u32(3)
        .u32(0)
        .wide(path)
        .u32(0)
        .u32(0)
        .u32(0)
        .u32(0)
        .u32(0)
        .u32(0)
        .u32(0)
        .done()
}

/// RCreateServiceA (24).
pub fn scm_create_a(drep: DataRep, name: &str, path: &str) -> Vec<u8> {
    Stub::new(drep)
        .handle()
        .char(name)
        .u32(0)
        .u32(0xf01ff)
        .u32(0x10)
        .u32(3)
        .u32(0)
        .char(path)
        .u32(0)
        .done()
}

/// RStartServiceW (19) / RStartServiceA (31).
pub fn scm_start(drep: DataRep) -> Vec<u8> {
    Stub::new(drep).handle().u32(0).u32(0).done()
}

/// RDeleteService (2), RCloseServiceHandle (0).
pub fn handle_only(drep: DataRep) -> Vec<u8> {
    Stub::new(drep).handle().done()
}

/// SchRpcRegisterTask (1).
pub fn tsch_register(drep: DataRep, path: &str, command: &str, arguments: &str) -> Vec<u8> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Task><Actions><Exec><Command>{command}</Command><Arguments>{arguments}</Arguments></Exec></Actions></Task>"
    );
    Stub::new(drep)
        .unique_wide(Some(path))
        .wide(&xml)
        .u32(6)
        .unique_wide(None)
        .u32(3)
        .u32(0)
        .u32(0)
        .done()
}

/// SchRpcRun (12).
pub fn tsch_run(drep: DataRep, path: &str) -> Vec<u8> {
    Stub::new(drep)
        .wide(path)
        .u32(0)
        .u32(0)
        .u32(0)
        .u32(0)
        .done()
}

/// NetrJobAdd (0).
pub fn netr_job_add(drep: DataRep, command: &str) -> Vec<u8> {
    Stub::new(drep)
        .unique_wide(None)
        .u32(3_600_000)
        .u32(0)
        .u8(0)
        .u8(0)
        .u32(0x0002_0000)
        .wide(command)
        .done()
}

/// NetrServerReqChallenge (4).
pub fn nrpc_req_challenge(drep: DataRep, computer: &str, challenge: [u8; 8]) -> Vec<u8> {
    Stub::new(drep)
        .unique_wide(Some("\\\\DC01"))
        .wide(computer)
        .bytes(&challenge)
        .done()
}

/// NetrServerAuthenticate3 (26).
pub fn nrpc_authenticate3(drep: DataRep, computer: &str, credential: [u8; 8]) -> Vec<u8> {
    Stub::new(drep)
        .unique_wide(Some("\\\\DC01"))
        .wide(&format!("{computer}$"))
        .u16(2)
        .wide(computer)
        .bytes(&credential)
        .u32(0x212f_ffff)
        .done()
}

/// NetrServerPasswordSet2 (30).
pub fn nrpc_password_set2(drep: DataRep, computer: &str, password: &[u8; 516]) -> Vec<u8> {
    Stub::new(drep)
        .unique_wide(Some("\\\\DC01"))
        .wide(&format!("{computer}$"))
        .u16(2)
        .wide(computer)
        .align(4)
        .bytes(&[0; 8])
        .u32(0)
        .align(4)
        .bytes(password)
        .done()
}

/// IDL_DRSGetNCChanges (3).
pub fn drs_get_nc_changes(drep: DataRep) -> Vec<u8> {
    Stub::new(drep)
        .handle()
        .u32(8)
        .u32(8)
        .bytes(&[0; 64])
        .done()
}

/// BackuprKey (0).
pub fn bkrp_backup_key(drep: DataRep, action: &str) -> Vec<u8> {
    Stub::new(drep)
        .uuid(action)
        .u32(4)
        .bytes(&[1, 2, 3, 4])
        .u32(4)
        .u32(0)
        .done()
}

/// LsarOpenSecret (28).
pub fn lsa_open_secret(drep: DataRep, name: &str) -> Vec<u8> {
    Stub::new(drep).handle().unicode(name).u32(0x20000).done()
}

/// LsarRetrievePrivateData (43).
pub fn lsa_retrieve_private_data(drep: DataRep, name: &str) -> Vec<u8> {
    Stub::new(drep).handle().unicode(name).u32(0).done()
}

/// ElfrOpenBELW (9).
pub fn even_open_backup(drep: DataRep, file: &str) -> Vec<u8> {
    Stub::new(drep)
        .unique_wide(None)
        .unicode(file)
        .u32(1)
        .u32(1)
        .done()
}

/// BaseRegOpenKey (15).
pub fn reg_open_key(drep: DataRep, key: &str) -> Vec<u8> {
    Stub::new(drep)
        .handle()
        .unicode(key)
        .u32(0)
        .u32(0x2000000)
        .done()
}

/// BaseRegSaveKey (20).
pub fn reg_save_key(drep: DataRep, file: &str) -> Vec<u8> {
    Stub::new(drep).handle().unicode(file).u32(0).done()
}
