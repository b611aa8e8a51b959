//! Pod templates and resources shared by the builders.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::Ctx;
use crate::spec::{Framework, Resources, Step};

/// Istio sidecars keep batch pods from completing; kaptain's pods never want one.
pub const ISTIO_INJECT_ANNOTATION: &str = "sidecar.istio.io/inject";
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// Requests equal limits: what the user asked for is what the pod gets, and GPUs (which
/// Kubernetes only takes as limits) are never shared.
pub fn requirements(resources: &Resources) -> Option<Value> {
    let mut limits = BTreeMap::new();
    if let Some(cpu) = &resources.cpu {
        limits.insert("cpu".to_string(), cpu.as_str().to_string());
    }
    if let Some(memory) = &resources.memory {
        limits.insert("memory".to_string(), memory.as_str().to_string());
    }
    let requests = limits.clone();
    if resources.gpus > 0 {
        limits.insert(GPU_RESOURCE.to_string(), resources.gpus.to_string());
    }
    if limits.is_empty() {
        return None;
    }
    let mut out = json!({ "limits": limits });
    if !requests.is_empty() {
        out["requests"] = json!(requests);
    }
    Some(out)
}

pub fn container_name(framework: Framework) -> &'static str {
    match framework {
        Framework::TensorFlow => "tensorflow",
        Framework::PyTorch => "pytorch",
    }
}

/// A pod template's metadata: the run labels, and no Istio sidecar.
pub fn template_meta(ctx: &Ctx<'_>, step: Step) -> Value {
    json!({
        "annotations": { ISTIO_INJECT_ANNOTATION: "false" },
        "labels": ctx.labels(step),
    })
}

/// The pod every training replica runs: the built image, the main file, the arguments. No
/// `restartPolicy`: the replica's is the one that counts, and the training operator warns
/// (`SetPodTemplateRestartPolicy`) on every pod whose template sets one too.
pub fn training_template(ctx: &Ctx<'_>, step: Step, args: Vec<String>, resources: &Resources) -> Value {
    let model = &ctx.cell.model;
    let mut container = json!({});
    if !args.is_empty() {
        container["args"] = json!(args);
    }
    container["command"] = json!(["python", "-u", model.main_file.as_deref().unwrap_or_default()]);
    container["image"] = json!(ctx.image());
    container["name"] = json!(container_name(model.framework()));
    if let Some(resources) = requirements(resources) {
        container["resources"] = resources;
    }
    json!({
        "metadata": template_meta(ctx, step),
        "spec": {
            "containers": [container],
            "imagePullSecrets": [{ "name": ctx.cell.config.registry_credentials_secret }],
        },
    })
}
