//! The lecture's MPI head-to-head exchange, answered by the checker: safe under the eager limit, a deadlock that replays above it, with eager limit 0 and with `MPI_Ssend`, and the eager-limit sweep.

use std::path::Path;

use ipclab_sim::check::{self, CheckOptions, Kind, Output, SweepKey, SweepValue};
use ipclab_sim::lang::{compile, Program};

fn source(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.ipc"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn program(name: &str) -> Program {
    compile(&format!("{name}.ipc"), &source(name), &[]).expect("compiles")
}

fn options(jobs: usize) -> CheckOptions {
    CheckOptions {
        output: Output::None,
        progress_bar: false,
        jobs,
        ..CheckOptions::default()
    }
}

/// A deadlock with a counterexample that replays to a deadlock, with one
/// worker (depth-first) and with two (level by level).
fn assert_deadlock_that_replays(name: &str) {
    let p = program(name);
    for jobs in [1, 2] {
        let r = check::check(&p, &options(jobs)).unwrap();
        assert!(r.bound.is_none(), "{name}: {r}");
        assert_eq!(r.answer(), "deadlock", "{name}: {r}");
        let f = r.finding(Kind::Deadlock).unwrap();
        assert_eq!(
            f.critical_step,
            Some(0),
            "{name}: doomed from the start\n{r}"
        );
        let text = f.schedule.to_string();
        let schedule = check::Schedule::parse(&text).expect("parses back");
        let run = check::replay(&p, &schedule, 1).expect("replays");
        assert_eq!(
            Kind::of(&run.verdict),
            Some(Kind::Deadlock),
            "{name}: replay of\n{text}\ngives {:?}",
            run.verdict
        );
    }
}

#[test]
fn head_to_head_sends_below_the_eager_limit_are_safe() {
    let p = program("mpi-exchange-eager");
    let one = check::check(&p, &options(1)).unwrap();
    assert!(one.is_proof_of_safety(), "{one}");
    let two = check::check(&p, &options(2)).unwrap();
    assert!(two.is_proof_of_safety(), "{two}");
    assert_eq!(one.stats.states, two.stats.states);
}

#[test]
fn head_to_head_sends_above_the_eager_limit_deadlock() {
    assert_deadlock_that_replays("mpi-exchange-large");
}

#[test]
fn head_to_head_sends_with_eager_limit_zero_deadlock() {
    assert_deadlock_that_replays("mpi-exchange-eager0");
}

#[test]
fn head_to_head_synchronous_sends_deadlock() {
    assert_deadlock_that_replays("mpi-exchange-ssend");
}

#[test]
fn the_fixes_are_safe() {
    for name in [
        "mpi-exchange-ordered",
        "mpi-exchange-isend",
        "mpi-exchange-bsend",
    ] {
        let r = check::check(&program(name), &options(2)).unwrap();
        assert!(r.is_proof_of_safety(), "{name}: {r}");
    }
}

/// Rank 0 relays whichever of ranks 1 and 2 it hears first to rank 3,
/// which wants 1: the assertion fails in some schedules at every eager
/// limit; with rendezvous sends (eager 0) the rank not heard waits forever
/// too.
const RELAY_FIRST_HEARD: &str = "kernel { eager_limit = 0; }\n\
    process Rank[4] {\n\
        let x = 0; let pool[2];\n\
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
        if rank == 0 {\n\
            MPI_Buffer_attach(pool, 16);\n\
            MPI_Recv(x, 1, MPI_INT, MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, &st);\n\
            MPI_Bsend(x, 1, MPI_INT, 3, 0, MPI_COMM_WORLD);\n\
        } else if rank == 3 {\n\
            MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
            assert x == 1;\n\
        } else {\n\
            x = rank;\n\
            let e = MPI_Send(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD);\n\
        }\n\
    }";

#[test]
fn a_sweep_row_shows_every_kind_of_violation_its_check_finds() {
    let single = check::check(
        &compile("relay.ipc", RELAY_FIRST_HEARD.as_bytes(), &[]).unwrap(),
        &options(1),
    )
    .unwrap();
    assert_eq!(
        single.answers(),
        "blocked_forever, assertion_failed",
        "{single}"
    );
    let report = check::sweep(
        RELAY_FIRST_HEARD.as_bytes(),
        "relay.ipc",
        &[],
        SweepKey::Eager,
        &[SweepValue::Value(0), SweepValue::Infinite],
        &options(1),
    )
    .unwrap();
    let table = report.to_string();
    assert!(
        table.contains("       0  blocked_forever, assertion_failed "),
        "{table}"
    );
    assert_eq!(
        report.summary,
        "blocked_forever, assertion_failed at 0; assertion_failed at inf (256 bytes)",
        "{table}"
    );
}

#[test]
fn the_eager_sweep_says_deadlock_only_below_the_message_size() {
    // The exchange sends WORDS = 8 words of 8 bytes: 64 bytes.
    let values: Vec<SweepValue> = [0, 8, 63, 64]
        .map(SweepValue::Value)
        .into_iter()
        .chain([SweepValue::Infinite])
        .collect();
    let report = check::sweep(
        &source("mpi-exchange-eager"),
        "mpi-exchange-eager.ipc",
        &[],
        SweepKey::Eager,
        &values,
        &options(2),
    )
    .unwrap();
    let answers: Vec<&str> = report
        .rows
        .iter()
        .map(|row| row.report.as_ref().map_or("error", |r| r.answer()))
        .collect();
    assert_eq!(
        answers,
        ["deadlock", "deadlock", "deadlock", "safe", "safe"],
        "{report}"
    );
    assert_eq!(
        report.summary,
        "deadlocks only when the eager limit is below 64 bytes, \
         of the settings checked (1 to 7, 9 to 62 and 65 to 255 not checked)",
        "{report}"
    );
}

#[test]
fn a_ping_pong_of_blocking_sends_repeats_its_states() {
    // Each round's blocking send used to take a new request generation, so
    // the space had 255 copies of the loop (782,368 states).
    let source = "process Rank[2] { MPI_Comm_rank(MPI_COMM_WORLD, &rank); loop {\n\
        if rank == 0 { MPI_Send(1, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
                       MPI_Recv(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &st); }\n\
        else { MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
               MPI_Send(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD); } } }";
    let program = compile("pp.ipc", source.as_bytes(), &[]).expect("compiles");
    let report = check::check(&program, &options(1)).expect("checks");
    assert!(report.is_proof_of_safety(), "{report}");
    assert!(report.stats.states < 1_000, "{report}");
}

#[test]
fn a_nonblocking_exchange_in_a_loop_repeats_its_states_and_is_proved() {
    // Each round's requests used to take new generations, so no round
    // came back to a state already seen: the search hit its bound.
    let source = "process Rank[2] { let out[1]; let in[1];\n\
        MPI_Comm_rank(MPI_COMM_WORLD, &rank); let other = 1 - rank; loop {\n\
        MPI_Irecv(in, 1, MPI_INT, other, 0, MPI_COMM_WORLD, &rreq);\n\
        MPI_Isend(out, 1, MPI_INT, other, 0, MPI_COMM_WORLD, &sreq);\n\
        MPI_Wait(&sreq, MPI_STATUS_IGNORE); MPI_Wait(&rreq, MPI_STATUS_IGNORE);\n\
        produce item; } }";
    let program = compile("nb.ipc", source.as_bytes(), &[]).expect("compiles");
    let options = CheckOptions {
        max_states: 100_000,
        ..options(1)
    };
    let report = check::check(&program, &options).expect("checks");
    assert!(report.is_proof_of_safety(), "{report}");
    assert!(report.stats.states < 2_000, "{report}");
}
