//! The item abstraction is used only where it is exact: a program whose assertions or branches read item values is checked with the real values.

use ipclab_sim::check::{self, CheckOptions, Kind, Output};
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

/// Per-pair FIFO: the consumer sees 1, 2, 3 in order, in every schedule.
const IN_ORDER: &str = "process P { repeat 3 { produce item; send(C, item); } }\n\
    process C {\n\
        let last = 0;\n\
        repeat 3 { recv(P, x); assert x == last + 1; last = x; consume x; }\n\
    }";

/// The third item fails the producer's assertion, in every schedule.
const THIRD_ITEM_FAILS: &str =
    "process P { repeat 3 { produce item; send(C, item); assert item < 3; } }\n\
    process C { repeat 3 { recv(P, x); consume x; } }";

#[test]
fn an_assertion_on_received_items_that_always_holds_is_proved() {
    let report = check::check(&program(IN_ORDER), &options()).expect("checks");
    assert!(report.is_proof_of_safety(), "{report}");
    assert!(report.exact_items);
    assert_eq!(report.items_exact_because, Some(4));
}

#[test]
fn an_assertion_that_fails_on_the_third_item_is_found() {
    let report = check::check(&program(THIRD_ITEM_FAILS), &options()).expect("checks");
    assert!(report.finding(Kind::AssertionFailed).is_some(), "{report}");
    assert_eq!(report.items_exact_because, Some(1));
}

#[test]
fn the_credit_scheme_keeps_the_abstraction_and_its_proof() {
    let source = "const N = 2;\n\
        process Producer { loop { produce item; recv(Consumer, credit); send(Consumer, item); } }\n\
        process Consumer { repeat N { send(Producer, 0); }\n\
            loop { recv(Producer, item); send(Producer, 0); consume item; } }";
    let report = check::check(&program(source), &options()).expect("checks");
    assert!(report.is_proof_of_safety(), "{report}");
    assert!(!report.exact_items);
    assert_eq!(report.items_exact_because, None);
}
