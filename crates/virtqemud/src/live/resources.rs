//! The `Resources` capability of the QEMU driver: memory and vCPU counts (balloon, vCPU
//! hotplug, the persistent definition) with the driver kit's modification-impact rules, and
//! device attach / detach (the QMP work is in `hotplug.rs`).

use std::time::Duration;
use virt_core::kit::flags::typed_param::STRING_OKAY;
use virt_core::kit::table::Entry as _;

use serde_json::{json, Value};
use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::devices::Disk;
use virt_core::types::{DomainLookup, TypedParam};
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use super::hotplug::{disk_alias, missing, net_alias, Device};
use super::start::has_balloon;
use crate::QemuDriver;

use virt_core::kit::flags::modify::{CONFIG, GUEST, HOTPLUGGABLE, LIVE, MAXIMUM};
use virt_core::kit::modify::{impact, set_vcpus_args, Impact};

/// How long a detach waits for DEVICE_DELETED (libvirt's 5 s).
pub(crate) const UNPLUG_WAIT: Duration = Duration::from_secs(5);

fn invalid(detail: impl Into<String>) -> VirtError {
    VirtError::operation_invalid(detail.into())
}

fn invalid_arg(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Qemu, detail.into())
}

impl QemuDriver {
    /// The driver kit's modification impact for the domain `lookup` names.
    pub(super) fn impact(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<(bool, bool)> {
        let st = self.lock();
        let Impact { live, config } = impact(&st.get(lookup)?.facts(), flags)?;
        Ok((live, config))
    }

    /// Hot-adds vCPUs until the running domain has `count`: one `device_add` per free slot of
    /// `query-hotpluggable-cpus` (lowest socket/core/thread first, ids `vcpuN` as libvirt),
    /// then the vCPU threads are re-read and the status saved.
    async fn hotplug_vcpus(&self, uuid: &Uuid, count: u32) -> DriverResult<()> {
        let a = self.active(uuid)?;
        let (max, current) = {
            let st = self.lock();
            let r = st
                .by_uuid
                .get(uuid)
                .and_then(|d| d.run.as_ref())
                .ok_or_else(|| invalid("domain is not running"))?;
            let max = r.live.vcpus.max(1);
            let cur = if r.live.current_vcpus == 0 {
                max
            } else {
                r.live.current_vcpus
            };
            (max, cur)
        };
        if count > max {
            return Err(invalid_arg(format!(
                "requested vcpus is greater than max allowable vcpus for the live domain: {count} > {max}"
            )));
        }
        if count < current {
            return Err(VirtError::new(
                ErrorCode::OperationUnsupported,
                ErrorDomain::Qemu,
                format!(
                    "removing vCPUs from a running domain ({current} -> {count}) is not \
                     supported by virtqemud yet; use --config and restart the domain"
                ),
            ));
        }
        if count > current {
            let slots = self.qmp(&a, "query-hotpluggable-cpus", None).await?;
            let mut free: Vec<&Value> = slots
                .as_array()
                .map(|v| v.iter().filter(|s| s.get("qom-path").is_none()).collect())
                .unwrap_or_default();
            let key = |s: &Value, k: &str| {
                s.get("props")
                    .and_then(|p| p.get(k))
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            };
            free.sort_by_key(|s| {
                (
                    key(s, "socket-id"),
                    key(s, "die-id"),
                    key(s, "core-id"),
                    key(s, "thread-id"),
                )
            });
            let needed = (count - current) as usize;
            if free.len() < needed {
                return Err(invalid(format!(
                    "QEMU offers {} free vCPU slots, {needed} needed",
                    free.len()
                )));
            }
            for (i, slot) in free.iter().take(needed).enumerate() {
                let mut args = serde_json::Map::new();
                let driver = slot
                    .get("type")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("query-hotpluggable-cpus: a slot without a type"))?;
                args.insert("driver".into(), json!(driver));
                args.insert("id".into(), json!(format!("vcpu{}", current as usize + i)));
                if let Some(props) = slot.get("props").and_then(Value::as_object) {
                    for (k, v) in props {
                        args.insert(k.clone(), v.clone());
                    }
                }
                self.qmp(&a, "device_add", Some(Value::Object(args)))
                    .await?;
            }
        }
        let cpus = self.qmp(&a, "query-cpus-fast", None).await?;
        let vcpus = super::start::vcpus_of(&cpus);
        self.update_run(uuid, a.gen, |r| {
            r.vcpus = vcpus;
            r.live.current_vcpus = count;
        });
        Ok(())
    }
}

#[async_trait::async_trait]
impl Resources for QemuDriver {
    // The guest's view of its vCPUs (issue 15, vq group): the work is in `guest.rs`.

    async fn guest_vcpus(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.qemu_guest_vcpus(lookup, flags).await
    }

    async fn set_guest_vcpus(
        &self,
        lookup: &DomainLookup,
        cpumap: &str,
        state: bool,
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_guest_vcpus(lookup, cpumap, state, flags)
            .await
    }

    /// libvirt: virDomainSetVcpu, on what this driver's definitions express: vCPUs
    /// 0..current-1 online. Enabling the vCPUs that follow them hot-adds them (live, as
    /// setvcpus does) and/or raises the persistent current count; disabling the last ones
    /// lowers the persistent count (removing vCPUs from a running guest is not implemented,
    /// as for setvcpus). A change that would leave a gap is OPERATION_UNSUPPORTED.
    async fn set_vcpu(
        &self,
        lookup: &DomainLookup,
        vcpumap: &str,
        state: bool,
        flags: u32,
    ) -> DriverResult<()> {
        use virt_core::kit::tune::{format_bitmap, parse_bitmap};
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainSetVcpu")?;
        // libvirt's QEMU_GUEST_VCPU_MAX_ID.
        let map = parse_bitmap(vcpumap, 4096)?;
        let Some(&last) = map.iter().next_back() else {
            return Err(invalid_arg("no vcpus selected for modification"));
        };
        let (_job, uuid) = self.job(lookup, "virDomainSetVcpu").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        let counts = |def: &virt_core::model::DomainDef| {
            let max = def.vcpus.max(1);
            let cur = if def.current_vcpus == 0 {
                max
            } else {
                def.current_vcpus
            };
            (max, cur)
        };
        let (live_counts, config_counts) = {
            let st = self.lock();
            let d = st.get(&lookup)?;
            (d.run.as_ref().map(|r| counts(&r.live)), counts(&d.def))
        };
        if config && last >= config_counts.0 {
            return Err(invalid_arg(format!(
                "vcpu {last} is not present in persistent config"
            )));
        }
        if let Some((max, _)) = live_counts.filter(|_| live) {
            if last >= max {
                return Err(invalid_arg(format!(
                    "vcpu {last} is not present in live config"
                )));
            }
        }
        if map.contains(&0) {
            return Err(invalid_arg("vCPU '0' can't be modified"));
        }
        // The online count after the change, when the online vCPUs stay 0..N-1.
        let after = |cur: u32| -> DriverResult<u32> {
            let mut online: std::collections::BTreeSet<u32> = (0..cur).collect();
            if state {
                online.extend(map.iter().copied());
            } else {
                online.retain(|v| !map.contains(v));
            }
            let n = online.len() as u32;
            if online.iter().copied().eq(0..n) {
                Ok(n)
            } else {
                Err(VirtError::new(
                    ErrorCode::OperationUnsupported,
                    ErrorDomain::Qemu,
                    format!(
                        "vCPUs '{}' cannot be {} alone: virtqemud keeps vCPUs 0 to N-1 online",
                        format_bitmap(&map),
                        if state { "enabled" } else { "disabled" }
                    ),
                ))
            }
        };
        let live_target = match live_counts.filter(|_| live) {
            Some((_, cur)) => Some(after(cur)?),
            None => None,
        };
        let config_target = if config {
            Some(after(config_counts.1)?)
        } else {
            None
        };
        if let Some(n) = live_target {
            self.hotplug_vcpus(&uuid, n).await?;
        }
        if let Some(n) = config_target {
            self.edit_config(&lookup, |def| {
                virt_core::kit::modify::set_vcpus_config(def, n, false)
            })?;
        }
        Ok(())
    }

    // Block jobs (issue 15, qemu group): the work is in `blockjob.rs`.

    async fn block_pull(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        bandwidth: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.do_block_pull(lookup, disk, bandwidth, flags).await
    }

    async fn block_rebase(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        base: &str,
        bandwidth: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.do_block_rebase(lookup, disk, base, bandwidth, flags)
            .await
    }

    async fn block_commit(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        base: &str,
        top: &str,
        bandwidth: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.do_block_commit(lookup, disk, base, top, bandwidth, flags)
            .await
    }

    async fn block_copy(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        dest_xml: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.do_block_copy(lookup, disk, dest_xml, params, flags)
            .await
    }

    async fn block_job_info(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<Option<virt_core::types::BlockJobInfo>> {
        self.do_block_job_info(lookup, disk, flags).await
    }

    async fn block_job_abort(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.do_block_job_abort(lookup, disk, flags).await
    }

    async fn block_job_set_speed(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        bandwidth: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.do_block_job_set_speed(lookup, disk, bandwidth, flags)
            .await
    }

    async fn block_resize(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        size: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.do_block_resize(lookup, disk, size, flags).await
    }

    /// libvirt: virDomainSetMemoryFlags. LIVE sets the balloon target (the guest follows,
    /// BALLOON_CHANGE reports it); CONFIG edits `<currentMemory>`, with MAXIMUM `<memory>`.
    async fn set_domain_memory(
        &self,
        lookup: &DomainLookup,
        kib: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG | MAXIMUM, "qemuDomainSetMemoryFlags")?;
        let (_job, uuid) = self.job(lookup, "virDomainSetMemoryFlags").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        if flags & MAXIMUM != 0 {
            if live {
                return Err(invalid(
                    "cannot resize the maximum memory on an active domain",
                ));
            }
            return self.edit_config(&lookup, |def| {
                virt_core::kit::modify::set_memory_config(def, kib, true)
            });
        }
        if live {
            let a = self.active(&uuid)?;
            let (max, balloon) = {
                let st = self.lock();
                let r = st
                    .get(&lookup)?
                    .run
                    .as_ref()
                    .map(|r| (r.live.memory_kib, has_balloon(&r.live)));
                r.unwrap_or((0, false))
            };
            if kib > max {
                return Err(invalid_arg("cannot set memory higher than max memory"));
            }
            if !balloon {
                return Err(invalid(
                    "Unable to change memory of active domain without the balloon device and guest OS balloon driver",
                ));
            }
            self.qmp(&a, "balloon", Some(json!({ "value": kib * 1024 })))
                .await?;
            self.update_run(&uuid, a.gen, |r| r.live.current_memory_kib = kib);
        }
        if config {
            self.edit_config(&lookup, |def| {
                virt_core::kit::modify::set_memory_config(def, kib, false)
            })?;
        }
        Ok(())
    }

    /// libvirt: virDomainSetVcpusFlags. LIVE adds vCPUs by hotplug (`device_add` of the
    /// slots `query-hotpluggable-cpus` offers, as libvirt); removing them from a running
    /// domain is not implemented (OPERATION_UNSUPPORTED).
    async fn set_domain_vcpus(
        &self,
        lookup: &DomainLookup,
        count: u32,
        flags: u32,
    ) -> DriverResult<()> {
        set_vcpus_args(count, flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | MAXIMUM | GUEST | HOTPLUGGABLE,
            "qemuDomainSetVcpusFlags",
        )?;
        let (_job, uuid) = self.job(lookup, "virDomainSetVcpusFlags").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        if flags & GUEST != 0 {
            return Err(VirtError::new(
                ErrorCode::OperationUnsupported,
                ErrorDomain::Qemu,
                "setting the guest's vCPU count through the guest agent is not supported",
            ));
        }
        if live {
            if flags & MAXIMUM != 0 {
                return Err(invalid(
                    "cannot change the maximum vCPU count of an active domain",
                ));
            }
            self.hotplug_vcpus(&uuid, count).await?;
        }
        if !config {
            return Ok(());
        }
        self.edit_config(&lookup, |def| {
            virt_core::kit::modify::set_vcpus_config(def, count, flags & MAXIMUM != 0)
        })
    }

    /// libvirt: virDomainGetVcpusFlags.
    /// No domain here has `<launchSecurity>` (it is refused at define: no SEV/TDX host
    /// support), so every domain has no launch security parameters, as libvirt's QEMU
    /// driver answers for such a domain.
    async fn launch_security_info(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.check_flags(flags, STRING_OKAY, "qemuDomainGetLaunchSecurityInfo")?;
        self.lock().read_def(lookup, 0)?;
        Ok(Vec::new())
    }

    async fn domain_vcpus(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<u32> {
        self.check_flags(
            flags,
            LIVE | CONFIG | MAXIMUM | GUEST,
            "qemuDomainGetVcpusFlags",
        )?;
        self.lock().vcpus(lookup, flags)
    }

    async fn memory_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.qemu_memory_parameters(lookup, flags)
    }

    async fn set_memory_parameters(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_memory_parameters(lookup, params, flags).await
    }

    async fn block_io_tune(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.qemu_block_io_tune(lookup, disk, flags).await
    }

    async fn set_block_io_tune(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_block_io_tune(lookup, disk, params, flags)
            .await
    }

    async fn set_lifecycle_action(
        &self,
        lookup: &DomainLookup,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_lifecycle_action(lookup, kind, action, flags)
            .await
    }

    async fn blkio_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.qemu_blkio_parameters(lookup, flags)
    }

    async fn set_blkio_parameters(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_blkio_parameters(lookup, params, flags).await
    }

    async fn numa_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.qemu_numa_parameters(lookup, flags)
    }

    async fn set_numa_parameters(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_numa_parameters(lookup, params, flags).await
    }

    async fn interface_parameters(
        &self,
        lookup: &DomainLookup,
        device: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.qemu_interface_parameters(lookup, device, flags)
    }

    async fn set_interface_parameters(
        &self,
        lookup: &DomainLookup,
        device: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_interface_parameters(lookup, device, params, flags)
            .await
    }

    async fn perf_events(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.qemu_perf_events(lookup, flags)
    }

    async fn set_perf_events(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_perf_events(lookup, params, flags).await
    }

    async fn iothread_info(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<virt_core::types::IoThreadInfo>> {
        self.qemu_iothread_info(lookup, flags).await
    }

    async fn pin_iothread(
        &self,
        lookup: &DomainLookup,
        id: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_pin_iothread(lookup, id, cpumap, flags).await
    }

    async fn add_iothread(&self, lookup: &DomainLookup, id: u32, flags: u32) -> DriverResult<()> {
        self.qemu_add_iothread(lookup, id, flags).await
    }

    async fn del_iothread(&self, lookup: &DomainLookup, id: u32, flags: u32) -> DriverResult<()> {
        self.qemu_del_iothread(lookup, id, flags).await
    }

    async fn set_iothread_params(
        &self,
        lookup: &DomainLookup,
        id: u32,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_iothread_params(lookup, id, params, flags)
            .await
    }

    async fn scheduler_type(&self, lookup: &DomainLookup) -> DriverResult<(String, i32)> {
        self.qemu_scheduler_type(lookup)
    }

    async fn scheduler_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.qemu_scheduler_parameters(lookup, flags)
    }

    async fn set_scheduler_parameters(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_scheduler_parameters(lookup, params, flags)
            .await
    }

    /// libvirt: virDomainAttachDeviceFlags.
    async fn attach_device(
        &self,
        lookup: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainAttachDeviceFlags")?;
        let dev = self.parse_device(xml)?;
        let (_job, uuid) = self.job(lookup, "virDomainAttachDeviceFlags").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        if live {
            let a = self.active(&uuid)?;
            match &dev {
                Device::Disk(d) => self.hotplug_disk(&a, d).await?,
                Device::Net(i) => self.hotplug_net(&a, i).await?,
            }
        }
        if config {
            self.edit_persistent(&lookup, |def| {
                match &dev {
                    Device::Disk(d) => {
                        if def
                            .devices
                            .disks
                            .iter()
                            .any(|x| x.target_dev == d.target_dev)
                        {
                            return Err(VirtError::operation_invalid(format!(
                                "target {} already exists",
                                d.target_dev
                            )));
                        }
                        def.devices.disks.push((**d).clone());
                    }
                    Device::Net(i) => def.devices.interfaces.push((**i).clone()),
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// libvirt: virDomainDetachDeviceFlags / virDomainDetachDeviceAlias. `Ok(true)` when the
    /// device is gone by the time the call returns.
    async fn detach_device(
        &self,
        lookup: &DomainLookup,
        xml: &str,
        alias: &str,
        flags: u32,
    ) -> DriverResult<bool> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainDetachDeviceFlags")?;
        let dev = if xml.is_empty() {
            None
        } else {
            Some(self.parse_device(xml)?)
        };
        let (_job, uuid) = self.job(lookup, "virDomainDetachDeviceFlags").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        let matches_disk = |x: &Disk| match &dev {
            Some(Device::Disk(d)) => x.target_dev == d.target_dev,
            None => disk_alias(x).as_deref() == Some(alias),
            _ => false,
        };
        let mut gone = true;
        if live {
            let a = self.active(&uuid)?;
            let def = self
                .with_run(&a.uuid, a.gen, |r| r.live.clone())
                .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
            let target = if let Some(d) = def.devices.disks.iter().find(|x| matches_disk(x)) {
                disk_alias(d).map(|al| (al, true))
            } else {
                def.devices
                    .interfaces
                    .iter()
                    .find(|x| match &dev {
                        Some(Device::Net(i)) => i.mac.is_some() && x.mac == i.mac,
                        None => net_alias(&def, x) == alias,
                        _ => false,
                    })
                    .map(|x| (net_alias(&def, x), false))
            };
            let Some((al, _is_disk)) = target else {
                return Err(missing(xml, alias));
            };
            gone = self.unplug(&a, &al).await?;
        }
        if config {
            self.edit_persistent(&lookup, |def| {
                let before = def.devices.disks.len() + def.devices.interfaces.len();
                def.devices.disks.retain(|x| !matches_disk(x));
                let snapshot = def.clone();
                def.devices.interfaces.retain(|x| match &dev {
                    Some(Device::Net(i)) => !(i.mac.is_some() && x.mac == i.mac),
                    None => net_alias(&snapshot, x) != alias,
                    _ => true,
                });
                if def.devices.disks.len() + def.devices.interfaces.len() == before {
                    return Err(missing(xml, alias));
                }
                Ok(())
            })?;
        }
        Ok(gone)
    }

    /// libvirt: virDomainUpdateDeviceFlags, for what virtqemud can change in place: the
    /// medium of a CD-ROM or floppy (eject, insert, change). Live: QMP opens the tray
    /// (forced with FORCE), removes the medium and its nodes, adds the new image's storage
    /// and format nodes and inserts them, and closes the tray; the live XML follows.
    async fn update_device(
        &self,
        lookup: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(
            flags,
            LIVE | CONFIG | MAXIMUM,
            "qemuDomainUpdateDeviceFlags",
        )?;
        let force = flags & MAXIMUM != 0;
        let Device::Disk(new) = self.parse_device(xml)? else {
            return Err(VirtError::new(
                ErrorCode::OperationUnsupported,
                ErrorDomain::Qemu,
                "live update of device 'net' is not supported",
            ));
        };
        let (_job, uuid) = self.job(lookup, "virDomainUpdateDeviceFlags").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags & (LIVE | CONFIG))?;
        let removable = |d: &Disk| {
            matches!(
                d.device,
                virt_core::model::enums::DiskDevice::Cdrom
                    | virt_core::model::enums::DiskDevice::Floppy
            )
        };
        let not_found = || {
            VirtError::new(
                ErrorCode::OperationFailed,
                ErrorDomain::Qemu,
                format!("disk '{}' not found", new.target_dev),
            )
        };
        let cannot = |d: &Disk| {
            VirtError::new(
                ErrorCode::OperationUnsupported,
                ErrorDomain::Qemu,
                format!("disk device '{}' cannot be updated", d.device),
            )
        };
        if live {
            let a = self.active(&uuid)?;
            let old = self
                .with_run(&a.uuid, a.gen, |r| {
                    r.live
                        .devices
                        .disks
                        .iter()
                        .find(|d| d.target_dev == new.target_dev)
                        .cloned()
                })
                .flatten()
                .ok_or_else(not_found)?;
            if !removable(&old) {
                return Err(cannot(&old));
            }
            let id = old.alias.clone().ok_or_else(not_found)?;
            self.change_medium(&a, &id, &new, force).await?;
            self.update_run(&a.uuid, a.gen, |r| {
                if let Some(d) = r
                    .live
                    .devices
                    .disks
                    .iter_mut()
                    .find(|d| d.target_dev == new.target_dev)
                {
                    d.source = new.source.clone();
                    d.disk_type = new.disk_type;
                }
            });
        }
        if config {
            self.edit_persistent(&lookup, |def| {
                let d = def
                    .devices
                    .disks
                    .iter_mut()
                    .find(|d| d.target_dev == new.target_dev)
                    .ok_or_else(not_found)?;
                if !removable(d) {
                    return Err(cannot(d));
                }
                d.source = new.source.clone();
                d.disk_type = new.disk_type;
                Ok(())
            })?;
        }
        Ok(())
    }

    // --- vCPU / emulator affinity and CPU statistics (issue 15, "tune"): `pinning.rs`. ---

    async fn vcpu_info(&self, l: &DomainLookup) -> DriverResult<Vec<virt_core::types::VcpuInfo>> {
        self.qemu_vcpu_info(l)
    }

    async fn vcpu_pin_info(&self, l: &DomainLookup, flags: u32) -> DriverResult<Vec<Vec<u8>>> {
        self.qemu_vcpu_pin_info(l, flags)
    }

    async fn pin_vcpu(
        &self,
        l: &DomainLookup,
        vcpu: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_pin_vcpu(l, vcpu, cpumap, flags).await
    }

    async fn emulator_pin_info(&self, l: &DomainLookup, flags: u32) -> DriverResult<Vec<u8>> {
        self.qemu_emulator_pin_info(l, flags)
    }

    async fn pin_emulator(&self, l: &DomainLookup, cpumap: &[u8], flags: u32) -> DriverResult<()> {
        self.qemu_pin_emulator(l, cpumap, flags).await
    }

    async fn domain_cpu_stats(
        &self,
        l: &DomainLookup,
        start_cpu: i32,
        ncpus: u32,
        flags: u32,
    ) -> DriverResult<(u32, Vec<Vec<TypedParam>>)> {
        self.qemu_cpu_stats(l, start_cpu, ncpus, flags)
    }
}

impl QemuDriver {
    /// Swaps the medium of removable drive `id` for `new`'s source (none: eject).
    async fn change_medium(
        &self,
        a: &super::Active,
        id: &str,
        new: &Disk,
        force: bool,
    ) -> DriverResult<()> {
        // The node now in the drive, to delete once it is out.
        let blocks = self.qmp(a, "query-block", None).await?;
        let old_node = blocks
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b["qdev"].as_str() == Some(id) || b["device"].as_str() == Some(id))
            .and_then(|b| b["inserted"]["node-name"].as_str().map(str::to_string));
        self.qmp(
            a,
            "blockdev-open-tray",
            Some(json!({"id": id, "force": force})),
        )
        .await?;
        self.qmp(a, "blockdev-remove-medium", Some(json!({"id": id})))
            .await?;
        if let Some(fmt) = old_node {
            let _ = self
                .qmp(a, "blockdev-del", Some(json!({"node-name": fmt})))
                .await;
            if let Some(storage) = fmt.strip_suffix("-format") {
                let _ = self
                    .qmp(
                        a,
                        "blockdev-del",
                        Some(json!({"node-name": format!("{storage}-storage")})),
                    )
                    .await;
            }
        }
        if let Some(path) = new.source.as_ref().and_then(|s| s.path.clone()) {
            let driver = match (new.effective_type(), new.device) {
                (
                    virt_core::model::enums::DiskType::Block,
                    virt_core::model::enums::DiskDevice::Cdrom,
                ) => "host_cdrom",
                (virt_core::model::enums::DiskType::Block, _) => "host_device",
                _ => "file",
            };
            let format = new
                .driver
                .as_ref()
                .and_then(|d| d.format.clone())
                .unwrap_or_else(|| "raw".into());
            // QEMU's node names are at most 31 bytes: a 32-bit stamp in hex keeps them short
            // and apart from the nodes of the start (`libvirt-N-...`).
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
                .unwrap_or(0);
            let storage = format!("libvirt-m{stamp:x}-storage");
            let fmt = format!("libvirt-m{stamp:x}-format");
            self.qmp(a, "blockdev-add", Some(json!({"driver": driver, "filename": path, "node-name": storage, "read-only": true, "discard": "unmap"})))
                .await?;
            let added = async {
                self.qmp(a, "blockdev-add", Some(json!({"node-name": fmt, "read-only": true, "driver": format, "file": storage})))
                    .await?;
                self.qmp(a, "blockdev-insert-medium", Some(json!({"id": id, "node-name": fmt})))
                    .await
            }
            .await;
            if let Err(e) = added {
                let _ = self
                    .qmp(a, "blockdev-del", Some(json!({"node-name": fmt})))
                    .await;
                let _ = self
                    .qmp(a, "blockdev-del", Some(json!({"node-name": storage})))
                    .await;
                return Err(e);
            }
        }
        self.qmp(a, "blockdev-close-tray", Some(json!({"id": id})))
            .await?;
        Ok(())
    }
}
