//! Channels of a running guest: the socket paths a start makes for `<channel type='unix'>`
//! without one, the pty paths of `<channel type='pty'>`, and the
//! `state='connected|disconnected'` the live definition shows for virtio channels.
//!
//! Paths follow libvirt's layout, under the driver's run dir instead of its state dir:
//! `RUN/qemu/channel/target/domain-ID-SHORT/TARGETNAME` (libvirt's
//! `/var/lib/libvirt/qemu/channel/target/domain-1-vi1/org.qemu.guest_agent.0`), the directory
//! 0750, made at start and removed by the stop path. They go into the live definition only; a
//! path that would not fit a UNIX socket address (107 bytes and the NUL) is refused before
//! QEMU starts.
//!
//! State: a virtio port is connected while the guest has it open. QEMU says so in
//! `query-chardev` (`frontend-open`), read at start and at reattach, and in `VSERPORT_CHANGE`
//! events (`{"id": "channel0", "open": true}`) in between. A change of the guest agent's
//! channel also emits AGENT_LIFECYCLE and, when it closes, drops the agent connection.

use std::path::{Path, PathBuf};

use serde_json::Value;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::chardev::CharDev;
use virt_core::model::enums::{CharSourceMode, CharType};
use virt_core::model::DomainDef;
use virt_core::proto::domain_event::Payload;
use virt_core::proto::AgentLifecycleEvent;
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use crate::agent::AGENT_CHANNEL;
use crate::command::channel_id;
use crate::QemuDriver;

/// The longest path a UNIX socket address holds (`sun_path` is 108 bytes with the NUL).
pub(crate) const MAX_SOCKET_PATH: usize = 107;

/// AGENT_LIFECYCLE states and reasons (virConnectDomainEventAgentLifecycleState / Reason).
const AGENT_CONNECTED: i32 = 1;
const AGENT_DISCONNECTED: i32 = 2;
/// The channel changed while the domain ran.
pub(crate) const AGENT_REASON_CHANNEL: i32 = 2;
/// The domain started with the agent already connected.
pub(crate) const AGENT_REASON_DOMAIN_STARTED: i32 = 1;

/// The channel directory of the run whose private dir is `lib_dir`
/// (`RUN/qemu/domain-ID-SHORT` → `RUN/qemu/channel/target/domain-ID-SHORT`).
pub(crate) fn channel_dir(lib_dir: &Path) -> PathBuf {
    let parent = lib_dir.parent().unwrap_or(Path::new("/"));
    let name = lib_dir.file_name().unwrap_or_default();
    parent.join("channel").join("target").join(name)
}

/// Drops the socket paths a run gave its channels in its channel dir (libvirt's
/// qemuDomainChrDefDropDefaultPath for migratable XML): a save image's definition must let
/// the restoring run name its own.
pub(crate) fn drop_default_paths(def: &mut DomainDef, lib_dir: &Path) {
    let dir = channel_dir(lib_dir);
    for c in &mut def.devices.channels {
        if c.source.char_type == CharType::Unix
            && c.source.mode != Some(CharSourceMode::Connect)
            && c.source
                .path
                .as_deref()
                .is_some_and(|p| Path::new(p).starts_with(&dir))
        {
            c.source.path = None;
        }
    }
}

/// Whether `c` is a unix channel QEMU listens on without a path yet.
fn needs_path(c: &CharDev) -> bool {
    c.source.char_type == CharType::Unix
        && c.source.path.is_none()
        && c.source.mode != Some(CharSourceMode::Connect)
}

fn system(detail: String) -> VirtError {
    VirtError::new(ErrorCode::SystemError, ErrorDomain::Qemu, detail)
}

/// Gives every unix channel without a path one in the run's channel dir (created 0750 when
/// needed). CONFIG_UNSUPPORTED when a channel has no target name to name its socket after, or
/// the path would not fit a socket address; SYSTEM_ERROR when the dir cannot be made.
pub(crate) fn assign_paths(def: &mut DomainDef, lib_dir: &Path) -> Result<(), VirtError> {
    if !name_paths(def, lib_dir)? {
        return Ok(());
    }
    let dir = channel_dir(lib_dir);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750))
        })
        .map_err(|e| {
            system(format!(
                "cannot create the channel dir {}: {e}",
                dir.display()
            ))
        })
}

/// The naming half of [`assign_paths`], touching nothing (domxml-to-native's preview shows
/// the paths a start would make): answers whether any channel was given a path.
pub(crate) fn name_paths(def: &mut DomainDef, lib_dir: &Path) -> Result<bool, VirtError> {
    if !def.devices.channels.iter().any(needs_path) {
        return Ok(false);
    }
    let dir = channel_dir(lib_dir);
    for i in 0..def.devices.channels.len() {
        if !needs_path(&def.devices.channels[i]) {
            continue;
        }
        let alias = channel_id(def, i);
        let c = &mut def.devices.channels[i];
        let name = c.target.name.as_deref().ok_or_else(|| {
            VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::Qemu,
                format!(
                    "channel '{alias}': a unix channel without a source path needs a target name"
                ),
            )
        })?;
        let path = dir.join(name);
        let len = path.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::Qemu,
                format!(
                    "channel '{alias}': socket path '{}' is {len} bytes, more than the \
                     {MAX_SOCKET_PATH} a UNIX socket address holds; give the channel a shorter \
                     <source path> or target name, or move the run directory",
                    path.display()
                ),
            ));
        }
        c.source.path = Some(path.to_string_lossy().into_owned());
        // The generated socket is QEMU's to listen on (libvirt's live XML says mode='bind').
        c.source.mode = Some(CharSourceMode::Bind);
    }
    Ok(true)
}

/// Removes the channel dir of the run whose private dir is `lib_dir` (a missing one is fine).
pub(crate) fn remove_dir(name: &str, lib_dir: &Path) {
    let dir = channel_dir(lib_dir);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(domain = %name, dir = %dir.display(), error = %e, "cannot remove the channel dir");
        }
    }
}

/// The guest agent's channel: virtio, named `org.qemu.guest_agent.0` (libvirt's
/// qemuFindAgentConfig).
pub(crate) fn agent_channel(def: &DomainDef) -> Option<(usize, &CharDev)> {
    def.devices.channels.iter().enumerate().find(|(_, c)| {
        c.target.target_type.as_deref() == Some("virtio")
            && c.target.name.as_deref() == Some(AGENT_CHANNEL)
    })
}

/// The index of the channel whose device id is `id`.
fn channel_index(def: &DomainDef, id: &str) -> Option<usize> {
    (0..def.devices.channels.len()).find(|i| channel_id(def, *i) == id)
}

fn state_word(open: bool) -> &'static str {
    if open {
        "connected"
    } else {
        "disconnected"
    }
}

/// Sets every virtio channel's state from `query-chardev` (`frontend-open` of
/// `charchannelN`); answers whether the agent channel is connected afterwards.
pub(crate) fn apply_chardev_states(def: &mut DomainDef, chardevs: &Value) -> bool {
    for c in chardevs.as_array().into_iter().flatten() {
        let (Some(label), Some(open)) = (
            c.get("label").and_then(Value::as_str),
            c.get("frontend-open").and_then(Value::as_bool),
        ) else {
            continue;
        };
        let Some(i) = label
            .strip_prefix("char")
            .and_then(|id| channel_index(def, id))
        else {
            continue;
        };
        let ch = &mut def.devices.channels[i];
        if ch.target.target_type.as_deref() == Some("virtio") {
            ch.target.state = Some(state_word(open).to_string());
        }
    }
    agent_channel(def).is_some_and(|(_, c)| c.target.state.as_deref() == Some("connected"))
}

/// Puts the pty `path` QEMU gave the chardev of device `alias` into that channel, if `alias`
/// names a pty channel.
pub(crate) fn fill_pty(def: &mut DomainDef, alias: &str, path: &str) {
    if let Some(i) = channel_index(def, alias) {
        let ch = &mut def.devices.channels[i];
        if ch.source.char_type == CharType::Pty {
            ch.source.path = Some(path.to_string());
        }
    }
}

impl QemuDriver {
    /// `VSERPORT_CHANGE`: records the port's state in the live definition (status saved);
    /// for the agent's channel emits AGENT_LIFECYCLE and, on close, drops the connection.
    pub(crate) fn on_vserport_change(&self, uuid: Uuid, gen: u64, data: &Value) {
        let (Some(id), Some(open)) = (
            data.get("id").and_then(Value::as_str),
            data.get("open").and_then(Value::as_bool),
        ) else {
            return;
        };
        let changed_agent = self
            .update_run(&uuid, gen, |r| {
                let i = channel_index(&r.live, id)?;
                let is_agent = agent_channel(&r.live).is_some_and(|(a, _)| a == i);
                let ch = &mut r.live.devices.channels[i];
                let was = ch.target.state.clone();
                ch.target.state = Some(state_word(open).to_string());
                let changed = was.as_deref() != Some(state_word(open));
                if is_agent && !open {
                    r.agent.disconnect();
                }
                Some(is_agent && changed)
            })
            .flatten()
            .unwrap_or(false);
        if changed_agent {
            tracing::info!(%uuid, open, "guest agent channel changed");
            self.emit_agent_lifecycle(uuid, gen, open, AGENT_REASON_CHANNEL);
        }
    }

    /// Emits AGENT_LIFECYCLE for the run `gen` of `uuid`.
    pub(crate) fn emit_agent_lifecycle(&self, uuid: Uuid, gen: u64, connected: bool, reason: i32) {
        let state = if connected {
            AGENT_CONNECTED
        } else {
            AGENT_DISCONNECTED
        };
        self.emit_for(
            &uuid,
            gen,
            Payload::AgentLifecycle(AgentLifecycleEvent { state, reason }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(channels: &str) -> DomainDef {
        virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>c</name><memory>65536</memory><os><type>hvm</type></os>\
             <devices>{channels}</devices></domain>"
        ))
        .expect("xml")
    }

    const AGENT: &str =
        "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>";

    #[test]
    fn unix_channels_without_a_path_get_one_in_the_runs_channel_dir() {
        let root = tempfile::tempdir().expect("tmp");
        let lib = root.path().join("qemu/domain-3-c");
        let mut d = def(&format!(
            "{AGENT}<channel type='unix'><source mode='bind' path='/given'/>\
             <target type='virtio' name='x'/></channel>"
        ));
        assign_paths(&mut d, &lib).expect("assigned");
        let dir = root.path().join("qemu/channel/target/domain-3-c");
        assert_eq!(
            d.devices.channels[0].source.path.as_deref(),
            Some(dir.join("org.qemu.guest_agent.0").to_str().expect("utf-8"))
        );
        assert_eq!(
            d.devices.channels[0].source.mode,
            Some(CharSourceMode::Bind)
        );
        assert_eq!(d.devices.channels[1].source.path.as_deref(), Some("/given"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).expect("made").permissions().mode();
        assert_eq!(mode & 0o777, 0o750);
        remove_dir("c", &lib);
        assert!(!dir.exists());
    }

    #[test]
    fn a_path_past_the_socket_limit_is_refused_before_start() {
        let long = format!("/{}/domain-1-c", "d".repeat(90));
        let mut d = def(AGENT);
        let e = assign_paths(&mut d, Path::new(&long)).expect_err("too long");
        assert_eq!(e.code, ErrorCode::ConfigUnsupported);
        assert!(e.detail.contains("more than the 107"), "{}", e.detail);
        let mut d = def("<channel type='unix'><target type='virtio'/></channel>");
        let e = assign_paths(&mut d, Path::new("/r/domain-1-c")).expect_err("no name");
        assert_eq!(
            e.detail,
            "channel 'channel0': a unix channel without a source path needs a target name"
        );
    }

    #[test]
    fn pty_channels_get_their_pty_path() {
        let mut d = def(&format!(
            "<channel type='pty'><target type='virtio' name='a'/></channel>{AGENT}"
        ));
        fill_pty(&mut d, "channel0", "/dev/pts/7");
        fill_pty(&mut d, "channel1", "/dev/pts/8");
        assert_eq!(
            d.devices.channels[0].source.path.as_deref(),
            Some("/dev/pts/7")
        );
        assert_eq!(d.devices.channels[1].source.path, None);
    }

    #[test]
    fn query_chardev_sets_virtio_channel_states() {
        let mut d = def(&format!(
            "<channel type='pty'><target type='virtio' name='a'/></channel>{AGENT}"
        ));
        let q = json!([
            {"label": "charchannel0", "filename": "pty:/dev/pts/3", "frontend-open": false},
            {"label": "charchannel1", "filename": "unix:/x,server=on", "frontend-open": true},
            {"label": "charserial0", "filename": "pty:/dev/pts/2", "frontend-open": true}
        ]);
        assert!(apply_chardev_states(&mut d, &q));
        assert_eq!(
            d.devices.channels[0].target.state.as_deref(),
            Some("disconnected")
        );
        assert_eq!(
            d.devices.channels[1].target.state.as_deref(),
            Some("connected")
        );
        assert_eq!(agent_channel(&d).map(|(i, _)| i), Some(1));
    }
}
