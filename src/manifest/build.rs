//! The build step: registry, S3 and (optional) CA Secrets, and the kaniko Job that builds the
//! image from the context in S3 and pushes it.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, KeyToPath, PodSpec, PodTemplateSpec, ResourceRequirements, Secret,
    SecretKeySelector, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::pod::{quantity, ISTIO_INJECT_ANNOTATION};
use super::{typed, Ctx, Manifest};
use crate::identity::{CONTEXT_CHECKSUM_ANNOTATION, CREDENTIALS_FROM_ANNOTATION};
use crate::kinds;
use crate::lifecycle::Resource;
use crate::spec::Step;

pub const DOCKER_CONFIG_KEY: &str = ".dockerconfigjson";
pub const CA_CERT_KEY: &str = "ca.crt";
pub const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
const DOCKER_CONFIG_DIR: &str = "/kaniko/.docker";
const CA_DIR: &str = "/kaniko/ssl/registry";

/// A per-run Secret whose data the run copies from `source` when it creates it.
pub(super) fn credential_secret(ctx: &Ctx<'_>, name: String, step: Step, type_: &str, source: &str) -> Secret {
    let mut meta = ctx.meta(name, step);
    meta.annotations.get_or_insert_with(Default::default).insert(CREDENTIALS_FROM_ANNOTATION.into(), source.into());
    Secret { metadata: meta, type_: Some(type_.into()), ..Default::default() }
}

/// The registry host the image goes to: `registry_url`, else the first part of the image name
/// when it names a host, else Docker Hub.
pub fn registry_host(ctx: &Ctx<'_>) -> String {
    if let Some(url) = &ctx.cell.config.registry_url {
        return url.clone();
    }
    let image = ctx.cell.model.image_name.as_deref().unwrap_or_default();
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first.to_string(),
        _ => "index.docker.io".to_string(),
    }
}

pub(super) fn objects(ctx: &Ctx<'_>) -> Vec<Manifest> {
    let config = &ctx.cell.config;
    let names = &ctx.names;
    let step = Step::Build;
    let mut objects = Vec::new();
    let mut secret = |name: String, type_: &str, source: &str| {
        let secret = credential_secret(ctx, name, step, type_, source);
        objects.push(ctx.manifest(kinds::SECRET, step, Resource::BuildObjects, typed(kinds::SECRET, &secret)));
    };
    secret(names.registry_secret(), "kubernetes.io/dockerconfigjson", &config.registry_credentials_secret);
    secret(names.build_s3_secret(), "Opaque", &config.s3_credentials_secret);
    if let Some(ca) = &config.registry_ca_secret {
        secret(names.registry_ca_secret(), "Opaque", ca);
    }
    let job = kaniko_job(ctx);
    objects.push(ctx.manifest(kinds::JOB, step, Resource::BuildObjects, typed(kinds::JOB, &job)));
    objects
}

/// `s3://bucket/prefix/<checksum>.tar.gz`: where the build context is uploaded.
pub fn context_uri(ctx: &Ctx<'_>) -> String {
    let config = &ctx.cell.config;
    let prefix = if config.context_prefix.is_empty() { String::new() } else { format!("{}/", config.context_prefix) };
    format!("s3://{}/{prefix}{}.tar.gz", config.s3_bucket, ctx.context.checksum)
}

fn kaniko_job(ctx: &Ctx<'_>) -> Job {
    let config = &ctx.cell.config;
    let names = &ctx.names;
    let registry = registry_host(ctx);
    let mut args = vec![
        "--dockerfile=Dockerfile".to_string(),
        format!("--context={}", context_uri(ctx)),
        format!("--destination={}", ctx.image()),
    ];
    let secret_env = |name: &str, secret: String| EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector { name: secret, key: name.into(), optional: Some(false) }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let plain_env = |name: &str, value: String| EnvVar { name: name.into(), value: Some(value), ..Default::default() };
    let env = vec![
        secret_env(ACCESS_KEY_ID, names.build_s3_secret()),
        secret_env(SECRET_ACCESS_KEY, names.build_s3_secret()),
        plain_env("AWS_REGION", config.s3_region.clone()),
        plain_env("S3_ENDPOINT", config.s3_endpoint.clone()),
        plain_env("S3_FORCE_PATH_STYLE", "true".into()),
    ];
    let secret_volume = |name: &str, secret: String, key: &str, path: &str| Volume {
        name: name.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret),
            items: Some(vec![KeyToPath { key: key.into(), path: path.into(), mode: None }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mount = |name: &str, path: &str| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(true),
        ..Default::default()
    };
    let mut volumes = vec![secret_volume("docker-config", names.registry_secret(), super::build::DOCKER_CONFIG_KEY, "config.json")];
    let mut mounts = vec![mount("docker-config", DOCKER_CONFIG_DIR)];
    if config.registry_ca_secret.is_some() {
        volumes.push(secret_volume("registry-ca", names.registry_ca_secret(), CA_CERT_KEY, CA_CERT_KEY));
        mounts.push(mount("registry-ca", CA_DIR));
        args.push(format!("--registry-certificate={registry}={CA_DIR}/{CA_CERT_KEY}"));
    }
    let builder = &config.builder;
    let resources = ResourceRequirements {
        limits: Some([("cpu".into(), quantity(builder.cpu_limit.as_str())), ("memory".into(), quantity(builder.memory_limit.as_str()))].into()),
        requests: Some([("cpu".into(), quantity(builder.cpu_request.as_str())), ("memory".into(), quantity(builder.memory_request.as_str()))].into()),
        ..Default::default()
    };
    let mut meta = ctx.meta(names.build_job(), Step::Build);
    meta.annotations.get_or_insert_with(Default::default).insert(CONTEXT_CHECKSUM_ANNOTATION.into(), ctx.context.checksum.clone());
    Job {
        metadata: meta,
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(ctx.labels(Step::Build)),
                    annotations: Some([(ISTIO_INJECT_ANNOTATION.to_string(), "false".to_string())].into()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![Container {
                        name: "kaniko".into(),
                        image: Some(config.kaniko_image.clone()),
                        args: Some(args),
                        env: Some(env),
                        volume_mounts: Some(mounts),
                        resources: Some(resources),
                        ..Default::default()
                    }],
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}
