//! The `virt` binary: a virsh look-alike over virt-client. Everything lives in [`cli`].

mod cli;

fn main() {
    let status = cli::main();
    // Exit at once: a console session may leave a thread blocked reading stdin.
    std::process::exit(status);
}
