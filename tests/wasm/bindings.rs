//! The wasm bindings (src/wasm.rs) as JavaScript sees them, run by wasm-bindgen-test under
//! Node and in headless Chromium: `scripts/wasm-test` (npm run test:wasm). Compiled as the
//! `tests` module of src/wasm.rs (`cargo test --lib --target wasm32-unknown-unknown`), which
//! reaches the exported functions without making the module public and without building the
//! native CLI binary for wasm32. Values are read back through `JSON.stringify`, so a Map
//! (instead of a plain object) would fail the checks; thrown values must be JS `Error`s.

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

use super::{apply, cleanup, delete_object, logs, object_yaml, parse, plan, policy, prune_revisions, render, revisions, runs, sweep, version};
use crate::browser::{BrowserTransport, WatchMode};
use crate::identity::RunId;
use crate::kube::{KubeError, Transport};

const BUILD: &str = include_str!("../../examples/cells/build.cell");
const TRAIN: &str = include_str!("../../examples/cells/train.cell");
const TRAIN_PYTORCH: &str = include_str!("../../examples/cells/train-pytorch.cell");
const TUNE: &str = include_str!("../../examples/cells/tune.cell");
const DEPLOY: &str = include_str!("../../examples/cells/deploy.cell");
const DEPLOY_KSERVE: &str = include_str!("../../examples/cells/deploy-kserve.cell");

#[wasm_bindgen]
extern "C" {
    /// JavaScript's own `Error`, to check what is thrown is one.
    #[wasm_bindgen(js_name = Error)]
    type JsErrorObject;
    #[wasm_bindgen(method, getter)]
    fn message(this: &JsErrorObject) -> String;

    #[wasm_bindgen(js_namespace = JSON, js_name = parse)]
    fn json_parse(text: &str) -> JsValue;

    #[wasm_bindgen(js_namespace = JSON, js_name = stringify)]
    fn json_stringify(value: &JsValue) -> String;

    #[wasm_bindgen(js_namespace = Array, js_name = isArray)]
    fn is_array(value: &JsValue) -> bool;
}

/// A plain JS object from the test's options, as a caller would write it.
fn options(value: Value) -> Option<JsValue> {
    Some(json_parse(&value.to_string()))
}

fn run(id: &str) -> Option<JsValue> {
    options(json!({ "runId": id }))
}

fn to_json(value: &JsValue) -> Value {
    serde_json::from_str(&json_stringify(value)).expect("the result is JSON")
}

/// The thrown value must be a JS Error; its message is returned.
fn thrown(result: Result<JsValue, JsError>) -> String {
    let error = JsValue::from(result.expect_err("the call throws"));
    assert!(error.is_instance_of::<JsErrorObject>(), "an Error is thrown, not {error:?}");
    error.unchecked_into::<JsErrorObject>().message()
}

/// (apiVersion, kind, name) of every object, in order.
fn heads(objects: &Value) -> Vec<(String, String, String)> {
    objects
        .as_array()
        .expect("an array of objects")
        .iter()
        .map(|o| {
            (
                o["apiVersion"].as_str().unwrap().to_string(),
                o["kind"].as_str().unwrap().to_string(),
                o["metadata"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn owned(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter().map(|(a, k, n)| (a.to_string(), k.to_string(), n.to_string())).collect()
}

#[wasm_bindgen_test]
fn version_is_the_crate_version() {
    assert_eq!(version(), env!("CARGO_PKG_VERSION"));
}

#[wasm_bindgen_test]
fn renders_every_example_cell_into_the_objects_it_creates() {
    let build = [
        ("v1", "Secret", "dev-mnist-r1-registry"),
        ("v1", "Secret", "dev-mnist-r1-context"),
        ("batch/v1", "Job", "dev-mnist-r1-build"),
    ];
    let cases: [(&str, &str, Vec<(&str, &str, &str)>); 6] = [
        (
            "build",
            BUILD,
            vec![
                ("v1", "Secret", "dev-mnist-r1-registry"),
                ("v1", "Secret", "dev-mnist-r1-context"),
                ("v1", "Secret", "dev-mnist-r1-registry-ca"),
                ("batch/v1", "Job", "dev-mnist-r1-build"),
            ],
        ),
        ("train", TRAIN, [&build[..], &[("kubeflow.org/v1", "TFJob", "dev-mnist-r1")]].concat()),
        (
            "train",
            TRAIN_PYTORCH,
            vec![
                ("v1", "Secret", "dev-mnist-torch-r1-registry"),
                ("v1", "Secret", "dev-mnist-torch-r1-context"),
                ("batch/v1", "Job", "dev-mnist-torch-r1-build"),
                ("kubeflow.org/v1", "PyTorchJob", "dev-mnist-torch-r1"),
            ],
        ),
        ("tune", TUNE, [&build[..], &[("kubeflow.org/v1beta1", "Experiment", "dev-mnist-r1")]].concat()),
        (
            "deploy",
            DEPLOY,
            vec![
                ("v1", "Secret", "dev-mnist-r1-serving"),
                ("v1", "ServiceAccount", "dev-mnist-r1-serving"),
                ("serving.kubeflow.org/v1beta1", "InferenceService", "dev-mnist"),
            ],
        ),
        (
            "deploy",
            DEPLOY_KSERVE,
            vec![
                ("v1", "Secret", "dev-mnist-r1-serving"),
                ("v1", "ServiceAccount", "dev-mnist-r1-serving"),
                ("serving.kserve.io/v1beta1", "InferenceService", "dev-mnist"),
            ],
        ),
    ];
    for (step, cell, expected) in cases {
        let result = render(cell, run("r1")).expect("the example renders");
        assert!(is_array(&result), "render gives an array");
        let objects = to_json(&result);
        assert_eq!(heads(&objects), owned(&expected), "{cell}");
        let model = if cell.contains("mnist-torch") { "dev-mnist-torch" } else { "dev-mnist" };
        for object in objects.as_array().unwrap() {
            let labels = &object["metadata"]["labels"];
            assert_eq!(labels["app.kubernetes.io/managed-by"], "kaptain");
            assert_eq!(labels["kaptain.io/run-id"], "r1");
            assert_eq!(labels["kaptain.io/model-id"], model);
            let object_step = labels["kaptain.io/step"].as_str().unwrap();
            let is_build_object = object["kind"] == "Secret" && step != "deploy" || object["kind"] == "Job";
            assert_eq!(object_step, if is_build_object { "build" } else { step }, "{object}");
            assert_eq!(object["metadata"]["namespace"], "default");
        }
    }
}

#[wasm_bindgen_test]
fn render_takes_the_options_the_cli_takes() {
    let opts = options(json!({
        "runId": "r7k2m9q",
        "namespace": "team-a",
        "notebook": "work/mnist.ipynb",
        "cellId": "c-42",
        "env": { "KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED": "600" },
        "contextChecksum": "0".repeat(64),
    }));
    let objects = to_json(&render(TRAIN, opts).unwrap());
    let job = objects.as_array().unwrap().iter().find(|o| o["kind"] == "TFJob").expect("a TFJob");
    assert_eq!(job["metadata"]["name"], "dev-mnist-r7k2m9q");
    assert_eq!(job["metadata"]["namespace"], "team-a");
    assert_eq!(job["metadata"]["annotations"]["kaptain.io/notebook"], "work/mnist.ipynb");
    assert_eq!(job["metadata"]["annotations"]["kaptain.io/cell-id"], "c-42");
    assert_eq!(job["spec"]["runPolicy"]["ttlSecondsAfterFinished"], 600);
    assert!(objects.to_string().contains(&format!(":{}", "0".repeat(64))), "the image is tagged with the checksum");
}

#[wasm_bindgen_test]
fn settings_give_config_defaults_under_the_cell() {
    let settings = "namespace: team-b\ns3_bucket: models\n";
    let objects = to_json(&render(DEPLOY, options(json!({ "runId": "r1", "settings": settings }))).unwrap());
    assert!(objects.as_array().unwrap().iter().all(|o| o["metadata"]["namespace"] == "team-b"), "{objects}");
    let json_settings = r#"{"namespace": "team-c"}"#;
    let objects = to_json(&render(DEPLOY, options(json!({ "runId": "r1", "settings": json_settings }))).unwrap());
    assert_eq!(objects[0]["metadata"]["namespace"], "team-c");
    let message = thrown(render(DEPLOY, options(json!({ "settings": "s3_bukket: models" }))));
    assert!(message.contains("s3_bukket") && message.contains("did you mean `s3_bucket`?"), "{message}");
}

#[wasm_bindgen_test]
fn render_yaml_is_a_multi_document_string() {
    let yaml = render(TRAIN, options(json!({ "runId": "r1", "format": "yaml" }))).unwrap();
    let text = yaml.as_string().expect("a string");
    assert_eq!(text.matches("---").count(), 4, "{text}");
    assert!(text.contains("kind: TFJob"), "{text}");
    assert!(text.contains("name: dev-mnist-r1-build"), "{text}");

    let message = thrown(render(TRAIN, options(json!({ "format": "xml" }))));
    assert_eq!(message, "format: \"xml\" is not a format render knows; use json or yaml");
}

#[wasm_bindgen_test]
fn without_a_run_id_each_call_makes_a_new_one() {
    let first = to_json(&render(DEPLOY, None).unwrap());
    let second = to_json(&render(DEPLOY, options(json!({}))).unwrap());
    let id = |objects: &Value| objects[0]["metadata"]["labels"]["kaptain.io/run-id"].as_str().unwrap().to_string();
    let (a, b) = (id(&first), id(&second));
    assert_ne!(a, b);
    for id in [a, b] {
        assert!(RunId::parse(&id).is_ok(), "{id}");
        assert_eq!(id.len(), 9, "{id}");
    }
}

#[wasm_bindgen_test]
fn a_bad_cell_throws_an_error_that_names_the_field_and_line() {
    let cell = "%%kaptain train\nmodel:\n  id: dev/mnist\n  framework: tensorflo\n  main_file: trainer.py\n";
    assert_eq!(
        thrown(render(cell, run("r1"))),
        "line 4, column 14: model.framework: \"tensorflo\" is not a supported framework; use tensorflow or pytorch"
    );
    assert_eq!(thrown(parse(cell, None)), thrown(plan(cell, "failed", None)));
    // Its parts come with it (a KaptainError), so that no front end parses the text.
    let error = to_json(&JsValue::from(render(cell, run("r1")).expect_err("the call throws")));
    assert_eq!(error["line"], 4);
    assert_eq!(error["column"], 14);
    assert_eq!(error["field"], "model.framework");
    assert_eq!(error["fix"], "use tensorflow or pytorch");
    assert_eq!(error["detail"], "model.framework: \"tensorflo\" is not a supported framework; use tensorflow or pytorch");

    let misspelt = TRAIN.replace("hyperparameters:", "hyperparameter:");
    let message = thrown(render(&misspelt, None));
    assert!(message.starts_with("line 11, column 1: hyperparameter: "), "{message}");
    assert!(message.contains("did you mean `hyperparameters`?"), "{message}");

    assert_eq!(
        thrown(render("%%kaptain trian\n", None)),
        "line 1, column 11: step: \"trian\" is not a step; did you mean train?"
    );
}

#[wasm_bindgen_test]
fn bad_options_throw_errors_that_say_which_option() {
    assert_eq!(
        thrown(render(TRAIN, run("R1"))),
        "runId: \"R1\" is not a valid run id; use 1 to 12 lowercase letters, digits or '-', starting with a letter, e.g. r7k2m9q"
    );
    let message = thrown(render(TRAIN, options(json!({ "runid": "r1" }))));
    assert!(message.starts_with("options: unknown field `runid`"), "{message}");
    let message = thrown(render(TRAIN, options(json!({ "env": { "KAPTAIN_SDK_FORCE_CLEANUPP": "1" } }))));
    assert_eq!(
        message,
        "KAPTAIN_SDK_FORCE_CLEANUPP: is not a variable kaptain reads; did you mean KAPTAIN_SDK_FORCE_CLEANUP?"
    );
    let message = thrown(render(TRAIN, options(json!({ "contextChecksum": "abc" }))));
    assert!(message.starts_with("context checksum: \"abc\" is not a sha256"), "{message}");
    let message = thrown(render(TRAIN, Some(JsValue::from_str("r1"))));
    assert_eq!(message, "options: is a string; pass an object such as { runId: \"r7k2m9q\" }");
    let message = thrown(render(TRAIN, options(json!({ "env": { "KAPTAIN_SDK_FORCE_CLEANUP": true } }))));
    assert_eq!(message, "options: invalid type: boolean `true`, expected a string");
    assert!(render(TRAIN, Some(JsValue::NULL)).is_ok(), "null options are no options");
}

fn actions(entries: &Value) -> Vec<(String, String, String)> {
    entries
        .as_array()
        .expect("an array of plan entries")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().into(),
                e["name"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[wasm_bindgen_test]
fn plan_of_a_successful_train_keeps_the_tfjob_and_deletes_the_build() {
    let result = plan(TRAIN, "succeeded", run("r1")).unwrap();
    assert!(is_array(&result));
    let entries = to_json(&result);
    assert_eq!(
        actions(&entries),
        owned(&[
            ("TFJob", "dev-mnist-r1", "keep"),
            ("Job", "dev-mnist-r1-build", "delete"),
            ("Secret", "dev-mnist-r1-registry", "delete"),
            ("Secret", "dev-mnist-r1-context", "delete"),
        ])
    );
    let tfjob = &entries[0];
    assert_eq!(tfjob["apiVersion"], "kubeflow.org/v1");
    assert_eq!(
        tfjob["reason"],
        "TFJob / PyTorchJob on success: delete if force_cleanup (or KAPTAIN_SDK_FORCE_CLEANUP), else keep (force_cleanup is off)"
    );
    for entry in entries.as_array().unwrap() {
        let keys: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["apiVersion", "kind", "name", "action", "reason"]);
    }
}

#[wasm_bindgen_test]
fn plan_follows_outcome_and_switches() {
    let all = |entries: &Value, action: &str| actions(entries).iter().all(|(_, _, a)| a == action);
    assert!(all(&to_json(&plan(TRAIN, "interrupted", run("r1")).unwrap()), "delete"));
    assert!(all(&to_json(&plan(DEPLOY, "interrupted", run("r1")).unwrap()), "delete"));

    let forced = options(json!({ "runId": "r1", "env": { "KAPTAIN_SDK_FORCE_CLEANUP": "yes" } }));
    let entries = to_json(&plan(TRAIN, "succeeded", forced).unwrap());
    assert_eq!(actions(&entries)[0], ("TFJob".into(), "dev-mnist-r1".into(), "delete".into()));

    let failed_build = to_json(&plan(BUILD, "failed", run("r1")).unwrap());
    assert!(all(&failed_build, "keep"), "a failed build is kept for troubleshooting: {failed_build}");
    let failed_train = to_json(&plan(TRAIN, "failed", run("r1")).unwrap());
    assert_eq!(actions(&failed_train)[0], ("TFJob".into(), "dev-mnist-r1".into(), "keep".into()));
    assert!(actions(&failed_train)[1..].iter().all(|(_, _, a)| a == "delete"), "the build before it had succeeded");

    let deployed = to_json(&plan(DEPLOY, "succeeded", run("r1")).unwrap());
    let deploy_actions = actions(&deployed);
    assert!(deploy_actions.contains(&("InferenceService".into(), "dev-mnist".into(), "keep".into())));
    assert!(deploy_actions.contains(&("Secret".into(), "dev-mnist-r1-serving".into(), "delete".into())));

    assert_eq!(
        thrown(plan(TRAIN, "done", run("r1"))),
        "outcome: \"done\" is not an outcome; use succeeded, failed, interrupted"
    );
}

#[wasm_bindgen_test]
fn policy_is_the_lifecycle_table() {
    let rows = to_json(&policy(Some("json".into())).unwrap());
    let rows = rows.as_array().expect("an array of rows");
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["resource"], "build-objects");
    assert_eq!(rows[0]["on_failure"], json!({ "rule": "keep" }));
    assert_eq!(rows[1]["on_success"], json!({ "rule": "delete_if", "switch": "force_cleanup" }));
    assert!(rows.iter().all(|r| r["on_interruption"] == json!({ "rule": "delete" })));

    let markdown = policy(None).unwrap().as_string().expect("markdown text");
    assert_eq!(markdown, policy(Some("markdown".into())).unwrap().as_string().unwrap());
    assert_eq!(markdown, crate::lifecycle::table_markdown());
    assert_eq!(markdown.lines().count(), 2 + 5);
    assert_eq!(
        thrown(policy(Some("html".into()))),
        "format: \"html\" is not a format policy knows; use markdown or json"
    );
}

#[wasm_bindgen_test]
fn parse_summarises_the_cell() {
    let summary = to_json(&parse(TUNE, options(json!({ "runId": "r9", "namespace": "team-a" }))).unwrap());
    assert_eq!(
        summary,
        json!({
            "step": "tune",
            "phases": ["build", "tune"],
            "modelId": "dev/mnist",
            "framework": "tensorflow",
            "namespace": "team-a",
            "runId": "r9",
            "selector": "app.kubernetes.io/managed-by=kaptain,kaptain.io/run-id=r9",
            "labels": {
                "app.kubernetes.io/managed-by": "kaptain",
                "kaptain.io/model-id": "dev-mnist",
                "kaptain.io/run-id": "r9",
                "kaptain.io/step": "tune",
            },
        })
    );
    let summary = to_json(&parse(TRAIN, None).unwrap());
    assert_eq!(summary["modelName"], "MNIST");
    let id = summary["runId"].as_str().unwrap();
    assert!(RunId::parse(id).is_ok(), "{id}");
}

/// Nothing listens on port 9 (discard); Chromium refuses it outright. Either way a request fails.
const NOWHERE: &str = "http://127.0.0.1:9";

#[wasm_bindgen_test]
async fn apply_rejects_bad_cells_and_options_before_any_request() {
    let cluster = |extra: Value| {
        let mut o = json!({ "server": NOWHERE, "runId": "r1" });
        o.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json_parse(&o.to_string())
    };
    let bad = TRAIN.replace("framework: tensorflow", "framework: tensorflo");
    assert_eq!(
        thrown(apply(bad, cluster(json!({})), None).await),
        "line 5, column 14: model.framework: \"tensorflo\" is not a supported framework; use tensorflow or pytorch"
    );
    assert!(thrown(apply(TRAIN.into(), json_parse(r#"{"runId": "r1"}"#), None).await).starts_with("server: missing; "));
    assert!(thrown(apply(TRAIN.into(), JsValue::UNDEFINED, None).await).starts_with("server: missing; "));
    assert!(thrown(apply(TRAIN.into(), cluster(json!({ "format": "yaml" })), None).await)
        .starts_with("options: unknown field `format`, expected one of `runId`"));
    assert_eq!(
        thrown(apply(TRAIN.into(), cluster(json!({ "watch": "sse" })), None).await),
        "watch: \"sse\" is not a watch mode; use json, event-stream, poll"
    );
    assert!(thrown(apply(TRAIN.into(), cluster(json!({ "signal": true })), None).await).starts_with("signal: is not an AbortSignal"));
    assert!(thrown(apply(TRAIN.into(), cluster(json!({ "follow": "yes" })), None).await).starts_with("options: invalid type"));
    let nowhere = || json_parse(&json!({ "server": NOWHERE }).to_string());
    assert!(thrown(cleanup("R1".into(), nowhere()).await).starts_with("runId: \"R1\" is not a valid run id; "));
    assert!(thrown(runs(json_parse(r#"{"server": "x", "runId": "r1"}"#)).await).starts_with("options: unknown field `runId`"));
    let not_a_function = JsValue::from_str("log").unchecked_into::<js_sys::Function>();
    assert!(thrown(apply(TRAIN.into(), cluster(json!({})), Some(not_a_function)).await).starts_with("onEvent: is not a function"));
    // The existing calls still refuse the cluster options.
    assert!(thrown(render(TRAIN, options(json!({ "server": NOWHERE })))).starts_with("options: unknown field `server`"));
}

#[wasm_bindgen_test]
async fn the_panel_calls_reject_bad_arguments_before_any_request() {
    let with = |extra: Value| {
        let mut o = json!({ "server": NOWHERE });
        o.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json_parse(&o.to_string())
    };
    let nowhere = || with(json!({}));
    let yaml = |kind: &str, name: &str, options: JsValue| {
        let (kind, name) = (kind.to_string(), name.to_string());
        async move { object_yaml(kind, name, options).await.map(JsValue::from) }
    };
    assert_eq!(
        thrown(yaml("Deployment", "x", nowhere()).await),
        "kind: \"Deployment\" is not a kind kaptain shows or deletes; use one of InferenceService, Experiment, TFJob, PyTorchJob, Job, ServiceAccount, Secret, Pod, Service, Configuration, Route, Revision"
    );
    assert_eq!(thrown(yaml("Job", "../secrets", nowhere()).await), "name: \"../secrets\" is not an object name; pass a name as runs() lists it");
    assert!(thrown(yaml("Job", "x", JsValue::UNDEFINED).await).starts_with("server: missing; "));
    assert!(thrown(delete_object("Job".into(), "".into(), nowhere()).await).starts_with("name: \"\" is not an object name"));
    assert!(thrown(delete_object("Job".into(), "x".into(), with(json!({ "runId": "r1" }))).await).starts_with("options: unknown field `runId`"));
    assert!(thrown(revisions("x".into(), json_parse("{}")).await).starts_with("server: missing; "));
    assert!(thrown(prune_revisions("x".into(), with(json!({ "tailLines": 5 }))).await).starts_with("options: unknown field `tailLines`"));
    assert_eq!(thrown(sweep(nowhere()).await), "sweep: selects no run; pass olderThanSeconds, runIds or both");
    assert_eq!(thrown(sweep(with(json!({ "runIds": [] }))).await), "sweep: selects no run; pass olderThanSeconds, runIds or both");
    assert!(thrown(sweep(with(json!({ "runIds": ["r1", "R2"] }))).await).starts_with("runIds[1]: \"R2\" is not a valid run id; "));
    assert!(thrown(sweep(with(json!({ "olderThanSeconds": "1h" }))).await).starts_with("options: invalid type"));
    assert!(thrown(logs("R1".into(), nowhere()).await).starts_with("runId: \"R1\" is not a valid run id; "));
    assert!(thrown(logs("r1".into(), with(json!({ "tailLines": "all" }))).await).starts_with("options: invalid type"));
    assert!(thrown(apply(TRAIN.into(), with(json!({ "resume": true })), None).await).starts_with("resume: needs runId"));
    assert!(thrown(apply(TRAIN.into(), with(json!({ "resume": "yes", "runId": "r1" })), None).await).starts_with("options: invalid type"));
}

#[wasm_bindgen_test]
async fn browser_transport_sleeps_and_reads_the_clock() {
    let transport = BrowserTransport::new(NOWHERE, Vec::new(), WatchMode::Json);
    let now = (js_sys::Date::now() / 1000.0) as i64;
    assert!((transport.now() - now).abs() <= 1);
    let started = js_sys::Date::now();
    transport.sleep(std::time::Duration::from_millis(60)).await;
    let slept = js_sys::Date::now() - started;
    assert!((50.0..5000.0).contains(&slept), "slept {slept} ms");
}

#[wasm_bindgen_test]
async fn browser_transport_reports_an_unreachable_server_as_a_transport_error() {
    let transport = BrowserTransport::new(&format!("{NOWHERE}/"), vec![("x-test".into(), "1".into())], WatchMode::Json);
    let request = http::Request::get("/api/v1/namespaces").body(Vec::new()).unwrap();
    match transport.send(request).await {
        Err(KubeError::Transport { what, message }) => {
            assert_eq!(what, "GET /api/v1/namespaces");
            assert!(!message.is_empty());
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    let poll = BrowserTransport::new(NOWHERE, Vec::new(), WatchMode::Poll);
    let watch = http::Request::get("/api/v1/pods?watch=true").body(Vec::new()).unwrap();
    match poll.stream(watch).await {
        Err(KubeError::Transport { message, .. }) => assert_eq!(message, "watches are off (watch: \"poll\")"),
        Err(e) => panic!("expected a transport error, got {e:?}"),
        Ok(_) => panic!("expected a transport error, got a response"),
    }
}
