//! The %%kaptain grammar with good and bad input: what the user reads when a cell is wrong.

use kaptain::spec::{parse_cell, Algorithm, Cell, Domain, MetricStrategy, ParseContext, ServingApi, StepSpec};

const MODEL: &str = "model:
  id: dev/mnist
  framework: tensorflow
  main_file: trainer.py
  image_name: registry.example.com/dev/mnist
  base_image: tensorflow/tensorflow:2.5.0
";

fn parse(cell: &str) -> Result<Cell, String> {
    parse_cell(cell, &ParseContext::default()).map_err(|e| e.to_string())
}

fn error(cell: &str) -> String {
    match parse(cell) {
        Ok(_) => panic!("expected an error for:\n{cell}"),
        Err(message) => message,
    }
}

fn train(cell: &Cell) -> &kaptain::spec::TrainSpec {
    match &cell.step {
        StepSpec::Train(t) => t,
        other => panic!("not train: {other:?}"),
    }
}

fn tune(cell: &Cell) -> &kaptain::spec::TuneSpec {
    match &cell.step {
        StepSpec::Tune(t) => t,
        other => panic!("not tune: {other:?}"),
    }
}

#[test]
fn train_defaults_are_the_sdks() {
    let cell = parse(&format!("%%kaptain train\n{MODEL}")).unwrap();
    let t = train(&cell);
    assert_eq!(t.workers, 2);
    assert!(!t.force_cleanup);
    assert_eq!(t.ttl_seconds_after_finished, None);
    assert_eq!(cell.config.namespace, "default");
    assert_eq!(cell.config.serving_api, ServingApi::KfServing);
    assert_eq!(cell.config.model_storage_uri, "s3://kaptain/models");
    assert_eq!(cell.config.builder.cpu_limit.as_str(), "1");
    assert_eq!(cell.config.builder.cpu_request.as_str(), "500m");
    assert_eq!(cell.config.builder.memory_limit.as_str(), "1G");
    assert_eq!(cell.config.builder.memory_request.as_str(), "500M");
}

#[test]
fn flags_override_the_body_and_booleans_are_bare() {
    let cell = parse(&format!(
        "%%kaptain train --workers 3 --gpus=1 --force-cleanup --timeout 90m\n{MODEL}workers: 5\ngpus: 2\nhyperparameters:\n  lr: 0.001\n  epochs: 5\n"
    ))
    .unwrap();
    let t = train(&cell);
    assert_eq!(t.workers, 3);
    assert_eq!(t.resources.gpus, 1);
    assert!(t.force_cleanup);
    assert_eq!(t.timeout_seconds, Some(5400));
    assert_eq!(t.hyperparameters, vec![("lr".into(), "0.001".into()), ("epochs".into(), "5".into())]);
}

#[test]
fn tune_reads_every_kind_of_search_space() {
    let cell = parse(&format!(
        "%%kaptain tune --algorithm grid --objective-type minimize\n{MODEL}hyperparameters:
  lr: {{min: 0.001, max: 0.1, step: 0.01}}
  epochs: {{min: 1, max: 10}}
  optimizer: [adam, sgd]
  batch: [32, 64]
  dropout: {{type: double, min: 0, max: 1, step: 0.1}}
  layers: {{type: categorical, values: [1, 2]}}
objectives: [loss, accuracy]
"
    ))
    .unwrap();
    let t = tune(&cell);
    assert_eq!(t.algorithm, Algorithm::Grid);
    assert_eq!(t.objectives, vec!["loss", "accuracy"]);
    // The objective follows objective_type; accuracy, an additional metric, is best high.
    assert_eq!(t.metric_strategies, vec![MetricStrategy::Min, MetricStrategy::Max]);
    assert_eq!((t.trials, t.parallel_trials, t.failed_trials), (16, 2, 4));
    let domains: Vec<_> = t.domains.iter().map(|(_, d)| d.clone()).collect();
    assert_eq!(domains[0], Domain::Double { min: 0.001, max: 0.1, step: Some(0.01) });
    assert_eq!(domains[1], Domain::Int { min: 1, max: 10, step: None });
    assert_eq!(domains[2], Domain::Categorical(vec!["adam".into(), "sgd".into()]));
    assert_eq!(domains[3], Domain::Discrete(vec!["32".into(), "64".into()]));
    assert_eq!(domains[4], Domain::Double { min: 0.0, max: 1.0, step: Some(0.1) });
    assert_eq!(domains[5], Domain::Categorical(vec!["1".into(), "2".into()]));
}

#[test]
fn deploy_needs_no_build_fields_and_defaults_the_model_uri() {
    let cell = parse("%%kaptain deploy\nmodel:\n  id: dev/mnist\n  version: \"3\"\n  framework: pytorch\n").unwrap();
    let StepSpec::Deploy(d) = &cell.step else { panic!() };
    assert_eq!(d.model_uri, "s3://kaptain/models/dev/mnist/3");
    assert_eq!(d.autoscale, 2);
    assert!(!d.replace && !d.keep_serving_credentials);
}

#[test]
fn settings_sit_under_the_cell_config() {
    let context = ParseContext {
        settings: Some("{\"namespace\": \"team-a\", \"s3_bucket\": \"models\", \"serving_api\": \"serving.kserve.io/v1beta1\"}".into()),
        ..ParseContext::default()
    };
    let cell = parse_cell(&format!("%%kaptain build\n{MODEL}config:\n  s3_bucket: other\n"), &context).unwrap();
    assert_eq!(cell.config.namespace, "team-a");
    assert_eq!(cell.config.s3_bucket, "other");
    assert_eq!(cell.config.serving_api, ServingApi::KServe);
}

/// (cell, what the message must contain): each names the field, the problem, the fix, the place.
const BAD_CELLS: &[(&str, &[&str])] = &[
    ("", &["does not start with `%%kaptain`"]),
    ("%%kaptain\nmodel: {}", &["step: is missing", "line 1"]),
    ("%%kaptain trian\n", &["\"trian\" is not a step", "did you mean train?", "line 1, column 11"]),
    ("%%kaptain train --wokers 3\n", &["--wokers: is not a train flag", "did you mean --workers?", "column 17"]),
    ("%%kaptain train --workers\n", &["--workers: needs a value"]),
    ("%%kaptain train --workers 0\nMODEL", &["--workers: 0 is out of range", "from 1 to 64", "line 1"]),
    ("%%kaptain train --workers two\nMODEL", &["--workers: expected a whole number, found a string"]),
    ("%%kaptain train 'unclosed\n", &["quote that is not closed"]),
    ("%%kaptain train\nMODELworkrs: 2\n", &["workrs: is not a known key", "did you mean `workers`?", "line 8, column 1"]),
    ("%%kaptain build\nMODELtrials: 3\n", &["trials: is not a build keyword", "it belongs to tune"]),
    ("%%kaptain train\nworkers: 2\n", &["model: is missing"]),
    ("%%kaptain train\nmodel:\n  framework: tensorflow\n", &["model: is missing `id`", "line 3"]),
    ("%%kaptain train\nmodel:\n  id: x\n  framework: tf2\n", &["model.framework", "\"tf2\" is not a supported framework", "use tensorflow or pytorch", "line 4, column 14"]),
    ("%%kaptain train\nmodel:\n  id: x\n  framework: tensorflow\n", &["is missing `main_file`"]),
    ("%%kaptain train\nmodel:\n  id: x\n  framwork: tensorflow\n", &["model.framwork: is not a known key", "did you mean `framework`?"]),
    ("%%kaptain train\nmodel:\n  id: x\n  framework: tensorflow\n  framework_version: 2.10\n", &["model.framework_version: expected a string, found a number", "quotes"]),
    ("%%kaptain train\nMODEL  extra_files: [data.csv, ../secret.py]\n", &["outside the notebook's directory"]),
    ("%%kaptain train\nmodel:\n  id: x\n  framework: tensorflow\n  main_file: t.py\n  image_name: reg.io/x:latest\n  base_image: b\n", &["model.image_name", "has a tag"]),
    ("%%kaptain train\nMODEL  labels:\n    kaptain.io/run-id: x\n", &["label kaptain sets itself"]),
    ("%%kaptain train\nMODEL  labels:\n    team: \"a b\"\n", &["not a valid label value"]),
    ("%%kaptain train\nMODELcpu: lots\n", &["cpu: \"lots\" is not a Kubernetes quantity"]),
    ("%%kaptain train\nMODELmemory: 2GB\n", &["memory: \"2GB\" is not a Kubernetes quantity"]),
    ("%%kaptain train\nMODELtimeout: soon\n", &["timeout: \"soon\" is not a duration"]),
    ("%%kaptain train\nMODELgpus: -1\n", &["gpus: -1 is out of range"]),
    ("%%kaptain train\nMODELhyperparameters:\n  \"bad name\": 1\n", &["not a usable hyperparameter name"]),
    ("%%kaptain train\nMODELconfig:\n  namespace: Team_A\n", &["config.namespace", "not a valid namespace"]),
    ("%%kaptain train\nMODELconfig:\n  s3_endpoint: minio:9000\n", &["config.s3_endpoint", "http://"]),
    ("%%kaptain train\nMODELconfig:\n  builder_cpu_request: 2\n", &["builder_cpu_request 2 is more than builder_cpu_limit 1"]),
    ("%%kaptain deploy\nmodel: {id: x, framework: tensorflow}\nconfig:\n  serving_api: seldon\n", &["config.serving_api", "serving.kserve.io/v1beta1"]),
    ("%%kaptain deploy\nmodel: {id: x, framework: tensorflow}\nmodel_uri: gs://bucket/model\n", &["model_uri", "not an s3:// URI"]),
    ("%%kaptain tune\nMODELobjectives: [acc]\n", &["hyperparameters", "has no search space"]),
    ("%%kaptain tune\nMODELhyperparameters:\n  lr: {min: 0.1, max: 0.01}\nobjectives: [acc]\n", &["hyperparameters.lr", "min 0.1 is not below max 0.01"]),
    ("%%kaptain tune\nMODELhyperparameters:\n  lr: {min: 0.1}\nobjectives: [acc]\n", &["needs min and max"]),
    ("%%kaptain tune\nMODELhyperparameters:\n  lr: [0.1]\n", &["objectives: is missing"]),
    ("%%kaptain tune\nMODELhyperparameters:\n  lr: [0.1]\nobjectives: [a, loss]\nmetric_strategies: {los: min}\n", &["metric_strategies.los", "not one of objectives", "add it to objectives"]),
    ("%%kaptain tune\nMODELhyperparameters:\n  lr: [0.1]\nobjectives: [a, loss]\nmetric_strategies: {loss: lowest}\n", &["metric_strategies.loss", "\"lowest\" is not a metric strategy", "min, max or latest"]),
    ("%%kaptain tune --parallel-trials 5 --trials 4\nMODELhyperparameters:\n  lr: [0.1]\nobjectives: [a]\n", &["parallel_trials", "5 is more than trials (4)"]),
    ("%%kaptain tune --algorithm bayesian-optimisation\nMODELhyperparameters:\n  lr: [0.1]\nobjectives: [a]\n", &["is not a Katib search algorithm", "did you mean"]),
    ("%%kaptain tune --algorithm enas\nMODELhyperparameters:\n  lr: [0.1]\nobjectives: [a]\n", &["neural architecture search"]),
    ("%%kaptain tune --algorithm grid\nMODELhyperparameters:\n  lr: {min: 0.1, max: 1}\nobjectives: [a]\n", &["needs a step for the grid algorithm"]),
    ("%%kaptain tune\nMODELhyperparameters:\n  lr.rate: [0.1]\nobjectives: [a]\n", &["not a usable hyperparameter name", "letters, digits and '_'"]),
    ("%%kaptain train\nmodel: [1, 2\n", &["is not valid YAML", "line 3"]),
    ("%%kaptain train\nMODEL---\na: 1\n", &["more than one YAML document"]),
    ("%%kaptain train\nmodel:\n  id: x\n  id: y\n", &["is not valid YAML", "duplicated key"]),
];

#[test]
fn bad_cells_get_messages_that_name_the_field_and_the_fix() {
    for (cell, expected) in BAD_CELLS {
        let cell = cell.replace("MODEL", MODEL);
        let message = error(&cell);
        for part in *expected {
            assert!(message.contains(part), "for cell:\n{cell}\nexpected {part:?} in:\n{message}");
        }
    }
}

#[test]
fn deep_and_huge_input_is_refused_with_a_message() {
    let deep = format!("%%kaptain train\nmodel: {}{}\n", "[".repeat(300), "]".repeat(300));
    assert!(error(&deep).contains("line 2"), "{}", error(&deep));
    let mut nested = String::from("%%kaptain train\nmodel:\n");
    for depth in 1..60 {
        nested.push_str(&format!("{}k{depth}:\n", "  ".repeat(depth)));
    }
    assert!(error(&nested).contains("nests deeper than"), "{}", error(&nested));
    let huge = format!("%%kaptain train\n{MODEL}# {}\n", "x".repeat(300 * 1024));
    assert!(error(&huge).contains("more than the 256 KiB"));
}

#[test]
fn namespace_from_the_front_end_must_agree_with_the_cell() {
    let context = ParseContext { namespace: Some("team-a".into()), ..ParseContext::default() };
    let ok = parse_cell(&format!("%%kaptain build\n{MODEL}"), &context).unwrap();
    assert_eq!(ok.config.namespace, "team-a");
    let clash = parse_cell(&format!("%%kaptain build\n{MODEL}config:\n  namespace: team-b\n"), &context).unwrap_err();
    assert!(clash.to_string().contains("config.namespace: is \"team-b\" but the namespace in use is \"team-a\""), "{clash}");
}

#[test]
fn metric_strategies_default_by_name_and_follow_the_cell() {
    let cell = parse(&format!(
        "%%kaptain tune\n{MODEL}hyperparameters:\n  lr: [0.1]\nobjectives: [accuracy, val_loss, Error_Rate, auc, throughput]\nmetric_strategies: {{throughput: latest}}\n"
    ))
    .unwrap();
    use MetricStrategy::*;
    assert_eq!(tune(&cell).metric_strategies, vec![Max, Min, Min, Max, Latest]);
}
