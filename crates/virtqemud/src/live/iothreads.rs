//! IOThreads of the QEMU driver (libvirt: virDomainGetIOThreadInfo, virDomainPinIOThread,
//! virDomainAddIOThread, virDomainDelIOThread, virDomainSetIOThreadParams).
//!
//! A definition's IOThreads are QEMU objects `iothreadN` from the start (`command.rs`).
//! Live, `query-iothreads` gives each one's thread id: its affinity is read with
//! `sched_getaffinity` and pinned with `sched_setaffinity` (the live `<iothreadpin>` follows);
//! adding and removing one are `object-add` / `object-del` of the object (a removal in use by
//! a disk or controller is refused, as libvirt); its polling and pool parameters are
//! `qom-set` of the object's properties. CONFIG reads and changes use the persistent
//! definition; `iothreadset --config` is refused: this model keeps no per-IOThread
//! parameters.

use serde_json::json;
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::flags::modify::{CONFIG, LIVE};
use virt_core::kit::modify::{affect_exclusive, impact_read};
use virt_core::kit::table::Entry as _;
use virt_core::kit::tune::{format_bitmap, from_cpumap, parse_bitmap, to_cpumap, CPUMASK_LEN};
use virt_core::kit::typed_params::{self, ParamType};
use virt_core::model::DomainDef;
use virt_core::types::{DomainLookup, IoThreadInfo, TypedParam, TypedValue};
use virt_core::VirtError;

use super::pinning::{affinity, domain_set, map_len, set_pin};
use super::Active;
use crate::QemuDriver;

fn invalid_arg(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Qemu, detail.into())
}

fn not_running() -> VirtError {
    VirtError::operation_invalid("domain is not running")
}

/// The parameters virDomainSetIOThreadParams takes and the QOM properties they set.
const PARAMS: [(&str, ParamType, &str); 5] = [
    ("poll_max_ns", ParamType::ULLong, "poll-max-ns"),
    ("poll_grow", ParamType::UInt, "poll-grow"),
    ("poll_shrink", ParamType::UInt, "poll-shrink"),
    ("thread_pool_min", ParamType::Int, "thread-pool-min"),
    ("thread_pool_max", ParamType::Int, "thread-pool-max"),
];

/// `def` with IOThread `id` added.
fn add_id(def: &mut DomainDef, id: u32) {
    let mut ids = def.iothread_id_list();
    ids.push(id);
    def.iothreads = ids.len() as u32;
    def.iothread_ids = ids;
}

/// `def` without IOThread `id` (and its pin).
fn del_id(def: &mut DomainDef, id: u32) {
    let mut ids = def.iothread_id_list();
    ids.retain(|x| *x != id);
    def.iothreads = ids.len() as u32;
    def.iothread_ids = ids;
    def.cputune.iothreadpins.retain(|p| p.id != id);
}

/// libvirt's checks before adding IOThread `id` to `def`.
fn check_add(def: &DomainDef, id: u32) -> DriverResult<()> {
    if def.iothread_id_list().contains(&id) {
        return Err(invalid_arg(format!(
            "an IOThread is already using iothread_id '{id}'"
        )));
    }
    Ok(())
}

/// libvirt's checks before removing IOThread `id` from `def`.
fn check_del(def: &DomainDef, id: u32) -> DriverResult<()> {
    if !def.iothread_id_list().contains(&id) {
        return Err(invalid_arg(format!(
            "cannot find IOThread '{id}' in iothreadids list"
        )));
    }
    if let Some(d) = def
        .devices
        .disks
        .iter()
        .find(|d| d.driver.as_ref().and_then(|x| x.iothread) == Some(id))
    {
        return Err(invalid_arg(format!(
            "cannot remove IOThread {id} since it is being used by disk '{}'",
            d.target_dev
        )));
    }
    if def
        .devices
        .controllers
        .iter()
        .any(|c| c.driver_iothread == Some(id))
    {
        return Err(invalid_arg(format!(
            "cannot remove IOThread '{id}' since it is being used by controller"
        )));
    }
    Ok(())
}

fn zero_id() -> VirtError {
    invalid_arg("invalid value of 0 for iothread_id")
}

impl QemuDriver {
    /// (IOThread id, thread id) of the running QEMU.
    async fn iothread_tids(&self, a: &Active) -> DriverResult<Vec<(u32, i32)>> {
        let v = self.qmp(a, "query-iothreads", None).await?;
        // QEMU lists its objects newest first; by id, as the definition lists them.
        let mut out = crate::cputune::iothreads_of(&v);
        out.sort_unstable();
        Ok(out)
    }

    /// The live definition of the run `a`.
    fn live_def(&self, a: &Active) -> DriverResult<DomainDef> {
        self.with_run(&a.uuid, a.gen, |r| r.live.clone())
            .ok_or_else(not_running)
    }

    /// libvirt: virDomainGetIOThreadInfo.
    pub(crate) async fn qemu_iothread_info(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<IoThreadInfo>> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainGetIOThreadInfo")?;
        affect_exclusive(flags)?;
        let (_job, uuid) = self.job(lookup, "virDomainGetIOThreadInfo").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, def) = {
            let st = self.lock();
            let d = st.get(&lookup)?;
            (impact_read(&d.facts(), flags)?, d.def.clone())
        };
        let len = map_len();
        if live {
            let a = self.active(&uuid)?;
            return Ok(self
                .iothread_tids(&a)
                .await?
                .into_iter()
                .map(|(id, tid)| IoThreadInfo {
                    id,
                    cpumap: to_cpumap(&affinity(tid), len),
                })
                .collect());
        }
        def.iothread_id_list()
            .into_iter()
            .map(|id| {
                let set = match def.cputune.iothreadpins.iter().find(|p| p.id == id) {
                    Some(p) => parse_bitmap(&p.cpuset, CPUMASK_LEN)?,
                    None => domain_set(&def)?,
                };
                Ok(IoThreadInfo {
                    id,
                    cpumap: to_cpumap(&set, len),
                })
            })
            .collect()
    }

    /// libvirt: virDomainPinIOThread.
    pub(crate) async fn qemu_pin_iothread(
        &self,
        lookup: &DomainLookup,
        id: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainPinIOThread")?;
        let (_job, uuid) = self.job(lookup, "virDomainPinIOThread").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        let set = from_cpumap(cpumap);
        if set.is_empty() {
            return Err(invalid_arg("Empty iothread cpumap list for pinning"));
        }
        let cpuset = format_bitmap(&set);
        if live {
            let a = self.active(&uuid)?;
            if !self.live_def(&a)?.iothread_id_list().contains(&id) {
                return Err(invalid_arg(format!("iothread {id} not found")));
            }
            let tids = self.iothread_tids(&a).await?;
            let Some((_, tid)) = tids.iter().find(|(i, _)| *i == id) else {
                return Err(invalid_arg(format!("iothread {id} not found")));
            };
            crate::cputune::set_affinity(*tid, &cpuset)?;
            self.update_run(&uuid, a.gen, |r| {
                set_pin(&mut r.live.cputune.iothreadpins, id, &cpuset)
            });
        }
        if config {
            self.edit_config(&lookup, |def| {
                if !def.iothread_id_list().contains(&id) {
                    return Err(invalid_arg(format!("iothreadid {id} not found")));
                }
                set_pin(&mut def.cputune.iothreadpins, id, &cpuset);
                Ok(())
            })?;
        }
        Ok(())
    }

    /// libvirt: virDomainAddIOThread.
    pub(crate) async fn qemu_add_iothread(
        &self,
        lookup: &DomainLookup,
        id: u32,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainAddIOThread")?;
        if id == 0 {
            return Err(zero_id());
        }
        let (_job, uuid) = self.job(lookup, "virDomainAddIOThread").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        if config {
            check_add(&self.lock().get(&lookup)?.def, id)?;
        }
        if live {
            let a = self.active(&uuid)?;
            let def = self.live_def(&a)?;
            check_add(&def, id)?;
            self.qmp(
                &a,
                "object-add",
                Some(json!({ "qom-type": "iothread", "id": format!("iothread{id}") })),
            )
            .await?;
            // A new thread runs where the domain's vCPUs may (`<vcpu cpuset>`), as libvirt
            // sets it up.
            if let Some(cpuset) = &def.vcpu_cpuset {
                if let Some((_, tid)) = self
                    .iothread_tids(&a)
                    .await?
                    .into_iter()
                    .find(|(i, _)| *i == id)
                {
                    let set = parse_bitmap(cpuset, CPUMASK_LEN)?;
                    crate::cputune::set_affinity(tid, &format_bitmap(&set))?;
                }
            }
            self.update_run(&uuid, a.gen, |r| add_id(&mut r.live, id));
        }
        if config {
            self.edit_config(&lookup, |def| {
                check_add(def, id)?;
                add_id(def, id);
                Ok(())
            })?;
        }
        Ok(())
    }

    /// libvirt: virDomainDelIOThread.
    pub(crate) async fn qemu_del_iothread(
        &self,
        lookup: &DomainLookup,
        id: u32,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainDelIOThread")?;
        if id == 0 {
            return Err(zero_id());
        }
        let (_job, uuid) = self.job(lookup, "virDomainDelIOThread").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        if config {
            check_del(&self.lock().get(&lookup)?.def, id)?;
        }
        if live {
            let a = self.active(&uuid)?;
            check_del(&self.live_def(&a)?, id)?;
            self.qmp(
                &a,
                "object-del",
                Some(json!({ "id": format!("iothread{id}") })),
            )
            .await?;
            self.update_run(&uuid, a.gen, |r| del_id(&mut r.live, id));
        }
        if config {
            self.edit_config(&lookup, |def| {
                check_del(def, id)?;
                del_id(def, id);
                Ok(())
            })?;
        }
        Ok(())
    }

    /// libvirt: virDomainSetIOThreadParams (live only here: see the module doc).
    pub(crate) async fn qemu_set_iothread_params(
        &self,
        lookup: &DomainLookup,
        id: u32,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainSetIOThreadParams")?;
        let types: Vec<(&str, ParamType)> = PARAMS.iter().map(|(n, t, _)| (*n, *t)).collect();
        typed_params::validate(params, &types, ErrorDomain::Qemu)?;
        let (_job, uuid) = self.job(lookup, "virDomainSetIOThreadParams").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        if config {
            return Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::Qemu,
                "IOThread parameters cannot be stored in the persistent definition by this driver"
                    .to_string(),
            ));
        }
        if !live {
            return Ok(());
        }
        let a = self.active(&uuid)?;
        if !self.live_def(&a)?.iothread_id_list().contains(&id) {
            return Err(invalid_arg(format!(
                "cannot find IOThread '{id}' in iothreadids"
            )));
        }
        for p in params {
            let Some((_, _, prop)) = PARAMS.iter().find(|(n, _, _)| *n == p.field) else {
                continue;
            };
            let value = match &p.value {
                TypedValue::ULLong(v) => json!(v),
                TypedValue::UInt(v) => json!(v),
                TypedValue::Int(v) => json!(v),
                _ => continue,
            };
            self.qmp(
                &a,
                "qom-set",
                Some(json!({
                    "path": format!("/objects/iothread{id}"),
                    "property": prop,
                    "value": value,
                })),
            )
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_added_and_removed_with_their_pins() {
        let mut def = DomainDef {
            iothreads: 2,
            ..DomainDef::default()
        };
        add_id(&mut def, 5);
        assert_eq!(def.iothread_id_list(), vec![1, 2, 5]);
        assert!(check_add(&def, 5).is_err());
        set_pin(&mut def.cputune.iothreadpins, 2, "0");
        del_id(&mut def, 2);
        assert_eq!(def.iothread_id_list(), vec![1, 5]);
        assert!(def.cputune.iothreadpins.is_empty());
        assert_eq!(
            check_del(&def, 7).expect_err("unknown").to_string(),
            "invalid argument: cannot find IOThread '7' in iothreadids list"
        );
    }
}
