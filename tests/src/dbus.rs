//! A D-Bus system bus of the test's own: a real `dbus-daemon` with a system-type config that
//! lets anyone own and call anything, listening on a socket in a directory the test chooses.
//! Daemons under test reach it through `DBUS_SYSTEM_BUS_ADDRESS` (zbus and GDBus honour it),
//! so the host's bus, if any, is never touched. Killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `dbus-daemon`.
pub struct SystemBus {
    child: Child,
    /// Its socket.
    pub socket: PathBuf,
    /// Its address, for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub address: String,
}

/// Whether `dbus-daemon` is installed (Debian's dbus-daemon package).
pub fn available() -> bool {
    Command::new("sh")
        .args(["-c", "command -v dbus-daemon"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl SystemBus {
    /// Starts a bus listening on `DIR/system_bus_socket` (config in `DIR/bus.conf`) and waits
    /// until its socket exists.
    pub fn start(dir: &Path) -> SystemBus {
        let socket = dir.join("system_bus_socket");
        let address = format!("unix:path={}", socket.display());
        let conf = dir.join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>{address}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#
            ),
        )
        .expect("write the bus config");
        let child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--nopidfile", "--nosyslog"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn dbus-daemon (Debian's dbus-daemon package)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "the test's dbus-daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        SystemBus {
            child,
            socket,
            address,
        }
    }
}

impl Drop for SystemBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
