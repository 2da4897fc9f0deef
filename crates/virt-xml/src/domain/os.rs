//! `<os>`: OS type, architecture and machine, firmware, direct kernel boot, container init and
//! the legacy boot order.

use virt_core::model::domain::{Bios, BootMenu, Loader, Nvram, OsDef};
use virt_core::model::enums::BootDev;
use virt_core::model::DomainDef;

use super::non_empty;
use crate::strict::Cursor;
use crate::writer::Writer;
use crate::XmlError;

const OS_TYPES: &[&str] = &["hvm", "xen", "linux", "exe", "uml", "xenpvh"];

/// Architectures libvirt knows (`virArch`).
const ARCHES: &[&str] = &[
    "alpha",
    "armv6l",
    "armv7l",
    "armv7b",
    "aarch64",
    "cris",
    "i686",
    "ia64",
    "lm32",
    "loongarch64",
    "m68k",
    "microblaze",
    "microblazeel",
    "mips",
    "mipsel",
    "mips64",
    "mips64el",
    "openrisc",
    "parisc",
    "parisc64",
    "ppc",
    "ppcle",
    "ppc64",
    "ppc64le",
    "ppcemb",
    "riscv32",
    "riscv64",
    "s390",
    "s390x",
    "sh4",
    "sh4eb",
    "sparc",
    "sparc64",
    "unicore32",
    "x86_64",
    "xtensa",
    "xtensaeb",
];

pub(super) fn parse(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let os_path = format!("{}/os", c.path());
    let mut os = OsDef::default();
    if let Some(mut o) = c.child("os")? {
        parse_type(&mut o, &mut os)?;
        parse_boot(&mut o, &mut os)?;
        parse_firmware(&mut o, &mut os)?;
        parse_direct_and_init(&mut o, &mut os)?;
        o.finish()?;
    }
    if os.os_type.is_empty() {
        if def.bootloader.is_none() {
            return Err(XmlError::Missing {
                path: format!("{os_path}/type"),
            });
        }
        // libvirt: a domain with a host bootloader and no OS type is a Xen PV guest.
        os.os_type = "xen".into();
    }
    if def.bootloader.is_some()
        && (!os.boot_devs.is_empty() || os.bootmenu.is_some() || os.bios.is_some())
    {
        return Err(XmlError::Unsupported {
            path: format!("{os_path}/boot"),
            message:
                "boot devices, bootmenu and bios settings cannot be combined with <bootloader>"
                    .into(),
        });
    }
    def.os = os;
    Ok(())
}

fn parse_type(o: &mut Cursor<'_>, os: &mut OsDef) -> Result<(), XmlError> {
    let Some(mut t) = o.child("type")? else {
        return Ok(());
    };
    os.arch = t.attr_word("arch", ARCHES)?;
    os.machine = non_empty(t.attr_string("machine"));
    let text = t.text()?;
    let word = text.trim();
    if !OS_TYPES.contains(&word) {
        return Err(XmlError::Unsupported {
            path: t.path().to_string(),
            message: format!("unknown OS type '{text}'"),
        });
    }
    os.os_type = word.to_string();
    t.finish()
}

fn parse_boot(o: &mut Cursor<'_>, os: &mut OsDef) -> Result<(), XmlError> {
    for mut b in o.children("boot") {
        let dev = b.attr_req("dev")?;
        let dev = BootDev::from_xml(dev)
            .ok_or_else(|| b.invalid_attr("dev", dev, "expected hd, fd, cdrom or network"))?;
        b.finish()?;
        os.boot_devs.push(dev);
    }
    if os.boot_devs.len() > 4 {
        return Err(XmlError::Invalid {
            path: format!("{}/boot[5]", o.path()),
            message: "at most 4 boot devices may be listed".into(),
        });
    }
    if let Some(mut m) = o.child("bootmenu")? {
        let enable = m.attr_yes_no("enable")?.ok_or_else(|| XmlError::Missing {
            path: m.attr_path("enable"),
        })?;
        let timeout = m.attr_u32("timeout")?;
        if timeout.is_some_and(|t| t > 65535) {
            return Err(m.invalid_attr(
                "timeout",
                &timeout.unwrap_or(0).to_string(),
                "expected 0 to 65535",
            ));
        }
        m.finish()?;
        os.bootmenu = Some(BootMenu {
            enable,
            timeout_ms: timeout,
        });
    }
    if let Some(mut m) = o.child("smbios")? {
        os.smbios_mode = m.attr_word("mode", &["emulate", "host", "sysinfo"])?;
        os.smbios_mode.get_or_insert_with(|| "emulate".into());
        m.finish()?;
    }
    if let Some(mut b) = o.child("bios")? {
        let useserial = b.attr_yes_no("useserial")?;
        let reboot_timeout = b.attr_with("rebootTimeout", "expected -1 to 65535", |v| {
            crate::strict::parse_i32(v).filter(|n| (-1..=65535).contains(n))
        })?;
        b.finish()?;
        os.bios = Some(Bios {
            useserial,
            reboot_timeout,
        });
    }
    Ok(())
}

/// The firmware features `<os><firmware><feature name=...>` may name.
const FIRMWARE_FEATURES: &[&str] = &["enrolled-keys", "secure-boot"];

fn parse_firmware(o: &mut Cursor<'_>, os: &mut OsDef) -> Result<(), XmlError> {
    os.firmware = o.attr_word("firmware", &["bios", "efi"])?;
    if let Some(mut f) = o.child("firmware")? {
        for mut feat in f.children("feature") {
            let enabled = feat
                .attr_yes_no("enabled")?
                .ok_or_else(|| XmlError::Missing {
                    path: feat.attr_path("enabled"),
                })?;
            let name =
                feat.attr_word("name", FIRMWARE_FEATURES)?
                    .ok_or_else(|| XmlError::Missing {
                        path: feat.attr_path("name"),
                    })?;
            if os.firmware_features.iter().any(|(n, _)| *n == name) {
                return Err(XmlError::Invalid {
                    path: feat.path().to_string(),
                    message: format!("firmware feature '{name}' is listed twice"),
                });
            }
            feat.finish()?;
            os.firmware_features.push((name, enabled));
        }
        f.finish()?;
    }
    if let Some(mut l) = o.child("loader")? {
        let loader = Loader {
            readonly: l.attr_yes_no("readonly")?,
            secure: l.attr_yes_no("secure")?,
            loader_type: l.attr_word("type", &["rom", "pflash"])?,
            stateless: l.attr_yes_no("stateless")?,
            path: non_empty(Some(l.text()?.trim().to_string())),
        };
        l.finish()?;
        let loader_type = loader
            .loader_type
            .clone()
            .or_else(|| loader.path.as_ref().map(|_| "rom".to_string()));
        os.loader = Some(Loader {
            loader_type,
            ..loader
        });
    }
    if let Some(mut n) = o.child("nvram")? {
        let nvram = Nvram {
            template: n.attr_string("template"),
            path: non_empty(Some(n.text()?.trim().to_string())),
        };
        n.finish()?;
        os.nvram = Some(nvram);
    }
    Ok(())
}

fn parse_direct_and_init(o: &mut Cursor<'_>, os: &mut OsDef) -> Result<(), XmlError> {
    os.kernel = non_empty(o.child_text("kernel")?);
    os.initrd = non_empty(o.child_text("initrd")?);
    os.cmdline = non_empty(o.child_text("cmdline")?);
    os.dtb = non_empty(o.child_text("dtb")?);
    os.init = non_empty(o.child_text("init")?);
    for mut a in o.children("initarg") {
        os.init_args.push(a.text()?);
        a.finish()?;
    }
    for mut e in o.children("initenv") {
        let name = e.attr_req("name")?.to_string();
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(e.invalid_attr("name", &name, "expected an environment variable name"));
        }
        os.init_env.push((name, e.text()?));
        e.finish()?;
    }
    os.init_dir = non_empty(o.child_text("initdir")?);
    os.init_user = non_empty(o.child_text("inituser")?);
    os.init_group = non_empty(o.child_text("initgroup")?);
    Ok(())
}

pub(super) fn format(w: &mut Writer, def: &DomainDef) {
    let os = &def.os;
    w.tag("os")
        .attr_opt("firmware", os.firmware.as_deref())
        .open();
    w.tag("type")
        .attr_opt("arch", os.arch.as_deref())
        .attr_opt("machine", os.machine.as_deref())
        .text(&os.os_type);
    if !os.firmware_features.is_empty() {
        w.tag("firmware").open();
        for (name, enabled) in &os.firmware_features {
            w.tag("feature")
                .yes_no("enabled", Some(*enabled))
                .attr("name", name)
                .empty();
        }
        w.close("firmware");
    }
    w.text_elem("init", os.init.as_deref());
    for a in &os.init_args {
        w.tag("initarg").text(a);
    }
    for (name, value) in &os.init_env {
        w.tag("initenv").attr("name", name).text(value);
    }
    w.text_elem("initdir", os.init_dir.as_deref());
    w.text_elem("inituser", os.init_user.as_deref());
    w.text_elem("initgroup", os.init_group.as_deref());
    if let Some(l) = &os.loader {
        let tag = w
            .tag("loader")
            .yes_no("readonly", l.readonly)
            .yes_no("secure", l.secure)
            .attr_opt("type", l.loader_type.as_deref())
            .yes_no("stateless", l.stateless);
        match &l.path {
            Some(p) => tag.text(p),
            None => tag.empty(),
        }
    }
    if let Some(n) = &os.nvram {
        let tag = w.tag("nvram").attr_opt("template", n.template.as_deref());
        match &n.path {
            Some(p) => tag.text(p),
            None => tag.empty(),
        }
    }
    w.text_elem("kernel", os.kernel.as_deref());
    w.text_elem("initrd", os.initrd.as_deref());
    w.text_elem("cmdline", os.cmdline.as_deref());
    w.text_elem("dtb", os.dtb.as_deref());
    if def.bootloader.is_none() {
        for b in &os.boot_devs {
            w.tag("boot").attr("dev", b).empty();
        }
        if let Some(m) = os.bootmenu {
            let timeout = if m.enable { m.timeout_ms } else { None };
            w.tag("bootmenu")
                .yes_no("enable", Some(m.enable))
                .attr_opt("timeout", timeout)
                .empty();
        }
        if let Some(b) = os.bios {
            if b.useserial.is_some() || b.reboot_timeout.is_some() {
                w.tag("bios")
                    .yes_no("useserial", b.useserial)
                    .attr_opt("rebootTimeout", b.reboot_timeout)
                    .empty();
            }
        }
    }
    if let Some(m) = &os.smbios_mode {
        w.tag("smbios").attr("mode", m).empty();
    }
    w.close("os");
}

#[cfg(test)]
mod tests {
    use virt_core::xml::FormatOptions;

    fn os_of(xml: &str) -> String {
        let def = crate::parse_domain(xml).expect("parses");
        let out = super::super::format(
            &def,
            FormatOptions {
                id: None,
                secure: true,
                inactive: true,
            },
        );
        let start = out.find("<os").expect("os");
        let end = out.find("</os>").expect("/os") + "</os>".len();
        out[start..end].to_string()
    }

    fn domain(os: &str) -> String {
        format!("<domain type='qemu'><name>a</name><memory>65536</memory>{os}</domain>")
    }

    #[test]
    fn firmware_features_and_stateless_loader_print_as_libvirt() {
        let os = os_of(&domain(
            "<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type>\
             <firmware><feature enabled='yes' name='secure-boot'/>\
             <feature enabled='no' name='enrolled-keys'/></firmware></os>",
        ));
        assert_eq!(
            os,
            "<os firmware='efi'>\n    <type arch='x86_64' machine='q35'>hvm</type>\n    \
             <firmware>\n      <feature enabled='yes' name='secure-boot'/>\n      \
             <feature enabled='no' name='enrolled-keys'/>\n    </firmware>\n    \
             <boot dev='hd'/>\n  </os>"
        );
        let os = os_of(&domain(
            "<os><type arch='x86_64' machine='q35'>hvm</type>\
             <loader readonly='yes' type='pflash' stateless='yes' secure='no'>/c.fd</loader></os>",
        ));
        assert!(
            os.contains(
                "<loader readonly='yes' secure='no' type='pflash' stateless='yes'>/c.fd</loader>"
            ),
            "{os}"
        );
    }

    #[test]
    fn bad_firmware_features_name_the_attribute() {
        let e = crate::parse_domain(&domain(
            "<os firmware='efi'><type>hvm</type><firmware>\
             <feature enabled='yes' name='fast-boot'/></firmware></os>",
        ))
        .expect_err("unknown feature");
        assert!(e.to_string().contains("fast-boot"), "{e}");
        let e = crate::parse_domain(&domain(
            "<os firmware='efi'><type>hvm</type><firmware>\
             <feature name='secure-boot'/></firmware></os>",
        ))
        .expect_err("no enabled");
        assert!(e.to_string().contains("@enabled"), "{e}");
        let e = crate::parse_domain(&domain(
            "<os firmware='efi'><type>hvm</type><firmware>\
             <feature enabled='yes' name='secure-boot'/><feature enabled='no' name='secure-boot'/>\
             </firmware></os>",
        ))
        .expect_err("twice");
        assert!(e.to_string().contains("twice"), "{e}");
    }
}
