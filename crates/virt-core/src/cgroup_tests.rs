//! Cgroup naming against libvirt 9.0 (names observed on a real libvirtd without systemd),
//! mount detection, and placement and removal in a fake cgroup tree.

use std::path::Path;

use super::*;

#[test]
fn machine_names_keep_libvirts_characters_and_length() {
    assert_eq!(machine_name("qemu", 37, "featcg"), "qemu-37-featcg");
    // libvirt 9.0 placed a domain named `!.bé_x.-y.` in qemu-38-bx.y.libvirt-qemu.
    assert_eq!(machine_name("qemu", 38, "!.bé_x.-y."), "qemu-38-bx.y");
    assert_eq!(machine_name("qemu", 1, "a--b..c"), "qemu-1-a-b.c");
    let long = machine_name("qemu", 7, &"x".repeat(100));
    assert_eq!(long.len(), 64);
    assert!(long.starts_with("qemu-7-xxx"));
    // The cut can leave a trailing dash, which goes.
    assert_eq!(
        machine_name("qemu", 7, &format!("{}-y", "x".repeat(56))),
        format!("qemu-7-{}", "x".repeat(56))
    );
    assert_eq!(
        machine_name("qemu", 7, &format!("{}-y", "x".repeat(55))),
        format!("qemu-7-{}-y", "x".repeat(55))
    );
}

#[test]
fn partitions_get_libvirts_suffixes_and_escapes() {
    assert_eq!(partition_dir("/machine"), Path::new("machine"));
    assert_eq!(
        partition_dir("/machine/sub"),
        Path::new("machine/sub.partition")
    );
    assert_eq!(
        partition_dir("/foo/machine"),
        Path::new("foo.partition/machine.partition")
    );
    assert_eq!(partition_dir("/machine/a.b"), Path::new("machine/a.b"));
    assert_eq!(partition_dir("/cpu.x"), Path::new("_cpu.x"));
    assert_eq!(partition_dir("/_x"), Path::new("__x.partition"));
    assert_eq!(partition_dir("/cgroup.x"), Path::new("_cgroup.x"));
    let cg = DomainCgroup::new("qemu", 3, "web", None);
    assert_eq!(cg.relative(), Path::new("machine/qemu-3-web.libvirt-qemu"));
    assert_eq!(cg.partition, "/machine");
}

/// This project's hosts: v1 per controller, a v2 mount without controllers, no systemd.
const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
45 31 0:40 / /sys/fs/cgroup/hugetlb rw,relatime - cgroup cgroup rw,hugetlb
";

#[test]
fn mounts_give_libvirts_v1_controllers_or_else_the_unified_hierarchy() {
    let Hierarchies::V1(v1) = Hierarchies::from_mountinfo(HYBRID) else {
        panic!("v1 expected");
    };
    let dirs: Vec<String> = v1
        .iter()
        .map(|(m, _)| {
            m.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        dirs,
        ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio"]
    );
    let comounted = "25 1 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
        26 1 0:23 / /sys/fs/cgroup/cpu\\040x rw shared:9 - cgroup cgroup rw,cpuset\n";
    assert_eq!(
        Hierarchies::from_mountinfo(comounted),
        Hierarchies::V1(vec![
            (
                "/sys/fs/cgroup/cpu,cpuacct".into(),
                vec!["cpu".into(), "cpuacct".into()]
            ),
            ("/sys/fs/cgroup/cpu x".into(), vec!["cpuset".into()]),
        ])
    );
    let v2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
    assert_eq!(
        Hierarchies::from_mountinfo(v2),
        Hierarchies::V2("/sys/fs/cgroup".into())
    );
    assert_eq!(
        Hierarchies::from_mountinfo("garbage\n\n1 2 3\n"),
        Hierarchies::None
    );
    assert!(!Hierarchies::None.usable());
}

/// A fake v1 tree: cpu, cpuset (with the root's CPUs and nodes) and memory.
fn fake_v1(root: &Path) -> Hierarchies {
    let mut list = Vec::new();
    for c in ["cpu", "cpuset", "memory"] {
        std::fs::create_dir_all(root.join(c)).expect("controller dir");
        list.push((root.join(c), vec![c.to_string()]));
    }
    std::fs::write(root.join("cpuset/cpuset.cpus"), "0-3\n").expect("cpus");
    std::fs::write(root.join("cpuset/cpuset.mems"), "0\n").expect("mems");
    Hierarchies::V1(list)
}

#[test]
fn placing_makes_the_group_in_each_hierarchy_with_cpusets_and_the_pid() {
    let dir = tempfile::tempdir().expect("tmp");
    let h = fake_v1(dir.path());
    assert!(h.usable());
    let cg = DomainCgroup::new("qemu-embed-0000abcd", 5, "win10", None);
    cg.place(&h, 4242).expect("placed");
    for c in ["cpu", "cpuset", "memory"] {
        let group = dir
            .path()
            .join(c)
            .join("machine/qemu-embed-0000abcd-5-win10.libvirt-qemu");
        let procs = std::fs::read_to_string(group.join("cgroup.procs")).expect(c);
        assert_eq!(procs, "4242");
    }
    let cpuset = dir.path().join("cpuset/machine");
    for d in [
        cpuset.clone(),
        cpuset.join("qemu-embed-0000abcd-5-win10.libvirt-qemu"),
    ] {
        assert_eq!(
            std::fs::read_to_string(d.join("cpuset.cpus")).expect("cpus"),
            "0-3"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("cpuset.mems")).expect("mems"),
            "0"
        );
    }
    assert!(!dir.path().join("cpu/machine/cpuset.cpus").exists());
}

#[test]
fn a_partition_other_than_machine_must_exist() {
    let dir = tempfile::tempdir().expect("tmp");
    let h = fake_v1(dir.path());
    let cg = DomainCgroup::new("qemu", 1, "a", Some("/machine/gold"));
    match cg.place(&h, 1) {
        Err(CgroupError::MissingPartition { partition, path }) => {
            assert_eq!(partition, "/machine/gold");
            assert!(
                path.ends_with("cpu/machine/gold.partition"),
                "{}",
                path.display()
            );
        }
        other => panic!("missing partition expected: {other:?}"),
    }
    for c in ["cpu", "cpuset", "memory"] {
        std::fs::create_dir_all(dir.path().join(c).join("machine/gold.partition")).expect("mk");
    }
    std::fs::write(
        dir.path().join("cpuset/machine/gold.partition/cpuset.cpus"),
        "1",
    )
    .expect("w");
    std::fs::write(
        dir.path().join("cpuset/machine/gold.partition/cpuset.mems"),
        "0",
    )
    .expect("w");
    cg.place(&h, 77).expect("placed in the existing partition");
    let procs = dir
        .path()
        .join("memory/machine/gold.partition/qemu-1-a.libvirt-qemu/cgroup.procs");
    assert_eq!(std::fs::read_to_string(procs).expect("procs"), "77");
}

#[test]
fn removal_takes_empty_groups_and_tolerates_missing_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    let h = fake_v1(dir.path());
    let cg = DomainCgroup::new("qemu", 2, "b", None);
    for c in ["cpu", "cpuset"] {
        std::fs::create_dir_all(dir.path().join(c).join(cg.relative())).expect("mk");
    }
    assert!(cg.remove(&h).expect("removed"), "nothing busy");
    for c in ["cpu", "cpuset", "memory"] {
        assert!(!dir.path().join(c).join(cg.relative()).exists());
        assert!(dir.path().join(c).join("machine").exists() || c == "memory");
    }
    // A directory that is not a cgroup (regular files inside) is an error naming it.
    std::fs::create_dir_all(dir.path().join("cpu").join(cg.relative())).expect("mk");
    std::fs::write(dir.path().join("cpu").join(cg.relative()).join("x"), "").expect("w");
    let e = cg.remove(&h).expect_err("not empty");
    assert!(e.to_string().contains("qemu-2-b.libvirt-qemu"), "{e}");
}

#[test]
fn on_a_v2_host_the_unified_hierarchy_gets_the_group_and_controllers() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("cgroup.controllers"), "cpu memory\n").expect("w");
    std::fs::write(dir.path().join("cgroup.subtree_control"), "").expect("w");
    let h = Hierarchies::V2(dir.path().to_path_buf());
    let cg = DomainCgroup::new("qemu", 9, "v2", None);
    cg.place(&h, 99).expect("placed");
    let group = dir.path().join("machine/qemu-9-v2.libvirt-qemu");
    assert_eq!(
        std::fs::read_to_string(group.join("cgroup.procs")).expect("procs"),
        "99"
    );
    // Each controller is enabled with its own write ("+cpu", then "+memory").
    assert_eq!(
        std::fs::read_to_string(dir.path().join("cgroup.subtree_control")).expect("ctl"),
        "+memory"
    );
}

#[test]
fn only_a_privileged_system_instance_places_guests_and_roots_get_their_own_names() {
    use crate::paths::{Mode, Paths};
    assert_eq!(
        machine_prefix(
            &Paths::resolve(Some(Path::new("/r")), Mode::Session),
            "qemu"
        ),
        None
    );
    let root = nix::unistd::geteuid().is_root();
    let a = machine_prefix(
        &Paths::resolve(Some(Path::new("/tmp/a")), Mode::System),
        "qemu",
    );
    let b = machine_prefix(
        &Paths::resolve(Some(Path::new("/tmp/b")), Mode::System),
        "qemu",
    );
    if root {
        let (a, b) = (a.expect("root"), b.expect("root"));
        assert!(
            a.starts_with("qemu-embed-") && a.len() == "qemu-embed-".len() + 8,
            "{a}"
        );
        assert_ne!(a, b);
    } else {
        assert_eq!((a, b), (None, None));
    }
    // FNV-1a's published test vector.
    assert_eq!(fnv1a(b"a"), 0xe40c_292c);
}
