//! Interruptions against the real control plane (see tests/support/cluster.rs): at random
//! moments (during creation included), with the API server restarted under a run, and for a
//! user whose RBAC does not allow what the run needs. After each: nothing of the run is left.

#[path = "support/cluster.rs"]
mod cluster;

use std::time::{Duration, Instant, SystemTime};

use cluster::{eventually, knative_of, kubectl, namespace, objects_of_run, run_cell, run_cell_with};
use futures_util::stream::{self, StreamExt};
use kaptain::lifecycle::Outcome;

fn cell(step: &str, ns: &str, model: &str, delay: u32) -> String {
    let extra = match step {
        "tune" => "hyperparameters:\n  lr: {min: 0.01, max: 0.1}\nobjectives: [accuracy]\n",
        "deploy" => "model_uri: s3://kaptain/models/m/1\n",
        _ => "",
    };
    format!(
        "%%kaptain {step}\nmodel:\n  id: {model}\n  framework: tensorflow\n  main_file: t.py\n  image_name: registry.example.com/{model}\n  base_image: base:1\n  labels:\n    kaptain-sim/delay-seconds: \"{delay}\"\nconfig:\n  namespace: {ns}\n{extra}"
    )
}

/// A small deterministic generator; the seed is printed so a failure can be replayed with
/// KAPTAIN_TEST_SEED.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the local control plane (scripts/test)"]
async fn fifty_interruptions_at_random_moments_leave_nothing() {
    let seed = std::env::var("KAPTAIN_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    println!("KAPTAIN_TEST_SEED={seed}");
    let mut random = Lcg(seed);
    let ns = namespace("interrupts");
    let trials: Vec<(String, String, u64)> = (0..50)
        .map(|i| {
            let step = ["build", "train", "tune", "deploy"][random.next(4) as usize];
            // A third of the trials stop during creation (the first 300 ms), the rest later.
            let after = if i % 3 == 0 { random.next(300) } else { 300 + random.next(4000) };
            (step.to_string(), format!("i{i}"), after)
        })
        .collect();
    let results: Vec<_> = stream::iter(trials)
        .map(|(step, run_id, after)| {
            let ns = ns.clone();
            async move {
                let model = format!("int/{run_id}");
                let started = Instant::now();
                let report = run_cell(&cell(&step, &ns, &model, 20), &run_id, Some(Duration::from_millis(after))).await;
                (step, run_id, after, model, report, started.elapsed())
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut clean = 0;
    for (step, run_id, after, model, report, took) in results {
        let what = format!("{step} run {run_id} interrupted after {after} ms (seed {seed})");
        let report = report.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(report.outcome, Outcome::Interrupted, "{what}");
        let cleanup = report.cleanup.expect("an interrupted run reports its cleanup");
        assert!(cleanup.remaining.is_empty(), "{what}: {:?}", cleanup.remaining);
        // Checked right away: the engine confirmed the deletion before it returned.
        assert_eq!(objects_of_run(&ns, &run_id), Vec::<String>::new(), "{what} (took {took:?})");
        if step == "deploy" {
            let isvc = kaptain::identity::Names::new(&model, &kaptain::identity::RunId::parse(&run_id).unwrap()).inference_service();
            eventually(&what, || knative_of(&ns, &isvc), Vec::is_empty).await;
        }
        clean += 1;
    }
    assert_eq!(clean, 50);
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
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

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the local control plane (scripts/test)"]
async fn a_user_without_rbac_gets_the_verb_and_resource_and_nothing_is_left() {
    let ns = namespace("rbac");
    // A user who may handle Secrets but not Jobs.
    kubectl(&["-n", &ns, "create", "serviceaccount", "limited"]);
    kubectl(&["-n", &ns, "create", "role", "secrets-only", "--verb=get,list,create,delete,deletecollection", "--resource=secrets"]);
    kubectl(&["-n", &ns, "create", "rolebinding", "limited", "--role=secrets-only", &format!("--serviceaccount={ns}:limited")]);
    let token = kubectl(&["-n", &ns, "create", "token", "limited"]).trim().to_string();
    let server = kubectl(&["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]);
    let ca = kubectl(&["config", "view", "--minify", "--raw", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}"]);
    let kubeconfig = std::env::temp_dir().join(format!("kaptain-limited-{}.yaml", std::process::id()));
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: limited\n  user:\n    token: {token}\ncontexts:\n- name: limited\n  context: {{cluster: local, user: limited, namespace: {ns}}}\ncurrent-context: limited\n"
        ),
    )
    .unwrap();
    let (transport, _) = kaptain::native::NativeTransport::connect(kaptain::native::Target::Kubeconfig(&kubeconfig)).await.unwrap();
    let error = run_cell_with(kaptain::kube::Client::new(transport), &cell("train", &ns, "rbac/model", 1), "b1", None)
        .await
        .expect_err("the limited user may not create Jobs");
    let message = error.to_string();
    assert!(message.contains(&format!("you may not create jobs.batch in namespace \"{ns}\"")), "{message}");
    assert!(message.contains("ask a cluster admin for a Role"), "{message}");
    assert_eq!(objects_of_run(&ns, "b1"), Vec::<String>::new(), "a refused run leaves nothing");
    std::fs::remove_file(kubeconfig).ok();
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the local control plane (scripts/test)"]
async fn a_failure_half_way_deletes_what_was_created_and_says_so() {
    let ns = namespace("halfway");
    let run_id = "h1";
    let tfjob = kaptain::identity::Names::new("half/way", &kaptain::identity::RunId::parse(run_id).unwrap()).training_job();
    // Someone else takes the TFJob's name while the build runs: the create after the build fails.
    let squatter = format!(
        "{{\"apiVersion\":\"kubeflow.org/v1\",\"kind\":\"TFJob\",\"metadata\":{{\"name\":\"{tfjob}\",\"namespace\":\"{ns}\"}},\"spec\":{{\"tfReplicaSpecs\":{{\"Worker\":{{\"replicas\":1,\"template\":{{\"spec\":{{\"containers\":[{{\"name\":\"tensorflow\",\"image\":\"x\"}}]}}}}}}}}}}}}"
    );
    let manifest = std::env::temp_dir().join(format!("kaptain-squatter-{}.json", std::process::id()));
    std::fs::write(&manifest, squatter).unwrap();
    let path = manifest.to_string_lossy().to_string();
    let taker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        kubectl(&["create", "-f", &path]);
    });
    let error = run_cell(&cell("train", &ns, "half/way", 4), run_id, None).await.expect_err("the TFJob's name is taken");
    taker.join().unwrap();
    let message = error.to_string();
    assert!(message.contains("already exists"), "{message}");
    assert!(message.contains("nothing of the run is left: the 3 object(s) created before the failure were deleted"), "{message}");
    assert_eq!(objects_of_run(&ns, run_id), Vec::<String>::new());
    // What was not the run's stays.
    assert_eq!(kubectl(&["-n", &ns, "get", "tfjob", &tfjob, "-o", "name"]).trim(), format!("tfjob.kubeflow.org/{tfjob}"));
    std::fs::remove_file(manifest).ok();
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
