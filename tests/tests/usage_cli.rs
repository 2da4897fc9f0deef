//! Usage errors (unknown command or option, extra or missing arguments, an option twice, an
//! option without its value) against `virsh -c test:///default`: the same `error:` lines,
//! no blank line after them, exit status 1. Needs `virsh`; without it the test prints a
//! notice and passes, unless VIRT_REQUIRE_VIRSH is set.

use std::path::Path;
use std::time::Duration;

use virt_tests::workspace_bin;

#[test]
fn usage_errors_read_as_virshs() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; comparison skipped");
        return;
    }
    let commands = [
        "dominfo --domain",
        "dominfo test test2",
        "dominfo --domain a --domain b",
        "dominfo test --domain test",
        "foo",
        "dominfo --foo",
        "setmem test",
        "setmem",
        "setmem test abc def",
        "domstate test --reason --reason",
        "list --foo",
        "dominfo",
        "migrate test",
        "attach-device test",
        "vcpucount test --maximum --active x",
        "list --all; foo",
        "list --all; dominfo --foo",
        "qemu-attach",
        "domlaunchsecinfo",
    ];
    let ours = workspace_bin("virt");
    let mut failures = Vec::new();
    for c in commands {
        let theirs = virt_tests::virsh::run("test:///default", &[c]);
        let mine = virt_tests::virsh::run_bounded(
            Path::new(&ours),
            "test:///default",
            &[c],
            Duration::from_secs(60),
        )
        .unwrap_or_else(|| panic!("virt {c} hung"));
        assert_eq!(mine.2, 1, "{c}: a usage error exits with 1");
        if theirs != mine {
            failures.push(format!(
                "command {c:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
