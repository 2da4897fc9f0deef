//! The real libvirt's QEMU driver (`virsh -c qemu:///system`, started by
//! ../shared/tools/libvirt-anchor.sh): whether it is there, and what it says about a definition.
//!
//! That libvirt is shared with other people's work, so a definition goes to it under a name and
//! UUID of our own ([`rename`]): `rwt-PID-N`, and a UUID made from the same numbers (a file's
//! UUID is replaced only when it is a well-formed one, so a malformed UUID still reaches
//! libvirt as written). Every domain defined is undefined at once. Definitions never start
//! there. An NVRAM file is not created by a define, so undefine removes one (`--nvram`) only
//! when none existed before the define: a path that existed belongs to someone else's guest.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use quick_xml::events::Event;
use quick_xml::Reader;

/// Whether `virsh -c qemu:///system` answers. When it does not: with `VIRT_REQUIRE_LIBVIRT`
/// set this panics (CI installs libvirt, so a missing one is a failure), otherwise it prints a
/// notice and answers false so the caller skips.
pub fn require() -> bool {
    let ok = Command::new("virsh")
        .args(["-q", "-c", "qemu:///system", "uri"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("VIRT_REQUIRE_LIBVIRT").is_none(),
            "VIRT_REQUIRE_LIBVIRT is set but `virsh -c qemu:///system` does not answer \
             (run ../shared/tools/libvirt-anchor.sh as root)"
        );
        eprintln!("notice: libvirt's QEMU driver is not running; comparison skipped");
    }
    ok
}

/// A byte range of a document.
type Span = Option<(usize, usize)>;

/// The byte range of the text of each top-level `<name>` and `<uuid>` of a domain document.
fn identity_spans(xml: &str) -> (Span, Span) {
    let mut reader = Reader::from_str(xml);
    let mut depth = 0usize;
    let mut current: Option<Vec<u8>> = None;
    let (mut name, mut uuid) = (None, None);
    loop {
        let before = reader.buffer_position() as usize;
        let Ok(event) = reader.read_event() else {
            break;
        };
        match event {
            Event::Start(s) => {
                depth += 1;
                current = (depth == 2).then(|| s.name().as_ref().to_vec());
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                current = None;
            }
            Event::Text(_) => {
                let span = Some((before, reader.buffer_position() as usize));
                match current.as_deref() {
                    Some(b"name") if name.is_none() => name = span,
                    Some(b"uuid") if uuid.is_none() => uuid = span,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (name, uuid)
}

fn well_formed_uuid(s: &str) -> bool {
    let hex: String = s.trim().chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// `xml` with its top-level `<name>` text replaced by `name` and a well-formed `<uuid>` by
/// `uuid`; anything else stays byte for byte.
pub fn rename(xml: &str, name: &str, uuid: &str) -> String {
    let (n, u) = identity_spans(xml);
    let mut edits: Vec<(usize, usize, &str)> = Vec::new();
    if let Some((a, b)) = n {
        edits.push((a, b, name));
    }
    if let Some((a, b)) = u.filter(|(a, b)| well_formed_uuid(&xml[*a..*b])) {
        edits.push((a, b, uuid));
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = xml.to_string();
    for (a, b, with) in edits {
        out.replace_range(a..b, with);
    }
    out
}

/// `virsh -c qemu:///system ARGS`: (success, stdout, stderr).
fn virsh(args: &[&str]) -> (bool, String, String) {
    match Command::new("virsh")
        .args(["-q", "-c", "qemu:///system"])
        .args(args)
        .output()
    {
        Ok(o) => (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ),
        Err(e) => (false, String::new(), format!("cannot run virsh: {e}")),
    }
}

/// libvirt's reason from virsh's stderr: the `error:` lines after "Failed to define ...".
fn reason(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(|l| l.trim().trim_start_matches("error: "))
        .filter(|l| !l.is_empty() && !l.starts_with("Failed to "))
        .collect();
    lines.join("; ")
}

/// A fresh identity for the shared libvirt: `rwt-PID-N` and a UUID from the same numbers.
fn fresh_identity() -> (String, String) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    (
        format!("rwt-{pid}-{n}"),
        format!("7e57{:04x}-0000-4000-8000-{:012x}", pid & 0xffff, n),
    )
}

/// Defines `xml` on libvirt's QEMU driver under a fresh identity and undefines it at once:
/// `Ok(())`, or libvirt's reason for refusing it. `scratch` is a directory for the file virsh
/// reads.
pub fn define(xml: &str, scratch: &Path) -> Result<(), String> {
    let (name, uuid) = fresh_identity();
    let file = scratch.join(format!("{name}.xml"));
    std::fs::write(&file, rename(xml, &name, &uuid)).map_err(|e| e.to_string())?;
    let file_arg = file.to_string_lossy().into_owned();
    let (ok, _, err) = virsh(&["define", &file_arg]);
    let _ = std::fs::remove_file(&file);
    if !ok {
        return Err(reason(&err));
    }
    // The name is ours unless the file had none (then libvirt refused it above).
    let (_, dumped, _) = virsh(&["dumpxml", "--inactive", &name]);
    let nvram_existed = nvram_path(&dumped).is_some_and(|p| Path::new(&p).exists());
    let keep = if nvram_existed {
        "--keep-nvram"
    } else {
        "--nvram"
    };
    let (ok, _, err) = virsh(&["undefine", &name, keep]);
    assert!(ok, "cannot undefine {name} from libvirt: {err}");
    Ok(())
}

fn nvram_path(xml: &str) -> Option<String> {
    let start = xml.find("<nvram")?;
    let rest = &xml[start..];
    let open_end = rest.find('>')?;
    if rest[..open_end].ends_with('/') {
        return None;
    }
    let text = &rest[open_end + 1..];
    Some(text[..text.find('<')?].trim().to_string())
}

/// `virsh -c qemu:///system domxml-to-native qemu-argv FILE`: libvirt's command line for the
/// definition in `file`, or its error.
pub fn domxml_to_native(file: &Path) -> Result<String, String> {
    let (ok, out, err) = virsh(&["domxml-to-native", "qemu-argv", &file.to_string_lossy()]);
    if ok {
        Ok(out.trim().to_string())
    } else {
        Err(reason(&err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_replaces_only_the_top_level_name_and_a_well_formed_uuid() {
        let xml = "<domain type='kvm'>\n  <name>vm1</name>\n  \
                   <uuid>12345678-1234-1234-1234-123456789abc</uuid>\n  \
                   <devices><channel><target name='org.x'/></channel></devices>\n\
                   <cpu><model>qemu64</model></cpu></domain>";
        let out = rename(xml, "new", "7e570000-0000-4000-8000-000000000001");
        assert_eq!(
            out,
            xml.replace("vm1", "new").replace(
                "12345678-1234-1234-1234-123456789abc",
                "7e570000-0000-4000-8000-000000000001"
            )
        );
        let bad = "<domain><name>a</name><uuid>not-a-uuid</uuid></domain>";
        assert_eq!(
            rename(bad, "b", "7e570000-0000-4000-8000-000000000001"),
            "<domain><name>b</name><uuid>not-a-uuid</uuid></domain>"
        );
        let nameless = "<domain><memory>1</memory></domain>";
        assert_eq!(rename(nameless, "b", "u"), nameless);
    }

    #[test]
    fn nvram_path_reads_the_element_text_only() {
        assert_eq!(
            nvram_path("<os><loader/><nvram template='t'>/a/b_VARS.fd</nvram></os>").as_deref(),
            Some("/a/b_VARS.fd")
        );
        assert_eq!(nvram_path("<os><nvram template='t'/></os>"), None);
        assert_eq!(nvram_path("<os/>"), None);
    }
}
