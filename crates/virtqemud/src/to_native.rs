//! domxml-to-native for QEMU (libvirt: virConnectDomainXMLToNative, format `qemu-argv`; the
//! call is in `capabilities.rs`): the command line a start of the definition would run, printed
//! as libvirt prints it, one line of `VAR=value` environment, the binary and its arguments,
//! shell-quoted.
//!
//! The definition goes through what define checks (the parser, what the driver honours, the
//! emulator) and then through the very preparation and builder a start uses
//! (`live/prepare.rs` with `PrepareFor::Preview`, then `command::build`), so the preview is the
//! start's command line except where a start hands QEMU a resource: tap descriptors show as
//! numbers with `/dev/null` behind them, the private dir is named for ID -1 and is not created,
//! as libvirt's preview does. Nothing is defined, created or started.

/// The one native format of the QEMU driver.
pub const QEMU_ARGV: &str = "qemu-argv";

#[cfg(test)]
mod tests {
    use virt_core::driver::prelude::*;
    use virt_core::ErrorCode;

    use crate::tests::{fake_emulator, open};

    fn guest(nics: &str) -> String {
        format!(
            "<domain type='qemu'><name>prev</name>\
             <uuid>7e570000-0000-4000-8000-000000000001</uuid><memory>65536</memory>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
             <emulator>{}</emulator>{nics}</devices></domain>",
            fake_emulator().display()
        )
    }

    #[tokio::test]
    async fn the_preview_is_one_line_of_environment_and_argv_and_touches_nothing() {
        let root = tempfile::tempdir().expect("root");
        let d = open(root.path(), virt_core::runtime::Mode::System);
        let nic = "<interface type='ethernet'><mac address='52:54:00:00:00:02'/>\
                   <model type='virtio'/></interface>";
        let line = d
            .domain_xml_to_native("qemu-argv", &guest(nic), 0)
            .await
            .expect("preview");
        assert!(!line.contains('\n'), "{line}");
        let private = root.path().join("run/virt/qemu/domain--1-prev");
        let program = format!(
            " {} -name guest=prev,debug-threads=on -S ",
            fake_emulator().display()
        );
        assert!(line.starts_with("LC_ALL=C PATH="), "{line}");
        assert!(
            line.contains(&format!("HOME={} ", private.display())),
            "{line}"
        );
        assert!(line.contains(&program), "{line}");
        assert!(
            line.contains(r#"-netdev '{"type":"tap","fd":"3","id":"hostnet0"}'"#),
            "{line}"
        );
        assert!(!private.exists(), "a preview makes no private dir");
        let none = d.list_all_domains(0).await.expect("list");
        assert!(none.is_empty(), "a preview defines nothing");
    }

    #[tokio::test]
    async fn other_formats_flags_and_bad_definitions_are_refused_as_libvirt_does() {
        let root = tempfile::tempdir().expect("root");
        let d = open(root.path(), virt_core::runtime::Mode::System);
        let e = d
            .domain_xml_to_native("native-xen", &guest(""), 0)
            .await
            .expect_err("format");
        assert_eq!(
            (e.code, e.message()),
            (
                ErrorCode::InvalidArg,
                "invalid argument: unsupported config type native-xen".to_string()
            )
        );
        let e = d
            .domain_xml_to_native("qemu-argv", &guest(""), 1)
            .await
            .expect_err("flags");
        assert_eq!(e.code, ErrorCode::InvalidArg);
        let missing = guest("").replace(
            &fake_emulator().display().to_string(),
            "/nonexistent/qemu-kvm",
        );
        let e = d
            .domain_xml_to_native("qemu-argv", &missing, 0)
            .await
            .expect_err("emulator");
        assert_eq!(
            (e.code, e.detail.as_str()),
            (
                ErrorCode::SystemError,
                "Cannot check QEMU binary /nonexistent/qemu-kvm: No such file or directory"
            )
        );
    }
}
