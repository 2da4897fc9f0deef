//! The feature strings a daemon lists in `ConnectService.Info` (proto/README.md, "Feature
//! strings"): what it serves beyond the calls every driver answers, so that a client tests for
//! a string instead of comparing versions.
//!
//! The naming scheme, one rule per kind of thing:
//!
//! - `events.resume`: StreamEvents honours `from_sequence`.
//! - `stats.<group>`: bulk stats serve that `DomainStatsGroup`; `<group>` is the enum value's
//!   name without its `DOMAIN_STATS_GROUP_` prefix, in lower case (`stats.state`,
//!   `stats.cpu_total`, `stats.block`).
//! - `console`: ConsoleService.OpenConsole; `snapshots`: the SnapshotService.
//! - `<service>.<rpc>`: one optional rpc, the service name without `Service` and the rpc name,
//!   both in snake_case (`guest.fs_freeze`, `guest.qemu_agent_command`,
//!   `domain.save_domain`, `domain.managed_save`).

use crate::proto::DomainStatsGroup;

/// StreamEvents honours `from_sequence`.
pub const EVENTS_RESUME: &str = "events.resume";
/// OpenConsole works.
pub const CONSOLE: &str = "console";
/// The SnapshotService works.
pub const SNAPSHOTS: &str = "snapshots";

/// The `stats.<group>` strings of the group bits in `groups`, lowest bit first.
pub fn stats_groups(groups: u32) -> Vec<String> {
    (0..32)
        .map(|bit| 1u32 << bit)
        .filter(|b| groups & b != 0)
        .filter_map(|b| DomainStatsGroup::try_from(i32::try_from(b).ok()?).ok())
        .map(|g| {
            let name = g.as_str_name();
            let short = name.strip_prefix("DOMAIN_STATS_GROUP_").unwrap_or(name);
            format!("stats.{}", short.to_ascii_lowercase())
        })
        .collect()
}

/// What every driver daemon on the shared runtime serves, whatever its hypervisor: event resume
/// and the current sequence number (the event bus is shared code), the console, and the stats
/// groups `groups` it fills.
pub fn base(groups: u32) -> Vec<String> {
    let mut f: Vec<String> = vec![EVENTS_RESUME.into(), CONSOLE.into()];
    f.extend(stats_groups(groups));
    f.extend(rpcs("event", &["get_event_sequence"]));
    f
}

/// The DomainService rpcs of save, restore and managed save.
pub const SAVE_RESTORE: &[&str] = &["save_domain", "restore_domain", "managed_save"];

/// The DomainService rpcs of block jobs and block resize (issue 15, qemu group).
pub const BLOCK_JOBS: &[&str] = &[
    "block_pull",
    "block_rebase",
    "block_commit",
    "block_copy",
    "get_block_job_info",
    "block_job_abort",
    "block_job_set_speed",
    "block_resize",
];

/// Every GuestService rpc (a driver whose guests run libvirt's guest agent).
pub const GUEST_AGENT: &[&str] = &[
    "get_interface_addresses",
    "fs_freeze",
    "fs_thaw",
    "get_domain_time",
    "set_domain_time",
    "get_guest_info",
    "get_domain_hostname",
    "qemu_agent_command",
    "set_agent_response_timeout",
    "get_fs_info",
    "fs_trim",
    "set_user_password",
    "get_authorized_ssh_keys",
    "set_authorized_ssh_keys",
];

/// The DomainService rpcs of the devices and consoles group that a driver may serve for real
/// guests (screenshot, keys, NMI, in-place device update).
pub const DEVICES_CONSOLES: &[&str] = &["screenshot", "send_key", "inject_nmi", "update_device"];

/// The DomainService rpcs of libvirt-qemu (a driver whose guests have a QEMU monitor).
pub const QEMU_MONITOR: &[&str] = &["qemu_monitor_command", "stream_qemu_monitor_events"];

/// `<service>.<rpc>` for each of `rpcs` (snake_case rpc names) of `service` (`guest`).
pub fn rpcs(service: &str, rpcs: &[&str]) -> Vec<String> {
    rpcs.iter().map(|r| format!("{service}.{r}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_groups_are_named_after_the_proto_enum() {
        assert_eq!(
            stats_groups(1 | 2 | 4 | 8 | 16 | 32),
            [
                "stats.state",
                "stats.cpu_total",
                "stats.balloon",
                "stats.vcpu",
                "stats.interface",
                "stats.block"
            ]
        );
        // Bits with no enum value name nothing.
        assert_eq!(stats_groups(1 << 30), Vec::<String>::new());
        assert_eq!(
            rpcs("guest", &["fs_freeze", "fs_thaw"]),
            ["guest.fs_freeze", "guest.fs_thaw"]
        );
    }
}
