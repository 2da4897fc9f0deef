//! virtqemud: the QEMU/KVM driver ([`QemuDriver`]) and its registry ([`registry`]), served
//! by the `virtqemud` binary on the shared virt-core runtime.
//!
//! Definitions are kept as libvirt keeps them (`CONFIG/qemu/NAME.xml`, written atomically;
//! autostart as a symlink in `CONFIG/qemu/autostart/`), loaded at start with damaged files
//! logged and skipped. Guests run as real QEMU processes (issue 6):
//!
//! * [`process`]: QEMU in its own session, its output appended to `LOG/NAME.log` (`LOG` is
//!   `ROOT/var/log/virt/qemu` under `--root`, `/var/log/virt/qemu` for the system instance,
//!   `STATE/qemu/log` for a session), identified by pid + start time, killed as libvirt does;
//! * [`status_file`]: `RUN/qemu/NAME.xml` per running domain (libvirt's domstatus shape), rewritten
//!   atomically on every state change, so a restarted daemon reattaches;
//! * `live` (private): start / create (transient) / shutdown / reboot / reset / destroy /
//!   suspend / resume, save / managed save / restore (libvirt's image header, migration to
//!   a file descriptor), memory, disk and NIC hotplug, console, bulk stats, the per-domain job
//!   lock, the QMP-event-to-state mapping and the stop path; reattach and autostart at daemon
//!   start ([`QemuDriver::start_guests`]); channel sockets and states, and the guest agent
//!   APIs (interface addresses, file system freeze, guest time and info, raw commands, agent
//!   shutdown and reboot) under their own agent job;
//! * [`command`], [`tap`], [`qmp`], [`agent`], [`probe`], [`stats`]: the command line, tap
//!   devices, the QMP client, the guest agent client, capability probing and per-guest stats
//!   those build on;
//! * [`firmware`], [`tpm`]: UEFI/BIOS chosen from QEMU's firmware descriptors with a variable
//!   store per domain (`STATE/qemu/nvram`), and one swtpm per emulated TPM (state in
//!   `STATE/swtpm/UUID`), both prepared before QEMU starts;
//! * `virt_core::cgroup` (shared with the LXC driver): the group under
//!   `<resource><partition>` (default `/machine`) each guest's QEMU runs in, as libvirt
//!   names it without systemd;
//! * `memory`, `virtiofs`, `cputune` (private): guest RAM on the host (hugetlbfs, memory
//!   backing files), one virtiofsd per virtiofs share (before QEMU, recorded in the status
//!   file, stopped after it), and `<cputune>` pins and CPU controller files applied once
//!   QEMU's threads are known (again at reattach).
//!
//! Where we differ from libvirt on purpose: QEMU is a direct child of the daemon (fork, setsid,
//! exec) instead of a double-forked grandchild, so the daemon reaps it at once and a destroy
//! completes in milliseconds; after a daemon restart it is an orphan that PID 1 may never
//! reap, which is why liveness reads the state letter in `/proc/PID/stat`. The monitor is a
//! socket QEMU creates (libvirt pre-binds it). QEMU joins its cgroup just after exec rather
//! than before (its vCPUs are still stopped). `<smbios mode='host'/>` reads the host's tables
//! from `/sys/class/dmi/id` instead of running dmidecode. Under TCG `hv-vpindex` is left off
//! the command line, which QEMU 7.2 refuses there (libvirt's start of such a guest fails).
//! QEMU runs as the daemon's user (libvirt's `qemu.conf` user): a static DAC `<seclabel>` naming
//! another user fails the start instead of running QEMU as someone else; SELinux and AppArmor
//! labels fail it as on a libvirt host without those drivers. Displays this host cannot give
//! (SDL, OpenGL, 3D video) are refused at define with the reason, where libvirt defines them
//! and fails at start; a `stdio` character device likewise (QEMU's standard streams are its
//! log). Automatic crash dumps are named with UTC time (libvirt: local time).
//! The guest agent's timeout defaults to 5 s per command where libvirt waits forever after a
//! successful resync: a silent agent never hangs a call (`guest-agent-timeout --timeout -2`
//! restores libvirt's wait). Not implemented yet: removing vCPUs from a running domain
//! (OPERATION_UNSUPPORTED; adding them works), START_AUTODESTROY, compressed save images,
//! snapshots.

#![warn(missing_docs)]

/// Device addresses assigned at define: PCI slots and controllers, virtio-serial and USB ports.
mod address;
pub mod agent;
/// Device aliases given at start: QOM ids and `<alias>` in the live XML.
mod aliases;
mod arp;
/// The `Host` capability: versions, capabilities, domain capabilities, vCPU limits, preview.
mod capabilities;
pub mod command;
/// The guest CPU's vendor against the host's, at start.
mod cpu_vendor;
/// `<cputune>` on the host: thread affinity and the CPU controller's files.
mod cputune;
/// What a define checks, with libvirt's codes and texts: the emulator, device and
/// lifecycle rules, tuning rules.
mod define;
mod definitions;
mod domains;
mod driver;
pub mod firmware;
pub mod host;
pub mod host_cpu;
/// Host devices given to guests: USB lookup and VFIO readiness in sysfs.
mod hostdev;
/// The start journal: every process a start spawns, on disk before it runs.
pub mod journal;
mod live;
/// Guest RAM on the host: hugetlbfs mounts and dirs, memory backing files, free huge pages.
mod memory;
/// What the QEMU driver fills into a definition at define time.
mod postparse;
/// What each installed `qemu-system-*` can do, probed over QMP and cached.
pub mod probe;
pub mod process;
/// The QMP client: one pipelined connection per guest, events in order.
pub mod qmp;
mod registry;
/// Domain security labels: define defaults, start checks, the live DAC label.
mod seclabel;
/// Bulk stats of one running guest, under libvirt's keys.
pub mod stats;
pub mod status_file;

pub mod tap;
/// domxml-to-native: the command line a start would run, defining and starting nothing.
pub mod to_native;
pub mod tpm;
/// virtiofs shares: one virtiofsd per filesystem, before QEMU and after it.
mod virtiofs;

pub use driver::QemuDriver;
pub use registry::registry;

/// The daemon's program name, which also names its sockets (`virtqemud-sock`).
pub const DAEMON_NAME: &str = "virtqemud";

#[cfg(test)]
mod tests;
