//! virtxend: the Xen driver ([`XenDriver`]), its registry ([`registry`]) and its daemon binary
//! (`virtxend`).
//!
//! * [`xenstore`]: an async (tokio) client of the Xen Store wire protocol (every operation,
//!   watches delivered while requests keep flowing, transactions with `EAGAIN` retries, the
//!   read-write and read-only connections).
//! * [`xl`]: the xl.cfg syntax and the conversions between libvirt's domain XML and the
//!   native formats `xen-xl` and `xen-xm`, matching libvirt 9.0 byte for byte and refusing by
//!   name what they cannot carry.
//! * The driver: definitions as libvirt keeps them (`CONFIG/libxl/NAME.xml`), started through
//!   Xen's own toolstack `xl` ([`toolstack`] says why not libxl by FFI), with the Xen Store as
//!   the record of what runs: a watch on `@releaseDomain` and `/vm` reports stops (and xl's
//!   reboots, which give a domain a new ID), and a restarted daemon reattaches from it.
//!   Console through xenconsoled's pty, bulk stats from Xen, the store and dom0's backends.
//!
//! On a host without a Xen hypervisor the daemon still starts and serves conversions,
//! capabilities, version and definitions; calls that need the hypervisor fail with NO_XEN
//! naming what is missing. `XENSTORED_PATH` names the store's socket, as for Xen's own tools.
//!
//! As libvirt's Xen driver, Domain-0 is listed: running, ID 0, transient, refusing lifecycle
//! changes. Where we differ from libvirt on purpose: the toolstack is the `xl` program rather
//! than libxl in-process (see [`toolstack`]); a defined domain Xen runs again behind the
//! daemon's back (xl's monitor rebooting it, or `xl create`) is picked up as running.

#![warn(missing_docs)]

mod definitions;
mod domains;
mod driver;
mod host;
mod live;
mod registry;
pub mod toolstack;
pub mod xenstore;
pub mod xl;
pub mod xsview;

pub use driver::{hypervisor_check, XenDriver};
pub use host::{xen_guests, xen_version};
pub use registry::{registry, xen_features};

/// The daemon's program name, which also names its sockets (`virtxend-sock`).
pub const DAEMON_NAME: &str = "virtxend";
