//! xl.cfg: the file syntax ([`cfg`](mod@cfg)) and conversions to and from libvirt's domain XML,
//! in libvirt's two native formats for Xen: `xen-xl` (xl.cfg) and `xen-xm` (the older xm
//! format of xend). [`convert_from`] and [`convert_to`] are what the driver serves
//! (virConnectDomainXMLFromNative / ToNative).
//!
//! Both directions match libvirt 9.0 byte for byte (tests/xl_oracle.rs runs libvirt's own
//! driver on every file of tests/data/xl and tests/data/xm) or refuse with CONFIG_UNSUPPORTED
//! naming the key or element; nothing is dropped. The modules follow libvirt's split: what
//! xen_common.c does for both formats is in [`from_native`](mod@from_native) /
//! [`to_native`](mod@to_native) and the device modules (`disk`, `vif`, `graphics`, `chardev`,
//! `pci`, `usb`), xl-only keys in `spice`, `cpuid`, `vnuma` (and the xl branches of the
//! others), xm-only ones in `xm`.
//!
//! Converted, both formats: name, uuid, memory/maxmem, vcpus/maxvcpus, cpus, builder, kernel,
//! ramdisk, extra/root, bootloader/bootargs, on_*, disk, vif (mac, bridge with Open vSwitch
//! VLANs and trunks, ip, script, model, type, vifname, rate), vfb, vnc*, sdl, keymap, serial,
//! parallel, localtime, rtc_timeoffset, pae (1), acpi, apic, hap, viridian, tsc_mode, hpet,
//! e820_host, passthrough (enabled), boot, usb/usbdevice, soundhw, pci, device_model_override.
//! xl only: type, cmdline, qcow2/qed/raw disks with backendtypes and rbd targets, serial
//! lists, channel, spice*, usbctrl, usbdev, nestedhvm, cpuid, bios (ovmf), vnuma,
//! max_grant_frames, max_event_channels, device_model_args. Every other key is refused.

pub mod cfg;
mod chardev;
mod cpuid;
mod disk;
mod features;
pub mod from_native;
mod graphics;
mod guest;
mod pci;
mod spice;
pub mod to_native;
mod usb;
mod vif;
mod vnuma;
mod xm;

pub use from_native::{from_native, from_native_in};
pub use to_native::{to_native, to_native_in};

use from_native::esc;

use virt_core::model::domain::DomainDef;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

/// libvirt's name of the xl.cfg format.
pub const XEN_XL: &str = "xen-xl";
/// libvirt's name of the xm format.
pub const XEN_XM: &str = "xen-xm";

/// A native format name libvirt's Xen driver knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeFormat {
    /// `xen-xl`: xl.cfg.
    Xl,
    /// `xen-xm`: xend's xm configuration.
    Xm,
}

impl NativeFormat {
    /// The format named `name`; anything but `xen-xl` and `xen-xm` is INVALID_ARG, as libvirt
    /// says it ("unsupported config type NAME").
    pub fn parse(name: &str) -> Result<NativeFormat, VirtError> {
        match name {
            XEN_XL => Ok(NativeFormat::Xl),
            XEN_XM => Ok(NativeFormat::Xm),
            other => Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Libxl,
                format!("unsupported config type {other}"),
            )),
        }
    }
}

/// A native configuration in `format` (`xen-xl` or `xen-xm`) as a domain definition.
pub fn convert_from(format: &str, text: &str) -> Result<DomainDef, VirtError> {
    from_native_in(NativeFormat::parse(format)?, text)
}

/// A domain definition as a native configuration in `format` (`xen-xl` or `xen-xm`).
pub fn convert_to(format: &str, def: &DomainDef) -> Result<String, VirtError> {
    to_native_in(NativeFormat::parse(format)?, def)
}

#[cfg(test)]
mod tests;
