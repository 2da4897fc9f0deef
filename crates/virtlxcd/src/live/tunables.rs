//! Memory and scheduler tunables of containers (libvirt: virDomainGet/SetMemoryParameters,
//! virDomainGetSchedulerType, virDomainGet/SetSchedulerParametersFlags) over `<memtune>` and
//! `<cputune>`, and the per-device counters (virDomainInterfaceStats, virDomainBlockStatsFlags).
//! A running container's changes are written to its cgroup at once, as libvirt's LXC driver
//! does; its scheduler is `posix` with libvirt's three LXC parameters (`cpu_shares`,
//! `vcpu_period`, `vcpu_quota`).

use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit;
use virt_core::kit::flags::modify::{CONFIG, LIVE};
use virt_core::kit::flags::typed_param::STRING_OKAY;
use virt_core::kit::modify::{affect_exclusive, impact, Impact};
use virt_core::kit::table::Entry as _;
use virt_core::kit::typed_params::{self as tp, MemTuneChange};
use virt_core::types::{DomainLookup, InterfaceStats, TypedParam, TypedValue};
use virt_core::VirtError;

use crate::LxcDriver;

/// libvirt's LXC scheduler parameters.
const SCHED_PARAMS: usize = 3;

impl LxcDriver {
    pub(crate) fn lxc_memory_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        affect_exclusive(flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "lxcDomainGetMemoryParameters",
        )?;
        // A running container's live values are its cgroup's (libvirt's LXC driver reads them
        // there too: the hard limit is the memory size when no <memtune> sets one).
        let (memtune, cgroup) = {
            let st = self.lock();
            let def = st.read_def(lookup, flags)?;
            let d = st.get(lookup)?;
            let live = d.run.as_ref().is_some_and(|r| std::ptr::eq(def, &r.live));
            let cgroup = d
                .run
                .as_ref()
                .filter(|_| live)
                .and_then(|r| r.cgroup.clone());
            (def.memtune, cgroup)
        };
        let memtune = cgroup
            .and_then(|cg| super::cgroups::memory_limits(&self.hierarchies, &cg))
            .unwrap_or(memtune);
        Ok(tp::memtune_params(&memtune))
    }

    /// Changes `<memtune>`: LIVE writes the memory controller's files of the container.
    pub(crate) async fn lxc_set_memory_parameters(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "lxcDomainSetMemoryParameters")?;
        let change = MemTuneChange::parse(params, ErrorDomain::Lxc)?;
        let (uuid, _job) = self.job(lookup).await?;
        let lookup = DomainLookup::Uuid(uuid);
        let Impact { live, config } = impact(&self.lock().get(&lookup)?.facts(), flags)?;
        if live {
            let mut st = self.lock();
            let d = st.get_mut(&lookup)?;
            let run = d.run.as_mut().ok_or_else(d_not_running)?;
            change.check(&run.live.memtune, ErrorDomain::Lxc)?;
            let mut new = run.live.clone();
            change.apply(&mut new.memtune);
            if let Some(cg) = &run.cgroup {
                super::cgroups::set_memory(&self.hierarchies, cg, &new)?;
            }
            run.live = new;
            self.save_status(d);
        }
        if config {
            self.edit_config(&lookup, |def| {
                change.check(&def.memtune, ErrorDomain::Lxc)?;
                change.apply(&mut def.memtune);
                Ok(())
            })?;
        }
        Ok(())
    }

    pub(crate) fn lxc_scheduler_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        affect_exclusive(flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "lxcDomainGetSchedulerParametersFlags",
        )?;
        Ok(tp::cputune_params(
            &self.lock().read_def(lookup, flags)?.cputune,
            SCHED_PARAMS,
        ))
    }

    /// Changes `<cputune>`'s shares, period and quota: LIVE writes the CPU controller's files.
    pub(crate) async fn lxc_set_scheduler_parameters(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "lxcDomainSetSchedulerParametersFlags")?;
        tp::validate(
            params,
            &tp::CGROUP_SCHED_PARAMS[..SCHED_PARAMS],
            ErrorDomain::Lxc,
        )?;
        let (uuid, _job) = self.job(lookup).await?;
        let lookup = DomainLookup::Uuid(uuid);
        let Impact { live, config } = impact(&self.lock().get(&lookup)?.facts(), flags)?;
        if live {
            let mut st = self.lock();
            let d = st.get_mut(&lookup)?;
            let run = d.run.as_mut().ok_or_else(d_not_running)?;
            let mut new = run.live.cputune.clone();
            tp::apply_cputune(params, &mut new, ErrorDomain::Lxc)?;
            if let Some(cg) = &run.cgroup {
                super::cgroups::set_cpu(&self.hierarchies, cg, &new)?;
            }
            run.live.cputune = new;
            self.save_status(d);
        }
        if config {
            self.edit_config(&lookup, |def| {
                tp::apply_cputune(params, &mut def.cputune, ErrorDomain::Lxc)
            })?;
        }
        Ok(())
    }

    /// The counters of the interface `device` (host end or MAC) of a running container.
    pub(crate) fn lxc_interface_stats(
        &self,
        lookup: &DomainLookup,
        device: &str,
    ) -> DriverResult<InterfaceStats> {
        let veth = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let r = d.run.as_ref().ok_or_else(|| d.facts().not_running())?;
            let i = kit::devices::net_index(&r.live, device, ErrorDomain::Lxc)?;
            r.veths.get(i).cloned().unwrap_or_default()
        };
        let c = super::net::counters(&veth).ok_or_else(|| {
            VirtError::new(
                ErrorCode::InternalError,
                ErrorDomain::Lxc,
                format!("/proc/net/dev: Interface not found: {veth}"),
            )
        })?;
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Ok(InterfaceStats {
            rx_bytes: i(c[0]),
            rx_packets: i(c[1]),
            rx_errs: i(c[2]),
            rx_drop: i(c[3]),
            tx_bytes: i(c[4]),
            tx_packets: i(c[5]),
            tx_errs: i(c[6]),
            tx_drop: i(c[7]),
        })
    }

    /// Block I/O of a running container from its cgroup: every device (an empty `device`, as
    /// libvirt's LXC driver answers), or the block filesystem or host device `device` names
    /// (its target or source).
    pub(crate) fn lxc_block_stats(
        &self,
        lookup: &DomainLookup,
        device: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        use std::os::unix::fs::MetadataExt;
        self.check_flags(flags, STRING_OKAY, "lxcDomainBlockStatsFlags")?;
        let (cg, source) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let r = d.run.as_ref().ok_or_else(|| d.facts().not_running())?;
            let source = if device.is_empty() {
                None
            } else {
                let fs = r.live.devices.filesystems.iter().find(|f| {
                    f.fs_type == "block"
                        && (f.target == device || f.source.as_deref() == Some(device))
                });
                let hostdev = r.live.devices.hostdevs.iter().find_map(|h| match &h.caps {
                    Some(virt_core::model::hostdev::HostdevCaps::Storage { block })
                        if block == device =>
                    {
                        Some(block.clone())
                    }
                    _ => None,
                });
                Some(
                    fs.and_then(|f| f.source.clone())
                        .or(hostdev)
                        .ok_or_else(|| {
                            VirtError::new(
                                ErrorCode::InvalidArg,
                                ErrorDomain::Lxc,
                                format!("invalid path: {device}"),
                            )
                        })?,
                )
            };
            let cg = r.cgroup.clone().ok_or_else(|| {
                VirtError::new(
                    ErrorCode::OperationInvalid,
                    ErrorDomain::Lxc,
                    "blkio cgroup isn't mounted",
                )
            })?;
            (cg, source)
        };
        let usage = super::cgroups::usage(&self.hierarchies, &cg);
        let dev = match &source {
            Some(p) => Some(
                std::fs::metadata(p)
                    .map(|m| (libc::major(m.rdev()), libc::minor(m.rdev())))
                    .map_err(|e| {
                        VirtError::new(
                            ErrorCode::SystemError,
                            ErrorDomain::Lxc,
                            format!("cannot stat {p}: {e}"),
                        )
                    })?,
            ),
            None => None,
        };
        let mut sum = [0u64; 4];
        for (d, c) in &usage.blkio {
            if dev.is_none_or(|x| x == *d) {
                for (s, v) in sum.iter_mut().zip(c) {
                    *s += v;
                }
            }
        }
        let l = |v: u64| TypedValue::LLong(i64::try_from(v).unwrap_or(i64::MAX));
        Ok(vec![
            TypedParam::new(tp::BLOCK_READ_BYTES, l(sum[0])),
            TypedParam::new(tp::BLOCK_READ_REQ, l(sum[2])),
            TypedParam::new(tp::BLOCK_WRITE_BYTES, l(sum[1])),
            TypedParam::new(tp::BLOCK_WRITE_REQ, l(sum[3])),
        ])
    }
}

fn d_not_running() -> VirtError {
    VirtError::operation_invalid("domain is not running")
}
