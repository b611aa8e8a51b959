//! Interruptions against the real control plane (see tests/support/cluster.rs): at random
//! moments (during creation included), for a user whose RBAC does not allow what the run needs,
//! and of a deploy that replaces a serving model. After each: nothing of the run is left, and
//! nothing that was there before it is gone. (An API server restart under a run is in
//! cluster_restart.rs: a test binary of its own, so that no other test runs while it is down.)

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

fn deploy(ns: &str, model: &str, uri: &str, delay: u32) -> String {
    format!("%%kaptain deploy --replace\nmodel:\n  id: {model}\n  framework: tensorflow\n  labels:\n    kaptain-sim/delay-seconds: \"{delay}\"\nmodel_uri: {uri}\nconfig:\n  namespace: {ns}\n")
}

fn isvc(ns: &str, name: &str) -> serde_json::Value {
    serde_json::from_str(&kubectl(&["-n", ns, "get", "inferenceservices.serving.kubeflow.org", name, "-o", "json"])).unwrap()
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the local control plane (scripts/test)"]
async fn a_replacing_deploy_replaces_only_kaptains_own_model_and_an_interrupt_puts_it_back() {
    let ns = namespace("replace");
    // Someone's own InferenceService, under the name kaptain would give model replace/me.
    let foreign = format!(
        "{{\"apiVersion\":\"serving.kubeflow.org/v1beta1\",\"kind\":\"InferenceService\",\"metadata\":{{\"name\":\"replace-me\",\"namespace\":\"{ns}\"}},\"spec\":{{\"predictor\":{{\"tensorflow\":{{\"storageUri\":\"s3://theirs/model\"}}}}}}}}"
    );
    let file = std::env::temp_dir().join(format!("kaptain-foreign-{}.json", std::process::id()));
    std::fs::write(&file, foreign).unwrap();
    kubectl(&["create", "-f", file.to_str().unwrap()]);
    std::fs::remove_file(&file).ok();
    let refused = run_cell(&deploy(&ns, "replace/me", "s3://kaptain/models/me/1", 1), "x1", None).await.expect_err("not kaptain's");
    assert!(refused.to_string().contains("cannot be replaced: kaptain did not make it"), "{refused}");
    assert_eq!(objects_of_run(&ns, "x1"), Vec::<String>::new(), "refused before anything is created");
    assert_eq!(isvc(&ns, "replace-me")["spec"]["predictor"]["tensorflow"]["storageUri"], "s3://theirs/model");
    kubectl(&["-n", &ns, "delete", "inferenceservices.serving.kubeflow.org", "replace-me"]);

    // Version 1 deployed by kaptain.
    let first = run_cell(&deploy(&ns, "replace/me", "s3://kaptain/models/me/1", 1), "v1", None).await.expect("deploys");
    assert_eq!(first.outcome, Outcome::Succeeded, "{}", first.message);
    // Another model whose name comes out the same is not this deployment.
    let other = run_cell(&deploy(&ns, "Replace_Me", "s3://kaptain/models/other/1", 1), "x2", None).await.expect_err("another model");
    assert!(other.to_string().contains("it serves model \"replace/me\", not \"Replace_Me\""), "{other}");

    // Version 2 interrupted while it rolls out: version 1 is put back, as it was.
    let before = isvc(&ns, "replace-me");
    let interrupted = run_cell(&deploy(&ns, "replace/me", "s3://kaptain/models/me/2", 30), "v2", Some(Duration::from_millis(2500))).await.expect("reports");
    assert_eq!(interrupted.outcome, Outcome::Interrupted);
    let cleanup = interrupted.cleanup.unwrap();
    assert_eq!(cleanup.restored.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["replace-me"], "{cleanup:?}");
    assert!(cleanup.remaining.is_empty(), "{cleanup:?}");
    let after = isvc(&ns, "replace-me");
    assert_eq!(after["spec"], before["spec"], "the spec of version 1");
    assert_eq!(after["metadata"]["labels"], before["metadata"]["labels"], "version 1's run owns it again");
    assert!(after["metadata"]["annotations"].get("kaptain.io/replaced").is_none(), "{after}");
    assert_eq!(objects_of_run(&ns, "v2"), Vec::<String>::new(), "what version 2 made is gone");

    // Version 3 succeeds: it is the deployment now, with nothing left to restore.
    let third = run_cell(&deploy(&ns, "replace/me", "s3://kaptain/models/me/3", 1), "v3", None).await.expect("replaces");
    assert_eq!(third.outcome, Outcome::Succeeded, "{}", third.message);
    let now = isvc(&ns, "replace-me");
    assert_eq!(now["spec"]["predictor"]["tensorflow"]["storageUri"], "s3://kaptain/models/me/3");
    assert_eq!(now["metadata"]["labels"]["kaptain.io/run-id"], "v3");
    assert!(now["metadata"]["labels"].get("kaptain.io/replacing").is_none() && now["metadata"]["annotations"].get("kaptain.io/replaced").is_none(), "{now}");

    // The same over KServe's group.
    let kserve = |uri: &str| deploy(&ns, "replace/kserve", uri, 1).replace("config:\n", "config:\n  serving_api: serving.kserve.io/v1beta1\n");
    for (run_id, uri) in [("w1", "s3://kaptain/models/kserve/1"), ("w2", "s3://kaptain/models/kserve/2")] {
        let report = run_cell(&kserve(uri), run_id, None).await.expect("deploys");
        assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.message);
    }
    let served: serde_json::Value = serde_json::from_str(&kubectl(&["-n", &ns, "get", "inferenceservices.serving.kserve.io", "replace-kserve", "-o", "json"])).unwrap();
    assert_eq!(served["metadata"]["labels"]["kaptain.io/run-id"], "w2");
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
