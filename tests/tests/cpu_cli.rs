//! CPU models and host memory (`cpu-models`, `cpu-compare`, `cpu-baseline`,
//! `hypervisor-cpu-compare`, `hypervisor-cpu-baseline`, `freepages`, `allocpages`,
//! `node-memory-tune`, `nodesuspend`, `nodesevinfo`) of `virt` against
//! `virsh -c test:///default` (libvirt 9.0's test driver): standard output, standard error and
//! exit status of the same command strings, each on a fresh connection, read-write and
//! read-only. Nothing is masked: model lists and baselines come from the same CPU map, and the
//! test driver's free page counts are fixed. The CPU files are written to a temporary
//! directory, so both tools print the same paths. Needs `virsh`; without it the test prints a
//! notice and passes, unless VIRT_REQUIRE_VIRSH is set.

use std::path::Path;
use std::process::Command;

use virt_tests::workspace_bin;

fn run(bin: &Path, args: &[&str]) -> (String, String, i32) {
    let o = Command::new(bin)
        .arg("-c")
        .arg("test:///default")
        .args(args)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .output()
        .expect("run");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

/// The CPU definitions the comparison reads, by file name.
const FILES: &[(&str, &str)] = &[
    (
        "extra.xml",
        "<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor>\
         <feature name='vmx'/><feature name='ssse3'/><feature name='abm'/>\
         <feature name='3dnow'/></cpu>",
    ),
    (
        "plain.xml",
        "<?xml version='1.0'?>\n<cpu>\n  <arch>x86_64</arch>\n  <model>Haswell</model>\n</cpu>\n",
    ),
    // A vendor the model is not of: another model is decoded.
    (
        "amd.xml",
        "<cpu><arch>x86_64</arch><model>Haswell</model><vendor>AMD</vendor></cpu>",
    ),
    (
        "two.xml",
        "<cpu><arch>x86_64</arch><model>Haswell</model></cpu>\
         <cpu><arch>x86_64</arch><model>Nehalem</model><feature name='vmx'/></cpu>",
    ),
    (
        "same.xml",
        "<cpu><arch>x86_64</arch><model>Skylake-Client</model><feature name='vmx'/></cpu>\
         <cpu><arch>x86_64</arch><model>Skylake-Client</model><feature name='vmx'/></cpu>",
    ),
    (
        "far.xml",
        "<cpu><arch>x86_64</arch><model>486</model></cpu>\
         <cpu><arch>x86_64</arch><model>EPYC</model></cpu>",
    ),
    (
        "domain.xml",
        "<domain type='kvm'><name>d</name><cpu mode='custom' match='exact'>\
         <arch>x86_64</arch><model>Westmere</model><feature policy='require' name='aes'/>\
         </cpu></domain>",
    ),
    (
        "ppc.xml",
        "<cpu><arch>ppc64</arch><model>POWER8</model></cpu>",
    ),
    (
        "arm.xml",
        "<cpu><arch>aarch64</arch><model>cortex-a57</model></cpu>",
    ),
    ("noarch.xml", "<cpu><model>Haswell</model></cpu>"),
    ("nomodel.xml", "<cpu><arch>x86_64</arch></cpu>"),
    (
        "badmodel.xml",
        "<cpu><arch>x86_64</arch><model>Nosuch</model></cpu>",
    ),
    (
        "badfeature.xml",
        "<cpu><arch>x86_64</arch><model>Haswell</model><feature name='nosuch'/></cpu>",
    ),
    (
        "badvendor.xml",
        "<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Foo</vendor></cpu>",
    ),
    ("nocpu.xml", "<domain><name>x</name></domain>"),
    // Vendors: the decoding vendor is the first CPU's <vendor> or the next ones' (named or of
    // their model), printed only when every CPU names one; disagreeing ones are refused.
    (
        "intel-amd.xml",
        "<cpu><arch>x86_64</arch><model>Conroe</model></cpu>\
         <cpu><arch>x86_64</arch><model>EPYC-Rome</model></cpu>",
    ),
    (
        "amd-intel.xml",
        "<cpu><arch>x86_64</arch><model>EPYC-Rome</model></cpu>\
         <cpu><arch>x86_64</arch><model>Conroe</model></cpu>",
    ),
    (
        "disable.xml",
        "<cpu><arch>x86_64</arch><model>qemu64</model></cpu>\
         <cpu><arch>x86_64</arch><model>Conroe</model></cpu>",
    ),
    (
        "three.xml",
        "<cpu><arch>x86_64</arch><model>Conroe</model></cpu>\
         <cpu><arch>x86_64</arch><model>EPYC-Rome</model></cpu>\
         <cpu><arch>x86_64</arch><model>Haswell</model></cpu>",
    ),
    (
        "one-vendor.xml",
        "<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor></cpu>\
         <cpu><arch>x86_64</arch><model>qemu64</model></cpu>",
    ),
    (
        "both-vendors.xml",
        "<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor></cpu>\
         <cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor></cpu>",
    ),
    (
        "model-vendor.xml",
        "<cpu><arch>x86_64</arch><model>Haswell</model></cpu>\
         <cpu><arch>x86_64</arch><model>Nehalem</model><vendor>AMD</vendor></cpu>",
    ),
];

#[test]
fn cpu_and_host_memory_commands_match_virsh() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; CPU and host memory comparison skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in FILES {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    // The test driver's capabilities (a host CPU) and a domain of it, as virsh prints them.
    let caps = run(Path::new("virsh"), &["capabilities"]).0;
    std::fs::write(dir.path().join("caps.xml"), caps).expect("write caps");
    let f = |name: &str| dir.path().join(name).display().to_string();
    let mut commands: Vec<String> = [
        // cpu-models: the map's x86 and ppc64 lists, any-model architectures, errors.
        "cpu-models x86_64",
        "cpu-models i686",
        "cpu-models --arch ppc64le",
        "cpu-models aarch64",
        "cpu-models s390x",
        "cpu-models armv7l",
        "cpu-models arm",
        "cpu-models foo",
        "cpu-models riscv64",
        // freepages: one size of one cell, every cell, scaled sizes, argument errors.
        "freepages --cellno 0 --pagesize 4",
        "freepages --cellno 1 --pagesize 2M",
        "freepages --cellno -1 --pagesize 2048",
        "freepages --cellno 5 --pagesize 4",
        "freepages --all",
        "freepages --all --pagesize 1G",
        "freepages",
        "freepages --cellno 0",
        "freepages --pagesize 4",
        "freepages --cellno -2 --pagesize 4",
        "freepages --cellno x --pagesize 4",
        "freepages --cellno 0 --pagesize x",
        "freepages --cellno 0 --pagesize -1",
        "freepages --cellno 0 --pagesize 4294967296",
        "freepages --cellno 0 --pagesize 1Z",
        "freepages --all --cellno 0",
        // allocpages: the test driver lacks it; argument errors come first.
        "allocpages 2048 10",
        "allocpages --pagesize 2M --pagecount 10 --cellno 0 --add",
        "allocpages 2M 10 --all",
        "allocpages x 10",
        "allocpages 4 x",
        "allocpages 4 -1",
        "allocpages 4 10 --cellno x",
        "allocpages 4 10 --all --cellno 0",
        // node-memory-tune: unsupported read and write; bad values.
        "node-memory-tune",
        "node-memory-tune --shm-pages-to-scan 10",
        "node-memory-tune --shm-sleep-millisecs 20 --shm-merge-across-nodes 1",
        "node-memory-tune --shm-pages-to-scan -1",
        "node-memory-tune --shm-pages-to-scan 4294967296",
        "node-memory-tune --shm-sleep-millisecs x",
        // nodesuspend: unsupported; target and duration checks first.
        "nodesuspend mem 60",
        "nodesuspend --target disk --duration 120",
        "nodesuspend foo 60",
        "nodesuspend mem -1",
        "nodesuspend mem x",
        "nodesevinfo",
        // hypervisor-cpu-baseline's own argument rules.
        "hypervisor-cpu-baseline",
        "hypervisor-cpu-baseline --model Haswell",
        "hypervisor-cpu-baseline --model Haswell --arch x86_64 --virttype kvm",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (cmd, file) in [
        ("cpu-baseline", "extra.xml"),
        ("cpu-baseline --features", "extra.xml"),
        ("cpu-baseline", "plain.xml"),
        ("cpu-baseline --file", "plain.xml"),
        ("cpu-baseline", "amd.xml"),
        ("cpu-baseline --features", "amd.xml"),
        ("cpu-baseline", "two.xml"),
        ("cpu-baseline", "same.xml"),
        ("cpu-baseline --features", "same.xml"),
        ("cpu-baseline", "far.xml"),
        ("cpu-baseline", "domain.xml"),
        ("cpu-baseline", "caps.xml"),
        ("cpu-baseline", "ppc.xml"),
        ("cpu-baseline", "arm.xml"),
        ("cpu-baseline", "noarch.xml"),
        ("cpu-baseline", "nomodel.xml"),
        ("cpu-baseline", "badmodel.xml"),
        ("cpu-baseline", "badfeature.xml"),
        ("cpu-baseline", "badvendor.xml"),
        ("cpu-baseline", "nocpu.xml"),
        ("cpu-baseline", "missing.xml"),
        ("cpu-baseline --migratable", "extra.xml"),
        ("cpu-baseline", "intel-amd.xml"),
        ("cpu-baseline --features", "intel-amd.xml"),
        ("cpu-baseline", "amd-intel.xml"),
        ("cpu-baseline", "disable.xml"),
        ("cpu-baseline --features", "disable.xml"),
        ("cpu-baseline", "three.xml"),
        ("cpu-baseline", "one-vendor.xml"),
        ("cpu-baseline", "both-vendors.xml"),
        ("cpu-baseline", "model-vendor.xml"),
        ("cpu-compare", "extra.xml"),
        ("cpu-compare --error --validate", "plain.xml"),
        ("cpu-compare", "nocpu.xml"),
        ("cpu-compare", "missing.xml"),
        ("hypervisor-cpu-compare", "extra.xml"),
        (
            "hypervisor-cpu-compare --arch x86_64 --virttype kvm --error",
            "plain.xml",
        ),
        ("hypervisor-cpu-compare", "nocpu.xml"),
        ("hypervisor-cpu-baseline --file", "two.xml"),
        ("hypervisor-cpu-baseline --features --file", "plain.xml"),
        (
            "hypervisor-cpu-baseline --model Haswell --file",
            "plain.xml",
        ),
        ("hypervisor-cpu-baseline --file", "missing.xml"),
    ] {
        commands.push(format!("{cmd} {}", f(file)));
    }
    let ours = workspace_bin("virt");
    let mut failures = Vec::new();
    for ro in [false, true] {
        for c in &commands {
            let args: Vec<&str> = if ro {
                vec!["-r", c.as_str()]
            } else {
                vec![c.as_str()]
            };
            let theirs = run(Path::new("virsh"), &args);
            let mine = run(&ours, &args);
            if theirs != mine {
                failures.push(format!(
                    "command {args:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                    theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn cpu_models_lists_the_map_and_baseline_names_a_model_of_it() {
    // Our side alone, so that it runs without virsh: the x86 list is the map's, in its order,
    // and a baseline of one model keeps it.
    let ours = workspace_bin("virt");
    let (out, err, code) = run(&ours, &["cpu-models x86_64"]);
    assert_eq!(code, 0, "{err}");
    let models: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(models.first(), Some(&"486"), "{out}");
    assert!(
        models.contains(&"Haswell") && models.contains(&"EPYC"),
        "{out}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cpu.xml");
    std::fs::write(
        &file,
        "<cpu><arch>x86_64</arch><model>Nehalem</model><feature name='vmx'/></cpu>",
    )
    .expect("write");
    let cmd = format!("cpu-baseline {}", file.display());
    let (out, err, code) = run(&ours, &[cmd.as_str()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "<cpu mode='custom' match='exact'>\n  <model fallback='forbid'>Nehalem</model>\n  \
         <feature policy='require' name='vmx'/>\n</cpu>\n\n"
    );
}

#[test]
fn argument_errors_fail_before_any_call() {
    let ours = workspace_bin("virt");
    for args in [
        &["cpu-models"][..],
        &["cpu-models", "x86_64", "extra"],
        &["cpu-compare"],
        &["cpu-baseline", "--bogus", "f"],
        &["hypervisor-cpu-compare"],
        &["allocpages", "4"],
        &["nodesuspend", "mem"],
        &["nodesevinfo", "x"],
        &["freepages", "--cellno"],
    ] {
        let (out, err, code) = run(&ours, args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
}
