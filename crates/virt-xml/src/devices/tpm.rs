//! `<tpm>` devices: model, and the passthrough, emulator or external backend.

use virt_core::model::tpm::{Tpm, TpmBackend};
use virt_core::uuid::Uuid;

use super::{format_address, format_alias, parse_address, parse_alias};
use crate::strict::Cursor;
use crate::writer::Writer;
use crate::XmlError;

/// PCR banks in libvirt's print order.
const PCR_BANKS: &[&str] = &["sha1", "sha256", "sha384", "sha512"];

/// Parses a `<tpm>`.
pub(super) fn parse(mut c: Cursor<'_>) -> Result<Tpm, XmlError> {
    let model = c.attr_word(
        "model",
        &["tpm-tis", "tpm-crb", "tpm-spapr", "spapr-tpm-proxy"],
    )?;
    let Some(mut b) = c.child("backend")? else {
        return Err(XmlError::Missing {
            path: format!("{}/backend", c.path()),
        });
    };
    let ty = b.attr_req("type")?;
    let backend = match ty {
        "passthrough" => {
            let path = match b.child("device")? {
                None => "/dev/tpm0".to_string(),
                Some(mut d) => {
                    let p = d.attr_req("path")?.to_string();
                    d.finish()?;
                    p
                }
            };
            TpmBackend::Passthrough { path }
        }
        "emulator" => parse_emulator(&mut b)?,
        "external" => {
            let Some(mut s) = b.child("source")? else {
                return Err(XmlError::Missing {
                    path: format!("{}/source", b.path()),
                });
            };
            s.attr_word("type", &["unix"])?
                .ok_or_else(|| XmlError::Missing {
                    path: s.attr_path("type"),
                })?;
            s.attr_word("mode", &["connect"])?;
            let path = s.attr_req("path")?.to_string();
            s.finish()?;
            TpmBackend::External { path }
        }
        other => {
            return Err(b.invalid_attr("type", other, "expected passthrough, emulator or external"))
        }
    };
    b.finish()?;
    let alias = parse_alias(&mut c)?;
    let address = parse_address(&mut c)?;
    c.finish()?;
    Ok(Tpm {
        model,
        backend,
        alias,
        address,
    })
}

/// The emulator backend's attributes and children.
fn parse_emulator(b: &mut Cursor<'_>) -> Result<TpmBackend, XmlError> {
    let version = b.attr_word("version", &["1.2", "2.0"])?;
    let persistent_state = b.attr_yes_no("persistent_state")?;
    let encryption_secret = match b.child("encryption")? {
        None => None,
        Some(mut e) => {
            let s = e.attr_req("secret")?;
            let uuid = Uuid::parse(s)
                .ok_or_else(|| e.invalid_attr("secret", s, "expected a secret UUID"))?;
            e.finish()?;
            Some(uuid.to_string())
        }
    };
    let mut active_pcr_banks = Vec::new();
    if let Some(mut p) = b.child("active_pcr_banks")? {
        if version.as_deref() != Some("2.0") {
            return Err(XmlError::Unsupported {
                path: p.path().to_string(),
                message: "<active_pcr_banks/> requires TPM version '2.0'".into(),
            });
        }
        for (name, bank) in p.all_children() {
            if !PCR_BANKS.contains(&name.as_str()) || bank.element().prefix.is_some() {
                return Err(XmlError::Unsupported {
                    path: bank.path().to_string(),
                    message: format!("Unsupported PCR banks '{name}'"),
                });
            }
            bank.finish()?;
            if !active_pcr_banks.contains(&name) {
                active_pcr_banks.push(name);
            }
        }
        p.finish()?;
        active_pcr_banks.sort_by_key(|n| PCR_BANKS.iter().position(|b| b == n));
    }
    Ok(TpmBackend::Emulator {
        version,
        persistent_state,
        encryption_secret,
        active_pcr_banks,
    })
}

/// Writes a `<tpm>` as libvirt's `virDomainTPMDefFormat` does.
pub(super) fn format(w: &mut Writer, t: &Tpm) {
    w.tag("tpm").attr_opt("model", t.model.as_deref()).open();
    match &t.backend {
        TpmBackend::Passthrough { path } => {
            w.tag("backend").attr("type", "passthrough").open();
            w.tag("device").attr("path", path).empty();
            w.close("backend");
        }
        TpmBackend::Emulator {
            version,
            persistent_state,
            encryption_secret,
            active_pcr_banks,
        } => w
            .tag("backend")
            .attr("type", "emulator")
            .attr_opt("version", version.as_deref())
            .yes_no("persistent_state", *persistent_state)
            .children(|w| {
                if let Some(s) = encryption_secret {
                    w.tag("encryption").attr("secret", s).empty();
                }
                if !active_pcr_banks.is_empty() {
                    w.tag("active_pcr_banks").open();
                    for bank in active_pcr_banks {
                        w.tag(bank).empty();
                    }
                    w.close("active_pcr_banks");
                }
            }),
        TpmBackend::External { path } => {
            w.tag("backend").attr("type", "external").open();
            w.tag("source")
                .attr("type", "unix")
                .attr("mode", "connect")
                .attr("path", path)
                .empty();
            w.close("backend");
        }
    }
    format_alias(w, t.alias.as_deref());
    format_address(w, t.address.as_ref());
    w.close("tpm");
}
