//! The per-container controller (in progress).

/// Runs the controller with its command-line arguments; returns the exit code.
pub fn main(_args: Vec<String>) -> i32 {
    eprintln!("virt-lxc-controller: not built yet");
    1
}
