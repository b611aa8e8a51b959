//! What the JupyterLab panel does, natively against the local control plane (tests/cluster/up,
//! with the real training operator and Katib, and the operator simulator, a test double for
//! serving): a run another process
//! started is resumed, its objects shown (Secret values hidden), its Revisions pruned, and an
//! orphan swept by run id. The same engine calls are behind the wasm exports.
//!
//! Ignored by a plain `cargo test`: scripts/test starts the cluster and runs them with
//! KUBECONFIG and KUBECTL set.

#[path = "support/cluster.rs"]
mod cluster;

use cluster::{eventually, kubectl, namespace, objects_of_run};
use kaptain::engine::objects::{self, ObjectError};
use kaptain::engine::runs::{self, SweepSelection, Whose};
use kaptain::engine::{serving, Engine, Event};
use kaptain::identity::RunId;
use kaptain::lifecycle::Outcome;
use kaptain::{ops, Options};

/// The notebook server the panel runs in (its base URL, as a Kubeflow notebook has it).
const SERVER: &str = "/notebook/team/panel/";

fn train(ns: &str, delay: u32) -> String {
    format!("%%kaptain train\nmodel:\n  id: test/panel\n  framework: tensorflow\n  main_file: trainer.py\n  image_name: registry.example.com/test/model\n  base_image: base:1\n  labels:\n    kaptain-sim/outcome: Succeeded\n    kaptain-sim/delay-seconds: \"{delay}\"\nconfig:\n  namespace: {ns}\n")
}

fn deploy(ns: &str, delay: u32) -> String {
    format!("%%kaptain deploy --replace\nmodel:\n  id: test/panel\n  framework: tensorflow\n  labels:\n    kaptain-sim/outcome: Succeeded\n    kaptain-sim/delay-seconds: \"{delay}\"\nmodel_uri: s3://kaptain/models/m/1\nconfig:\n  namespace: {ns}\n")
}

/// Runs a cell with the engine; `follow: false` only creates (as a page reloaded mid-run left it).
async fn run(text: &str, run_id: &str, follow: bool, resume: bool) -> (kaptain::engine::RunReport, Vec<Event>) {
    let options = Options { notebook: Some("work/panel.ipynb".into()), cell_id: Some("c1".into()), notebook_server: Some(SERVER.into()), ..Options::default() };
    let ns = ops::parse(text, &options).unwrap().config.namespace;
    let client = cluster::client(&ns).await;
    let run_id = RunId::parse(run_id).unwrap();
    let (cell, identity, objects) = ops::prepare(text, &options, &run_id).unwrap();
    let mut events = Vec::new();
    let mut record = |e| events.push(e);
    let report = Engine::new(&client, &cell, &identity, &mut record)
        .resume(resume)
        .run(objects, follow, std::future::pending())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (report, events)
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the local control plane (scripts/test)"]
async fn resume_show_prune_and_sweep_as_the_panel_does() {
    let ns = namespace("panel");
    let client = cluster::client(&ns).await;
    let ours = Whose::of(Some(SERVER), false);

    // A run started elsewhere: everything created, nothing followed.
    run(&train(&ns, 1), "p1", false, false).await;
    let listed = runs::list_runs(&client, &ns, &ours).await.unwrap();
    assert_eq!((listed[0].notebook.as_deref(), listed[0].cell_id.as_deref()), (Some("work/panel.ipynb"), Some("c1")));
    assert_eq!(listed[0].notebook_server.as_deref(), Some("notebook.team.panel"));
    // Another server in the namespace sees none of it, unless it asks for every server's runs.
    assert!(runs::list_runs(&client, &ns, &Whose::of(Some("/notebook/team/other/"), false)).await.unwrap().is_empty());
    assert_eq!(runs::list_runs(&client, &ns, &Whose::Everyone).await.unwrap().len(), 1);
    // A Secret is shown by its metadata: what it holds is never read.
    let yaml = objects::object_yaml(&client, "Secret", "test-panel-p1-context", &ns).await.unwrap();
    assert!(yaml.contains("kind: Secret") && yaml.contains("name: test-panel-p1-context"), "{yaml}");
    assert!(!yaml.contains("\ndata:") && !yaml.contains("AWS_") && !yaml.contains("seeded") && !yaml.contains("managedFields"), "{yaml}");
    let refused = objects::object_yaml(&client, "Secret", "kaptain-s3-credentials", &ns).await.unwrap_err();
    assert!(matches!(refused, ObjectError::NotManaged { .. }), "{refused}");

    // Resumed: every object exists, so all are resumed; then followed and the plan applied.
    let (report, events) = run(&train(&ns, 1), "p1", true, true).await;
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.message);
    let resumed: Vec<bool> = events.iter().filter_map(|e| match e { Event::Created { resumed, .. } => Some(*resumed), _ => None }).collect();
    assert_eq!(resumed, [true, true, true, true]);
    eventually("plan applied", || objects_of_run(&ns, "p1"), |left| left == &["tfjob.kubeflow.org/test-panel-p1"]).await;

    // The finished run is an orphan now (say its notebook is gone): swept by run id.
    let named = |whose: Whose| SweepSelection { whose, older_than_seconds: None, run_ids: vec![RunId::parse("p1").unwrap()] };
    let elsewhere = runs::sweep(&client, &ns, &named(Whose::of(Some("/notebook/team/other/"), false)), false, &mut |_, _| {}).await.unwrap();
    assert!(elsewhere.is_empty(), "another server's sweep does not touch this server's run");
    let swept = runs::sweep(&client, &ns, &named(ours.clone()), false, &mut |_, _| {}).await.unwrap();
    assert_eq!(swept.len(), 1);
    assert_eq!(swept[0].deleted.iter().map(|o| o.kind.kind).collect::<Vec<_>>(), ["TFJob"]);
    eventually("swept", || objects_of_run(&ns, "p1"), |left| left.is_empty()).await;

    // Two deploys of one model: two Revisions, the older one without traffic is pruned.
    for (run_id, delay) in [("p2", 1), ("p3", 2)] {
        let (report, _) = run(&deploy(&ns, delay), run_id, true, false).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.message);
    }
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = serving::revisions(&client, "test-panel", &ns).await.unwrap();
        if rows.len() == 2 && rows[0].traffic_percent == 100 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let shown: Vec<(&str, u32, bool)> = rows.iter().map(|r| (r.name.as_str(), r.traffic_percent, r.latest_ready)).collect();
    assert_eq!(shown, [("test-panel-predictor-default-00002", 100, true), ("test-panel-predictor-default-00001", 0, false)]);
    let pruned = serving::prune_revisions(&client, "test-panel", &ns).await.unwrap();
    assert_eq!((pruned.deleted, pruned.kept), (vec!["test-panel-predictor-default-00001".to_string()], vec!["test-panel-predictor-default-00002".to_string()]));
    let deleted = objects::delete_object(&client, "InferenceService", "test-panel", &ns).await.unwrap();
    assert_eq!(deleted.kind.kind, "InferenceService");
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

/// A deploy cell in the serving API `api`.
fn deploy_in(ns: &str, model: &str, api: &str) -> String {
    format!("%%kaptain deploy\nmodel:\n  id: {model}\n  framework: tensorflow\n  labels:\n    kaptain-sim/delay-seconds: \"1\"\nmodel_uri: s3://kaptain/models/m/1\nconfig:\n  namespace: {ns}\n  serving_api: {api}\n")
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the local control plane (scripts/test)"]
async fn the_panel_shows_and_deletes_what_it_offers_as_the_user() {
    // What the panel offers (each object's YAML and delete, a deployment's Revisions) works with
    // what deploy/rbac.yaml grants, for every kind it lists, in both serving APIs.
    let ns = namespace("panelkinds");
    let client = cluster::client(&ns).await;
    // Created, not followed: every object of the run stays.
    run(&train(&ns, 30), "k1", false, false).await;
    for (kind, name) in [("Secret", "test-panel-k1-registry"), ("Job", "test-panel-k1-build"), ("TFJob", "test-panel-k1")] {
        let yaml = objects::object_yaml(&client, kind, name, &ns).await.unwrap_or_else(|e| panic!("{kind} {name}: {e}"));
        assert!(yaml.contains(&format!("kind: {kind}")), "{yaml}");
    }
    objects::delete_object(&client, "Job", "test-panel-k1-build", &ns).await.unwrap();
    for (i, api) in ["serving.kubeflow.org/v1beta1", "serving.kserve.io/v1beta1"].into_iter().enumerate() {
        let model = format!("kinds/m{i}");
        let run_id = format!("k{}", i + 2);
        run(&deploy_in(&ns, &model, api), &run_id, false, false).await;
        let names = kaptain::identity::Names::new(&model, &RunId::parse(&run_id).unwrap());
        let isvc = names.inference_service();
        let rows = eventually("a Revision", || cluster::knative_of(&ns, &isvc), |o| o.iter().any(|o| o.starts_with("revision"))).await;
        assert!(!rows.is_empty());
        let revisions = serving::revisions(&client, &isvc, &ns).await.unwrap_or_else(|e| panic!("{api}: {e}"));
        assert!(!revisions.is_empty(), "{api}");
        serving::prune_revisions(&client, &isvc, &ns).await.unwrap();
        assert!(objects::object_yaml(&client, "InferenceService", &isvc, &ns).await.unwrap().contains("kind: InferenceService"));
        let account = names.serving_account();
        assert!(objects::object_yaml(&client, "ServiceAccount", &account, &ns).await.unwrap().contains("kind: ServiceAccount"));
        objects::delete_object(&client, "ServiceAccount", &account, &ns).await.unwrap();
        objects::delete_object(&client, "InferenceService", &isvc, &ns).await.unwrap();
    }
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
