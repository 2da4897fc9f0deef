//! Making a defined file startable on this machine: every file-backed disk whose image does not
//! exist gets a temporary one (`qemu-img create`, in the format `<driver type>` names, raw by
//! default; a CD-ROM or floppy gets an empty file), and the definition is rewritten to point at
//! it. What the test cannot provide (a block device, a network or pool volume, a missing or
//! empty kernel or firmware file) makes the file unstartable here, with the reason; so does an interface
//! that would reach the host's networks (only `user` and an unattached `ethernet` tap start).

use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// One `<disk>` as far as storage goes.
#[derive(Debug, Default)]
struct Disk {
    kind: String,
    device: String,
    format: Option<String>,
    file: Option<String>,
    other_source: bool,
}

fn attr(s: &BytesStart<'_>, name: &str) -> Option<String> {
    s.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name.as_bytes())
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// What a definition needs from the host, as read from `xml`.
#[derive(Debug, Default)]
struct Needs {
    disks: Vec<Disk>,
    /// Paths under `<os>` that must exist (kernel, initrd, loader).
    os_files: Vec<String>,
    /// The NVRAM path, when written.
    nvram: Option<String>,
    /// The type of each `<interface>`.
    interfaces: Vec<String>,
}

fn scan(xml: &str) -> Result<Needs, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut disks = Vec::new();
    let mut os_files = Vec::new();
    let mut nvram = None;
    let mut interfaces = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        let (start, empty) = match &event {
            Event::Start(s) => (Some(s.clone()), false),
            Event::Empty(s) => (Some(s.clone()), true),
            _ => (None, false),
        };
        if let Some(s) = start {
            let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
            let parent = stack.last().map(String::as_str);
            match (parent, name.as_str()) {
                (Some("devices"), "disk") => disks.push(Disk {
                    kind: attr(&s, "type").unwrap_or_else(|| "file".into()),
                    device: attr(&s, "device").unwrap_or_else(|| "disk".into()),
                    ..Disk::default()
                }),
                (Some("devices"), "interface") => {
                    interfaces.push(attr(&s, "type").unwrap_or_default());
                }
                (Some("disk"), "driver") => {
                    if let Some(d) = disks.last_mut() {
                        d.format = attr(&s, "type");
                    }
                }
                (Some("disk"), "source") => {
                    if let Some(d) = disks.last_mut() {
                        d.file = attr(&s, "file");
                        d.other_source = d.file.is_none()
                            && (attr(&s, "dev").is_some()
                                || attr(&s, "protocol").is_some()
                                || attr(&s, "pool").is_some()
                                || attr(&s, "dir").is_some());
                    }
                }
                _ => {}
            }
            if !empty {
                stack.push(name);
            }
        }
        match event {
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let n = stack.len();
                let in_os_file = n >= 2
                    && stack[n - 2] == "os"
                    && matches!(stack[n - 1].as_str(), "loader" | "kernel" | "initrd");
                let text = t.decode().map_err(|e| e.to_string())?.trim().to_string();
                if in_os_file && !text.is_empty() {
                    os_files.push(text);
                } else if n >= 2 && stack[n - 2] == "os" && stack[n - 1] == "nvram" {
                    nvram = Some(text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(Needs {
        disks,
        os_files,
        nvram,
        interfaces,
    })
}

/// `xml` rewritten so that its disks exist (temporary images in `dir`, named `TAG-N.EXT`) and
/// its NVRAM, when a path is written, lives in `dir` too (a path elsewhere may be another
/// guest's), or why it cannot start here.
pub fn provide(xml: &str, dir: &Path, tag: &str) -> Result<String, String> {
    let Needs {
        disks,
        os_files,
        nvram,
        interfaces,
    } = scan(xml).map_err(|e| format!("cannot read the XML: {e}"))?;
    if let Some(t) = interfaces
        .iter()
        .find(|t| !matches!(t.as_str(), "user" | "ethernet"))
    {
        return Err(format!(
            "an interface of type '{t}' would reach the host's network"
        ));
    }
    for f in &os_files {
        match std::fs::metadata(f) {
            Err(_) => return Err(format!("needs {f}, which does not exist here")),
            // A generator's placeholder (virt-install needs the file to exist).
            Ok(m) if m.len() == 0 => return Err(format!("needs a real {f}; it is empty here")),
            Ok(_) => {}
        }
    }
    let mut out = xml.to_string();
    if let Some(path) = nvram.filter(|p| !p.is_empty()) {
        let new = dir.join(format!("{tag}_VARS.fd"));
        out = out.replace(&format!(">{path}<"), &format!(">{}<", new.display()));
    }
    for (i, d) in disks.iter().enumerate() {
        if d.other_source || (d.kind != "file" && d.file.is_none() && d.device == "disk") {
            return Err(format!(
                "disk {i} is a '{}' disk the test cannot provide",
                d.kind
            ));
        }
        let Some(file) = &d.file else {
            continue; // a CD-ROM without media
        };
        if Path::new(file).exists() {
            continue;
        }
        let format = d.format.clone().unwrap_or_else(|| "raw".into());
        let new = dir.join(format!("{tag}-{i}.{format}"));
        if d.device == "disk" {
            if !matches!(format.as_str(), "raw" | "qcow2") {
                return Err(format!("disk {i} has format '{format}'"));
            }
            super::qemu_img_create(&new, &format)?;
        } else {
            std::fs::write(&new, b"").map_err(|e| e.to_string())?;
        }
        let new = new.to_string_lossy();
        for quote in ['\'', '"'] {
            out = out.replace(
                &format!("{quote}{file}{quote}"),
                &format!("{quote}{new}{quote}"),
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_images_are_created_and_the_definition_points_at_them() {
        let dir = tempfile::tempdir().expect("tmp");
        let xml = "<domain><os><type>hvm</type><nvram>/var/lib/x_VARS.fd</nvram></os><devices>\
             <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
             <source file='/nonexistent/a.qcow2'/><target dev='vda'/></disk>\
             <disk type=\"file\" device=\"cdrom\"><source file=\"/nonexistent/b.iso\"/></disk>\
             <disk type='file' device='cdrom'><target dev='sdb'/></disk>\
             </devices></domain>";
        let out = provide(xml, dir.path(), "t").expect("startable");
        let a = dir.path().join("t-0.qcow2");
        let b = dir.path().join("t-1.raw");
        assert!(a.exists() && b.exists(), "{out}");
        assert!(out.contains(&format!("file='{}'", a.display())), "{out}");
        assert!(out.contains(&format!("file=\"{}\"", b.display())), "{out}");
        let vars = dir.path().join("t_VARS.fd");
        assert!(
            out.contains(&format!("<nvram>{}</nvram>", vars.display())),
            "{out}"
        );
    }

    #[test]
    fn block_disks_bridges_and_missing_kernels_are_not_startable() {
        let dir = tempfile::tempdir().expect("tmp");
        let block = "<domain><devices><disk type='block' device='disk'>\
             <source dev='/dev/sdz'/></disk></devices></domain>";
        assert!(provide(block, dir.path(), "t").is_err());
        let bridged = "<domain><devices><interface type='bridge'>\
             <source bridge='br0'/></interface></devices></domain>";
        let err = provide(bridged, dir.path(), "t").expect_err("bridged");
        assert!(err.contains("'bridge'"), "{err}");
        let kernel = "<domain><os><kernel>/nonexistent/vmlinuz</kernel></os></domain>";
        let err = provide(kernel, dir.path(), "t").expect_err("kernel missing");
        assert!(err.contains("/nonexistent/vmlinuz"), "{err}");
    }
}
