//! Registering guests with systemd-machined, as libvirt's drivers do, so that `machinectl list`
//! shows them and systemd tracks each one in a scope of its own.
//!
//! # What is sent
//!
//! `org.freedesktop.machine1.Manager.CreateMachineWithNetwork` on the system bus (zbus honours
//! `DBUS_SYSTEM_BUS_ADDRESS`), with libvirt's arguments: the machine name (`qemu-ID-NAME`, the
//! same [`crate::cgroup::machine_name`] the guest's cgroup is named after), the 16 bytes of the
//! domain UUID, the service (the daemon's name, `virtqemud`, where libvirt says
//! `libvirt-qemu`), the class (`vm` or `container`), the leader pid (QEMU, or a container's
//! init), an empty root directory for a VM, the host ends of the guest's network interfaces,
//! and scope properties `Slice=machine.slice`, `After=DAEMON.service` and
//! `Before=virt-guest-shutdown.target`. machined makes the scope
//! `machine-qemu\x2dID\x2dNAME.scope` and moves the leader into it, so a guest survives its
//! daemon's unit being stopped whatever that unit's `KillMode=`. A machined without the
//! `WithNetwork` variant gets `CreateMachine`, as libvirt falls back.
//!
//! When the guest stops, `UnregisterMachine` drops the registration (the scope, empty once the
//! guest is gone, goes by itself). libvirt calls `TerminateMachine` there, which also kills
//! whatever is left in the scope; we never kill through machined, and a machine machined has
//! already dropped (its scope emptied first) is not an error.
//!
//! # Where machined is absent
//!
//! machined only works where systemd is PID 1 (a container without systemd, a host with
//! another init). There registration is skipped: the first attempt logs one line at info
//! level saying why and that guests run unregistered; later attempts log at debug level. A
//! failure of machined itself (a refused registration) is logged as a warning and never stops
//! a guest from starting: the registration is bookkeeping, as the guest's cgroup placement is
//! not.
//!
//! # Where we differ from libvirt
//!
//! On a cgroup v1 (or hybrid) host machined's scope holds the guest in systemd's own hierarchy
//! while the resource controllers' groups stay where [`crate::cgroup`] puts them
//! (`/machine/qemu-ID-NAME.libvirt-qemu`); libvirt nests them in the scope. On a host with
//! only the unified (v2) hierarchy one process has one group, so the scope and our group
//! would fight over it: there the driver does not register (see [`Placement`]) and logs it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;

/// How long connecting to the bus or a call may take before machined counts as absent.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// After machined was found absent, how long calls are skipped before the bus is tried again
/// (so a host without it pays nothing per guest, and one whose bus hangs pays the timeout
/// once a minute at most, not at every start).
pub const ABSENT_RETRY: Duration = Duration::from_secs(60);

const DEST: &str = "org.freedesktop.machine1";
const PATH: &str = "/org/freedesktop/machine1";
const IFACE: &str = "org.freedesktop.machine1.Manager";

/// machined's class of a machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineClass {
    /// A virtual machine (QEMU, Xen).
    Vm,
    /// A container (LXC).
    Container,
}

impl MachineClass {
    /// The name machined takes.
    pub fn as_str(self) -> &'static str {
        match self {
            MachineClass::Vm => "vm",
            MachineClass::Container => "container",
        }
    }
}

/// One guest to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// The machine name, `qemu-ID-NAME` ([`crate::cgroup::machine_name`]).
    pub name: String,
    /// The domain UUID's 16 bytes.
    pub uuid: [u8; 16],
    /// VM or container.
    pub class: MachineClass,
    /// The leader process: QEMU's pid, a container's init.
    pub leader: u32,
    /// A container's root directory; empty for a VM.
    pub root_directory: String,
    /// Interface indexes of the guest's host-side network devices (taps, veths).
    pub ifindices: Vec<i32>,
}

/// Whether the driver may let machined move the guest into a scope, given how cgroups are
/// mounted (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Register: the scope and the driver's own groups live in different hierarchies.
    Register,
    /// Do not register: only the unified hierarchy exists and the driver places the guest
    /// there itself.
    UnifiedConflict,
}

impl Placement {
    /// The placement for a host whose cgroup hierarchies are `h`, when the driver places
    /// guests itself (`places_itself`).
    pub fn for_host(h: &crate::cgroup::Hierarchies, places_itself: bool) -> Placement {
        match h {
            crate::cgroup::Hierarchies::V2(_) if places_itself && h.usable() => {
                Placement::UnifiedConflict
            }
            _ => Placement::Register,
        }
    }
}

/// Why a registration did not happen.
#[derive(Debug, thiserror::Error)]
pub enum MachinedError {
    /// No system bus, or no machined on it.
    #[error("systemd-machined is not available: {0}")]
    Absent(String),
    /// machined answered with an error.
    #[error("systemd-machined refused {method} for {name}: {message}")]
    Refused {
        /// The method called.
        method: &'static str,
        /// The machine name.
        name: String,
        /// machined's error name and message.
        message: String,
    },
}

/// A daemon's client of systemd-machined. Connects on first use and keeps the connection;
/// a lost or absent bus is retried on the next call.
#[derive(Debug)]
pub struct Machined {
    service: String,
    conn: Mutex<Option<zbus::Connection>>,
    told_absent: AtomicBool,
    /// Set when machined was found absent: no call before this instant.
    absent_until: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Machined {
    /// A client registering machines on behalf of `service` (the daemon's name: `virtqemud`).
    pub fn new(service: &str) -> Machined {
        Machined {
            service: service.to_string(),
            conn: Mutex::new(None),
            told_absent: AtomicBool::new(false),
            absent_until: std::sync::Mutex::new(None),
        }
    }

    async fn connection(&self) -> Result<zbus::Connection, MachinedError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let conn = tokio::time::timeout(CALL_TIMEOUT, zbus::Connection::system())
            .await
            .map_err(|_| MachinedError::Absent("the system D-Bus did not answer".into()))?
            .map_err(|e| MachinedError::Absent(format!("no system D-Bus ({e})")))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn call<B>(&self, method: &'static str, name: &str, body: &B) -> Result<(), MachinedError>
    where
        B: zbus::export::serde::Serialize + zbus::zvariant::DynamicType,
    {
        let until = *self.absent_until.lock().expect("never poisoned");
        if until.is_some_and(|t| std::time::Instant::now() < t) {
            return Err(MachinedError::Absent(
                "not found at the last attempt; tried again a minute later".into(),
            ));
        }
        let res = self.call_now(method, name, body).await;
        if matches!(res, Err(MachinedError::Absent(_))) {
            *self.conn.lock().await = None;
            *self.absent_until.lock().expect("never poisoned") =
                Some(std::time::Instant::now() + ABSENT_RETRY);
        }
        res
    }

    async fn call_now<B>(
        &self,
        method: &'static str,
        name: &str,
        body: &B,
    ) -> Result<(), MachinedError>
    where
        B: zbus::export::serde::Serialize + zbus::zvariant::DynamicType,
    {
        let conn = self.connection().await?;
        let call = conn.call_method(Some(DEST), PATH, Some(IFACE), method, body);
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Err(_) => Err(MachinedError::Absent(format!(
                "{method} got no answer within {} s",
                CALL_TIMEOUT.as_secs()
            ))),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(method, name, e)),
        }
    }

    /// Registers `m` (see the module docs). Absence is logged once at info level, a refusal
    /// as a warning; neither is an error for the caller, who goes on starting the guest.
    /// Returns whether machined now knows the machine.
    pub async fn register(&self, m: &Machine) -> bool {
        match self.create(m).await {
            Ok(()) => {
                tracing::debug!(machine = %m.name, leader = m.leader, "registered with systemd-machined");
                true
            }
            Err(e) => {
                self.report(&m.name, &e);
                false
            }
        }
    }

    /// [`Machined::register`] with its outcome, for callers and tests that want it.
    pub async fn create(&self, m: &Machine) -> Result<(), MachinedError> {
        let unit = format!("{}.service", self.service);
        let props: Vec<(&str, zbus::zvariant::Value<'_>)> = vec![
            ("Slice", "machine.slice".into()),
            ("After", vec![unit.as_str()].into()),
            ("Before", vec!["virt-guest-shutdown.target"].into()),
        ];
        let id = m.uuid.to_vec();
        let with_net = (
            m.name.as_str(),
            &id,
            self.service.as_str(),
            m.class.as_str(),
            m.leader,
            m.root_directory.as_str(),
            &m.ifindices,
            &props,
        );
        match self
            .call("CreateMachineWithNetwork", &m.name, &with_net)
            .await
        {
            Err(MachinedError::Refused { message, .. })
                if message.starts_with("org.freedesktop.DBus.Error.UnknownMethod") =>
            {
                let plain = (
                    m.name.as_str(),
                    &id,
                    self.service.as_str(),
                    m.class.as_str(),
                    m.leader,
                    m.root_directory.as_str(),
                    &props,
                );
                self.call("CreateMachine", &m.name, &plain).await
            }
            other => other,
        }
    }

    /// Drops the registration of machine `name` (its guest has stopped). A machine machined
    /// no longer knows is fine; other failures are logged.
    pub async fn unregister(&self, name: &str) {
        match self.call("UnregisterMachine", name, &(name,)).await {
            Ok(()) => tracing::debug!(machine = %name, "unregistered from systemd-machined"),
            Err(MachinedError::Refused { message, .. })
                if message.starts_with("org.freedesktop.machine1.NoSuchMachine") => {}
            Err(e) => self.report(name, &e),
        }
    }

    /// Logs once, at info level, why the driver does not register guests on this host.
    pub fn skip_once(&self, why: &str) {
        if !self.told_absent.swap(true, Ordering::Relaxed) {
            tracing::info!("{why}");
        }
    }

    fn report(&self, name: &str, e: &MachinedError) {
        match e {
            MachinedError::Absent(_) => {
                if !self.told_absent.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        "{e}; guests run without being registered with it (machinectl will not list them)"
                    );
                } else {
                    tracing::debug!(machine = %name, "{e}");
                }
            }
            MachinedError::Refused { .. } => tracing::warn!(machine = %name, "{e}"),
        }
    }
}

/// Sorts a zbus error into absence (no bus, nobody owning machined's name) or a refusal.
fn classify(method: &'static str, name: &str, e: zbus::Error) -> MachinedError {
    if let zbus::Error::MethodError(err_name, msg, _) = &e {
        return classify_reply(
            method,
            name,
            err_name.as_str(),
            msg.as_deref().unwrap_or("no message"),
        );
    }
    match e {
        zbus::Error::InputOutput(_) | zbus::Error::Handshake(_) | zbus::Error::Address(_) => {
            MachinedError::Absent(format!("the system D-Bus failed ({e})"))
        }
        other => MachinedError::Refused {
            method,
            name: name.to_string(),
            message: other.to_string(),
        },
    }
}

/// [`classify`] for an error reply named `err_name`.
fn classify_reply(method: &'static str, name: &str, err_name: &str, msg: &str) -> MachinedError {
    // Nobody owns the name, or the bus could not start machined for us: its unit is masked
    // or missing (dbus-daemon answers FileExists for a unit that "failed to load properly"),
    // or the activation itself failed (Spawn.*).
    if matches!(
        err_name,
        "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner"
            | "org.freedesktop.DBus.Error.FileExists"
    ) || err_name.starts_with("org.freedesktop.DBus.Error.Spawn.")
    {
        return MachinedError::Absent(format!("{err_name}: {msg}"));
    }
    MachinedError::Refused {
        method,
        name: name.to_string(),
        message: format!("{err_name}: {msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::Hierarchies;

    #[test]
    fn classes_have_machineds_names() {
        assert_eq!(MachineClass::Vm.as_str(), "vm");
        assert_eq!(MachineClass::Container.as_str(), "container");
    }

    #[test]
    fn unified_only_hosts_do_not_register_when_the_driver_places_guests() {
        let v1 = Hierarchies::from_mountinfo(
            "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n",
        );
        assert_eq!(Placement::for_host(&v1, true), Placement::Register);
        let none = Hierarchies::from_mountinfo("");
        assert_eq!(Placement::for_host(&none, true), Placement::Register);
        // A writable unified hierarchy (a temp dir stands in for its mount point).
        let dir = tempfile::tempdir().expect("tempdir");
        let v2 = Hierarchies::V2(dir.path().to_path_buf());
        assert_eq!(Placement::for_host(&v2, true), Placement::UnifiedConflict);
        assert_eq!(Placement::for_host(&v2, false), Placement::Register);
    }

    #[test]
    fn activation_failures_mean_absent_and_machineds_own_errors_are_refusals() {
        let absent = |n: &str| {
            matches!(
                classify_reply("CreateMachineWithNetwork", "qemu-1-a", n, "m"),
                MachinedError::Absent(_)
            )
        };
        // A masked systemd-machined.service: the bus cannot activate it.
        assert!(absent("org.freedesktop.DBus.Error.FileExists"));
        assert!(absent("org.freedesktop.DBus.Error.ServiceUnknown"));
        assert!(absent("org.freedesktop.DBus.Error.Spawn.ChildExited"));
        assert!(!absent("org.freedesktop.machine1.MachineExists"));
        assert!(!absent("org.freedesktop.DBus.Error.AccessDenied"));
        let e = classify_reply(
            "CreateMachine",
            "qemu-1-a",
            "org.freedesktop.DBus.Error.AccessDenied",
            "no",
        );
        assert_eq!(
            e.to_string(),
            "systemd-machined refused CreateMachine for qemu-1-a: org.freedesktop.DBus.Error.AccessDenied: no"
        );
    }

    #[tokio::test]
    async fn without_a_bus_machined_is_absent_and_register_says_no() {
        // A bus address where nothing listens: the client reports absence, never hangs.
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("no-bus");
        std::env::set_var(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}", sock.display()),
        );
        let m = Machined::new("virtqemud");
        let machine = Machine {
            name: "qemu-1-demo".into(),
            uuid: [7; 16],
            class: MachineClass::Vm,
            leader: std::process::id(),
            root_directory: String::new(),
            ifindices: vec![],
        };
        let err = m.create(&machine).await.expect_err("no bus");
        assert!(matches!(err, MachinedError::Absent(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("systemd-machined is not available"),
            "{err}"
        );
        assert!(!m.register(&machine).await);
        m.unregister("qemu-1-demo").await;
    }
}
