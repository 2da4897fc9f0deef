//! virtlxcd: the LXC driver (one controller process per container: namespaces, cgroups, veth),
//! its controller binary (`virt-lxc-controller`) and its daemon binary (`virtlxcd`).

#![warn(missing_docs)]

pub mod controller;
pub mod plan;

/// The daemon's program name, which also names its sockets (`virtlxcd-sock`).
pub const DAEMON_NAME: &str = "virtlxcd";

/// The controller's program name, looked for beside the daemon's own executable.
pub const CONTROLLER_NAME: &str = "virt-lxc-controller";
