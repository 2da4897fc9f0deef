//! Device and lifecycle rules libvirt 9.0's QEMU driver enforces when a definition is defined
//! (its `qemuValidateDomainDef` and device validation), with libvirt's codes and texts, each
//! error naming the element it is about. They run after the post-parse step and before the
//! honoured-set check, so a definition libvirt refuses is refused with libvirt's words rather
//! than as merely unsupported:
//!
//! | rule | text |
//! |---|---|
//! | `<on_poweroff>`/`<on_reboot>` `preserve` | qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff' |
//! | any `rename-restart` | qemu driver doesn't support the 'rename-restart' action for 'on_reboot'/'on_poweroff'/'on_crash' |
//! | `on_reboot` `destroy` with `on_poweroff` `restart` | qemu driver doesn't support 'onReboot' set to 'destroy and 'onPoweroff' set to 'reboot' (sic) |
//! | `<watchdog model='itco'>` | unknown watchdog model 'itco' (the model is newer than 9.0) |
//! | a `spicevmc`/`spiceport` character device without SPICE graphics | chardev 'spicevmc' not supported without spice graphics |
//! | a SPICE `tlsPort` | spice TLS port set in XML configuration, but TLS is disabled in qemu.conf (this daemon configures no SPICE TLS) |
//! | `<shareable/>` on a writable non-raw disk | shared access for disk 'vdb' requires use of supported storage format |
//! | a read-only IDE or SATA disk (not a cdrom) | readonly sata disks are not supported |
//! | a floppy on another bus (INTERNAL_ERROR) | Invalid bus type 'sata' for floppy disk |
//! | a floppy not named `fdX` (INTERNAL_ERROR) | Invalid floppy device name: vda |
//! | `<vendor>` without `<model>` (XML_ERROR) | CPU vendor specified without CPU model |
//! | `<bios useserial='yes'>` without a serial port (XML_ERROR) | need at least one serial port to use BIOS serial output |
//!
//! All others are CONFIG_UNSUPPORTED. One more rule is ours, not libvirt's (which defines these and
//! fails at start): displays this host cannot give a guest are refused at define with the
//! reason, `sdl` (no X display for a daemon), `egl-headless`, SPICE `<gl enable='yes'>` and
//! video `<acceleration accel3d='yes'>` (no DRM render node).

use virt_core::error::{ErrorCode, ErrorDomain, Violation};
use virt_core::model::chardev::CharSource;
use virt_core::model::enums::{
    CharType, DiskBus, DiskDevice, GraphicsType, LifecycleAction, ListenType, WatchdogModel,
};
use virt_core::model::DomainDef;
use virt_core::VirtError;

fn refuse(path: String, detail: String) -> VirtError {
    let mut e = VirtError::new(ErrorCode::ConfigUnsupported, ErrorDomain::Qemu, detail);
    e.violations.push(Violation {
        description: e.message(),
        path,
    });
    e
}

/// Every rule of the module docs, in that order; the first broken one is the error.
pub(crate) fn check(def: &DomainDef) -> Result<(), VirtError> {
    lifecycle(def)?;
    watchdog(def)?;
    spice_chardevs(def)?;
    spice_tls(def)?;
    shareable_disks(def)?;
    readonly_ide(def)?;
    floppies(def)?;
    cpu_vendor(def)?;
    bios_serial(def)?;
    host_displays(def)
}

fn bios_serial(def: &DomainDef) -> Result<(), VirtError> {
    let useserial = def.os.bios.and_then(|b| b.useserial) == Some(true);
    if useserial && def.devices.serials.is_empty() {
        let mut e = refuse(
            "/domain/os/bios/@useserial".into(),
            "need at least one serial port to use BIOS serial output".into(),
        );
        e.code = ErrorCode::XmlError;
        e.domain = ErrorDomain::Domain;
        return Err(e);
    }
    Ok(())
}

fn readonly_ide(def: &DomainDef) -> Result<(), VirtError> {
    for (i, d) in def.devices.disks.iter().enumerate() {
        let bus = d.target_bus.unwrap_or(DiskBus::Virtio);
        if d.readonly && d.device == DiskDevice::Disk && matches!(bus, DiskBus::Ide | DiskBus::Sata)
        {
            return Err(refuse(
                format!("/domain/devices/disk[{}]/readonly", i + 1),
                format!("readonly {bus} disks are not supported"),
            ));
        }
    }
    Ok(())
}

fn floppies(def: &DomainDef) -> Result<(), VirtError> {
    for (i, d) in def.devices.disks.iter().enumerate() {
        if d.device != DiskDevice::Floppy {
            continue;
        }
        let path = format!("/domain/devices/disk[{}]/target", i + 1);
        let bus = d.target_bus.unwrap_or(DiskBus::Fdc);
        let detail = if bus != DiskBus::Fdc {
            format!("Invalid bus type '{bus}' for floppy disk")
        } else if !d.target_dev.starts_with("fd") {
            format!("Invalid floppy device name: {}", d.target_dev)
        } else {
            continue;
        };
        let mut e = refuse(path, detail);
        e.code = ErrorCode::InternalError;
        return Err(e);
    }
    Ok(())
}

fn cpu_vendor(def: &DomainDef) -> Result<(), VirtError> {
    match &def.cpu {
        Some(cpu) if cpu.vendor.is_some() && cpu.model.is_none() => {
            let mut e = refuse(
                "/domain/cpu/vendor".into(),
                "CPU vendor specified without CPU model".into(),
            );
            e.code = ErrorCode::XmlError;
            e.domain = ErrorDomain::Domain;
            Err(e)
        }
        _ => Ok(()),
    }
}

/// The reason a DRM render node is missing, shared with the command line's refusals.
pub(crate) const NO_RENDER_NODE: &str =
    "needs a DRM render node (/dev/dri/renderD*), which this host does not have";

/// The reason SDL cannot be had.
pub(crate) const NO_X_DISPLAY: &str =
    "needs an X display on the host, which a daemon does not have; use 'vnc' or 'spice'";

fn host_displays(def: &DomainDef) -> Result<(), VirtError> {
    for (i, g) in def.devices.graphics.iter().enumerate() {
        let at = format!("/domain/devices/graphics[{}]", i + 1);
        let reason = match g.graphics_type {
            GraphicsType::Sdl => Some(("@type", format!("graphics type 'sdl' {NO_X_DISPLAY}"))),
            GraphicsType::EglHeadless => Some((
                "@type",
                format!("graphics type 'egl-headless' {NO_RENDER_NODE}"),
            )),
            _ if g.gl_enable == Some(true) => Some((
                "gl/@enable",
                format!("OpenGL (<gl enable='yes'/>) {NO_RENDER_NODE}"),
            )),
            _ => None,
        };
        if let Some((attr, detail)) = reason {
            return Err(refuse(format!("{at}/{attr}"), detail));
        }
    }
    for (i, v) in def.devices.videos.iter().enumerate() {
        if v.accel3d == Some(true) {
            return Err(refuse(
                format!(
                    "/domain/devices/video[{}]/model/acceleration/@accel3d",
                    i + 1
                ),
                format!("3D acceleration (accel3d='yes') {NO_RENDER_NODE}"),
            ));
        }
    }
    Ok(())
}

fn lifecycle(def: &DomainDef) -> Result<(), VirtError> {
    let events = [
        ("on_poweroff", def.poweroff_action()),
        ("on_reboot", def.reboot_action()),
        ("on_crash", def.crash_action()),
    ];
    for (name, action) in events {
        let path = format!("/domain/{name}");
        match action {
            LifecycleAction::Preserve if name != "on_crash" => {
                return Err(refuse(
                    path,
                    "qemu driver doesn't support the 'preserve' action for \
                     'on_reboot'/'on_poweroff'"
                        .into(),
                ))
            }
            LifecycleAction::RenameRestart => {
                return Err(refuse(
                    path,
                    "qemu driver doesn't support the 'rename-restart' action for \
                     'on_reboot'/'on_poweroff'/'on_crash'"
                        .into(),
                ))
            }
            _ => {}
        }
    }
    // A reboot that powers off and a power-off that reboots cannot both be had.
    if def.reboot_action() == LifecycleAction::Destroy
        && def.poweroff_action() == LifecycleAction::Restart
    {
        return Err(refuse(
            "/domain/on_reboot".into(),
            "qemu driver doesn't support 'onReboot' set to 'destroy and 'onPoweroff' set to \
             'reboot'"
                .into(),
        ));
    }
    Ok(())
}

fn watchdog(def: &DomainDef) -> Result<(), VirtError> {
    match &def.devices.watchdog {
        Some(w) if w.model == WatchdogModel::Itco => Err(refuse(
            "/domain/devices/watchdog/@model".into(),
            "unknown watchdog model 'itco'".into(),
        )),
        _ => Ok(()),
    }
}

/// Every character device's source with the XPath of its element.
fn chardev_sources(def: &DomainDef) -> Vec<(String, &CharSource)> {
    let d = &def.devices;
    let mut out = Vec::new();
    for (kind, list) in [
        ("serial", &d.serials),
        ("parallel", &d.parallels),
        ("console", &d.consoles),
        ("channel", &d.channels),
    ] {
        for (i, c) in list.iter().enumerate() {
            out.push((format!("/domain/devices/{kind}[{}]", i + 1), &c.source));
        }
    }
    for (i, r) in d.redirdevs.iter().enumerate() {
        out.push((format!("/domain/devices/redirdev[{}]", i + 1), &r.source));
    }
    out
}

fn spice_chardevs(def: &DomainDef) -> Result<(), VirtError> {
    let spice = def
        .devices
        .graphics
        .iter()
        .any(|g| g.graphics_type == GraphicsType::Spice);
    if spice {
        return Ok(());
    }
    for (path, s) in chardev_sources(def) {
        if matches!(s.char_type, CharType::Spicevmc | CharType::Spiceport) {
            return Err(refuse(
                format!("{path}/@type"),
                format!(
                    "chardev '{}' not supported without spice graphics",
                    s.char_type
                ),
            ));
        }
    }
    Ok(())
}

fn spice_tls(def: &DomainDef) -> Result<(), VirtError> {
    for (i, g) in def.devices.graphics.iter().enumerate() {
        // Ports belong to an address (or network) listen: behind a socket one libvirt drops
        // them, and so does our XML (they are not printed).
        let ported = g
            .listens
            .first()
            .is_none_or(|l| matches!(l.listen_type, ListenType::Address | ListenType::Network));
        if g.graphics_type == GraphicsType::Spice && ported && g.tls_port.is_some_and(|p| p > 0) {
            return Err(refuse(
                format!("/domain/devices/graphics[{}]/@tlsPort", i + 1),
                "spice TLS port set in XML configuration, but TLS is disabled in qemu.conf".into(),
            ));
        }
    }
    Ok(())
}

fn shareable_disks(def: &DomainDef) -> Result<(), VirtError> {
    for (i, d) in def.devices.disks.iter().enumerate() {
        let format = d.driver.as_ref().and_then(|x| x.format.as_deref());
        if d.shareable && !d.readonly && !matches!(format, None | Some("raw")) {
            return Err(refuse(
                format!("/domain/devices/disk[{}]/shareable", i + 1),
                format!(
                    "shared access for disk '{}' requires use of supported storage format",
                    d.target_dev
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use virt_core::xml::DomainXmlCodec;

    use super::*;

    fn def(inner: &str) -> DomainDef {
        virt_xml::LibvirtXml
            .parse_domain(&format!(
                "<domain type='qemu'><name>c</name><memory>65536</memory>\
                 <os><type arch='x86_64' machine='pc'>hvm</type></os>{inner}</domain>"
            ))
            .expect("parses")
    }

    fn refusal(inner: &str) -> (String, String) {
        let e = check(&def(inner)).expect_err("refused");
        assert_eq!(e.code, ErrorCode::ConfigUnsupported);
        (e.violations[0].path.clone(), e.detail)
    }

    #[test]
    fn lifecycle_actions_libvirt_refuses_are_refused_with_its_words() {
        assert_eq!(
            refusal("<on_reboot>preserve</on_reboot>"),
            (
                "/domain/on_reboot".into(),
                "qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff'"
                    .into()
            )
        );
        assert_eq!(
            refusal("<on_crash>rename-restart</on_crash>").0,
            "/domain/on_crash"
        );
        assert_eq!(
            refusal("<on_poweroff>restart</on_poweroff><on_reboot>destroy</on_reboot>").1,
            "qemu driver doesn't support 'onReboot' set to 'destroy and 'onPoweroff' set to \
             'reboot'"
        );
        for ok in [
            "<on_crash>preserve</on_crash>",
            "<on_crash>coredump-restart</on_crash>",
            "<on_poweroff>restart</on_poweroff><on_reboot>restart</on_reboot>",
        ] {
            check(&def(ok)).expect(ok);
        }
    }

    #[test]
    fn floppies_off_the_fdc_and_vendors_without_models_are_refused_as_libvirt_does() {
        let e = check(&def(
            "<devices><disk type='file' device='floppy'><source file='/x.img'/>\
             <target dev='sda' bus='sata'/></disk></devices>",
        ))
        .expect_err("sata floppy");
        assert_eq!(
            (e.code, e.detail.as_str()),
            (
                ErrorCode::InternalError,
                "Invalid bus type 'sata' for floppy disk"
            )
        );
        assert_eq!(
            refusal(
                "<devices><disk type='file'><source file='/x.img'/>\
                 <target dev='sda' bus='sata'/><readonly/></disk></devices>"
            ),
            (
                "/domain/devices/disk[1]/readonly".into(),
                "readonly sata disks are not supported".into()
            )
        );
        let mut d = def("");
        d.os.bios = Some(virt_core::model::domain::Bios {
            useserial: Some(true),
            reboot_timeout: None,
        });
        let e = check(&d).expect_err("no serial port");
        assert_eq!(
            e.detail,
            "need at least one serial port to use BIOS serial output"
        );
        let e = check(&def("<cpu mode='host-model'><vendor>Intel</vendor></cpu>"))
            .expect_err("vendor alone");
        assert_eq!(
            (e.code, e.detail.as_str()),
            (
                ErrorCode::XmlError,
                "CPU vendor specified without CPU model"
            )
        );
    }

    #[test]
    fn itco_spice_chardevs_without_spice_tls_ports_and_shared_qcow2_are_refused() {
        assert_eq!(
            refusal("<devices><watchdog model='itco'/></devices>"),
            (
                "/domain/devices/watchdog/@model".into(),
                "unknown watchdog model 'itco'".into()
            )
        );
        assert_eq!(
            refusal(
                "<devices><graphics type='vnc'/><channel type='spicevmc'>\
                 <target type='virtio' name='com.redhat.spice.0'/></channel></devices>"
            ),
            (
                "/domain/devices/channel[1]/@type".into(),
                "chardev 'spicevmc' not supported without spice graphics".into()
            )
        );
        assert_eq!(
            refusal("<devices><redirdev bus='usb' type='spicevmc'/></devices>").0,
            "/domain/devices/redirdev[1]/@type"
        );
        check(&def(
            "<devices><graphics type='spice'/><redirdev bus='usb' type='spicevmc'/></devices>",
        ))
        .expect("with SPICE");
        assert_eq!(
            refusal("<devices><graphics type='spice' tlsPort='5901' autoport='no'/></devices>").1,
            "spice TLS port set in XML configuration, but TLS is disabled in qemu.conf"
        );
        // Behind a socket listen libvirt drops the ports: the TLS port is not refused.
        check(&def(
            "<devices><graphics type='spice' tlsPort='5901' autoport='no'>\
             <listen type='socket' socket='/tmp/s.sock'/></graphics></devices>",
        ))
        .expect("no TLS port behind a socket");
        assert_eq!(
            refusal("<devices><graphics type='sdl'/></devices>"),
            (
                "/domain/devices/graphics[1]/@type".into(),
                format!("graphics type 'sdl' {NO_X_DISPLAY}")
            )
        );
        assert_eq!(
            refusal(
                "<devices><graphics type='spice'><gl enable='yes'/></graphics>\
                 <video><model type='virtio'><acceleration accel3d='yes'/></model></video>\
                 </devices>"
            )
            .0,
            "/domain/devices/graphics[1]/gl/@enable"
        );
        assert_eq!(
            refusal(
                "<devices><video><model type='virtio'><acceleration accel3d='yes'/></model>\
                 </video></devices>"
            )
            .1,
            format!("3D acceleration (accel3d='yes') {NO_RENDER_NODE}")
        );
        assert_eq!(
            refusal(
                "<devices><disk type='file'><driver name='qemu' type='qcow2'/>\
                 <source file='/a.qcow2'/><target dev='vdb' bus='virtio'/><shareable/></disk>\
                 </devices>"
            ),
            (
                "/domain/devices/disk[1]/shareable".into(),
                "shared access for disk 'vdb' requires use of supported storage format".into()
            )
        );
    }
}
