//! `<tpm>` on the command line, as libvirt 9.0 writes it: the swtpm control socket as a
//! chardev, a `tpmdev` of type emulator on it, and the frontend device (`tpm-tis` or
//! `tpm-crb`) with libvirt's alias `tpm0`.
//!
//! ```text
//! -chardev socket,id=chrtpm,path=SOCK
//! -tpmdev emulator,id=tpm-tpm0,chardev=chrtpm
//! -device {"driver":"tpm-crb","tpmdev":"tpm-tpm0","id":"tpm0"}
//! ```
//!
//! SOCK is [`crate::tpm::socket_path`] in the private dir for an emulated TPM (swtpm is
//! started there before QEMU), the given path for an external one.

use virt_core::error::VirtError;
use virt_core::model::tpm::TpmBackend;

use super::json::Json;
use super::{opt, unsupported, Builder};

/// The TPM's arguments (define allows one at most).
pub(super) fn tpms(b: &mut Builder<'_>) -> Result<(), VirtError> {
    let Some(tpm) = b.def.devices.tpms.first() else {
        return Ok(());
    };
    let socket = match &tpm.backend {
        TpmBackend::Emulator { .. } => crate::tpm::socket_path(&b.ctx.domain_dir)
            .display()
            .to_string(),
        TpmBackend::External { path } => path.clone(),
        TpmBackend::Passthrough { .. } => {
            return Err(unsupported(
                "the QEMU driver does not support TPM passthrough; use the emulator backend",
            ))
        }
    };
    let model = tpm.model.as_deref().unwrap_or("tpm-tis");
    b.arg(
        "-chardev",
        format!("socket,id=chrtpm,path={}", opt(&socket)),
    );
    b.arg("-tpmdev", "emulator,id=tpm-tpm0,chardev=chrtpm");
    b.json(
        "-device",
        Json::obj([
            ("driver", Json::str(model)),
            ("tpmdev", Json::str("tpm-tpm0")),
            ("id", Json::str("tpm0")),
        ]),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::command::{build, LaunchContext};

    fn args(tpm: &str) -> Vec<String> {
        let def = virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>t</name><memory unit='MiB'>128</memory>\
             <os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>\
             <devices><controller type='usb' model='qemu-xhci'/><serial type='pty'/>{tpm}\
             <input type='tablet' bus='usb'/></devices></domain>"
        ))
        .expect("parses");
        let ctx = LaunchContext {
            emulator: "/usr/bin/qemu-system-x86_64".into(),
            domain_dir: "/run/virt/qemu/domain-1-t".into(),
            monitor: "/run/virt/qemu/domain-1-t/monitor.sock".into(),
            kvm_usable: false,
            taps: Vec::new(),
            start_paused: false,
            qemu_version: 7_002_022,
            host_model_cpu: None,
            spice_port: None,
            memory: Default::default(),
        };
        build(&def, &ctx).expect("builds").args
    }

    #[test]
    fn an_emulated_tpm_crb_is_libvirts_three_arguments_after_the_serial_ports() {
        let a = args("<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>");
        let at = a.iter().position(|x| x == "-tpmdev").expect("tpmdev");
        assert_eq!(
            a[at - 2..at + 4],
            [
                "-chardev",
                "socket,id=chrtpm,path=/run/virt/qemu/domain-1-t/swtpm.sock",
                "-tpmdev",
                "emulator,id=tpm-tpm0,chardev=chrtpm",
                "-device",
                r#"{"driver":"tpm-crb","tpmdev":"tpm-tpm0","id":"tpm0"}"#,
            ]
        );
        // libvirt's order: serial ports, then the TPM, then inputs.
        let serial = a
            .iter()
            .position(|x| x.contains("isa-serial"))
            .expect("serial");
        let tablet = a
            .iter()
            .position(|x| x.contains("usb-tablet"))
            .expect("tablet");
        assert!(serial < at && at < tablet, "{a:?}");
    }

    #[test]
    fn tpm_tis_and_external_sockets() {
        let a = args("<tpm model='tpm-tis'><backend type='emulator' version='1.2'/></tpm>");
        assert!(a.contains(&r#"{"driver":"tpm-tis","tpmdev":"tpm-tpm0","id":"tpm0"}"#.to_string()));
        let a = args(
            "<tpm model='tpm-crb'><backend type='external'>\
             <source type='unix' mode='connect' path='/run/my,tpm.sock'/></backend></tpm>",
        );
        assert!(
            a.contains(&"socket,id=chrtpm,path=/run/my,,tpm.sock".to_string()),
            "{a:?}"
        );
        let none = args("");
        assert!(!none.iter().any(|x| x.contains("tpm")), "{none:?}");
    }
}
