//! How `virsh event` words each event (virsh-domain-event.c): the event names, the lifecycle
//! type and detail words of api.md §3.2, and one line (or a header and tab-indented lines) per
//! event kind.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use virt_core::proto::{domain_event::Payload, typed_parameter::Value, DomainEvent};

/// virsh's event names, in libvirt's event-ID order (proto value = index + 1).
pub const EVENT_NAMES: [&str; 27] = [
    "lifecycle",
    "reboot",
    "rtc-change",
    "watchdog",
    "io-error",
    "graphics",
    "io-error-reason",
    "control-error",
    "block-job",
    "disk-change",
    "tray-change",
    "pm-wakeup",
    "pm-suspend",
    "balloon-change",
    "pm-suspend-disk",
    "device-removed",
    "block-job-2",
    "tunable",
    "agent-lifecycle",
    "device-added",
    "migration-iteration",
    "job-completed",
    "device-removal-failed",
    "metadata-change",
    "block-threshold",
    "memory-failure",
    "memory-device-size-change",
];

/// "Started Booted" for a proto lifecycle type (libvirt's value plus one) and libvirt detail,
/// with the words of virt-core's one table ([`virt_core::events::lifecycle::virsh_words`]).
pub fn lifecycle_words(proto_type: i32, detail: i32) -> String {
    let (t, d) = virt_core::events::lifecycle::virsh_words(proto_type - 1, detail);
    format!("{t} {d}")
}

/// `words[n]`, or "unknown" as virsh says for numbers it does not know.
fn word(words: &[&'static str], n: i32) -> &'static str {
    usize::try_from(n)
        .ok()
        .and_then(|i| words.get(i))
        .copied()
        .unwrap_or("unknown")
}

fn param_text(v: &Option<Value>) -> String {
    match v {
        Some(Value::Int(v)) => v.to_string(),
        Some(Value::Uint(v)) => v.to_string(),
        Some(Value::Llong(v)) => v.to_string(),
        Some(Value::Ullong(v)) => v.to_string(),
        Some(Value::Double(v)) => format!("{v:.6}"),
        Some(Value::Boolean(v)) => if *v { "yes" } else { "no" }.to_string(),
        Some(Value::String(v)) => v.clone(),
        None => String::new(),
    }
}

/// The text virsh prints for `ev` (one or more `\n`-terminated lines).
pub fn render(ev: &DomainEvent) -> String {
    let name = ev
        .domain
        .as_ref()
        .map(|d| d.name.as_str())
        .unwrap_or_default();
    let head = |kind: &str| format!("event '{kind}' for domain '{name}'");
    let Some(payload) = &ev.payload else {
        return format!("{}\n", head("unknown"));
    };
    let line = match payload {
        Payload::Lifecycle(l) => format!(
            "{}: {}",
            head("lifecycle"),
            lifecycle_words(l.r#type, l.detail)
        ),
        Payload::Reboot(_) => head("reboot"),
        Payload::RtcChange(r) => format!("{}: {}", head("rtc-change"), r.utc_offset),
        Payload::Watchdog(w) => {
            let actions = [
                "none",
                "pause",
                "reset",
                "poweroff",
                "shutdown",
                "debug",
                "inject-nmi",
            ];
            format!("{}: {}", head("watchdog"), word(&actions, w.action))
        }
        Payload::IoError(e) => {
            let action = word(&["none", "pause", "report"], e.action);
            let reason = if e.reason.is_empty() {
                String::new()
            } else {
                format!(" due to {}", e.reason)
            };
            format!(
                "{}: {} ({}) {action}{reason}",
                head("io-error"),
                e.src_path,
                e.dev_alias
            )
        }
        Payload::Graphics(g) => {
            let phase = word(&["connect", "initialize", "disconnect"], g.phase);
            let addr = |a: &Option<virt_core::proto::GraphicsAddress>| {
                let a = a.clone().unwrap_or_default();
                let family = word(&["ipv4", "ipv6", "unix"], a.family);
                format!("{family} {} {}", a.node, a.service)
            };
            let mut text = format!(
                "{}: {phase} local[{}] remote[{}] {}",
                head("graphics"),
                addr(&g.local),
                addr(&g.remote),
                g.auth_scheme
            );
            for s in &g.subject {
                text.push_str(&format!("\n\t{}={}", s.r#type, s.name));
            }
            text
        }
        Payload::ControlError(_) => head("control-error"),
        Payload::BlockJob(b) => {
            let kind = if b.by_target {
                "block-job-2"
            } else {
                "block-job"
            };
            let types = [
                "unknown",
                "Block Pull",
                "Block Copy",
                "Block Commit",
                "Active Block Commit",
                "Backup",
            ];
            let status = word(&["completed", "failed", "canceled", "ready"], b.status);
            format!(
                "{}: {} for {} {status}",
                head(kind),
                word(&types, b.job_type),
                b.disk
            )
        }
        Payload::DiskChange(d) => format!(
            "event 'disk-change' for domain '{name}' disk {}: {} -> {}: {}",
            d.dev_alias,
            d.old_src,
            d.new_src,
            word(&["changed", "dropped"], d.reason)
        ),
        Payload::TrayChange(t) => format!(
            "event 'tray-change' for domain '{name}' disk {}: {}",
            t.dev_alias,
            word(&["opened", "closed"], t.reason)
        ),
        Payload::PmWakeup(_) => head("pm-wakeup"),
        Payload::PmSuspend(_) => head("pm-suspend"),
        Payload::PmSuspendDisk(_) => head("pm-suspend-disk"),
        Payload::BalloonChange(b) => format!("{}: {}KiB", head("balloon-change"), b.actual_kib),
        Payload::DeviceRemoved(d) => format!("{}: {}", head("device-removed"), d.dev_alias),
        Payload::DeviceAdded(d) => format!("{}: {}", head("device-added"), d.dev_alias),
        Payload::DeviceRemovalFailed(d) => {
            format!("{}: {}", head("device-removal-failed"), d.dev_alias)
        }
        Payload::Tunable(p) | Payload::JobCompleted(p) => {
            let kind = if matches!(payload, Payload::Tunable(_)) {
                "tunable"
            } else {
                "job-completed"
            };
            let mut text = format!("{}:", head(kind));
            for param in &p.params {
                text.push_str(&format!(
                    "\n\t{}: {}",
                    param.field,
                    param_text(&param.value)
                ));
            }
            text
        }
        Payload::AgentLifecycle(a) => format!(
            "{}: state: '{}' reason: '{}'",
            head("agent-lifecycle"),
            word(&["unknown", "connected", "disconnected"], a.state),
            word(&["unknown", "domain started", "channel event"], a.reason)
        ),
        Payload::MigrationIteration(m) => {
            format!(
                "{}: iteration: '{}'",
                head("migration-iteration"),
                m.iteration
            )
        }
        Payload::MetadataChange(m) => {
            let uri = if m.nsuri.is_empty() {
                "n/a"
            } else {
                m.nsuri.as_str()
            };
            format!(
                "{}: type {}, uri {uri}",
                head("metadata-change"),
                word(&["description", "title", "element"], m.r#type)
            )
        }
        Payload::BlockThreshold(b) => format!(
            "{}: dev: {}({}) {} {}",
            head("block-threshold"),
            b.dev,
            b.path,
            b.threshold,
            b.excess
        ),
        Payload::MemoryFailure(m) => format!(
            "{}:\nrecipient: {}\naction: {}\nflags:\n\taction required: {}\n\trecursive: {}",
            head("memory-failure"),
            word(&["hypervisor", "guest"], m.recipient),
            word(&["ignore", "inject", "fatal", "reset"], m.action),
            u8::from(m.flags & 1 != 0),
            u8::from(m.flags & 2 != 0)
        ),
        Payload::MemoryDeviceSizeChange(m) => format!(
            "{}:\nalias: {}\nsize: {}",
            head("memory-device-size-change"),
            m.alias,
            m.size_kib
        ),
    };
    format!("{line}\n")
}

/// virsh's `--timestamp` prefix of an event at `t`: `YYYY-MM-DD HH:MM:SS.mmm+0000: `.
pub fn timestamp(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = virt_core::timefmt::civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}+0000: ",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// The event's emission time, or now when the server sent none.
pub fn event_time(ev: &DomainEvent) -> SystemTime {
    ev.time
        .as_ref()
        .and_then(|t| {
            let secs = u64::try_from(t.seconds).ok()?;
            let nanos = u32::try_from(t.nanos).ok()?;
            Some(UNIX_EPOCH + Duration::new(secs, nanos))
        })
        .unwrap_or_else(SystemTime::now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::proto::{
        BalloonChangeEvent, Domain, IoErrorEvent, LifecycleEvent, ParamsEvent, RebootEvent,
        TypedParameter,
    };

    fn ev(payload: Payload) -> DomainEvent {
        DomainEvent {
            sequence: 1,
            time: None,
            domain: Some(Domain {
                name: "test".into(),
                ..Default::default()
            }),
            payload: Some(payload),
        }
    }

    #[test]
    fn lifecycle_uses_type_plus_one_and_libvirt_detail() {
        let started = ev(Payload::Lifecycle(LifecycleEvent {
            r#type: 3,
            detail: 0,
            typed_detail: None,
        }));
        assert_eq!(
            render(&started),
            "event 'lifecycle' for domain 'test': Started Booted\n"
        );
        let destroyed = ev(Payload::Lifecycle(LifecycleEvent {
            r#type: 6,
            detail: 1,
            typed_detail: None,
        }));
        assert_eq!(
            render(&destroyed),
            "event 'lifecycle' for domain 'test': Stopped Destroyed\n"
        );
        assert_eq!(lifecycle_words(1, 0), "Defined Added");
        assert_eq!(lifecycle_words(2, 0), "Undefined Removed");
        assert_eq!(lifecycle_words(4, 0), "Suspended Paused");
        assert_eq!(lifecycle_words(5, 0), "Resumed Unpaused");
        assert_eq!(
            lifecycle_words(7, 1),
            "Shutdown Finished after guest request"
        );
        assert_eq!(lifecycle_words(3, 42), "Started unknown");
    }

    #[test]
    fn other_kinds_follow_virsh_wording() {
        assert_eq!(
            render(&ev(Payload::Reboot(RebootEvent {}))),
            "event 'reboot' for domain 'test'\n"
        );
        assert_eq!(
            render(&ev(Payload::BalloonChange(BalloonChangeEvent {
                actual_kib: 1024
            }))),
            "event 'balloon-change' for domain 'test': 1024KiB\n"
        );
        let io = IoErrorEvent {
            src_path: "/d.img".into(),
            dev_alias: "virtio-disk0".into(),
            action: 1,
            reason: "enospc".into(),
        };
        assert_eq!(
            render(&ev(Payload::IoError(io))),
            "event 'io-error' for domain 'test': /d.img (virtio-disk0) pause due to enospc\n"
        );
        let tunable = ParamsEvent {
            params: vec![TypedParameter {
                field: "cputune.vcpu0".into(),
                value: Some(Value::String("0-1".into())),
            }],
        };
        assert_eq!(
            render(&ev(Payload::Tunable(tunable))),
            "event 'tunable' for domain 'test':\n\tcputune.vcpu0: 0-1\n"
        );
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(timestamp(t), "2023-11-14 22:13:20.123+0000: ");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00:00:00.000+0000: ");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&timestamp(leap)[..10], "2000-02-29");
    }

    #[test]
    fn names_are_in_event_id_order() {
        assert_eq!(EVENT_NAMES[0], "lifecycle");
        assert_eq!(EVENT_NAMES[26], "memory-device-size-change");
    }
}
