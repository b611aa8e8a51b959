//! A run whose API server goes away under it (tests/cluster/restart-apiserver), against the
//! real control plane (see tests/support/cluster.rs). A test binary of its own: cargo runs test
//! binaries one after another, so no other test meets the API server while it is down.

#[path = "support/cluster.rs"]
mod cluster;

use std::time::Duration;

use cluster::{kubectl, namespace, objects_of_run, run_cell};
use kaptain::lifecycle::Outcome;

fn cell(step: &str, ns: &str, model: &str, delay: u32) -> String {
    format!(
        "%%kaptain {step}\nmodel:\n  id: {model}\n  framework: tensorflow\n  main_file: t.py\n  image_name: registry.example.com/{model}\n  base_image: base:1\n  labels:\n    kaptain-sim/delay-seconds: \"{delay}\"\nconfig:\n  namespace: {ns}\n"
    )
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the local control plane (scripts/test)"]
async fn a_run_survives_an_api_server_restart_and_cleanup_still_completes() {
    let ns = namespace("restart");
    let restart = || {
        let script = format!("{}/tests/cluster/restart-apiserver", env!("CARGO_MANIFEST_DIR"));
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(3));
            let status = std::process::Command::new(script).arg("2").status().expect("restart script runs");
            assert!(status.success(), "the API server came back");
        })
    };
    // Followed to its end across the restart.
    let restarter = restart();
    let report = run_cell(&cell("train", &ns, "restart/followed", 10), "r1", None).await.expect("the run recovers");
    restarter.join().unwrap();
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.message);
    let left: Vec<String> = objects_of_run(&ns, "r1");
    assert_eq!(left.len(), 1, "only the TFJob is kept: {left:?}");

    // Interrupted while the API server is down: cleanup waits for it and completes.
    let restarter = restart();
    let report = run_cell(&cell("train", &ns, "restart/interrupted", 30), "r2", Some(Duration::from_millis(3500))).await.expect("reports");
    restarter.join().unwrap();
    assert_eq!(report.outcome, Outcome::Interrupted);
    assert!(report.cleanup.unwrap().remaining.is_empty());
    assert_eq!(objects_of_run(&ns, "r2"), Vec::<String>::new());
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

