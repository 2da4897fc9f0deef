//! virtlxcd: the LXC driver ([`LxcDriver`]), its registry ([`registry`]), its controller
//! binary (`virt-lxc-controller`, module [`controller`]) and its daemon binary (`virtlxcd`).
//!
//! A container is libvirt's LXC domain XML (`<os><type>exe</type>`, `<init>`, `<filesystem>`,
//! `<interface>`, `<idmap>`, ...) run as real Linux namespaces and cgroups, no VM:
//!
//! * definitions as libvirt keeps them (`CONFIG/lxc/NAME.xml`, autostart links), through the
//!   driver kit's store and domain table; what the driver does not honour is refused by name
//!   at define (`define`);
//! * one small controller process per container (`virt-lxc-controller`, std + nix only, no
//!   async runtime): it creates the namespaces, mounts the root and `/dev`, `/proc`, `/sys`,
//!   moves and configures the veths, joins the cgroups, relays the console and reaps init; it
//!   outlives the daemon, which talks to it over a control socket ([`plan`]);
//! * the daemon decides everything beforehand (the [`plan`]: mounts, environment, namespaces,
//!   capabilities, veth ends, cgroup directories, with the limits written), writes a status
//!   file per running container and reattaches to every controller after a restart;
//! * lifecycle, console, memory, bulk stats (which libvirt's LXC driver lacks), events.
//!
//! Where we differ from libvirt on purpose: domain IDs count from 1 as the QEMU driver's do
//! (libvirt uses the controller's pid); plain `shutdown` falls back to SIGTERM when the
//! container has no initctl FIFO (libvirt 9.0 silently does nothing); destroy returns as soon
//! as the controller has seen every process of the container gone (libvirt sleeps 200 ms);
//! the container gets its own cgroup namespace; on a hybrid cgroup host the v1 hierarchies
//! are used and the controller-less v2 mount is left alone (libvirt 9.0 fails to start there);
//! the console is relayed over the control socket rather than through a host pty, and keeps
//! up to 64 KiB of output for the next client. No `/proc/meminfo` view of the memory limit
//! yet (libvirt's FUSE file).

#![warn(missing_docs)]

pub mod controller;
mod define;
mod definitions;
mod domains;
mod driver;
mod host;
mod live;
pub mod plan;
mod registry;

pub use driver::LxcDriver;
pub use host::kernel_version;
pub use registry::{lxc_features, registry};

/// The daemon's program name, which also names its sockets (`virtlxcd-sock`).
pub const DAEMON_NAME: &str = "virtlxcd";

/// The controller's program name, looked for beside the daemon's own executable.
pub const CONTROLLER_NAME: &str = "virt-lxc-controller";

#[cfg(test)]
mod tests;
