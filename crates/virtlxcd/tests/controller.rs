//! Real containers run by `virt-lxc-controller` (root only; `--features lxc-tests`).
#![cfg(feature = "lxc-tests")]
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virtlxcd::plan::control::{Reply, Request};
use virtlxcd::plan::{Exit, ExitReason, HostDevice, IdRange, Interface, Mount, MountKind, Plan};

const CTL: &str = env!("CARGO_BIN_EXE_virt-lxc-controller");

/// A busybox root in a temp dir; `init` becomes `/init` (a shell script).
fn make_root(dir: &Path, init: &str) -> PathBuf {
    let root = dir.join("root");
    for d in [
        "bin", "etc", "proc", "sys", "dev", "tmp", "ro", "ram", "img",
    ] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for app in [
        "sh", "echo", "cat", "sleep", "ls", "mount", "ip", "dd", "hostname", "id", "grep", "wc",
        "touch", "tr", "sed", "head", "df", "env", "ping", "reboot", "poweroff",
    ] {
        symlink("busybox", root.join("bin").join(app)).unwrap();
    }
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n",
    )
    .unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\napp:x:1000:\ntty:x:5:\n").unwrap();
    fs::write(root.join("init"), format!("#!/bin/sh\n{init}\n")).unwrap();
    fs::set_permissions(root.join("init"), fs::Permissions::from_mode(0o755)).unwrap();
    root
}

fn base_plan(dir: &Path, root: Option<PathBuf>) -> Plan {
    Plan {
        name: "ctltest".into(),
        uuid: "c7a5fdbd-edaf-9455-926a-d65c16db1809".into(),
        root,
        init: vec!["/init".into()],
        env: vec![
            ("container".into(), "lxc-libvirt".into()),
            ("PATH".into(), "/bin".into()),
            ("TERM".into(), "linux".into()),
            ("FOO".into(), "bar baz".into()),
        ],
        control_socket: dir.join("ctl.sock"),
        exit_record: dir.join("exit.json"),
        ..Plan::default()
    }
}

struct Ctl {
    child: Child,
    first_line: String,
    /// Killed when the test ends early (a failed assertion), so no container outlives it.
    init_pid: Option<i32>,
}

/// Kills a container's init when a test ends early.
struct KillOnDrop(Option<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0.filter(|&p| alive(p)) {
            // SAFETY: kill with integer arguments.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

impl Drop for Ctl {
    fn drop(&mut self) {
        if let Some(pid) = self.init_pid {
            if alive(pid) {
                // SAFETY: kill with integer arguments.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// Runs `cmd` (the controller, possibly wrapped) with the plan; reads the handshake line.
fn start_with(plan: &Plan, dir: &Path, wrap: &[&str]) -> Ctl {
    let path = dir.join("plan.json");
    fs::write(&path, serde_json::to_vec(plan).unwrap()).unwrap();
    let mut cmd = if wrap.is_empty() {
        let mut c = Command::new(CTL);
        c.arg("--plan").arg(&path);
        c
    } else {
        let mut c = Command::new(wrap[0]);
        c.args(&wrap[1..]);
        c.env("CTL", CTL).env("PLAN", &path);
        c
    };
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(fs::File::create(dir.join("ctl.log")).unwrap())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first_line = String::new();
    out.read_line(&mut first_line).unwrap();
    let first_line = first_line.trim().to_string();
    let init_pid = first_line
        .strip_prefix("READY ")
        .and_then(|p| p.parse().ok());
    Ctl {
        child,
        first_line,
        init_pid,
    }
}

fn start(plan: &Plan, dir: &Path) -> (Ctl, i32) {
    let ctl = start_with(plan, dir, &[]);
    let log = fs::read_to_string(dir.join("ctl.log")).unwrap_or_default();
    let pid = ctl
        .first_line
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("no READY: {:?}; log: {log}", ctl.first_line))
        .parse()
        .unwrap();
    (ctl, pid)
}

/// Sends one request on a new connection; returns the connection and the reply.
fn request(sock: &Path, req: &Request) -> (BufReader<UnixStream>, Reply) {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut line = serde_json::to_string(req).unwrap();
    line.push('\n');
    s.write_all(line.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut answer = String::new();
    r.read_line(&mut answer).unwrap();
    let reply =
        serde_json::from_str(answer.trim()).unwrap_or_else(|e| panic!("reply {answer:?}: {e}"));
    (r, reply)
}

fn read_reply(r: &mut BufReader<UnixStream>) -> Reply {
    let mut answer = String::new();
    r.read_line(&mut answer).unwrap();
    serde_json::from_str(answer.trim()).unwrap_or_else(|e| panic!("reply {answer:?}: {e}"))
}

/// Reads console bytes until `want` shows up (or 20 s pass).
fn read_until(r: &mut BufReader<UnixStream>, seen: &mut String, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 1024];
    while !seen.contains(want) {
        assert!(
            Instant::now() < deadline,
            "no {want:?} on the console; got {seen:?}"
        );
        let n = r.read(&mut buf).unwrap();
        assert!(n > 0, "console closed; got {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {out:?}"))
        .trim()
}

fn exit_record(plan: &Plan) -> Exit {
    serde_json::from_slice(&fs::read(&plan.exit_record).unwrap()).unwrap()
}

fn alive(pid: i32) -> bool {
    // A zombie is gone for our purposes.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

fn vm_rss_kib(pid: i32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    field(&status, "VmRSS:")
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn console_namespaces_mounts_user_and_destroy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = make_root(
        dir,
        r#"echo MARKER-BEFORE-CONNECT
echo "PID=$$"
echo "HOST=$(hostname)"
echo "NPROCS=$(ls -d /proc/[0-9]* | wc -l)"
echo "RAM=$(grep ' /ram ' /proc/mounts)"
echo "IMG=$(grep ' /img ' /proc/mounts)"
echo "IMGDATA=$(cat /img/hello)"
echo "ROMNT=$(grep ' /ro ' /proc/mounts)"
echo "ROTOUCH=$(touch /ro/x 2>&1)"
echo "FOO=$FOO"
echo "IDS=$(id -u):$(id -g)"
echo "DEV=$(ls /dev | tr '\n' ' ')"
echo "PWD=$(pwd)"
echo "CAPBND=$(grep CapBnd /proc/self/status)"
echo "TUN=$(ls -l /dev/net/tun)"
echo WAITING-FOR-INPUT
read line
echo "GOT=$line"
exec sleep 1000"#,
    );
    let ro_src = dir.join("ro-src");
    fs::create_dir(&ro_src).unwrap();
    fs::set_permissions(&ro_src, fs::Permissions::from_mode(0o777)).unwrap();
    // An ext2 image with one file, mounted through a loop device.
    let img = dir.join("fs.img");
    fs::File::create(&img).unwrap().set_len(2 << 20).unwrap();
    let st = Command::new("/bin/busybox")
        .args(["mke2fs", "-q", "-F"])
        .arg(&img)
        .arg("2048")
        .status()
        .unwrap();
    assert!(st.success());
    let m = dir.join("m");
    fs::create_dir(&m).unwrap();
    assert!(Command::new("mount")
        .arg("-o")
        .arg("loop")
        .arg(&img)
        .arg(&m)
        .status()
        .unwrap()
        .success());
    fs::write(m.join("hello"), "from-the-image\n").unwrap();
    assert!(Command::new("umount").arg(&m).status().unwrap().success());

    let mut plan = base_plan(dir, Some(root));
    plan.init_user = Some("app".into());
    plan.init_dir = Some("/tmp".into());
    plan.drop_caps = vec![27]; // CAP_MKNOD
    plan.hostdevs = vec![HostDevice::Char {
        path: "/dev/net/tun".into(),
    }];
    plan.mounts = vec![
        Mount {
            kind: MountKind::Bind { source: ro_src },
            target: "/ro".into(),
            readonly: true,
        },
        Mount {
            kind: MountKind::Ram { size_kib: 1536 },
            target: "/ram".into(),
            readonly: false,
        },
        Mount {
            kind: MountKind::Image {
                source: img.clone(),
                loop_device: true,
            },
            target: "/img".into(),
            readonly: true,
        },
    ];
    let (mut ctl, init_pid) = start(&plan, dir);
    assert!(alive(init_pid));
    // Let init print its marker before anyone is connected.
    std::thread::sleep(Duration::from_millis(500));

    let (mut con, reply) = request(&plan.control_socket, &Request::Console { force: false });
    assert_eq!(reply, Reply::Ok);
    let mut seen = String::new();
    read_until(&mut con, &mut seen, "WAITING-FOR-INPUT");
    assert!(seen.contains("MARKER-BEFORE-CONNECT"), "{seen}");
    // A second console is refused while one is connected.
    let (_c2, busy) = request(&plan.control_socket, &Request::Console { force: false });
    assert_eq!(
        busy,
        Reply::Error {
            message: "console is in use".into()
        }
    );
    // A forced console takes over; the old one is closed.
    let (mut con2, reply) = request(&plan.control_socket, &Request::Console { force: true });
    assert_eq!(reply, Reply::Ok);
    let mut rest = Vec::new();
    con.read_to_end(&mut rest).unwrap();
    con2.get_mut().write_all(b"hello-typed\n").unwrap();
    read_until(&mut con2, &mut seen, "GOT=hello-typed");
    eprintln!("console: {seen}");
    assert_eq!(field(&seen, "PID="), "1");
    assert_eq!(field(&seen, "HOST="), "ctltest");
    let nprocs: u32 = field(&seen, "NPROCS=").parse().unwrap();
    assert!(nprocs <= 5, "container /proc shows {nprocs} processes");
    assert!(
        field(&seen, "RAM=").contains("tmpfs") && field(&seen, "RAM=").contains("size=1536k"),
        "{seen}"
    );
    assert!(
        field(&seen, "IMG=").contains("ext2") && field(&seen, "IMG=").contains(" ro"),
        "{seen}"
    );
    assert_eq!(field(&seen, "IMGDATA="), "from-the-image");
    assert!(field(&seen, "ROMNT=").contains(" ro,"), "{seen}");
    assert!(
        field(&seen, "ROTOUCH=").contains("Read-only file system"),
        "{seen}"
    );
    assert_eq!(field(&seen, "FOO="), "bar baz");
    assert_eq!(field(&seen, "IDS="), "1000:1000");
    assert_eq!(field(&seen, "PWD="), "/tmp");
    let bnd = u64::from_str_radix(
        field(&seen, "CAPBND=").trim_start_matches("CapBnd:").trim(),
        16,
    )
    .unwrap();
    assert_eq!(
        bnd & (1 << 27),
        0,
        "CAP_MKNOD still in the bounding set: {bnd:x}"
    );
    assert_ne!(bnd & (1 << 21), 0, "CAP_SYS_ADMIN dropped too: {bnd:x}");
    assert!(
        field(&seen, "TUN=").starts_with('c') && field(&seen, "TUN=").contains("10, 200"),
        "{seen}"
    );
    for d in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "console", "fd",
    ] {
        assert!(
            field(&seen, "DEV=").split(' ').any(|x| x == d),
            "no /dev/{d}: {seen}"
        );
    }

    let (_s, status) = request(&plan.control_socket, &Request::Status);
    assert_eq!(
        status,
        Reply::Status {
            controller_pid: ctl.child.id() as i32,
            init_pid
        }
    );

    let (_d, reply) = request(&plan.control_socket, &Request::Destroy);
    let Reply::Exited(exit) = reply else {
        panic!("destroy: {reply:?}")
    };
    assert_eq!(exit.reason, ExitReason::Destroyed);
    assert_eq!(exit_record(&plan), exit);
    assert!(ctl.child.wait().unwrap().success());
    assert!(!alive(init_pid));
    assert!(!plan.control_socket.exists());
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(dir.to_str().unwrap()), "{mountinfo}");
    let loops = Command::new("losetup").arg("-a").output().unwrap();
    let loops = String::from_utf8_lossy(&loops.stdout);
    assert!(
        !loops.contains(img.to_str().unwrap()),
        "loop device left: {loops}"
    );
}

#[test]
fn init_exit_zero_is_shutdown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = make_root(dir, "read x\necho bye\nexit 0");
    let plan = base_plan(dir, Some(root));
    // A stale socket file from an earlier run is replaced.
    fs::write(&plan.control_socket, "stale").unwrap();
    let (mut ctl, _) = start(&plan, dir);
    let (mut watch, reply) = request(&plan.control_socket, &Request::Watch);
    assert_eq!(reply, Reply::Ok);
    // A bad request is answered with an error naming it, and the connection stays usable.
    let mut raw = UnixStream::connect(&plan.control_socket).unwrap();
    raw.write_all(b"{\"op\":\"fly\"}\n{\"op\":\"status\"}\n")
        .unwrap();
    let mut raw = BufReader::new(raw);
    let Reply::Error { message } = read_reply(&mut raw) else {
        panic!("bad request accepted")
    };
    assert!(message.contains("fly"), "{message}");
    assert!(matches!(read_reply(&mut raw), Reply::Status { .. }));
    let (mut con, reply) = request(&plan.control_socket, &Request::Console { force: true });
    assert_eq!(reply, Reply::Ok);
    con.get_mut().write_all(b"go\n").unwrap();
    let Reply::Exited(exit) = read_reply(&mut watch) else {
        panic!("watch")
    };
    assert_eq!(exit.reason, ExitReason::Shutdown);
    assert_eq!(exit.status, 0);
    assert!(ctl.child.wait().unwrap().success());
    assert_eq!(exit_record(&plan), exit);
    assert!(!plan.control_socket.exists());
}

#[test]
fn unrequested_kill_is_crashed_and_cgroups_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = make_root(dir, "exec sleep 1000");
    let mut plan = base_plan(dir, Some(root));
    let name = format!("ctltest-{}", std::process::id());
    let groups: Vec<PathBuf> = ["memory", "freezer"]
        .iter()
        .map(|c| Path::new("/sys/fs/cgroup").join(c).join(&name))
        .collect();
    for g in &groups {
        fs::create_dir_all(g).unwrap();
    }
    plan.cgroup_procs = groups.iter().map(|g| g.join("cgroup.procs")).collect();
    plan.cgroup_dirs = groups.clone();
    let (mut ctl, init_pid) = start(&plan, dir);
    for g in &groups {
        let procs = fs::read_to_string(g.join("cgroup.procs")).unwrap();
        assert!(procs.lines().any(|l| l == init_pid.to_string()), "{procs}");
    }
    let (mut watch, reply) = request(&plan.control_socket, &Request::Watch);
    assert_eq!(reply, Reply::Ok);
    // SAFETY: kill with integer arguments.
    unsafe { libc::kill(init_pid, libc::SIGKILL) };
    let Reply::Exited(exit) = read_reply(&mut watch) else {
        panic!("watch")
    };
    assert_eq!(exit.reason, ExitReason::Crashed);
    assert_eq!(exit.status, 128 + 9);
    assert!(exit.message.contains("SIGKILL"), "{}", exit.message);
    assert!(ctl.child.wait().unwrap().success());
    for g in &groups {
        assert!(!g.exists(), "{} left", g.display());
    }
}

#[test]
fn missing_root_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let missing = dir.join("no-such-root");
    let plan = base_plan(dir, Some(missing.clone()));
    let mut ctl = start_with(&plan, dir, &[]);
    assert!(ctl.first_line.starts_with("ERROR "), "{}", ctl.first_line);
    assert!(
        ctl.first_line.contains(missing.to_str().unwrap()),
        "{}",
        ctl.first_line
    );
    assert!(!ctl.child.wait().unwrap().success());
    assert!(!plan.control_socket.exists());

    // A missing init inside an existing root: the error names it too.
    let root = make_root(dir, "true");
    let mut plan = base_plan(dir, Some(root));
    plan.init = vec!["/sbin/nope".into()];
    let mut ctl = start_with(&plan, dir, &[]);
    assert!(ctl.first_line.starts_with("ERROR "), "{}", ctl.first_line);
    assert!(ctl.first_line.contains("/sbin/nope"), "{}", ctl.first_line);
    assert!(!ctl.child.wait().unwrap().success());
    assert!(!plan.control_socket.exists());
}

#[test]
fn private_network_in_a_test_namespace() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = make_root(
        dir,
        "ip addr show eth0\nip link show hd0\nip route\necho \"FWD=$(echo 1 > /proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward)\"\necho \"KERN=$( (echo x > /proc/sys/kernel/hostname) 2>&1)\"\necho NET-DONE\nexec sleep 1000",
    );
    let mut plan = base_plan(dir, Some(root));
    plan.private_net = true;
    plan.interfaces = vec![Interface {
        host_end: "vh0".into(),
        container_end: "vc0".into(),
        name: "eth0".into(),
        mac: "02:00:00:00:00:42".into(),
        addresses: vec!["10.99.0.2/24".into()],
        routes: vec![("10.98.0.0/24".into(), "10.99.0.1".into())],
        mtu: Some(1400),
    }];
    plan.hostdevs = vec![HostDevice::Net { name: "hd0".into() }];
    // Everything happens in a network namespace of the test's own.
    let (mut ctl, _) = {
        let ctl = start_with(
            &plan,
            dir,
            &[
                "unshare",
                "-n",
                "sh",
                "-c",
                "ip link add vh0 type veth peer name vc0 && ip addr add 10.99.0.1/24 dev vh0 \
                 && ip link set vh0 up && ip link add hd0 type veth peer name hd0p && exec \"$CTL\" --plan \"$PLAN\"",
            ],
        );
        let log = fs::read_to_string(dir.join("ctl.log")).unwrap_or_default();
        let pid: i32 = ctl
            .first_line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("{:?} {log}", ctl.first_line))
            .parse()
            .unwrap();
        (ctl, pid)
    };
    let (mut con, reply) = request(&plan.control_socket, &Request::Console { force: false });
    assert_eq!(reply, Reply::Ok);
    let mut seen = String::new();
    read_until(&mut con, &mut seen, "NET-DONE");
    eprintln!("network: {seen}");
    assert!(
        seen.contains("eth0") && seen.contains("inet 10.99.0.2/24"),
        "{seen}"
    );
    assert!(
        seen.contains("02:00:00:00:00:42") && seen.contains("mtu 1400"),
        "{seen}"
    );
    assert!(seen.contains("10.98.0.0/24 via 10.99.0.1"), "{seen}");
    assert!(
        seen.contains(": hd0@"),
        "host interface not moved in: {seen}"
    );
    // /proc/sys is read-only but for the container's own network.
    assert_eq!(field(&seen, "FWD="), "1");
    assert!(
        field(&seen, "KERN=").contains("Read-only file system"),
        "{seen}"
    );
    let netns = format!("--net=/proc/{}/ns/net", ctl.child.id());
    let ping = Command::new("nsenter")
        .args([
            &netns,
            "/bin/busybox",
            "ping",
            "-c",
            "1",
            "-W",
            "5",
            "10.99.0.2",
        ])
        .output()
        .unwrap();
    assert!(
        ping.status.success(),
        "{}",
        String::from_utf8_lossy(&ping.stdout)
    );
    let (_d, reply) = request(&plan.control_socket, &Request::Destroy);
    assert!(
        matches!(
            reply,
            Reply::Exited(Exit {
                reason: ExitReason::Destroyed,
                ..
            })
        ),
        "{reply:?}"
    );
    assert!(ctl.child.wait().unwrap().success());
}

#[test]
fn survives_its_parent_and_stays_small() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = make_root(dir, "echo up\nexec sleep 1000");
    let plan = base_plan(dir, Some(root));
    // Orphans come back to this process so it can reap the controller at the end.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut ctl = start_with(
        &plan,
        dir,
        &["sh", "-c", "setsid \"$CTL\" --plan \"$PLAN\" &"],
    );
    let init_pid: i32 = ctl
        .first_line
        .strip_prefix("READY ")
        .unwrap()
        .parse()
        .unwrap();
    // The parent (sh) is gone; the controller runs on.
    ctl.child.wait().unwrap();
    let _guard = KillOnDrop(ctl.init_pid.take());
    drop(ctl);
    std::thread::sleep(Duration::from_millis(200));
    let (_s, reply) = request(&plan.control_socket, &Request::Status);
    let Reply::Status {
        controller_pid,
        init_pid: ip,
    } = reply
    else {
        panic!("{reply:?}")
    };
    assert_eq!(ip, init_pid);
    assert!(alive(controller_pid) && alive(init_pid));
    let rss = vm_rss_kib(controller_pid);
    eprintln!("controller RSS: {rss} KiB");
    assert!(rss < 4096, "controller RSS {rss} KiB");
    let (_d, reply) = request(&plan.control_socket, &Request::Destroy);
    assert!(
        matches!(
            reply,
            Reply::Exited(Exit {
                reason: ExitReason::Destroyed,
                ..
            })
        ),
        "{reply:?}"
    );
    // SAFETY: waitpid on a process reparented to us (or already reaped by someone else).
    unsafe { libc::waitpid(controller_pid, std::ptr::null_mut(), 0) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(controller_pid) {
        assert!(Instant::now() < deadline, "controller still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(init_pid));
}

/// Runs a container whose init waits for a console line, then does `action`; returns how it
/// ended (as told to a Watch connection).
fn ended_after_input(action: &str, tweak: impl FnOnce(&mut Plan)) -> (Exit, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = make_root(dir, &format!("echo \"IDS=$(id -u):$(id -g)\"\necho \"UIDMAP=$(cat /proc/self/uid_map)\"\necho \"TUN=$(ls -l /dev/net/tun 2>&1)\"\necho \"NULL=$(echo x > /dev/null && echo ok)\"\necho ASK\nread x\n{action}"));
    let mut plan = base_plan(dir, Some(root));
    tweak(&mut plan);
    let (mut ctl, _) = start(&plan, dir);
    let (mut watch, reply) = request(&plan.control_socket, &Request::Watch);
    assert_eq!(reply, Reply::Ok);
    let (mut con, reply) = request(&plan.control_socket, &Request::Console { force: false });
    assert_eq!(reply, Reply::Ok);
    let mut seen = String::new();
    read_until(&mut con, &mut seen, "ASK");
    con.get_mut().write_all(b"go\n").unwrap();
    let Reply::Exited(exit) = read_reply(&mut watch) else {
        panic!("watch")
    };
    assert!(ctl.child.wait().unwrap().success());
    assert_eq!(exit_record(&plan), exit);
    (exit, seen)
}

#[test]
fn reboot_and_poweroff_inside() {
    let (exit, _) = ended_after_input("reboot -f", |_| {});
    assert_eq!(exit.reason, ExitReason::Reboot, "{exit:?}");
    let (exit, _) = ended_after_input("poweroff -f", |_| {});
    assert_eq!(exit.reason, ExitReason::Shutdown, "{exit:?}");
}

#[test]
fn user_namespace_maps_root() {
    let (exit, seen) = ended_after_input("exit 7", |plan| {
        let map = vec![IdRange {
            start: 0,
            target: 200_000,
            count: 65536,
        }];
        plan.uid_map = map.clone();
        plan.gid_map = map;
        plan.hostdevs = vec![HostDevice::Char {
            path: "/dev/net/tun".into(),
        }];
    });
    eprintln!("userns: {seen}");
    assert_eq!(field(&seen, "IDS="), "0:0");
    let map: Vec<&str> = field(&seen, "UIDMAP=").split_whitespace().collect();
    assert_eq!(map, ["0", "200000", "65536"]);
    // No mknod in a user namespace: the host's nodes are bound in.
    assert!(field(&seen, "TUN=").contains("10, 200"), "{seen}");
    assert_eq!(field(&seen, "NULL="), "ok");
    assert_eq!(exit.reason, ExitReason::Shutdown);
    assert_eq!(exit.status, 7);
}

#[test]
fn shared_host_root() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut plan = base_plan(dir, None);
    plan.init = vec![
        "/bin/sh".into(),
        "-c".into(),
        "echo \"PID=$$\"; echo \"NPROCS=$(ls -d /proc/[0-9]* | wc -l)\"; echo \"DEV=$(ls /dev | tr '\\n' ' ')\"; echo \"TUN=$(ls -l /dev/net/tun)\"; echo DONE; exec sleep 1000".into(),
    ];
    plan.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
    plan.hostdevs = vec![HostDevice::Char {
        path: "/dev/net/tun".into(),
    }];
    let mounts = || {
        let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let procs = mi.lines().filter(|l| l.contains(" - proc ")).count();
        (procs, mi.contains(" - tmpfs devfs "))
    };
    let before = mounts();
    assert!(!before.1);
    let (mut ctl, _) = start(&plan, dir);
    let (mut con, reply) = request(&plan.control_socket, &Request::Console { force: false });
    assert_eq!(reply, Reply::Ok);
    let mut seen = String::new();
    read_until(&mut con, &mut seen, "DONE");
    eprintln!("shared root: {seen}");
    assert_eq!(field(&seen, "PID="), "1");
    let nprocs: u32 = field(&seen, "NPROCS=").parse().unwrap();
    assert!(nprocs <= 5, "{seen}");
    assert!(
        field(&seen, "DEV=").split(' ').any(|d| d == "console"),
        "{seen}"
    );
    assert!(field(&seen, "TUN=").contains("10, 200"), "{seen}");
    // Nothing the container mounted shows on the host.
    assert_eq!(mounts(), before);
    let (_d, reply) = request(&plan.control_socket, &Request::Destroy);
    assert!(
        matches!(
            reply,
            Reply::Exited(Exit {
                reason: ExitReason::Destroyed,
                ..
            })
        ),
        "{reply:?}"
    );
    assert!(ctl.child.wait().unwrap().success());
}

#[test]
fn out_of_memory_is_crashed_naming_it() {
    let name = format!("ctltest-oom-{}", std::process::id());
    let group = Path::new("/sys/fs/cgroup/memory").join(&name);
    fs::create_dir_all(&group).unwrap();
    fs::write(group.join("memory.limit_in_bytes"), "33554432").unwrap();
    let g = group.clone();
    let (exit, _) = ended_after_input(
        "x=$(head -c 200000000 /dev/zero | tr '\\0' a)\necho survived",
        move |plan| {
            plan.cgroup_procs = vec![g.join("cgroup.procs")];
            plan.cgroup_dirs = vec![g];
        },
    );
    assert_eq!(exit.reason, ExitReason::Crashed, "{exit:?}");
    assert!(exit.message.contains("counted an OOM kill"), "{exit:?}");
    assert!(!group.exists());
}

#[test]
fn console_backlog_keeps_the_newest_64k() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = make_root(
        dir,
        "echo OLDEST-LINE\nhead -c 200000 /dev/zero | tr '\\0' x\necho\necho END-MARK\nexec sleep 1000",
    );
    let plan = base_plan(dir, Some(root));
    let (mut ctl, init_pid) = start(&plan, dir);
    // Wait until init has written everything (nobody reads the console meanwhile).
    let deadline = Instant::now() + Duration::from_secs(20);
    let cmdline = format!("/proc/{init_pid}/cmdline");
    while !fs::read_to_string(&cmdline)
        .unwrap_or_default()
        .starts_with("sleep\x001000")
    {
        assert!(Instant::now() < deadline, "init never reached sleep");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Give the controller a moment to drain the pty into its backlog.
    std::thread::sleep(Duration::from_millis(300));
    let (mut con, reply) = request(&plan.control_socket, &Request::Console { force: false });
    assert_eq!(reply, Reply::Ok);
    let mut seen = String::new();
    read_until(&mut con, &mut seen, "END-MARK");
    assert!(
        !seen.contains("OLDEST-LINE"),
        "the oldest output was kept: {} bytes, {:?}",
        seen.len(),
        &seen[..200.min(seen.len())]
    );
    assert!(
        seen.len() <= 64 * 1024 && seen.len() > 60 * 1024,
        "{} bytes",
        seen.len()
    );
    let (_d, reply) = request(&plan.control_socket, &Request::Destroy);
    assert!(matches!(reply, Reply::Exited(_)), "{reply:?}");
    assert!(ctl.child.wait().unwrap().success());
}
