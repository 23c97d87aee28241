//! Bounds and end states: `--max-depth N` finds what lies N steps away in every search order, and `--require-empty` flags a message that is never received.

use ipclab_sim::check::{self, CheckOptions, Kind, Output, SearchOrder};
use ipclab_sim::lang::{compile, Program};

fn program(source: &str) -> Program {
    compile("t.ipc", source.as_bytes(), &[]).expect("compiles")
}

fn options() -> CheckOptions {
    CheckOptions {
        output: Output::None,
        progress_bar: false,
        jobs: 1,
        ..CheckOptions::default()
    }
}

/// A ring of three receives: every schedule deadlocks after three steps.
const RING: &str = "process A { recv(C, x); send(B, 1); }\n\
    process B { recv(A, x); send(C, 1); }\n\
    process C { recv(B, x); send(A, 1); }";

#[test]
fn a_deadlock_exactly_max_depth_steps_away_is_found_in_every_order() {
    for (order, jobs) in [
        (SearchOrder::DepthFirst, 1),
        (SearchOrder::BreadthFirst, 1),
        (SearchOrder::BreadthFirst, 2),
    ] {
        let options = CheckOptions {
            order,
            jobs,
            max_depth: 3,
            ..options()
        };
        let report = check::check(&program(RING), &options).expect("checks");
        let deadlock = report.finding(Kind::Deadlock);
        assert!(deadlock.is_some(), "{order:?} x{jobs}: {report}");
        assert_eq!(deadlock.unwrap().schedule.prefix.len(), 3);
        assert_eq!(
            report.stats.max_depth, 3,
            "{order:?} x{jobs}: the farthest state is 3 steps away"
        );
        let shallower = CheckOptions {
            max_depth: 2,
            ..options
        };
        let report = check::check(&program(RING), &shallower).expect("checks");
        assert!(
            report.findings.is_empty() && report.bound.is_some(),
            "{report}"
        );
    }
}

#[test]
fn require_empty_flags_a_message_its_receiver_never_takes() {
    let direct = "process A { send(B, 1); send(B, 2); }\nprocess B { recv(A, x); }";
    let mailbox = "mailbox box(capacity = 4);\n\
        process A { send(box, 1); send(box, 2); }\nprocess B { recv(box, x); }";
    for source in [direct, mailbox] {
        let asked = CheckOptions {
            require_empty: true,
            ..options()
        };
        let report = check::check(&program(source), &asked).expect("checks");
        let finding = report.finding(Kind::NotEmpty).expect("a message is left");
        assert!(
            report.to_string().contains("1 message was still buffered"),
            "{report}"
        );
        let replayed = check::replay(&program(source), &finding.schedule, 1).expect("replays");
        assert_eq!(replayed.stats.undeliverable, 1);
        let not_asked = check::check(&program(source), &options()).expect("checks");
        assert!(not_asked.is_proof_of_safety(), "{not_asked}");
    }
    let all_taken = "process A { send(B, 1); send(B, 2); }\nprocess B { recv(A, x); recv(A, y); }";
    let asked = CheckOptions {
        require_empty: true,
        ..options()
    };
    assert!(check::check(&program(all_taken), &asked)
        .unwrap()
        .is_proof_of_safety());
}
