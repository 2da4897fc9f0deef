//! What the CPU commands (`cpu-compare`, `cpu-baseline`, `hypervisor-cpu-compare`,
//! `hypervisor-cpu-baseline`) share: the `<cpu>` definitions of a file as virsh's
//! vshExtractCPUDefXMLs finds them (a `<cpu>`, a domain's, the host CPU of capabilities, the
//! supported host-model of domain capabilities), and virsh's scaled and plain unsigned options.

use virt_client::ClientError;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use super::define::read_file;
use super::report::CliError;
use super::size::{parse_scaled, SizeError};

/// An element found: its path of names, and where it starts and ends in the text.
type Found<'a> = (Vec<&'a str>, usize, usize);

/// The elements of `xml` (top level wrapped as virsh wraps it in `<container>`) whose path of
/// element names is one of `paths`, each as its source text, in document order.
fn elements<'a>(xml: &'a str, paths: &[&[&str]]) -> Result<Vec<Found<'a>>, ()> {
    let mut stack: Vec<(&str, usize)> = Vec::new();
    let mut found = Vec::new();
    let mut pos = 0;
    while let Some(i) = xml[pos..].find('<') {
        let start = pos + i;
        let rest = &xml[start..];
        if rest.starts_with("<!--") {
            pos = start + rest.find("-->").ok_or(())? + 3;
            continue;
        }
        if rest.starts_with("<?") || rest.starts_with("<!") {
            pos = start + rest.find('>').ok_or(())? + 1;
            continue;
        }
        let end = start + rest.find('>').ok_or(())? + 1;
        let inner = &xml[start + 1..end - 1];
        pos = end;
        if let Some(name) = inner.strip_prefix('/') {
            let (open, at) = stack.pop().ok_or(())?;
            if open != name.trim() {
                return Err(());
            }
            let path: Vec<&str> = stack.iter().map(|(n, _)| *n).chain([open]).collect();
            if paths.contains(&path.as_slice()) {
                found.push((path, at, end));
            }
            continue;
        }
        let body = inner.trim_end_matches('/');
        let name = body
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or_default();
        if name.is_empty() {
            return Err(());
        }
        if inner.ends_with('/') {
            let path: Vec<&str> = stack.iter().map(|(n, _)| *n).chain([name]).collect();
            if paths.contains(&path.as_slice()) {
                found.push((path, start, end));
            }
        } else {
            stack.push((name, start));
        }
    }
    if !stack.is_empty() {
        return Err(());
    }
    found.sort_by_key(|(_, at, _)| *at);
    Ok(found)
}

/// The value of attribute `name` in the start tag `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(i) = rest.find(name) {
        let before = rest[..i].chars().last();
        let after = rest[i + name.len()..].trim_start();
        if before.is_some_and(char::is_whitespace) {
            if let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start();
                let q = v.chars().next()?;
                let v = &v[1..];
                return v.find(q).map(|e| &v[..e]);
            }
        }
        rest = &rest[i + name.len()..];
    }
    None
}

/// The `<cpu>` definitions of `file`, as virsh passes them to libvirt.
pub fn extract(file: &str) -> Result<Vec<String>, CliError> {
    let buffer = read_file(file)?;
    let doc = match buffer.strip_prefix("<?xml") {
        Some(_) => buffer
            .find("?>")
            .map_or(buffer.as_str(), |e| &buffer[e + 2..]),
        None => buffer.as_str(),
    };
    let paths: [&[&str]; 4] = [
        &["cpu"],
        &["domain", "cpu"],
        &["capabilities", "host", "cpu"],
        &["domainCapabilities", "cpu", "mode"],
    ];
    let found = elements(doc, &paths)
        .map_err(|()| CliError::msg(format!("{file}: the file is not well-formed XML")))?;
    let mut cpus = Vec::new();
    for (path, at, end) in found {
        let text = &doc[at..end];
        if path.last() == Some(&"mode") {
            let tag_end = text.find('>').unwrap_or(text.len());
            let tag = &text[..tag_end];
            if attr(tag, "name") != Some("host-model") || attr(tag, "supported") != Some("yes") {
                continue;
            }
            // virsh renames <mode> to <cpu> and drops its attributes.
            let self_closing = tag.ends_with('/');
            let body = if self_closing {
                String::new()
            } else {
                text[tag_end + 1..text.len() - "</mode>".len()].to_string()
            };
            cpus.push(if self_closing {
                "<cpu/>".to_string()
            } else {
                format!("<cpu>{body}</cpu>")
            });
        } else {
            cpus.push(text.to_string());
        }
    }
    if cpus.is_empty() {
        return Err(CliError::msg(format!(
            "File '{file}' does not contain any <cpu> element or valid domain XML, host \
             capabilities XML, or domain capabilities XML"
        )));
    }
    Ok(cpus)
}

/// virsh's vshCommandOptScaledInt for `<option>` (bare numbers in KiB), rounded up to KiB
/// and at most `max` bytes.
pub fn scaled_kib(text: &str, option: &str, max: u64) -> Result<u32, CliError> {
    let malformed = || {
        format!("Scaled numeric value '{text}' for <{option}> option is malformed or out of range")
    };
    let with = |code, detail: String| CliError::Call {
        context: Some(malformed()),
        source: Box::new(ClientError::Virt(VirtError::new(
            code,
            ErrorDomain::None,
            detail,
        ))),
    };
    match parse_scaled(text, 1024) {
        Ok(bytes) if bytes <= max => Ok(u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)),
        Ok(_) => Err(with(
            ErrorCode::Overflow,
            format!("value too large: {text}"),
        )),
        Err(SizeError::Malformed) => Err(CliError::msg(malformed())),
        Err(SizeError::UnknownSuffix(s)) => {
            Err(with(ErrorCode::InvalidArg, format!("unknown suffix '{s}'")))
        }
    }
}

/// virsh's message for a numeric option it cannot read.
pub fn malformed(text: &str, option: &str) -> CliError {
    CliError::msg(format!(
        "Numeric value '{text}' for <{option}> option is malformed or out of range"
    ))
}

/// An unsigned option as virsh's strtoul-based readers take it (no sign, no blanks after).
pub fn unsigned<T: std::str::FromStr>(text: &str, option: &str) -> Result<T, CliError> {
    let t = text.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.starts_with('-') {
        return Err(malformed(text, option));
    }
    t.parse::<T>().map_err(|_| malformed(text, option))
}

/// A signed option as virsh's strtol-based readers take it.
pub fn signed<T: std::str::FromStr>(text: &str, option: &str) -> Result<T, CliError> {
    let t = text.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    t.parse::<T>().map_err(|_| malformed(text, option))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("temp");
        std::fs::write(f.path(), text).expect("write");
        f
    }

    #[test]
    fn cpus_of_every_kind_of_document() {
        let f = write("<?xml version='1.0'?>\n<cpu><model>A</model></cpu>");
        let path = f.path().to_str().expect("utf-8");
        assert_eq!(extract(path).expect("cpu"), ["<cpu><model>A</model></cpu>"]);
        let f = write(
            "<domain type='kvm'><name>x</name><cpu mode='custom'><model>B</model></cpu>\
             </domain>",
        );
        let path = f.path().to_str().expect("utf-8");
        assert_eq!(
            extract(path).expect("domain"),
            ["<cpu mode='custom'><model>B</model></cpu>"]
        );
        let f = write(
            "<domainCapabilities><cpu><mode name='host-passthrough' supported='yes'/>\
             <mode name='host-model' supported='yes'><model>C</model></mode></cpu>\
             </domainCapabilities>",
        );
        let path = f.path().to_str().expect("utf-8");
        assert_eq!(
            extract(path).expect("domcaps"),
            ["<cpu><model>C</model></cpu>"]
        );
        let f = write("<domain><name>x</name></domain>");
        let path = f.path().to_str().expect("utf-8");
        assert!(extract(path).expect_err("none").lines()[0].contains("does not contain"));
    }

    #[test]
    fn scaled_sizes_in_kib() {
        assert_eq!(
            scaled_kib("4", "pagesize", u64::from(u32::MAX)).expect("4"),
            4
        );
        assert_eq!(
            scaled_kib("2M", "pagesize", u64::from(u32::MAX)).expect("2M"),
            2048
        );
        assert_eq!(
            scaled_kib("4294967296", "pagesize", u64::from(u32::MAX))
                .expect_err("big")
                .lines(),
            [
                "Scaled numeric value '4294967296' for <pagesize> option is malformed or out of range",
                "numerical overflow: value too large: 4294967296"
            ]
        );
        assert_eq!(
            scaled_kib("-1", "pagesize", u64::from(u32::MAX))
                .expect_err("neg")
                .lines()
                .len(),
            1
        );
    }
}
