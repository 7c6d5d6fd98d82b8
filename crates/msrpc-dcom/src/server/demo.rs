//! The demo class: `MsrpcCalculator` ([`crate::demo::CLSID_CALCULATOR`]) implementing
//! `ICalculator` ([`crate::demo`]), and the service serving it on the object exporter.

use std::any::Any;
use std::sync::Arc;

use msrpc_ndr::Unique;
use msrpc_proto::dispatch::{CallContext, RpcFault};

use super::{ClassRegistry, ComObject, DcomHost, Object};
use crate::com::ComPtr;
use crate::demo::{
    AddRequest, AddResponse, Calculator, EchoRequest, EchoResponse, SpawnRequest, SpawnResponse,
    CLSID_CALCULATOR, IID_ICALCULATOR,
};
use crate::{ComVersion, HResult, Iid, OrpcThat};

/// The demo class's name.
pub const CLASS_NAME: &str = "MsrpcCalculator";

/// The demo calculator object (`crate::demo`): `Add` adds its offset to every sum.
#[derive(Debug, Default)]
pub struct CalculatorObject {
    offset: i32,
}

impl ComObject for CalculatorObject {
    fn interfaces(&self) -> &'static [Iid] {
        &[IID_ICALCULATOR]
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The classes `--demo` hosts.
pub fn demo_classes() -> ClassRegistry {
    let mut r = ClassRegistry::default();
    r.register(
        CLSID_CALCULATOR,
        CLASS_NAME,
        Arc::new(|| Arc::new(CalculatorObject::default()) as Object),
    );
    r
}

/// `ICalculator` on the exporter: finds the object by IPID and runs the method.
#[derive(Clone)]
pub struct CalculatorService(pub Arc<DcomHost>);

impl CalculatorService {
    /// The calculator a call names, or the HRESULT to answer.
    fn object(&self, ctx: &CallContext, version: ComVersion) -> Result<Object, HResult> {
        self.0.orpc_object(ctx, version, IID_ICALCULATOR)
    }

    /// Reports the call's answer.
    fn done(&self, ctx: &CallContext, result: HResult) {
        self.0.orpc_done(ctx, IID_ICALCULATOR, result);
    }
}

fn calc(o: &Object) -> Option<&CalculatorObject> {
    o.as_any().downcast_ref::<CalculatorObject>()
}

impl Calculator for CalculatorService {
    async fn add(&self, ctx: &CallContext, req: AddRequest) -> Result<AddResponse, RpcFault> {
        let r = self.object(ctx, req.orpcthis.version).and_then(|o| {
            let c = calc(&o).ok_or(HResult::E_NOINTERFACE)?;
            Ok(req.a.wrapping_add(req.b).wrapping_add(c.offset))
        });
        let (sum, result) = match r {
            Ok(s) => (s, HResult::S_OK),
            Err(hr) => (0, hr),
        };
        self.done(ctx, result);
        Ok(AddResponse {
            orpcthat: OrpcThat::default(),
            sum,
            result,
        })
    }

    async fn echo(&self, ctx: &CallContext, req: EchoRequest) -> Result<EchoResponse, RpcFault> {
        let r = self.object(ctx, req.orpcthis.version);
        self.done(ctx, r.as_ref().map_or_else(|hr| *hr, |_| HResult::S_OK));
        Ok(match r {
            Ok(_) => EchoResponse {
                orpcthat: OrpcThat::default(),
                reply: Unique::new(req.text),
                result: HResult::S_OK,
            },
            Err(hr) => EchoResponse {
                orpcthat: OrpcThat::default(),
                reply: Unique::null(),
                result: hr,
            },
        })
    }

    async fn spawn(&self, ctx: &CallContext, req: SpawnRequest) -> Result<SpawnResponse, RpcFault> {
        let r = self.object(ctx, req.orpcthis.version).and_then(|_| {
            let child: Object = Arc::new(CalculatorObject { offset: req.offset });
            let ip = self.0.export(child, CLASS_NAME, IID_ICALCULATOR)?;
            ComPtr::from_pointer(ip).map_err(|_| HResult::E_FAIL)
        });
        // Attached to the machine's resolver: it must know the new OID before clients ping.
        let r = match r {
            Ok(ip) => self.0.exports_registered().await.map(|()| ip),
            Err(hr) => Err(hr),
        };
        let (child, result) = match r {
            Ok(ip) => (Unique::new(ip), HResult::S_OK),
            Err(hr) => (Unique::null(), hr),
        };
        self.done(ctx, result);
        Ok(SpawnResponse {
            orpcthat: OrpcThat::default(),
            child,
            result,
        })
    }
}
