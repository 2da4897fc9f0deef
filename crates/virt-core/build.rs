//! Compiles proto/ with protox (pure Rust, no protoc on the build host) and generates the
//! prost messages and tonic clients and servers. The encoded descriptor set is kept for the
//! reflection service and for the test that checks the read-only allowlist against the schema.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "virt/v1/common.proto",
        "virt/v1/connect.proto",
        "virt/v1/domain.proto",
        "virt/v1/snapshot.proto",
        "virt/v1/stats.proto",
        "virt/v1/event.proto",
        "virt/v1/console.proto",
        "virt/v1/guest.proto",
        "virt/v1/network.proto",
        "virt/v1/storage.proto",
    ];
    let fds = protox::compile(files, [&proto_root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("virt_v1_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed={}", proto_root.display());
    Ok(())
}
