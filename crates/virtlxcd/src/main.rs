//! The `virtlxcd` daemon (in progress).

fn main() {
    eprintln!("virtlxcd: not built yet");
    std::process::exit(1);
}
