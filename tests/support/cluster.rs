//! Shared by the tests that run against the local control plane (tests/cluster/up).
// Each test crate that includes this file uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use kaptain::engine::{Engine, EngineError, RunReport};
use kaptain::identity::RunId;
use kaptain::kube::Client;
use kaptain::native::{NativeTransport, Target};
use kaptain::{ops, Options};

const NEEDS_CLUSTER: &str = "needs the local control plane: run scripts/test (or tests/cluster/up and export KUBECONFIG, KUBECTL)";

/// The admin's kubeconfig: what the tests set up and check with (kubectl), never what kaptain
/// runs as.
pub fn kubeconfig() -> PathBuf {
    std::env::var_os("KUBECONFIG").map(PathBuf::from).expect(NEEDS_CLUSTER)
}

/// What kaptain runs as in a test namespace: the ServiceAccount `kaptain-user` bound to the Role
/// the project ships (deploy/rbac.yaml), as a notebook server in a Kubeflow profile has it;
/// made by [`namespace`] with tests/cluster/service-account. A verb the product needs and the
/// Role lacks fails the test.
pub fn user_kubeconfig(ns: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kaptain-user-{ns}.kubeconfig"))
}

pub fn kubectl(args: &[&str]) -> String {
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| format!("{}/tests/cluster/.build/bin/kubectl", env!("CARGO_MANIFEST_DIR")));
    let out = Command::new(kubectl).args(args).env("KUBECONFIG", kubeconfig()).output().expect("kubectl runs");
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh namespace with the source Secrets a run copies its credentials from, and the user
/// kaptain runs as there ([`user_kubeconfig`]).
pub fn namespace(name: &str) -> String {
    let ns = format!("{name}-{}", std::process::id() % 100_000);
    let _ = Command::new(std::env::var("KUBECTL").unwrap_or_default()).args(["delete", "ns", &ns, "--wait=false"]).env("KUBECONFIG", kubeconfig()).output();
    kubectl(&["create", "namespace", &ns]);
    // As a Kubeflow profile's namespace has it: Katib accepts Experiments only there.
    kubectl(&["label", "namespace", &ns, "katib.kubeflow.org/metrics-collector-injection=enabled"]);
    kubectl(&["-n", &ns, "create", "secret", "docker-registry", "kaptain-registry-credentials", "--docker-server=registry.example.com", "--docker-username=u", "--docker-password=seeded-registry-password"]);
    kubectl(&["-n", &ns, "create", "secret", "generic", "kaptain-s3-credentials", "--from-literal=AWS_ACCESS_KEY_ID=seeded-access-key", "--from-literal=AWS_SECRET_ACCESS_KEY=seeded-secret-key"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cluster/service-account");
    let out = Command::new(script).args([&ns, "kaptain-user"]).arg(user_kubeconfig(&ns)).env("KUBECONFIG", kubeconfig()).output().expect("service-account runs");
    assert!(out.status.success(), "tests/cluster/service-account: {}", String::from_utf8_lossy(&out.stderr));
    ns
}

/// Every object of a run, across every kind a run creates (and the build's pods), by label.
/// The pods of a training job (and of its trials) carry the run's labels too, copied from the
/// template by the training operator; they are the operator's, kept and removed with their job,
/// so only the build Job's pods (labelled with their Job's name by the Job controller) count.
pub fn objects_of_run(ns: &str, run_id: &str) -> Vec<String> {
    let kinds = "secrets,serviceaccounts,jobs.batch,tfjobs.kubeflow.org,pytorchjobs.kubeflow.org,experiments.kubeflow.org,inferenceservices.serving.kubeflow.org,inferenceservices.serving.kserve.io";
    let selector = format!("kaptain.io/run-id={run_id}");
    let out = kubectl(&["-n", ns, "get", kinds, "-l", &selector, "-o", "name"]);
    let pods = kubectl(&["-n", ns, "get", "pods", "-l", &format!("{selector},batch.kubernetes.io/job-name"), "-o", "name"]);
    let mut names: Vec<String> = out.lines().chain(pods.lines()).map(String::from).collect();
    names.sort();
    names
}

/// Knative objects KFServing (here: the simulator) made for an InferenceService.
pub fn knative_of(ns: &str, isvc: &str) -> Vec<String> {
    let mut found = Vec::new();
    for group in ["serving.kubeflow.org", "serving.kserve.io"] {
        let out = kubectl(&["-n", ns, "get", "services.serving.knative.dev,configurations.serving.knative.dev,routes.serving.knative.dev,revisions.serving.knative.dev", "-l", &format!("{group}/inferenceservice={isvc}"), "-o", "name"]);
        found.extend(out.lines().map(String::from));
    }
    found
}

/// Waits (bounded) until `check` holds: the garbage collector works in the background.
pub async fn eventually<T: std::fmt::Debug>(what: &str, mut probe: impl FnMut() -> T, check: impl Fn(&T) -> bool) -> T {
    let started = Instant::now();
    loop {
        let value = probe();
        if check(&value) || started.elapsed() > Duration::from_secs(45) {
            assert!(check(&value), "{what}: still {value:?} after 45 s");
            return value;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A client acting as the namespace's user (see [`user_kubeconfig`]).
pub async fn client(ns: &str) -> Client<NativeTransport> {
    let path = user_kubeconfig(ns);
    let (transport, _) = NativeTransport::connect(Target::Kubeconfig(&path)).await.expect("connects");
    Client::new(transport)
}


/// Runs a cell to its outcome with the engine; `cancel_after` interrupts it (as Ctrl-C or a
/// kernel interrupt would) after that long.
/// The cell runs as the user of its `config.namespace`.
pub async fn run_cell(text: &str, run_id: &str, cancel_after: Option<Duration>) -> Result<RunReport, EngineError> {
    let ns = ops::parse(text, &Options::default()).unwrap_or_else(|e| panic!("{e}\n{text}")).config.namespace;
    run_cell_with(client(&ns).await, text, run_id, cancel_after).await
}

pub async fn run_cell_with(client: Client<NativeTransport>, text: &str, run_id: &str, cancel_after: Option<Duration>) -> Result<RunReport, EngineError> {
    let cancel = async move {
        match cancel_after {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
    };
    engine_run(&client, text, run_id, cancel, &mut |_| {}).await
}

async fn engine_run(
    client: &Client<NativeTransport>,
    text: &str,
    run_id: &str,
    cancel: impl std::future::Future<Output = ()>,
    events: &mut dyn FnMut(kaptain::engine::Event),
) -> Result<RunReport, EngineError> {
    let run_id = RunId::parse(run_id).unwrap();
    let (cell, identity, objects) = ops::prepare(text, &Options::default(), &run_id).unwrap_or_else(|e| panic!("{e}\n{text}"));
    Engine::new(client, &cell, &identity, events).run(objects, true, cancel).await
}

/// Runs a cell to its outcome (as the user of its namespace) and keeps the events it emitted.
pub async fn run_cell_events(text: &str, run_id: &str) -> (Result<RunReport, EngineError>, Vec<kaptain::engine::Event>) {
    let ns = ops::parse(text, &Options::default()).unwrap_or_else(|e| panic!("{e}\n{text}")).config.namespace;
    let mut events = Vec::new();
    let report = engine_run(&client(&ns).await, text, run_id, std::future::pending(), &mut |event| events.push(event)).await;
    (report, events)
}
