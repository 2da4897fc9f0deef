//! The real test guest: a Debian cloud kernel and a busybox-static initramfs, built once and
//! cached under `target/test-guest/`.
//!
//! The kernel comes from the newest `linux-image-6.1.0-N-cloud-amd64` package apt knows
//! (`apt-get download`, unpacked with `dpkg -x`). That kernel builds the ACPI button, evdev
//! and virtio drivers as modules, so the initramfs carries them and its `/init` loads them:
//! without `button` and `evdev` the ACPI power button reaches nobody, without the virtio ones
//! disks, NICs and the balloon do nothing. The initramfs is an uncompressed cpio archive in
//! the `newc` format, written here (the format is a 110-byte ASCII header per entry).
//!
//! `/init` mounts proc, sys and devtmpfs, loads the modules (the pvpanic ones too, so a
//! kernel panic reaches QEMU), prints [`READY_MARKER`] on the
//! console (boot the kernel with `console=ttyS0`), starts busybox `acpid`, whose power
//! button handler (`/etc/acpi/PWRF/00000080`) runs `poweroff -f`, and then keeps a shell on
//! the console. `/etc/udhcpc.script` ([`UDHCPC_SCRIPT`]) lets a test run busybox `udhcpc` on
//! that shell. It also brings `eth0` up when there is one, so the guest's IPv6 router
//! solicitations give the host side of a NIC traffic to count.
//!
//! [`test_guest_with_agent`] builds a second initramfs for guest agent tests: the same, plus
//! the host's `qemu-ga` with the shared libraries `ldd` names, the `virtio_console` module,
//! `/sbin/shutdown` (busybox `poweroff -f` / `reboot -f` / `halt -f`, which qemu-ga's
//! `guest-shutdown` runs) and `/sbin/hwclock`. Its `/init` also sets the host name
//! [`AGENT_GUEST_HOSTNAME`], brings `lo` up, gives `eth0` the address [`AGENT_GUEST_ADDR`]
//! (QEMU user networking's guest address), mounts an ext4
//! `/dev/vda` at `/mnt` when the guest has one (something for `guest-fsfreeze-freeze` to
//! freeze), then finds the agent's port by name under `/sys/class/virtio-ports` (there is no
//! udev to make `/dev/virtio-ports/...`) and starts `qemu-ga -m virtio-serial -p /dev/vportNpM`
//! in the background before printing the ready marker, unless the kernel command line says
//! `noagent` (a guest whose channel stays closed).
//!
//! Concurrent test processes serialise on an exclusive `flock` of `target/test-guest/.lock`;
//! the finished files appear by rename, so a reader never sees half a kernel.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// What `/init` prints on the serial console once the modules are loaded.
pub const READY_MARKER: &str = "VIRT-TEST-GUEST-READY";

/// The modules `/init` loads, in dependency order.
pub const MODULES: &[&str] = &[
    "button",
    "evdev",
    "virtio",
    "virtio_ring",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "virtio_blk",
    "failover",
    "net_failover",
    "virtio_net",
    "virtio_balloon",
    // The ISA pvpanic device (found through ACPI): a kernel panic reaches QEMU as
    // GUEST_PANICKED.
    "pvpanic",
    "pvpanic-mmio",
];

/// Bumped whenever the initramfs contents change, so a stale cache is rebuilt.
const INITRD_VERSION: u32 = 6;

/// The same for the initramfs with the guest agent.
const AGENT_INITRD_VERSION: u32 = 3;

/// Modules the agent initramfs loads after [`MODULES`]: the virtio-serial driver.
pub const AGENT_MODULES: &[&str] = &["virtio_console"];

/// The address `/init` gives `eth0` in the agent guest (QEMU user networking's default guest
/// address, on 10.0.2.0/24).
pub const AGENT_GUEST_ADDR: &str = "10.0.2.15";

/// The host name the agent guest's `/init` sets.
pub const AGENT_GUEST_HOSTNAME: &str = "virt-agent-guest";

/// The kernel command line word that keeps the agent guest's `qemu-ga` from starting.
pub const NO_AGENT: &str = "noagent";

/// What busybox `udhcpc -s /etc/udhcpc.script` runs on a lease: configures the interface and
/// the default route, then prints `DHCP-BOUND <address>` on the console.
pub const UDHCPC_SCRIPT: &str = "#!/bin/sh\n\
case \"$1\" in\n\
bound|renew)\n\
  ifconfig \"$interface\" \"$ip\" netmask \"$subnet\" up\n\
  for r in $router; do route add default gw \"$r\" dev \"$interface\"; break; done\n\
  echo \"DHCP-BOUND $ip\";;\n\
esac\n";

/// The cached guest.
#[derive(Debug, Clone)]
pub struct GuestImage {
    /// The kernel (bzImage).
    pub kernel: PathBuf,
    /// The initramfs (uncompressed newc cpio).
    pub initrd: PathBuf,
}

/// Kernel command line for the guest: serial console, quiet enough to boot fast.
pub const GUEST_CMDLINE: &str = "console=ttyS0 panic=-1 quiet loglevel=3";

fn cache_dir() -> PathBuf {
    crate::target_dir().join("test-guest")
}

/// The cached guest, built first if missing (see the module docs).
pub fn test_guest() -> anyhow::Result<GuestImage> {
    cached(false)
}

/// The cached guest whose initramfs runs `qemu-ga` (see the module docs).
pub fn test_guest_with_agent() -> anyhow::Result<GuestImage> {
    cached(true)
}

fn cached(agent: bool) -> anyhow::Result<GuestImage> {
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock = std::fs::File::create(dir.join(".lock")).context("creating the lock file")?;
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .context("locking the test guest cache")?;
    let initrd = if agent {
        format!("initrd-agent-v{AGENT_INITRD_VERSION}.cpio")
    } else {
        format!("initrd-v{INITRD_VERSION}.cpio")
    };
    let image = GuestImage {
        kernel: dir.join("vmlinuz"),
        initrd: dir.join(initrd),
    };
    if image.kernel.is_file() && image.initrd.is_file() {
        return Ok(image);
    }
    let work = dir.join("work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let root = unpack_kernel(&work)?;
    let kernel = find_prefixed(&root.join("boot"), "vmlinuz-")?;
    let initrd = build_initramfs(&root, agent)?;
    let tmp = dir.join("initrd.cpio.tmp");
    std::fs::write(&tmp, initrd)?;
    std::fs::rename(&tmp, &image.initrd)?;
    if !image.kernel.is_file() {
        std::fs::copy(&kernel, dir.join("vmlinuz.tmp"))?;
        std::fs::rename(dir.join("vmlinuz.tmp"), &image.kernel)?;
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(image)
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The newest `linux-image-6.1.0-N-cloud-amd64` apt knows of.
fn newest_kernel_package() -> anyhow::Result<String> {
    let search = || {
        run(Command::new("apt-cache").args([
            "search",
            "--names-only",
            r"^linux-image-6\.1\.0-[0-9]+-cloud-amd64$",
        ]))
    };
    let mut text = search()?;
    if text.trim().is_empty() {
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        text = search()?;
    }
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|name| {
            let n = name
                .strip_prefix("linux-image-6.1.0-")?
                .strip_suffix("-cloud-amd64")?;
            Some((n.parse::<u32>().ok()?, name.to_string()))
        })
        .max()
        .map(|(_, name)| name)
        .context("apt knows no linux-image-6.1.0-*-cloud-amd64 package")
}

/// Downloads (once: the package stays in the cache dir, for the second initramfs) and
/// unpacks the kernel package; answers the unpacked root.
fn unpack_kernel(work: &Path) -> anyhow::Result<PathBuf> {
    let cache = work.parent().context("the work dir is in the cache dir")?;
    let deb = match find_prefixed(cache, "linux-image-") {
        Ok(deb) => deb,
        Err(_) => {
            let package = newest_kernel_package()?;
            run(Command::new("apt-get")
                .args(["download", "-qq", &package])
                .current_dir(cache))?;
            find_prefixed(cache, &package)?
        }
    };
    let root = work.join("root");
    run(Command::new("dpkg").arg("-x").arg(&deb).arg(&root))?;
    Ok(root)
}

fn find_prefixed(dir: &Path, prefix: &str) -> anyhow::Result<PathBuf> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        {
            return Ok(path);
        }
    }
    bail!("no {prefix}* in {}", dir.display())
}

/// A module's bytes, decompressed when the package ships `.ko.xz` (busybox insmod reads plain
/// ELF only).
fn module_bytes(modules: &Path, name: &str) -> anyhow::Result<Vec<u8>> {
    let mut stack = vec![modules.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let file = path.file_name().map(|n| n.to_string_lossy().into_owned());
            match file.as_deref() {
                _ if path.is_dir() => stack.push(path),
                Some(f) if f == format!("{name}.ko") => return Ok(std::fs::read(&path)?),
                Some(f) if f == format!("{name}.ko.xz") => {
                    let out = Command::new("xz").arg("-dc").arg(&path).output()?;
                    if !out.status.success() {
                        bail!("xz could not decompress {}", path.display());
                    }
                    return Ok(out.stdout);
                }
                _ => {}
            }
        }
    }
    bail!("module {name} not found under {}", modules.display())
}

/// What the agent guest's `/init` does before its ready marker (see the module docs).
fn agent_steps() -> String {
    format!(
        "hostname {AGENT_GUEST_HOSTNAME}\n\
         ifconfig lo 127.0.0.1 up\n\
         ifconfig eth0 {AGENT_GUEST_ADDR} netmask 255.255.255.0 up 2>/dev/null\n\
         i=0; while [ $i -lt 100 ] && [ ! -b /dev/vda ]; do usleep 20000; i=$((i+1)); done\n\
         [ -b /dev/vda ] && mount -t ext4 /dev/vda /mnt\n\
         if ! grep -qw {NO_AGENT} /proc/cmdline; then\n\
         port=; i=0\n\
         while [ -z \"$port\" ] && [ $i -lt 250 ]; do\n\
         for p in /sys/class/virtio-ports/*; do\n\
         [ \"$(cat $p/name 2>/dev/null)\" = org.qemu.guest_agent.0 ] && [ -c /dev/${{p##*/}} ] && port=/dev/${{p##*/}}\n\
         done; [ -z \"$port\" ] && usleep 20000; i=$((i+1)); done\n\
         if [ -n \"$port\" ]; then\n\
         /usr/sbin/qemu-ga -m virtio-serial -p $port -f /run/qemu-ga.pid -t /run -l /run/qemu-ga.log &\n\
         else echo 'init: no org.qemu.guest_agent.0 port'; fi\n\
         fi\n"
    )
}

fn init_script(agent: bool) -> String {
    let mut modules = MODULES.join(" ");
    if agent {
        modules = format!("{modules} {}", AGENT_MODULES.join(" "));
    }
    let agent_steps = if agent { agent_steps() } else { String::new() };
    format!(
        "#!/bin/sh\n\
         /bin/busybox --install -s /bin\n\
         mount -t proc proc /proc\n\
         mount -t sysfs sysfs /sys\n\
         mount -t devtmpfs devtmpfs /dev\n\
         # Two passes: a module whose dependency loads later in the list gets a second try.\n\
         # /proc/modules names modules with '_' where their files may have '-'.\n\
         for pass in 1 2; do for m in {modules}; do\n\
         grep -q \"^$(echo $m | tr - _) \" /proc/modules || insmod /lib/modules/$m.ko 2>/dev/null\n\
         done; done\n\
         for m in {modules}; do grep -q \"^$(echo $m | tr - _) \" /proc/modules || echo \"init: module $m not loaded\"; done\n\
         # A NIC up sends IPv6 router solicitations: traffic a test can count on the host.\n\
         ifconfig eth0 up 2>/dev/null\n\
         # Foreground in a background job, logging to the console (its default log file's\n\
         # directory does not exist here, and a daemonised acpid would die on it unseen).\n\
         acpid -f -d &\n\
         # The marker promises that the power button works: wait until acpid has opened the\n\
         # input devices (a loaded host made a test press the button before that).\n\
         a=$!; i=0\n\
         while [ $i -lt 200 ] && ! ls -l /proc/$a/fd 2>/dev/null | grep -q /dev/input/event; do\n\
         usleep 20000; i=$((i+1)); done\n\
         {agent_steps}\
         echo {READY_MARKER}\n\
         while true; do sh; sleep 1; done\n"
    )
}

/// The host's `qemu-ga` and every shared library `ldd` says it loads: (path, bytes).
fn agent_files() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let qga = "/usr/sbin/qemu-ga";
    if !Path::new(qga).is_file() {
        bail!("{qga} is missing: install qemu-guest-agent");
    }
    let mut out = vec![(qga.to_string(), std::fs::read(qga)?)];
    for line in run(Command::new("ldd").arg(qga))?.lines() {
        // "libx.so.1 => /lib/x86_64-linux-gnu/libx.so.1 (0x...)" or "/lib64/ld-linux... (0x...)"
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            out.push((
                p.to_string(),
                std::fs::read(p).with_context(|| format!("reading {p}"))?,
            ));
        }
    }
    Ok(out)
}

/// The initramfs: busybox, the modules, `/init` and the acpid handler; with `agent`, also
/// qemu-ga and what it needs (see the module docs).
fn build_initramfs(root: &Path, agent: bool) -> anyhow::Result<Vec<u8>> {
    let modules_root = find_prefixed(&root.join("lib/modules"), "6.")?;
    let busybox = ["/usr/bin/busybox", "/bin/busybox"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .context("busybox-static is not installed")?;
    let mut cpio = Cpio::default();
    for d in [
        "bin",
        "dev",
        "proc",
        "sys",
        "etc",
        "etc/acpi",
        "etc/acpi/PWRF",
        "lib",
        "lib/modules",
    ] {
        cpio.dir(d)?;
    }
    cpio.node("dev/console", 0o020600, (5, 1))?;
    cpio.file("bin/busybox", 0o755, &std::fs::read(busybox)?)?;
    cpio.symlink("bin/sh", "busybox")?;
    cpio.file("init", 0o755, init_script(agent).as_bytes())?;
    cpio.file("etc/udhcpc.script", 0o755, UDHCPC_SCRIPT.as_bytes())?;
    cpio.file(
        "etc/acpi/PWRF/00000080",
        0o755,
        b"#!/bin/sh\necho 'power button: powering off'\npoweroff -f\n",
    )?;
    for m in MODULES {
        let bytes = module_bytes(&modules_root, m)?;
        cpio.file(&format!("lib/modules/{m}.ko"), 0o644, &bytes)?;
    }
    if agent {
        add_agent(&mut cpio, &modules_root)?;
    }
    cpio.finish()
}

/// The agent initramfs' extra files.
fn add_agent(cpio: &mut Cpio, modules_root: &Path) -> anyhow::Result<()> {
    for m in AGENT_MODULES {
        let bytes = module_bytes(modules_root, m)?;
        cpio.file(&format!("lib/modules/{m}.ko"), 0o644, &bytes)?;
    }
    for d in ["sbin", "run", "var", "mnt"] {
        cpio.dir(d)?;
    }
    cpio.symlink("var/run", "/run")?;
    cpio.symlink("sbin/hwclock", "/bin/busybox")?;
    cpio.file(
        "sbin/shutdown",
        0o755,
        b"#!/bin/sh\n# qemu-ga runs: shutdown -P|-H|-r +0 MESSAGE\n\
          echo \"shutdown $*\"\ncase \"$1\" in\n-r) reboot -f ;;\n-H) halt -f ;;\n*) poweroff -f ;;\nesac\n",
    )?;
    // A root user with a home and a shadow entry, for the agent's user calls
    // (guest-set-user-password, guest-ssh-*-authorized-keys look the user up).
    cpio.dir("etc")?;
    cpio.dir("root")?;
    cpio.file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")?;
    cpio.file("etc/group", 0o644, b"root:x:0:\n")?;
    cpio.file("etc/shadow", 0o600, b"root:*:19000:0:99999:7:::\n")?;
    // qemu-ga sets a password by running `chpasswd [-e]` with USER:PASSWORD on its standard
    // input; this busybox has no chpasswd applet, so a script does what it does to
    // /etc/shadow (clear text hashed with busybox's mkpasswd, `-e` taken as is).
    cpio.file(
        "bin/chpasswd",
        0o755,
        b"#!/bin/sh\nPATH=/bin:/sbin\nIFS= read -r line || exit 1\n\
          user=${line%%:*}; pass=${line#*:}\n\
          [ \"$1\" = -e ] || pass=$(mkpasswd -m sha512 \"$pass\") || exit 1\n\
          grep -q \"^$user:\" /etc/shadow || exit 1\n\
          sed -i \"s|^$user:[^:]*:|$user:$pass:|\" /etc/shadow\n",
    )?;
    for (path, bytes) in agent_files()? {
        let rel = path.trim_start_matches('/');
        if let Some(parent) = Path::new(rel).parent() {
            cpio.dir_all(parent)?;
        }
        cpio.file(rel, 0o755, &bytes)?;
    }
    Ok(())
}

/// A `newc` cpio writer.
#[derive(Default)]
struct Cpio {
    out: Vec<u8>,
    ino: u32,
    /// Directories written so far.
    dirs: std::collections::BTreeSet<String>,
}

impl Cpio {
    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> anyhow::Result<()> {
        self.ino += 1;
        let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
        let fields = [
            self.ino,
            mode,
            0,
            0,
            nlink,
            0,
            u32::try_from(data.len()).context("file too large for cpio")?,
            0,
            0,
            rdev.0,
            rdev.1,
            u32::try_from(name.len() + 1)?,
            0,
        ];
        write!(self.out, "070701")?;
        for f in fields {
            write!(self.out, "{f:08x}")?;
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
        Ok(())
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    fn dir(&mut self, name: &str) -> anyhow::Result<()> {
        if !self.dirs.insert(name.to_string()) {
            return Ok(());
        }
        self.entry(name, 0o040755, (0, 0), &[])
    }

    /// `dir` and every parent of it not written yet.
    fn dir_all(&mut self, dir: &Path) -> anyhow::Result<()> {
        let mut acc = PathBuf::new();
        for c in dir.components() {
            acc.push(c);
            self.dir(&acc.to_string_lossy())?;
        }
        Ok(())
    }

    fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> anyhow::Result<()> {
        self.entry(name, 0o100000 | perm, (0, 0), data)
    }

    fn symlink(&mut self, name: &str, target: &str) -> anyhow::Result<()> {
        self.entry(name, 0o120777, (0, 0), target.as_bytes())
    }

    fn node(&mut self, name: &str, mode: u32, rdev: (u32, u32)) -> anyhow::Result<()> {
        self.entry(name, mode, rdev, &[])
    }

    fn finish(mut self) -> anyhow::Result<Vec<u8>> {
        self.entry("TRAILER!!!", 0, (0, 0), &[])?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_entries_are_aligned_and_end_with_the_trailer() {
        let mut c = Cpio::default();
        c.file("init", 0o755, b"abc").expect("entry");
        let out = c.finish().expect("finish");
        assert!(out.starts_with(b"070701"));
        assert_eq!(out.len() % 4, 0);
        // header 110 + "init\0" 5 -> pad to 116, data 3 -> pad to 120.
        assert_eq!(&out[110..115], b"init\0");
        assert_eq!(&out[116..119], b"abc");
        assert_eq!(&out[120..126], b"070701");
        let trailer = String::from_utf8_lossy(&out[120 + 110..120 + 120]).into_owned();
        assert!(trailer.starts_with("TRAILER!!!"), "{trailer}");
        // File size field of the first entry (7th field).
        assert_eq!(&out[6 + 6 * 8..6 + 7 * 8], b"00000003");
    }
}
