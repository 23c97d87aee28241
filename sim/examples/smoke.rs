//! Smoke run of a scenario file: prints the verdict and the last steps.
fn main() {
    let path = std::env::args().nth(1).expect("file");
    let src = std::fs::read(&path).unwrap();
    let program = match ipclab_sim::lang::compile(&path, &src, &[]) {
        Ok(p) => p,
        Err(d) => {
            println!("{}", d.render(false));
            return;
        }
    };
    let r = ipclab_sim::runner::run(&program, ipclab_sim::runner::RunOptions::default()).unwrap();
    for s in r.trace.steps.iter().take(30) {
        println!("{} t{} ran {:?} {:?}", s.step, s.tick, s.ran, s.states);
        for e in &s.events {
            println!("      {:?}", e);
        }
    }
    for l in r.verdict.explain() {
        println!("{l}");
    }
    println!("{:?}", r.stats);
}
