//! A container's network interfaces on the host: one veth pair per `<interface>`, the host end
//! on a bridge (`type='bridge'`, or the bridge of a virtnetworkd port for `type='network'`),
//! the other end handed to the controller, which moves it into the container. Counters for
//! `domifstat` and the bulk stats come from the host end, swapped (what the host end receives
//! the container sent), as libvirt reports them.
//!
//! Interfaces are looked up by index and counters read from `/proc/net/dev`, both of which
//! follow the daemon's network namespace; `/sys/class/net` shows the namespace of whoever
//! mounted sysfs, which for a daemon started in a namespace of its own is not its own.

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::VirtError;

use crate::driver::system_error;

/// Whether host interface `name` exists (in the daemon's network namespace).
pub(crate) fn exists(name: &str) -> bool {
    !name.is_empty() && nix::net::if_::if_nametoindex(name).is_ok()
}

/// The first `PREFIXN` (N from `from`) that no interface has and `taken` does not hold: host
/// ends are `vnetN` (libvirt 9.0's generated names, which inactive XML forgets), container
/// ends `vethN` until the controller renames them.
pub(crate) fn free_name(prefix: &str, taken: &[String], from: &mut u32) -> String {
    loop {
        let name = format!("{prefix}{from}");
        *from += 1;
        if !exists(&name) && !taken.contains(&name) {
            return name;
        }
    }
}

/// Runs `ip -batch -` with `commands`, naming the first failure.
pub(crate) async fn ip_batch(commands: &str) -> Result<(), VirtError> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("ip")
        .args(["-batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| system_error(format!("cannot run ip: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(commands.as_bytes())
            .await
            .map_err(|e| system_error(format!("cannot write to ip: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| system_error(format!("ip failed: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    Err(system_error(format!(
        "ip: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// Checks that `bridge` exists (libvirt's words when it does not); one that is not a bridge
/// fails when the pair is put on it, with `ip`'s reason.
pub(crate) fn check_bridge(bridge: &str) -> Result<(), VirtError> {
    if !exists(bridge) {
        return Err(VirtError::new(
            ErrorCode::SystemError,
            ErrorDomain::Lxc,
            format!("Cannot get interface MTU on '{bridge}': No such device"),
        ));
    }
    Ok(())
}

/// The `ip` commands that make one pair: `host` on `bridge`, up; `peer` with `mac`, down (the
/// controller renames and raises it inside the container).
pub(crate) fn pair_commands(
    host: &str,
    peer: &str,
    bridge: &str,
    mac: &str,
    mtu: Option<u32>,
) -> String {
    let mtu = mtu.map(|m| format!(" mtu {m}")).unwrap_or_default();
    format!(
        "link add {host}{mtu} type veth peer name {peer}{mtu}\n\
         link set dev {peer} address {mac}\n\
         link set dev {host} master {bridge} up\n"
    )
}

/// Deletes the host ends that still exist (a pair goes with either end; ends inside a
/// container that stopped went with its network namespace).
pub(crate) async fn delete(hosts: &[String]) {
    let cmds: String = hosts
        .iter()
        .filter(|h| exists(h))
        .map(|h| format!("link del {h}\n"))
        .collect();
    if cmds.is_empty() {
        return;
    }
    if let Err(e) = ip_batch(&cmds).await {
        tracing::warn!(error = %e, "cannot delete veth pairs");
    }
}

/// Counters of a container's interface, from its host end, swapped: as the container sees
/// them (the driver kit's `/proc/net/dev` reader).
pub(crate) fn counters(host_end: &str) -> Option<[u64; 8]> {
    virt_core::procfs::guest_net_counters(host_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_made_on_the_bridge_with_the_mac_inside() {
        let c = pair_commands("veth0", "veth1", "br0", "52:54:00:00:00:01", Some(1400));
        assert_eq!(
            c,
            "link add veth0 mtu 1400 type veth peer name veth1 mtu 1400\n\
             link set dev veth1 address 52:54:00:00:00:01\n\
             link set dev veth0 master br0 up\n"
        );
    }
}
