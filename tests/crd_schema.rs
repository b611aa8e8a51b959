//! Every object kaptain renders for the example cells must be valid against the upstream CRD
//! schemas (the ones the integration cluster installs, see ../shared/crds/README.md), checked
//! here without a cluster: types, enums, required fields, and above all fields the schema does
//! not declare, which the API server would silently prune.
//!
//! The CRDs are read from `../shared/crds/upstream/` next to the crate, or from the directory
//! named by `KAPTAIN_CRDS_DIR`.

#[path = "support/schema.rs"]
mod schema;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use kaptain::identity::RunId;
use kaptain::Options;
use serde_json::{json, Value};

use schema::{Crds, NameRule, SchemaError};

const CRDS_DIR_VAR: &str = "KAPTAIN_CRDS_DIR";

/// The custom resources kaptain creates: each must be rendered by some example cell and
/// validated against its CRD.
const CUSTOM_KINDS: &[(&str, &str)] = &[
    ("kubeflow.org/v1", "TFJob"),
    ("kubeflow.org/v1", "PyTorchJob"),
    ("kubeflow.org/v1beta1", "Experiment"),
    ("serving.kubeflow.org/v1beta1", "InferenceService"),
    ("serving.kserve.io/v1beta1", "InferenceService"),
];

/// Core kinds, built from k8s-openapi types: no CRD, only their header is checked.
const CORE_KINDS: &[(&str, &str)] = &[("v1", "Secret"), ("batch/v1", "Job"), ("v1", "ServiceAccount")];

/// Katib's Experiment schema is preserve-unknown-fields, so the trial job it embeds is what can
/// be checked: it is recorded in the coverage under this suffix.
const TRIAL_SPEC: &str = "(Experiment trialSpec)";

// ---------------------------------------------------------------------------------------------
// Fixtures

fn crds_dir() -> PathBuf {
    match std::env::var_os(CRDS_DIR_VAR) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/crds/upstream"),
    }
}

/// A missing directory is a failure, not a skip: a test that validates nothing must not pass.
fn load_crds(dir: &Path) -> Result<Crds, String> {
    if !dir.is_dir() {
        return Err(format!(
            "the upstream CRD directory {} does not exist; set {CRDS_DIR_VAR} to the directory holding \
             the upstream CRD YAML files (e.g. {CRDS_DIR_VAR}=/work/shared/crds/upstream cargo test --test crd_schema)",
            dir.display()
        ));
    }
    let crds = Crds::load(dir)?;
    if crds.len() == 0 {
        return Err(format!(
            "{} holds no CustomResourceDefinition; point {CRDS_DIR_VAR} at the upstream CRDs",
            dir.display()
        ));
    }
    Ok(crds)
}

/// Parsed once for all tests: the largest CRDs are megabytes of YAML.
fn crds() -> &'static Crds {
    static CRDS: OnceLock<Result<Crds, String>> = OnceLock::new();
    match CRDS.get_or_init(|| load_crds(&crds_dir())) {
        Ok(crds) => crds,
        Err(message) => panic!("{message}"),
    }
}

fn cells_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cells")
}

/// (file name, text) of every example cell, in name order.
fn example_cells() -> Vec<(String, String)> {
    let dir = cells_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "cell"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.cell files in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.file_name().unwrap_or_default().to_string_lossy().into_owned(), text)
        })
        .collect()
}

fn run_id() -> RunId {
    RunId::parse("r1").expect("r1 is a valid run id")
}

fn render(cell_name: &str, text: &str) -> Vec<Value> {
    kaptain::ops::render(text, &Options::default(), &run_id())
        .unwrap_or_else(|e| panic!("{cell_name} does not render: {e}"))
        .into_iter()
        .map(|manifest| manifest.object)
        .collect()
}

fn rendered_object(cell_name: &str, kind: &str) -> Value {
    let (_, text) = example_cells().into_iter().find(|(name, _)| name == cell_name).expect("the example cell exists");
    render(cell_name, &text)
        .into_iter()
        .find(|object| object["kind"] == kind)
        .unwrap_or_else(|| panic!("{cell_name} renders no {kind}"))
}

// ---------------------------------------------------------------------------------------------
// Checking rendered objects

fn is_core_api_version(api_version: &str) -> bool {
    // Built-in groups have no dot: "v1", "batch/v1"; every CRD group is a domain name.
    api_version.split_once('/').is_none_or(|(group, _)| !group.contains('.'))
}

/// `prefix` + `path`, as one JSON path.
fn join_path(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty() || path.starts_with('[')) {
        (true, _) => path.to_string(),
        (false, true) => format!("{prefix}{path}"),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// What was validated, and every problem found, over any number of objects.
#[derive(Default)]
struct Report {
    covered: BTreeSet<String>,
    problems: Vec<String>,
}

impl Report {
    fn check(&mut self, crds: &Crds, origin: &str, object: &Value) {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let what =
            format!("{origin}: {api_version} {kind} {}", object["metadata"]["name"].as_str().unwrap_or("(no name)"));

        if is_core_api_version(api_version) {
            self.record(&what, "", schema::validate_core_object(object));
        } else {
            match crds.schema(api_version, kind) {
                Ok(schema) => self.record(&what, "", schema::validate_resource(schema, object, NameRule::Required)),
                Err(why) => self.problems.push(format!("{what}: {why}")),
            }
        }
        self.covered.insert(format!("{api_version} {kind}"));

        if kind == "Experiment" {
            self.check_trial_spec(crds, &what, object);
        }
    }

    /// The TFJob/PyTorchJob Katib instantiates per trial, against its own CRD. Katib names it
    /// per trial, so the template needs no name.
    fn check_trial_spec(&mut self, crds: &Crds, what: &str, experiment: &Value) {
        let trial = &experiment["spec"]["trialTemplate"]["trialSpec"];
        if !trial.is_object() {
            self.problems.push(format!("{what}: no spec.trialTemplate.trialSpec to validate"));
            return;
        }
        let api_version = trial["apiVersion"].as_str().unwrap_or_default();
        let kind = trial["kind"].as_str().unwrap_or_default();
        match crds.schema(api_version, kind) {
            Ok(schema) => self.record(
                what,
                "spec.trialTemplate.trialSpec",
                schema::validate_resource(schema, trial, NameRule::Optional),
            ),
            Err(why) => self.problems.push(format!("{what}: spec.trialTemplate.trialSpec: {why}")),
        }
        self.covered.insert(format!("{api_version} {kind} {TRIAL_SPEC}"));
    }

    fn record(&mut self, what: &str, prefix: &str, errors: Vec<SchemaError>) {
        for error in errors {
            self.problems.push(format!("{what}: {}: {}", join_path(prefix, &error.path), error.message));
        }
    }

    fn assert_no_problems(&self) {
        assert!(
            self.problems.is_empty(),
            "{} problem(s) against the upstream schemas:\n  {}",
            self.problems.len(),
            self.problems.join("\n  ")
        );
    }

    fn assert_covers(&self, kinds: &[(&str, &str)], suffix: &str) {
        let missing: Vec<String> = kinds
            .iter()
            .map(|(api_version, kind)| format!("{api_version} {kind}{suffix}"))
            .filter(|key| !self.covered.contains(key))
            .collect();
        assert!(missing.is_empty(), "not validated by any example cell: {missing:?}; validated: {:?}", self.covered);
    }
}

// ---------------------------------------------------------------------------------------------
// The rendered manifests

#[test]
fn upstream_crds_serve_every_custom_kind_kaptain_creates() {
    let crds = crds();
    for (api_version, kind) in CUSTOM_KINDS {
        if let Err(why) = crds.schema(api_version, kind) {
            panic!("{why}");
        }
    }
}

#[test]
fn every_example_cell_renders_objects_valid_against_the_upstream_crds() {
    let crds = crds();
    let mut report = Report::default();
    for (name, text) in example_cells() {
        for object in render(&name, &text) {
            report.check(crds, &name, &object);
        }
    }
    report.assert_no_problems();
    report.assert_covers(CUSTOM_KINDS, "");
    // Only the embedded trial job says anything the API server checks for an Experiment.
    let trial_jobs: Vec<&String> = report.covered.iter().filter(|k| k.ends_with(TRIAL_SPEC)).collect();
    assert!(!trial_jobs.is_empty(), "no Experiment trialSpec was validated; validated: {:?}", report.covered);
}

#[test]
fn core_objects_have_api_version_kind_and_a_name() {
    let crds = crds();
    let mut report = Report::default();
    for (name, text) in example_cells() {
        for object in
            render(&name, &text).iter().filter(|o| is_core_api_version(o["apiVersion"].as_str().unwrap_or_default()))
        {
            report.check(crds, &name, object);
        }
    }
    report.assert_no_problems();
    report.assert_covers(CORE_KINDS, "");
}

/// The CLI prints what the library renders, and that output is valid too.
#[test]
fn kaptain_render_binary_prints_the_same_valid_objects() {
    let crds = crds();
    let mut report = Report::default();
    for (name, text) in example_cells() {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kaptain"));
        command.arg("render").arg(cells_dir().join(&name)).args(["--run-id", "r1"]);
        // The binary reads KAPTAIN_SDK_* switches from its environment; the library call has none.
        for key in kaptain::spec::ENV_KEYS {
            command.env_remove(key);
        }
        let output = command.output().expect("kaptain runs");
        assert!(output.status.success(), "kaptain render {name} failed: {}", String::from_utf8_lossy(&output.stderr));
        let printed: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("kaptain render {name} did not print JSON: {e}"));
        assert_eq!(printed, Value::Array(render(&name, &text)), "kaptain render {name} differs from the library");
        for object in printed.as_array().into_iter().flatten() {
            report.check(crds, &format!("kaptain render {name}"), object);
        }
    }
    report.assert_no_problems();
    report.assert_covers(CUSTOM_KINDS, "");
}

/// The validator must find a field the pod template does not declare, deep in a real CRD.
#[test]
fn a_field_the_tfjob_crd_lacks_is_reported_at_its_path() {
    let mut tfjob = rendered_object("train.cell", "TFJob");
    let replica =
        tfjob["spec"]["tfReplicaSpecs"].as_object().and_then(|r| r.keys().next().cloned()).expect("a replica");
    tfjob["spec"]["tfReplicaSpecs"][&replica]["template"]["spec"]["containers"][0]["foo"] = json!("bar");
    let schema = crds().schema("kubeflow.org/v1", "TFJob").expect("the TFJob CRD");
    let errors = schema::validate_resource(schema, &tfjob, NameRule::Required);
    let expected = format!("spec.tfReplicaSpecs.{replica}.template.spec.containers[0].foo");
    assert!(errors.iter().any(|e| e.path == expected && e.message.contains("unknown field")), "{errors:?}");
    assert_eq!(errors.len(), 1, "only the added field is wrong: {errors:?}");
}

/// Katib's own schema accepts anything, so only the trialSpec check can catch this.
#[test]
fn a_field_the_trial_job_crd_lacks_is_reported_inside_the_experiment() {
    let mut experiment = rendered_object("tune.cell", "Experiment");
    experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["runPolicy"]["bogus"] = json!(1);
    let mut report = Report::default();
    report.check(crds(), "tune.cell", &experiment);
    let expected = "spec.trialTemplate.trialSpec.spec.runPolicy.bogus: unknown field";
    assert!(report.problems.iter().any(|p| p.contains(expected)), "{:?}", report.problems);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
}

/// A pattern the matcher cannot read would fail every value it applies to: find them all up front.
#[test]
fn every_pattern_in_the_upstream_crds_is_supported_by_the_matcher() {
    let mut unsupported = Vec::new();
    let mut count = 0;
    for (what, schema) in crds().schemas() {
        for pattern in schema::patterns(schema) {
            count += 1;
            if let Err(why) = schema::pattern::Pattern::compile(&pattern) {
                unsupported.push(format!("{what}: {pattern} ({why})"));
            }
        }
    }
    assert!(count > 0, "the upstream CRDs hold patterns (resource quantities at least)");
    assert!(unsupported.is_empty(), "patterns this test cannot check:\n  {}", unsupported.join("\n  "));
}

#[test]
fn a_missing_crd_directory_fails_saying_where_it_looked_and_what_to_set() {
    let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("no/such/crd/dir");
    let message = load_crds(&missing).expect_err("a missing directory is an error");
    assert!(message.contains(&missing.display().to_string()), "{message}");
    assert!(message.contains(CRDS_DIR_VAR), "{message}");
}

// ---------------------------------------------------------------------------------------------
// The validator itself, on tiny schemas: it must not accept everything

/// The pattern the upstream CRDs put on every resource quantity (int-or-string).
const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

fn messages(schema: Value, value: Value) -> Vec<String> {
    schema::validate(&schema, &value).iter().map(ToString::to_string).collect()
}

/// Asserts one reported error starts with `path: ` and mentions `fragment`.
fn assert_reported(errors: &[String], path: &str, fragment: &str) {
    let prefix = format!("{path}: ");
    assert!(
        errors.iter().any(|e| e.starts_with(&prefix) && e.contains(fragment)),
        "expected an error at {path} mentioning {fragment:?}, got {errors:?}"
    );
}

fn container_schema() -> Value {
    json!({
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 8},
            "restartPolicy": {"type": "string", "enum": ["Never", "OnFailure"]},
            "replicas": {"type": "integer", "format": "int32", "minimum": 0},
            "args": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
        }
    })
}

#[test]
fn validator_accepts_an_object_that_matches() {
    let ok = json!({"name": "main", "restartPolicy": "Never", "replicas": 2, "args": ["-u"]});
    assert_eq!(messages(container_schema(), ok), Vec::<String>::new());
}

#[test]
fn validator_reports_an_unknown_field() {
    let errors = messages(container_schema(), json!({"name": "main", "foo": {"bar": 1}}));
    assert_reported(&errors, "foo", "unknown field");
    assert_eq!(errors.len(), 1, "nothing below an unknown field is reported: {errors:?}");
    let nested = json!({"type": "object", "properties": {"items": {"type": "array", "items": container_schema()}}});
    let errors = messages(nested, json!({"items": [{"name": "a"}, {"name": "b", "foo": 1}]}));
    assert_reported(&errors, "items[1].foo", "unknown field");
}

#[test]
fn validator_reports_a_wrong_type() {
    let errors = messages(container_schema(), json!({"name": 3, "replicas": "2", "args": "x"}));
    assert_reported(&errors, "name", "must be of type string, found integer");
    assert_reported(&errors, "replicas", "must be of type integer, found string");
    assert_reported(&errors, "args", "must be of type array");
    // The API server decodes 1.0 as a float: not an integer.
    assert_reported(&messages(container_schema(), json!({"name": "a", "replicas": 1.0})), "replicas", "found number");
}

#[test]
fn validator_reports_a_missing_required_field() {
    assert_reported(&messages(container_schema(), json!({"replicas": 1})), "name", "required field is missing");
}

#[test]
fn validator_reports_a_value_outside_the_enum() {
    let errors = messages(container_schema(), json!({"name": "a", "restartPolicy": "Always"}));
    assert_reported(&errors, "restartPolicy", "not one of the allowed values");
}

#[test]
fn validator_checks_bounds_lengths_and_formats() {
    let errors =
        messages(container_schema(), json!({"name": "much-too-long", "replicas": -1, "args": ["a", "b", "c"]}));
    assert_reported(&errors, "name", "maxLength 8");
    assert_reported(&errors, "replicas", "minimum");
    assert_reported(&errors, "args", "maxItems 2");
    assert_reported(
        &messages(container_schema(), json!({"name": "a", "replicas": 3_000_000_000u64})),
        "replicas",
        "int32",
    );
}

#[test]
fn validator_accepts_anything_below_preserve_unknown_fields() {
    let schema = json!({"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
    }});
    assert_eq!(messages(schema.clone(), json!({"spec": {"anything": [1, {"goes": null}]}})), Vec::<String>::new());
    assert_reported(&messages(schema, json!({"status": {}})), "status", "unknown field");
}

#[test]
fn validator_checks_additional_properties() {
    let schema = json!({"type": "object", "properties": {
        "limits": {"type": "object", "additionalProperties": {"type": "string"}},
        "free": {"type": "object", "additionalProperties": true},
        "closed": {"type": "object", "additionalProperties": false},
    }});
    assert_eq!(
        messages(schema.clone(), json!({"limits": {"cpu": "1"}, "free": {"x": [1]}, "closed": {}})),
        Vec::<String>::new()
    );
    let errors = messages(schema, json!({"limits": {"cpu": 1}, "closed": {"x": 1}}));
    assert_reported(&errors, "limits.cpu", "must be of type string");
    assert_reported(&errors, "closed.x", "additionalProperties: false");
}

#[test]
fn validator_checks_int_or_string_with_the_quantity_pattern() {
    let schema = json!({"type": "object", "additionalProperties": {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": QUANTITY_PATTERN,
        "x-kubernetes-int-or-string": true,
    }});
    let ok = json!({"cpu": "500m", "memory": "2Gi", "gpu": 1, "big": "1e3", "half": ".5"});
    assert_eq!(messages(schema.clone(), ok), Vec::<String>::new());
    let errors = messages(schema, json!({"memory": "2 GB", "cpu": 1.5, "gpu": true}));
    assert_reported(&errors, "memory", "does not match the pattern");
    assert_reported(&errors, "cpu", "integer or a string");
    assert_reported(&errors, "gpu", "integer or a string");
}

#[test]
fn validator_reports_null_unless_nullable() {
    let schema = json!({"type": "object", "properties": {
        "strict": {"type": "string"},
        "lenient": {"type": "string", "nullable": true},
    }});
    let errors = messages(schema, json!({"strict": null, "lenient": null}));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_reported(&errors, "strict", "not nullable");
}

#[test]
fn validator_reports_duplicates_in_list_maps_and_sets() {
    let schema = json!({"type": "object", "properties": {
        "ports": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
            "items": {"type": "object", "required": ["containerPort"], "properties": {
                "containerPort": {"type": "integer"},
                "protocol": {"type": "string", "default": "TCP"},
            }},
        },
        "finalizers": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
    }});
    let errors = messages(
        schema,
        json!({
            "ports": [
                {"containerPort": 80},
                {"containerPort": 80, "protocol": "TCP"},
                {"containerPort": 80, "protocol": "UDP"},
            ],
            "finalizers": ["a", "b", "a"],
        }),
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_reported(&errors, "ports[1]", "duplicate entry");
    assert_reported(&errors, "finalizers[2]", "duplicate entry");
}

#[test]
fn validator_checks_object_meta_and_the_header_of_a_resource() {
    let schema = json!({"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": {"type": "object", "properties": {
            "template": {
                "type": "object",
                "x-kubernetes-embedded-resource": true,
                "x-kubernetes-preserve-unknown-fields": true,
            },
        }},
    }});
    let object = json!({
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {
            "labels": {"app": 1, "bad key!": "x", "ok": "not a/label"},
            "annotations": {"a": "b"},
            "nickname": "x",
        },
        "spec": {"template": {"metadata": {"name": "child"}}},
    });
    let errors: Vec<String> =
        schema::validate_resource(&schema, &object, NameRule::Required).iter().map(ToString::to_string).collect();
    assert_reported(&errors, "metadata.name", "required field is missing");
    assert_reported(&errors, "metadata.labels.app", "must be a string");
    assert_reported(&errors, r#"metadata.labels["bad key!"]"#, "not a valid label key");
    assert_reported(&errors, "metadata.labels.ok", "not a valid label value");
    assert_reported(&errors, "metadata.nickname", "unknown ObjectMeta field");
    assert_reported(&errors, "spec.template.apiVersion", "required field is missing");
    assert_reported(&errors, "spec.template.kind", "required field is missing");
    assert_eq!(errors.len(), 7, "{errors:?}");
    // A template embedded in another object may leave its name to the controller.
    let trial = json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"labels": {"a": "b"}}});
    assert!(schema::validate_resource(&schema, &trial, NameRule::Optional).is_empty());
}

#[test]
fn core_object_check_requires_api_version_kind_and_name() {
    let errors: Vec<String> =
        schema::validate_core_object(&json!({"kind": "", "metadata": {}})).iter().map(ToString::to_string).collect();
    assert_reported(&errors, "apiVersion", "required field is missing");
    assert_reported(&errors, "kind", "must not be empty");
    assert_reported(&errors, "metadata.name", "required field is missing");
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}});
    assert!(schema::validate_core_object(&secret).is_empty());
}

#[test]
fn pattern_matcher_follows_re2_on_the_patterns_crds_use() {
    use schema::pattern::Pattern;
    let quantity = Pattern::compile(QUANTITY_PATTERN).expect("the quantity pattern compiles");
    for good in ["1", "2Gi", "500m", "+1.5", "-.5e-3", "1E6", "0.", "10k"] {
        assert!(quantity.is_match(good), "{good} is a quantity");
    }
    for bad in ["", "Gi", "2 Gi", "2GB", "1.2.3", "1e", "--1", "2Gix"] {
        assert!(!quantity.is_match(bad), "{bad} is not a quantity");
    }
    let absolute = Pattern::compile("^/.*").expect("compiles");
    assert!(absolute.is_match("/mnt/models") && !absolute.is_match("mnt"));
    // Unanchored patterns match anywhere, as in RE2.
    let word = Pattern::compile(r"[a-z]{2,3}\d").expect("compiles");
    assert!(word.is_match("--ab1--") && !word.is_match("a1"));
    assert!(Pattern::compile("(?i)abc").is_err(), "unsupported syntax is refused, not guessed");
    assert!(Pattern::compile(r"\bword").is_err());
}
