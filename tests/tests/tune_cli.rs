//! `virt memtune`, `schedinfo`, `domifstat`, `domblkstat` against `virsh -c test:///default`
//! (libvirt 9.0's test driver): standard output, standard error and exit status of the same
//! command strings, each on a fresh connection. The interface and block counters of libvirt's
//! test driver are derived from the clock, so runs of nine or more digits are compared as `N`.
//! Needs `virsh`; without it the test prints a notice and passes, unless VIRT_REQUIRE_VIRSH is
//! set. Argument errors that clap words (missing or unknown options) are checked on our side
//! only, below.

use std::path::Path;
use std::process::Command;

use virt_tests::workspace_bin;

/// Digit runs of nine or more (the clock-derived counters) as `N`.
fn mask(s: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 9 {
            out.push('N');
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

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
        mask(&String::from_utf8_lossy(&o.stdout)),
        mask(&String::from_utf8_lossy(&o.stderr)),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn mask_hides_only_long_numbers() {
    assert_eq!(
        mask("vda rd_req 179652650719805\nvda errs 898263253\nweight 50"),
        "vda rd_req N\nvda errs N\nweight 50"
    );
}

#[test]
fn tune_and_device_stats_commands_match_virsh() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; memtune/schedinfo/domifstat/domblkstat comparison skipped");
        return;
    }
    let ours = workspace_bin("virt");
    let commands = [
        // memtune: read, set, scaled sizes, unlimited, errors.
        "memtune test",
        "memtune --domain test",
        "memtune 1",
        "memtune test --config",
        "memtune test --current",
        "memtune test --hard-limit 100; memtune test",
        "memtune test --hard-limit 100 --soft-limit 200 --swap-hard-limit 300; memtune test",
        "memtune test --soft-limit 200 --hard-limit 100 --swap-hard-limit 50; memtune test",
        "memtune test --hard-limit 1G; memtune test",
        "memtune test --hard-limit 1000b; memtune test",
        "memtune test --hard-limit 0; memtune test",
        "memtune test --hard-limit 100; memtune test --hard-limit -1; memtune test",
        "memtune test --hard-limit 9007199254740991; memtune test",
        "memtune test --hard-limit 9007199254740992",
        "memtune test --hard-limit abc",
        "memtune test --hard-limit ''",
        "memtune test --hard-limit 1X",
        "memtune test --hard-limit 1.5",
        "memtune test --min-guarantee 5",
        "memtune test --min-guarantee abc",
        "memtune test --hard-limit 100 --config; memtune test --config; memtune test",
        "memtune test --hard-limit 100 --live --config; memtune test --config; memtune test",
        "memtune test --live --config",
        "memtune test --live --current",
        "memtune test --config --current",
        "memtune nosuch",
        "destroy test; memtune test; memtune test --live; memtune test --hard-limit 5; memtune test",
        // schedinfo: legacy and Flags calls, --set / --weight / --cap and their errors.
        "schedinfo test",
        "schedinfo --domain test",
        "schedinfo test --weight 20; schedinfo test",
        "schedinfo test --set weight=20",
        "schedinfo test weight=20",
        "schedinfo test --set weight=-1",
        "schedinfo test --set weight=4294967296",
        "schedinfo test --set weight=abc",
        "schedinfo test --weight abc",
        "schedinfo test --set weight",
        "schedinfo test --set =5",
        "schedinfo test --set foo=20",
        "schedinfo test --set foo=1 --weight x",
        "schedinfo test --cap 3",
        "schedinfo test --weight 4 --cap 3",
        "schedinfo test --weight 20 --set weight=30",
        "schedinfo test --set weight=5 --set weight=7",
        "schedinfo test --config",
        "schedinfo test --live",
        "schedinfo test --current",
        "schedinfo test --live --config",
        "schedinfo test --current --live",
        "schedinfo nosuch",
        "destroy test; schedinfo test",
        // domifstat: by device name and MAC, unknown, inactive.
        "domifstat test testnet0",
        "domifstat test aa:bb:cc:dd:ee:ff",
        "domifstat test AA:BB:CC:DD:EE:FF",
        "domifstat --domain test --interface testnet0",
        "domifstat test vnet0",
        "domifstat test 52:54:00:00:00:00",
        "domifstat nosuch vnet0",
        "destroy test; domifstat test testnet0",
        // domblkstat: by target and source, human, no device, unknown, inactive.
        "domblkstat test vda",
        "domblkstat test vda --human",
        "domblkstat test /guest/diskimage1",
        "domblkstat --domain test --device vda",
        "domblkstat test",
        "domblkstat test --human",
        "domblkstat test hda",
        "domblkstat nosuch vda",
        "destroy test; domblkstat test vda",
    ];
    let mut failures = Vec::new();
    for c in commands {
        let theirs = run(Path::new("virsh"), &[c]);
        let mine = run(&ours, &[c]);
        if theirs != mine {
            failures.push(format!(
                "command {c:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    // Read-only connections: the getters are allowed, the setters refused.
    for c in [
        "memtune test",
        "memtune test --hard-limit 5",
        "schedinfo test",
        "domifstat test testnet0",
        "domblkstat test vda",
    ] {
        let theirs = run(Path::new("virsh"), &["-r", c]);
        let mine = run(&ours, &["-r", c]);
        if theirs != mine {
            failures.push(format!(
                "command -r {c:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn argument_errors_fail_before_any_call() {
    let ours = workspace_bin("virt");
    for args in [
        &["memtune"][..],
        &["domifstat", "test"],
        &["domblkstat"],
        &["schedinfo"],
        &["memtune", "test", "--hard-limit"],
        &["memtune", "test", "--bogus"],
        &["domifstat", "test", "testnet0", "extra"],
        &["domblkstat", "test", "vda", "--human", "--human"],
    ] {
        let (out, err, code) = run(&ours, args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
    // The read-only refusal names the Flags API, the one the rpc is.
    let (_, err, code) = run(&ours, &["-r", "schedinfo test --set weight=1"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("read only access prevents virDomainSetSchedulerParametersFlags"),
        "{err}"
    );
}

/// `(Time: 0.123 ms)` with the figure as `T`.
fn untimed(s: &str) -> String {
    s.lines()
        .map(|l| {
            match l
                .strip_prefix("(Time: ")
                .and_then(|r| r.strip_suffix(" ms)"))
            {
                Some(ms) if ms.parse::<f64>().is_ok() => "(Time: T ms)".to_string(),
                _ => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `-t` prints each command's time after its output, as virsh's does (the figures differ).
#[test]
fn timing_follows_each_command_as_virsh_prints_it() {
    let ours = workspace_bin("virt");
    let (out, _, code) = run(&ours, &["-t", "domstate test; domid test"]);
    assert_eq!(code, 0);
    assert_eq!(
        untimed(&out),
        "running\n\n(Time: T ms)\n\n1\n\n(Time: T ms)\n"
    );
    if virt_tests::virsh::available() {
        let (theirs, _, _) = run(Path::new("virsh"), &["-t", "domstate test; domid test"]);
        assert_eq!(untimed(&out), untimed(&theirs));
    }
}
