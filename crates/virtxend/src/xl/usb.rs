//! USB of an HVM guest: `usbdevice` (emulated `tablet`, `mouse`, `keyboard`; one value in both
//! formats, a list in xl) with the `usb = 1` libvirt writes beside it, and xl's `usbctrl`
//! (`version=1|2,ports=N` controllers) and `usbdev` (`hostbus=B,hostaddr=D` passthrough).

use std::fmt::Write as _;

use virt_core::VirtError;

use super::from_native::Cfg;
use super::NativeFormat;

/// The emulated USB input devices.
pub(crate) fn inputs(c: &Cfg, hvm: bool, x: &mut String) -> Result<(), VirtError> {
    let devs: Vec<&str> = match c.str("usbdevice") {
        Ok(v) => v.into_iter().collect(),
        Err(_) if c.format == NativeFormat::Xl => c.list("usbdevice")?,
        Err(e) => return Err(e),
    };
    if (!devs.is_empty() || c.has("usb")) && !hvm {
        let k = if devs.is_empty() { "usb" } else { "usbdevice" };
        return Err(c.refuse(k, "only for HVM guests"));
    }
    match c.flag("usb")? {
        None => {}
        Some(true) if !devs.is_empty() => {}
        Some(_) => return Err(c.refuse("usb", "only 'usb = 1' beside 'usbdevice' is supported")),
    }
    for dev in devs {
        let ty = match dev {
            "tablet" | "mouse" | "keyboard" => dev,
            o => return Err(c.refuse("usbdevice", format!("'{o}' is not supported"))),
        };
        let _ = writeln!(x, "    <input type='{ty}' bus='usb'/>");
    }
    Ok(())
}

fn number(v: &str, what: &str, max: u32) -> Result<u32, String> {
    v.parse::<u32>()
        .ok()
        .filter(|n| *n <= max && !v.starts_with('0') || v == "0")
        .ok_or_else(|| format!("{what} '{v}' is not supported"))
}

/// xl's `usbctrl` list as USB controllers.
pub(crate) fn controllers(c: &Cfg, hvm: bool, x: &mut String) -> Result<(), VirtError> {
    for (index, spec) in c.list("usbctrl")?.into_iter().enumerate() {
        let bad = |why: String| c.refuse("usbctrl", format!("'{spec}': {why}"));
        if !hvm {
            return Err(bad("only for HVM guests".into()));
        }
        let (mut version, mut ports) = (None, None);
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.split_once('=') {
                Some(("type", "qusb")) => {}
                Some(("version", v @ ("1" | "2"))) => version = Some(v),
                Some(("ports", v)) => ports = Some(number(v, "ports", 15).map_err(bad)?),
                Some((k, v)) => return Err(bad(format!("'{k}={v}' is not supported"))),
                None => return Err(bad(format!("'{item}' is not a key=value parameter"))),
            }
        }
        let (Some(version), Some(ports)) = (version, ports) else {
            return Err(bad("needs 'version=1|2' and 'ports=N'".into()));
        };
        if ports == 0 {
            return Err(bad("needs at least one port".into()));
        }
        let _ = writeln!(
            x,
            "    <controller type='usb' index='{index}' model='qusb{version}' ports='{ports}'/>"
        );
    }
    Ok(())
}

/// xl's `usbdev` list as USB host devices.
pub(crate) fn hostdevs(c: &Cfg, hvm: bool, x: &mut String) -> Result<(), VirtError> {
    for spec in c.list("usbdev")? {
        let bad = |why: String| c.refuse("usbdev", format!("'{spec}': {why}"));
        if !hvm {
            return Err(bad("only for HVM guests".into()));
        }
        let (mut bus, mut addr) = (None, None);
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.split_once('=') {
                Some(("hostbus", v)) => bus = Some(number(v, "hostbus", 999).map_err(bad)?),
                Some(("hostaddr", v)) => addr = Some(number(v, "hostaddr", 999).map_err(bad)?),
                Some((k, v)) => return Err(bad(format!("'{k}={v}' is not supported"))),
                None => return Err(bad(format!("'{item}' is not a key=value parameter"))),
            }
        }
        let (Some(bus), Some(addr)) = (bus, addr) else {
            return Err(bad("needs 'hostbus' and 'hostaddr'".into()));
        };
        let _ = write!(
            x,
            "    <hostdev mode='subsystem' type='usb' managed='no'>\n      <source>\n        \
             <address bus='{bus}' device='{addr}'/>\n      </source>\n    </hostdev>\n"
        );
    }
    Ok(())
}
