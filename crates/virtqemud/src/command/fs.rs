//! `<filesystem>` with `<driver type='virtiofs'/>`: QEMU's side of a virtiofs share, a
//! vhost-user socket chardev to the guest's virtiofsd (`crate::virtiofs`, started before
//! QEMU) and a `vhost-user-fs-pci` carrying the mount tag, after the disks, as libvirt 9.0
//! writes them. Other filesystem drivers are refused at define (`honour.rs`).

use virt_core::VirtError;

use super::devices::{id_of, pci_addr};
use super::json::Json;
use super::{opt, unsupported, Builder};

pub(super) fn filesystems(b: &mut Builder<'_>) -> Result<(), VirtError> {
    for (i, fs) in b.def.devices.filesystems.iter().enumerate() {
        let id = id_of(&fs.alias, || format!("fs{i}"));
        if !crate::virtiofs::is_virtiofs(fs) {
            return Err(unsupported(format!(
                "{id}: only virtiofs filesystems are supported"
            )));
        }
        let chr = format!("chr-vu-{id}");
        let sock = crate::virtiofs::socket_path(&b.ctx.domain_dir, &id);
        b.arg(
            "-chardev",
            format!("socket,id={chr},path={}", opt(&sock.to_string_lossy())),
        );
        let mut dev = Json::obj([
            ("driver", Json::str("vhost-user-fs-pci")),
            ("id", Json::str(id.clone())),
            ("chardev", Json::str(chr)),
            ("tag", Json::str(fs.target.clone())),
        ]);
        pci_addr(b, &mut dev, &fs.address, &id)?;
        b.json("-device", dev);
    }
    Ok(())
}
