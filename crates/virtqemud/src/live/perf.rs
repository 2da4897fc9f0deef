//! Perf events of real guests (libvirt: virDomainGet/SetPerfEvents, `<perf><event>`), as
//! libvirt's virPerfEventEnable does it: `perf_event_open` on QEMU's pid (all its threads,
//! `inherit`, any CPU), then PERF_EVENT_IOC_ENABLE; the daemon holds the descriptor while the
//! event is on and closes it to turn it off. Hardware events need the host's CPU PMU, the
//! cmt/mbmt/mbml events Intel's RDT (`/sys/devices/intel_cqm/type`); where the host lacks them
//! the open fails with libvirt's "unable to open host cpu perf event for NAME".
//!
//! A start turns on the definition's enabled events (a failure fails the start); LIVE reads
//! answer from the descriptors held (virPerfEventIsEnabled), so after a daemon restart, which
//! drops them, the events read as off. CONFIG edits the persistent definition.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock};

use nix::libc;
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::flags::modify::{CONFIG, LIVE};
use virt_core::kit::flags::typed_param::STRING_OKAY;
use virt_core::kit::modify::{affect_exclusive, impact_read};
use virt_core::kit::table::Entry as _;
use virt_core::kit::tune as rules;
use virt_core::kit::typed_params;
use virt_core::model::DomainDef;
use virt_core::types::{DomainLookup, TypedParam, TypedValue};
use virt_core::VirtError;

use crate::QemuDriver;

const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_TYPE_SOFTWARE: u32 = 1;
/// PERF_EVENT_IOC_ENABLE (`_IO('$', 0)`).
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
/// PERF_ATTR_SIZE_VER7.
const ATTR_SIZE: u64 = 128;

/// The open events of each running domain (by domain id).
fn open_events() -> &'static Mutex<HashMap<u32, BTreeMap<String, OwnedFd>>> {
    static EVENTS: OnceLock<Mutex<HashMap<u32, BTreeMap<String, OwnedFd>>>> = OnceLock::new();
    EVENTS.get_or_init(Default::default)
}

/// The perf type and config of a libvirt event name (virPerfEventAttr).
fn attr_of(name: &str) -> Result<(u32, u64), std::io::Error> {
    let hw = |c| Ok((PERF_TYPE_HARDWARE, c));
    let sw = |c| Ok((PERF_TYPE_SOFTWARE, c));
    match name {
        "cmt" | "mbmt" | "mbml" => {
            let t = std::fs::read_to_string("/sys/devices/intel_cqm/type")?;
            let t = t
                .trim()
                .parse()
                .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
            Ok((
                t,
                [1, 2, 3][["cmt", "mbmt", "mbml"]
                    .iter()
                    .position(|n| *n == name)
                    .unwrap_or(0)],
            ))
        }
        "cpu_cycles" => hw(0),
        "instructions" => hw(1),
        "cache_references" => hw(2),
        "cache_misses" => hw(3),
        "branch_instructions" => hw(4),
        "branch_misses" => hw(5),
        "bus_cycles" => hw(6),
        "stalled_cycles_frontend" => hw(7),
        "stalled_cycles_backend" => hw(8),
        "ref_cpu_cycles" => hw(9),
        "cpu_clock" => sw(0),
        "task_clock" => sw(1),
        "page_faults" => sw(2),
        "context_switches" => sw(3),
        "cpu_migrations" => sw(4),
        "page_faults_min" => sw(5),
        "page_faults_maj" => sw(6),
        "alignment_faults" => sw(7),
        "emulation_faults" => sw(8),
        _ => Err(std::io::Error::from_raw_os_error(libc::EINVAL)),
    }
}

fn system_error(what: String, e: std::io::Error) -> VirtError {
    VirtError::new(
        ErrorCode::SystemError,
        ErrorDomain::None,
        format!("{what}: {e}"),
    )
}

/// perf_event_open(attr, pid, cpu -1, no group, no flags), then enable.
fn open_event(name: &str, pid: i32) -> DriverResult<OwnedFd> {
    let (kind, config) = attr_of(name)
        .map_err(|e| system_error(format!("unable to open host cpu perf event for {name}"), e))?;
    // struct perf_event_attr: type and size, config, ..., the flag bits at byte 40
    // (disabled = bit 0, inherit = bit 1).
    let mut attr = [0u64; (ATTR_SIZE / 8) as usize];
    attr[0] = u64::from(kind) | (ATTR_SIZE << 32);
    attr[1] = config;
    attr[5] = 0b11;
    // SAFETY: attr is a zeroed perf_event_attr of the size it declares; the syscall only
    // reads it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            pid,
            -1 as libc::c_int,
            -1 as libc::c_int,
            0 as libc::c_ulong,
        )
    };
    if fd < 0 {
        return Err(system_error(
            format!("unable to open host cpu perf event for {name}"),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: the syscall returned a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: an ioctl without argument on a perf descriptor we own.
    if unsafe { libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_ENABLE as _, 0) } < 0 {
        return Err(system_error(
            format!("unable to enable host cpu perf event for {name}"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(fd)
}

/// Turns events on or off for domain `id` (QEMU `pid`); the first failure stops.
fn switch(id: u32, pid: i32, params: &[TypedParam]) -> DriverResult<()> {
    let mut all = open_events().lock().unwrap_or_else(|e| e.into_inner());
    let mine = all.entry(id).or_default();
    for p in params {
        let TypedValue::Bool(on) = p.value else {
            continue;
        };
        if !on {
            mine.remove(&p.field);
        } else if !mine.contains_key(&p.field) {
            let fd = open_event(&p.field, pid)?;
            mine.insert(p.field.clone(), fd);
        }
    }
    Ok(())
}

/// Closes the events of a stopped domain.
pub(crate) fn forget(id: u32) {
    open_events()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
}

/// Turns on a starting domain's enabled `<perf>` events.
pub(crate) fn start(id: u32, pid: i32, def: &DomainDef) -> DriverResult<()> {
    let params: Vec<TypedParam> = def
        .perf_events
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| TypedParam::new(n.as_str(), TypedValue::Bool(true)))
        .collect();
    switch(id, pid, &params)
}

/// The events as libvirt reports them live: on where a descriptor is held.
fn live_params(id: u32) -> Vec<TypedParam> {
    let all = open_events().lock().unwrap_or_else(|e| e.into_inner());
    let mine = all.get(&id);
    rules::PERF_EVENTS
        .iter()
        .map(|e| {
            TypedParam::new(
                *e,
                TypedValue::Bool(mine.is_some_and(|m| m.contains_key(*e))),
            )
        })
        .collect()
}

impl QemuDriver {
    /// libvirt: virDomainGetPerfEvents.
    pub(crate) fn qemu_perf_events(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        affect_exclusive(flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "qemuDomainGetPerfEvents",
        )?;
        let st = self.lock();
        let d = st.get(lookup)?;
        let live = impact_read(&d.facts(), flags & (LIVE | CONFIG))?;
        match (&d.run, live) {
            (Some(r), true) => Ok(live_params(r.id)),
            _ => Ok(rules::perf_params(&d.def)),
        }
    }

    /// libvirt: virDomainSetPerfEvents.
    pub(crate) async fn qemu_set_perf_events(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainSetPerfEvents")?;
        typed_params::validate(params, &rules::perf_types(), ErrorDomain::Qemu)?;
        let (_job, uuid) = self.job(lookup, "virDomainSetPerfEvents").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        if live {
            let a = self.active(&uuid)?;
            let (id, pid) = self
                .with_run(&uuid, a.gen, |r| (r.id, r.proc.pid().pid))
                .ok_or_else(|| {
                    VirtError::new(
                        ErrorCode::OperationInvalid,
                        ErrorDomain::Qemu,
                        "domain is not running",
                    )
                })?;
            let result = switch(id, pid, params);
            // The live definition follows what is on, also after a partial failure.
            let now = live_params(id);
            self.update_run(&uuid, a.gen, |r| {
                for p in &now {
                    if let TypedValue::Bool(on) = p.value {
                        let was = r.live.perf_events.iter().any(|(n, _)| *n == p.field);
                        if on || was {
                            match r.live.perf_events.iter_mut().find(|(n, _)| *n == p.field) {
                                Some(e) => e.1 = on,
                                None => r.live.perf_events.push((p.field.clone(), on)),
                            }
                        }
                    }
                }
            });
            result?;
        }
        if config {
            self.edit_config(&lookup, |def| {
                rules::apply_perf(def, params);
                Ok(())
            })?;
        }
        Ok(())
    }
}
