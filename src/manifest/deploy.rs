//! The deploy step: the S3 Secret KFServing reads the model with, the ServiceAccount that
//! carries it, and the InferenceService.

use k8s_openapi::api::core::v1::{ObjectReference, ServiceAccount};
use serde_json::{json, Value};

use super::build::credential_secret;
use super::pod::{container_name, requirements};
use super::{typed, typed_meta, Ctx, Manifest};
use crate::kinds::{self, KindInfo};
use crate::lifecycle::Resource;
use crate::spec::{DeploySpec, ServingApi, Step};

/// Knative's autoscaler target: concurrent requests per replica.
const AUTOSCALE_TARGET_ANNOTATION: &str = "autoscaling.knative.dev/target";

pub fn inference_service_kind(api: ServingApi) -> KindInfo {
    match api {
        ServingApi::KfServing => kinds::KFSERVING_INFERENCE_SERVICE,
        ServingApi::KServe => kinds::KSERVE_INFERENCE_SERVICE,
    }
}

pub(super) fn objects(ctx: &Ctx<'_>, spec: &DeploySpec) -> Vec<Manifest> {
    let config = &ctx.cell.config;
    let names = &ctx.names;
    let step = Step::Deploy;
    let group = config.serving_api.group();
    let flag = |on: bool| if on { "1" } else { "0" }.to_string();

    let mut secret = credential_secret(ctx, names.serving_secret(), step, "Opaque", &config.s3_credentials_secret);
    let annotations = secret.metadata.annotations.get_or_insert_with(Default::default);
    annotations.insert(format!("{group}/s3-endpoint"), config.s3_host().to_string());
    annotations.insert(format!("{group}/s3-usehttps"), flag(config.s3_uses_https()));
    annotations.insert(format!("{group}/s3-region"), config.s3_region.clone());
    annotations.insert(format!("{group}/s3-verifyssl"), flag(config.s3_verify_ssl));

    let account = ServiceAccount {
        metadata: ctx.meta(names.serving_account(), step),
        secrets: Some(vec![ObjectReference { name: Some(names.serving_secret()), ..Default::default() }]),
        ..Default::default()
    };

    let kind = inference_service_kind(config.serving_api);
    let model = &ctx.cell.model;
    let mut predictor_model = json!({ "storageUri": spec.model_uri });
    if let Some(version) = &model.framework_version {
        predictor_model["runtimeVersion"] = json!(version);
    }
    if let Some(resources) = requirements(&spec.resources) {
        predictor_model["resources"] = serde_json::to_value(resources).unwrap_or(Value::Null);
    }
    let mut meta = ctx.meta(names.inference_service(), step);
    meta.annotations.get_or_insert_with(Default::default).insert(AUTOSCALE_TARGET_ANNOTATION.into(), spec.autoscale.to_string());
    let body = json!({
        "predictor": {
            "serviceAccountName": names.serving_account(),
            container_name(model.framework()): predictor_model,
        }
    });
    vec![
        ctx.manifest(kinds::SECRET, step, Resource::ServingCredentials, typed(kinds::SECRET, &secret)),
        ctx.manifest(kinds::SERVICE_ACCOUNT, step, Resource::ServingCredentials, typed(kinds::SERVICE_ACCOUNT, &account)),
        ctx.manifest(kind, step, Resource::InferenceService, typed_meta(kind, &meta, body)),
    ]
}
