//! Golden snapshots of the text timeline (and one JSON trace) of small inline scenarios.
//!
//! These pin output people read: review a changed `.snap` by eye before
//! accepting it (`INSTA_UPDATE=always cargo test -p ipclab-sim --test render_timeline`).

use ipclab_sim::lang;
use ipclab_sim::render::{self, RunSetup, TimelineOptions};
use ipclab_sim::runner::{self, RunOptions};

fn render(source: &str, options: RunOptions, timeline: TimelineOptions) -> String {
    let program = lang::compile("scenario.ipc", source.as_bytes(), &[])
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let result = runner::run(&program, options).unwrap();
    render::timeline(&program, &RunSetup { options }, &result, &timeline)
}

fn plain() -> TimelineOptions {
    TimelineOptions::default()
}

#[test]
fn direct_ping_pong_completes() {
    let text = render(
        "// Ping-pong with direct addressing
kernel { buffer_slots = 4; }
process Client { send(Server, 7); recv(Server, answer); print answer; }
process Server { recv(Client, request); send(Client, request + 1); }
expect completes;
",
        RunOptions::default(),
        plain(),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn full_mailboxes_deadlock_with_a_drawn_cycle() {
    let text = render(
        "// Both sides send first into mailboxes of capacity 1
kernel { buffer_slots = 8; }
mailbox prodMbox(capacity = 1);
mailbox consMbox(capacity = 1);
process Producer { loop { produce x; send(consMbox, x); send(consMbox, x); recv(prodMbox, c); } }
process Consumer { loop { send(prodMbox, 1); send(prodMbox, 1); recv(consMbox, x); consume x; } }
expect deadlock;
",
        RunOptions::default(),
        plain(),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn credits_through_mailboxes_elide_the_middle_of_a_long_run() {
    let text = render(
        "// Indirect addressing with credits
const N = 2;
kernel { buffer_slots = 8; }
mailbox prodMbox(capacity = 4);
mailbox consMbox(capacity = 4);
process Producer[2] { loop { produce item; recv(prodMbox, credit); send(consMbox, item); } }
process Consumer {
    repeat N { send(prodMbox, credit); }
    loop { recv(consMbox, item); send(prodMbox, credit); consume item; }
}
expect runs;
",
        RunOptions {
            max_steps: 60,
            ..RunOptions::default()
        },
        TimelineOptions {
            head: 14,
            tail: 4,
            ..plain()
        },
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_receiver_of_a_terminated_sender_is_blocked_forever() {
    let text = render(
        "// The sender exits before sending
kernel { policy = classic; }
process Sender { exit; }
process Receiver { recv(Sender, x); }
expect blocked_forever(Receiver);
",
        RunOptions::default(),
        plain(),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn five_processes_widen_the_table() {
    let text = render(
        "// Five workers report to one collector through a mailbox
mailbox results(capacity = 2);
process Worker[4] { send(results, index); }
process Collector { repeat 4 { recv(results, r); consume r; } }
expect completes;
",
        RunOptions::default(),
        plain(),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn json_trace_of_a_deadlock() {
    let source = "// Both receive first
process A { recv(B, x); send(B, x); }
process B { recv(A, x); send(A, x); }
expect deadlock;
";
    let program = lang::compile("deadlock.ipc", source.as_bytes(), &[]).unwrap();
    let options = RunOptions::default();
    let result = runner::run(&program, options).unwrap();
    insta::assert_snapshot!(render::json_lines(&program, &RunSetup { options }, &result));
}
