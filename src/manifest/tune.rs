//! The tune step: a Katib Experiment whose trials are TFJobs or PyTorchJobs.

use serde_json::{json, Value};

use super::train::{arguments, job_spec, kind as job_kind, JobShape};
use super::pod::container_name;
use super::{with_spec, Ctx, Manifest};
use crate::kinds;
use crate::lifecycle::Resource;
use crate::spec::{Domain, Step, TuneSpec};

/// The training operator labels the Chief / Master pod with this; Katib reads its metrics.
const PRIMARY_POD_LABEL: (&str, &str) = ("training.kubeflow.org/job-role", "master");
const SUCCESS_CONDITION: &str = r#"status.conditions.#(type=="Succeeded")#|#(status=="True")#"#;
const FAILURE_CONDITION: &str = r#"status.conditions.#(type=="Failed")#|#(status=="True")#"#;

fn parameter(name: &str, domain: &Domain) -> Value {
    let (kind, space) = match domain {
        Domain::Double { min, max, step } => {
            let mut space = json!({ "min": min.to_string(), "max": max.to_string() });
            if let Some(step) = step {
                space["step"] = json!(step.to_string());
            }
            ("double", space)
        }
        Domain::Int { min, max, step } => {
            let mut space = json!({ "min": min.to_string(), "max": max.to_string() });
            if let Some(step) = step {
                space["step"] = json!(step.to_string());
            }
            ("int", space)
        }
        Domain::Categorical(values) => ("categorical", json!({ "list": values })),
        Domain::Discrete(values) => ("discrete", json!({ "list": values })),
    };
    json!({ "name": name, "parameterType": kind, "feasibleSpace": space })
}

pub(super) fn experiment(ctx: &Ctx<'_>, spec: &TuneSpec) -> Manifest {
    let framework = ctx.cell.model.framework();
    let trial_kind = job_kind(framework);
    let shape = JobShape {
        args: arguments(
            spec.domains.iter().map(|(name, _)| (name.as_str(), format!("${{trialParameters.{name}}}"))),
            &spec.args,
        ),
        resources: &spec.resources,
        workers: spec.workers,
        ttl_seconds_after_finished: spec.ttl_seconds_after_finished,
        timeout_seconds: spec.timeout_seconds,
    };
    let trial_spec = json!({
        "apiVersion": trial_kind.api_version(),
        "kind": trial_kind.kind,
        "metadata": { "labels": ctx.labels(Step::Tune) },
        "spec": job_spec(ctx, Step::Tune, shape),
    });
    let mut objective = json!({
        "type": spec.objective_type.as_str(),
        "objectiveMetricName": spec.objectives[0],
    });
    if let Some(goal) = spec.objective_goal {
        objective["goal"] = json!(goal);
    }
    if spec.objectives.len() > 1 {
        objective["additionalMetricNames"] = json!(spec.objectives[1..]);
    }
    // Explicit for every metric: Katib would give additional ones the objective's type.
    objective["metricStrategies"] = spec
        .objectives
        .iter()
        .zip(&spec.metric_strategies)
        .map(|(name, strategy)| json!({ "name": name, "value": strategy.as_str() }))
        .collect();
    let mut algorithm = json!({ "algorithmName": spec.algorithm.katib_name() });
    if !spec.algorithm_settings.is_empty() {
        algorithm["algorithmSettings"] =
            spec.algorithm_settings.iter().map(|(name, value)| json!({ "name": name, "value": value })).collect();
    }
    let body = json!({
        "objective": objective,
        "algorithm": algorithm,
        "parallelTrialCount": spec.parallel_trials,
        "maxTrialCount": spec.trials,
        "maxFailedTrialCount": spec.failed_trials,
        "metricsCollectorSpec": { "collector": { "kind": "StdOut" } },
        "parameters": spec.domains.iter().map(|(name, domain)| parameter(name, domain)).collect::<Vec<_>>(),
        "trialTemplate": {
            "primaryContainerName": container_name(framework),
            "primaryPodLabels": { PRIMARY_POD_LABEL.0: PRIMARY_POD_LABEL.1 },
            "successCondition": SUCCESS_CONDITION,
            "failureCondition": FAILURE_CONDITION,
            "trialParameters": spec.domains.iter().map(|(name, _)| json!({
                "name": name,
                "description": format!("{name} chosen by {}", spec.algorithm.katib_name()),
                "reference": name,
            })).collect::<Vec<_>>(),
            "trialSpec": trial_spec,
        },
    });
    let object = with_spec(kinds::EXPERIMENT, &ctx.meta(ctx.names.experiment(), Step::Tune), body);
    ctx.manifest(kinds::EXPERIMENT, Step::Tune, Resource::Experiment, object)
}
