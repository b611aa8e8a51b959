//! A clean, successful run of every example cell (examples/cells/*.cell) leaves no Warning
//! event in its namespace. Runs against the local control plane with the REAL components
//! that react to kaptain's objects (tests/cluster/up: the Job controller, kube-scheduler, kwok
//! playing the Node, the Kubeflow training operator, Katib), which report through events
//! what they think of an object: e.g. the training operator's SetPodTemplateRestartPolicy
//! when a replica's pod template sets its own restartPolicy. A Warning from a run that
//! succeeded is something kaptain asked for and should not have.
//!
//! Ignored by a plain `cargo test`: scripts/test starts the cluster and runs it with
//! KUBECONFIG and KUBECTL set.

#[path = "support/cluster.rs"]
mod cluster;

use std::path::Path;

use cluster::{kubectl, namespace};
use kaptain::lifecycle::Outcome;

/// The example cell, run in `ns` with the test labels that make the run succeed quickly
/// (kwok ends pods, and the simulator Knative, by them: tests/cluster/README.md).
fn labelled(text: &str, ns: &str) -> String {
    let mut out = String::new();
    let mut in_config = false;
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if line == "model:" {
            out.push_str("  labels:\n    kaptain-sim/outcome: Succeeded\n    kaptain-sim/delay-seconds: \"1\"\n");
        }
        if line == "config:" {
            out.push_str(&format!("  namespace: {ns}\n"));
            in_config = true;
        }
    }
    if !in_config {
        out.push_str(&format!("config:\n  namespace: {ns}\n"));
    }
    out
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the local control plane (scripts/test)"]
async fn a_clean_run_of_every_example_cell_leaves_no_warning_event() {
    let ns = namespace("warnings");
    // build.cell names a registry CA Secret, which a run copies.
    kubectl(&["-n", &ns, "create", "secret", "generic", "registry-ca", "--from-literal=ca.crt=not a certificate (test)"]);

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cells");
    let mut cells: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "cell")).collect();
    cells.sort();
    assert!(cells.len() >= 6, "example cells in {}: {cells:?}", dir.display());

    let mut failures = Vec::new();
    for (i, path) in cells.iter().enumerate() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = labelled(&std::fs::read_to_string(path).unwrap(), &ns);
        let run_id = format!("w{i}");
        match cluster::run_cell(&text, &run_id, None).await {
            Ok(report) if report.outcome == Outcome::Succeeded => {}
            Ok(report) => failures.push(format!("{name}: {:?}: {}", report.outcome, report.message)),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "example cells that did not succeed:\n{}", failures.join("\n"));

    // Events are written asynchronously by the components: give the last ones a moment.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let warnings = kubectl(&[
        "-n", &ns, "get", "events", "--field-selector", "type=Warning", "--no-headers",
        "-o", "custom-columns=REASON:.reason,KIND:.involvedObject.kind,NAME:.involvedObject.name,SOURCE:.source.component,COUNT:.count,MESSAGE:.message",
    ]);
    let (ignored, left): (Vec<&str>, Vec<&str>) = warnings.lines().filter(|l| !l.trim().is_empty()).partition(|l| is_katib_cache_race(l));
    if !ignored.is_empty() {
        eprintln!("ignored, Katib's reconcile races it retried:\n{}", ignored.join("\n"));
    }
    assert!(left.is_empty(), "Warning events from clean runs of the example cells in {ns}:\n{}", left.join("\n"));
}

/// Katib v0.19's controllers report every failed reconcile as a Warning `ReconcileError`, also
/// when the cause is a race between their informer cache and the API on an object Katib itself
/// creates for the Experiment (its Suggestion, Trials, the Trials' TFJobs/PyTorchJobs): "already
/// exists" (created again before the cache saw it), "not found" (not in the cache yet), "the
/// object has been modified" (a write conflict). They retry at once and the run succeeds; seen
/// in about two runs in three here, they say nothing about what kaptain asked for. Only those
/// cases are let through; any other ReconcileError (say, a trial template Katib cannot use)
/// fails the test.
fn is_katib_cache_race(line: &str) -> bool {
    let katibs_own = ["suggestions.kubeflow.org \"", "trials.kubeflow.org \"", "tfjobs.kubeflow.org \"", "pytorchjobs.kubeflow.org \""];
    let race = ["\" already exists", "\" not found", "the object has been modified; please apply your changes to the latest version and try again"];
    line.starts_with("ReconcileError ") && katibs_own.iter().any(|k| line.contains(k)) && race.iter().any(|r| line.contains(r))
}
