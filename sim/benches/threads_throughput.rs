//! Multi-CPU throughput: the credit scenario on 1 and 2 host threads, against the same traffic through `crossbeam-channel`.
//!
//! The traffic is the lecture's credit scheme with direct addressing
//! (`scenarios/credit-direct.ipc`, N = 2 credits): the consumer hands the
//! producer two credits; the producer waits for a credit before each item;
//! the consumer returns a credit for each item it takes. Messages are
//! counted both ways (items and credits), as the kernel counts them
//! (`Stats::delivered`).
//!
//! Rows:
//! 1. ipclab, threaded driver (`ipclab run --threads --cpus 1`): bytecode VM,
//!    the kernel behind its one lock, the idle-CPU protocol;
//! 2. the same with `--cpus 2`;
//! 3. `crossbeam-channel`, two host threads (producer, consumer), two
//!    bounded channels (items, credits) of capacity 2, `u64` payloads: the
//!    same message pattern without a kernel, a VM or copies through user
//!    memory.
//!
//! Run with `cargo bench -p ipclab-sim --bench threads_throughput`
//! (`IPCLAB_BENCH_MESSAGES` sets the messages per run; each row is the best
//! of three runs). Chapter: `docs/concurrency.md`, "Throughput".

use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use ipclab_sim::threads::{run_threaded, ThreadOptions};

/// Credits the consumer hands out, as in `credit-direct.ipc`.
const CREDITS: usize = 2;

/// One measured run: messages moved and the wall time it took.
#[derive(Clone, Copy)]
struct Sample {
    messages: u64,
    time: Duration,
}

impl Sample {
    fn per_second(self) -> f64 {
        self.messages as f64 / self.time.as_secs_f64()
    }
}

fn best_of(runs: usize, mut f: impl FnMut() -> Sample) -> Sample {
    (0..runs)
        .map(|_| f())
        .max_by(|a, b| a.per_second().total_cmp(&b.per_second()))
        .expect("at least one run")
}

/// The credit scenario on `cpus` host threads until `messages` messages
/// (4 calls per item: recv credit, send item, recv item, send credit; with
/// `produce` and `consume`, 6 steps for the item's 2 messages).
fn ipclab_threaded(cpus: usize, messages: u64) -> Sample {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/credit-direct.ipc"
    );
    let source = std::fs::read(path).expect("scenarios/credit-direct.ipc");
    let program =
        ipclab_sim::lang::compile("credit-direct.ipc", &source, &[]).expect("scenario compiles");
    let start = Instant::now();
    let result = run_threaded(
        &program,
        ThreadOptions {
            cpus,
            max_steps: messages * 3,
            ..ThreadOptions::default()
        },
    )
    .expect("scenario boots");
    let time = start.elapsed();
    assert!(result.invariants.is_ok(), "{:?}", result.invariants);
    assert_eq!(result.verdict.keyword(), "runs");
    Sample {
        messages: result.stats.delivered,
        time,
    }
}

/// The same pattern through two bounded crossbeam channels on two threads.
fn crossbeam_two_threads(messages: u64) -> Sample {
    let items_wanted = messages / 2;
    let (item_tx, item_rx) = bounded::<u64>(CREDITS);
    let (credit_tx, credit_rx) = bounded::<u64>(CREDITS);
    let start = Instant::now();
    let moved = std::thread::scope(|scope| {
        scope.spawn(move || {
            for item in 0..items_wanted {
                credit_rx.recv().expect("consumer alive");
                item_tx.send(item).expect("consumer alive");
            }
        });
        let consumer = scope.spawn(move || {
            let mut moved = 0u64;
            for _ in 0..CREDITS {
                credit_tx.send(0).expect("producer alive");
            }
            for expected in 0..items_wanted {
                let item = item_rx.recv().expect("producer alive");
                assert_eq!(item, expected, "items arrive in order");
                moved += 1;
                // The last credits have no taker once the producer is done.
                if expected + (CREDITS as u64) < items_wanted {
                    credit_tx.send(0).expect("producer alive");
                    moved += 1;
                }
            }
            moved + CREDITS as u64
        });
        consumer.join().expect("consumer thread")
    });
    Sample {
        messages: moved,
        time: start.elapsed(),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; without it (`cargo test --benches`)
    // keep it short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let messages = std::env::var("IPCLAB_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 20_000 } else { 1_000_000 });
    let runs = if quick { 1 } else { 3 };
    let rows = [
        (
            "ipclab --threads --cpus 1",
            1,
            best_of(runs, || ipclab_threaded(1, messages)),
        ),
        (
            "ipclab --threads --cpus 2",
            2,
            best_of(runs, || ipclab_threaded(2, messages)),
        ),
        (
            "crossbeam-channel",
            2,
            best_of(runs, || crossbeam_two_threads(messages)),
        ),
    ];
    let host = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "credit scheme, {CREDITS} credits, ~{messages} messages (items + credits), best of {runs}, {host} host cores"
    );
    println!(
        "| {:<26} | {:>12} | {:>10} | {:>9} | {:>20} |",
        "what", "host threads", "messages", "time", "messages per second"
    );
    println!(
        "|{:-<28}|{:->14}|{:->12}|{:->11}|{:->22}|",
        "", "", "", "", ""
    );
    for (what, threads, sample) in rows {
        println!(
            "| {:<26} | {:>12} | {:>10} | {:>7.3} s | {:>20.0} |",
            what,
            threads,
            sample.messages,
            sample.time.as_secs_f64(),
            sample.per_second()
        );
    }
}
