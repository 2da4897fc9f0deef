//! virtxend through the real binaries on a host without a Xen hypervisor (this one): the
//! daemon starts and serves what needs none (version, capabilities, definitions, the
//! `xen-xl` / `xen-xm` conversions), and refuses what needs the hypervisor with NO_XEN naming
//! what is missing; the proxy routes `xen:///system` to it. The lifecycle on a real Xen is
//! tests/tests/xen_nested.rs.
#![cfg(feature = "system-tests")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virt_tests::{workspace_bin, DaemonUnderTest};

/// A minimal PV guest, as a user writes it.
const TINY: &str = "<domain type='xen'>\n  <name>tiny</name>\n  \
    <uuid>dcab5cb9-f711-408d-96e4-44598930d4eb</uuid>\n  <memory unit='MiB'>128</memory>\n  \
    <vcpu>1</vcpu>\n  <os>\n    <type>linux</type>\n    <kernel>/boot/vmlinuz</kernel>\n    \
    <initrd>/boot/domu-initrd.gz</initrd>\n    <cmdline>console=hvc0</cmdline>\n  </os>\n  \
    <on_crash>preserve</on_crash>\n  <devices>\n    <console type='pty'>\n      \
    <target type='xen' port='0'/>\n    </console>\n  </devices>\n</domain>\n";

/// What libvirt 9.0's libxl driver stores for [`TINY`] (`virsh define` then `dumpxml`, seen
/// through the oracle of ../shared/tools/xen): the arch and machine, a UTC clock, the
/// lifecycle defaults, the xenbus controller, PV inputs and the Xen balloon.
const TINY_STORED: &str = "<domain type='xen'>
  <name>tiny</name>
  <uuid>dcab5cb9-f711-408d-96e4-44598930d4eb</uuid>
  <memory unit='KiB'>131072</memory>
  <currentMemory unit='KiB'>131072</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='xenpv'>linux</type>
    <kernel>/boot/vmlinuz</kernel>
    <initrd>/boot/domu-initrd.gz</initrd>
    <cmdline>console=hvc0</cmdline>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>preserve</on_crash>
  <devices>
    <controller type='xenbus' index='0'/>
    <console type='pty'>
      <target type='xen' port='0'/>
    </console>
    <input type='mouse' bus='xen'/>
    <input type='keyboard' bus='xen'/>
    <memballoon model='xen'/>
  </devices>
</domain>
";

/// libvirt's xl.cfg of [`TINY`] (`virsh domxml-to-native xen-xl`).
const TINY_XL: &str = "name = \"tiny\"
uuid = \"dcab5cb9-f711-408d-96e4-44598930d4eb\"
maxmem = 128
memory = 128
vcpus = 1
localtime = 0
on_poweroff = \"destroy\"
on_reboot = \"restart\"
on_crash = \"preserve\"
kernel = \"/boot/vmlinuz\"
ramdisk = \"/boot/domu-initrd.gz\"
cmdline = \"console=hvc0\"
";

fn virt(uri: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(workspace_bin("virt"))
        .args(["-c", uri])
        .args(args)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env_remove("VIRT_ROOT")
        .output()
        .expect("run virt");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(uri: &str, args: &[&str]) -> String {
    let (ok, out, err) = virt(uri, args);
    assert!(ok, "virt {args:?} failed: {err}{out}");
    out
}

fn fails(uri: &str, args: &[&str]) -> String {
    let (ok, out, err) = virt(uri, args);
    assert!(!ok, "virt {args:?} succeeded: {out}");
    err
}

fn no_hypervisor_here() -> bool {
    if virtxend::hypervisor_check().is_ok() {
        eprintln!("notice: this host runs Xen; the no-hypervisor test does not apply");
        return false;
    }
    true
}

/// virtxend started with `--root ROOT --system`, waited for, killed on drop.
struct Xend(Child);

impl Xend {
    fn start(root: &Path) -> Xend {
        let ro = root.join("run/virt/virtxend-sock-ro");
        // A killed daemon leaves its socket files behind; wait for fresh ones.
        let _ = std::fs::remove_file(&ro);
        let _ = std::fs::remove_file(root.join("run/virt/virtxend-sock"));
        let child = Command::new(workspace_bin("virtxend"))
            .arg("--root")
            .arg(root)
            .arg("--system")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn virtxend");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&ro).is_err() {
            assert!(Instant::now() < deadline, "virtxend did not start in time");
            std::thread::sleep(Duration::from_millis(20));
        }
        Xend(child)
    }
}

impl Drop for Xend {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn without_a_hypervisor_virtxend_serves_definitions_and_conversions_and_refuses_the_rest() {
    if !no_hypervisor_here() {
        return;
    }
    let root = tempfile::tempdir().expect("root");
    let root = root.path();
    let daemon = Xend::start(root);
    let uri = format!(
        "xen+unix:///system?socket={}",
        root.join("run/virt/virtxend-sock").display()
    );
    let files = tempfile::tempdir().expect("files");
    let xml = files.path().join("tiny.xml");
    std::fs::write(&xml, TINY).expect("write xml");
    let xml = xml.display().to_string();

    let v = ok(&uri, &["version"]);
    assert!(v.contains("Using API: Xen "), "{v}");
    assert!(v.contains("Running hypervisor: Xen "), "{v}");
    let caps = ok(&uri, &["capabilities"]);
    for want in [
        "<os_type>xen</os_type>",
        "<machine>xenpv</machine>",
        "<os_type>hvm</os_type>",
        "<machine>xenfv</machine>",
        "<os_type>xenpvh</os_type>",
        "<domain type='xen'/>",
    ] {
        assert!(caps.contains(want), "capabilities lack {want}:\n{caps}");
    }

    let dc = ok(&uri, &["domcapabilities", "--machine", "xenfv"]);
    assert!(dc.contains("<machine>xenfv</machine>"), "{dc}");
    assert!(dc.contains("/hvmloader</value>"), "{dc}");
    assert!(
        dc.contains("<value>pciBackend</value>") || dc.contains("<enum name='pciBackend'>"),
        "{dc}"
    );
    let dc = ok(&uri, &["domcapabilities", "--machine", "xenpvh"]);
    assert!(!dc.contains("<hostdev"), "PVH has no passthrough: {dc}");
    let e = fails(&uri, &["domcapabilities", "--machine", "pc"]);
    assert!(
        e.contains("Xen only supports 'xenpv', 'xenpvh' and 'xenfv' machines"),
        "{e}"
    );

    // Define stores what libvirt's Xen driver stores, on disk too.
    ok(&uri, &["define", &xml]);
    assert_eq!(ok(&uri, &["dumpxml", "tiny"]), format!("{TINY_STORED}\n"));
    let stored = root.join("etc/virt/libxl/tiny.xml");
    let on_disk = std::fs::read_to_string(&stored).expect("the definition on disk");
    assert!(
        on_disk.contains("<controller type='xenbus' index='0'/>"),
        "{on_disk}"
    );
    assert_eq!(ok(&uri, &["list", "--all", "--name"]).trim(), "tiny");
    assert_eq!(
        ok(&uri, &["domstate", "tiny", "--reason"]).trim(),
        "shut off (unknown)"
    );

    // Conversions need no hypervisor: from the definition, from a file, and back.
    assert_eq!(
        ok(
            &uri,
            &["-q", "domxml-to-native", "xen-xl", "--domain", "tiny"]
        ),
        TINY_XL
    );
    let cfg = files.path().join("tiny.cfg");
    std::fs::write(&cfg, TINY_XL).expect("write cfg");
    let cfg = cfg.display().to_string();
    let back = ok(&uri, &["-q", "domxml-from-native", "xen-xl", &cfg]);
    assert!(back.contains("<kernel>/boot/vmlinuz</kernel>"), "{back}");
    assert!(
        back.contains("<clock offset='utc' adjustment='reset'/>"),
        "{back}"
    );
    let e = fails(&uri, &["domxml-from-native", "qemu-argv", &cfg]);
    assert!(e.contains("unsupported config type qemu-argv"), "{e}");
    let bad = files.path().join("bad.cfg");
    std::fs::write(&bad, "name = \"x\"\nmemory = 128\nfrobnicate = 1\n").expect("write");
    let e = fails(
        &uri,
        &["domxml-from-native", "xen-xl", &bad.display().to_string()],
    );
    assert!(e.contains("frobnicate"), "the refusal names the key: {e}");

    // What needs the hypervisor says what is missing.
    let e = fails(&uri, &["start", "tiny"]);
    assert!(e.contains("could not use Xen hypervisor entry"), "{e}");
    assert!(e.contains("/sys/hypervisor/type"), "{e}");
    assert_eq!(ok(&uri, &["domstate", "tiny"]).trim(), "shut off");

    // Definitions the toolstack could not be given faithfully are refused by name.
    let kvm = files.path().join("kvm.xml");
    std::fs::write(&kvm, TINY.replace("type='xen'>", "type='kvm'>")).expect("write");
    let e = fails(&uri, &["define", &kvm.display().to_string()]);
    assert!(e.contains("domain type 'kvm'"), "{e}");
    let sound = files.path().join("sound.xml");
    std::fs::write(
        &sound,
        TINY.replace("</devices>", "<sound model='ac97'/>\n  </devices>"),
    )
    .expect("write");
    let e = fails(&uri, &["define", &sound.display().to_string()]);
    assert!(e.contains("sound"), "the refusal names the element: {e}");

    // The definition survives a restart of the daemon.
    drop(daemon);
    let again = Xend::start(root);
    assert_eq!(ok(&uri, &["list", "--all", "--name"]).trim(), "tiny");
    ok(&uri, &["undefine", "tiny"]);
    assert!(!stored.exists(), "undefine removes the definition");
    drop(again);
}

#[test]
fn the_proxy_routes_xen_system_to_virtxend() {
    if !no_hypervisor_here() {
        return;
    }
    let proxy = DaemonUnderTest::proxy(&[]);
    let _xend = Xend::start(proxy.root.path());
    let uri = format!("xen+unix:///system?socket={}", proxy.socket.display());
    let v = ok(&uri, &["version"]);
    assert!(v.contains("Using API: Xen "), "{v}");
    assert_eq!(ok(&uri, &["uri"]).trim(), "xen:///system");
}
