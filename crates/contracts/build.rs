//! Compiles `proto/im/v1/*.proto` with protox (pure Rust), so no `protoc` is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not with `env!`: the compiled build script may be shared by
    // several checkouts through one target directory, and must read *this* one's protos.
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let dir = root.join("im/v1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    files.sort();
    // Relative paths: Cargo resolves them against this package, so a build directory
    // shared by several clones (CI's persistent target) never trusts another clone's
    // protos.
    println!("cargo:rerun-if-changed=../../proto/im/v1");
    for file in &files {
        if let Some(name) = file.file_name() {
            println!(
                "cargo:rerun-if-changed=../../proto/im/v1/{}",
                name.to_string_lossy()
            );
        }
    }

    let descriptors = protox::compile(&files, [&root])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
