//! Runs the loom models (`tests/tests/loom_*.rs`) as part of `cargo test --workspace`.
//!
//! The models compile only with `--cfg loom`, which must reach every crate
//! of the build (the kernel's `sync` module swaps its primitives), so they
//! cannot run inside this build: this test runs
//! `cargo test -p ipclab-tests --release --test 'loom_*'` with
//! `RUSTFLAGS="--cfg loom"` in its own target directory (`target/loom`)
//! and asserts that it passes. Each model sets its own preemption bound
//! (`LOOM_MAX_PREEMPTIONS` overrides it); times are in docs/concurrency.md.
//! Set `IPCLAB_SKIP_LOOM=1` to skip (for a quick edit-test loop).

use std::path::Path;
use std::process::Command;

#[test]
fn the_loom_models_and_their_broken_variants_pass_under_cfg_loom() {
    if cfg!(loom) || std::env::var_os("IPCLAB_SKIP_LOOM").is_some() {
        return;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "test",
            "-p",
            "ipclab-tests",
            "--release",
            "--test",
            "loom_*",
        ])
        .env("RUSTFLAGS", "--cfg loom")
        .env("CARGO_TARGET_DIR", workspace.join("target").join("loom"))
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the loom models failed:\n{stdout}\n{stderr}"
    );
    let passed: usize = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(
        passed >= 12,
        "expected every loom model to run, got {passed}:\n{stdout}"
    );
}
