//! Device hotplug and unplug on a running guest (spec qemu-driver.md §3.6), and the same
//! edits on the persistent definition (CONFIG).
//!
//! * Disk: `blockdev-add` of the storage node then the format node, then `device_add` of the
//!   frontend; on failure the nodes are deleted again in reverse. Hot-plugged disks are
//!   virtio (`virtio-blk-pci`), file or block, raw or qcow2, under libvirt's alias
//!   `virtio-diskN` with nodes `libvirt-hp-ALIAS-storage` / `-format`.
//! * Interface: `type='user'` (`netdev_add` user + `device_add`); `bridge` / `ethernet`: the
//!   daemon makes the tap (enslaved to the bridge), passes its descriptor with `getfd`, then
//!   `netdev_add` tap with that fd + `device_add`; the tap is recorded in the status file and
//!   removed with the device or the guest.
//! * Detach: `device_del ALIAS`, then up to 5 s for DEVICE_DELETED; then the backends go
//!   (`blockdev-del` format then storage; `netdev_del`), the device leaves the live
//!   definition and DEVICE_REMOVED is emitted. Without the event in time the call still
//!   succeeds and the removal completes when the event comes, as libvirt.

use std::os::fd::AsFd;

use serde_json::{json, Value};
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::devices::{Address, Disk, Interface};
use virt_core::model::enums::{DiskBus, DiskType, InterfaceType};
use virt_core::model::DomainDef;
use virt_core::proto::domain_event::Payload;
use virt_core::proto::DeviceEvent;
use virt_core::types::DomainLookup;
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use super::resources::UNPLUG_WAIT;
use super::Active;
use crate::QemuDriver;

pub(super) fn unsupported(detail: impl Into<String>) -> VirtError {
    VirtError::new(
        ErrorCode::OperationUnsupported,
        ErrorDomain::Qemu,
        detail.into(),
    )
}

/// One device of an attach/detach call.
pub(super) enum Device {
    Disk(Box<Disk>),
    Net(Box<Interface>),
}

/// `vda` → 0, `vdb` → 1, ...
pub(super) fn disk_index(dev: &str) -> Option<u32> {
    let rest = dev.strip_prefix("vd").or_else(|| dev.strip_prefix("sd"))?;
    let mut n: u32 = 0;
    for c in rest.bytes() {
        if !c.is_ascii_lowercase() {
            return None;
        }
        n = n.checked_mul(26)?.checked_add(u32::from(c - b'a') + 1)?;
    }
    n.checked_sub(1)
}

pub(crate) fn disk_alias(d: &Disk) -> Option<String> {
    Some(format!("virtio-disk{}", disk_index(&d.target_dev)?))
}

pub(super) fn net_alias(def: &DomainDef, i: &Interface) -> String {
    let n = def
        .devices
        .interfaces
        .iter()
        .position(|x| x.mac.is_some() && x.mac == i.mac)
        .unwrap_or(def.devices.interfaces.len());
    format!("net{n}")
}

/// `live` with a device added by `add`, placed and named as libvirt places a hot-plugged
/// device: a slot that takes hot-plug (a free pcie-root-port on q35), the next alias.
pub(super) fn placed(
    live: &DomainDef,
    add: impl FnOnce(&mut DomainDef),
) -> DriverResult<DomainDef> {
    let mut def = live.clone();
    add(&mut def);
    crate::address::assign_hotplug(&mut def)?;
    crate::aliases::assign(&mut def);
    Ok(def)
}

/// Adds `bus` and `addr` for a PCI address to a `device_add` argument.
pub(super) fn pci_placement(def: &DomainDef, addr: &Option<Address>, dev: &mut Value) {
    if let Some(Address::Pci(p)) = addr {
        let chipset = crate::address::Chipset::of(def.os.machine.as_deref().unwrap_or(""));
        dev["bus"] = Value::String(crate::address::pci_bus_name(chipset, p.bus));
        let mut a = format!("0x{:x}", p.slot);
        if p.function != 0 {
            a.push_str(&format!(".0x{:x}", p.function));
        }
        dev["addr"] = Value::String(a);
    }
}

impl QemuDriver {
    /// Parses one device element by wrapping it in a minimal domain.
    pub(super) fn parse_device(&self, xml: &str) -> DriverResult<Device> {
        let wrapped = format!(
            "<domain type='qemu'><name>device</name><memory>1024</memory>\
             <os><type>hvm</type></os><devices>{xml}</devices></domain>"
        );
        let def = self.codec.parse_domain(&wrapped)?;
        let d = def.devices;
        match (d.disks.len(), d.interfaces.len()) {
            (1, 0) => Ok(Device::Disk(Box::new(
                d.disks.into_iter().next().expect("one"),
            ))),
            (0, 1) => Ok(Device::Net(Box::new(
                d.interfaces.into_iter().next().expect("one"),
            ))),
            _ => Err(unsupported(
                "only one <disk> or <interface> element can be attached or detached by virtqemud",
            )),
        }
    }

    pub(super) async fn hotplug_disk(&self, a: &Active, d: &Disk) -> DriverResult<()> {
        // A volume disk resolves to its path, type and format through virtstoraged first.
        let mut resolved = d.clone();
        self.resolve_volume(&mut resolved).await?;
        let d = &resolved;
        let path = d
            .source
            .as_ref()
            .and_then(|s| s.path.clone())
            .ok_or_else(|| unsupported("a hot-plugged disk needs a source file or block device"))?;
        if !matches!(d.target_bus, None | Some(DiskBus::Virtio)) {
            return Err(unsupported(
                "only virtio disks can be hot-plugged by virtqemud",
            ));
        }
        if disk_alias(d).is_none() {
            return Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::Qemu,
                format!("disk target '{}' is not a virtio name (vdX)", d.target_dev),
            ));
        }
        let live = self
            .with_run(&a.uuid, a.gen, |r| r.live.clone())
            .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
        if live
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
        let mut disk = d.clone();
        disk.target_bus = Some(DiskBus::Virtio);
        let placed = placed(&live, |def| def.devices.disks.push(disk))?;
        let disk = placed
            .devices
            .disks
            .last()
            .cloned()
            .expect("the disk was just added");
        let alias = disk.alias.clone().unwrap_or_default();
        let driver = match d.effective_type() {
            DiskType::File => "file",
            DiskType::Block => "host_device",
            t => {
                return Err(unsupported(format!(
                    "disk type '{t}' cannot be hot-plugged"
                )))
            }
        };
        let format = d
            .driver
            .as_ref()
            .and_then(|x| x.format.clone())
            .unwrap_or_else(|| "raw".into());
        let storage = format!("libvirt-hp-{alias}-storage");
        let fmt = format!("libvirt-hp-{alias}-format");
        self.qmp(a, "blockdev-add", Some(json!({"driver": driver, "filename": path, "node-name": storage, "auto-read-only": true, "discard": "unmap"})))
            .await?;
        let res = async {
            self.qmp(a, "blockdev-add", Some(json!({"node-name": fmt, "read-only": d.readonly, "driver": format, "file": storage})))
                .await?;
            let mut dev = json!({"driver": "virtio-blk-pci"});
            pci_placement(&placed, &disk.address, &mut dev);
            dev["drive"] = Value::String(fmt.clone());
            dev["id"] = Value::String(alias.clone());
            if let Err(e) = self.qmp(a, "device_add", Some(dev)).await {
                let _ = self.qmp(a, "blockdev-del", Some(json!({"node-name": fmt}))).await;
                return Err(e);
            }
            Ok(())
        }
        .await;
        if let Err(e) = res {
            let _ = self
                .qmp(a, "blockdev-del", Some(json!({"node-name": storage})))
                .await;
            return Err(e);
        }
        self.update_run(&a.uuid, a.gen, |r| r.live.devices.disks.push(disk));
        self.emit_for(
            &a.uuid,
            a.gen,
            Payload::DeviceAdded(DeviceEvent { dev_alias: alias }),
        );
        Ok(())
    }

    pub(super) async fn hotplug_net(&self, a: &Active, i: &Interface) -> DriverResult<()> {
        let tapped = crate::tap::uses_tap(i);
        if i.interface_type != InterfaceType::User && !tapped {
            return Err(unsupported(
                "only type='user', 'bridge', 'ethernet' and 'network' interfaces can be hot-plugged by virtqemud",
            ));
        }
        if i.interface_type != InterfaceType::Network {
            return self.hotplug_net_plugged(a, i).await;
        }
        // A network interface gets its port (and bridge) first; a failed plug gives it back.
        let mut one = self
            .with_run(&a.uuid, a.gen, |r| r.live.clone())
            .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
        one.devices.interfaces = vec![i.clone()];
        self.attach_sibling_devices(
            &mut one,
            super::prepare::PrepareFor::Start {
                id: 0,
                reset_nvram: false,
            },
        )
        .await?;
        let plugged = one.devices.interfaces.remove(0);
        let res = self.hotplug_net_plugged(a, &plugged).await;
        if res.is_err() {
            one.devices.interfaces = vec![plugged];
            self.detach_sibling_devices(&one).await;
        }
        res
    }

    /// [`QemuDriver::hotplug_net`] once a network interface is plugged into its network.
    async fn hotplug_net_plugged(&self, a: &Active, i: &Interface) -> DriverResult<()> {
        let tapped = crate::tap::uses_tap(i);
        let live = self
            .with_run(&a.uuid, a.gen, |r| r.live.clone())
            .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
        let placed = placed(&live, |def| def.devices.interfaces.push(i.clone()))?;
        let mut nic = placed
            .devices
            .interfaces
            .last()
            .cloned()
            .expect("the interface was just added");
        let alias = nic.alias.clone().unwrap_or_default();
        let netdev = format!("host{alias}");
        // Tap-backed: the daemon makes the tap (enslaved to the bridge), hands QEMU a
        // descriptor over the monitor (getfd), and QEMU's netdev uses it; the tap lives as
        // long as QEMU holds it.
        let tap = if tapped {
            let mut one = live.clone();
            one.devices.interfaces = vec![nic.clone()];
            let tap = crate::tap::taps_for(&one)?
                .pop()
                .ok_or_else(|| VirtError::operation_invalid("no tap device was made"))?;
            let mut shaped = nic.clone();
            shaped.target_dev = Some(tap.name.clone());
            if let Err(e) = super::bandwidth::apply_at_start(&shaped) {
                let _ = crate::tap::delete_tap(&tap.name);
                return Err(e);
            }
            let fdname = format!("fd-{netdev}");
            if let Err(e) = a.qmp.send_fd(&fdname, tap.fd.as_fd()).await {
                let _ = crate::tap::delete_tap(&tap.name);
                return Err(e.to_virt("getfd"));
            }
            let added = self
                .qmp(
                    a,
                    "netdev_add",
                    Some(json!({"type": "tap", "id": netdev, "fd": fdname})),
                )
                .await;
            if let Err(e) = added {
                let _ = self
                    .qmp(a, "closefd", Some(json!({"fdname": fdname})))
                    .await;
                let _ = crate::tap::delete_tap(&tap.name);
                return Err(e);
            }
            nic.target_dev = Some(tap.name.clone());
            Some(tap.name)
        } else {
            self.qmp(a, "netdev_add", Some(json!({"type": "user", "id": netdev})))
                .await?;
            None
        };
        let model = match i.model.as_deref() {
            None | Some("virtio") => "virtio-net-pci",
            Some(m) => m,
        };
        let mut dev = json!({"driver": model, "netdev": netdev, "id": alias});
        if let Some(mac) = &i.mac {
            dev["mac"] = Value::String(mac.clone());
        }
        pci_placement(&placed, &nic.address, &mut dev);
        if let Err(e) = self.qmp(a, "device_add", Some(dev)).await {
            let _ = self.qmp(a, "netdev_del", Some(json!({"id": netdev}))).await;
            if let Some(t) = &tap {
                let _ = crate::tap::delete_tap(t);
            }
            return Err(e);
        }
        if nic.link_up == Some(false) {
            // As libvirt: the device is added, then its link taken down.
            self.qmp(a, "set_link", Some(json!({"name": alias, "up": false})))
                .await?;
        }
        self.update_run(&a.uuid, a.gen, |r| {
            r.live.devices.interfaces.push(nic);
            r.taps.extend(tap);
        });
        self.emit_for(
            &a.uuid,
            a.gen,
            Payload::DeviceAdded(DeviceEvent { dev_alias: alias }),
        );
        Ok(())
    }

    /// device_del, waiting up to 5 s for DEVICE_DELETED; true when it came.
    pub(super) async fn unplug(&self, a: &Active, alias: &str) -> DriverResult<bool> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.with_run(&a.uuid, a.gen, |r| r.unplugs.insert(alias.to_string(), tx));
        if let Err(e) = self.qmp(a, "device_del", Some(json!({"id": alias}))).await {
            self.with_run(&a.uuid, a.gen, |r| r.unplugs.remove(alias));
            return Err(e);
        }
        let arrived = matches!(tokio::time::timeout(UNPLUG_WAIT, rx).await, Ok(Ok(())));
        if !arrived {
            tracing::info!(
                alias,
                "DEVICE_DELETED not seen within 5 s; removal completes when it comes"
            );
            // Keep a waiter-less entry out: device_deleted finishes it asynchronously.
            self.with_run(&a.uuid, a.gen, |r| r.unplugs.remove(alias));
        }
        Ok(arrived)
    }

    /// DEVICE_DELETED: finishes the removal (backends, live definition, DEVICE_REMOVED) and
    /// wakes a waiting detach.
    pub(crate) fn device_deleted(&self, uuid: Uuid, gen: u64, alias: &str) {
        let Some((qmp, waiter)) = self.update_run(&uuid, gen, |r| {
            let waiter = r.unplugs.remove(alias);
            r.live
                .devices
                .disks
                .retain(|d| disk_alias(d).as_deref() != Some(alias));
            let def = r.live.clone();
            let gone: Vec<String> = def
                .devices
                .interfaces
                .iter()
                .filter(|i| net_alias(&def, i) == alias)
                .filter_map(|i| i.target_dev.clone())
                .filter(|t| r.taps.contains(t))
                .collect();
            let ports: Vec<Interface> = def
                .devices
                .interfaces
                .iter()
                .filter(|i| net_alias(&def, i) == alias && i.source_portid.is_some())
                .cloned()
                .collect();
            if !ports.is_empty() {
                let mut gone_def = def.clone();
                gone_def.devices.interfaces = ports;
                let me = self.arc();
                tokio::spawn(async move { me.detach_sibling_devices(&gone_def).await });
            }
            r.live
                .devices
                .interfaces
                .retain(|i| net_alias(&def, i) != alias);
            r.taps.retain(|t| !gone.contains(t));
            for t in &gone {
                // QEMU closes its descriptor when the netdev goes; detach and down it now.
                let _ = crate::tap::delete_tap(t);
            }
            (r.qmp.clone(), waiter)
        }) else {
            return;
        };
        let alias = alias.to_string();
        let me = self.arc();
        tokio::spawn(async move {
            if let Some(q) = qmp {
                if alias.starts_with("virtio-disk") {
                    let (fmt, storage) = (
                        format!("libvirt-hp-{alias}-format"),
                        format!("libvirt-hp-{alias}-storage"),
                    );
                    if q.execute("blockdev-del", Some(json!({"node-name": fmt})))
                        .await
                        .is_ok()
                    {
                        let _ = q
                            .execute("blockdev-del", Some(json!({"node-name": storage})))
                            .await;
                    }
                } else if alias.starts_with("net") {
                    let _ = q
                        .execute("netdev_del", Some(json!({"id": format!("host{alias}")})))
                        .await;
                }
            }
            me.emit_for(
                &uuid,
                gen,
                Payload::DeviceRemoved(DeviceEvent { dev_alias: alias }),
            );
            if let Some(w) = waiter {
                let _ = w.send(());
            }
        });
    }

    /// [`QemuDriver::edit_config`] for a device change: the new device gets its defaults and
    /// address as at define, and the result must be what the driver honours.
    pub(super) fn edit_persistent(
        &self,
        lookup: &DomainLookup,
        edit: impl FnOnce(&mut DomainDef) -> DriverResult<()>,
    ) -> DriverResult<()> {
        self.edit_config(lookup, |def| {
            edit(def)?;
            let target = self.postparse_target(def);
            crate::postparse::apply(def, &target)?;
            self.codec
                .check_honoured(def, &crate::definitions::honoured())
        })
    }
}

pub(super) fn missing(xml: &str, alias: &str) -> VirtError {
    let what = if xml.is_empty() {
        format!("no device with alias '{alias}'")
    } else {
        "no matching device found".to_string()
    };
    VirtError::new(
        ErrorCode::DeviceMissing,
        ErrorDomain::Qemu,
        format!("device not found: {what}"),
    )
}
