//! The layering of virt-core's modules (see the crate docs): a module may import from its own
//! layer or the ones below, never from a layer above. A lower layer reaching up (the event store
//! once imported the gRPC service adapters) makes the server half impossible to leave out of a
//! client's build; this test names the file and the import when that happens again.
//!
//! It reads the sources: every `crate::NAME` outside comments, including each top-level name of
//! a `use crate::{...}` group, is an import of the top-level module NAME.

use std::path::{Path, PathBuf};

/// Each top-level module and its layer (0 vocabulary, 1 drivers, 2 services, 3 runtime).
const LAYERS: &[(&str, u8)] = &[
    ("api_names", 0),
    ("busy_poll", 0),
    ("error", 0),
    ("features", 0),
    ("fsutil", 0),
    ("cgroup", 0),
    ("cgroup_tests", 0),
    ("hostinfo", 0),
    ("procfs", 0),
    ("timefmt", 0),
    ("guest", 0),
    ("honour", 0),
    ("jsontext", 0),
    ("model", 0),
    ("paths", 0),
    ("proto", 0),
    ("proto_conv", 0),
    ("readonly", 0),
    ("state", 0),
    ("status", 0),
    // Networks and storage: their models, codecs, traits and state machines build on the
    // vocabulary only, so the domain model and codec can name them.
    ("network", 0),
    ("numbered", 0),
    ("storage", 0),
    ("tls", 0),
    ("types", 0),
    ("uri", 0),
    ("uuid", 0),
    ("xml", 0),
    ("driver", 1),
    ("events", 1),
    ("kit", 1),
    // Guest registration with systemd-machined, for every hypervisor daemon.
    ("machined", 1),
    // Host suspend for the drivers that offer it (libvirt's virnodesuspend).
    ("nodesuspend", 1),
    ("registry", 1),
    ("test_driver", 1),
    ("service", 2),
    ("runtime", 3),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a piece of code names through `crate::`.
fn imports(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group, skipping nested braces.
            let (mut depth, mut name) = (0usize, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => out.push(std::mem::take(&mut name)),
                    _ if depth == 0 => name.push(c),
                    _ => {}
                }
            }
            out.push(name);
        } else {
            out.push(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    out.into_iter()
        .map(|n| n.trim().split("::").next().unwrap_or("").trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

#[test]
fn no_module_imports_from_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut bad = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_string())
            .expect("a file name");
        if top == "lib" {
            continue;
        }
        let Some(own) = layer(&top) else {
            bad.push(format!(
                "{}: module '{top}' has no layer in this test",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        // `use crate::{...}` groups may span lines: read the file's code as one line.
        let code = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join(" ");
        for name in imports(&code) {
            match layer(&name) {
                Some(l) if l > own => bad.push(format!(
                    "{}: layer-{own} module '{top}' imports layer-{l} module '{name}'",
                    rel.display()
                )),
                _ => {}
            }
        }
    }
    assert!(bad.is_empty(), "layering broken:\n{}", bad.join("\n"));
}

#[test]
fn imports_reads_paths_and_groups() {
    assert_eq!(imports("use crate::proto::Domain;"), ["proto"]);
    assert_eq!(
        imports("use crate::{error::VirtError, service::{a, b}, runtime};"),
        ["error", "service", "runtime"]
    );
    assert!(imports("let x = 1;").is_empty());
}
