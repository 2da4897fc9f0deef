//! The tuning, vCPU and IOThread commands (issue 15, group "tune") against
//! `virsh -c test:///default` (libvirt 9.0's test driver): blkdeviotune, blkiotune, numatune,
//! domiftune, perf, setmaxmem, set-lifecycle-action, cpu-stats, vcpuinfo, vcpupin,
//! emulatorpin, iothreadinfo, iothreadpin, iothreadadd, iothreadset, iothreaddel, guestvcpus
//! and setvcpu. Standard output, standard error and exit status of the same command strings
//! must be equal, each string on a fresh connection (a `;` list shares one).
//!
//! Masked, because libvirt's test driver derives them from the clock: digit runs of nine or
//! more (dominfo's CPU time) and the value of vcpuinfo's `CPU time:` line (microseconds since
//! the epoch divided by ten, shown in seconds; it moves by 0.1 every 1000 s, so two runs may
//! straddle a step). Needs `virsh`; without it the comparison prints a notice and passes,
//! unless VIRT_REQUIRE_VIRSH is set. Argument errors that clap words are checked on our side
//! only, below.

use std::path::Path;
use std::process::Command;

use virt_tests::workspace_bin;

/// Digit runs of nine or more as `N`, and the value of `CPU time:` lines as `T`.
fn mask(s: &str) -> String {
    let lines: Vec<String> = s
        .split('\n')
        .map(|l| match l.strip_prefix("CPU time:") {
            Some(rest) if rest.trim_end().ends_with('s') => "CPU time: T".to_string(),
            _ => l.to_string(),
        })
        .collect();
    let s = lines.join("\n");
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
fn mask_hides_only_clock_values() {
    assert_eq!(
        mask("CPU time:       179658.8s\nCPU:            15\nCPU time:       1796587648.4s"),
        "CPU time: T\nCPU:            15\nCPU time: T"
    );
    assert_eq!(
        mask("cpu_time 48.772617035 seconds"),
        "cpu_time 48.N seconds"
    );
    assert_eq!(mask("CPU time        N/A"), "CPU time        N/A");
}

/// Compares every command string with virsh; returns the differences.
fn compare(prefix: &[&str], commands: &[&str]) -> Vec<String> {
    let ours = workspace_bin("virt");
    let mut failures = Vec::new();
    for c in commands {
        let args: Vec<&str> = prefix.iter().copied().chain([*c]).collect();
        let theirs = run(Path::new("virsh"), &args);
        let mine = run(&ours, &args);
        if theirs != mine {
            failures.push(format!(
                "command {args:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    failures
}

fn require_virsh(what: &str) -> bool {
    if virt_tests::virsh::available() {
        return true;
    }
    assert!(
        std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
        "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
    );
    eprintln!("notice: virsh not installed; {what} comparison skipped");
    false
}

#[test]
fn typed_parameter_commands_match_virsh() {
    if !require_virsh("blkiotune/numatune/domiftune/perf/blkdeviotune") {
        return;
    }
    let commands = [
        // blkiotune: read, set weight and device lists (merged by path), errors.
        "blkiotune test",
        "blkiotune --domain test",
        "blkiotune test --weight 500; blkiotune test --device-weights /dev/sda,300; blkiotune test; blkiotune test --config",
        "blkiotune test --weight abc",
        "blkiotune test --weight ' 5'",
        "blkiotune test --weight 0",
        "blkiotune test --device-read-iops-sec /dev/sda,10 --live; blkiotune test",
        "blkiotune test --device-weights /dev/sda",
        "blkiotune test --device-weights /dev/sda,abc",
        "blkiotune test --device-weights /dev/sda,10,/dev/sdb,20; blkiotune test",
        "blkiotune test --device-weights /dev/sda,10; blkiotune test --device-weights /dev/sda,0; blkiotune test",
        "blkiotune test --device-weights ''",
        "blkiotune test --live --config",
        "blkiotune test --weight 5 --live --config",
        "blkiotune test --weight 7 --config; blkiotune test --config; blkiotune test",
        "destroy test; blkiotune test --weight 5 --live",
        "destroy test; blkiotune test --weight 5; blkiotune test; start test; blkiotune test",
        "blkiotune nosuch",
        // numatune: modes by name and number, nodesets, the static-placement rule.
        "numatune test",
        "numatune test --mode interleave --nodeset 0-1; numatune test",
        "numatune test --nodeset 0 --live; numatune test",
        "numatune test --mode foo",
        "numatune test --mode 2 --config; numatune test --config",
        "numatune test --nodeset abc",
        "numatune test --nodeset ^0",
        "numatune test --mode preferred",
        "numatune test --mode restrictive --nodeset 0; numatune test",
        "numatune test --mode interleave --nodeset 0; numatune test --mode strict",
        "numatune test --mode 0x2 --nodeset 1; numatune test",
        "numatune test --mode -1",
        "numatune test --nodeset ''",
        "numatune test --live --config",
        "destroy test; numatune test --mode interleave; numatune test",
        "numatune nosuch --mode foo",
        // domiftune: by device name and MAC, rates, clearing, virsh's rate checks.
        "domiftune test vnet0",
        "domiftune test testnet0",
        "domiftune test aa:bb:cc:dd:ee:ff --inbound 100,200,300,400 --outbound 10; domiftune test testnet0",
        "domiftune test testnet0 --inbound 100; domiftune test testnet0 --inbound 0; domiftune test testnet0",
        "domiftune test testnet0 --inbound 1,,3; domiftune test testnet0",
        "domiftune test testnet0 --inbound 5 --config; domiftune test testnet0; domiftune test testnet0 --config",
        "domiftune test testnet0 --inbound abc",
        "domiftune test testnet0 --inbound -5",
        "domiftune test testnet0 --inbound ' 5'",
        "domiftune test testnet0 --inbound 0,1",
        "domiftune test testnet0 --inbound ,2",
        "domiftune test testnet0 --inbound 1,2,3,4,5",
        "domiftune test testnet0 --inbound 5000000000",
        "domiftune test testnet0 --outbound 1,2,3,4",
        "domiftune test testnet0 --outbound 0,1",
        "domiftune test testnet0 --outbound ,,,1",
        "domiftune test testnet0 --config",
        "domiftune test testnet0 --live --config",
        "domiftune test vnet9 --inbound 1",
        "domiftune nosuch vnet0 --inbound abc",
        // perf: every event, enable/disable lists and their errors.
        "perf test",
        "perf test --enable cmt,cpu_cycles; perf test --disable cmt; perf test",
        "perf test --enable cmt --config; perf test --config; perf test",
        "perf test --enable cmt,cpu_cycles --disable mbmt; dumpxml test; dumpxml test --inactive",
        "perf test --enable cmt --config; dumpxml test --inactive; destroy test; start test; perf test",
        "perf test --enable foo",
        "perf test --enable cmt,,cmt",
        "perf test --enable cmt --disable cmt",
        "perf test --enable ''",
        "perf test --live --config",
        "destroy test; perf test --live",
        "perf nosuch",
        // blkdeviotune: the 20 throttle fields, scaled rates, aliases, the test driver's rules.
        "blkdeviotune test vda",
        "blkdeviotune test /guest/diskimage1 --config",
        "blkdeviotune test hda",
        "blkdeviotune test vda --total-bytes-sec 100 --read-bytes-sec 5",
        "blkdeviotune test vda --total-bytes-sec 1M --group-name g1; blkdeviotune test vda",
        "blkdeviotune test vda --total-bytes-sec 10 --total-bytes-sec-max 5",
        "blkdeviotune test vda --total-bytes-sec 10 --total-bytes-sec-max 20 --group-name g; blkdeviotune test vda; blkdeviotune test vda --config",
        "blkdeviotune test vda --total_iops_sec 3 --total-iops-sec-max 3; blkdeviotune test vda",
        "blkdeviotune test vda --read-bytes-sec 2000000000000000 --read-bytes-sec-max 2000000000000000",
        "blkdeviotune test vda --total-bytes-sec abc",
        "blkdeviotune test vda --total-bytes-sec 1X",
        "blkdeviotune test vda --total-iops-sec 1k",
        "blkdeviotune test vda --group-name ''",
        "blkdeviotune test vda --live --config",
        "blkdeviotune nosuch vda",
        // The tunables as the domain XML shows them.
        "blkiotune test --weight 300 --device-weights /dev/sda,20 --device-read-bytes-sec /dev/sda,1000; dumpxml test",
        "numatune test --mode interleave --nodeset 0-1; dumpxml test",
        "domiftune test testnet0 --inbound 10,20,30,40 --outbound 5; dumpxml test",
        "blkdeviotune test vda --total-bytes-sec 10 --total-bytes-sec-max 20 --group-name g --size-iops-sec 5; dumpxml test",
    ];
    let failures = compare(&[], &commands);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn memory_lifecycle_and_cpu_stats_commands_match_virsh() {
    if !require_virsh("setmaxmem/set-lifecycle-action/cpu-stats") {
        return;
    }
    let commands = [
        // setmaxmem: refused while running, applied to the persistent definition.
        "setmaxmem test 2G",
        "setmaxmem test 1G --config; dumpxml test --inactive",
        "setmaxmem test 100G --config",
        "destroy test; setmaxmem test 1G; dominfo test",
        "destroy test; setmaxmem test 100G",
        "setmaxmem test abc",
        "setmaxmem test 1X",
        "setmaxmem nosuch abc",
        // set-lifecycle-action: types, actions, the coredump rule, live and config.
        "set-lifecycle-action test poweroff destroy",
        "set-lifecycle-action test crash coredump-restart; dumpxml test",
        "set-lifecycle-action test reboot preserve --config; dumpxml test --inactive; dumpxml test",
        "set-lifecycle-action test reboot destroy --live --config; dumpxml test; dumpxml test --inactive",
        "set-lifecycle-action test poweroff coredump-destroy",
        "set-lifecycle-action test foo destroy",
        "set-lifecycle-action test reboot foo",
        "set-lifecycle-action nosuch foo destroy",
        "set-lifecycle-action nosuch reboot destroy",
        "destroy test; set-lifecycle-action test poweroff restart --live",
        "destroy test; set-lifecycle-action test poweroff restart; dumpxml test",
        // cpu-stats: per CPU, totals, ranges and their errors.
        "cpu-stats test",
        "cpu-stats --domain test --total",
        "cpu-stats test --start 1",
        "cpu-stats test --start 1 --count 1",
        "cpu-stats test --start 1 --total",
        "cpu-stats test --count 1",
        "cpu-stats test --count 0",
        "cpu-stats test --count 5",
        "cpu-stats test --start 5",
        "cpu-stats test --start -1",
        "cpu-stats test --start abc",
        "cpu-stats test --count -2",
        "destroy test; cpu-stats test",
        "destroy test; cpu-stats test --total",
        "cpu-stats nosuch",
    ];
    let failures = compare(&[], &commands);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn vcpu_and_emulator_pinning_match_virsh() {
    if !require_virsh("vcpuinfo/vcpupin/emulatorpin") {
        return;
    }
    let commands = [
        "vcpuinfo test",
        "vcpuinfo test --pretty",
        "destroy test; vcpuinfo test",
        "destroy test; vcpuinfo test --pretty",
        "vcpuinfo nosuch",
        "vcpupin test",
        "vcpupin test 0 1-3; vcpupin test; vcpuinfo test; vcpuinfo test --pretty",
        "vcpupin test 1; vcpupin test --vcpu 0 --cpulist 2; vcpupin test",
        "vcpupin test 0 1 --current; vcpupin test 1 2; vcpupin test; vcpupin test --config",
        "vcpupin test 0 r; vcpupin test",
        "vcpupin test 0 1-3 --config",
        "vcpupin test 0 1 --live",
        "vcpupin test --config; vcpupin test --live",
        "vcpupin test 1 --config",
        "vcpupin test 5",
        "vcpupin test 5 1",
        "vcpupin test 0 9",
        "vcpupin test 0 abc",
        "vcpupin test 0 ''",
        "vcpupin test 0 ^1",
        "vcpupin test 0 1,^1",
        "vcpupin test abc 1",
        "vcpupin test -1 1",
        "vcpupin test --cpulist 2",
        "vcpupin test --live --config",
        "destroy test; vcpupin test; vcpupin test 0 1; vcpupin test --live; vcpuinfo test",
        "destroy test; vcpupin test 0 3 --config; vcpupin test",
        "vcpupin nosuch 0 99",
        "emulatorpin test",
        "emulatorpin test 2-3; emulatorpin test",
        "emulatorpin test 2-3 --config; emulatorpin test --config; emulatorpin test",
        "emulatorpin test r; emulatorpin test",
        "emulatorpin test 99",
        "emulatorpin test ^0",
        "emulatorpin test 0,^0",
        "emulatorpin test abc",
        "emulatorpin test ''",
        "emulatorpin test 1 --live --config; emulatorpin test --config",
        "emulatorpin test --live --config",
        "destroy test; emulatorpin test --live",
        "destroy test; emulatorpin test 1; emulatorpin test",
        "emulatorpin nosuch 99",
        "vcpupin test 0 1; emulatorpin test 2; iothreadadd test 3; iothreadpin test 3 1; dumpxml test",
    ];
    let failures = compare(&[], &commands);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn iothread_and_guest_vcpu_commands_match_virsh() {
    if !require_virsh("iothread*/guestvcpus/setvcpu") {
        return;
    }
    let commands = [
        "iothreadinfo test",
        "iothreadadd test 3",
        "iothreadadd test 2; iothreadadd test 4; iothreadinfo test; iothreadpin test 2 1-2; iothreadinfo test; iothreadinfo test --config",
        "iothreadadd test 4; iothreadadd test 2; iothreadinfo test; iothreaddel test 4; iothreadinfo test",
        "iothreadadd test 2; iothreadadd test 2",
        "iothreadadd test 2 --config; iothreadinfo test --config; iothreadinfo test",
        "iothreadadd test 2 --config; iothreadpin test 2 3 --config; iothreadinfo test --config",
        "iothreadadd test 3 --live --config; iothreadinfo test --config",
        "iothreadadd test ' 3'; iothreadinfo test",
        "iothreadadd test 0",
        "iothreadadd test -1",
        "iothreadadd test 5000000000",
        "iothreadadd nosuch 0",
        "iothreadpin test 1 0",
        "iothreadpin test abc 1",
        "iothreadadd test 1; iothreadpin test 1 ''",
        "iothreadadd test 2; iothreadpin test 2 9",
        "iothreadadd test 2; iothreadpin test 2 ^1",
        "iothreadadd test 1; iothreadpin test 1 0 --live --config",
        "iothreaddel test 1",
        "iothreaddel test 0",
        "iothreadadd test 2; iothreaddel test 2; iothreadinfo test",
        "iothreadadd test 2; iothreaddel test 2 --config",
        "iothreadset test 1 --poll-max-ns 10",
        "iothreadset test 1",
        "iothreadadd test 2; iothreadset test 2 --poll-max-ns 100; iothreadset test 2 --poll-grow 2 --poll-shrink 3",
        "iothreadadd test 2; iothreadset test 2 --poll-max-ns 5 --live",
        "iothreadadd test 2; iothreadset test 2 --thread-pool-min 1",
        "iothreadadd test 2; iothreadset test 2",
        "iothreadadd test 2; iothreadset test 2 --poll-max-ns -1",
        "iothreadadd test 2; iothreadset test 2 --poll-grow 4294967296",
        "iothreadadd test 2 --config; iothreadset test 2 --config --poll-max-ns 1",
        "iothreadset nosuch 1",
        "iothreadinfo test --config --live",
        "destroy test; iothreadadd test 2; iothreadinfo test; iothreadinfo test --live",
        "destroy test; iothreadadd test 2; iothreadset test 2 --poll-max-ns 5",
        "iothreadadd test 3 --config; iothreadadd test 5 --config; iothreaddel test 3 --config; dumpxml test --inactive",
        // Not implemented by libvirt's test driver: its unsupported-function error.
        "guestvcpus test",
        "guestvcpus test 1 --enable",
        "guestvcpus test 1",
        "guestvcpus test --enable",
        "guestvcpus test 1 --enable --disable",
        "guestvcpus test ''",
        "guestvcpus nosuch",
        "setvcpu test 1 --disable",
        "setvcpu test 1 --enable --config",
        "setvcpu test 1",
        "setvcpu test 1 --enable --disable",
        "setvcpu test '' --enable",
        "setvcpu nosuch 1 --enable",
    ];
    let failures = compare(&[], &commands);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn read_only_connections_allow_the_readers_only() {
    if !require_virsh("read-only tune") {
        return;
    }
    let commands = [
        "blkiotune test",
        "blkiotune test --weight 5",
        "numatune test",
        "numatune test --nodeset 0",
        "domiftune test testnet0",
        "domiftune test testnet0 --inbound 1",
        "blkdeviotune test vda",
        "blkdeviotune test vda --total-iops-sec 1",
        "perf test",
        "perf test --enable cmt",
        "setmaxmem test 1G --config",
        "set-lifecycle-action test crash destroy",
        "cpu-stats test",
        "vcpuinfo test",
        "vcpupin test",
        "vcpupin test 0 1 --current",
        "emulatorpin test",
        "emulatorpin test 1",
        "iothreadinfo test",
        "iothreadpin test 1 1",
        "iothreadadd test 1",
        "iothreadset test 1 --poll-grow 1",
        "iothreaddel test 1",
        "guestvcpus test",
        "guestvcpus test 1 --enable",
        "setvcpu test 1 --enable",
    ];
    let failures = compare(&["-r"], &commands);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn argument_errors_fail_before_any_call() {
    let ours = workspace_bin("virt");
    for args in [
        &["blkdeviotune", "test"][..],
        &["blkiotune"],
        &["numatune", "test", "--mode"],
        &["domiftune", "test"],
        &["perf", "test", "--bogus"],
        &["setmaxmem", "test"],
        &["set-lifecycle-action", "test", "crash"],
        &["cpu-stats", "test", "--total", "--total"],
        &["vcpuinfo", "test", "--config"],
        &["vcpupin", "test", "0", "1", "2"],
        &["emulatorpin"],
        &["iothreadpin", "test", "1"],
        &["iothreadadd", "test"],
        &["iothreadset", "test"],
        &["iothreaddel", "test"],
        &["setvcpu", "test"],
    ] {
        let (out, err, code) = run(&ours, args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
    // virsh pins without options through virDomainPinVcpu; the rpc is the Flags call, so the
    // read-only refusal names that one.
    let (_, err, code) = run(&ours, &["-r", "vcpupin test 0 1"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("read only access prevents virDomainPinVcpuFlags"),
        "{err}"
    );
}

/// The commands are listed by `virt help` in virsh's groups.
#[test]
fn help_lists_the_tune_commands() {
    let ours = workspace_bin("virt");
    let o = Command::new(&ours).arg("help").output().expect("run");
    let text = String::from_utf8_lossy(&o.stdout);
    for c in [
        "blkdeviotune",
        "blkiotune",
        "numatune",
        "domiftune",
        "perf",
        "setmaxmem",
        "set-lifecycle-action",
        "cpu-stats",
        "vcpuinfo",
        "vcpupin",
        "emulatorpin",
        "iothreadinfo",
        "iothreadpin",
        "iothreadadd",
        "iothreadset",
        "iothreaddel",
        "guestvcpus",
        "setvcpu",
    ] {
        assert!(
            text.lines().any(|l| l.split_whitespace().next() == Some(c)),
            "{c} missing from virt help:\n{text}"
        );
    }
}
