//! Block I/O tuning through the guest's cgroup (libvirt: virDomainGet/SetBlkioParameters,
//! `<blkiotune>`), on cgroup v1's blkio controller:
//!
//! - `weight` is `blkio.bfq.weight` or `blkio.weight`, `device_weight` their `_device`
//!   files; a host whose I/O schedulers offer neither (no BFQ, no CFQ) refuses them as
//!   libvirt does;
//! - the device throttles are `blkio.throttle.{read,write}_{bps,iops}_device`, written
//!   `MAJOR:MINOR VALUE` for each device path (a block device; 0 removes the rule).
//!
//! LIVE changes write the files of the guest's group, then the live `<blkiotune>`; reads
//! answer from the definitions (live values as applied). A start applies the definition's
//! `<blkiotune>` once QEMU is in its group. CONFIG changes edit the persistent definition.
//! cgroup v2's io controller is not handled: there LIVE answers "blkio cgroup isn't mounted".

use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::flags::modify::{CONFIG, LIVE};
use virt_core::kit::flags::typed_param::STRING_OKAY;
use virt_core::kit::modify::{affect_exclusive, impact_read};
use virt_core::kit::table::Entry as _;
use virt_core::kit::tune as rules;
use virt_core::kit::typed_params;
use virt_core::model::tuning::BlkioTune;
use virt_core::model::DomainDef;
use virt_core::types::{DomainLookup, TypedParam};
use virt_core::VirtError;

use crate::QemuDriver;

fn op_invalid(detail: impl Into<String>) -> VirtError {
    VirtError::new(
        ErrorCode::OperationInvalid,
        ErrorDomain::Qemu,
        detail.into(),
    )
}

fn write(dir: &Path, file: &str, text: &str) -> DriverResult<()> {
    let path = dir.join(file);
    std::fs::write(&path, text).map_err(|e| {
        VirtError::new(
            ErrorCode::SystemError,
            ErrorDomain::Qemu,
            format!("Unable to write to '{}': {e}", path.display()),
        )
    })
}

/// `MAJOR:MINOR` of the block device at `path`.
fn block_dev(path: &str) -> DriverResult<String> {
    let md = std::fs::metadata(path).map_err(|e| {
        VirtError::new(
            ErrorCode::SystemError,
            ErrorDomain::Qemu,
            format!("Unable to stat {path}: {e}"),
        )
    })?;
    if !md.file_type().is_block_device() {
        return Err(op_invalid(format!("path '{path}' must be a block device")));
    }
    let rdev = md.rdev();
    Ok(format!(
        "{}:{}",
        nix::sys::stat::major(rdev),
        nix::sys::stat::minor(rdev)
    ))
}

/// The weight file of the group (`NAME` or `NAME_device`), BFQ's first.
fn weight_file(dir: &Path, device: bool) -> DriverResult<&'static str> {
    let files: [&'static str; 2] = if device {
        ["blkio.bfq.weight_device", "blkio.weight_device"]
    } else {
        ["blkio.bfq.weight", "blkio.weight"]
    };
    files
        .into_iter()
        .find(|f| dir.join(f).exists())
        .ok_or_else(|| {
            op_invalid(if device {
                "blkio device weight is valid only for bfq or cfq scheduler"
            } else {
                "blkio weight is valid only for bfq or cfq scheduler"
            })
        })
}

/// Writes what `params` set (validated, parsed by `rules::apply_blkio` already) to the group.
fn write_params(dir: &Path, params: &[TypedParam]) -> DriverResult<()> {
    let mut scratch = BlkioTune::default();
    rules::apply_blkio(&mut scratch, params, ErrorDomain::Qemu)?;
    for p in params {
        match p.field.as_str() {
            rules::BLKIO_WEIGHT => {
                if let Some(w) = scratch.weight {
                    write(dir, weight_file(dir, false)?, &w.to_string())?;
                }
            }
            field => {
                let virt_core::types::TypedValue::String(s) = &p.value else {
                    continue;
                };
                let parts: Vec<&str> = s.split(',').collect();
                for pair in parts.chunks(2) {
                    let [path, value] = pair else { continue };
                    let dev = block_dev(path)?;
                    let file = match field {
                        rules::BLKIO_DEVICE_WEIGHT => weight_file(dir, true)?,
                        rules::BLKIO_DEVICE_READ_IOPS => "blkio.throttle.read_iops_device",
                        rules::BLKIO_DEVICE_WRITE_IOPS => "blkio.throttle.write_iops_device",
                        rules::BLKIO_DEVICE_READ_BPS => "blkio.throttle.read_bps_device",
                        _ => "blkio.throttle.write_bps_device",
                    };
                    write(dir, file, &format!("{dev} {value}"))?;
                }
            }
        }
    }
    Ok(())
}

/// A definition's `<blkiotune>` as the parameters that set it.
fn params_of(b: &BlkioTune) -> Vec<TypedParam> {
    rules::blkio_params(b)
        .into_iter()
        .filter(|p| match &p.value {
            virt_core::types::TypedValue::UInt(w) => *w != 0,
            virt_core::types::TypedValue::String(s) => !s.is_empty(),
            _ => false,
        })
        .collect()
}

impl QemuDriver {
    /// The blkio group dir of the running domain `id`, or libvirt's error.
    fn blkio_dir(&self, id: u32, live: &DomainDef) -> DriverResult<PathBuf> {
        use virt_core::cgroup::{Hierarchies, Version};
        self.cgroup_of(id, live)
            .and_then(|cg| Hierarchies::detect().controller_group(&cg, "blkio"))
            .and_then(|(dir, v)| (v == Version::V1 && dir.is_dir()).then_some(dir))
            .ok_or_else(|| op_invalid("blkio cgroup isn't mounted"))
    }

    /// Applies a definition's `<blkiotune>` to the guest's group at start.
    pub(super) fn init_blkio(&self, id: u32, live: &DomainDef) -> DriverResult<()> {
        if live.blkiotune.is_empty() {
            return Ok(());
        }
        let dir = self.blkio_dir(id, live)?;
        write_params(&dir, &params_of(&live.blkiotune))
    }

    /// libvirt: virDomainGetBlkioParameters.
    pub(crate) fn qemu_blkio_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        affect_exclusive(flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "qemuDomainGetBlkioParameters",
        )?;
        let st = self.lock();
        let d = st.get(lookup)?;
        let live = impact_read(&d.facts(), flags & (LIVE | CONFIG))?;
        match (&d.run, live) {
            (Some(r), true) => {
                self.blkio_dir(r.id, &r.live)?;
                Ok(rules::blkio_params(&r.live.blkiotune))
            }
            _ => Ok(rules::blkio_params(&d.def.blkiotune)),
        }
    }

    /// libvirt: virDomainSetBlkioParameters.
    pub(crate) async fn qemu_set_blkio_parameters(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainSetBlkioParameters")?;
        typed_params::validate(params, rules::BLKIO_PARAMS, ErrorDomain::Qemu)?;
        let (_job, uuid) = self.job(lookup, "virDomainSetBlkioParameters").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        if live {
            let a = self.active(&uuid)?;
            let (id, def) = self
                .with_run(&uuid, a.gen, |r| (r.id, r.live.clone()))
                .ok_or_else(|| op_invalid("domain is not running"))?;
            let dir = self.blkio_dir(id, &def)?;
            let mut new = def.blkiotune.clone();
            rules::apply_blkio(&mut new, params, ErrorDomain::Qemu)?;
            write_params(&dir, params)?;
            self.update_run(&uuid, a.gen, |r| r.live.blkiotune = new);
        }
        if config {
            self.edit_config(&lookup, |def| {
                rules::apply_blkio(&mut def.blkiotune, params, ErrorDomain::Qemu)
            })?;
        }
        Ok(())
    }
}
