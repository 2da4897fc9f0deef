//! Guests with a real `qemu-system-x86_64` (TCG): a Windows-shaped guest (the Hyper-V set
//! virt-install writes, the hypervclock timer, SMBIOS from `<sysinfo>`, a fw_cfg entry)
//! starts, and the firmware's SMBIOS tables in guest memory carry the values; and a guest's
//! QEMU runs in its cgroup, which goes when it stops and stays across a daemon restart.
//! Every QEMU is killed and every group removed at the end, pass or fail (the guard).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use virt_core::driver::prelude::*;
use virt_core::state::DomainState;
use virt_core::ErrorCode;

use super::guests::{name, open, pid_of, Guard};
use crate::QemuDriver;
use virt_core::cgroup::{DomainCgroup, Hierarchies};

const UUID: &str = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";

/// What virt-install writes for a Windows guest (Hyper-V set, clock) plus virt-manager's
/// `<sysinfo>` example, as `type='qemu'`.
fn windows_xml(name: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><uuid>{UUID}</uuid>\
         <memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <sysinfo type='smbios'>\
           <bios><entry name='vendor'>LENOVO, Inc</entry><entry name='version'>6FET82WW</entry></bios>\
           <system><entry name='manufacturer'>Fedora</entry><entry name='product'>Virt-Manager</entry>\
             <entry name='serial'>SER,123</entry><entry name='uuid'>{UUID}</entry>\
             <entry name='family'>Red Hat</entry></system>\
           <baseBoard><entry name='manufacturer'>BoardMaker</entry><entry name='product'>20BE0061MC</entry></baseBoard>\
           <chassis><entry name='manufacturer'>Dell Inc.</entry><entry name='asset'>ASSET-40000101</entry></chassis>\
           <oemStrings><entry>myappname:some arbitrary data</entry></oemStrings>\
         </sysinfo>\
         <sysinfo type='fwcfg'><entry name='opt/com.example/name'>example value</entry></sysinfo>\
         <os><type arch='x86_64' machine='q35'>hvm</type><smbios mode='sysinfo'/></os>\
         <features><acpi/><apic/><hyperv><relaxed state='on'/><vapic state='on'/>\
           <spinlocks state='on' retries='8191'/><vpindex state='on'/><runtime state='on'/>\
           <synic state='on'/><stimer state='on'/><reset state='on'/>\
           <frequencies state='on'/><tlbflush state='on'/></hyperv></features>\
         <clock offset='localtime'><timer name='rtc' tickpolicy='catchup'/>\
           <timer name='pit' tickpolicy='delay'/><timer name='hpet' present='no'/>\
           <timer name='hypervclock' present='yes'/></clock>\
         <devices><memballoon model='none'/></devices></domain>"
    )
}

fn plain_xml(name: &str, n: u8, resource: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <uuid>00000000-0000-4000-8000-0000000000{n:02x}</uuid>\
         <memory unit='MiB'>64</memory><vcpu>1</vcpu>{resource}\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>\
         <devices><memballoon model='none'/></devices></domain>"
    )
}

/// QEMU's argv, from /proc.
fn cmdline(pid: i32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    raw.split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Dumps guest RAM (`pmemsave`) until `needle` shows up there (SeaBIOS copies the SMBIOS
/// tables QEMU gives it into guest memory), for up to 20 s; returns the last dump.
async fn guest_memory_with(
    d: &QemuDriver,
    n: &str,
    file: &std::path::Path,
    needle: &[u8],
) -> Vec<u8> {
    let uuid = d.lock().get(&name(n)).expect("dom").def.uuid;
    let a = d.active(&uuid).expect("active");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let args = json!({"val": 0, "size": 64 * 1024 * 1024, "filename": file.to_string_lossy()});
        a.qmp
            .execute("pmemsave", Some(args))
            .await
            .expect("pmemsave");
        let mem = std::fs::read(file).expect("dump");
        if contains(&mem, needle) || Instant::now() > deadline {
            let _ = std::fs::remove_file(file);
            return mem;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn a_windows_shaped_guest_starts_under_tcg_and_its_firmware_sees_the_smbios_values() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    d.define_domain(&windows_xml("win"), 0)
        .await
        .expect("define: the Windows set is honoured");
    d.create_domain(&name("win"), 0)
        .await
        .expect("starts under TCG");
    let pid = pid_of(&d, "win");
    guard.note(pid);
    let argv = cmdline(pid.pid);
    let cpu = argv
        .iter()
        .position(|a| a == "-cpu")
        .map(|i| argv[i + 1].clone())
        .expect("-cpu");
    assert_eq!(
        cpu,
        "qemu64,hv-time=on,hv-relaxed=on,hv-vapic=on,hv-spinlocks=0x1fff,hv-runtime=on,\
         hv-synic=on,hv-stimer=on,hv-reset=on,hv-frequencies=on,hv-tlbflush=on"
    );
    assert!(argv.contains(
        &"type=1,manufacturer=Fedora,product=Virt-Manager,serial=SER,,123,\
         uuid=c7a5fdbd-cdaf-9455-926a-d65c16db1809,family=Red Hat"
            .to_string()
    ));
    assert!(argv.contains(&"name=opt/com.example/name,string=example value".to_string()));

    // QEMU built SMBIOS tables from them and the firmware put them in guest memory.
    let dump = root.path().join("mem.bin");
    let mem = guest_memory_with(&d, "win", &dump, b"Virt-Manager").await;
    for want in [
        &b"Virt-Manager"[..],
        b"SER,123",
        b"LENOVO, Inc",
        b"BoardMaker",
        b"ASSET-40000101",
        b"myappname:some arbitrary data",
    ] {
        assert!(
            contains(&mem, want),
            "{} not in the guest's SMBIOS tables",
            String::from_utf8_lossy(want)
        );
    }
    let live = d.domain_xml(&name("win"), 0).await.expect("live xml");
    assert!(live.contains("<sysinfo type='smbios'>"), "{live}");
    assert!(live.contains("<hyperv mode='custom'>"), "{live}");
    d.destroy_domain(&name("win"), 0).await.expect("destroy");
    assert_eq!(
        d.domain_state(&name("win"), 0)
            .await
            .expect("state")
            .1
            .state,
        DomainState::Shutoff
    );
}

/// The group's directory in every hierarchy.
fn group_dirs(h: &Hierarchies, cg: &DomainCgroup) -> Vec<PathBuf> {
    match h {
        Hierarchies::V1(list) => list.iter().map(|(m, _)| m.join(cg.relative())).collect(),
        Hierarchies::V2(m) => vec![m.join(cg.relative())],
        Hierarchies::None => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn qemu_runs_in_its_cgroup_which_outlives_a_daemon_restart_and_goes_with_the_guest() {
    let root = tempfile::tempdir().expect("root");
    let h = Hierarchies::detect();
    let d = open(root.path());
    let Some(prefix) = d.cgroup_prefix.clone() else {
        assert!(
            !nix::unistd::geteuid().is_root(),
            "a root system instance places guests in cgroups"
        );
        eprintln!("notice: not root; cgroup placement not tested");
        return;
    };
    assert!(h.usable(), "root without writable cgroups: {h:?}");
    let cg = DomainCgroup::new(&prefix, 1, "cg1", None);
    let dirs = group_dirs(&h, &cg);
    let guard = Guard::new(root.path());
    d.define_domain(&plain_xml("cg1", 1, ""), 0)
        .await
        .expect("define");
    d.create_domain(&name("cg1"), 0).await.expect("start");
    let pid = pid_of(&d, "cg1");
    guard.note(pid);
    for dir in &dirs {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).expect("procs");
        assert!(
            procs.lines().any(|l| l == pid.pid.to_string()),
            "{} has {procs:?}",
            dir.display()
        );
    }
    let own = std::fs::read_to_string(format!("/proc/{}/cgroup", pid.pid)).expect("cgroup");
    let want = format!(
        "/machine/{}",
        cg.relative().file_name().expect("name").to_string_lossy()
    );
    assert!(own.lines().any(|l| l.ends_with(&want)), "{own}");
    let live = d.domain_xml(&name("cg1"), 0).await.expect("live");
    assert!(
        live.contains("  <resource>\n    <partition>/machine</partition>\n  </resource>\n"),
        "{live}"
    );
    let inactive = d.domain_xml(&name("cg1"), 2).await.expect("inactive");
    assert!(!inactive.contains("<resource>"), "{inactive}");

    // A new daemon reattaches and leaves the group alone; its destroy removes it.
    drop(d);
    let d = open(root.path());
    d.start_guests().await;
    assert_eq!(pid_of(&d, "cg1"), pid);
    for dir in &dirs {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).expect("kept");
        assert!(procs.lines().any(|l| l == pid.pid.to_string()));
    }
    d.destroy_domain(&name("cg1"), 0).await.expect("destroy");
    for dir in &dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }

    // A guest that dies while no daemon runs loses its group when the next one finds it dead.
    let h2 = d.create_domain(&name("cg1"), 0).await.expect("start again");
    let pid = pid_of(&d, "cg1");
    guard.note(pid);
    let cg = DomainCgroup::new(&prefix, h2.id.expect("running"), "cg1", None);
    let dirs = group_dirs(&h, &cg);
    assert!(dirs.iter().all(|d| d.is_dir()));
    drop(d);
    tokio::time::sleep(Duration::from_millis(100)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid.pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    for _ in 0..200 {
        crate::process::reap(pid.pid);
        if !crate::process::is_alive(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let d = open(root.path());
    d.start_guests().await;
    assert_eq!(
        d.domain_state(&name("cg1"), 0)
            .await
            .expect("state")
            .1
            .state,
        DomainState::Shutoff
    );
    for dir in &dirs {
        assert!(
            !dir.exists(),
            "{} left behind by a dead guest",
            dir.display()
        );
    }

    // A partition that does not exist fails the start, with nothing left running.
    d.define_domain(
        &plain_xml(
            "cg2",
            2,
            "<resource><partition>/machine/virt-test-missing</partition></resource>",
        ),
        0,
    )
    .await
    .expect("define");
    let e = d
        .create_domain(&name("cg2"), 0)
        .await
        .expect_err("missing partition");
    assert_eq!(e.code, ErrorCode::SystemError, "{e:?}");
    assert!(
        e.message().contains("/machine/virt-test-missing"),
        "{}",
        e.message()
    );
    assert_eq!(
        d.domain_state(&name("cg2"), 0)
            .await
            .expect("state")
            .1
            .state,
        DomainState::Shutoff
    );
    let e = d
        .define_domain(
            &plain_xml(
                "cg3",
                3,
                "<resource><partition>machine</partition></resource>",
            ),
            0,
        )
        .await
        .expect_err("relative partition");
    assert_eq!(e.code, ErrorCode::XmlError);
}
