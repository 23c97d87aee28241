//! Temporary profiling driver (not committed).
use ipclab_sim::runner::{self, RunOptions};
fn main() {
    let src = std::fs::read("/tmp/c1.ipc").unwrap();
    let program = ipclab_sim::lang::compile("c1.ipc", &src, &[]).unwrap();
    let options = RunOptions {
        max_steps: 200_000,
        max_ticks: u64::MAX,
        record: false,
        ..RunOptions::default()
    };
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(100);
    let mut calls = 0;
    let t = std::time::Instant::now();
    for _ in 0..n {
        calls += runner::run(&program, options).unwrap().stats.syscalls;
    }
    let e = t.elapsed().as_secs_f64();
    println!(
        "{} calls, {:.1} M/s, {:.1} ns/call",
        calls,
        calls as f64 / e / 1e6,
        e * 1e9 / calls as f64
    );
}
