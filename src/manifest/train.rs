//! The train step: one TFJob (Chief + Workers) or PyTorchJob (Master + Workers).

use serde_json::{json, Map, Value};

use super::pod::training_template;
use super::{with_spec, Ctx, Manifest};
use crate::kinds::{self, KindInfo};
use crate::lifecycle::Resource;
use crate::spec::{Framework, Resources, Step, TrainSpec};

pub fn kind(framework: Framework) -> KindInfo {
    match framework {
        Framework::TensorFlow => kinds::TFJOB,
        Framework::PyTorch => kinds::PYTORCHJOB,
    }
}

/// What a TFJob or PyTorchJob needs, for train and for tune's trial template alike.
pub(super) struct JobShape<'a> {
    pub args: Vec<String>,
    pub resources: &'a Resources,
    pub workers: u32,
    pub ttl_seconds_after_finished: Option<u32>,
    pub timeout_seconds: Option<u32>,
}

/// `spec` of a TFJob / PyTorchJob: one coordinating replica, `workers - 1` workers.
pub(super) fn job_spec(ctx: &Ctx<'_>, step: Step, shape: JobShape<'_>) -> Value {
    let framework = ctx.cell.model.framework();
    let template = training_template(ctx, step, shape.args, shape.resources);
    let (replicas_key, coordinator) = match framework {
        Framework::TensorFlow => ("tfReplicaSpecs", "Chief"),
        Framework::PyTorch => ("pytorchReplicaSpecs", "Master"),
    };
    let mut replicas = Map::new();
    replicas.insert(coordinator.into(), json!({ "replicas": 1, "restartPolicy": "Never", "template": template }));
    if shape.workers > 1 {
        replicas.insert("Worker".into(), json!({ "replicas": shape.workers - 1, "restartPolicy": "Never", "template": template }));
    }
    // Running pods are removed when the job ends (they hold GPUs); finished pods stay for logs.
    let mut run_policy = json!({ "cleanPodPolicy": "Running" });
    if let Some(ttl) = shape.ttl_seconds_after_finished {
        run_policy["ttlSecondsAfterFinished"] = json!(ttl);
    }
    if let Some(timeout) = shape.timeout_seconds {
        run_policy["activeDeadlineSeconds"] = json!(timeout);
    }
    json!({ "runPolicy": run_policy, replicas_key: replicas })
}

/// Hyperparameters as `--name=value`, then the extra args.
pub(super) fn arguments<'a>(hyperparameters: impl Iterator<Item = (&'a str, String)>, args: &[String]) -> Vec<String> {
    hyperparameters.map(|(name, value)| format!("--{name}={value}")).chain(args.iter().cloned()).collect()
}

pub(super) fn training_job(ctx: &Ctx<'_>, spec: &TrainSpec) -> Manifest {
    let kind = kind(ctx.cell.model.framework());
    let shape = JobShape {
        args: arguments(spec.hyperparameters.iter().map(|(k, v)| (k.as_str(), v.clone())), &spec.args),
        resources: &spec.resources,
        workers: spec.workers,
        ttl_seconds_after_finished: spec.ttl_seconds_after_finished,
        timeout_seconds: spec.timeout_seconds,
    };
    let object = with_spec(kind, &ctx.meta(ctx.names.training_job(), Step::Train), job_spec(ctx, Step::Train, shape));
    ctx.manifest(kind, Step::Train, Resource::TrainingJob, object)
}
