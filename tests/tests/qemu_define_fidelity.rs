//! What a define fills in, compared with libvirt 9.0's QEMU driver on the same machine: for
//! every definition under tests/data/define-fidelity, `dumpxml --inactive` after a define on
//! virtqemud is byte for byte what libvirt prints after defining it on qemu:///system (the
//! generated UUID and MAC addresses aside): the canonical machine type, the default CPU, the
//! machine's controllers, PS/2 inputs, balloon, audio, device models, every PCI address and
//! the root ports and bridges they need, USB and virtio-serial ports, USB hubs.
//!
//! Needs a running libvirt with its QEMU driver (tools/test-all.sh starts one with
//! ../shared/tools/libvirt-anchor.sh). Without it the test prints a notice and passes, unless
//! VIRT_REQUIRE_LIBVIRT is set.
#![cfg(feature = "system-tests")]

use std::path::{Path, PathBuf};
use std::process::Command;

use virt_tests::{workspace_bin, DaemonUnderTest};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/define-fidelity");

fn libvirt_available() -> bool {
    Command::new("virsh")
        .args(["-c", "qemu:///system", "version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn virsh(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("virsh")
        .args(["-c", "qemu:///system"])
        .args(args)
        .output()
        .expect("run virsh");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn virt(socket: &Path, args: &[&str]) -> (bool, String, String) {
    let uri = format!("qemu+unix:///system?socket={}", socket.display());
    let out = Command::new(workspace_bin("virt"))
        .args(["-c", &uri])
        .args(args)
        .output()
        .expect("run virt");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Drops what a define generates at random: the UUID and MAC addresses.
fn normalise(xml: &str) -> String {
    xml.lines()
        .filter(|l| !l.trim_start().starts_with("<uuid>"))
        .map(|l| match l.find("<mac address='") {
            Some(i) => format!("{}<mac address='*'/>", &l[..i]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn name_of(xml: &str) -> String {
    let start = xml.find("<name>").expect("<name>") + 6;
    let end = xml[start..].find("</name>").expect("</name>") + start;
    xml[start..end].to_string()
}

/// Removes the domain from libvirt when the test ends, pass or fail.
struct Undefine(String);

impl Drop for Undefine {
    fn drop(&mut self) {
        let _ = virsh(&["undefine", "--nvram", &self.0]);
        let _ = virsh(&["undefine", &self.0]);
    }
}

#[test]
fn defined_xml_is_libvirts_for_every_fidelity_case() {
    if !libvirt_available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_LIBVIRT").is_none(),
            "libvirt's QEMU driver (qemu:///system) is required but not reachable"
        );
        eprintln!("libvirt's QEMU driver is not running: comparison skipped");
        return;
    }
    let daemon = DaemonUnderTest::start("virtqemud", &[]);
    let mut files: Vec<PathBuf> = std::fs::read_dir(DATA)
        .expect("fidelity data")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "fidelity cases missing");
    let mut differ = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let name = name_of(&text);
        let path = f.to_str().expect("utf-8 path");
        let _guard = Undefine(name.clone());
        let (ok, _, err) = virsh(&["define", path]);
        assert!(ok, "libvirt refuses {}: {err}", f.display());
        let (_, theirs, _) = virsh(&["dumpxml", "--inactive", &name]);
        let (ok, _, err) = virt(&daemon.socket, &["define", path]);
        assert!(ok, "virtqemud refuses {}: {err}", f.display());
        let (ok, ours, err) = virt(&daemon.socket, &["dumpxml", "--inactive", &name]);
        assert!(ok, "{err}");
        let (a, b) = (normalise(&theirs), normalise(&ours));
        if a != b {
            let first = a
                .lines()
                .zip(b.lines())
                .position(|(x, y)| x != y)
                .unwrap_or(a.lines().count().min(b.lines().count()));
            differ.push(format!(
                "{}: first difference at line {}\nlibvirt:\n{theirs}\nvirtqemud:\n{ours}",
                f.display(),
                first + 1
            ));
        }
        let _ = virt(&daemon.socket, &["undefine", &name]);
    }
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
}
