//! Real-QEMU tests of the tuning features: `<cputune>` pins and cgroup files (at start and
//! again after a reattach), virtiofs with its virtiofsd, and huge pages (a hugetlbfs mount
//! and a page reservation made and undone here, or the error path when they are missing).
//! Every QEMU and helper is killed at the end, pass or fail.

use std::path::Path;
use std::time::Duration;

use virt_core::driver::prelude::*;

use super::guests::{name, open, pid_of, Guard};
use crate::process;

fn allowed(pid: i32, tid: i32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list")
        .trim()
        .to_string()
}

fn xml(name: &str, n: u8, extra: &str, devices: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <uuid>00000000-0000-4000-8000-0000000001{n:02x}</uuid>\
         <memory unit='MiB'>64</memory>{extra}\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><memballoon model='none'/>{devices}</devices></domain>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn cputune_pins_threads_writes_cgroup_files_and_reapplies_at_reattach() {
    let cpus = crate::cputune::host_cpus();
    let (first, last) = (cpus[0], cpus[cpus.len() - 1]);
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let tune = format!(
        "<vcpu>2</vcpu><iothreads>1</iothreads><cputune><shares>2048</shares>\
         <period>100000</period><quota>50000</quota><vcpupin vcpu='0' cpuset='{last}'/>\
         <vcpupin vcpu='1' cpuset='{first}'/><emulatorpin cpuset='{first}'/>\
         <iothreadpin iothread='1' cpuset='{last}'/></cputune>"
    );
    d.define_domain(&xml("pin", 1, &tune, ""), 0)
        .await
        .expect("define");
    d.create_domain(&name("pin"), 0).await.expect("start");
    let p = pid_of(&d, "pin");
    guard.note(p);
    let vcpus = d
        .lock()
        .get(&name("pin"))
        .expect("dom")
        .run
        .as_ref()
        .expect("run")
        .vcpus
        .clone();
    assert_eq!(vcpus.len(), 2);
    assert_eq!(allowed(p.pid, vcpus[0].1), last.to_string());
    assert_eq!(allowed(p.pid, vcpus[1].1), first.to_string());
    assert_eq!(allowed(p.pid, p.pid), first.to_string(), "emulator thread");
    let iothread = std::fs::read_dir(format!("/proc/{}/task", p.pid))
        .expect("tasks")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|t| {
            std::fs::read_to_string(format!("/proc/{}/task/{t}/comm", p.pid))
                .is_ok_and(|c| c.trim() == "IO iothread1")
        })
        .expect("the IOThread is named by debug-threads");
    assert_eq!(allowed(p.pid, iothread), last.to_string());
    // The CPU controller's files, where this host lets the guest have a group.
    let cg = d.cgroup_prefix.clone().map(|prefix| {
        virt_core::cgroup::Hierarchies::detect()
            .cpu_group(&virt_core::cgroup::DomainCgroup::new(
                &prefix, 1, "pin", None,
            ))
            .expect("cpu hierarchy")
            .0
    });
    if let Some(dir) = &cg {
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .expect(f)
                .trim()
                .to_string()
        };
        assert_eq!(read("cpu.shares"), "2048");
        assert_eq!(read("vcpu0/cpu.cfs_quota_us"), "50000");
        assert_eq!(read("vcpu1/cpu.cfs_period_us"), "100000");
        assert_eq!(read("vcpu0/tasks"), vcpus[0].1.to_string());
        assert!(read("emulator/tasks")
            .lines()
            .any(|t| t == p.pid.to_string()));
    }
    // Someone widens a vCPU's affinity while the daemon is away: the reattach pins it again.
    crate::cputune::set_affinity(
        vcpus[0].1,
        &crate::cputune::host_cpus()
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(","),
    )
    .expect("widen");
    drop(d);
    let d = open(root.path());
    d.start_guests().await;
    assert_eq!(
        allowed(p.pid, vcpus[0].1),
        last.to_string(),
        "re-pinned at reattach"
    );
    d.destroy_domain(&name("pin"), 0).await.expect("destroy");
    if let Some(dir) = &cg {
        assert!(
            !dir.exists(),
            "the guest's group and its thread groups are gone"
        );
    }
    // A pin to a CPU this host lacks refuses the start before QEMU runs.
    let bad = "<vcpu>1</vcpu><cputune><vcpupin vcpu='0' cpuset='4095'/></cputune>";
    d.define_domain(&xml("badpin", 2, bad, ""), 0)
        .await
        .expect("define accepts it, as libvirt");
    let e = d
        .create_domain(&name("badpin"), 0)
        .await
        .expect_err("refused");
    assert!(e.message().contains("names CPU 4095"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn virtiofs_share_runs_its_virtiofsd_and_the_stop_leaves_none() {
    crate::virtiofs::find_binary().expect("virtiofsd is installed (tools/test-all.sh)");
    let root = tempfile::tempdir().expect("root");
    let share = root.path().join("share");
    std::fs::create_dir(&share).expect("share dir");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let backing = "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>";
    let fs = format!(
        "<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>\
         <source dir='{}'/><target dir='hostshare'/></filesystem>",
        share.display()
    );
    d.define_domain(&xml("vfs", 3, backing, &fs), 0)
        .await
        .expect("define");
    d.create_domain(&name("vfs"), 0).await.expect("start");
    let p = pid_of(&d, "vfs");
    guard.note(p);
    let procs = d
        .lock()
        .get(&name("vfs"))
        .expect("dom")
        .run
        .as_ref()
        .expect("run")
        .virtiofsd
        .clone();
    assert_eq!(procs.len(), 1);
    let (alias, vfsd) = procs[0].clone();
    guard.note(vfsd);
    assert_eq!(alias, "fs0");
    assert!(process::is_alive(vfsd));
    let sid = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(vfsd.pid))).expect("sid");
    assert_eq!(sid.as_raw(), vfsd.pid, "virtiofsd leads its own session");
    let status =
        std::fs::read_to_string(root.path().join("run/virt/qemu/vfs.xml")).expect("status");
    assert!(status.contains(&format!("<virtiofsd alias='fs0' pid='{}'", vfsd.pid)));
    let live = d.domain_xml(&name("vfs"), 0).await.expect("live xml");
    assert!(live.contains("<alias name='fs0'/>"), "{live}");
    // QEMU connected to it: the vhost-user-fs device is there.
    let uuid = d.lock().get(&name("vfs")).expect("dom").def.uuid;
    let a = d.active(&uuid).expect("active");
    let tree = a
        .qmp
        .execute(
            "qom-get",
            Some(serde_json::json!({"path": "/machine/peripheral/fs0", "property": "type"})),
        )
        .await
        .expect("qom-get");
    assert_eq!(tree.as_str(), Some("vhost-user-fs-pci"));
    d.destroy_domain(&name("vfs"), 0).await.expect("destroy");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while process::is_alive(vfsd) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !process::is_alive(vfsd),
        "virtiofsd is gone (and no zombie) after the stop"
    );
}

/// Reserves `pages` more 2 MiB huge pages for its lifetime and mounts a hugetlbfs at `dir`;
/// undone on drop.
struct HugePages {
    before: String,
    dir: std::path::PathBuf,
}

const NR: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";

impl HugePages {
    fn new(dir: &Path, pages: u64) -> Option<HugePages> {
        let before = std::fs::read_to_string(NR).ok()?;
        let n: u64 = before.trim().parse().ok()?;
        std::fs::write(NR, (n + pages).to_string()).ok()?;
        std::fs::create_dir_all(dir).ok()?;
        let guard = HugePages {
            before,
            dir: dir.to_path_buf(),
        };
        let mounted = std::process::Command::new("mount")
            .args(["-t", "hugetlbfs", "-o", "pagesize=2M", "none"])
            .arg(dir)
            .status()
            .ok()?;
        mounted.success().then_some(guard)
    }
}

impl Drop for HugePages {
    fn drop(&mut self) {
        // Lazily: a QEMU still holding a page file must not keep the mount alive.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
        let _ = std::fs::write(NR, self.before.trim());
    }
}

fn free_2m() -> u64 {
    std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn hugepages_back_the_guest_when_reserved_and_their_absence_is_named() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let backing =
        "<memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages></memoryBacking>";
    d.define_domain(&xml("huge", 4, backing, ""), 0)
        .await
        .expect("define succeeds without hugetlbfs, as libvirt");
    if crate::memory::HostMemory::detect().mounts.is_empty() {
        let e = d
            .create_domain(&name("huge"), 0)
            .await
            .expect_err("no hugetlbfs");
        assert_eq!(
            e.detail,
            "hugetlbfs filesystem is not mounted or disabled by administrator config"
        );
    }
    let mnt = root.path().join("hugetlbfs");
    let Some(mounted) = HugePages::new(&mnt, 0) else {
        panic!("cannot mount hugetlbfs (needs root)");
    };
    if free_2m() < 32 {
        // Mounted, but the pool is empty: the start names the pool instead of QEMU failing.
        let e = d
            .create_domain(&name("huge"), 0)
            .await
            .expect_err("no free pages");
        assert!(
            e.detail.contains("not enough free huge pages of 2048 KiB"),
            "{}",
            e.detail
        );
    }
    drop(mounted);
    let Some(pages) = HugePages::new(&mnt, 40) else {
        panic!("cannot reserve huge pages or mount hugetlbfs (needs root)");
    };
    let free = free_2m();
    assert!(free >= 32, "the reservation took ({free} free)");
    d.create_domain(&name("huge"), 0)
        .await
        .expect("start on huge pages");
    let p = pid_of(&d, "huge");
    guard.note(p);
    let base = std::fs::read_dir(mnt.join("libvirt"))
        .expect("libvirt dir on hugetlbfs")
        .flatten()
        .next()
        .expect("the daemon's dir")
        .path();
    let id = d
        .lock()
        .get(&name("huge"))
        .expect("dom")
        .run
        .as_ref()
        .expect("run")
        .id;
    let dir = base.join(format!("{id}-huge"));
    assert!(dir.is_dir(), "{}", dir.display());
    assert!(free_2m() <= free - 32, "QEMU preallocated 32 pages");
    d.destroy_domain(&name("huge"), 0).await.expect("destroy");
    assert!(!dir.exists(), "the domain's hugetlbfs dir is removed");
    drop(pages);
}
