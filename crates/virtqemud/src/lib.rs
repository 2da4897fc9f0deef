//! virtqemud: will hold the QEMU/KVM driver (domain XML to a qemu-system command line, QMP, guests that outlive the daemon, stats, events, console) and its daemon binary, on the shared virt-core runtime.
//!
//! Nothing lives here yet: the driver arrives with its own issue. This crate exists so the
//! workspace has its final shape and the other crates can name it.
