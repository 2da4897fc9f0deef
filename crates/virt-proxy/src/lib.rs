//! virt-proxy: the one address clients talk to (ARCHITECTURE decisions 2 and 4).
//!
//! Every call carries the `virt-uri` metadata. [`Routing`] maps it to a target: `test:` URIs
//! are served by the embedded test driver ([`ProxyRegistry`]); a call without one goes to the
//! default URI (`uri_default`, else libvirt's socket probe, see [`route`]), and every routed
//! response carries a `virt-uri` header naming the URI it was served for;
//! `qemu:///system|session`, `lxc:///`, `xen:///` go to virtqemud, virtlxcd and virtxend on
//! their sockets. [`Proxy`] is the tower service the shared runtime serves
//! ([`virt_core::runtime::Daemon::serve_service`]): it forwards calls to a daemon at the HTTP/2
//! level over one pooled connection per daemon socket ([`pool`]), without decoding them, so a
//! newer daemon's methods work through an older proxy. It reads messages of two methods only:
//! its own `ConnectService/Info` ([`info`]) and `EventService/StreamEvents`, which it resumes
//! across daemon restarts ([`events`]).
//!
//! Read-only: a call arriving on the proxy's `-sock-ro` goes only to the daemon's `-sock-ro`,
//! where the daemon applies its own allowlist; the embedded test driver gets the runtime's
//! allowlist check. A daemon that cannot be reached gives UNAVAILABLE (NO_CONNECT) naming the
//! daemon and its socket; the next call reconnects by itself.
//!
//! The settings live in `CONFIG_DIR/virt-proxy.conf` ([`config`], libvirt's `key = value`
//! syntax), including the TCP listeners: `listen_tls` (mutual TLS, libvirt's PKI layout,
//! `tls_allowed_dn_list`) and `listen_tcp` (unauthenticated, off unless set), served by the
//! shared runtime. `virt-proxy --stdio` ([`stdio`]) is the remote end of `+ssh` URIs.
//!
//! virt-proxy depends on virt-xml as well as virt-core (the architecture lists virt-core only)
//! because the test driver it serves needs the XML codec.

pub mod config;
pub mod events;
pub mod forward;
pub mod grpc;
pub mod info;
pub mod pool;
pub mod route;
/// The `--stdio` bridge run by the `+ssh` transport.
pub mod stdio;

use std::sync::Arc;

use virt_core::driver::prelude::*;
use virt_core::registry::{DaemonInfo, DriverRegistry};
use virt_core::test_driver::TestRegistry;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

pub use config::ProxyConfig;
pub use forward::Proxy;
pub use route::{Backend, Routing, Target};

/// The daemon's program name, which also names its sockets (`virt-proxy-sock`).
pub const DAEMON_NAME: &str = "virt-proxy";

/// The proxy's embedded driver registry: `test:` URIs; everything else is NO_CONNECT (the
/// [`Proxy`] never hands it other URIs).
pub struct ProxyRegistry {
    test: TestRegistry,
}

impl ProxyRegistry {
    /// A registry serving the test driver with libvirt-compatible XML.
    pub fn new() -> ProxyRegistry {
        ProxyRegistry {
            test: TestRegistry::new(Arc::new(virt_xml::LibvirtXml)),
        }
    }
}

impl Default for ProxyRegistry {
    fn default() -> ProxyRegistry {
        ProxyRegistry::new()
    }
}

impl DriverRegistry for ProxyRegistry {
    fn driver_for(&self, uri: Option<&str>) -> Result<Arc<dyn Driver>, VirtError> {
        match uri {
            None => self.test.driver_for(None),
            Some(u) if u.starts_with("test:") || u.starts_with("test+unix:") => {
                self.test.driver_for(Some(u))
            }
            Some(u) => Err(VirtError::new(
                ErrorCode::NoConnect,
                ErrorDomain::Remote,
                format!("{u}: not served by the embedded test driver"),
            )),
        }
    }

    fn daemon_info(&self) -> DaemonInfo {
        self.test.daemon_info()
    }
}

/// The proxy service for a proxy under `root` (its `--root`) in `mode` with `config`: the
/// embedded test driver plus routing to the driver daemons.
pub fn proxy_service(
    root: Option<&std::path::Path>,
    mode: virt_core::runtime::Mode,
    config: ProxyConfig,
) -> Proxy {
    let embedded = virt_core::service::routes(Arc::new(ProxyRegistry::new()), DAEMON_NAME);
    Proxy::new(Routing::new(root, config).with_mode(mode), embedded)
}
