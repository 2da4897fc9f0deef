//! Disk throttling, write thresholds and lifecycle actions of the QEMU driver (libvirt:
//! virDomainGet/SetBlockIoTune, virDomainSetBlockThreshold, virDomainSetLifecycleAction).
//!
//! - Block I/O throttle: LIVE reads ask QEMU (`query-block`'s `inserted` limits, as libvirt's
//!   qemuMonitorGetBlockIoThrottle); LIVE changes merge the new values into the live disk's
//!   `<iotune>` (libvirt's rules: `kit::tune::apply_iotune`), send the whole throttle with
//!   `block_set_io_throttle` on the disk's device and keep it in the live definition; CONFIG
//!   reads and changes use the persistent `<iotune>`. A start applies each disk's `<iotune>`
//!   over the monitor before the vCPUs run, as libvirt does with `-blockdev`.
//! - Write threshold: `block-set-write-threshold` on the disk's top node (its format node).
//!   QEMU's one-shot BLOCK_WRITE_THRESHOLD event becomes libvirt's BLOCK_THRESHOLD event: one
//!   for the disk target (unless the threshold was set with a `vda[N]` index) and one for
//!   `vda[N]`, N being the image's index (the node's number), as qemuProcessHandleBlockThreshold.
//! - Lifecycle actions: the definitions' `<on_poweroff>` / `<on_reboot>` / `<on_crash>`; live,
//!   the daemon carries out power-off and crash actions itself, and a reboot action change is
//!   told to QEMU with `set-action` (`reboot`: `shutdown` for destroy, `reset` otherwise).

use serde_json::{json, Map, Value};
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::flags::modify::{CONFIG, LIVE};
use virt_core::kit::flags::typed_param::STRING_OKAY;
use virt_core::kit::modify::{affect_exclusive, impact, Impact};
use virt_core::kit::table::Entry as _;
use virt_core::kit::tune as rules;
use virt_core::kit::typed_params;
use virt_core::model::enums::LifecycleAction;
use virt_core::model::DomainDef;
use virt_core::types::{DomainLookup, TypedParam, TypedValue};
use virt_core::VirtError;

use super::Active;
use crate::QemuDriver;

/// libvirt's throttle parameter names and QEMU's names for them.
const QEMU_NAMES: [(&str, &str); 20] = [
    ("total_bytes_sec", "bps"),
    ("read_bytes_sec", "bps_rd"),
    ("write_bytes_sec", "bps_wr"),
    ("total_iops_sec", "iops"),
    ("read_iops_sec", "iops_rd"),
    ("write_iops_sec", "iops_wr"),
    ("total_bytes_sec_max", "bps_max"),
    ("read_bytes_sec_max", "bps_rd_max"),
    ("write_bytes_sec_max", "bps_wr_max"),
    ("total_iops_sec_max", "iops_max"),
    ("read_iops_sec_max", "iops_rd_max"),
    ("write_iops_sec_max", "iops_wr_max"),
    ("size_iops_sec", "iops_size"),
    ("group_name", "group"),
    ("total_bytes_sec_max_length", "bps_max_length"),
    ("read_bytes_sec_max_length", "bps_rd_max_length"),
    ("write_bytes_sec_max_length", "bps_wr_max_length"),
    ("total_iops_sec_max_length", "iops_max_length"),
    ("read_iops_sec_max_length", "iops_rd_max_length"),
    ("write_iops_sec_max_length", "iops_wr_max_length"),
];

/// The groups of fields a change takes over whole: when a call sets none of a group, the
/// group keeps its old values; when it sets one, the others of the group are reset (libvirt's
/// qemuDomainSetBlockIoTuneDefaults).
const GROUPS: [&[&str]; 8] = [
    &["total_bytes_sec", "read_bytes_sec", "write_bytes_sec"],
    &["total_iops_sec", "read_iops_sec", "write_iops_sec"],
    &[
        "total_bytes_sec_max",
        "read_bytes_sec_max",
        "write_bytes_sec_max",
    ],
    &[
        "total_iops_sec_max",
        "read_iops_sec_max",
        "write_iops_sec_max",
    ],
    &["size_iops_sec"],
    &["group_name"],
    &[
        "total_bytes_sec_max_length",
        "read_bytes_sec_max_length",
        "write_bytes_sec_max_length",
    ],
    &[
        "total_iops_sec_max_length",
        "read_iops_sec_max_length",
        "write_iops_sec_max_length",
    ],
];

/// The QEMU driver's rules of virDomainSetBlockIoTune on a disk's throttle `old` changed by
/// `params` (libvirt's qemuDomainSetBlockIoTune): the value limit, total not with read/write
/// in one call, groups taken over whole, each limit's max at least the limit and only with
/// it, all-zero removing the throttle (and its group). Answers the new `<iotune>` pairs.
pub(crate) fn merge_iotune(
    old: &[(String, String)],
    params: &[TypedParam],
) -> DriverResult<Vec<(String, String)>> {
    let given = |f: &str| params.iter().rev().find(|p| p.field == f).map(|p| &p.value);
    let num = |v: Option<&TypedValue>| match v {
        Some(TypedValue::ULLong(n)) => *n,
        _ => 0,
    };
    for p in params {
        if let TypedValue::ULLong(v) = p.value {
            if v > rules::IOTUNE_MAX {
                return Err(err(
                    ErrorCode::ArgumentUnsupported,
                    format!(
                        "block I/O throttle limit value must be no more than {}",
                        rules::IOTUNE_MAX
                    ),
                ));
            }
        }
    }
    for kind in ["bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"] {
        let t = num(given(&format!("total_{kind}")));
        let rw = num(given(&format!("read_{kind}"))) + num(given(&format!("write_{kind}")));
        if t != 0 && rw != 0 {
            return Err(err(
                ErrorCode::InvalidArg,
                format!("total and read/write of {kind} cannot be set at the same time"),
            ));
        }
    }
    let old_of = |f: &str| old.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone());
    let mut new: Vec<(String, String)> = Vec::new();
    let mut touched = Vec::new();
    for group in GROUPS {
        let set = group.iter().any(|f| given(f).is_some());
        if set {
            touched.extend_from_slice(group);
        }
        for f in group {
            let v = if set {
                match given(f) {
                    Some(TypedValue::ULLong(n)) => n.to_string(),
                    Some(TypedValue::String(s)) => s.clone(),
                    _ => String::new(),
                }
            } else {
                old_of(f).unwrap_or_default()
            };
            if !v.is_empty() && v != "0" {
                new.push((f.to_string(), v));
            }
        }
    }
    let val = |f: &str| -> u64 {
        new.iter()
            .find(|(k, _)| k == f)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    };
    for base in [
        "total_bytes_sec",
        "read_bytes_sec",
        "write_bytes_sec",
        "total_iops_sec",
        "read_iops_sec",
        "write_iops_sec",
    ] {
        let max = format!("{base}_max");
        if val(&max) == 0 {
            continue;
        }
        if val(base) == 0 {
            let detail = if touched.contains(&base) {
                format!("cannot reset '{base}' when '{max}' is set")
            } else {
                format!("value '{max}' cannot be set if '{base}' is not set")
            };
            return Err(err(ErrorCode::ConfigUnsupported, detail));
        }
        if val(&max) < val(base) {
            return Err(err(
                ErrorCode::ConfigUnsupported,
                format!("value '{max}' cannot be smaller than '{base}'"),
            ));
        }
    }
    let any = new.iter().any(|(k, _)| k != rules::IOTUNE_GROUP_NAME);
    if !any {
        let group = old_of(rules::IOTUNE_GROUP_NAME);
        let asked = new.iter().find(|(k, _)| k == rules::IOTUNE_GROUP_NAME);
        if let Some((_, g)) = asked {
            if Some(g) != group.as_ref() {
                return Err(err(
                    ErrorCode::OperationInvalid,
                    "creating a new group/updating existing with all tune parameters zero is not supported",
                ));
            }
        }
        // All zero: no throttle, no group.
        return Ok(Vec::new());
    }
    Ok(new)
}

fn err(code: ErrorCode, detail: impl Into<String>) -> VirtError {
    VirtError::new(code, ErrorDomain::Qemu, detail.into())
}

fn not_running() -> VirtError {
    VirtError::operation_invalid("domain is not running")
}

/// The arguments of `block_set_io_throttle` for a throttle (`<iotune>` pairs), on device `id`.
pub(crate) fn throttle_args(id: &str, iotune: &[(String, String)]) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    for (ours, theirs) in QEMU_NAMES {
        let v = iotune
            .iter()
            .find(|(k, _)| k == ours)
            .map(|(_, v)| v.as_str());
        if ours == rules::IOTUNE_GROUP_NAME {
            if let Some(g) = v.filter(|g| !g.is_empty()) {
                m.insert(theirs.into(), json!(g));
            }
            continue;
        }
        let n = v.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        // The six averages are mandatory; the others only when set.
        if n != 0 || !theirs.contains("max") && theirs != "iops_size" {
            m.insert(theirs.into(), json!(n));
        }
    }
    Value::Object(m)
}

/// A throttle as QEMU reports it (`query-block`'s `inserted`) in libvirt's parameters.
pub(crate) fn params_of_inserted(inserted: &Value) -> Vec<TypedParam> {
    QEMU_NAMES
        .iter()
        .map(|(ours, theirs)| {
            let value = if *ours == rules::IOTUNE_GROUP_NAME {
                TypedValue::String(
                    inserted
                        .get(*theirs)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                )
            } else {
                TypedValue::ULLong(inserted.get(*theirs).and_then(Value::as_u64).unwrap_or(0))
            };
            TypedParam::new(*ours, value)
        })
        .collect()
}

/// The `query-block` entry of the disk whose device alias is `alias`.
fn block_of<'a>(blocks: &'a Value, alias: &str) -> Option<&'a Value> {
    blocks.as_array()?.iter().find(|b| {
        let qdev = b.get("qdev").and_then(Value::as_str).unwrap_or_default();
        qdev == alias
            || qdev.ends_with(&format!("/{alias}"))
            || qdev.contains(&format!("/{alias}/"))
    })
}

/// The live disk named `name` (target or source path): its index, or libvirt's
/// "disk 'X' not found in domain".
fn live_disk(def: &DomainDef, name: &str) -> DriverResult<usize> {
    virt_core::kit::devices::disk_index(def, name).ok_or_else(|| {
        err(
            ErrorCode::InvalidArg,
            format!("disk '{name}' not found in domain"),
        )
    })
}

fn alias_of(def: &DomainDef, i: usize) -> String {
    let d = &def.devices.disks[i];
    d.alias
        .clone()
        .or_else(|| crate::aliases::disk_alias(def, d))
        .unwrap_or_default()
}

impl QemuDriver {
    /// The `query-block` entry of live disk `i`.
    async fn disk_block(&self, a: &Active, live: &DomainDef, i: usize) -> DriverResult<Value> {
        let blocks = self.qmp(a, "query-block", None).await?;
        let alias = alias_of(live, i);
        block_of(&blocks, &alias).cloned().ok_or_else(|| {
            err(
                ErrorCode::InternalError,
                format!(
                    "cannot find the block device of disk '{}'",
                    live.devices.disks[i].target_dev
                ),
            )
        })
    }

    /// libvirt: virDomainGetBlockIoTune.
    pub(crate) async fn qemu_block_io_tune(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        affect_exclusive(flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "qemuDomainGetBlockIoTune",
        )?;
        let (_job, uuid) = self.job(lookup, "virDomainGetBlockIoTune").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let Impact { live, .. } = {
            let st = self.lock();
            impact(&st.get(&lookup)?.facts(), flags & (LIVE | CONFIG))?
        };
        if live {
            let a = self.active(&uuid)?;
            let def = self
                .with_run(&uuid, a.gen, |r| r.live.clone())
                .ok_or_else(not_running)?;
            let i = live_disk(&def, disk)?;
            let block = self.disk_block(&a, &def, i).await?;
            let inserted = block.get("inserted").cloned().unwrap_or(Value::Null);
            return Ok(params_of_inserted(&inserted));
        }
        let st = self.lock();
        let def = &st.get(&lookup)?.def;
        let i = virt_core::kit::devices::disk_index(def, disk).ok_or_else(|| {
            err(
                ErrorCode::InvalidArg,
                format!("disk '{disk}' was not found in the domain config"),
            )
        })?;
        Ok(rules::iotune_params(&def.devices.disks[i].iotune))
    }

    /// libvirt: virDomainSetBlockIoTune.
    pub(crate) async fn qemu_set_block_io_tune(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainSetBlockIoTune")?;
        typed_params::validate(params, &rules::iotune_types(), ErrorDomain::Qemu)?;
        let (_job, uuid) = self.job(lookup, "virDomainSetBlockIoTune").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let Impact { live, config } = {
            let st = self.lock();
            impact(&st.get(&lookup)?.facts(), flags)?
        };
        if live {
            let a = self.active(&uuid)?;
            let def = self
                .with_run(&uuid, a.gen, |r| r.live.clone())
                .ok_or_else(not_running)?;
            let i = live_disk(&def, disk)?;
            let merged = merge_iotune(&def.devices.disks[i].iotune, params)?;
            let block = self.disk_block(&a, &def, i).await?;
            let id = block
                .get("qdev")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            self.qmp(
                &a,
                "block_set_io_throttle",
                Some(throttle_args(&id, &merged)),
            )
            .await?;
            self.update_run(&uuid, a.gen, |r| {
                if let Some(d) = r.live.devices.disks.get_mut(i) {
                    d.iotune = merged;
                }
            });
        }
        if config {
            self.edit_config(&lookup, |def| {
                let i = virt_core::kit::devices::disk_index(def, disk).ok_or_else(|| {
                    err(
                        ErrorCode::InvalidArg,
                        format!("missing persistent configuration for disk '{disk}'"),
                    )
                })?;
                def.devices.disks[i].iotune = merge_iotune(&def.devices.disks[i].iotune, params)?;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Applies every disk's `<iotune>` at start (libvirt's
    /// qemuProcessSetupDiskThrottlingBlockdev).
    pub(super) async fn init_disk_throttling(
        &self,
        a: &Active,
        def: &DomainDef,
    ) -> DriverResult<()> {
        if def.devices.disks.iter().all(|d| d.iotune.is_empty()) {
            return Ok(());
        }
        let blocks = self.qmp(a, "query-block", None).await?;
        for (i, d) in def.devices.disks.iter().enumerate() {
            if d.iotune.is_empty() {
                continue;
            }
            let Some(b) = block_of(&blocks, &alias_of(def, i)) else {
                continue;
            };
            if b.get("inserted").is_none() {
                // Setting throttling on an empty drive fails; libvirt skips it.
                continue;
            }
            let id = b.get("qdev").and_then(Value::as_str).unwrap_or_default();
            self.qmp(
                a,
                "block_set_io_throttle",
                Some(throttle_args(id, &d.iotune)),
            )
            .await?;
        }
        Ok(())
    }

    /// libvirt: virDomainSetBlockThreshold.
    pub(crate) async fn qemu_set_block_threshold(
        &self,
        lookup: &DomainLookup,
        dev: &str,
        threshold: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, 0, "qemuDomainSetBlockThreshold")?;
        let (_job, uuid) = self.job(lookup, "virDomainSetBlockThreshold").await?;
        let a = self.active(&uuid)?;
        let def = self
            .with_run(&uuid, a.gen, |r| r.live.clone())
            .ok_or_else(not_running)?;
        let (target, index) = match dev.split_once('[') {
            Some((t, rest)) => {
                let n = rest
                    .strip_suffix(']')
                    .and_then(|n| n.parse::<u32>().ok())
                    .ok_or_else(|| {
                        err(
                            ErrorCode::InvalidArg,
                            format!("failed to parse block device '{dev}'"),
                        )
                    })?;
                (t, Some(n))
            }
            None => (dev, None),
        };
        let i = def
            .devices
            .disks
            .iter()
            .position(|d| d.target_dev == target)
            .ok_or_else(|| {
                err(
                    ErrorCode::InvalidArg,
                    format!("failed to find disk '{target}'"),
                )
            })?;
        let block = self.disk_block(&a, &def, i).await?;
        let node = block
            .pointer("/inserted/node-name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                err(
                    ErrorCode::OperationInvalid,
                    format!("disk '{target}' does not have a source"),
                )
            })?
            .to_string();
        let id = node_index(&node);
        if index.is_some() && index != id {
            return Err(err(
                ErrorCode::InvalidArg,
                format!("failed to find disk '{dev}'"),
            ));
        }
        self.qmp(
            &a,
            "block-set-write-threshold",
            Some(json!({ "node-name": node, "write-threshold": threshold })),
        )
        .await?;
        let path = def.devices.disks[i]
            .source
            .as_ref()
            .and_then(|s| s.path.clone())
            .unwrap_or_default();
        self.with_run(&uuid, a.gen, |r| {
            r.thresholds.insert(
                node,
                super::Threshold {
                    target: target.to_string(),
                    path,
                    index: id,
                    with_index: index.is_some(),
                },
            )
        });
        Ok(())
    }

    /// QEMU's BLOCK_WRITE_THRESHOLD: libvirt's BLOCK_THRESHOLD events for the node's disk.
    pub(super) fn on_write_threshold(&self, uuid: virt_core::uuid::Uuid, gen: u64, data: &Value) {
        let Some(node) = data.get("node-name").and_then(Value::as_str) else {
            return;
        };
        let Some(Some(t)) = self.with_run(&uuid, gen, |r| r.thresholds.remove(node)) else {
            return;
        };
        let threshold = data
            .get("write-threshold")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let excess = data
            .get("amount-exceeded")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let event = |dev: String| {
            virt_core::proto::domain_event::Payload::BlockThreshold(
                virt_core::proto::BlockThresholdEvent {
                    dev,
                    path: t.path.clone(),
                    threshold,
                    excess,
                },
            )
        };
        if !t.with_index {
            self.emit_for(&uuid, gen, event(t.target.clone()));
        }
        if let Some(n) = t.index {
            self.emit_for(&uuid, gen, event(format!("{}[{n}]", t.target)));
        }
    }

    /// libvirt: virDomainSetLifecycleAction.
    pub(crate) async fn qemu_set_lifecycle_action(
        &self,
        lookup: &DomainLookup,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainSetLifecycleAction")?;
        let action = rules::lifecycle_action(kind, action, ErrorDomain::Domain)?;
        carried_out(kind, action)?;
        let (_job, uuid) = self.job(lookup, "virDomainSetLifecycleAction").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let Impact { live, config } = {
            let st = self.lock();
            impact(&st.get(&lookup)?.facts(), flags)?
        };
        if live {
            let a = self.active(&uuid)?;
            let old = self
                .with_run(&uuid, a.gen, |r| r.live.reboot_action())
                .ok_or_else(not_running)?;
            if kind == 1
                && (old == LifecycleAction::Destroy) != (action == LifecycleAction::Destroy)
            {
                let reboot = if action == LifecycleAction::Destroy {
                    "shutdown"
                } else {
                    "reset"
                };
                self.qmp(&a, "set-action", Some(json!({ "reboot": reboot })))
                    .await?;
            }
            self.update_run(&uuid, a.gen, |r| {
                rules::set_lifecycle(&mut r.live, kind, action)
            });
        }
        if config {
            self.edit_config(&lookup, |def| {
                rules::set_lifecycle(def, kind, action);
                Ok(())
            })?;
        }
        Ok(())
    }
}

/// The number N of a `libvirt-N-format` node (libvirt's image index).
fn node_index(node: &str) -> Option<u32> {
    node.strip_prefix("libvirt-")?
        .strip_suffix("-format")?
        .parse()
        .ok()
}

/// Refuses an action this daemon does not carry out for that event (what define refuses in
/// a definition too: `command/honour.rs`).
fn carried_out(kind: u32, action: LifecycleAction) -> DriverResult<()> {
    let ok = match kind {
        0 | 1 => matches!(action, LifecycleAction::Destroy | LifecycleAction::Restart),
        _ => action != LifecycleAction::RenameRestart,
    };
    if ok {
        return Ok(());
    }
    let event = ["on_poweroff", "on_reboot", "on_crash"][kind.min(2) as usize];
    Err(err(
        ErrorCode::ConfigUnsupported,
        format!(
            "{event} action '{}' is not supported by this QEMU driver",
            action.as_str()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_args_carry_the_averages_and_what_is_set() {
        let t = vec![
            ("total_bytes_sec".to_string(), "1000".to_string()),
            ("total_bytes_sec_max".to_string(), "2000".to_string()),
            ("group_name".to_string(), "g1".to_string()),
        ];
        assert_eq!(
            throttle_args("dev0", &t),
            json!({"id": "dev0", "bps": 1000, "bps_rd": 0, "bps_wr": 0, "iops": 0,
                   "iops_rd": 0, "iops_wr": 0, "bps_max": 2000, "group": "g1"})
        );
    }

    #[test]
    fn inserted_limits_become_libvirt_params() {
        let p = params_of_inserted(&json!({"bps": 5, "iops_wr_max": 7, "group": "x"}));
        assert_eq!(p.len(), 20);
        assert_eq!(
            p[0],
            TypedParam::new("total_bytes_sec", TypedValue::ULLong(5))
        );
        assert_eq!(
            p[11],
            TypedParam::new("write_iops_sec_max", TypedValue::ULLong(7))
        );
        assert_eq!(
            p[13],
            TypedParam::new("group_name", TypedValue::String("x".into()))
        );
    }

    fn u(f: &str, v: u64) -> TypedParam {
        TypedParam::new(f, TypedValue::ULLong(v))
    }

    #[test]
    fn a_change_takes_over_its_group_and_keeps_the_others() {
        let old = vec![
            ("total_bytes_sec".to_string(), "100".to_string()),
            ("total_iops_sec".to_string(), "5".to_string()),
        ];
        let new = merge_iotune(&old, &[u("write_bytes_sec", 7)]).expect("valid");
        assert_eq!(
            new,
            vec![
                ("write_bytes_sec".to_string(), "7".to_string()),
                ("total_iops_sec".to_string(), "5".to_string()),
            ]
        );
        let e = merge_iotune(&old, &[u("total_bytes_sec", 1), u("read_bytes_sec", 1)])
            .expect_err("total with read");
        assert!(
            e.to_string().contains("total and read/write of bytes_sec"),
            "{e}"
        );
        let e = merge_iotune(&old, &[u("total_bytes_sec_max", 50)]).expect_err("max below");
        assert!(
            e.to_string()
                .contains("value 'total_bytes_sec_max' cannot be smaller than 'total_bytes_sec'"),
            "{e}"
        );
        let e = merge_iotune(&[], &[u("read_iops_sec_max", 50)]).expect_err("max alone");
        assert!(
            e.to_string()
                .contains("value 'read_iops_sec_max' cannot be set if 'read_iops_sec' is not set"),
            "{e}"
        );
        assert!(
            merge_iotune(&old, &[u("total_bytes_sec", 0), u("total_iops_sec", 0)])
                .expect("all zero")
                .is_empty()
        );
    }

    #[test]
    fn node_numbers_are_image_indexes() {
        assert_eq!(node_index("libvirt-3-format"), Some(3));
        assert_eq!(node_index("libvirt-CoR-vda"), None);
    }
}
