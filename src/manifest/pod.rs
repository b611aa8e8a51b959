//! Pod templates and resources shared by the builders.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, LocalObjectReference, PodSpec, PodTemplateSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Ctx;
use crate::spec::{Framework, Resources, Step};

/// Istio sidecars keep batch pods from completing; kaptain's pods never want one.
pub const ISTIO_INJECT_ANNOTATION: &str = "sidecar.istio.io/inject";
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

pub fn quantity(text: &str) -> K8sQuantity {
    K8sQuantity(text.to_string())
}

/// Requests equal limits: what the user asked for is what the pod gets, and GPUs (which
/// Kubernetes only takes as limits) are never shared.
pub fn requirements(resources: &Resources) -> Option<ResourceRequirements> {
    let mut limits = BTreeMap::new();
    if let Some(cpu) = &resources.cpu {
        limits.insert("cpu".to_string(), quantity(cpu.as_str()));
    }
    if let Some(memory) = &resources.memory {
        limits.insert("memory".to_string(), quantity(memory.as_str()));
    }
    let requests = (!limits.is_empty()).then(|| limits.clone());
    if resources.gpus > 0 {
        limits.insert(GPU_RESOURCE.to_string(), quantity(&resources.gpus.to_string()));
    }
    (!limits.is_empty()).then(|| ResourceRequirements { limits: Some(limits), requests, ..Default::default() })
}

pub fn container_name(framework: Framework) -> &'static str {
    match framework {
        Framework::TensorFlow => "tensorflow",
        Framework::PyTorch => "pytorch",
    }
}

/// The pod every training replica runs: the built image, the main file, the arguments.
pub fn training_template(ctx: &Ctx<'_>, step: Step, args: Vec<String>, resources: &Resources) -> PodTemplateSpec {
    let model = &ctx.cell.model;
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(ctx.labels(step)),
            annotations: Some([(ISTIO_INJECT_ANNOTATION.to_string(), "false".to_string())].into()),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: container_name(model.framework()).into(),
                image: Some(ctx.image()),
                command: Some(vec!["python".into(), "-u".into(), model.main_file.clone().unwrap_or_default()]),
                args: (!args.is_empty()).then_some(args),
                resources: requirements(resources),
                ..Default::default()
            }],
            image_pull_secrets: Some(vec![LocalObjectReference {
                name: ctx.cell.config.registry_credentials_secret.clone(),
            }]),
            restart_policy: Some("Never".into()),
            ..Default::default()
        }),
    }
}
