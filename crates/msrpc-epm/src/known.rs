//! Well-known RPC interfaces: UUID -> short name, what the interface is (with the
//! specification that defines it) and the versions servers offer.
//!
//! The table serves tools that show endpoint maps to people (`msrpc dump`, like Impacket's
//! rpcdump) and that probe servers for interfaces by binding to each known one (`msrpc map
//! --brute`, like rpcmap), so the versions are the ones real servers accept in a bind.
//! Sources: the Microsoft open specifications (`[MS-XXXX]` in each description), C706, Samba's
//! IDL files (`librpc/idl/*.idl`), Wireshark's DCE/RPC dissectors and Impacket's tables. The
//! table is written here from those facts, not copied.
//!
//! ```
//! use msrpc_epm::known;
//! use msrpc_ndr::Uuid;
//!
//! let samr = Uuid::parse_str("12345778-1234-abcd-ef00-0123456789ac").unwrap();
//! let k = known::lookup(&samr).unwrap();
//! assert_eq!(k.name, "samr");
//! assert_eq!(k.versions, &[(1, 0)]);
//! assert!(known::lookup_name("SAMR").is_some());
//! ```

use msrpc_ndr::Uuid;
use msrpc_proto::dispatch::Interface;

/// One well-known interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownInterface {
    /// The interface UUID.
    pub uuid: Uuid,
    /// Short name, as Samba's IDL or the specification names it (`samr`, `IObjectExporter`).
    pub name: &'static str,
    /// What it is, starting with the defining document (`[MS-SAMR] Security Account
    /// Manager remote protocol`).
    pub description: &'static str,
    /// `(major, minor)` versions servers offer, the most common first.
    pub versions: &'static [(u16, u16)],
}

impl KnownInterface {
    /// The most common version (`versions[0]`), or 0.0 for an entry without versions.
    pub fn default_version(&self) -> (u16, u16) {
        self.versions.first().copied().unwrap_or((0, 0))
    }
}

const fn k(
    uuid: u128,
    name: &'static str,
    versions: &'static [(u16, u16)],
    description: &'static str,
) -> KnownInterface {
    KnownInterface {
        uuid: Uuid::from_u128(uuid),
        name,
        description,
        versions,
    }
}

const V00: &[(u16, u16)] = &[(0, 0)];
const V10: &[(u16, u16)] = &[(1, 0)];

/// Every known interface, grouped by area. UUIDs are unique in the table.
#[rustfmt::skip]
pub static INTERFACES: &[KnownInterface] = &[
    // DCE/RPC infrastructure (C706, MS-RPCE) and Samba's test interfaces.
    k(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa, "epmapper", &[(3, 0)],
      "DCE/RPC endpoint mapper (C706 appendix O, [MS-RPCE] 2.2.1.2)"),
    k(0xafa8bd80_7d8a_11c9_bef4_08002b102989, "mgmt", V10,
      "DCE/RPC remote management interface (C706 appendix Q, [MS-RPCE])"),
    k(0x60a15ec5_4de8_11d7_a637_005056a20182, "rpcecho", V10,
      "Samba rpcecho test interface (librpc/idl/echo.idl)"),
    k(0x9c54e310_a955_4885_bd31_78787147dfa6, "unixinfo", V00,
      "Samba unixinfo: Unix uid/gid and SID mapping"),
    k(0x885d85fb_c754_4062_a0e7_6872ce0064f4, "mdssvc", &[(2, 0)],
      "Spotlight metadata search (Samba and macOS)"),
    // Security: LSA, SAM, Netlogon, keys, authorization.
    k(0x12345778_1234_abcd_ef00_0123456789ab, "lsarpc", V00,
      "[MS-LSAD]/[MS-LSAT] Local Security Authority: domain policy and name/SID translation"),
    k(0x3919286a_b10c_11d0_9ba8_00c04fd92ef5, "dssetup", V00,
      "[MS-DSSP] Directory services setup: role and domain information (lsarpc pipe)"),
    k(0x12345778_1234_abcd_ef00_0123456789ac, "samr", V10,
      "[MS-SAMR] Security Account Manager remote protocol"),
    k(0x12345678_1234_abcd_ef00_01234567cffb, "netlogon", V10,
      "[MS-NRPC] Netlogon remote protocol: secure channel and pass-through authentication"),
    k(0x3dde7c30_165d_11d1_ab8f_00805f14db40, "backupkey", V10,
      "[MS-BKRP] BackupKey: DPAPI master key backup on domain controllers"),
    k(0xc681d488_d850_11d0_8c52_00c04fd90f7e, "efsrpc_lsarpc", V10,
      "[MS-EFSR] Encrypting File System remote protocol (over the lsarpc pipe)"),
    k(0xdf1941c5_fe89_4e79_bf10_463657acf44d, "efsrpc", V10,
      "[MS-EFSR] Encrypting File System remote protocol (efsrpc pipe)"),
    k(0xb9785960_524f_11df_8b6d_83dcded72085, "ISDKey", V10,
      "[MS-GKDI] Group Key Distribution protocol"),
    k(0x0b1c2170_5732_4e0e_8cd3_d9b16f3b84d7, "authzr", V00,
      "[MS-RAA] Remote Authorization API"),
    k(0xafc07e2e_311c_4435_808c_c483ffeec7c9, "lsacap", V10,
      "[MS-CAPR] Central access policy ID retrieval"),
    k(0x12b81e99_f207_4a4c_85d3_77b42f76fd14, "ISeclogon", V10,
      "Secondary logon service (seclogon)"),
    // Directory services.
    k(0xe3514235_4b06_11d1_ab04_00c04fc2dcd2, "drsuapi", &[(4, 0)],
      "[MS-DRSR] Directory replication service (drsuapi)"),
    k(0x7c44d7d4_31d5_424c_bd5e_2b3e1f323d22, "dsaop", V10,
      "[MS-DRSR] Directory service agent operations (dsaop)"),
    k(0x50abc2a4_574d_40b3_9d66_ee4fd5fba076, "dnsserver", &[(5, 0)],
      "[MS-DNSP] DNS server management"),
    // File and print services.
    k(0x4b324fc8_1670_01d3_1278_5a47bf6ee188, "srvsvc", &[(3, 0)],
      "[MS-SRVS] Server service: shares, sessions, files"),
    k(0x6bffd098_a112_3610_9833_46c3f87e345a, "wkssvc", V10,
      "[MS-WKST] Workstation service"),
    k(0x4fc742e0_4a10_11cf_8273_00aa004ae673, "netdfs", &[(3, 0)],
      "[MS-DFSNM] DFS namespace management"),
    k(0xa8e0653c_2744_4389_a61d_7373df8b2292, "FileServerVssAgent", V10,
      "[MS-FSRVP] File server remote VSS protocol"),
    k(0xccd8c074_d0e5_4a40_92b4_d074faa6ba28, "witness", &[(1, 1), (2, 0)],
      "[MS-SWN] Service witness protocol (cluster file share failover)"),
    k(0x12345678_1234_abcd_ef00_0123456789ab, "spoolss", V10,
      "[MS-RPRN] Print system remote protocol"),
    k(0x76f03f96_cdfd_44fc_a22c_64950a001209, "IRemoteWinspool", V10,
      "[MS-PAR] Print system asynchronous remote protocol"),
    k(0xae33069b_a2a8_46ee_a235_ddfd339be281, "IRPCAsyncNotify", V10,
      "[MS-PAN] Print system asynchronous notification"),
    k(0x0b6edbfa_4a24_4fc6_8a23_942b1eca65d1, "IRPCRemoteObject", V10,
      "[MS-PAN] Print system asynchronous notification: remote object"),
    k(0x300f3532_38cc_11d0_a3f0_0020af6b0add, "trkwks", &[(1, 2)],
      "[MS-DLTW] Distributed link tracking: workstation"),
    k(0x4da1c422_943d_11d1_acae_00c04fc2aa3f, "trksvr", V10,
      "[MS-DLTM] Distributed link tracking: central manager"),
    k(0xf5cc59b4_4264_101a_8c59_08002b2f8426, "frsrpc", &[(1, 1)],
      "[MS-FRS1] File Replication Service"),
    k(0xd049b186_814f_11d1_9a3c_00c04fc9b232, "NtFrsApi", &[(1, 1)],
      "[MS-FRS1] File Replication Service management API"),
    k(0x897e2e5f_93f3_4376_9c9c_fd2277495c27, "FrsTransport", V10,
      "[MS-FRS2] DFS Replication"),
    // System management.
    k(0x338cd001_2244_31f1_aaaa_900038001003, "winreg", V10,
      "[MS-RRP] Windows remote registry"),
    k(0x367abb81_9844_35f1_ad32_98f038001003, "svcctl", &[(2, 0)],
      "[MS-SCMR] Service control manager remote protocol"),
    k(0x1ff70682_0a51_30e8_076d_740be8cee98b, "atsvc", V10,
      "[MS-TSCH] Task scheduler: AT service"),
    k(0x378e52b0_c0a9_11cf_822d_00aa0051e40f, "sasec", V10,
      "[MS-TSCH] Task scheduler: SASec"),
    k(0x86d35949_83c9_4044_b424_db363231fd0c, "ITaskSchedulerService", V10,
      "[MS-TSCH] Task scheduler 2.0"),
    k(0x82273fdc_e32a_18c3_3f78_827929dc23ea, "eventlog", V00,
      "[MS-EVEN] EventLog remoting protocol"),
    k(0xf6beaff7_1e19_4fbb_9f8f_b89e2018337c, "IEventService", V10,
      "[MS-EVEN6] EventLog remoting protocol 6.0"),
    k(0x894de0c0_0d55_11d3_a322_00c04fa321a1, "initshutdown", V10,
      "[MS-RSP] Remote shutdown (InitShutdown)"),
    k(0xd95afe70_a6d5_4259_822e_2c84da1ddb0d, "WindowsShutdown", V10,
      "[MS-RSP] Remote shutdown (WindowsShutdown)"),
    k(0x8d9f4e40_a03d_11ce_8f69_08003e30051b, "ntsvcs", V10,
      "[MS-PNPR] Plug and Play remote"),
    k(0x6b5bdd1e_528c_422c_af8c_a4079be4fe48, "RemoteFW", V10,
      "[MS-FASP] Firewall and advanced security"),
    k(0x8fb6d884_2388_11d0_8c35_00c04fda2795, "w32time", &[(4, 1)],
      "[MS-W32T] Windows time service"),
    k(0xda5a86c5_12c2_4943_ab30_7f74a813d853, "PerflibV2", V10,
      "[MS-PCQ] Performance counter query"),
    k(0x1a927394_352e_4553_ae3f_7cf4aafca620, "WdsRpcInterface", V10,
      "[MS-WDSC] Windows Deployment Services control"),
    k(0x8c7daf44_b6dc_11d1_9a4c_0020af6e7c57, "appmgmt", V10,
      "Application management service"),
    k(0xb97db8b2_4c63_11cf_bff6_08002be23f2f, "clusapi", &[(3, 0), (2, 0)],
      "[MS-CMRP] Failover cluster management"),
    // Networking services.
    k(0x6bffd098_a112_3610_9833_46c3f874532d, "dhcpsrv", V10,
      "[MS-DHCPM] DHCP server management"),
    k(0x5b821720_f63b_11d0_aad2_00c04fc324db, "dhcpsrv2", V10,
      "[MS-DHCPM] DHCP server management, second interface"),
    k(0x3c4728c5_f0ab_448b_bda1_6ce01eb0a6d5, "dhcpcsvc", V10,
      "DHCP client service"),
    k(0x3c4728c5_f0ab_448b_bda1_6ce01eb0a6d6, "dhcpcsvc6", V10,
      "DHCPv6 client service"),
    k(0x45776b01_5956_4485_9f80_f428f7d60129, "DnsResolver", &[(2, 0)],
      "DNS client resolver cache service"),
    k(0x6bffd098_a112_3610_9833_012892020162, "browser", V00,
      "[MS-BRWSA] Computer browser service"),
    k(0x45f52c28_7f9f_101a_b52b_08002b2efabe, "winsif", V10,
      "[MS-RAIW] WINS administration"),
    k(0x811109bf_a4e1_11d1_ab54_00a0c91e9b45, "winsi2", V10,
      "[MS-RAIW] WINS administration, second interface"),
    k(0x8f09f000_b7ed_11ce_bbd2_00001a181cad, "dimsvc", V00,
      "[MS-RRASM] Routing and remote access management (DIMSVC)"),
    k(0x20610036_fa22_11cf_9823_00a0c911e5df, "rasrpc", V10,
      "[MS-RRASM] Routing and remote access (RASRPC)"),
    k(0x17fdd703_1827_4e34_79d4_24a55c53bb37, "msgsvc", V10,
      "[MS-MSRP] Messenger service"),
    k(0x5a7b91f8_ff00_11d0_a9b2_00c04fb6e6fc, "msgsvcsend", V10,
      "[MS-MSRP] Messenger service: message sending"),
    k(0x2f5f6520_ca46_1067_b319_00dd010662da, "tapsrv", V10,
      "[MS-TRP] Telephony server"),
    k(0x2f5f6521_ca47_1068_b319_00dd010662db, "remotesp", V10,
      "[MS-TRP] Telephony remote service provider"),
    k(0xd6d70ef0_0e3b_11cb_acc3_08002b1d29c3, "NsiS", V10,
      "[MS-RPCL] RPC locator: name service server"),
    k(0xd3fbb514_0e3b_11cb_8fad_08002b1d29c3, "NsiC", V10,
      "[MS-RPCL] RPC locator: name service client"),
    k(0xd6d70ef0_0e3b_11cb_acc3_08002b1d29c4, "NsiM", V10,
      "[MS-RPCL] RPC locator: name service management"),
    k(0xe33c0cc4_0482_101a_bc0c_02608c6ba218, "LocToLoc", V10,
      "[MS-RPCL] RPC locator to locator"),
    k(0x57674cd0_5200_11ce_a897_08002b2e9c6d, "llsrpc", V10,
      "License logging service"),
    k(0x82ad4280_036b_11cf_972c_00aa006887b0, "inetinfo", &[(2, 0)],
      "[MS-IRP] IIS inetinfo remote protocol"),
    k(0xea0a3165_4834_11d2_a6f8_00c04fa346cc, "fax", &[(4, 0)],
      "[MS-FAX] Fax server"),
    k(0x6099fc12_3eff_11d0_abd0_00c04fd91a4e, "faxclient", &[(3, 0)],
      "[MS-FAX] Fax client callbacks"),
    k(0xfdb3a030_065f_11d1_bb9b_00a024ea5525, "qmcomm", V10,
      "[MS-MQMP] Message Queuing: queue manager client protocol"),
    k(0x906b0ce0_c70b_1067_b317_00dd010662da, "IXnRemote", V10,
      "[MS-CMPO] MSDTC connection manager"),
    // Certificate services.
    k(0x91ae6020_9e3c_11cf_8d7c_00aa00c091be, "ICertPassage", V00,
      "[MS-ICPR] ICertPassage certificate request"),
    k(0xd99e6e70_fc88_11d0_b498_00a0c90312f3, "ICertRequestD", V00,
      "[MS-WCCE] Windows client certificate enrollment (DCOM)"),
    k(0x5422fd3a_d4b8_4cef_a12e_e87d4ca22e90, "ICertRequestD2", V00,
      "[MS-WCCE] Windows client certificate enrollment, version 2 (DCOM)"),
    k(0xd99e6e71_fc88_11d0_b498_00a0c90312f3, "ICertAdminD", V00,
      "[MS-CSRA] Certificate services remote administration (DCOM)"),
    k(0x0d72a7d4_6148_11d1_b4aa_00c04fb66ea0, "ICertProtect", V10,
      "Cryptographic services: certificate protection"),
    k(0xf50aac00_c7f3_428e_a022_a6b71bfb9d43, "ICatDBSvc", V10,
      "Cryptographic services: catalog database"),
    k(0x8d0ffe72_d252_11d0_bf8f_00c04fd9126b, "IKeySvc", V10,
      "Cryptographic services: key service"),
    // Terminal services.
    k(0x5ca4a760_ebb1_11cf_8611_00a0245420ed, "LegacyApi", V10,
      "[MS-TSTS] Terminal server runtime: legacy winstation API"),
    k(0x484809d6_4239_471b_b5bc_61df8c23ac48, "TermSrvSession", V10,
      "[MS-TSTS] Terminal server runtime: sessions"),
    k(0x88143fd0_c28d_4b2b_8fef_8d882f6a9390, "TermSrvEnumeration", V10,
      "[MS-TSTS] Terminal server runtime: session enumeration"),
    k(0x11899a43_2b68_4a76_92e3_a3d6ad8c26ce, "TermSrvNotification", V10,
      "[MS-TSTS] Terminal server runtime: notifications"),
    k(0x497d95a6_2d27_4bf5_9bbd_a6046957133c, "RCMPublic", V10,
      "[MS-TSTS] Terminal server runtime: remote connection manager"),
    k(0xbde95fdf_eee0_45de_9e12_e5a61cd0d4fe, "RCMListener", V10,
      "[MS-TSTS] Terminal server runtime: listeners"),
    k(0x53b46b02_c73b_4a3e_8dee_b16b80672fc0, "TSVIPPublic", V10,
      "[MS-TSTS] Terminal server runtime: virtual IP"),
    k(0x44e265dd_7daf_42cd_8560_3cdb6e7a2729, "TsProxyRpcInterface", &[(1, 3)],
      "[MS-TSGU] Terminal services gateway"),
    // DCOM.
    k(0x99fcfec4_5260_101b_bbcb_00aa0021347a, "IObjectExporter", V00,
      "[MS-DCOM] OXID resolver (IObjectExporter)"),
    k(0x000001a0_0000_0000_c000_000000000046, "ISystemActivator", V00,
      "[MS-DCOM] Activation (IRemoteSCMActivator / ISystemActivator)"),
    k(0x4d9f4ab8_7d1c_11cf_861e_0020af6e7c57, "IRemoteActivation", V00,
      "[MS-DCOM] Legacy activation (IActivation)"),
    k(0x00000131_0000_0000_c000_000000000046, "IRemUnknown", V00,
      "[MS-DCOM] Remote reference counting and QueryInterface"),
    k(0x00000143_0000_0000_c000_000000000046, "IRemUnknown2", V00,
      "[MS-DCOM] Remote reference counting and QueryInterface, version 2"),
    k(0x00000000_0000_0000_c000_000000000046, "IUnknown", V00,
      "[MS-DCOM] COM base interface"),
    k(0x00020400_0000_0000_c000_000000000046, "IDispatch", V00,
      "[MS-OAUT] OLE automation"),
    k(0xf309ad18_d86a_11d0_a075_00c04fb68820, "IWbemLevel1Login", V00,
      "[MS-WMI] WMI: login"),
    k(0x9556dc99_828c_11cf_a37e_00aa003240c7, "IWbemServices", V00,
      "[MS-WMI] WMI: services"),
    // Exchange.
    k(0xa4f1db00_ca47_1067_b31f_00dd010662da, "emsmdb", &[(0, 81)],
      "[MS-OXCRPC] Exchange mailbox (EMSMDB)"),
    k(0x5261574a_4572_206e_b268_6b199213b4e4, "asyncemsmdb", &[(0, 1)],
      "[MS-OXCRPC] Exchange asynchronous EMSMDB"),
    k(0xf5cc5a18_4264_101a_8c59_08002b2f8426, "nspi", &[(56, 0)],
      "[MS-NSPI] Exchange address book name service provider"),
    k(0x1544f5e0_613c_11d1_93df_00c04fd7bd09, "rfr", V10,
      "[MS-OXABREF] Exchange address book referral"),
];

/// The well-known interface with this UUID.
pub fn lookup(uuid: &Uuid) -> Option<&'static KnownInterface> {
    INTERFACES.iter().find(|k| k.uuid == *uuid)
}

/// The well-known interface with this name (ASCII case ignored).
pub fn lookup_name(name: &str) -> Option<&'static KnownInterface> {
    INTERFACES
        .iter()
        .find(|k| k.name.eq_ignore_ascii_case(name))
}

/// Every well-known interface.
pub fn all() -> &'static [KnownInterface] {
    INTERFACES
}

/// The operation names of one interface.
enum Operations {
    /// By opnum from 0; `None` for an opnum the interface does not define.
    Dense(&'static [Option<&'static str>]),
    /// `(opnum, name)` pairs, for interfaces of which only some operations are named here.
    Sparse(&'static [(u16, &'static str)]),
}

/// Operation names by opnum of the interfaces whose operations are known here (names as the
/// defining specification or IDL spells them; rpcecho's without Samba's `echo_` prefix, as
/// Zeek's tables spell them). Tools that name calls (the audit log, the capture analyzer) read
/// this one table rather than linking the crates that implement the interfaces.
const OPERATIONS: &[(u128, Operations)] = &[
    (
        0xe1af8308_5d1f_11c9_91a4_08002b14a0fa,
        Operations::Dense(<crate::EptInterface as Interface>::OPERATIONS),
    ),
    (
        0xafa8bd80_7d8a_11c9_bef4_08002b102989,
        Operations::Dense(<crate::mgmt::MgmtInterface as Interface>::OPERATIONS),
    ),
    // Samba's librpc/idl/echo.idl.
    (
        0x60a15ec5_4de8_11d7_a637_005056a20182,
        Operations::Dense(&[
            Some("AddOne"),
            Some("EchoData"),
            Some("SinkData"),
            Some("SourceData"),
            Some("TestCall"),
            Some("TestCall2"),
            Some("TestSleep"),
            Some("TestEnum"),
            Some("TestSurrounding"),
            Some("TestDoublePointer"),
        ]),
    ),
    // [MS-MSRP] 3.2.4: the Messenger service's message-sending interface (connectionless).
    (
        0x5a7b91f8_ff00_11d0_a9b2_00c04fb6e6fc,
        Operations::Sparse(&[(0, "NetrSendMessage")]),
    ),
    // [MS-SCMR] 3.1.4.
    (
        0x367abb81_9844_35f1_ad32_98f038001003,
        Operations::Sparse(&[
            (0, "CloseServiceHandle"),
            (1, "ControlService"),
            (2, "DeleteService"),
            (6, "QueryServiceStatus"),
            (12, "CreateServiceW"),
            (15, "OpenSCManagerW"),
            (16, "OpenServiceW"),
            (19, "StartServiceW"),
        ]),
    ),
    // [MS-NRPC] 3.5.4.
    (
        0x12345678_1234_abcd_ef00_01234567cffb,
        Operations::Sparse(&[
            (2, "NetrLogonSamLogon"),
            (4, "NetrServerReqChallenge"),
            (15, "NetrServerAuthenticate2"),
            (21, "NetrLogonGetCapabilities"),
            (26, "NetrServerAuthenticate3"),
            (29, "NetrLogonGetDomainInfo"),
            (30, "NetrServerPasswordSet2"),
            (39, "NetrLogonSamLogonEx"),
            (45, "NetrLogonSamLogonWithFlags"),
        ]),
    ),
    // [MS-DSSP] 3.2.5.
    (
        0x3919286a_b10c_11d0_9ba8_00c04fd92ef5,
        Operations::Dense(&[Some("DsRolerGetPrimaryDomainInformation")]),
    ),
    // [MS-DCOM] 3.1.2.5.2.3: IRemoteActivation.
    (
        0x4d9f4ab8_7d1c_11cf_861e_0020af6e7c57,
        Operations::Dense(&[Some("RemoteActivation")]),
    ),
    // [MS-DCOM] 3.1.2.5.2.3: IRemoteSCMActivator (ISystemActivator); opnums 0-2 are reserved.
    (
        0x000001a0_0000_0000_c000_000000000046,
        Operations::Dense(&[
            None,
            None,
            None,
            Some("RemoteGetClassObject"),
            Some("RemoteCreateInstance"),
        ]),
    ),
    // [MS-DCOM] 3.1.2.5.1: IObjectExporter.
    (
        0x99fcfec4_5260_101b_bbcb_00aa0021347a,
        Operations::Dense(&[
            Some("ResolveOxid"),
            Some("SimplePing"),
            Some("ComplexPing"),
            Some("ServerAlive"),
            Some("ResolveOxid2"),
            Some("ServerAlive2"),
        ]),
    ),
];

/// The name of operation `opnum` of the well-known interface `uuid`, when this table knows it.
///
/// ```
/// use msrpc_epm::known;
/// use msrpc_ndr::Uuid;
///
/// let epm = Uuid::parse_str("e1af8308-5d1f-11c9-91a4-08002b14a0fa").unwrap();
/// assert_eq!(known::operation_name(&epm, 2), Some("ept_lookup"));
/// assert_eq!(known::operation_name(&epm, 99), None);
/// ```
pub fn operation_name(uuid: &Uuid, opnum: u16) -> Option<&'static str> {
    let key = uuid.as_u128();
    let (_, ops) = OPERATIONS.iter().find(|(u, _)| *u == key)?;
    match ops {
        Operations::Dense(t) => t.get(usize::from(opnum)).copied().flatten(),
        Operations::Sparse(t) => t.iter().find(|(o, _)| *o == opnum).map(|(_, n)| *n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mgmt::MgmtInterface;
    use crate::EptInterface;
    use msrpc_proto::dispatch::Interface;
    use std::collections::HashSet;

    #[test]
    fn uuids_and_names_are_unique_and_entries_complete() {
        let mut uuids = HashSet::new();
        let mut names = HashSet::new();
        for k in all() {
            assert!(uuids.insert(k.uuid), "duplicate uuid {}", k.uuid);
            assert!(
                names.insert(k.name.to_ascii_lowercase()),
                "duplicate name {}",
                k.name
            );
            assert!(!k.versions.is_empty(), "{} has no version", k.name);
            assert!(!k.description.is_empty(), "{} has no description", k.name);
        }
        assert!(all().len() >= 80);
    }

    #[test]
    fn matches_the_interfaces_defined_in_this_workspace() {
        for (syntax, name) in [
            (EptInterface::SYNTAX, "epmapper"),
            (MgmtInterface::SYNTAX, "mgmt"),
        ] {
            let k = lookup(&syntax.uuid).unwrap();
            assert_eq!(k.name, name);
            assert_eq!(k.default_version(), (syntax.major, syntax.minor));
        }
        let echo = Uuid::parse_str("60a15ec5-4de8-11d7-a637-005056a20182").unwrap();
        assert_eq!(lookup(&echo).unwrap().name, "rpcecho");
    }

    #[test]
    fn spot_checks_from_the_specifications() {
        let cases = [
            ("12345778-1234-abcd-ef00-0123456789ab", "lsarpc", (0, 0)),
            ("4b324fc8-1670-01d3-1278-5a47bf6ee188", "srvsvc", (3, 0)),
            ("367abb81-9844-35f1-ad32-98f038001003", "svcctl", (2, 0)),
            (
                "99fcfec4-5260-101b-bbcb-00aa0021347a",
                "IObjectExporter",
                (0, 0),
            ),
            (
                "000001a0-0000-0000-c000-000000000046",
                "ISystemActivator",
                (0, 0),
            ),
            ("e3514235-4b06-11d1-ab04-00c04fc2dcd2", "drsuapi", (4, 0)),
            ("50abc2a4-574d-40b3-9d66-ee4fd5fba076", "dnsserver", (5, 0)),
        ];
        for (uuid, name, version) in cases {
            let k = lookup(&Uuid::parse_str(uuid).unwrap()).unwrap();
            assert_eq!((k.name, k.default_version()), (name, version));
            assert_eq!(lookup_name(name), Some(k));
        }
        assert!(lookup(&Uuid::nil()).is_none());
        assert!(lookup_name("no-such-interface").is_none());
    }
}
