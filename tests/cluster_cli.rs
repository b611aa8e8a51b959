//! The cluster commands of the CLI, as a user types them, against the local control plane
//! (see tests/support/cluster.rs): apply --wait, Ctrl-C during apply, runs, sweep, cleanup.

#[path = "support/cluster.rs"]
mod cluster;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cluster::{kubectl, namespace, objects_of_run, user_kubeconfig};

/// The CLI as the namespace's user (the ServiceAccount with the shipped Role).
fn kaptain(ns: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kaptain")).args(args).env("KUBECONFIG", user_kubeconfig(ns)).output().unwrap()
}

fn cell_file(ns: &str, model: &str, delay: u32) -> tempfile_path::Path {
    tempfile_path::write(&format!(
        "%%kaptain train --workers 1\nmodel:\n  id: {model}\n  framework: pytorch\n  main_file: t.py\n  image_name: registry.example.com/{model}\n  base_image: base:1\n  labels:\n    kaptain-sim/delay-seconds: \"{delay}\"\nconfig:\n  namespace: {ns}\n"
    ))
}

/// A cell file that removes itself.
mod tempfile_path {
    pub struct Path(pub std::path::PathBuf);
    impl Drop for Path {
        fn drop(&mut self) {
            std::fs::remove_file(&self.0).ok();
        }
    }
    pub fn write(text: &str) -> Path {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!("kaptain-cli-{}-{}.cell", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst)));
        std::fs::write(&path, text).unwrap();
        Path(path)
    }
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
#[ignore = "needs the local control plane (scripts/test)"]
fn apply_runs_sweep_and_cleanup_as_a_user_types_them() {
    let ns = namespace("cli");
    let cell = cell_file(&ns, "cli/model", 1);
    let path = cell.0.to_str().unwrap();

    let applied = kaptain(&ns, &["apply", path, "--run-id", "c1", "--wait"]);
    assert!(applied.status.success(), "{}", text(&applied));
    let out = text(&applied);
    for line in ["validated 4 objects", "created PyTorchJob/cli-model-c1", "deleted Job/cli-model-c1-build", "kept PyTorchJob/cli-model-c1", "run c1: succeeded (train)"] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }
    assert_eq!(objects_of_run(&ns, "c1"), vec!["pytorchjob.kubeflow.org/cli-model-c1"]);

    let listed = kaptain(&ns, &["runs", "-n", &ns, "--format", "json"]);
    let runs: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("runs --format json");
    assert_eq!(runs[0]["run_id"], "c1");
    assert_eq!(runs[0]["step"], "train");
    assert_eq!(runs[0]["status"], "Succeeded");
    let table = text(&kaptain(&ns, &["runs", "-n", &ns]));
    assert!(table.contains("c1") && table.contains("Succeeded"), "{table}");

    std::thread::sleep(Duration::from_secs(2));
    let dry = kaptain(&ns, &["sweep", "-n", &ns, "--older-than", "1s", "--dry-run"]);
    assert!(text(&dry).contains("would delete PyTorchJob/cli-model-c1"), "{}", text(&dry));
    assert_eq!(objects_of_run(&ns, "c1").len(), 1, "a dry run deletes nothing");
    let young = kaptain(&ns, &["sweep", "-n", &ns, "--older-than", "1h"]);
    assert!(text(&young).contains("deleted 0 objects"), "{}", text(&young));
    let swept = kaptain(&ns, &["sweep", "-n", &ns, "--older-than", "1s"]);
    assert!(swept.status.success(), "{}", text(&swept));
    assert_eq!(objects_of_run(&ns, "c1"), Vec::<String>::new());

    let again = kaptain(&ns, &["apply", path, "--run-id", "c2"]);
    assert!(again.status.success(), "{}", text(&again));
    let cleaned = kaptain(&ns, &["cleanup", "--run-id", "c2", "-n", &ns]);
    assert!(cleaned.status.success(), "{}", text(&cleaned));
    // The four objects of the run, and its build pod when the Job controller made it between
    // the delete and the check that follows (the garbage collector would have taken it too).
    let summary = text(&cleaned);
    assert!(summary.contains("run c2: 4 objects deleted") || summary.contains("run c2: 5 objects deleted"), "{summary}");
    assert_eq!(objects_of_run(&ns, "c2"), Vec::<String>::new());
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
#[ignore = "needs the local control plane (scripts/test)"]
fn sweep_counts_from_when_a_run_ended_and_only_touches_the_runs_asked_for() {
    let ns = namespace("sweepage");
    // Still training an hour from now: created long before the sweep's limit, not ended.
    let working = cell_file(&ns, "sweep/working", 3600);
    let started = kaptain(&ns, &["apply", working.0.to_str().unwrap(), "--run-id", "w1"]);
    assert!(started.status.success(), "{}", text(&started));
    // Started by a notebook server: not the command line's to sweep by default.
    let served = kaptain::ops::render(
        &std::fs::read_to_string(&cell_file(&ns, "sweep/served", 1).0).unwrap(),
        &kaptain::Options { notebook_server: Some("/user/alice/".into()), ..kaptain::Options::default() },
        &kaptain::identity::RunId::parse("a1").unwrap(),
    )
    .unwrap();
    for object in served.iter().filter(|m| m.kind.kind == "Secret" && m.name.ends_with("-context")) {
        let mut secret = object.object.clone();
        secret["data"] = serde_json::json!({"x": "eA=="});
        kubectl_apply(&ns, &secret);
    }
    std::thread::sleep(Duration::from_secs(3));
    let working_objects = || objects_of_run(&ns, "w1").into_iter().filter(|o| !o.starts_with("pod/")).collect::<Vec<_>>();
    assert_eq!(working_objects().len(), 4, "{:?}", working_objects());

    let swept = text(&kaptain(&ns, &["sweep", "-n", &ns, "--older-than", "1s"]));
    assert!(swept.contains("deleted 0 objects of runs started from the command line"), "{swept}");
    assert_eq!(working_objects().len(), 4, "a run whose job still works is never swept by age: {swept}");
    assert_eq!(objects_of_run(&ns, "a1").len(), 1, "another server's run is not the command line's: {swept}");

    let table = text(&kaptain(&ns, &["runs", "-n", &ns]));
    assert!(table.lines().any(|l| l.starts_with("a1 ") && l.ends_with("user.alice")), "{table}");
    let alice = text(&kaptain(&ns, &["sweep", "-n", &ns, "--older-than", "1s", "--notebook-server", "user.alice"]));
    assert!(alice.contains("deleted 1 objects of notebook server user.alice's runs"), "{alice}");
    assert_eq!(objects_of_run(&ns, "a1"), Vec::<String>::new());
    assert_eq!(working_objects().len(), 4);
    let everyone = text(&kaptain(&ns, &["sweep", "-n", &ns, "--older-than", "1s", "--all-servers"]));
    assert!(everyone.contains("deleted 0 objects"), "still working, whoever asks: {everyone}");
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

fn kubectl_apply(ns: &str, object: &serde_json::Value) {
    let file = tempfile_path::write(&object.to_string());
    kubectl(&["-n", ns, "create", "-f", file.0.to_str().unwrap()]);
}

#[test]
#[ignore = "needs the local control plane (scripts/test)"]
fn ctrl_c_during_apply_deletes_everything_of_the_run() {
    let ns = namespace("sigint");
    let cell = cell_file(&ns, "sigint/model", 60);
    let child = Command::new(env!("CARGO_BIN_EXE_kaptain"))
        .args(["apply", cell.0.to_str().unwrap(), "--run-id", "s1", "--wait"])
        .env("KUBECONFIG", user_kubeconfig(&ns))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the build is under way, then press Ctrl-C.
    for _ in 0..100 {
        if objects_of_run(&ns, "s1").iter().any(|o| o.starts_with("job.batch/")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(text(&out).contains("run s1 interrupted"), "{}", text(&out));
    assert_eq!(objects_of_run(&ns, "s1"), Vec::<String>::new());
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
#[ignore = "needs the local control plane (scripts/test)"]
fn a_missing_source_secret_is_named_with_the_command_that_creates_it() {
    let ns = namespace("nosecret");
    kubectl(&["-n", &ns, "delete", "secret", "kaptain-s3-credentials"]);
    let cell = cell_file(&ns, "no/secret", 1);
    let out = kaptain(&ns, &["apply", cell.0.to_str().unwrap(), "--run-id", "n1", "--wait"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let message = text(&out);
    assert!(message.contains(&format!("Secret \"kaptain-s3-credentials\" in namespace \"{ns}\" holding S3 credentials does not exist")), "{message}");
    assert!(message.contains("kubectl -n"), "{message}");
    assert_eq!(objects_of_run(&ns, "n1"), Vec::<String>::new());
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
