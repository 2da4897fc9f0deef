//! NUMA memory tuning of real guests (libvirt: virDomainGet/SetNumaParameters,
//! `<numatune><memory mode nodeset>`), as libvirt's QEMU driver does it:
//!
//! - at start the nodeset must name host nodes ("NUMA node N is unavailable"); modes strict,
//!   preferred and interleave bind guest RAM on the `pc.ram` backend (`host-nodes`, `policy`:
//!   command/memory.rs); strict and restrictive also set the cpuset group's `cpuset.mems`;
//! - a LIVE change keeps the mode ("can't change numatune mode for running domain"), needs
//!   strict or restrictive for a new nodeset, and writes it to `cpuset.mems` (QEMU's memory
//!   migrates there); CONFIG edits the persistent definition.
//!
//! cgroup v2 (and no cpuset controller) answers "cgroup cpuset controller is not mounted".

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::flags::modify::{CONFIG, LIVE};
use virt_core::kit::flags::typed_param::STRING_OKAY;
use virt_core::kit::modify::{affect_exclusive, impact_read};
use virt_core::kit::table::Entry as _;
use virt_core::kit::tune as rules;
use virt_core::kit::typed_params::{self, ParamType};
use virt_core::model::DomainDef;
use virt_core::types::{DomainLookup, TypedParam};
use virt_core::VirtError;

use crate::QemuDriver;

const NODE_DIR: &str = "/sys/devices/system/node";

fn op_invalid(detail: impl Into<String>) -> VirtError {
    VirtError::new(
        ErrorCode::OperationInvalid,
        ErrorDomain::Qemu,
        detail.into(),
    )
}

/// virNumaNodesetIsAvailable: every node of `set` is one of the host's (a host without NUMA
/// support in sysfs has node 0 only).
pub(crate) fn check_host_nodes(set: &BTreeSet<u32>) -> DriverResult<()> {
    let sysfs = Path::new(NODE_DIR).is_dir();
    for n in set {
        let there = if sysfs {
            Path::new(NODE_DIR).join(format!("node{n}")).is_dir()
        } else {
            *n == 0
        };
        if !there {
            return Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::None,
                format!("NUMA node {n} is unavailable"),
            ));
        }
    }
    Ok(())
}

/// The nodeset of a definition's `<numatune>`, parsed.
fn nodeset_of(def: &DomainDef) -> Option<BTreeSet<u32>> {
    let n = def.numatune.as_ref()?;
    rules::parse_bitmap(n.nodeset.as_deref()?, rules::CPUMASK_LEN).ok()
}

/// Start's check of the nodeset against the host (before QEMU runs).
pub(crate) fn check_start(def: &DomainDef) -> DriverResult<()> {
    match nodeset_of(def) {
        Some(set) => check_host_nodes(&set),
        None => Ok(()),
    }
}

fn write_mems(dir: &Path, set: &BTreeSet<u32>) -> DriverResult<()> {
    let path = dir.join("cpuset.mems");
    std::fs::write(&path, rules::format_bitmap(set)).map_err(|e| {
        VirtError::new(
            ErrorCode::SystemError,
            ErrorDomain::Qemu,
            format!("Unable to write to '{}': {e}", path.display()),
        )
    })
}

impl QemuDriver {
    /// The cpuset group dir of the running domain `id` (cgroup v1), or libvirt's error.
    fn cpuset_dir(&self, id: u32, live: &DomainDef) -> DriverResult<PathBuf> {
        use virt_core::cgroup::{Hierarchies, Version};
        self.cgroup_of(id, live)
            .and_then(|cg| Hierarchies::detect().controller_group(&cg, "cpuset"))
            .and_then(|(dir, v)| (v == Version::V1 && dir.is_dir()).then_some(dir))
            .ok_or_else(|| op_invalid("cgroup cpuset controller is not mounted"))
    }

    /// At start, once QEMU is in its group: strict and restrictive nodesets become the
    /// group's `cpuset.mems` (a guest outside any cpuset group keeps the backend's binding).
    pub(super) fn init_numatune(&self, id: u32, live: &DomainDef) -> DriverResult<()> {
        let Some(n) = &live.numatune else {
            return Ok(());
        };
        if n.mode != "strict" && n.mode != "restrictive" {
            return Ok(());
        }
        let Some(set) = nodeset_of(live) else {
            return Ok(());
        };
        match self.cpuset_dir(id, live) {
            Ok(dir) => write_mems(&dir, &set),
            Err(_) => Ok(()),
        }
    }

    /// libvirt: virDomainGetNumaParameters.
    pub(crate) fn qemu_numa_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        affect_exclusive(flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "qemuDomainGetNumaParameters",
        )?;
        let st = self.lock();
        let d = st.get(lookup)?;
        let live = impact_read(&d.facts(), flags & (LIVE | CONFIG))?;
        match (&d.run, live) {
            (Some(r), true) => Ok(rules::numa_params(&r.live)),
            _ => Ok(rules::numa_params(&d.def)),
        }
    }

    /// libvirt: virDomainSetNumaParameters.
    pub(crate) async fn qemu_set_numa_parameters(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainSetNumaParameters")?;
        typed_params::validate(
            params,
            &[
                (rules::NUMA_MODE, ParamType::Int),
                (rules::NUMA_NODESET, ParamType::String),
            ],
            ErrorDomain::Qemu,
        )?;
        let (mode, nodeset) = rules::parse_numa(params, ErrorDomain::Qemu)?;
        let (_job, uuid) = self.job(lookup, "virDomainSetNumaParameters").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        if live {
            let a = self.active(&uuid)?;
            let (id, def) = self
                .with_run(&uuid, a.gen, |r| (r.id, r.live.clone()))
                .ok_or_else(|| op_invalid("domain is not running"))?;
            let dir = self.cpuset_dir(id, &def)?;
            let current = def.numatune.as_ref().map(|n| n.mode.clone());
            if let (Some(m), Some(cur)) = (mode, current.as_deref()) {
                if rules::NUMA_MODES.iter().position(|x| *x == cur) != Some(m as usize) {
                    return Err(op_invalid("can't change numatune mode for running domain"));
                }
            }
            if let Some(set) = &nodeset {
                if let Some(cur) = current.as_deref() {
                    if cur != "strict" && cur != "restrictive" {
                        return Err(op_invalid(
                            "change of nodeset for running domain requires strict or restrictive numa mode",
                        ));
                    }
                }
                check_host_nodes(set)?;
            }
            let mut new = def.clone();
            rules::apply_numa(&mut new, params, true, ErrorDomain::Qemu)?;
            if let Some(set) = &nodeset {
                write_mems(&dir, set)?;
            }
            self.update_run(&uuid, a.gen, |r| r.live.numatune = new.numatune);
        }
        if config {
            self.edit_config(&lookup, |def| {
                rules::apply_numa(def, params, false, ErrorDomain::Qemu)
            })?;
        }
        Ok(())
    }
}
