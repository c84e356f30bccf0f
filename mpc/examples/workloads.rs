//! Runs W1-W5 in memory and prints one JSON object per workload.
//! Usage: `cargo run --release -p hdg-mpc --example workloads -- [n] [repeats] [W1,W4,...]`
//! (defaults 1000000, 3 and all; the median wall time of the repeats is reported).

use hdg_mpc::workloads::{Workload, run_workload};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(1_000_000, |a| a.parse().expect("n"));
    let repeats: usize = args.next().map_or(3, |a| a.parse().expect("repeats"));
    let only: Vec<Workload> = args.next().map_or(Workload::ALL.to_vec(), |a| {
        a.split(',')
            .map(|w| w.parse().expect("workload name"))
            .collect()
    });
    for w in only {
        let mut runs: Vec<_> = (0..repeats.max(1)).map(|_| run_workload(w, n)).collect();
        runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let median = runs.swap_remove(runs.len() / 2);
        println!(
            "{}",
            serde_json::to_string(&median).expect("report serialises")
        );
    }
}
