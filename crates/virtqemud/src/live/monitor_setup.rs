//! What a start sets through the monitor after QEMU is up and before its vCPUs run, because the
//! command line cannot or must not say it, as libvirt does:
//!
//! * `<on_reboot>destroy</on_reboot>` (`qemuProcessSetupLifecycleActions`): `set-action
//!   {"reboot": "shutdown"}`, so a guest reboot is a power-off (libvirt's alternative to
//!   `-no-reboot` since QEMU 6.0).
//! * The VNC port QEMU picked for an auto-ported display (`query-vnc`'s `service`), which
//!   the live XML shows as libvirt's does.
//! * Link states (`qemuProcessSetLinkStates`): `set_link {"name": "net0", "up": false}` for
//!   each interface with `<link state='down'/>` (hot-plugged ones likewise, `hotplug.rs`).
//! * Display passwords (`qemuProcessInitPasswords`): never on the command line, where any user
//!   could read them in `/proc/PID/cmdline`. For each VNC or SPICE display with a `passwd`:
//!
//!   1. `set_password {"protocol": "vnc"|"spice", "password": P}`, plus `"connected": C` when
//!      the XML says `connected=` (what happens to clients already connected);
//!   2. `expire_password {"protocol": ..., "time": T}`: `never` without `passwdValidTo`, `now`
//!      for an empty password or a time already past, else the time as seconds since the
//!      epoch (`passwdValidTo` is UTC, as libvirt reads it).
//!
//!   The live XML shows the password only when VIR_DOMAIN_XML_SECURE is asked (the XML layer).

use serde_json::{json, Value};
use virt_core::driver::DriverResult;
use virt_core::model::display::Graphics;
use virt_core::model::enums::{GraphicsType, LifecycleAction};
use virt_core::model::DomainDef;

use super::Active;
use crate::QemuDriver;

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS` taken as UTC (the parser checked the
/// shape); `None` for a date that does not exist.
pub(crate) fn epoch_of(valid_to: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| valid_to.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3_600 + mi * 60 + s)
}

/// The `expire_password` time for `g`, `now` being the current epoch second.
pub(crate) fn expiry(g: &Graphics, now: i64) -> String {
    let empty = g.passwd.as_deref().is_some_and(str::is_empty);
    match g.passwd_valid_to.as_deref().map(epoch_of) {
        _ if empty => "now".into(),
        None => "never".into(),
        Some(Some(t)) if t > now => t.to_string(),
        Some(_) => "now".into(),
    }
}

/// The two monitor commands for a display with a password, `None` for one without.
pub(crate) fn password_commands(g: &Graphics, now: i64) -> Option<[(&'static str, Value); 2]> {
    let protocol = match g.graphics_type {
        GraphicsType::Vnc => "vnc",
        GraphicsType::Spice => "spice",
        _ => return None,
    };
    let passwd = g.passwd.as_deref()?;
    let mut set = json!({"protocol": protocol, "password": passwd});
    if let Some(c) = &g.connected {
        set["connected"] = json!(c);
    }
    let expire = json!({"protocol": protocol, "time": expiry(g, now)});
    Some([("set_password", set), ("expire_password", expire)])
}

impl QemuDriver {
    /// The TCP port of an auto-ported VNC display listening on an address, from `query-vnc`.
    pub(super) async fn vnc_port(&self, a: &Active, def: &DomainDef) -> DriverResult<Option<u32>> {
        let auto = def.devices.graphics.iter().any(|g| {
            g.graphics_type == GraphicsType::Vnc
                && g.autoport
                && g.listens
                    .first()
                    .is_none_or(|l| l.listen_type == virt_core::model::enums::ListenType::Address)
        });
        if !auto {
            return Ok(None);
        }
        let v = self.qmp(a, "query-vnc", None).await?;
        Ok(v.get("service")
            .and_then(Value::as_str)
            .and_then(|p| p.parse().ok()))
    }

    /// Makes a guest reboot a power-off when `<on_reboot>` says `destroy`.
    pub(super) async fn init_lifecycle_actions(
        &self,
        a: &Active,
        def: &DomainDef,
    ) -> DriverResult<()> {
        if def.reboot_action() == LifecycleAction::Destroy {
            self.qmp(a, "set-action", Some(json!({"reboot": "shutdown"})))
                .await?;
        }
        Ok(())
    }

    /// Takes down the link of every interface whose `<link state='down'/>` says so, as
    /// libvirt does after the start (`set_link`; QEMU has no command-line form for it).
    pub(super) async fn init_link_states(&self, a: &Active, def: &DomainDef) -> DriverResult<()> {
        for (i, n) in def.devices.interfaces.iter().enumerate() {
            if n.link_up == Some(false) {
                let name = n.alias.clone().unwrap_or_else(|| format!("net{i}"));
                self.qmp(a, "set_link", Some(json!({"name": name, "up": false})))
                    .await?;
            }
        }
        Ok(())
    }

    /// Sets every display password of `def` on the running QEMU (see the module docs).
    pub(super) async fn init_passwords(&self, a: &Active, def: &DomainDef) -> DriverResult<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        for g in &def.devices.graphics {
            for (cmd, args) in password_commands(g, now).into_iter().flatten() {
                self.qmp(a, cmd, Some(args)).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vnc(passwd: Option<&str>, valid_to: Option<&str>) -> Graphics {
        Graphics {
            graphics_type: GraphicsType::Vnc,
            passwd: passwd.map(String::from),
            passwd_valid_to: valid_to.map(String::from),
            ..Graphics::default()
        }
    }

    #[test]
    fn valid_to_is_read_as_utc() {
        assert_eq!(epoch_of("1970-01-01T00:00:00"), Some(0));
        assert_eq!(epoch_of("2011-05-31T16:11:22"), Some(1_306_858_282));
        assert_eq!(epoch_of("2000-02-29T12:00:00"), Some(951_825_600));
        assert_eq!(epoch_of("2011-13-31T16:11:22"), None);
    }

    #[test]
    fn expiry_is_never_now_or_the_epoch_second() {
        let now = 1_500_000_000;
        assert_eq!(expiry(&vnc(Some("s"), None), now), "never");
        assert_eq!(expiry(&vnc(Some(""), None), now), "now");
        assert_eq!(
            expiry(&vnc(Some("s"), Some("2011-05-31T16:11:22")), now),
            "now"
        );
        assert_eq!(
            expiry(&vnc(Some("s"), Some("2031-05-31T16:11:22")), now),
            "1938010282"
        );
    }

    #[test]
    fn commands_carry_protocol_password_and_connected() {
        let mut g = vnc(Some("s3cret"), None);
        g.connected = Some("keep".into());
        let [set, expire] = password_commands(&g, 0).expect("a password");
        assert_eq!(set.0, "set_password");
        assert_eq!(
            set.1,
            json!({"protocol": "vnc", "password": "s3cret", "connected": "keep"})
        );
        assert_eq!(expire.1, json!({"protocol": "vnc", "time": "never"}));
        assert!(password_commands(&vnc(None, None), 0).is_none());
        let spice = Graphics {
            graphics_type: GraphicsType::Spice,
            passwd: Some("p".into()),
            ..Graphics::default()
        };
        let [set, _] = password_commands(&spice, 0).expect("spice");
        assert_eq!(set.1, json!({"protocol": "spice", "password": "p"}));
    }
}
