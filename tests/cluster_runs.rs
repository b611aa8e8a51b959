//! Runs against the real control plane (tests/cluster/up: kube-apiserver, etcd, the Job
//! controller and garbage collector, kube-scheduler, the upstream CRDs) with the real Kubeflow
//! training operator and Katib, kwok playing the Node and its pods, and the operator simulator,
//! a test double that stands in for KFServing/KServe and Knative. What is checked is what a user checks: the objects in the cluster, listed
//! by label with kubectl.
//!
//! Ignored by a plain `cargo test`: scripts/test starts the cluster and runs them with
//! KUBECONFIG and KUBECTL set.

#[path = "support/cluster.rs"]
mod cluster;

use std::time::Duration;

use cluster::{eventually, knative_of, kubectl, namespace, objects_of_run};
use futures_util::future::join_all;
use kaptain::engine::RunReport;
use kaptain::lifecycle::Outcome;

const MODEL: &str = "model:\n  id: test/MODEL_ID\n  framework: FRAMEWORK\n  main_file: trainer.py\n  image_name: registry.example.com/test/model\n  base_image: base:1\n  labels:\n    kaptain-sim/outcome: OUTCOME\n    kaptain-sim/build-outcome: BUILD\n    kaptain-sim/delay-seconds: \"DELAY\"\n";

struct Case {
    step: &'static str,
    framework: &'static str,
    extra: String,
}

fn cell(case: &Case, ns: &str, model_id: &str, outcome: &str, build: &str, delay: u32) -> String {
    let model = MODEL
        .replace("MODEL_ID", model_id)
        .replace("FRAMEWORK", case.framework)
        .replace("OUTCOME", outcome)
        .replace("BUILD", build)
        .replace("DELAY", &delay.to_string());
    format!("%%kaptain {}\n{model}config:\n  namespace: {ns}\n{}", case.step, case.extra)
}

async fn run(text: &str, run_id: &str, cancel_after: Option<Duration>) -> RunReport {
    cluster::run_cell(text, run_id, cancel_after).await.unwrap_or_else(|e| panic!("{e}"))
}

fn cases() -> Vec<Case> {
    let tune = "hyperparameters:\n  lr: {min: 0.01, max: 0.1}\nobjectives: [accuracy]\n";
    vec![
        Case { step: "build", framework: "tensorflow", extra: String::new() },
        Case { step: "train", framework: "tensorflow", extra: String::new() },
        Case { step: "train", framework: "pytorch", extra: String::new() },
        Case { step: "tune", framework: "tensorflow", extra: tune.into() },
        Case { step: "tune", framework: "pytorch", extra: tune.into() },
        Case { step: "deploy", framework: "tensorflow", extra: "model_uri: s3://kaptain/models/m/1\n".into() },
        Case { step: "deploy", framework: "pytorch", extra: "model_uri: s3://kaptain/models/m/1\nconfig_serving: kserve\n".into() },
    ]
}

/// Kinds expected to remain after the run, from DESIGN §1 (not from the code under test).
fn expected_kinds(step: &str, outcome: Outcome, build_failed: bool, switch: bool) -> Vec<&'static str> {
    match (step, outcome) {
        (_, Outcome::Interrupted) => vec![],
        (_, Outcome::Failed) if build_failed => vec!["job.batch", "pod", "secret", "secret"],
        ("build", _) => vec![],
        ("deploy", Outcome::Succeeded) if switch => vec!["inferenceservice", "secret", "serviceaccount"],
        ("deploy", Outcome::Succeeded) => vec!["inferenceservice"],
        ("deploy", Outcome::Failed) => vec!["inferenceservice", "secret", "serviceaccount"],
        ("train", _) if switch => vec![],
        ("train", _) => vec!["tfjob-or-pytorchjob"],
        ("tune", Outcome::Succeeded) if switch => vec![],
        ("tune", _) => vec!["experiment.kubeflow.org"],
        _ => unreachable!(),
    }
}

fn kinds_of(names: &[String]) -> Vec<String> {
    let mut kinds: Vec<String> = names
        .iter()
        .map(|n| {
            let kind = n.split('/').next().unwrap_or_default();
            match kind {
                "tfjob.kubeflow.org" | "pytorchjob.kubeflow.org" => "tfjob-or-pytorchjob".to_string(),
                k if k.starts_with("inferenceservice.") => "inferenceservice".to_string(),
                other => other.to_string(),
            }
        })
        .collect();
    kinds.sort();
    kinds
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the local control plane (scripts/test)"]
async fn every_step_outcome_and_switch_leaves_what_the_table_says() {
    let ns = namespace("lifecycle");
    let mut runs = Vec::new();
    let mut index = 0;
    for case in cases() {
        let switch_keyword = match case.step {
            "train" => Some("force_cleanup"),
            "tune" => Some("delete_experiment"),
            "deploy" => Some("keep_serving_credentials"),
            _ => None,
        };
        for switch in [false, true] {
            if switch && switch_keyword.is_none() {
                continue;
            }
            for (outcome, build_failed) in [(Outcome::Succeeded, false), (Outcome::Failed, false), (Outcome::Failed, true), (Outcome::Interrupted, false)] {
                // A build cell fails in its build; deploy has no build.
                if build_failed != (case.step == "build" && outcome == Outcome::Failed) && (case.step == "build" || case.step == "deploy") {
                    continue;
                }
                let (sim, build) = match (outcome, build_failed) {
                    (Outcome::Failed, true) => ("Succeeded", "Failed"),
                    (Outcome::Failed, false) => ("Failed", "Succeeded"),
                    _ => ("Succeeded", "Succeeded"),
                };
                index += 1;
                let model_id = format!("model-{index}");
                let mut text = cell(&case, &ns, &model_id, sim, build, if outcome == Outcome::Interrupted { 30 } else { 1 });
                if case.extra.contains("config_serving: kserve") {
                    text = text.replace("config_serving: kserve\n", "").replace("config:\n", "config:\n  serving_api: serving.kserve.io/v1beta1\n");
                }
                if switch {
                    text.push_str(&format!("{}: true\n", switch_keyword.unwrap()));
                }
                let run_id = format!("m{index}");
                let cancel = (outcome == Outcome::Interrupted).then_some(Duration::from_millis(2500));
                let expected = expected_kinds(case.step, outcome, build_failed, switch);
                runs.push(async move {
                    let report = run(&text, &run_id, cancel).await;
                    (case.step, case.framework, outcome, build_failed, switch, run_id, report, expected)
                });
            }
        }
    }
    let results = join_all(runs).await;
    for (step, framework, outcome, build_failed, switch, run_id, report, expected) in results {
        let what = format!("{step} {framework} {outcome:?} build_failed={build_failed} switch={switch} run {run_id}");
        assert_eq!(report.outcome, outcome, "{what}: {}", report.message);
        let left = eventually(&what, || objects_of_run(&ns, &run_id), |names| kinds_of(names) == expected).await;
        assert_eq!(kinds_of(&left), expected, "{what}");
        if step == "deploy" {
            let isvc = format!("test-model-{}", &run_id[1..]);
            let knative = eventually(&what, || knative_of(&ns, &isvc), |k| (outcome == Outcome::Interrupted) == k.is_empty()).await;
            assert_eq!(knative.is_empty(), outcome == Outcome::Interrupted, "{what}: Knative objects {knative:?}");
        }
    }
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

/// Each Experiment gets the suggestions of its own search space, however many ran before it
/// with others (Katib serves each from a service of its own; the test cluster's goptuna did
/// not, and the first search space answered every later Experiment, which then never got a
/// Trial).
#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the local control plane (scripts/test)"]
async fn tune_runs_with_different_search_spaces_each_get_their_trials() {
    let ns = namespace("spaces");
    let tune = Case { step: "tune", framework: "tensorflow", extra: String::new() };
    let spaces = [
        "hyperparameters:\n  alpha: {min: 0.1, max: 0.9}\nobjectives: [accuracy]\n",
        "hyperparameters:\n  beta: {min: 1, max: 5, step: 1}\n  solver: [adam, sgd]\nobjectives: [accuracy]\n",
    ];
    for (index, space) in spaces.into_iter().enumerate() {
        let text = format!("{}{space}", cell(&tune, &ns, &format!("space-{index}"), "Succeeded", "Succeeded", 1));
        let run_id = format!("s{index}");
        let report = run(&text, &run_id, None).await;
        // An Experiment succeeds only by its Trials: a goal reached or its trials run.
        assert_eq!(report.outcome, Outcome::Succeeded, "search space {index}: {}", report.message);
    }
    let trials = kubectl(&["get", "trials", "-n", &ns, "-o", "name"]);
    assert!(trials.lines().count() >= spaces.len(), "a Trial per Experiment at least: {trials}");
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

/// A train cell asking for more GPUs than any node has (the test Node has 8; the real
/// kube-scheduler decides) says the scheduler's reason within seconds, fails once stuck for
/// its `stuck_timeout`, well within a minute, and leaves what the table says for a failure:
/// the TFJob (force_cleanup is off); the build, which succeeded, is gone.
#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the local control plane (scripts/test)"]
async fn a_cell_asking_more_gpus_than_a_node_has_fails_fast_with_the_schedulers_reason() {
    let ns = namespace("gpus");
    let train = Case { step: "train", framework: "tensorflow", extra: String::new() };
    let text = cell(&train, &ns, "gpus", "Succeeded", "Succeeded", 1).replacen("%%kaptain train", "%%kaptain train --gpus 16 --stuck-timeout 15s", 1);
    let started = std::time::Instant::now();
    let (report, events) = cluster::run_cell_events(&text, "g1").await;
    let report = report.unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    assert_eq!((report.outcome, report.phase.as_str()), (Outcome::Failed, "train"), "{}", report.message);
    assert!(report.message.contains("Unschedulable") && report.message.contains("Insufficient nvidia.com/gpu"), "{}", report.message);
    assert!(took < Duration::from_secs(60), "failed after {took:?}");
    let said = events.iter().find_map(|e| match e {
        kaptain::engine::Event::Status { kind, state, message, .. } if kind.kind == "Pod" && state == "Unschedulable" => Some(message.clone()),
        _ => None,
    });
    assert!(said.as_deref().is_some_and(|m| m.contains("Insufficient nvidia.com/gpu")), "no Pod Unschedulable event: {events:?}");
    let left = eventually("the failed run's objects", || objects_of_run(&ns, "g1"), |names| kinds_of(names) == ["tfjob-or-pytorchjob"]).await;
    assert_eq!(kinds_of(&left), ["tfjob-or-pytorchjob"]);
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
