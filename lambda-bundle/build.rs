//! Says where this crate's source is (`cargo:root`, which a crate depending on it reads as
//! `DEP_PRESIGN_STACK_PRESIGNER_ROOT`): presign-stack embeds that source, in its workspace and
//! from crates.io alike.

fn main() {
    println!(
        "cargo:root={}",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
    );
    println!("cargo:rerun-if-changed=build.rs");
}
