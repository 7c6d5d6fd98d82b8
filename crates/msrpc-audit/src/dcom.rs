//! DCOM calls as audit records: activation requests and replies (`ISystemActivator`
//! RemoteGetClassObject and RemoteCreateInstance, `IRemoteActivation` RemoteActivation), OXID
//! resolver calls (`IObjectExporter` ResolveOxid, ResolveOxid2, ServerAlive2) and
//! `IRemUnknown(2)` calls, decoded with `msrpc-dcom`'s generated types and codecs, become
//! [`EventKind::DcomActivation`], [`EventKind::DcomResolver`] and [`EventKind::DcomRemUnknown`].
//! The daemon (live) and the analyzer (captures) both call [`interpret_call`].
//!
//! [`CLASSES`] is the one table of COM classes the audit names.
//!
//! Decoding is bounded ([`LIMITS`], `ActivationLimits::DEFAULT`, `BindingLimits::DEFAULT`);
//! stubs that do not decode (sealed calls, other byte layouts) give `None` or leave the
//! answer's fields empty, never a panic.
//!
//! Stubs are read in the transfer syntax of the call's presentation context (NDR20 or NDR64).
//! What travels inside an `MInterfacePointer` (OBJREFs, the activation properties blob with
//! its own NDR20 type serialization) is a byte array whatever the call's syntax.

use msrpc_dcom::activation::{ActivationBlob, ActivationLimits};
use msrpc_dcom::activator::{
    RemoteActivationRequest, RemoteActivationResponse, RemoteCreateInstanceRequest,
    RemoteCreateInstanceResponse, RemoteGetClassObjectRequest, RemoteGetClassObjectResponse,
};
use msrpc_dcom::dualstring::{BindingLimits, DualStringArray, TOWER_NCACN_IP_TCP};
use msrpc_dcom::orpc::{ComVersion, MInterfacePointer};
use msrpc_dcom::resolver::{
    ResolveOxid2Request, ResolveOxid2Response, ResolveOxidRequest, ResolveOxidResponse,
    ServerAlive2Request, ServerAlive2Response,
};
use msrpc_dcom::{remunknown, remunknown2, Oxid};
use msrpc_ndr::{DataRep, DecodeLimits, TransferSyntax, Unique, Uuid};

use crate::names::{IOBJECT_EXPORTER, IREMOTE_ACTIVATION, ISYSTEM_ACTIVATOR};
use crate::EventKind;

/// `IRemUnknown` (00000131-0000-0000-c000-000000000046).
pub const IREM_UNKNOWN: Uuid = Uuid::from_u128(0x00000131_0000_0000_c000_000000000046);
/// `IRemUnknown2` (00000143-0000-0000-c000-000000000046).
pub const IREM_UNKNOWN2: Uuid = Uuid::from_u128(0x00000143_0000_0000_c000_000000000046);

/// Decode limits for DCOM stubs.
pub const LIMITS: DecodeLimits = DecodeLimits {
    max_depth: 32,
    max_elements: 1 << 16,
    max_alloc_bytes: 4 << 20,
};

/// A COM class the audit knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownClass {
    /// CLSID.
    pub clsid: Uuid,
    /// ProgID or class name.
    pub name: &'static str,
}

const fn class(clsid: u128, name: &'static str) -> KnownClass {
    KnownClass {
        clsid: Uuid::from_u128(clsid),
        name,
    }
}

/// The COM classes the audit names (CLSIDs as Impacket's dcomexec.py and wmiexec.py activate
/// them; MS-DCOM, MS-WMI). Which activations are techniques is the technique library's
/// business (`rules/techniques.toml`: `dcom_mmc20_application`, `dcom_shellwindows`, ...).
pub const CLASSES: &[KnownClass] = &[
    class(0x49b2791a_b1ae_4c90_9b8e_e860ba07f889, "MMC20.Application"),
    class(0x9ba05972_f6a8_11cf_a442_00a0c90a8f39, "ShellWindows"),
    class(0xc08afd90_f2a1_11d1_8455_00a0c91f3880, "ShellBrowserWindow"),
    class(0x8bc3f05e_d86b_11d0_a075_00c04fb68820, "WbemLevel1Login"),
    class(0x00024500_0000_0000_c000_000000000046, "Excel.Application"),
    class(
        0x0006f03a_0000_0000_c000_000000000046,
        "Outlook.Application",
    ),
];

/// The known class `clsid`, if any.
pub fn known_class(clsid: &Uuid) -> Option<&'static KnownClass> {
    CLASSES.iter().find(|c| c.clsid == *clsid)
}

/// Whether calls on `interface` are interpreted by [`interpret_call`] (their stubs are worth
/// keeping).
pub fn interprets(interface: &Uuid) -> bool {
    [
        ISYSTEM_ACTIVATOR,
        IREMOTE_ACTIVATION,
        IOBJECT_EXPORTER,
        IREM_UNKNOWN,
        IREM_UNKNOWN2,
    ]
    .contains(interface)
}

/// Who made a call, as the `call` event records it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallFacts {
    /// `call_id`.
    pub call_id: u32,
    /// Auth level text (`connect`, `integrity`, ...).
    pub auth_level: Option<String>,
    /// Authenticated user.
    pub user: Option<String>,
}

/// Interprets a DCOM call on `interface` (see the module docs) from its request stub and,
/// when seen and not a fault, its response stub (each in its own data representation, both in
/// transfer syntax `syntax`).
/// `None` for other interfaces and opnums and for requests that do not decode; a response that
/// does not decode leaves the answer's fields empty.
pub fn interpret_call(
    interface: &Uuid,
    opnum: u16,
    request: &[u8],
    request_drep: DataRep,
    syntax: TransferSyntax,
    response: Option<(&[u8], DataRep)>,
    facts: &CallFacts,
) -> Option<EventKind> {
    let i = *interface;
    let enc = (request_drep, syntax);
    let response = response.map(|(s, d)| (s, (d, syntax)));
    if i == ISYSTEM_ACTIVATOR && (opnum == 3 || opnum == 4) {
        scm_activation(opnum, request, enc, response, facts)
    } else if i == IREMOTE_ACTIVATION && opnum == 0 {
        remote_activation(request, enc, response, facts)
    } else if i == IOBJECT_EXPORTER {
        resolver(opnum, request, enc, response, facts.call_id)
    } else if i == IREM_UNKNOWN || i == IREM_UNKNOWN2 {
        rem_unknown(
            i == IREM_UNKNOWN2,
            opnum,
            request,
            enc,
            response,
            facts.call_id,
        )
    } else {
        None
    }
}

/// A stub's data representation and transfer syntax.
type Enc = (DataRep, TransferSyntax);

fn hex_oxid(o: Oxid) -> String {
    format!("{:#018x}", o.0)
}

fn version_text(v: ComVersion) -> String {
    format!("{}.{}", v.major, v.minor)
}

/// String bindings as text (`ncacn_ip_tcp:HOST[PORT]`, `tower 0xNN:ADDR`).
fn binding_texts(dsa: Option<&DualStringArray>) -> Vec<String> {
    let Some(b) = dsa.and_then(|d| d.parse(&BindingLimits::DEFAULT).ok()) else {
        return Vec::new();
    };
    b.strings
        .iter()
        .map(|s| match s.tower_id {
            TOWER_NCACN_IP_TCP => format!("ncacn_ip_tcp:{}", s.network_addr),
            t => format!("tower {t:#06x}:{}", s.network_addr),
        })
        .collect()
}

fn blob(ip: &Unique<MInterfacePointer>) -> Option<ActivationBlob> {
    ActivationBlob::from_interface_pointer(ip.get()?, &ActivationLimits::DEFAULT).ok()
}

#[allow(clippy::too_many_arguments)]
fn activation_event(
    operation: &str,
    clsid: Uuid,
    iids: Vec<String>,
    hresult: Option<u32>,
    oxid: Option<Oxid>,
    bindings: Vec<String>,
    facts: &CallFacts,
) -> EventKind {
    EventKind::DcomActivation {
        call_id: facts.call_id,
        operation: operation.into(),
        clsid: clsid.to_string(),
        class_name: known_class(&clsid).map(|c| c.name.to_string()),
        iids,
        hresult,
        oxid: oxid.map(hex_oxid),
        bindings,
        auth_level: facts.auth_level.clone(),
        user: facts.user.clone(),
    }
}

fn scm_activation(
    opnum: u16,
    request: &[u8],
    drep: Enc,
    response: Option<(&[u8], Enc)>,
    facts: &CallFacts,
) -> Option<EventKind> {
    // Request: the activation properties' InstantiationInfo names the class and interfaces.
    let (props, hresult, out) = if opnum == 3 {
        let req =
            RemoteGetClassObjectRequest::from_stub_in(request, drep.0, drep.1, LIMITS).ok()?;
        let resp = response.and_then(|(s, d)| {
            RemoteGetClassObjectResponse::from_stub_in(s, d.0, d.1, LIMITS, &req).ok()
        });
        (
            req.act_properties,
            resp.as_ref().map(|r| r.result.0),
            resp.map(|r| r.act_properties_out),
        )
    } else {
        let req =
            RemoteCreateInstanceRequest::from_stub_in(request, drep.0, drep.1, LIMITS).ok()?;
        let resp = response.and_then(|(s, d)| {
            RemoteCreateInstanceResponse::from_stub_in(s, d.0, d.1, LIMITS, &req).ok()
        });
        (
            req.act_properties,
            resp.as_ref().map(|r| r.result.0),
            resp.map(|r| r.act_properties_out),
        )
    };
    let info = blob(&props)?;
    let inst = info.instantiation_info()?;
    let iids = inst
        .iids
        .get()
        .map(|v| v.iter().map(Uuid::to_string).collect())
        .unwrap_or_default();
    let reply = out.as_ref().and_then(blob);
    let remote = reply
        .as_ref()
        .and_then(|b| b.scm_reply_info())
        .and_then(|r| r.remote_reply.get());
    let operation = if opnum == 3 {
        "RemoteGetClassObject"
    } else {
        "RemoteCreateInstance"
    };
    Some(activation_event(
        operation,
        inst.class_id,
        iids,
        hresult,
        remote.map(|r| r.oxid),
        binding_texts(remote.and_then(|r| r.oxid_bindings.get())),
        facts,
    ))
}

fn remote_activation(
    request: &[u8],
    drep: Enc,
    response: Option<(&[u8], Enc)>,
    facts: &CallFacts,
) -> Option<EventKind> {
    let req = RemoteActivationRequest::from_stub_in(request, drep.0, drep.1, LIMITS).ok()?;
    let resp = response
        .and_then(|(s, d)| RemoteActivationResponse::from_stub_in(s, d.0, d.1, LIMITS, &req).ok());
    let iids = req
        .iids
        .as_ref()
        .map(|v| v.iter().map(Uuid::to_string).collect())
        .unwrap_or_default();
    // The call's status first, then the activation's HRESULT.
    let hresult = resp
        .as_ref()
        .map(|r| if r.result != 0 { r.result } else { r.hr.0 });
    Some(activation_event(
        "RemoteActivation",
        req.clsid,
        iids,
        hresult,
        resp.as_ref().map(|r| r.oxid),
        binding_texts(resp.as_ref().and_then(|r| r.oxid_bindings.get())),
        facts,
    ))
}

fn resolver(
    opnum: u16,
    request: &[u8],
    drep: Enc,
    response: Option<(&[u8], Enc)>,
    call_id: u32,
) -> Option<EventKind> {
    let (operation, oxid, com_version, bindings, status) = match opnum {
        0 => {
            let req = ResolveOxidRequest::from_stub_in(request, drep.0, drep.1, LIMITS).ok()?;
            let resp = response.and_then(|(s, d)| {
                ResolveOxidResponse::from_stub_in(s, d.0, d.1, LIMITS, &req).ok()
            });
            (
                "ResolveOxid",
                Some(req.oxid),
                None,
                binding_texts(resp.as_ref().and_then(|r| r.oxid_bindings.get())),
                resp.map(|r| r.result),
            )
        }
        4 => {
            let req = ResolveOxid2Request::from_stub_in(request, drep.0, drep.1, LIMITS).ok()?;
            let resp = response.and_then(|(s, d)| {
                ResolveOxid2Response::from_stub_in(s, d.0, d.1, LIMITS, &req).ok()
            });
            (
                "ResolveOxid2",
                Some(req.oxid),
                resp.as_ref().map(|r| version_text(r.com_version)),
                binding_texts(resp.as_ref().and_then(|r| r.oxid_bindings.get())),
                resp.map(|r| r.result),
            )
        }
        5 => {
            let req = ServerAlive2Request {};
            let resp = response.and_then(|(s, d)| {
                ServerAlive2Response::from_stub_in(s, d.0, d.1, LIMITS, &req).ok()
            });
            (
                "ServerAlive2",
                None,
                resp.as_ref().map(|r| version_text(r.com_version)),
                binding_texts(resp.as_ref().and_then(|r| r.or_bindings.get())),
                resp.map(|r| r.result),
            )
        }
        _ => return None,
    };
    Some(EventKind::DcomResolver {
        call_id,
        operation: operation.into(),
        oxid: oxid.map(hex_oxid),
        com_version,
        bindings,
        status,
    })
}

fn rem_unknown(
    two: bool,
    opnum: u16,
    request: &[u8],
    drep: Enc,
    response: Option<(&[u8], Enc)>,
    call_id: u32,
) -> Option<EventKind> {
    use remunknown::{
        RemAddRefRequest, RemAddRefResponse, RemQueryInterfaceRequest, RemQueryInterfaceResponse,
        RemReleaseRequest, RemReleaseResponse,
    };
    let ids = |v: &[Uuid]| v.iter().map(Uuid::to_string).collect::<Vec<_>>();
    let (operation, ipids, iids, hresult) = match opnum {
        3 => {
            let req =
                RemQueryInterfaceRequest::from_stub_in(request, drep.0, drep.1, LIMITS).ok()?;
            let resp = response.and_then(|(s, d)| {
                RemQueryInterfaceResponse::from_stub_in(s, d.0, d.1, LIMITS, &req).ok()
            });
            (
                "RemQueryInterface",
                vec![req.ripid.0.to_string()],
                ids(&req.iids),
                resp.map(|r| r.result.0),
            )
        }
        4 | 5 => {
            let (refs, hresult) = if opnum == 4 {
                let req = RemAddRefRequest::from_stub_in(request, drep.0, drep.1, LIMITS).ok()?;
                let resp = response.and_then(|(s, d)| {
                    RemAddRefResponse::from_stub_in(s, d.0, d.1, LIMITS, &req).ok()
                });
                (req.interface_refs, resp.map(|r| r.result.0))
            } else {
                let req = RemReleaseRequest::from_stub_in(request, drep.0, drep.1, LIMITS).ok()?;
                let resp = response.and_then(|(s, d)| {
                    RemReleaseResponse::from_stub_in(s, d.0, d.1, LIMITS, &req).ok()
                });
                (req.interface_refs, resp.map(|r| r.result.0))
            };
            (
                if opnum == 4 {
                    "RemAddRef"
                } else {
                    "RemRelease"
                },
                refs.iter().map(|r| r.ipid.0.to_string()).collect(),
                Vec::new(),
                hresult,
            )
        }
        6 if two => {
            let req = remunknown2::RemQueryInterface2Request::from_stub_in(
                request, drep.0, drep.1, LIMITS,
            )
            .ok()?;
            let resp = response.and_then(|(s, d)| {
                remunknown2::RemQueryInterface2Response::from_stub_in(s, d.0, d.1, LIMITS, &req)
                    .ok()
            });
            (
                "RemQueryInterface2",
                vec![req.ripid.0.to_string()],
                ids(&req.iids),
                resp.map(|r| r.result.0),
            )
        }
        _ => return None,
    };
    Some(EventKind::DcomRemUnknown {
        call_id,
        operation: operation.into(),
        ipids,
        iids,
        hresult,
    })
}
