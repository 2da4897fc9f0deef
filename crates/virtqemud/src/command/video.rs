//! Video devices on the command line, as libvirt 9.0 writes them for QEMU 7.2: the primary
//! one as its VGA-compatible variant (`qxl-vga`, `virtio-vga`, `VGA`, `cirrus-vga`,
//! `bochs-display`), secondary ones as plain PCI devices (`qxl`, `virtio-gpu-pci`), with the
//! memory sizes the definition gives (QXL: `ram`, `vram`, `vram64` and `vgamem` in KiB).

use virt_core::model::enums::VideoModel;
use virt_core::VirtError;

use super::devices::{id_of, pci_addr};
use super::json::Json;
use super::{unsupported, Builder};

pub(super) fn videos(b: &mut Builder<'_>) -> Result<(), VirtError> {
    for (i, v) in b.def.devices.videos.iter().enumerate() {
        let what = id_of(&v.alias, || format!("video{i}"));
        let primary = i == 0;
        let driver = match (v.model, primary) {
            (VideoModel::None, _) => continue,
            (VideoModel::Qxl, true) => "qxl-vga",
            (VideoModel::Qxl, false) => "qxl",
            (VideoModel::Virtio, true) => "virtio-vga",
            (VideoModel::Virtio, false) => "virtio-gpu-pci",
            (VideoModel::Vga, true) => "VGA",
            (VideoModel::Cirrus, true) => "cirrus-vga",
            (VideoModel::Bochs, _) => "bochs-display",
            (VideoModel::Ramfb, _) => "ramfb",
            (m, false) => {
                return Err(unsupported(format!(
                    "{what}: model '{m}' cannot be a secondary video device (qxl, virtio, \
                     bochs can)"
                )))
            }
            (m, true) => {
                return Err(unsupported(format!(
                    "{what}: model '{m}' is not supported (vga, cirrus, qxl, virtio, bochs, \
                     ramfb, none)"
                )))
            }
        };
        if v.accel3d == Some(true) {
            return Err(unsupported(format!(
                "{what}: 3D acceleration (accel3d='yes') {}",
                crate::define::devices::NO_RENDER_NODE
            )));
        }
        let mut dev = Json::obj([
            ("driver", Json::str(driver)),
            ("id", Json::str(what.clone())),
        ]);
        match v.model {
            VideoModel::Qxl => {
                if let Some(h) = v.heads {
                    dev.set("max_outputs", Json::Num(h.into()));
                }
                let kib = |x: Option<u32>| x.map(|k| u64::from(k) * 1024);
                if let Some(r) = kib(v.ram) {
                    dev.set("ram_size", Json::Num(r));
                }
                if let Some(r) = kib(v.vram) {
                    dev.set("vram_size", Json::Num(r));
                }
                dev.set(
                    "vram64_size_mb",
                    Json::Num(u64::from(v.vram64.unwrap_or(0) / 1024)),
                );
                if let Some(g) = v.vgamem {
                    dev.set("vgamem_mb", Json::Num(u64::from(g / 1024)));
                }
            }
            VideoModel::Virtio => {
                if let Some(h) = v.heads {
                    dev.set("max_outputs", Json::Num(h.into()));
                }
            }
            VideoModel::Vga => {
                if let Some(k) = v.vram {
                    dev.set("vgamem_mb", Json::Num(u64::from(k / 1024)));
                }
            }
            VideoModel::Bochs => {
                if let Some(k) = v.vram {
                    dev.set("vgamem", Json::Num(u64::from(k) * 1024));
                }
            }
            _ => {}
        }
        if v.model != VideoModel::Ramfb {
            pci_addr(b, &mut dev, &v.address, &what)?;
        }
        b.json("-device", dev);
    }
    Ok(())
}
