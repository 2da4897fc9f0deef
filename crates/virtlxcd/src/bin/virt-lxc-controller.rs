//! `virt-lxc-controller --plan PATH`: one container's controller (see `virtlxcd::controller`).

fn main() {
    std::process::exit(virtlxcd::controller::main(
        std::env::args().skip(1).collect(),
    ));
}
