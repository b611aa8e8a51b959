//! The deploy step: the S3 Secret KFServing reads the model with, the ServiceAccount that
//! carries it, and the InferenceService.

use serde_json::json;

use super::build::credential_secret;
use super::pod::{container_name, requirements};
use super::{object, with_spec, Ctx, Manifest};
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

    let (mut secret_meta, secret_fields) = credential_secret(ctx, names.serving_secret(), step, "Opaque", &config.s3_credentials_secret);
    let annotations = &mut secret_meta.annotations;
    annotations.insert(format!("{group}/s3-endpoint"), config.s3_host().to_string());
    annotations.insert(format!("{group}/s3-usehttps"), flag(config.s3_uses_https()));
    annotations.insert(format!("{group}/s3-region"), config.s3_region.clone());
    annotations.insert(format!("{group}/s3-verifyssl"), flag(config.s3_verify_ssl));

    let account = json!({ "secrets": [{ "name": names.serving_secret() }] });

    let kind = inference_service_kind(config.serving_api);
    let model = &ctx.cell.model;
    let mut predictor_model = json!({ "storageUri": spec.model_uri });
    if let Some(version) = &model.framework_version {
        predictor_model["runtimeVersion"] = json!(version);
    }
    if let Some(resources) = requirements(&spec.resources) {
        predictor_model["resources"] = resources;
    }
    let mut meta = ctx.meta(names.inference_service(), step);
    meta.annotations.insert(AUTOSCALE_TARGET_ANNOTATION.into(), spec.autoscale.to_string());
    let body = json!({
        "predictor": {
            "serviceAccountName": names.serving_account(),
            container_name(model.framework()): predictor_model,
        }
    });
    vec![
        ctx.manifest(kinds::SECRET, step, Resource::ServingCredentials, object(kinds::SECRET, &secret_meta, secret_fields)),
        ctx.manifest(
            kinds::SERVICE_ACCOUNT,
            step,
            Resource::ServingCredentials,
            object(kinds::SERVICE_ACCOUNT, &ctx.meta(names.serving_account(), step), account),
        ),
        ctx.manifest(kind, step, Resource::InferenceService, with_spec(kind, &meta, body)),
    ]
}
