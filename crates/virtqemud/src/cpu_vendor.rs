//! The guest CPU's `<vendor>` against the host's, checked when a domain starts (and in its
//! domxml-to-native preview), as libvirt 9.0 checks it for `check='partial'` and
//! `check='full'`: a custom CPU that names a vendor the host CPU is not fails with
//! CPU_INCOMPATIBLE "host CPU vendor does not match required CPU vendor Intel".
//!
//! "Host" is what the accelerator gives: under KVM the physical CPU (`vendor_id` in
//! /proc/cpuinfo), under TCG QEMU's own CPU, whose vendor is AMD whatever the host (its `max`
//! model, libvirt's TCG host CPU). With `check='none'` (the default for custom CPUs under TCG)
//! nothing is compared. The rest of libvirt's comparison (model features against the host's)
//! is not done here: a model the host cannot run fails in QEMU instead.

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::enums::{CpuCheck, CpuMode};
use virt_core::model::DomainDef;
use virt_core::VirtError;

/// libvirt's vendor name of a CPUID vendor string.
fn vendor_name(cpuid: &str) -> Option<&'static str> {
    Some(match cpuid {
        "GenuineIntel" => "Intel",
        "AuthenticAMD" => "AMD",
        "HygonGenuine" => "Hygon",
        "CentaurHauls" | "  Shanghai  " => "Zhaoxin",
        _ => return None,
    })
}

/// The host CPU's vendor from /proc/cpuinfo's text (the first `vendor_id` line).
pub(crate) fn host_vendor(cpuinfo: &str) -> Option<&'static str> {
    let line = cpuinfo.lines().find(|l| l.starts_with("vendor_id"))?;
    let (_, value) = line.split_once(':')?;
    // The value is separated by one space; Zhaoxin's own spaces are part of it.
    vendor_name(value.strip_prefix(' ').unwrap_or(value))
}

/// Refuses `def` when its custom CPU asks for a vendor the CPU it runs on does not have;
/// `kvm` says which accelerator runs it, `cpuinfo` is /proc/cpuinfo's text.
pub(crate) fn check(def: &DomainDef, kvm: bool, cpuinfo: &str) -> Result<(), VirtError> {
    let Some(cpu) = &def.cpu else {
        return Ok(());
    };
    let Some(wanted) = cpu.vendor.as_deref() else {
        return Ok(());
    };
    let custom = cpu.mode.unwrap_or(CpuMode::Custom) == CpuMode::Custom;
    if !custom || !matches!(cpu.check, Some(CpuCheck::Partial | CpuCheck::Full)) {
        return Ok(());
    }
    let host = if kvm {
        host_vendor(cpuinfo)
    } else {
        Some("AMD")
    };
    if host == Some(wanted) {
        return Ok(());
    }
    Err(VirtError::new(
        ErrorCode::CpuIncompatible,
        ErrorDomain::Qemu,
        format!("host CPU vendor does not match required CPU vendor {wanted}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(virt_type: &str, check: &str, vendor: &str) -> DomainDef {
        virt_xml::parse_domain(&format!(
            "<domain type='{virt_type}'><name>v</name><memory>65536</memory>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os>\
             <cpu mode='custom' match='exact' check='{check}'><model>qemu64</model>\
             <vendor>{vendor}</vendor></cpu></domain>"
        ))
        .expect("parses")
    }

    const INTEL: &str = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n";

    #[test]
    fn host_vendors_are_libvirts_names() {
        assert_eq!(host_vendor(INTEL), Some("Intel"));
        assert_eq!(host_vendor("vendor_id\t: AuthenticAMD\n"), Some("AMD"));
        assert_eq!(host_vendor("vendor_id\t:   Shanghai  \n"), Some("Zhaoxin"));
        assert_eq!(host_vendor("model name\t: x\n"), None);
    }

    /// libvirt 9.0 on this AMD host: Intel under KVM or TCG with check='partial' fails to
    /// start with this message; AMD under TCG starts; check='none' compares nothing.
    #[test]
    fn a_vendor_other_than_the_hosts_fails_partial_and_full_checks() {
        let e = check(
            &def("kvm", "partial", "Intel"),
            true,
            "vendor_id : AuthenticAMD\n",
        )
        .expect_err("Intel on AMD");
        assert_eq!(e.code, ErrorCode::CpuIncompatible);
        assert_eq!(
            e.message(),
            "the CPU is incompatible with host CPU: host CPU vendor does not match required \
             CPU vendor Intel"
        );
        check(&def("kvm", "full", "Intel"), true, INTEL).expect("Intel on Intel");
        // TCG's CPU is AMD's whatever the host.
        check(&def("qemu", "partial", "AMD"), false, INTEL).expect("TCG is AMD");
        check(&def("qemu", "partial", "Intel"), false, INTEL).expect_err("TCG is not Intel");
        check(&def("qemu", "none", "Intel"), false, INTEL).expect("nothing compared");
    }
}
