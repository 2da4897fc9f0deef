//! The plan: everything one container's controller needs to know, decided by the daemon from
//! the domain definition and handed over as JSON (`RUN/lxc/NAME.plan.json`).
//!
//! The controller never reads domain XML: the daemon resolves every choice (which namespaces,
//! which mounts in which order, which cgroup directories, which veth ends, which device nodes)
//! so the controller stays small and does only what must happen in the container's own
//! namespaces. Paths under `root_source`, `mounts[].source` are host paths; `target`s are paths
//! inside the container.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole plan of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Plan {
    /// The domain name (the container's host name, `LIBVIRT_LXC_NAME`).
    pub name: String,
    /// The domain UUID (`LIBVIRT_LXC_UUID`).
    pub uuid: String,
    /// The host directory that becomes `/` (`<filesystem>` with target `/`). `None`: the
    /// container shares the host's root, read-only bind of `/` as libvirt does for
    /// application containers without a root filesystem.
    pub root: Option<PathBuf>,
    /// Whether `/` is read-only (`<readonly/>` on the root filesystem).
    pub root_readonly: bool,
    /// Further filesystems, mounted in this order after the root (parents before children).
    pub mounts: Vec<Mount>,
    /// `<init>` and `<initarg>`s: the argv of the container's PID 1.
    pub init: Vec<String>,
    /// Environment of init: libvirt's (`container=lxc-libvirt`, `LIBVIRT_LXC_UUID`,
    /// `LIBVIRT_LXC_NAME`, `PATH`, `TERM`) then every `<initenv>`.
    pub env: Vec<(String, String)>,
    /// `<initdir>` (default `/`).
    pub init_dir: Option<String>,
    /// `<inituser>`: a user name or number, looked up in the container's `/etc/passwd`.
    pub init_user: Option<String>,
    /// `<initgroup>`: a group name or number, looked up in the container's `/etc/group`.
    pub init_group: Option<String>,
    /// A network namespace of its own (any `<interface>`, `<hostdev>` of a net device, or
    /// `<privnet/>`); otherwise the host's network is shared.
    pub private_net: bool,
    /// User namespace ID maps (`<idmap>`); empty: no user namespace.
    pub uid_map: Vec<IdRange>,
    /// Group ID maps; present exactly when `uid_map` is.
    pub gid_map: Vec<IdRange>,
    /// Network interfaces: veth pairs the daemon created, `container_end` still in the host's
    /// namespace, moved into the container and renamed by the controller.
    pub interfaces: Vec<Interface>,
    /// Host devices made visible in the container (`<hostdev mode='capabilities'>`).
    pub hostdevs: Vec<HostDevice>,
    /// `cgroup.procs` files (one per hierarchy) init joins before it runs anything. The
    /// daemon made the groups and applied the limits.
    pub cgroup_procs: Vec<PathBuf>,
    /// The group directories, removed by the controller once the container is gone (deepest
    /// first, retried while the kernel still counts dying tasks).
    pub cgroup_dirs: Vec<PathBuf>,
    /// Capabilities dropped from the bounding set of init (kernel numbers).
    pub drop_caps: Vec<u32>,
    /// The control socket the controller listens on.
    pub control_socket: PathBuf,
    /// Where the controller writes the container's end (`Exit` as JSON), atomically, before it
    /// exits: a daemon that was not running then learns how the container stopped.
    pub exit_record: PathBuf,
}

/// One `uid`/`gid` map line: container IDs `start..start+count` are host IDs `target..`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    /// First ID inside the container.
    pub start: u32,
    /// First ID on the host.
    pub target: u32,
    /// How many.
    pub count: u32,
}

/// One filesystem mounted in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// What is mounted.
    pub kind: MountKind,
    /// The mount point inside the container (absolute), created when missing.
    pub target: String,
    /// `<readonly/>`.
    pub readonly: bool,
}

/// What a [`Mount`] mounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountKind {
    /// A bind mount of a host directory (`type='mount'`).
    Bind {
        /// The host directory.
        source: PathBuf,
    },
    /// A tmpfs (`type='ram'`), `size_kib` large.
    Ram {
        /// `<source usage>` in KiB.
        size_kib: u64,
    },
    /// A filesystem image (`type='file'`, format raw) attached to a loop device by the
    /// controller, or a block device (`type='block'`); the filesystem type is probed by
    /// trying the kernel's filesystems (as libvirt does).
    Image {
        /// The image file or block device.
        source: PathBuf,
        /// Attach through a loop device (a file) or mount directly (a block device).
        loop_device: bool,
    },
}

/// One network interface of the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// The veth end in the host's namespace (on the bridge), e.g. `vnet3`.
    pub host_end: String,
    /// The other end, still in the host's namespace when the controller starts (e.g.
    /// `vnet3p`); moved into the container and renamed `name`.
    pub container_end: String,
    /// The name inside (`<guest dev>` or `eth0`, `eth1`, ... in order).
    pub name: String,
    /// The MAC address (`aa:bb:cc:dd:ee:ff`).
    pub mac: String,
    /// `<ip address prefix>`: addresses with prefix length (`10.0.0.2/24`, `fd00::2/64`).
    pub addresses: Vec<String>,
    /// `<route>`: `(destination/prefix, gateway)`; destination `default` for a default route.
    pub routes: Vec<(String, String)>,
    /// `<mtu size>`.
    pub mtu: Option<u32>,
}

/// One host device of `<hostdev mode='capabilities'>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostDevice {
    /// `type='storage'`: a block device node (`<source><block>`), same path inside.
    Block {
        /// The device path (`/dev/sdf1`).
        path: PathBuf,
    },
    /// `type='misc'`: a character device node (`<source><char>`), same path inside.
    Char {
        /// The device path (`/dev/input/event3`).
        path: PathBuf,
    },
    /// `type='net'`: a host network interface moved into the container (`<source><interface>`),
    /// keeping its name.
    Net {
        /// The interface name.
        name: String,
    },
}

/// How a container ended: written to `exit_record` and sent on the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    /// Why it stopped.
    pub reason: ExitReason,
    /// The wait status of init: the exit code, or `128 + signal` when killed.
    pub status: i32,
    /// A line for the log and for errors.
    pub message: String,
}

/// Why a container stopped, as libvirt's LXC driver tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitReason {
    /// Init exited (any exit code): SHUTOFF / SHUTDOWN.
    Shutdown,
    /// Killed on request (`destroy`): SHUTOFF / DESTROYED.
    Destroyed,
    /// Init was killed by a signal nobody asked for (OOM, a crash): SHUTOFF / CRASHED.
    Crashed,
    /// Init called reboot(2) with RESTART (the kernel kills it with SIGHUP): the daemon
    /// starts the container again.
    Reboot,
    /// The controller could not set the container up, or lost it.
    Failed,
}

/// The control protocol: one JSON object per line, over the control socket.
///
/// A client writes one [`Request`] and reads one [`Reply`]. After `Console` is answered `Ok`,
/// the connection carries raw console bytes both ways (one console client at a time; a new
/// one replaces the old). After `Watch` is answered `Ok`, the controller writes one
/// [`Reply::Exited`] line when the container is gone and cleaned up, then closes.
pub mod control {
    use serde::{Deserialize, Serialize};

    /// A request to the controller.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum Request {
        /// Where things stand.
        Status,
        /// Kill every process of the container (SIGKILL to init: the kernel kills the rest of
        /// its PID namespace); answered `Exited` once they are all gone and cleaned up.
        Destroy,
        /// Send `signal` to init (the daemon's `shutdown --mode signal`, `reboot`).
        Signal {
            /// The signal number.
            signal: i32,
        },
        /// Switch this connection to the console.
        Console {
            /// Take the console from a client that has it.
            force: bool,
        },
        /// Tell this connection how the container ends.
        Watch,
    }

    /// The controller's answer.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "reply", rename_all = "snake_case")]
    pub enum Reply {
        /// Done.
        Ok,
        /// Status.
        Status {
            /// The controller's pid.
            controller_pid: i32,
            /// Init's pid in the host's PID namespace.
            init_pid: i32,
        },
        /// The container is gone.
        Exited(super::Exit),
        /// The request failed: why.
        Error {
            /// A message naming what failed.
            message: String,
        },
    }
}

/// The start handshake: the controller's standard output, one line, then nothing.
///
/// `READY PID` once init is about to exec (namespaces, mounts, network and cgroups done, the
/// control socket listening), where PID is init's pid in the host's PID namespace, or
/// `ERROR MESSAGE` when the container could not be set up (everything it did undone).
pub const READY: &str = "READY";

/// See [`READY`].
pub const ERROR: &str = "ERROR";
