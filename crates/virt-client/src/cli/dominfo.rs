//! `virt dominfo DOMAIN`: the domain's facts as virsh's `%-15s %s` lines.

use virt_client::Connection;
use virt_core::proto::{Domain, DomainInfo, GetSecurityModelResponse};
use virt_core::state::DomainState;
use virt_core::ErrorCode;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `dominfo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
}

fn row(out: &mut String, key: &str, value: &str) {
    out.push_str(&format!("{key:<15} {value}\n"));
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The text virsh prints; `secmodel` is the host's security model (`None` when the driver
/// has none to report).
pub fn render(
    dom: &Domain,
    info: &DomainInfo,
    secmodel: Option<&GetSecurityModelResponse>,
) -> String {
    let mut out = String::new();
    let id = dom.id.map_or_else(|| "-".to_string(), |id| id.to_string());
    row(&mut out, "Id:", &id);
    row(&mut out, "Name:", &dom.name);
    row(&mut out, "UUID:", &dom.uuid);
    row(&mut out, "OS Type:", &info.os_type);
    let state = DomainState::from_number(info.state.as_ref().map_or(0, |s| s.state));
    row(&mut out, "State:", state.virsh_name());
    row(&mut out, "CPU(s):", &info.vcpus.to_string());
    if info.cpu_time_ns != 0 {
        let secs = info.cpu_time_ns as f64 / 1_000_000_000.0;
        row(&mut out, "CPU time:", &format!("{secs:.1}s"));
    }
    let max = if info.max_memory_kib == u64::from(u32::MAX) || info.max_memory_kib == u64::MAX {
        "no limit".to_string()
    } else {
        format!("{} KiB", info.max_memory_kib)
    };
    row(&mut out, "Max memory:", &max);
    row(
        &mut out,
        "Used memory:",
        &format!("{} KiB", info.memory_kib),
    );
    row(&mut out, "Persistent:", yes_no(info.persistent));
    row(
        &mut out,
        "Autostart:",
        if info.autostart { "enable" } else { "disable" },
    );
    row(&mut out, "Managed save:", yes_no(info.has_managed_save));
    if let Some(sec) = secmodel.filter(|s| !s.model.is_empty()) {
        row(&mut out, "Security model:", &sec.model);
        row(&mut out, "Security DOI:", &sec.doi);
        for label in info.security_labels.iter().filter(|l| !l.label.is_empty()) {
            let mode = if label.enforcing {
                "enforcing"
            } else {
                "permissive"
            };
            row(
                &mut out,
                "Security label:",
                &format!("{} ({mode})", label.label),
            );
        }
    }
    for (i, msg) in info.messages.iter().enumerate() {
        row(&mut out, if i == 0 { "Messages:" } else { "" }, msg);
    }
    out
}

/// Runs `dominfo`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let (dom, info) = conn.domain_info(&target.lookup).await?;
    // A driver without security models answers NO_SUPPORT; virsh then leaves the lines out.
    let secmodel = match conn.security_model().await {
        Ok(s) => Some(s),
        Err(e) if e.code() == ErrorCode::NoSupport => None,
        Err(e) => return Err(e.into()),
    };
    out.text(&render(&dom, &info, secmodel.as_ref()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::proto::{DomainStateReason, SecurityLabel};

    fn test_domain(active: bool) -> (Domain, DomainInfo) {
        let dom = Domain {
            name: "test".into(),
            uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f".into(),
            id: active.then_some(1),
        };
        let info = DomainInfo {
            state: Some(DomainStateReason {
                state: if active { 1 } else { 5 },
                reason: 0,
            }),
            max_memory_kib: 8_388_608,
            memory_kib: 2_097_152,
            vcpus: 2,
            cpu_time_ns: 1_795_323_102_600_000_000,
            os_type: "linux".into(),
            persistent: true,
            security_labels: if active {
                vec![SecurityLabel {
                    model: "testSecurity".into(),
                    label: "libvirt-test".into(),
                    enforcing: true,
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        (dom, info)
    }

    fn secmodel() -> GetSecurityModelResponse {
        GetSecurityModelResponse {
            model: "testSecurity".into(),
            doi: String::new(),
        }
    }

    #[test]
    fn running_test_domain_matches_virsh_text() {
        let (dom, info) = test_domain(true);
        assert_eq!(
            render(&dom, &info, Some(&secmodel())),
            "Id:             1\n\
             Name:           test\n\
             UUID:           6695eb01-f6a4-8304-79aa-97f2502e193f\n\
             OS Type:        linux\n\
             State:          running\n\
             CPU(s):         2\n\
             CPU time:       1795323102.6s\n\
             Max memory:     8388608 KiB\n\
             Used memory:    2097152 KiB\n\
             Persistent:     yes\n\
             Autostart:      disable\n\
             Managed save:   no\n\
             Security model: testSecurity\n\
             Security DOI:   \n\
             Security label: libvirt-test (enforcing)\n"
        );
    }

    #[test]
    fn inactive_domain_has_dash_id_and_no_label() {
        let (dom, info) = test_domain(false);
        let text = render(&dom, &info, Some(&secmodel()));
        assert!(text.starts_with("Id:             -\n"));
        assert!(text.contains("State:          shut off\n"));
        assert!(text.ends_with("Security DOI:   \n"));
    }

    #[test]
    fn no_security_lines_without_a_model_and_no_cpu_time_when_zero() {
        let (dom, mut info) = test_domain(true);
        info.cpu_time_ns = 0;
        info.messages = vec!["tainted: a".into(), "tainted: b".into()];
        let text = render(&dom, &info, None);
        assert!(!text.contains("Security"));
        assert!(!text.contains("CPU time"));
        assert!(text.ends_with("Messages:       tainted: a\n                tainted: b\n"));
    }
}
