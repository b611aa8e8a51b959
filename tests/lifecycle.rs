//! The lifecycle table, exhaustively: every step x outcome x switch (as a flag, as a cell
//! keyword and as a KAPTAIN_SDK_* variable), checked against DESIGN §1 written out here a
//! second time, independently of `kaptain::lifecycle::TABLE`.

use kaptain::identity::RunId;
use kaptain::lifecycle::{Action, Outcome, PlanEntry};
use kaptain::{ops, Options};

const MODEL_BUILD: &str = "model:\n  id: dev/mnist\n  framework: FRAMEWORK\n  main_file: trainer.py\n  image_name: registry.example.com/dev/mnist\n  base_image: base:1\n";
const MODEL_DEPLOY: &str = "model:\n  id: dev/mnist\n  framework: tensorflow\n";

#[derive(Clone, Copy, Debug)]
struct Switches {
    force_cleanup: bool,
    delete_experiment: bool,
    keep_serving_credentials: bool,
}

/// DESIGN §1, read as a person reads the table.
fn expected(entry: &PlanEntry, step_of_object: &str, run_step: &str, outcome: Outcome, s: Switches) -> Action {
    use Action::*;
    // A train or tune run that ends succeeded or failed had its build phase succeed.
    let outcome = if step_of_object == "build" && run_step != "build" && outcome != Outcome::Interrupted {
        Outcome::Succeeded
    } else {
        outcome
    };
    if outcome == Outcome::Interrupted {
        return Delete;
    }
    let ok = outcome == Outcome::Succeeded;
    match (entry.kind.kind, step_of_object) {
        ("Secret" | "Job", "build") => if ok { Delete } else { Keep },
        ("TFJob" | "PyTorchJob", _) => if s.force_cleanup { Delete } else { Keep },
        ("Experiment", _) => if ok && s.delete_experiment { Delete } else { Keep },
        ("Secret" | "ServiceAccount", "deploy") => if ok && !s.keep_serving_credentials { Delete } else { Keep },
        ("InferenceService", _) => Keep,
        other => panic!("no row of the table covers {other:?}"),
    }
}

#[derive(Clone, Copy, Debug)]
enum Via {
    Flag,
    Keyword,
    Env,
}

/// Builds the cell for a step with the switches set `via` the given route.
fn cell(step: &str, framework: &str, serving: &str, s: Switches, via: Via) -> (String, Vec<(String, String)>) {
    let mut flags = String::new();
    let mut body = String::new();
    let mut env = Vec::new();
    let mut set = |keyword: &str, variable: &str, on: bool| match via {
        Via::Flag if on => flags.push_str(&format!(" --{}", keyword.replace('_', "-"))),
        Via::Flag => {}
        Via::Keyword => body.push_str(&format!("{keyword}: {on}\n")),
        Via::Env => env.push((variable.to_string(), if on { "yes" } else { "no" }.to_string())),
    };
    match step {
        "train" => set("force_cleanup", "KAPTAIN_SDK_FORCE_CLEANUP", s.force_cleanup),
        "tune" => set("delete_experiment", "KAPTAIN_SDK_DELETE_EXPERIMENT", s.delete_experiment),
        "deploy" => set("keep_serving_credentials", "KAPTAIN_SDK_KEEP_SERVING_CREDENTIALS", s.keep_serving_credentials),
        _ => {}
    }
    let model = if step == "deploy" { MODEL_DEPLOY.to_string() } else { MODEL_BUILD.replace("FRAMEWORK", framework) };
    let extra = match step {
        "tune" => "hyperparameters:\n  lr: {min: 0.01, max: 0.1}\nobjectives: [accuracy]\n".to_string(),
        "deploy" => format!("config:\n  serving_api: {serving}\n"),
        _ => String::new(),
    };
    (format!("%%kaptain {step}{flags}\n{model}{extra}{body}"), env)
}

#[test]
fn every_step_outcome_and_switch_agrees_with_the_design() {
    let run_id = RunId::parse("r1").unwrap();
    let cases = [
        ("build", "tensorflow", ""),
        ("train", "tensorflow", ""),
        ("train", "pytorch", ""),
        ("tune", "tensorflow", ""),
        ("tune", "pytorch", ""),
        ("deploy", "tensorflow", "serving.kubeflow.org/v1beta1"),
        ("deploy", "tensorflow", "serving.kserve.io/v1beta1"),
    ];
    let mut checked = 0;
    for (step, framework, serving) in cases {
        for bits in 0..8u8 {
            let s = Switches { force_cleanup: bits & 1 != 0, delete_experiment: bits & 2 != 0, keep_serving_credentials: bits & 4 != 0 };
            for via in [Via::Flag, Via::Keyword, Via::Env] {
                let (text, env) = cell(step, framework, serving, s, via);
                let options = Options { env, ..Options::default() };
                let rendered = ops::render(&text, &options, &run_id).unwrap_or_else(|e| panic!("{e}\n{text}"));
                for outcome in Outcome::ALL {
                    let plan = ops::plan(&text, &options, &run_id, outcome).unwrap();
                    assert_eq!(plan.len(), rendered.len(), "one entry per rendered object");
                    for entry in &plan {
                        let object = rendered.iter().find(|m| m.name == entry.name && m.kind == entry.kind).expect("planned object was rendered");
                        let want = expected(entry, object.step.as_str(), step, outcome, s);
                        assert_eq!(entry.action, want, "{step} {framework} {serving} {outcome:?} {s:?} via {via:?}: {} {}\n{}", entry.kind, entry.name, entry.reason);
                        checked += 1;
                    }
                    // DESIGN §1's serving caveat: said once, on a serving credential, exactly
                    // when the credentials go and the InferenceService stays.
                    let caveats: Vec<&PlanEntry> = plan.iter().filter(|e| e.caveat.is_some()).collect();
                    let want = step == "deploy" && outcome == Outcome::Succeeded && !s.keep_serving_credentials;
                    assert_eq!(caveats.len(), usize::from(want), "{step} {outcome:?} {s:?} via {via:?}: {caveats:?}");
                    if let Some(entry) = caveats.first() {
                        assert!(matches!(entry.kind.kind, "Secret" | "ServiceAccount") && entry.action == Action::Delete, "{entry:?}");
                        let text = entry.caveat.as_deref().unwrap_or_default();
                        assert!(text.contains("keep_serving_credentials") && text.contains("KAPTAIN_SDK_KEEP_SERVING_CREDENTIALS"), "{text}");
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} decisions checked");
}

#[test]
fn the_cell_wins_over_the_environment() {
    let run_id = RunId::parse("r1").unwrap();
    let text = format!("%%kaptain train\n{}force_cleanup: false\n", MODEL_BUILD.replace("FRAMEWORK", "tensorflow"));
    let options = Options { env: vec![("KAPTAIN_SDK_FORCE_CLEANUP".into(), "true".into())], ..Options::default() };
    let plan = ops::plan(&text, &options, &run_id, Outcome::Succeeded).unwrap();
    let job = plan.iter().find(|e| e.kind.kind == "TFJob").unwrap();
    assert_eq!(job.action, Action::Keep);
    assert!(job.reason.contains("force_cleanup is off"), "{}", job.reason);
}

#[test]
fn deletes_come_consumers_first() {
    let run_id = RunId::parse("r1").unwrap();
    let text = format!("%%kaptain train\n{}", MODEL_BUILD.replace("FRAMEWORK", "tensorflow"));
    let plan = ops::plan(&text, &Options::default(), &run_id, Outcome::Interrupted).unwrap();
    let kinds: Vec<&str> = plan.iter().map(|e| e.kind.kind).collect();
    assert_eq!(kinds, ["TFJob", "Job", "Secret", "Secret"]);
}

#[test]
fn ttl_comes_from_the_environment_when_the_cell_is_silent() {
    let run_id = RunId::parse("r1").unwrap();
    let text = format!("%%kaptain train\n{}", MODEL_BUILD.replace("FRAMEWORK", "pytorch"));
    let options = Options { env: vec![("KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED".into(), "600".into())], ..Options::default() };
    let objects = ops::render(&text, &options, &run_id).unwrap();
    let job = objects.iter().find(|m| m.kind.kind == "PyTorchJob").unwrap();
    assert_eq!(job.object["spec"]["runPolicy"]["ttlSecondsAfterFinished"], 600);
    let text = format!("{text}ttl_seconds_after_finished: 60\n");
    let objects = ops::render(&text, &options, &run_id).unwrap();
    let job = objects.iter().find(|m| m.kind.kind == "PyTorchJob").unwrap();
    assert_eq!(job.object["spec"]["runPolicy"]["ttlSecondsAfterFinished"], 60);
}
