//! What a driver honours: one description that both feeds the driver's domain capabilities and
//! decides which definitions the driver accepts.
//!
//! libvirt parses everything its schema knows and then, per driver, silently ignores much of it.
//! Here each driver declares an [`Honoured`] set: the [`DomainCapabilities`] it publishes (its
//! enums, such as the disk buses or graphics types, become constraints on the attributes they
//! describe) plus the element and attribute paths it acts on. Defining a domain checks the
//! canonical form of the definition against that set and refuses everything else with
//! CONFIG_UNSUPPORTED, one violation per element or attribute, each naming its XPath. The
//! check itself walks the formatted XML and so lives with the codec
//! ([`crate::xml::DomainXmlCodec::check_honoured`]).
//!
//! Paths are written without indices, one segment per element, attributes as `@name`, prefixed
//! elements as written (`qemu:commandline`). A pattern segment `*` matches one segment, and a
//! final `**` matches the element it follows and everything below it (elements, attributes).

use crate::model::{DomainCapabilities, DomainCapsBlock};

/// A driver's honoured set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Honoured {
    /// The driver's name as users know it, for messages ("QEMU", "LXC", "test").
    pub driver: String,
    /// The domain capabilities the driver publishes; their enums constrain the attributes they
    /// describe (see [`caps_constraints`]).
    pub caps: DomainCapabilities,
    /// Path patterns of the elements and attributes the driver acts on.
    pub paths: Vec<String>,
    /// Further value constraints `(path, allowed values)` on attributes, or on element text
    /// when the path names an element (`/domain/on_crash`).
    pub values: Vec<(String, Vec<String>)>,
}

/// One value constraint: the attribute (or element) path, a label for messages, the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// Path without indices.
    pub path: String,
    /// What the value is, for messages ("disk bus").
    pub label: String,
    /// The values accepted.
    pub allowed: Vec<String>,
}

/// Which domain-capabilities enum describes which attribute: `(block, enum, path, label)`.
/// Blocks are the children of `<devices>` plus `os` and `memoryBacking`, as libvirt names them.
const CAPS_ENUM_PATHS: &[(&str, &str, &str, &str)] = &[
    ("os", "firmware", "/domain/os/@firmware", "firmware"),
    (
        "disk",
        "diskDevice",
        "/domain/devices/disk/@device",
        "disk device",
    ),
    (
        "disk",
        "bus",
        "/domain/devices/disk/target/@bus",
        "disk bus",
    ),
    ("disk", "model", "/domain/devices/disk/@model", "disk model"),
    (
        "graphics",
        "type",
        "/domain/devices/graphics/@type",
        "graphics type",
    ),
    (
        "video",
        "modelType",
        "/domain/devices/video/model/@type",
        "video model",
    ),
    (
        "hostdev",
        "mode",
        "/domain/devices/hostdev/@mode",
        "hostdev mode",
    ),
    (
        "hostdev",
        "startupPolicy",
        "/domain/devices/hostdev/source/@startupPolicy",
        "hostdev startup policy",
    ),
    (
        "hostdev",
        "pciBackend",
        "/domain/devices/hostdev/driver/@name",
        "PCI backend",
    ),
    ("rng", "model", "/domain/devices/rng/@model", "rng model"),
    (
        "rng",
        "backendModel",
        "/domain/devices/rng/backend/@model",
        "rng backend",
    ),
    (
        "filesystem",
        "driverType",
        "/domain/devices/filesystem/driver/@type",
        "filesystem driver",
    ),
    ("tpm", "model", "/domain/devices/tpm/@model", "TPM model"),
    (
        "tpm",
        "backendModel",
        "/domain/devices/tpm/backend/@type",
        "TPM backend",
    ),
    (
        "tpm",
        "backendVersion",
        "/domain/devices/tpm/backend/@version",
        "TPM version",
    ),
    (
        "redirdev",
        "bus",
        "/domain/devices/redirdev/@bus",
        "redirdev bus",
    ),
    (
        "channel",
        "type",
        "/domain/devices/channel/@type",
        "channel type",
    ),
    (
        "console",
        "type",
        "/domain/devices/console/@type",
        "console type",
    ),
    (
        "interface",
        "backendType",
        "/domain/devices/interface/backend/@type",
        "interface backend",
    ),
    (
        "panic",
        "model",
        "/domain/devices/panic/@model",
        "panic model",
    ),
    (
        "memoryBacking",
        "sourceType",
        "/domain/memoryBacking/source/@type",
        "memory backing source",
    ),
];

/// The value constraints a driver's domain capabilities imply: each enum of a supported block
/// that [`CAPS_ENUM_PATHS`] knows, the CPU modes, and the domain type.
pub fn caps_constraints(caps: &DomainCapabilities) -> Vec<Constraint> {
    let mut out = Vec::new();
    if !caps.domain.is_empty() {
        out.push(Constraint {
            path: "/domain/@type".into(),
            label: "domain type".into(),
            allowed: vec![caps.domain.clone()],
        });
    }
    let modes: Vec<String> = caps
        .cpu_modes
        .iter()
        .filter(|(_, s)| *s)
        .map(|(m, _)| m.clone())
        .collect();
    if !caps.cpu_modes.is_empty() {
        out.push(Constraint {
            path: "/domain/cpu/@mode".into(),
            label: "CPU mode".into(),
            allowed: modes,
        });
    }
    let blocks = caps.os.iter().chain(caps.devices.iter());
    for block in blocks.filter(|b| b.supported) {
        for (name, values) in &block.enums {
            if let Some((_, _, path, label)) = CAPS_ENUM_PATHS
                .iter()
                .find(|(b, e, _, _)| *b == block.name && e == name)
            {
                out.push(Constraint {
                    path: (*path).to_string(),
                    label: (*label).to_string(),
                    allowed: values.clone(),
                });
            }
        }
    }
    out
}

/// Element paths of the device blocks the capabilities publish as unsupported.
fn unsupported_blocks(caps: &DomainCapabilities) -> impl Iterator<Item = String> + '_ {
    let os = caps
        .os
        .iter()
        .filter(|b| !b.supported)
        .map(|_| "/domain/os/@firmware".to_string());
    let devices = caps
        .devices
        .iter()
        .filter(|b: &&DomainCapsBlock| !b.supported)
        .map(|b| format!("/domain/devices/{}", b.name));
    os.chain(devices)
}

impl Honoured {
    /// A set honouring everything the model can represent (the test driver's).
    pub fn everything(driver: &str) -> Honoured {
        Honoured {
            driver: driver.to_string(),
            caps: DomainCapabilities::default(),
            paths: vec!["/domain/**".into()],
            values: Vec::new(),
        }
    }

    /// Whether the element or attribute at `path` (no indices) is honoured.
    pub fn honours(&self, path: &str) -> bool {
        if unsupported_blocks(&self.caps).any(|p| path == p || under(path, &p)) {
            return false;
        }
        self.paths.iter().any(|p| matches(p, path))
    }

    /// Every value constraint: those the capabilities imply, then [`Honoured::values`].
    pub fn constraints(&self) -> Vec<Constraint> {
        let mut out = caps_constraints(&self.caps);
        for (path, allowed) in &self.values {
            let label = path
                .rsplit('/')
                .next()
                .unwrap_or(path)
                .trim_start_matches('@')
                .to_string();
            out.push(Constraint {
                path: path.clone(),
                label,
                allowed: allowed.clone(),
            });
        }
        out
    }
}

/// Whether `path` lies strictly below `prefix`.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether `pattern` matches `path` (see the module docs for the pattern language).
pub fn matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.split('/').peekable();
    let mut segs = path.split('/');
    loop {
        match (pat.next(), segs.next()) {
            (Some("**"), _) if pat.peek().is_none() => return true,
            (Some(p), Some(s)) if segment_matches(p, s) => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// One pattern segment against one path segment.
fn segment_matches(pattern: &str, segment: &str) -> bool {
    match pattern {
        "*" => !segment.starts_with('@'),
        "@*" => segment.starts_with('@'),
        p => p == segment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_segments_subtrees_and_attributes() {
        assert!(matches("/domain/name", "/domain/name"));
        assert!(!matches("/domain/name", "/domain/name/@x"));
        assert!(matches("/domain/devices/disk/**", "/domain/devices/disk"));
        assert!(matches(
            "/domain/devices/disk/**",
            "/domain/devices/disk/target/@bus"
        ));
        assert!(!matches(
            "/domain/devices/disk/**",
            "/domain/devices/diskette"
        ));
        assert!(matches(
            "/domain/devices/*/alias",
            "/domain/devices/disk/alias"
        ));
        assert!(!matches("/domain/devices/*", "/domain/devices/@x"));
        assert!(matches("/domain/os/@*", "/domain/os/@firmware"));
        assert!(!matches("/domain/os/@*", "/domain/os/type"));
    }

    #[test]
    fn capability_enums_become_constraints_on_their_attributes() {
        let caps = DomainCapabilities {
            domain: "qemu".into(),
            cpu_modes: vec![("host-model".into(), true), ("maximum".into(), false)],
            devices: vec![
                DomainCapsBlock {
                    name: "disk".into(),
                    supported: true,
                    enums: vec![("bus".into(), vec!["virtio".into(), "sata".into()])],
                },
                DomainCapsBlock {
                    name: "tpm".into(),
                    supported: false,
                    enums: vec![("model".into(), vec!["tpm-tis".into()])],
                },
            ],
            ..Default::default()
        };
        let c = caps_constraints(&caps);
        let bus = c
            .iter()
            .find(|c| c.path == "/domain/devices/disk/target/@bus")
            .expect("bus constraint");
        assert_eq!(bus.allowed, ["virtio", "sata"]);
        assert_eq!(bus.label, "disk bus");
        let mode = c
            .iter()
            .find(|c| c.path == "/domain/cpu/@mode")
            .expect("modes");
        assert_eq!(mode.allowed, ["host-model"]);
        assert!(c
            .iter()
            .any(|c| c.path == "/domain/@type" && c.allowed == ["qemu"]));
        // An unsupported block's enums constrain nothing: the element itself is refused.
        assert!(!c.iter().any(|c| c.path.starts_with("/domain/devices/tpm")));
        let h = Honoured {
            driver: "QEMU".into(),
            caps,
            paths: vec!["/domain/**".into()],
            values: Vec::new(),
        };
        assert!(!h.honours("/domain/devices/tpm"));
        assert!(!h.honours("/domain/devices/tpm/backend"));
        assert!(h.honours("/domain/devices/disk"));
    }

    #[test]
    fn everything_honours_any_domain_path() {
        let h = Honoured::everything("test");
        assert!(h.honours("/domain/memtune/hard_limit"));
        assert!(h.honours("/domain/devices/disk/target/@bus"));
        assert!(h.constraints().is_empty());
    }
}
