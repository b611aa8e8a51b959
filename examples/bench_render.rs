//! Render throughput of the native core: parses and renders every example cell in a loop.
//! Run: cargo run --profile release-native --example bench_render [-- SECONDS]

use std::time::{Duration, Instant};

use kaptain::identity::RunId;
use kaptain::{ops, Options};

const CELLS: [&str; 6] = [
    include_str!("cells/build.cell"),
    include_str!("cells/train.cell"),
    include_str!("cells/train-pytorch.cell"),
    include_str!("cells/tune.cell"),
    include_str!("cells/deploy.cell"),
    include_str!("cells/deploy-kserve.cell"),
];

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let run_id = RunId::parse("r1").expect("valid run id");
    let options = Options::default();
    let mut rendered = 0u64;
    let mut objects = 0usize;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs_f64(seconds) {
        for cell in CELLS {
            objects += ops::render(cell, &options, &run_id).expect("example cells render").len();
            rendered += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!("native render: {:.0} cells/s ({rendered} cells, {objects} objects in {elapsed:.2} s; the 6 example cells in turn, parse + validate + build, one thread)", rendered as f64 / elapsed);
}
