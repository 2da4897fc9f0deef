//! Comparing two QEMU command lines as domxml-to-native prints them (libvirt's and ours): one
//! line of `VAR=value` words, the program, the arguments, shell-quoted.
//!
//! A line is read into options ([`Opt`]): a flag with its value when one follows. Each option
//! gets a key that says which thing it configures, so that the two lines can be matched even
//! where one has options the other lacks: `-device`, `-blockdev`, `-netdev`, `-object` and
//! `-audiodev` by the `id` / `node-name` of their JSON, `-chardev` and `-mon` by `id=`,
//! `-global` by the property it sets, anything else by the flag (numbered when repeated).
//!
//! Values are compared after normalising what legitimately differs between two daemons: their
//! directories (each side's private dir, NVRAM dir... given as `(path, placeholder)` pairs),
//! tap descriptor numbers (`<FD>`), and a device's PCI placement (`bus`, `addr`), which is
//! compared separately ([`Comparison::placement`]).

use std::collections::BTreeMap;

/// One option of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    /// What it configures (see the module docs).
    pub key: String,
    /// The flag, e.g. `-device`.
    pub flag: String,
    /// Its value, if it takes one.
    pub value: Option<String>,
}

/// A command line read from domxml-to-native's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    /// `(name, value)` of the environment, in order.
    pub env: Vec<(String, String)>,
    /// The program.
    pub program: String,
    /// The options, in order.
    pub opts: Vec<Opt>,
}

/// Splits `line` into words as a POSIX shell would for the quoting libvirt uses: blanks
/// separate, `'...'` quotes literally, `\x` outside quotes is `x`.
pub fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(q) => word.push(q),
                        None => return Err("unterminated quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next().ok_or("a trailing backslash")?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn is_env(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        }
        None => false,
    }
}

/// The identity of a JSON option value: its `id`, else its `node-name`.
fn json_id(value: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(value).ok()?;
    let id = v.get("id").or_else(|| v.get("node-name"))?;
    id.as_str().map(str::to_string)
}

/// The `id=` of a key=value option.
fn kv_id(value: &str) -> Option<String> {
    value
        .split(',')
        .find_map(|p| p.strip_prefix("id=").map(str::to_string))
}

fn key_of(flag: &str, value: Option<&str>, seen: &mut BTreeMap<String, usize>) -> String {
    let named = match (flag, value) {
        (_, Some(v)) if v.starts_with('{') => json_id(v).map(|id| format!("{flag} {id}")),
        ("-chardev" | "-mon", Some(v)) => kv_id(v).map(|id| format!("{flag} {id}")),
        ("-global", Some(v)) => v.split('=').next().map(|p| format!("{flag} {p}")),
        _ => None,
    };
    named.unwrap_or_else(|| {
        let n = seen.entry(flag.to_string()).or_default();
        *n += 1;
        if *n == 1 {
            flag.to_string()
        } else {
            format!("{flag} #{n}")
        }
    })
}

/// Reads domxml-to-native's output.
pub fn parse(line: &str) -> Result<Line, String> {
    let words = shell_words(line.trim())?;
    let mut words = words.into_iter().peekable();
    let mut out = Line::default();
    while let Some(w) = words.next_if(|w| is_env(w)) {
        let (k, v) = w.split_once('=').expect("is_env checked the =");
        out.env.push((k.to_string(), v.to_string()));
    }
    out.program = words.next().ok_or("no program")?;
    let mut seen = BTreeMap::new();
    while let Some(flag) = words.next() {
        if !flag.starts_with('-') {
            return Err(format!("a value without a flag: {flag}"));
        }
        let value = words.next_if(|w| !w.starts_with('-'));
        out.opts.push(Opt {
            key: key_of(&flag, value.as_deref(), &mut seen),
            flag,
            value,
        });
    }
    Ok(out)
}

/// A side's directories and what they stand for (`("/var/lib/libvirt/qemu/domain--1-a",
/// "<PRIVATE>")`), longest first where one holds another.
pub type Dirs<'a> = &'a [(&'a str, &'a str)];

/// `value` with the directories and tap descriptors made neutral; JSON without `bus`/`addr`,
/// returned apart as the placement.
pub fn normalise(value: &str, dirs: Dirs<'_>) -> (String, Option<String>) {
    let mut v = value.to_string();
    for (path, placeholder) in dirs {
        v = v.replace(path, placeholder);
    }
    if !v.starts_with('{') {
        return (v, None);
    }
    let Ok(mut json) = serde_json::from_str::<serde_json::Value>(&v) else {
        return (v, None);
    };
    let mut placement = None;
    if let Some(obj) = json.as_object_mut() {
        if obj.contains_key("fd") {
            obj.insert("fd".into(), "<FD>".into());
        }
        let bus = obj.remove("bus");
        let addr = obj.remove("addr");
        if bus.is_some() || addr.is_some() {
            placement = Some(format!(
                "bus={} addr={}",
                bus.unwrap_or_default(),
                addr.unwrap_or_default()
            ));
        }
    }
    (json.to_string(), placement)
}

/// How two command lines differ.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Keys of libvirt's options ours does not have.
    pub only_libvirt: Vec<String>,
    /// Keys of our options libvirt does not have.
    pub only_ours: Vec<String>,
    /// Options both have whose values differ: (key, libvirt's, ours), normalised.
    pub values: Vec<(String, String, String)>,
    /// Options both have placed on different PCI addresses: (key, libvirt's, ours).
    pub placement: Vec<(String, String, String)>,
    /// Options both have that are out of libvirt's order: the common options outside the
    /// longest sequence both lines share.
    pub order: Vec<String>,
    /// Environment variable names that differ: (libvirt's, ours).
    pub env: Option<(Vec<String>, Vec<String>)>,
}

/// Compares libvirt's line with ours; each side's directories are given to normalise it.
pub fn compare(libvirt: &Line, lv_dirs: Dirs<'_>, ours: &Line, our_dirs: Dirs<'_>) -> Comparison {
    let mut c = Comparison::default();
    let lv_env: Vec<String> = libvirt.env.iter().map(|(k, _)| k.clone()).collect();
    let our_env: Vec<String> = ours.env.iter().map(|(k, _)| k.clone()).collect();
    if lv_env != our_env {
        c.env = Some((lv_env, our_env));
    }
    let lv: BTreeMap<&str, &Opt> = libvirt.opts.iter().map(|o| (o.key.as_str(), o)).collect();
    let us: BTreeMap<&str, &Opt> = ours.opts.iter().map(|o| (o.key.as_str(), o)).collect();
    c.only_libvirt = libvirt
        .opts
        .iter()
        .filter(|o| !us.contains_key(o.key.as_str()))
        .map(|o| o.key.clone())
        .collect();
    c.only_ours = ours
        .opts
        .iter()
        .filter(|o| !lv.contains_key(o.key.as_str()))
        .map(|o| o.key.clone())
        .collect();
    for o in &libvirt.opts {
        let Some(mine) = us.get(o.key.as_str()) else {
            continue;
        };
        let (a, pa) = normalise(o.value.as_deref().unwrap_or(""), lv_dirs);
        let (b, pb) = normalise(mine.value.as_deref().unwrap_or(""), our_dirs);
        if a != b || o.flag != mine.flag {
            c.values.push((o.key.clone(), a, b));
        }
        if pa != pb {
            c.placement.push((
                o.key.clone(),
                pa.unwrap_or_default(),
                pb.unwrap_or_default(),
            ));
        }
    }
    let common_lv: Vec<&str> = libvirt
        .opts
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| us.contains_key(k))
        .collect();
    let common_us: Vec<&str> = ours
        .opts
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| lv.contains_key(k))
        .collect();
    let kept = lcs(&common_lv, &common_us);
    c.order = common_us
        .iter()
        .filter(|k| !kept.contains(k))
        .map(|k| k.to_string())
        .collect();
    c
}

/// The longest common subsequence of `a` and `b`.
fn lcs<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    let mut len = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            len[i][j] = if a[i] == b[j] {
                len[i + 1][j + 1] + 1
            } else {
                len[i + 1][j].max(len[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(a[i]);
            i += 1;
            j += 1;
        } else if len[i + 1][j] >= len[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_libvirts_single_quotes() {
        assert_eq!(
            shell_words(r#"A=b /q -o '{"a":"x y"}' 'it'\''s' -S"#).expect("words"),
            ["A=b", "/q", "-o", r#"{"a":"x y"}"#, "it's", "-S"]
        );
        assert!(shell_words("-o 'open").is_err());
    }

    #[test]
    fn options_are_keyed_by_what_they_configure() {
        let l = parse(
            r#"LC_ALL=C HOME=/h /usr/bin/qemu -name guest=a -S -chardev pty,id=charserial0 -device '{"driver":"isa-serial","id":"serial0"}' -global ICH9-LPC.disable_s3=1 -object '{"qom-type":"secret","id":"k"}' -no-hpet -sandbox on"#,
        )
        .expect("parse");
        assert_eq!(
            l.env,
            [("LC_ALL".into(), "C".into()), ("HOME".into(), "/h".into())]
        );
        assert_eq!(l.program, "/usr/bin/qemu");
        let keys: Vec<&str> = l.opts.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "-name",
                "-S",
                "-chardev charserial0",
                "-device serial0",
                "-global ICH9-LPC.disable_s3",
                "-object k",
                "-no-hpet",
                "-sandbox"
            ]
        );
    }

    #[test]
    fn comparison_separates_missing_values_placement_and_order() {
        let lv = parse(
            r#"HOME=/var/lib/x /q -a 1 -device '{"driver":"v","id":"d0","bus":"pci.0","addr":"0x3"}' -netdev '{"type":"tap","fd":"27","id":"n0"}' -b 2 -c"#,
        )
        .expect("libvirt");
        let us = parse(
            r#"HOME=/root/x /q -b 2 -a 1 -device '{"driver":"v","id":"d0","bus":"pci.0","addr":"0x4"}' -netdev '{"type":"tap","fd":"3","id":"n0"}' -z"#,
        )
        .expect("ours");
        let c = compare(&lv, &[("/var/lib/x", "<P>")], &us, &[("/root/x", "<P>")]);
        assert_eq!(c.only_libvirt, ["-c"]);
        assert_eq!(c.only_ours, ["-z"]);
        assert!(c.values.is_empty(), "{:?}", c.values);
        assert_eq!(c.placement.len(), 1);
        assert_eq!(c.order, ["-b"]);
        assert!(c.env.is_none());
    }
}
