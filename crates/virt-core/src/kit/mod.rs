//! The driver kit: libvirt's rules that are not one hypervisor's, written once for every
//! driver (the test driver, virtqemud, and the LXC and Xen daemons to come).
//!
//! A driver crate keeps what only its hypervisor needs (how to start a guest, how to read its
//! statistics); what libvirt decides the same way for every driver lives here:
//!
//! - [`flags`]: the flag bits of every call, taken from the proto's enums (no hand-written
//!   numbers), with the masks each call accepts;
//! - [`list`]: virConnectListAllDomains' filter (groups AND-ed, bits within a group OR-ed);
//! - [`modify`]: modification impact (CURRENT resolved against the domain's state, LIVE on an
//!   inactive domain, CONFIG on a transient one) and the vCPU-count argument rules;
//! - [`console`]: virDomainOpenConsole's device names and session rules;
//! - [`devices`]: a device by the name a per-device call is given (interface by MAC or
//!   host device, disk by target or source);
//! - [`locate`]: the XPath an error without one is reported at;
//! - [`metadata`]: virDomainGetMetadata / virDomainSetMetadata on a definition;
//! - [`stats`]: the bulk-stats flag masks and the `state` group every driver fills the same way;
//! - [`undefine`]: virDomainUndefineFlags' flag rules;
//! - [`save`]: the state a save image restores to (SAVE_RUNNING / SAVE_PAUSED);
//! - [`store`]: persistent definitions on disk (`CONFIG/DRIVER/NAME.xml`, autostart links);
//! - [`typed_params`]: the typed parameters a set call accepts (virTypedParamsValidate's
//!   errors) and libvirt's memory and scheduler parameter names;
//! - [`table`]: the domains of a driver in memory, by UUID and name: lookups, the identity
//!   rules of a define, the list;
//! - [`keycodes`]: virDomainSendKey's code sets, key names and the codes each set has;
//! - [`keeper`]: define, its validation, undefine and a stored definition's edit, disk before
//!   memory, with their lifecycle events;
//! - [`cpu_map`]: libvirt's CPU map: model names of an architecture, baseline CPUs;
//! - [`record`]: the record of one domain for drivers that keep nothing beyond the common
//!   facts and their own run state (LXC, Xen).
//!
//! Each rule takes plain facts (is the domain active, persistent, ...), not a driver's own
//! domain type, so a driver adopts it by describing its domain, not by sharing a struct.

pub mod console;
pub mod cpu_map;
pub mod devices;
pub mod flags;
pub mod guest;
pub mod keeper;
pub mod keycodes;
pub mod list;
pub mod locate;
pub mod metadata;
pub mod modify;
pub mod qemu_monitor;
pub mod record;
pub mod save;
pub mod stats;
pub mod store;
pub mod table;
pub mod tune;
pub mod typed_params;
pub mod undefine;

/// What the shared rules need to know of one domain.
#[derive(Debug, Clone, Copy)]
pub struct DomainFacts<'a> {
    /// The domain's name (errors name the object).
    pub name: &'a str,
    /// Its UUID.
    pub uuid: crate::uuid::Uuid,
    /// Its state and reason.
    pub state: crate::state::StateReason,
    /// It is active (running, paused, or in any state but shut off).
    pub active: bool,
    /// It has a persistent definition.
    pub persistent: bool,
    /// Autostart is set.
    pub autostart: bool,
    /// It has a managed-save image.
    pub managed_save: bool,
    /// It has snapshots.
    pub has_snapshot: bool,
    /// It has checkpoints.
    pub has_checkpoint: bool,
}

impl DomainFacts<'_> {
    /// Running, paused or otherwise not shut off.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// OPERATION_INVALID "domain is not running" naming the domain (libvirt's words).
    pub fn not_running(&self) -> crate::VirtError {
        crate::VirtError::operation_invalid("domain is not running")
            .with_object(self.name, self.uuid.to_string())
    }
}
