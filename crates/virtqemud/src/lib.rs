//! virtqemud: the QEMU/KVM driver ([`QemuDriver`]) and its registry ([`QemuRegistry`]), served
//! by the `virtqemud` binary on the shared virt-core runtime.
//!
//! What works today (issue 5): persistent definitions kept as libvirt keeps them
//! (`CONFIG/qemu/NAME.xml`, written atomically; autostart as a symlink in
//! `CONFIG/qemu/autostart/`), loaded at start with damaged files logged and skipped; define,
//! validate, undefine, list, lookup, dumpxml, info and state of shut-off domains; autostart;
//! host facts (capabilities, node info, versions); DEFINED / UNDEFINED lifecycle events on a
//! bus whose numbering survives a restart (`RUN/qemu/events`).
//!
//! Starting guests (QMP, command lines, reattaching to running guests) is the next issue:
//! start and create answer NO_SUPPORT saying so; operations that need a running guest answer
//! OPERATION_INVALID "domain is not running", which is what libvirt says for a shut-off domain.
//!
//! Where we differ from libvirt on purpose: capabilities and domain capabilities publish only
//! what define honours (domain types, emulator, vCPU limit; no machine types or device enums
//! until QEMU is probed); autostart is recorded (the link libvirt makes) but starts nothing
//! until guests can start.

#![warn(missing_docs)]

/// The QEMU command line of a domain definition.
pub mod command;
mod domains;
mod driver;
pub mod host;
mod live;
/// Tap devices for bridge and ethernet interfaces.
pub mod net;
mod ops;
/// What each installed `qemu-system-*` can do, probed over QMP and cached.
pub mod probe;
pub mod process;
/// The QMP client: one pipelined connection per guest, events in order.
pub mod qmp;
mod registry;
/// Bulk stats of one running guest, under libvirt's keys.
pub mod stats;
pub mod status;
pub mod store;

pub use driver::QemuDriver;
pub use registry::QemuRegistry;

/// The daemon's program name, which also names its sockets (`virtqemud-sock`).
pub const DAEMON_NAME: &str = "virtqemud";

#[cfg(test)]
mod tests;
