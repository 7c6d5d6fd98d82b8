//! Running a [`DcomHost`] on `msrpc-rt` (features `server` and `rt`): the services to add to
//! a [`msrpc_rt::Server`] builder and the garbage-collection timer.

use std::sync::Arc;

use msrpc_rt::ServerBuilder;

use super::{Activator, DcomHost, RemUnknownService, Resolver};
use crate::activator::{ActivationServer, RemoteScmActivatorServer};
use crate::remunknown::RemUnknownServer;
use crate::remunknown2::RemUnknown2Server;
use crate::resolver::ObjectExporterServer;

impl DcomHost {
    /// Adds the OXID resolver (`IObjectExporter`) and the activators (`IRemoteSCMActivator`,
    /// `IActivation`) to `builder`. Windows serves them on port 135 next to the endpoint
    /// mapper, where clients look for them, without listing them in the endpoint map.
    pub fn resolver_services(self: &Arc<Self>, builder: ServerBuilder) -> ServerBuilder {
        builder
            .service(ObjectExporterServer::new(Resolver(self.clone())))
            .service(RemoteScmActivatorServer::new(Activator(self.clone())))
            .service(ActivationServer::new(Activator(self.clone())))
    }

    /// Adds the object exporter's `IRemUnknown` and `IRemUnknown2` to `builder`. The caller
    /// adds its hosted interfaces' servers, starts the server and then registers its
    /// addresses with [`DcomHost::set_exporter`] (activations answer
    /// `CO_E_SERVER_EXEC_FAILURE` until then). For Impacket's clients, allow the server's
    /// connections [`EXPORTER_AUTH_CONTEXTS`](super::EXPORTER_AUTH_CONTEXTS) security
    /// contexts (`msrpc_rt::Limits::max_auth_contexts`).
    pub fn exporter_services(self: &Arc<Self>, builder: ServerBuilder) -> ServerBuilder {
        builder
            .service(RemUnknownServer::new(RemUnknownService(self.clone())))
            .service(RemUnknown2Server::new(RemUnknownService(self.clone())))
    }

    /// Starts a task (on the current tokio runtime) calling [`DcomHost::expire`] every
    /// [`DcomSettings::gc_interval`](super::DcomSettings::gc_interval); abort it to stop.
    pub fn spawn_gc(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let host = self.clone();
        let period = self.settings.gc_interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                host.expire();
            }
        })
    }
}
