//! Driver-level tests of UEFI firmware and emulated TPMs with a real `qemu-system-x86_64`
//! (TCG, q35, diskless guests), Debian's OVMF descriptors and a real swtpm: the firmware
//! the descriptors pick, the per-domain variable store across starts, --reset-nvram and the
//! undefine flags; swtpm started before QEMU, answering QEMU's `query-tpm`, known to a
//! restarted driver, gone with the guest, its state kept across starts and removed or kept on
//! undefine. Every QEMU and swtpm is killed at the end, pass or fail.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use virt_core::driver::prelude::*;
use virt_core::runtime::{Mode, Paths};
use virt_core::state::DomainState;
use virt_core::types::DomainLookup;
use virt_core::ErrorCode;

use crate::process;
use crate::status_file::StatusDir;
use crate::QemuDriver;

/// Kills every QEMU and swtpm a test root's status files name (and those noted), on drop.
struct Guard {
    run: PathBuf,
    pids: std::sync::Mutex<Vec<process::Pid>>,
}

impl Guard {
    fn new(root: &Path) -> Guard {
        Guard {
            run: root.join("run/virt/qemu"),
            pids: Default::default(),
        }
    }

    fn note(&self, p: process::Pid) {
        self.pids.lock().expect("pids").push(p);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut pids = self.pids.lock().expect("pids").clone();
        for (_, st) in StatusDir::new(&self.run).load_all().into_iter() {
            if let Ok(st) = st {
                pids.push(st.pid);
                pids.extend(st.swtpm);
            }
        }
        for p in pids {
            if process::is_alive(p) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            for _ in 0..200 {
                process::reap(p.pid);
                if !process::is_alive(p) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

fn open(root: &Path) -> Arc<QemuDriver> {
    QemuDriver::open(
        &Paths::resolve(Some(root), Mode::System),
        Arc::new(virt_xml::LibvirtXml),
    )
}

fn name(n: &str) -> DomainLookup {
    DomainLookup::Name(n.into())
}

/// A diskless q35 guest under TCG with `os` attributes/children and `devices`.
fn q35(name: &str, n: u8, os_attrs: &str, os_inner: &str, devices: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <uuid>00000000-0000-4000-8000-0000000010{n:02x}</uuid>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os {os_attrs}><type arch='x86_64' machine='q35'>hvm</type>{os_inner}</os>\
         <features><acpi/></features>\
         <devices><serial type='pty'><target port='0'/></serial>{devices}</devices></domain>"
    )
}

fn run_of<T>(d: &QemuDriver, n: &str, f: impl FnOnce(&crate::live::Run) -> T) -> T {
    let st = d.lock();
    f(st.get(&name(n))
        .expect("dom")
        .run
        .as_ref()
        .expect("running"))
}

fn cmdline(p: process::Pid) -> Vec<String> {
    std::fs::read(format!("/proc/{}/cmdline", p.pid))
        .expect("cmdline")
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

async fn qmp(d: &QemuDriver, n: &str, cmd: &str) -> Value {
    let uuid = d.lock().get(&name(n)).expect("dom").def.uuid;
    let a = d.active(&uuid).expect("active");
    a.qmp.execute(cmd, None).await.expect(cmd)
}

/// The descriptor the real search dirs give `def` on q35 (what start must pick).
fn expected_image(def_xml: &str) -> String {
    let def = virt_xml::parse_domain(def_xml).expect("parses");
    let dirs = crate::firmware::descriptor::search_dirs(false);
    let all = crate::firmware::descriptor::load(&dirs).expect("descriptors");
    let (_, d) =
        crate::firmware::select::select(&def, "x86_64", "pc-q35-7.2", &all, &dirs).expect("fits");
    d.image().expect("image").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn a_uefi_guest_runs_the_descriptors_firmware_and_keeps_its_own_nvram() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let sb = "<firmware><feature enabled='yes' name='secure-boot'/></firmware>";
    let xml = q35("uefi", 1, "firmware='efi'", sb, "");
    let want = expected_image(&xml);
    d.define_domain(&xml, 0).await.expect("define");
    d.create_domain(&name("uefi"), 0).await.expect("start");
    let qemu = run_of(&d, "uefi", |r| r.proc.pid());
    guard.note(qemu);
    let (_, s) = d.domain_state(&name("uefi"), 0).await.expect("state");
    assert_eq!(s.state, DomainState::Running);
    assert_eq!(qmp(&d, "uefi", "query-status").await["status"], "running");
    // The live XML names the firmware the descriptors picked; the stored one is as written.
    let live = d.domain_xml(&name("uefi"), 0).await.expect("live");
    let store = root.path().join("var/lib/virt/qemu/nvram/uefi_VARS.fd");
    assert!(live.contains(&format!(">{want}</loader>")), "{live}");
    assert!(
        live.contains(&format!(">{}</nvram>", store.display())),
        "{live}"
    );
    assert!(!live.contains("firmware='efi'"), "{live}");
    let inactive = d.domain_xml(&name("uefi"), 2).await.expect("inactive");
    assert!(inactive.contains("<os firmware='efi'>"), "{inactive}");
    assert!(!inactive.contains("<loader"), "{inactive}");
    // A new driver reattaches from the status file, whose live definition keeps the
    // <firmware> features without firmware= (as libvirt's does).
    assert!(
        live.contains("<feature enabled='yes' name='secure-boot'/>"),
        "{live}"
    );
    drop(d);
    let d = open(root.path());
    d.start_guests().await;
    assert_eq!(run_of(&d, "uefi", |r| r.proc.pid()), qemu, "reattached");
    assert_eq!(d.domain_xml(&name("uefi"), 0).await.expect("live"), live);
    // QEMU runs it from flash; secure-boot builds lock the flash to SMM.
    let args = cmdline(qemu).join(" ");
    assert!(args.contains(&format!("\"filename\":\"{want}\"")), "{args}");
    assert!(args.contains("pflash1=libvirt-pflash1-format"), "{args}");
    let secure = live.contains("secure='yes'");
    assert_eq!(args.contains(",smm=on,"), secure, "{args}");
    assert_eq!(
        args.contains("cfi.pflash01,property=secure,value=on"),
        secure,
        "{args}"
    );
    // The store: a 0600 copy of the template, made once.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(&store).expect("NVRAM file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    d.destroy_domain(&name("uefi"), 0).await.expect("destroy");
    // Mark it, start again (paused: the firmware never runs, so only we touch it).
    let mut bytes = std::fs::read(&store).expect("read");
    let template_len = bytes.len();
    bytes[template_len - 1] ^= 0x5a;
    std::fs::write(&store, &bytes).expect("mark");
    let inode = std::fs::metadata(&store).expect("meta").ino();
    d.create_domain(&name("uefi"), 1)
        .await
        .expect("start paused");
    guard.note(run_of(&d, "uefi", |r| r.proc.pid()));
    assert_eq!(
        std::fs::read(&store).expect("read"),
        bytes,
        "kept across starts"
    );
    assert_eq!(std::fs::metadata(&store).expect("meta").ino(), inode);
    d.destroy_domain(&name("uefi"), 0).await.expect("destroy");
    // --reset-nvram: a fresh copy of the template.
    d.create_domain(&name("uefi"), 1 | 32)
        .await
        .expect("start --reset-nvram");
    guard.note(run_of(&d, "uefi", |r| r.proc.pid()));
    let template = live
        .split("<nvram template='")
        .nth(1)
        .and_then(|t| t.split('\'').next())
        .expect("template")
        .to_string();
    assert_eq!(
        std::fs::read(&store).expect("read"),
        std::fs::read(&template).expect("template")
    );
    d.destroy_domain(&name("uefi"), 0).await.expect("destroy");
    // Undefine: refused without a decision, --keep-nvram keeps, --nvram removes.
    let e = d
        .undefine_domain(&name("uefi"), 0)
        .await
        .expect_err("nvram");
    assert_eq!(
        (e.code, e.detail.as_str()),
        (
            ErrorCode::OperationInvalid,
            "cannot undefine domain with nvram"
        )
    );
    d.undefine_domain(&name("uefi"), 8)
        .await
        .expect("--keep-nvram");
    assert!(store.exists());
    d.define_domain(&xml, 0).await.expect("define again");
    d.undefine_domain(&name("uefi"), 4).await.expect("--nvram");
    assert!(!store.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn firmware_that_cannot_be_had_is_refused_naming_what_was_asked() {
    let root = tempfile::tempdir().expect("root");
    let _guard = Guard::new(root.path());
    let d = open(root.path());
    // Secure boot on i440fx: no descriptor offers it (it needs SMM, which is q35's).
    let sb = "<firmware><feature enabled='yes' name='secure-boot'/></firmware>";
    let xml = q35("sbpc", 2, "firmware='efi'", sb, "").replace("machine='q35'", "machine='pc'");
    d.define_domain(&xml, 0).await.expect("define");
    let e = d
        .create_domain(&name("sbpc"), 0)
        .await
        .expect_err("no firmware");
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert!(
        e.detail
            .starts_with("Unable to find any firmware to satisfy 'efi'"),
        "{}",
        e.detail
    );
    assert!(e.detail.contains("secure-boot=yes"), "{}", e.detail);
    assert!(e.detail.contains("only q35"), "{}", e.detail);
    // Nothing was left behind: no run, no store, no private dir.
    let (_, s) = d.domain_state(&name("sbpc"), 0).await.expect("state");
    assert_eq!(s.state, DomainState::Shutoff);
    assert!(!root
        .path()
        .join("var/lib/virt/qemu/nvram/sbpc_VARS.fd")
        .exists());
    assert!(!root.path().join("run/virt/qemu/domain-1-sbpc").exists());
    // An explicit secure loader on i440fx is refused at define, as libvirt.
    let explicit = q35(
        "sbx",
        3,
        "",
        "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>",
        "",
    )
    .replace("machine='q35'", "machine='pc'")
    .replace("<acpi/>", "<acpi/><smm state='on'/>");
    let e = d.define_domain(&explicit, 0).await.expect_err("i440fx");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert_eq!(
        e.detail,
        "Secure boot is supported with q35 machine types only"
    );
}

fn swtpm_of(d: &QemuDriver, n: &str) -> process::Pid {
    run_of(d, n, |r| r.swtpm.expect("swtpm recorded"))
}

fn manufactured(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("Starting vTPM manufacturing")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn a_tpm_guest_runs_its_swtpm_which_outlives_the_driver_and_goes_with_the_guest() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let tpm = "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>";
    let xml = q35("tpm", 4, "", "", tpm);
    let uuid = "00000000-0000-4000-8000-000000001004";
    let state = root
        .path()
        .join("var/lib/virt/swtpm")
        .join(uuid)
        .join("tpm2");
    let swtpm_log = root.path().join("var/log/virt/qemu/tpm-swtpm.log");
    let (qemu, swtpm) = {
        let d = open(root.path());
        d.define_domain(&xml, 0).await.expect("define");
        d.create_domain(&name("tpm"), 0).await.expect("start");
        let qemu = run_of(&d, "tpm", |r| r.proc.pid());
        let swtpm = swtpm_of(&d, "tpm");
        guard.note(qemu);
        guard.note(swtpm);
        assert!(process::is_alive(swtpm));
        let args = cmdline(swtpm);
        assert!(
            args[0].ends_with("swtpm") && args[1] == "socket",
            "{args:?}"
        );
        assert!(args.contains(&"--terminate".to_string()), "{args:?}");
        assert!(
            args.contains(&format!("dir={},mode=0600", state.display())),
            "{args:?}"
        );
        let sid = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(swtpm.pid))).expect("sid");
        assert_eq!(sid.as_raw(), swtpm.pid, "swtpm leads its own session");
        // QEMU uses its socket and sees the TPM.
        let lib_dir = run_of(&d, "tpm", |r| r.lib_dir.clone());
        let sock = crate::tpm::socket_path(&lib_dir);
        assert!(cmdline(qemu).contains(&format!("socket,id=chrtpm,path={}", sock.display())));
        let tpms = qmp(&d, "tpm", "query-tpm").await;
        assert_eq!(tpms[0]["model"], "tpm-crb", "{tpms}");
        assert_eq!(tpms[0]["id"], "tpm-tpm0", "{tpms}");
        assert_eq!(tpms[0]["options"]["type"], "emulator", "{tpms}");
        // Manufactured once, its state private.
        assert_eq!(manufactured(&swtpm_log), 1);
        assert!(state.join("tpm2-00.permall").exists());
        // Its endorsement-key certificate was signed by our own local CA, under our root,
        // not in the system's /var/lib/swtpm-localca that libvirt's swtpm user owns.
        let ca = d.swtpm_dir.join("localca");
        for f in ["signkey.pem", "issuercert.pem", "certserial"] {
            assert!(
                ca.join(f).exists(),
                "{f} of our local CA in {}",
                ca.display()
            );
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state)
            .expect("state")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let status =
            std::fs::read_to_string(root.path().join("run/virt/qemu/tpm.xml")).expect("status");
        assert!(
            status.contains(&format!(
                "<swtpm pid='{}' starttime='{}'/>",
                swtpm.pid, swtpm.start_time
            )),
            "{status}"
        );
        (qemu, swtpm)
    };
    // The driver went away; a new one knows the guest's swtpm from the status file.
    let d = open(root.path());
    d.start_guests().await;
    assert_eq!(run_of(&d, "tpm", |r| r.proc.pid()), qemu);
    assert_eq!(swtpm_of(&d, "tpm"), swtpm);
    assert_eq!(qmp(&d, "tpm", "query-tpm").await[0]["model"], "tpm-crb");
    d.destroy_domain(&name("tpm"), 0).await.expect("destroy");
    assert!(!process::is_alive(swtpm), "swtpm went with the guest");
    assert!(process::stat(swtpm.pid).is_none(), "and was reaped");
    // A second start reuses the state: no second manufacturing.
    d.create_domain(&name("tpm"), 0).await.expect("start again");
    let swtpm2 = swtpm_of(&d, "tpm");
    guard.note(run_of(&d, "tpm", |r| r.proc.pid()));
    guard.note(swtpm2);
    assert_ne!(swtpm2, swtpm);
    assert_eq!(manufactured(&swtpm_log), 1);
    // A guest that powers itself off takes its swtpm along too (--terminate, then reaped).
    let uuid_v = d.lock().get(&name("tpm")).expect("dom").def.uuid;
    let a = d.active(&uuid_v).expect("active");
    a.qmp.execute("quit", None).await.ok();
    for _ in 0..400 {
        if d.domain_state(&name("tpm"), 0)
            .await
            .expect("state")
            .1
            .state
            == DomainState::Shutoff
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(!process::is_alive(swtpm2));
    // Undefine --keep-tpm keeps the state; a plain undefine removes it.
    d.undefine_domain(&name("tpm"), 64)
        .await
        .expect("--keep-tpm");
    assert!(state.exists());
    d.define_domain(&xml, 0).await.expect("define again");
    d.undefine_domain(&name("tpm"), 0).await.expect("undefine");
    assert!(!state.exists());
    assert!(!state.parent().expect("uuid dir").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn a_transient_tpm_guest_loses_its_state_and_a_tpm_1_2_runs_on_tpm_tis() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let tpm = "<tpm model='tpm-tis'><backend type='emulator' version='1.2'/></tpm>";
    let xml = q35("tis", 5, "", "", tpm);
    d.create_domain_xml(&xml, 0).await.expect("create");
    guard.note(run_of(&d, "tis", |r| r.proc.pid()));
    let swtpm = swtpm_of(&d, "tis");
    guard.note(swtpm);
    let state = root
        .path()
        .join("var/lib/virt/swtpm/00000000-0000-4000-8000-000000001005/tpm1.2");
    assert!(state.exists());
    assert!(!cmdline(swtpm).contains(&"--tpm2".to_string()));
    let tpms = qmp(&d, "tis", "query-tpm").await;
    assert_eq!(tpms[0]["model"], "tpm-tis", "{tpms}");
    d.destroy_domain(&name("tis"), 0).await.expect("destroy");
    assert!(!process::is_alive(swtpm));
    assert!(
        !state.parent().expect("uuid dir").exists(),
        "transient: state gone"
    );
    // A swtpm that cannot start is reported, and no QEMU is left.
    let broken = q35("bad", 6, "", "", tpm);
    let bad_state = root
        .path()
        .join("var/lib/virt/swtpm/00000000-0000-4000-8000-000000001006/tpm1.2");
    std::fs::create_dir_all(bad_state.parent().expect("dir")).expect("dir");
    // A file where the state dir must be: setup cannot create it.
    std::fs::write(&bad_state, b"in the way").expect("file");
    d.define_domain(&broken, 0).await.expect("define");
    let e = d.create_domain(&name("bad"), 0).await.expect_err("swtpm");
    assert_eq!(e.code, ErrorCode::SystemError, "{e:?}");
    assert!(e.detail.contains("tpm1.2"), "{}", e.detail);
    let (_, s) = d.domain_state(&name("bad"), 0).await.expect("state");
    assert_eq!(s.state, DomainState::Shutoff);
    // A QEMU that fails after swtpm started takes swtpm down with it.
    let failing = q35("qfail", 7, "", "", tpm)
        .replace(
            "<domain type='qemu'>",
            "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>",
        )
        .replace(
            "</devices>",
            "</devices><qemu:commandline><qemu:arg value='-no-such-option'/></qemu:commandline>",
        );
    d.define_domain(&failing, 0).await.expect("define");
    let e = d
        .create_domain(&name("qfail"), 0)
        .await
        .expect_err("qemu fails");
    assert!(e.detail.contains("no-such-option"), "{}", e.detail);
    let state = "00000000-0000-4000-8000-000000001007";
    assert!(
        swtpms_of(state).is_empty(),
        "no swtpm left for the failed start: {:?}",
        swtpms_of(state)
    );
}

/// Live (non-zombie) processes whose command line mentions `needle`.
fn swtpms_of(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let alive = process::stat(pid).is_some_and(|s| !matches!(s.state, 'Z' | 'X'));
        if alive && String::from_utf8_lossy(&cmd).contains(needle) {
            out.push(pid);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn domain_caps_publish_the_installed_firmware_and_each_image_starts() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let xml = d
        .domain_capabilities("", "x86_64", "q35", "qemu", 0)
        .await
        .expect("domcaps");
    let dc = virt_xml::caps::parse_domain_capabilities(&xml).expect("read back");
    let os = dc.os.expect("os");
    let firmware = &os
        .enums
        .iter()
        .find(|(n, _)| n == "firmware")
        .expect("enum")
        .1;
    let loader = dc.loader.expect("loader");
    let dirs = crate::firmware::descriptor::search_dirs(false);
    let all = crate::firmware::descriptor::load(&dirs).expect("descriptors");
    let fitting: Vec<_> = all
        .iter()
        .filter(|(_, d)| d.runs("x86_64", dc.machine.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        firmware.contains(&"efi".to_string()),
        fitting.iter().any(|(_, d)| d.offers("uefi")),
        "{xml}"
    );
    assert_eq!(loader.values.len(), fitting.len(), "{xml}");
    assert!(
        !loader.values.is_empty(),
        "this host has OVMF (ovmf is a test dependency): {xml}"
    );
    // Each published image runs as an explicit loader, secure where its descriptor needs SMM.
    for (i, image) in loader.values.iter().enumerate() {
        let (_, desc) = fitting
            .iter()
            .find(|(_, d)| d.image() == Some(image))
            .expect("descriptor of the image");
        let smm = desc.has("requires-smm");
        let secure = if smm { " secure='yes'" } else { "" };
        let n = u8::try_from(0x20 + i).expect("few images");
        let guest = q35(
            &format!("img{i}"),
            n,
            "",
            &format!("<loader readonly='yes'{secure} type='pflash'>{image}</loader>"),
            "",
        );
        let guest = if smm {
            guest.replace("<acpi/>", "<acpi/><smm state='on'/>")
        } else {
            guest
        };
        d.define_domain(&guest, 0).await.expect(image);
        d.create_domain(&name(&format!("img{i}")), 1)
            .await
            .unwrap_or_else(|e| panic!("{image}: {e:?}"));
        guard.note(run_of(&d, &format!("img{i}"), |r| r.proc.pid()));
        // The template came from the image's descriptor.
        let live = d
            .domain_xml(&name(&format!("img{i}")), 0)
            .await
            .expect("live");
        assert!(live.contains("<nvram template='"), "{live}");
        d.destroy_domain(&name(&format!("img{i}")), 0)
            .await
            .expect("destroy");
        d.undefine_domain(&name(&format!("img{i}")), 4)
            .await
            .expect("undefine");
    }
}
