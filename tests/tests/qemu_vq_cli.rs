//! virtqemud behind the management and monitoring commands (issue 15), through the CLI
//! (`virt -c qemu:///system` and virtqemud under a temporary root) with real TCG guests:
//!
//! - `dommemstat` of a guest with a virtio balloon (the test guest loads virtio_balloon)
//!   lists the balloon size, the guest's counters and QEMU's RSS, and `last_update` advances
//!   with `<stats period='1'/>`; a shut-off guest has none;
//! - `domifstat` rx/tx bytes grow after the guest pings the host end of a private bridge
//!   (the bridge has no uplink: nothing leaves the host), `domblkstat` write counters and
//!   `domblkinfo`'s allocation grow after the guest writes its qcow2 disk; `domblkinfo` of
//!   the shut-off guest reads the image;
//! - `desc` and `metadata` round trip on the persistent and the live definitions and survive
//!   a daemon restart; `domrename` renames a shut-off guest (its stored definition moves) and
//!   refuses a running one;
//! - `managedsave-dumpxml` after `managedsave`, `managedsave-define` with a changed
//!   `<description>`, then `start` resumes the guest with it; an ABI change is refused;
//! - `guestvcpus` lists, offlines and onlines a two-vCPU guest's vCPUs through its agent;
//!   `setvcpu` hot-adds its third vCPU and changes the persistent count.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use virt_tests::backend::ProcessDaemon;
use virt_tests::console::Console;
use virt_tests::guest::{test_guest, test_guest_with_agent, GUEST_CMDLINE, READY_MARKER};
use virt_tests::qemu::{pty_of, virt, virt_ok, wait_domstate, QemuGuard};

/// A private bridge with an address on the host, removed on drop.
struct Bridge(String);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("ip");
    assert!(st.success(), "ip {args:?}");
}

fn guest_xml(name: &str, uuid: &str, disk: &Path, extra: &str) -> String {
    let image = test_guest().expect("test guest");
    format!(
        "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices>\
         <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
         <source file='{}'/><target dev='vda' bus='virtio'/></disk>\
         {extra}\
         <serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         </devices></domain>",
        image.kernel.display(),
        image.initrd.display(),
        disk.display()
    )
}

fn define(root: &Path, name: &str, xml: &str) {
    let file = root.join(format!("{name}.xml"));
    std::fs::write(&file, xml).expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);
}

/// The console of running `name` once it booted.
fn console(root: &Path, name: &str) -> Console {
    let mut con = Console::open(&pty_of(root, name));
    con.until(0, Duration::from_secs(120), READY_MARKER);
    con
}

/// `name value` lines as a map.
fn fields(out: &str) -> Vec<(String, u64)> {
    out.lines()
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.trim().to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn field(out: &str, name: &str) -> u64 {
    fields(out)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in {out:?}"))
}

/// (capacity, allocation, physical) of `domblkinfo NAME vda`.
fn blkinfo(root: &Path, name: &str) -> (u64, u64, u64) {
    let out = virt_ok(root, &["domblkinfo", name, "vda"]);
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {k} in {out}"))
    };
    (get("Capacity:"), get("Allocation:"), get("Physical:"))
}

fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest and makes a bridge (root); run with --features qemu-tests"
)]
fn memory_stats_and_counters_of_a_running_guest_grow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let _guard = QemuGuard::new(root);
    let _daemon = ProcessDaemon::start("virtqemud", root);
    let n = std::process::id() % 200 + 20;
    let bridge = Bridge(format!("vqbr{}", std::process::id() % 100_000));
    ip(&["link", "add", &bridge.0, "type", "bridge"]);
    let host_addr = format!("10.251.{n}.1");
    ip(&["addr", "add", &format!("{host_addr}/24"), "dev", &bridge.0]);
    ip(&["link", "set", &bridge.0, "up"]);
    let disk = root.join("vqs.qcow2");
    virt_tests::qemu::qcow2(&disk, "64M");
    // A sparse raw disk beside the qcow2 one.
    let raw = root.join("vqs.raw");
    std::fs::File::create(&raw)
        .and_then(|f| f.set_len(32 << 20))
        .expect("raw disk");
    let nic = format!(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
         <source file='{}'/><target dev='vdb' bus='virtio'/></disk>\
         <interface type='bridge'><mac address='52:54:00:7a:00:01'/><source bridge='{}'/>\
         <target dev='vqtap{n}'/><model type='virtio'/></interface>\
         <memballoon model='virtio'/>",
        raw.display(),
        bridge.0
    );
    define(
        root,
        "vqs",
        &guest_xml("vqs", "7e570000-0000-4000-8000-00000000dd01", &disk, &nic),
    );

    // Shut off: no memory statistics; the disk's facts come from its image.
    let (ok, _, err) = virt(root, &["dommemstat", "vqs"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Failed to get memory statistics for domain vqs\n\
         error: Requested operation is not valid: domain is not running\n"
    );
    let (cap, alloc, phys) = blkinfo(root, "vqs");
    let md = std::fs::metadata(&disk).expect("disk");
    assert_eq!(cap, 64 << 20);
    assert_eq!(phys, md.len());
    assert_eq!(alloc, std::os::unix::fs::MetadataExt::blocks(&md) * 512);
    let raw_info = virt_ok(root, &["domblkinfo", "vqs", "vdb"]);
    let raw_md = std::fs::metadata(&raw).expect("raw");
    assert_eq!(
        raw_info,
        format!(
            "Capacity:       {}\nAllocation:     {}\nPhysical:       {}\n\n",
            32 << 20,
            std::os::unix::fs::MetadataExt::blocks(&raw_md) * 512,
            32 << 20
        )
    );
    let (ok, _, err) = virt(root, &["domblkinfo", "vqs", "vdz"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: invalid argument: invalid path vdz not assigned to domain\n"
    );

    virt_ok(root, &["start", "vqs"]);
    let mut con = console(root, "vqs");

    // dommemstat: the balloon, the guest's own counters, the RSS. Without a polling period
    // the guest's counters are those it sent once when its driver loaded: last_update
    // stands still.
    let stats = virt_ok(root, &["dommemstat", "vqs"]);
    assert_eq!(field(&stats, "actual"), 128 * 1024, "{stats}");
    let unpolled = field(&stats, "last_update");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        field(&virt_ok(root, &["dommemstat", "vqs"]), "last_update"),
        unpolled
    );
    // `--period 1` (live) starts the polling; last_update advances.
    assert_eq!(
        virt_ok(root, &["dommemstat", "vqs", "--period", "1"]).trim(),
        ""
    );
    let live = virt_ok(root, &["dumpxml", "vqs"]);
    assert!(live.contains("<stats period='1'/>"), "{live}");
    let inactive = virt_ok(root, &["dumpxml", "vqs", "--inactive"]);
    assert!(!inactive.contains("<stats period="), "{inactive}");
    let first = Instant::now();
    let mut stats = String::new();
    wait_until(Duration::from_secs(60), "a first balloon poll", || {
        stats = virt_ok(root, &["dommemstat", "vqs"]);
        fields(&stats)
            .iter()
            .any(|(k, v)| k == "last_update" && *v > 0)
    });
    assert_eq!(field(&stats, "actual"), 128 * 1024, "{stats}");
    for key in [
        "swap_in",
        "major_fault",
        "minor_fault",
        "unused",
        "available",
        "usable",
        "rss",
    ] {
        field(&stats, key);
    }
    assert!(field(&stats, "available") > 64 * 1024, "{stats}");
    assert!(
        field(&stats, "unused") < field(&stats, "available"),
        "{stats}"
    );
    assert!(field(&stats, "rss") > 1024, "{stats}");
    let keys: Vec<String> = fields(&stats).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys.first().map(String::as_str), Some("actual"), "{stats}");
    assert_eq!(keys.last().map(String::as_str), Some("rss"), "{stats}");
    let last = field(&stats, "last_update");
    wait_until(Duration::from_secs(20), "last_update to advance", || {
        field(&virt_ok(root, &["dommemstat", "vqs"]), "last_update") > last
    });
    assert!(first.elapsed() < Duration::from_secs(80));

    // domifstat: the guest pings the host end of the bridge; both directions grow.
    let tap = format!("vqtap{n}");
    let ifstat = |k: &str| {
        field(
            &virt_ok(root, &["domifstat", "vqs", &tap]),
            &format!("{tap} {k}"),
        )
    };
    let (rx0, tx0) = (ifstat("rx_bytes"), ifstat("tx_bytes"));
    con.run(
        &format!(
            "ip link set eth0 up && ip addr add 10.251.{n}.2/24 dev eth0 && ping -c 3 -W 2 {host_addr} >/dev/null"
        ),
        1,
        Duration::from_secs(60),
    );
    let (rx1, tx1) = (ifstat("rx_bytes"), ifstat("tx_bytes"));
    assert!(
        rx1 > rx0 && tx1 > tx0,
        "rx {rx0} -> {rx1}, tx {tx0} -> {tx1}"
    );
    assert!(
        tx1 >= tx0 + 3 * 98,
        "three echo requests: tx {tx0} -> {tx1}"
    );

    // domblkstat and domblkinfo: the guest writes 4 MiB into its disk.
    let blkstat = |k: &str| {
        field(
            &virt_ok(root, &["domblkstat", "vqs", "vda"]),
            &format!("vda {k}"),
        )
    };
    let wr0 = blkstat("wr_bytes");
    let (cap0, alloc0, phys0) = blkinfo(root, "vqs");
    assert_eq!(cap0, 64 << 20);
    assert!(phys0 > 0);
    con.run(
        "dd if=/dev/urandom of=/dev/vda bs=64k count=64 conv=fsync 2>/dev/null",
        2,
        Duration::from_secs(120),
    );
    let wr1 = blkstat("wr_bytes");
    assert!(wr1 >= wr0 + (4 << 20), "wr_bytes {wr0} -> {wr1}");
    let (cap1, alloc1, phys1) = blkinfo(root, "vqs");
    assert_eq!(cap1, 64 << 20);
    assert!(
        alloc1 >= 4 << 20 && alloc1 > alloc0,
        "allocation {alloc0} -> {alloc1}"
    );
    assert!(phys1 >= phys0 + (4 << 20), "physical {phys0} -> {phys1}");
    let all = virt_ok(root, &["domblkinfo", "vqs", "--all"]);
    let header = all.lines().next().unwrap_or_default();
    assert!(
        header
            .split_whitespace()
            .eq(["Target", "Capacity", "Allocation", "Physical"]),
        "{all}"
    );
    for (dev, cap) in [("vda", "67108864"), ("vdb", "33554432")] {
        assert!(
            all.lines().any(|l| l.split_whitespace().next() == Some(dev)
                && l.split_whitespace().nth(1) == Some(cap)),
            "{all}"
        );
    }
    // The running raw disk: QEMU's figures (its size; the highest offset written: none yet).
    let raw_live = virt_ok(root, &["domblkinfo", "vqs", "vdb"]);
    assert!(
        raw_live.starts_with(&format!(
            "Capacity:       {}\nAllocation:     0\n",
            32 << 20
        )),
        "{raw_live}"
    );
    let human = virt_ok(root, &["domblkinfo", "vqs", "vda", "--human"]);
    assert!(human.starts_with("Capacity:       64.000 MiB\n"), "{human}");

    // --config: the persistent definition keeps the period, the live one is unchanged.
    virt_ok(root, &["dommemstat", "vqs", "--period", "3", "--config"]);
    let inactive = virt_ok(root, &["dumpxml", "vqs", "--inactive"]);
    assert!(inactive.contains("<stats period='3'/>"), "{inactive}");
    assert!(virt_ok(root, &["dumpxml", "vqs"]).contains("<stats period='1'/>"));

    // No agent channel: guestvcpus is refused at once, as libvirt.
    let (ok, _, err) = virt(root, &["guestvcpus", "vqs"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: argument unsupported: QEMU guest agent is not configured\n"
    );

    virt_ok(root, &["destroy", "vqs"]);
    let (ok, _, err) = virt(root, &["dommemstat", "vqs", "--period", "2", "--live"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Unable to change balloon collection period.\n\
         error: Requested operation is not valid: domain is not running\n"
    );
    let (cap2, alloc2, phys2) = blkinfo(root, "vqs");
    let md = std::fs::metadata(&disk).expect("disk");
    assert_eq!(
        (cap2, alloc2, phys2),
        (
            64 << 20,
            std::os::unix::fs::MetadataExt::blocks(&md) * 512,
            md.len()
        )
    );
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn metadata_rename_and_managed_save_xml() {
    // Outputs are compared without the CLI's trailing blank lines: their exact form is
    // compared with virsh's in mgmt_cli.rs.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let _guard = QemuGuard::new(root);
    let mut daemon = ProcessDaemon::start("virtqemud", root);
    let disk = root.join("vqm.qcow2");
    virt_tests::qemu::qcow2(&disk, "64M");
    define(
        root,
        "vqm",
        &guest_xml(
            "vqm",
            "7e570000-0000-4000-8000-00000000dd02",
            &disk,
            "<memballoon model='virtio'><stats period='1'/></memballoon>",
        ),
    );
    let ns = "http://example.org/vq/";

    // Persistent definition: description, title, one element, each with its
    // METADATA_CHANGE event (watched by `virt event`, started first).
    let events = Command::new(virt_tests::workspace_bin("virt"))
        .args([
            "-c",
            "qemu:///system",
            "event",
            "--domain",
            "vqm",
            "--event",
            "metadata-change",
        ])
        .args(["--loop", "--timeout", "8"])
        .env("VIRT_ROOT", root)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("virt event");
    std::thread::sleep(Duration::from_millis(1500));
    let out = virt_ok(root, &["desc", "vqm", "--new-desc", "first words"]);
    assert_eq!(out.trim_end(), "Domain description updated successfully");
    virt_ok(root, &["desc", "vqm", "--title", "--new-desc", "A title"]);
    let out = virt_ok(
        root,
        &[
            "metadata",
            "vqm",
            ns,
            "--key",
            "vq",
            "--set",
            "<app><v>1</v></app>",
        ],
    );
    assert_eq!(out.trim_end(), "Metadata modified");
    let check_config = |root: &Path| {
        assert_eq!(virt_ok(root, &["desc", "vqm"]).trim_end(), "first words");
        assert_eq!(
            virt_ok(root, &["desc", "vqm", "--title"]).trim_end(),
            "A title"
        );
        let m = virt_ok(root, &["metadata", "vqm", ns]);
        assert_eq!(m.trim_end(), "<app>\n  <v>1</v>\n</app>");
    };
    check_config(root);
    let seen = events.wait_with_output().expect("virt event");
    let seen = String::from_utf8_lossy(&seen.stdout);
    for line in [
        "event 'metadata-change' for domain 'vqm': type description, uri n/a",
        "event 'metadata-change' for domain 'vqm': type title, uri n/a",
        "event 'metadata-change' for domain 'vqm': type element, uri http://example.org/vq/",
    ] {
        assert!(seen.lines().any(|l| l == line), "{line} not in {seen}");
    }
    let xml = virt_ok(root, &["dumpxml", "vqm"]);
    assert!(
        xml.contains("<description>first words</description>"),
        "{xml}"
    );
    assert!(
        xml.contains("<vq:app xmlns:vq=\"http://example.org/vq/\">"),
        "{xml}"
    );
    let (ok, _, err) = virt(root, &["metadata", "vqm", "http://example.org/none/"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: metadata not found: Requested metadata element is not present\n"
    );
    let (ok, _, err) = virt(root, &["desc", "vqm", "--live", "--new-desc", "x"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Failed to set new domain description\n\
         error: Requested operation is not valid: domain is not running\n"
    );

    // They survive a restart of the daemon (the stored definition).
    drop(daemon);
    daemon = ProcessDaemon::start("virtqemud", root);
    check_config(root);

    // domrename: the stored definition moves, the old name is gone.
    let store = root.join("etc/virt/qemu");
    let out = virt_ok(root, &["domrename", "vqm", "vqr"]);
    assert_eq!(out.trim_end(), "Domain successfully renamed");
    let (ok, _, err) = virt(root, &["dominfo", "vqm"]);
    assert!(!ok);
    assert_eq!(err, "error: failed to get domain 'vqm'\n");
    let xml = virt_ok(root, &["dumpxml", "vqr"]);
    assert!(xml.contains("<name>vqr</name>"), "{xml}");
    assert!(
        xml.contains("<description>first words</description>"),
        "{xml}"
    );
    assert!(!store.join("vqm.xml").exists());
    assert!(store.join("vqr.xml").exists());
    let (ok, _, err) = virt(root, &["domrename", "vqr", "vqr"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Requested operation is not valid: Can't rename domain to itself\n"
    );
    drop(daemon);
    daemon = ProcessDaemon::start("virtqemud", root);
    let list = virt_ok(root, &["list", "--all", "--name"]);
    assert_eq!(list.trim_end(), "vqr");

    // Live: a running guest's live description changes without its persistent one, and
    // the live one survives a daemon restart (the status file).
    virt_ok(root, &["start", "vqr"]);
    let mut con = console(root, "vqr");
    // The definition's `<stats period='1'/>` is applied at start: the guest's counters come.
    wait_until(Duration::from_secs(30), "balloon statistics", || {
        let s = virt_ok(root, &["dommemstat", "vqr"]);
        fields(&s).iter().any(|(k, v)| k == "last_update" && *v > 0)
            && fields(&s).iter().any(|(k, _)| k == "available")
    });
    let (ok, _, err) = virt(root, &["domrename", "vqr", "vqx"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Requested operation is not valid: cannot rename active domain\n"
    );
    virt_ok(root, &["desc", "vqr", "--live", "--new-desc", "live words"]);
    assert_eq!(virt_ok(root, &["desc", "vqr"]).trim_end(), "live words");
    assert_eq!(
        virt_ok(root, &["desc", "vqr", "--config"]).trim_end(),
        "first words"
    );
    drop(daemon);
    let _daemon = ProcessDaemon::start("virtqemud", root);
    assert_eq!(
        virt_ok(root, &["desc", "vqr", "--live"]).trim_end(),
        "live words"
    );
    assert_eq!(
        virt_ok(root, &["desc", "vqr", "--config"]).trim_end(),
        "first words"
    );

    // managedsave: the image's XML is the live definition; a changed description is
    // stored in it and start resumes the guest with it.
    con.type_line("echo kept-1 > /m");
    con.expect_marker("kept-1");
    let (ok, _, err) = virt(root, &["managedsave-dumpxml", "vqr"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Requested operation is not valid: domain does not have managed save image\n"
    );
    virt_ok(root, &["managedsave", "vqr"]);
    let saved = virt_ok(root, &["managedsave-dumpxml", "vqr"]);
    assert!(
        saved.contains("<description>live words</description>"),
        "{saved}"
    );
    assert!(saved.contains("<name>vqr</name>"), "{saved}");
    let changed = saved.replace("live words", "saved words");
    let file = root.join("changed.xml");
    std::fs::write(&file, &changed).expect("xml");
    let f = file.display().to_string();
    let out = virt_ok(root, &["managedsave-define", "vqr", &f]);
    assert_eq!(
        out.trim_end(),
        "Managed save state file of domain 'vqr' updated."
    );
    let again = virt_ok(root, &["managedsave-dumpxml", "vqr"]);
    assert!(
        again.contains("<description>saved words</description>"),
        "{again}"
    );
    // An ABI change (the memory size) is refused and leaves the image as it was.
    let bigger = changed.replace(
        "<memory unit='KiB'>131072</memory>",
        "<memory unit='KiB'>262144</memory>",
    );
    assert_ne!(bigger, changed, "{changed}");
    std::fs::write(&file, &bigger).expect("xml");
    let (ok, _, err) = virt(root, &["managedsave-define", "vqr", &f]);
    assert!(!ok);
    assert!(
        err.contains("Target domain max memory 262144 does not match source 131072"),
        "{err}"
    );
    assert_eq!(virt_ok(root, &["managedsave-dumpxml", "vqr"]), again);
    // The same works on a plain save image with save-image-dumpxml / -define.
    let img = root.join("vqr.save").display().to_string();
    let (ok, _, err) = virt(root, &["save-image-dumpxml", &img]);
    assert!(!ok, "no image yet: {err}");

    let out = virt_ok(root, &["start", "vqr"]);
    assert_eq!(out.trim_end(), "Domain 'vqr' started");
    assert_eq!(
        wait_domstate(root, "vqr", "running (restored)", Duration::from_secs(20)),
        "running (restored)"
    );
    let mut con = Console::open(&pty_of(root, "vqr"));
    let at = con.type_line("echo RE\"\"ADY-2");
    con.until(at, Duration::from_secs(60), "READY-2");
    con.expect_marker("kept-1");
    assert_eq!(virt_ok(root, &["desc", "vqr"]).trim_end(), "saved words");

    virt_ok(root, &["save", "vqr", &img]);
    let xml = virt_ok(root, &["save-image-dumpxml", &img]);
    assert!(
        xml.contains("<description>saved words</description>"),
        "{xml}"
    );
    std::fs::write(&file, xml.replace("saved words", "image words")).expect("xml");
    let out = virt_ok(root, &["save-image-define", &img, &f]);
    assert_eq!(out.trim_end(), format!("State file {img} updated."));
    let xml = virt_ok(root, &["save-image-dumpxml", &img]);
    assert!(
        xml.contains("<description>image words</description>"),
        "{xml}"
    );
    virt_ok(root, &["restore", &img]);
    assert_eq!(virt_ok(root, &["desc", "vqr"]).trim_end(), "image words");
    virt_ok(root, &["destroy", "vqr"]);
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest with qemu-ga; run with --features qemu-tests"
)]
fn guest_vcpus_go_offline_and_online_through_the_agent() {
    let image = test_guest_with_agent().expect("test guest with agent");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let _guard = QemuGuard::new(root);
    let _daemon = ProcessDaemon::start("virtqemud", root);
    let xml = format!(
        "<domain type='qemu'><name>vqa</name>\
         <uuid>7e570000-0000-4000-8000-00000000dd03</uuid>\
         <memory unit='MiB'>160</memory><vcpu current='2'>3</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices><serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>\
         <memballoon model='none'/></devices></domain>",
        image.kernel.display(),
        image.initrd.display()
    );
    define(root, "vqa", &xml);
    let (ok, _, err) = virt(root, &["guestvcpus", "vqa"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Requested operation is not valid: domain is not running\n"
    );
    virt_ok(root, &["start", "vqa"]);
    let mut out = String::new();
    wait_until(Duration::from_secs(180), "the agent", || {
        let (ok, o, _) = virt(root, &["guestvcpus", "vqa"]);
        out = o;
        ok
    });
    let line = |out: &str, k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k:<15}: ")))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no {k} in {out:?}"))
    };
    assert_eq!(line(&out, "vcpus"), "0-1", "{out}");
    assert_eq!(line(&out, "online"), "0-1", "{out}");
    // Without a balloon, dommemstat has QEMU's RSS alone, as libvirt's QEMU driver.
    let mem = virt_ok(root, &["dommemstat", "vqa"]);
    let keys: Vec<String> = fields(&mem).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["rss"], "{mem}");
    assert!(field(&mem, "rss") > 1024, "{mem}");
    assert!(line(&out, "offlinable").contains('1'), "{out}");

    virt_ok(root, &["guestvcpus", "vqa", "--cpulist", "1", "--disable"]);
    let out = virt_ok(root, &["guestvcpus", "vqa"]);
    assert_eq!(line(&out, "online"), "0", "{out}");
    assert_eq!(line(&out, "vcpus"), "0-1", "{out}");
    virt_ok(root, &["guestvcpus", "vqa", "--cpulist", "1", "--enable"]);
    let out = virt_ok(root, &["guestvcpus", "vqa"]);
    assert_eq!(line(&out, "online"), "0-1", "{out}");

    let (ok, _, err) = virt(root, &["guestvcpus", "vqa", "--cpulist", "1,5", "--enable"]);
    assert!(!ok);
    assert_eq!(err, "error: invalid argument: guest is missing vCPUs '5'\n");
    let (ok, _, err) = virt(root, &["guestvcpus", "vqa", "--cpulist", "x", "--enable"]);
    assert!(!ok);
    assert_eq!(err, "error: invalid argument: Failed to parse bitmap 'x'\n");
    if !line(&out, "offlinable").contains('0') {
        let (ok, _, err) = virt(root, &["guestvcpus", "vqa", "--cpulist", "0", "--disable"]);
        assert!(!ok);
        assert_eq!(
            err,
            "error: Operation not supported: vCPU '0' is not offlinable\n"
        );
    }

    // setvcpu: vCPU 2 (offline, after the online ones) is hot-added; vCPU 0 and absent
    // vCPUs are refused as libvirt refuses them; removing one live is not implemented.
    let count = |args: &[&str]| {
        let mut a = vec!["vcpucount", "vqa"];
        a.extend_from_slice(args);
        virt_ok(root, &a).trim().to_string()
    };
    assert_eq!(count(&["--live", "--active"]), "2");
    virt_ok(root, &["setvcpu", "vqa", "2", "--enable", "--live"]);
    assert_eq!(count(&["--live", "--active"]), "3");
    assert_eq!(count(&["--config", "--active"]), "2");
    wait_until(Duration::from_secs(30), "the guest to see vCPU 2", || {
        line(&virt_ok(root, &["guestvcpus", "vqa"]), "vcpus") == "0-2"
    });
    let (ok, _, err) = virt(root, &["setvcpu", "vqa", "0", "--disable"]);
    assert!(!ok);
    assert_eq!(err, "error: invalid argument: vCPU '0' can't be modified\n");
    let (ok, _, err) = virt(root, &["setvcpu", "vqa", "5", "--enable", "--live"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: invalid argument: vcpu 5 is not present in live config\n"
    );
    let (ok, _, err) = virt(root, &["setvcpu", "vqa", "2", "--disable", "--live"]);
    assert!(!ok);
    assert!(
        err.contains("removing vCPUs from a running domain"),
        "{err}"
    );
    // --config: the persistent count follows.
    virt_ok(root, &["setvcpu", "vqa", "1", "--disable", "--config"]);
    assert_eq!(count(&["--config", "--active"]), "1");
    assert_eq!(count(&["--live", "--active"]), "3");
    let (ok, _, err) = virt(root, &["setvcpu", "vqa", "2", "--enable", "--config"]);
    assert!(!ok);
    assert!(err.contains("cannot be enabled alone"), "{err}");
    virt_ok(root, &["destroy", "vqa"]);
}
