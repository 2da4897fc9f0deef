//! Domain security labels (`<seclabel>`), as libvirt 9.0's QEMU driver treats them on a host
//! whose security drivers are `none` and `dac` (no SELinux or AppArmor, as here):
//!
//! * Define ([`postparse`]): a label without a model takes the first driver's, `none`, and a
//!   `none` label is `type='none'`; a static label must name its model (XML_ERROR "missing
//!   security model in domain seclabel"). `selinux`, `apparmor` and `dac` labels are kept as
//!   written.
//! * Start ([`check_start`]): a `selinux` or `apparmor` label, whatever its type, fails with
//!   CONFIG_UNSUPPORTED "Security driver model 'selinux' is not available". A static DAC label
//!   must name the user QEMU runs as, which here is the daemon's own user: QEMU is not run as
//!   another user (libvirt's `qemu.conf` `user`/`group`), so a label asking for one is refused
//!   with the reason instead of silently running QEMU as someone else.
//! * The live XML ([`label_live`]): the DAC label QEMU runs under, as libvirt shows it, a
//!   `<seclabel type='dynamic' model='dac' relabel='yes'>` with `<label>+UID:+GID</label>` and
//!   `<imagelabel>`, added when the definition has no DAC label and filled in when it has a
//!   dynamic one; a relabelling static one gets its `<imagelabel>`.

use virt_core::error::{ErrorCode, ErrorDomain, Violation};
use virt_core::model::domain::SecLabel;
use virt_core::model::enums::SecLabelType;
use virt_core::model::DomainDef;
use virt_core::VirtError;

fn with_path(mut e: VirtError, path: String) -> VirtError {
    e.violations.push(Violation {
        description: e.message(),
        path,
    });
    e
}

/// Fills the model of unmodelled labels (see the module docs).
pub(crate) fn postparse(def: &mut DomainDef) -> Result<(), VirtError> {
    for (i, s) in def.seclabels.iter_mut().enumerate() {
        if s.model.is_none() {
            if s.label_type == SecLabelType::Static {
                let e = VirtError::new(
                    ErrorCode::XmlError,
                    ErrorDomain::Domain,
                    "missing security model in domain seclabel",
                );
                return Err(with_path(e, format!("/domain/seclabel[{}]", i + 1)));
            }
            s.model = Some("none".into());
        }
        if s.model.as_deref() == Some("none") {
            *s = SecLabel {
                label_type: SecLabelType::None,
                model: s.model.take(),
                ..SecLabel::default()
            };
        }
    }
    Ok(())
}

/// `user:group` or `+uid:+gid` as numbers; `None` when a name does not resolve.
fn dac_ids(label: &str) -> Option<(u32, u32)> {
    let (user, group) = label.split_once(':')?;
    let uid = match user.strip_prefix('+') {
        Some(n) => n.parse().ok()?,
        None => nix::unistd::User::from_name(user).ok()??.uid.as_raw(),
    };
    let gid = match group.strip_prefix('+') {
        Some(n) => n.parse().ok()?,
        None => nix::unistd::Group::from_name(group).ok()??.gid.as_raw(),
    };
    Some((uid, gid))
}

/// Refuses labels this host cannot apply (see the module docs); `ids` is the user and group
/// QEMU runs as.
pub(crate) fn check_start(def: &DomainDef, ids: (u32, u32)) -> Result<(), VirtError> {
    for s in &def.seclabels {
        let model = s.model.as_deref().unwrap_or("none");
        if matches!(model, "selinux" | "apparmor") {
            return Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::Qemu,
                format!("Security driver model '{model}' is not available"),
            ));
        }
        if model == "dac" && s.label_type == SecLabelType::Static {
            let label = s.label.as_deref().unwrap_or("");
            if dac_ids(label) != Some(ids) {
                return Err(VirtError::new(
                    ErrorCode::ConfigUnsupported,
                    ErrorDomain::Qemu,
                    format!(
                        "static DAC label '{label}' asks QEMU to run as another user, but QEMU \
                         runs as the daemon's user (+{}:+{}) here",
                        ids.0, ids.1
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Shows the DAC label QEMU runs under in the live definition (see the module docs).
pub(crate) fn label_live(def: &mut DomainDef, ids: (u32, u32)) {
    let own = format!("+{}:+{}", ids.0, ids.1);
    match def
        .seclabels
        .iter_mut()
        .find(|s| s.model.as_deref() == Some("dac"))
    {
        None => def.seclabels.push(SecLabel {
            label_type: SecLabelType::Dynamic,
            model: Some("dac".into()),
            relabel: Some(true),
            label: Some(own.clone()),
            imagelabel: Some(own),
            baselabel: None,
        }),
        Some(s) if s.label_type == SecLabelType::Dynamic => {
            s.label = Some(own.clone());
            s.imagelabel = Some(own);
        }
        Some(s) if s.label_type == SecLabelType::Static && s.relabel == Some(true) => {
            s.imagelabel = s.label.clone();
        }
        Some(_) => {}
    }
}

/// The user and group QEMU runs as: the daemon's.
pub(crate) fn qemu_ids() -> (u32, u32) {
    (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    )
}

#[cfg(test)]
mod tests {
    use virt_core::xml::{DomainXmlCodec, FormatOptions};

    use super::*;

    fn def(labels: &str) -> DomainDef {
        virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>s</name><memory>65536</memory>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os>{labels}</domain>"
        ))
        .expect("parses")
    }

    fn labels_xml(d: &DomainDef, inactive: bool) -> String {
        let xml = virt_xml::LibvirtXml.format_domain(
            d,
            FormatOptions {
                id: None,
                secure: false,
                inactive,
            },
        );
        xml.lines()
            .filter(|l| l.contains("seclabel") || l.contains("label>"))
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("")
    }

    /// libvirt 9.0's dumpxml after define, and its live XML after a start, on this host.
    #[test]
    fn define_and_live_labels_match_libvirts() {
        let mut d = def("<seclabel type='dynamic'/>");
        postparse(&mut d).expect("post-parse");
        assert_eq!(labels_xml(&d, true), "<seclabel type='none' model='none'/>");
        label_live(&mut d, (0, 0));
        assert_eq!(
            labels_xml(&d, false),
            "<seclabel type='none' model='none'/>\
             <seclabel type='dynamic' model='dac' relabel='yes'>\
             <label>+0:+0</label><imagelabel>+0:+0</imagelabel></seclabel>"
        );
        let mut d = def("<seclabel type='dynamic' model='selinux'/>");
        postparse(&mut d).expect("post-parse");
        assert_eq!(
            labels_xml(&d, true),
            "<seclabel type='dynamic' model='selinux' relabel='yes'/>"
        );
        let mut d = def("<seclabel type='none' model='dac'/>");
        label_live(&mut d, (0, 0));
        assert_eq!(labels_xml(&d, false), "<seclabel type='none' model='dac'/>");
        let e = postparse(&mut def(
            "<seclabel type='static' relabel='no'><label>+0:+0</label></seclabel>",
        ))
        .expect_err("static without a model");
        assert_eq!(e.code, ErrorCode::XmlError);
        assert_eq!(e.detail, "missing security model in domain seclabel");
    }

    #[test]
    fn absent_security_drivers_and_foreign_dac_users_fail_the_start() {
        for label in [
            "<seclabel type='dynamic' model='selinux'/>",
            "<seclabel type='none' model='selinux'/>",
        ] {
            let e = check_start(&def(label), (0, 0)).expect_err(label);
            assert_eq!(e.code, ErrorCode::ConfigUnsupported);
            assert_eq!(e.detail, "Security driver model 'selinux' is not available");
        }
        let e = check_start(&def("<seclabel type='dynamic' model='apparmor'/>"), (0, 0))
            .expect_err("apparmor");
        assert_eq!(
            e.detail,
            "Security driver model 'apparmor' is not available"
        );
        let static_label = |l: &str| {
            def(&format!(
                "<seclabel type='static' model='dac' relabel='no'><label>{l}</label></seclabel>"
            ))
        };
        check_start(&static_label("+0:+0"), (0, 0)).expect("our own ids");
        check_start(&static_label("root:root"), (0, 0)).expect("our own names");
        let e = check_start(&static_label("+107:+107"), (0, 0)).expect_err("another user");
        assert!(e.detail.contains("'+107:+107'"), "{e:?}");
        check_start(&def("<seclabel type='dynamic' model='dac'/>"), (1000, 1000))
            .expect("dynamic DAC is whoever QEMU runs as");
    }
}
