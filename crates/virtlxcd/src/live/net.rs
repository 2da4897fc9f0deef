//! A container's network interfaces on the host: one veth pair per `<interface>`, the host end
//! on a bridge (`type='bridge'`, or the bridge of a virtnetworkd port for `type='network'`),
//! the other end handed to the controller, which moves it into the container. Counters for
//! `domifstat` and the bulk stats come from the host end, swapped (what the host end receives
//! the container sent), as libvirt reports them.

use std::path::Path;

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::VirtError;

use crate::driver::system_error;

/// Whether host interface `name` exists.
pub(crate) fn exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// The first `vethN` (from `from`) that no interface has and `taken` does not hold.
pub(crate) fn free_name(taken: &[String], from: &mut u32) -> String {
    loop {
        let name = format!("veth{from}");
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

/// Checks that `bridge` exists and is a bridge (libvirt's words when it does not).
pub(crate) fn check_bridge(bridge: &str) -> Result<(), VirtError> {
    if !exists(bridge) {
        return Err(VirtError::new(
            ErrorCode::SystemError,
            ErrorDomain::Lxc,
            format!("Cannot get interface MTU on '{bridge}': No such device"),
        ));
    }
    if !Path::new("/sys/class/net")
        .join(bridge)
        .join("bridge")
        .exists()
    {
        return Err(VirtError::new(
            ErrorCode::SystemError,
            ErrorDomain::Lxc,
            format!("Unable to add bridge {bridge} port: '{bridge}' is not a bridge"),
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

/// Counters of a container's interface, from its host end, swapped: `[rx_bytes, rx_packets,
/// rx_errs, rx_drop, tx_bytes, tx_packets, tx_errs, tx_drop]` as the container sees them.
pub(crate) fn counters(host_end: &str) -> Option<[u64; 8]> {
    let dir = Path::new("/sys/class/net")
        .join(host_end)
        .join("statistics");
    let read = |f: &str| -> Option<u64> {
        std::fs::read_to_string(dir.join(f))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    Some([
        read("tx_bytes")?,
        read("tx_packets")?,
        read("tx_errors")?,
        read("tx_dropped")?,
        read("rx_bytes")?,
        read("rx_packets")?,
        read("rx_errors")?,
        read("rx_dropped")?,
    ])
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
