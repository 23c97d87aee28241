//! Build script: bundles every `scenarios/*.ipc` file into the binary as an `include_str!` table.
//!
//! Generates `$OUT_DIR/bundled_scenarios.rs`, a sorted `&[(name, source)]`
//! that `src/bundled.rs` includes. A file that is not UTF-8 is skipped with a
//! warning rather than failing the build.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dir = manifest.join("..").join("scenarios");
    println!("cargo:rerun-if-changed=../scenarios");
    println!("cargo:rerun-if-changed=build.rs");

    let mut found: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("ipc") || !path.is_file() {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if !is_valid_scenario(&path) {
                println!("cargo:warning=scenarios/{stem}.ipc is not UTF-8 text; not bundled");
                continue;
            }
            found.push((stem.to_string(), path));
        }
    }
    found.sort();

    let mut table = String::from(
        "/// Every bundled scenario: (name without `.ipc`, source), sorted by name.\n\
         pub static SCENARIOS: &[(&str, &str)] = &[\n",
    );
    for (name, path) in &found {
        let absolute = path.canonicalize().unwrap_or_else(|_| path.clone());
        let _ = writeln!(
            table,
            "    ({name:?}, include_str!({:?})),",
            absolute.display().to_string()
        );
    }
    table.push_str("];\n");

    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::write(out.join("bundled_scenarios.rs"), table) {
        panic!("cannot write the bundled scenario table: {e}");
    }
}

fn is_valid_scenario(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| std::str::from_utf8(&bytes).is_ok())
}
