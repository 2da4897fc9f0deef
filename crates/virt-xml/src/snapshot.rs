//! `<domainsnapshot>`: name, description, state, parent, creation time, memory and disk
//! snapshot modes, the domain definition at snapshot time, and `<active>`.

use virt_core::model::snapshot::{SnapshotDef, SnapshotDisk, SnapshotMemory};

use crate::domain::non_empty;
use crate::strict::Cursor;
use crate::XmlError;

const STATES: &[&str] = &[
    "nostate",
    "running",
    "blocked",
    "paused",
    "shutdown",
    "shutoff",
    "crashed",
    "pmsuspended",
    "disk-snapshot",
];
const MODES: &[&str] = &["no", "internal", "external", "manual"];

/// Parses a `<domainsnapshot>` document.
pub fn parse(xml: &str) -> Result<SnapshotDef, XmlError> {
    let root = crate::parse_root(xml, "(domain_snapshot)", "domainsnapshot")?;
    parse_element(Cursor::new(&root, "/domainsnapshot"))
}

/// Parses a `<domainsnapshot>` element (also found inside test-driver node files).
pub(crate) fn parse_element(mut c: Cursor<'_>) -> Result<SnapshotDef, XmlError> {
    let mut s = SnapshotDef {
        name: non_empty(c.child_text("name")?),
        ..SnapshotDef::default()
    };
    if s.name.as_deref().is_some_and(|n| n.contains('/')) {
        return Err(XmlError::Invalid {
            path: format!("{}/name", c.path()),
            message: "snapshot name cannot contain '/'".into(),
        });
    }
    s.description = non_empty(c.child_text("description")?);
    let state_path = format!("{}/state", c.path());
    if let Some(state) = c.child_text("state")? {
        if !STATES.contains(&state.as_str()) {
            return Err(XmlError::InvalidValue {
                path: state_path,
                value: state,
                reason: "expected a domain state name".into(),
            });
        }
        s.state = Some(state);
    }
    if let Some(mut p) = c.child("parent")? {
        s.parent = non_empty(p.child_text("name")?);
        p.finish()?;
    }
    let time_path = format!("{}/creationTime", c.path());
    if let Some(t) = c.child_text("creationTime")? {
        let parsed = t
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|_| !t.trim().starts_with('+'));
        s.creation_time = Some(parsed.ok_or(XmlError::InvalidValue {
            path: time_path,
            value: t,
            reason: "expected seconds since the epoch".into(),
        })?);
    }
    if let Some(mut m) = c.child("memory")? {
        let snapshot = m
            .attr_word("snapshot", MODES)?
            .ok_or_else(|| XmlError::Missing {
                path: m.attr_path("snapshot"),
            })?;
        let file = non_empty(m.attr_string("file"));
        if (snapshot == "external") != file.is_some() {
            return Err(XmlError::Invalid {
                path: m.path().to_string(),
                message:
                    "a memory file is required for, and only allowed with, snapshot='external'"
                        .into(),
            });
        }
        m.finish()?;
        s.memory = Some(SnapshotMemory { snapshot, file });
    }
    if let Some(mut disks) = c.child("disks")? {
        for d in disks.children("disk") {
            s.disks.push(parse_disk(d)?);
        }
        disks.finish()?;
    }
    if let Some(d) = c.child("domain")? {
        s.domain = Some(Box::new(crate::domain::parse(d)?));
    }
    let active_path = format!("{}/active", c.path());
    if let Some(a) = c.child_text("active")? {
        s.active = Some(match a.trim() {
            "0" => false,
            "1" => true,
            _ => {
                return Err(XmlError::InvalidValue {
                    path: active_path,
                    value: a,
                    reason: "expected 0 or 1".into(),
                })
            }
        });
    }
    c.finish()?;
    Ok(s)
}

fn parse_disk(mut d: Cursor<'_>) -> Result<SnapshotDisk, XmlError> {
    let mut disk = SnapshotDisk {
        name: d.attr_req("name")?.to_string(),
        snapshot: d.attr_word("snapshot", MODES)?,
        ..SnapshotDisk::default()
    };
    if let Some(ty) = d.attr("type") {
        if ty != "file" {
            return Err(XmlError::Unsupported {
                path: d.attr_path("type"),
                message: format!("snapshot disk type '{ty}' is not supported"),
            });
        }
    }
    if let Some(mut src) = d.child("source")? {
        disk.source_file = non_empty(src.attr_string("file"));
        src.finish()?;
    }
    if let Some(mut drv) = d.child("driver")? {
        disk.driver_type = non_empty(drv.attr_string("type"));
        drv.finish()?;
    }
    d.finish()?;
    Ok(disk)
}

#[cfg(test)]
mod tests {
    use crate::tests::corpus;
    use crate::LibvirtXml;
    use virt_core::xml::DomainXmlCodec;

    #[test]
    fn snapshots_parse_and_refuse_unknown_states() {
        let text =
            std::fs::read_to_string(corpus("snapshot-xml/change-snapshot-in.xml")).expect("corpus");
        let s = LibvirtXml.parse_snapshot(&text).expect("valid snapshot");
        assert_eq!(s.name.as_deref(), Some("offline-root-child1"));
        assert_eq!(s.description.as_deref(), Some("offline desk"));
        assert_eq!(s.parent.as_deref(), Some("offline-root"));
        assert_eq!(s.state.as_deref(), Some("shutoff"));
        assert_eq!(s.memory.as_ref().map(|m| m.snapshot.as_str()), Some("no"));
        assert_eq!(s.disks[0].name, "hda");
        assert_eq!(
            s.domain.as_ref().map(|d| d.name.as_str()),
            Some("test-internal-snapshots")
        );
        assert_eq!(s.active, Some(false));
        let text = std::fs::read_to_string(corpus("snapshot-xml/change-snapshot-out.xml"))
            .expect("corpus");
        let e = LibvirtXml
            .parse_snapshot(&text)
            .expect_err("somestate is no state");
        assert_eq!(e.domain, virt_core::ErrorDomain::DomainSnapshot);
        assert!(
            e.message().contains("'somestate'") && e.message().contains("/domainsnapshot/state")
        );
        let e = LibvirtXml
            .parse_snapshot("<domainsnapshot><cookie/></domainsnapshot>")
            .expect_err("cookie");
        assert_eq!(e.message(), "unsupported element /domainsnapshot/cookie");
    }
}
