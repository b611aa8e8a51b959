//! The build step: registry, S3 and (optional) CA Secrets, and the kaniko Job that builds the
//! image from the context in S3 and pushes it.

use serde_json::{json, Value};

use super::pod::template_meta;
use super::{object, Ctx, Manifest, Meta};
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
pub(super) fn credential_secret(ctx: &Ctx<'_>, name: String, step: Step, type_: &str, source: &str) -> (Meta, Value) {
    let mut meta = ctx.meta(name, step);
    meta.annotations.insert(CREDENTIALS_FROM_ANNOTATION.into(), source.into());
    (meta, json!({ "type": type_ }))
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
        let (meta, fields) = credential_secret(ctx, name, step, type_, source);
        objects.push(ctx.manifest(kinds::SECRET, step, Resource::BuildObjects, object(kinds::SECRET, &meta, fields)));
    };
    secret(names.registry_secret(), "kubernetes.io/dockerconfigjson", &config.registry_credentials_secret);
    secret(names.build_s3_secret(), "Opaque", &config.s3_credentials_secret);
    if let Some(ca) = &config.registry_ca_secret {
        secret(names.registry_ca_secret(), "Opaque", ca);
    }
    let mut meta = ctx.meta(names.build_job(), step);
    meta.annotations.insert(CONTEXT_CHECKSUM_ANNOTATION.into(), ctx.context.checksum.clone());
    objects.push(ctx.manifest(kinds::JOB, step, Resource::BuildObjects, object(kinds::JOB, &meta, json!({ "spec": kaniko_job_spec(ctx) }))));
    objects
}

/// `s3://bucket/prefix/<checksum>.tar.gz`: where the build context is uploaded.
pub fn context_uri(ctx: &Ctx<'_>) -> String {
    let config = &ctx.cell.config;
    let prefix = if config.context_prefix.is_empty() { String::new() } else { format!("{}/", config.context_prefix) };
    format!("s3://{}/{prefix}{}.tar.gz", config.s3_bucket, ctx.context.checksum)
}

fn kaniko_job_spec(ctx: &Ctx<'_>) -> Value {
    let config = &ctx.cell.config;
    let names = &ctx.names;
    let mut args = vec![
        "--dockerfile=Dockerfile".to_string(),
        format!("--context={}", context_uri(ctx)),
        format!("--destination={}", ctx.image()),
    ];
    // S3 credentials only through secretKeyRef: never a literal value in the pod spec.
    let secret_env = |name: &str| {
        json!({ "name": name, "valueFrom": { "secretKeyRef": { "key": name, "name": names.build_s3_secret(), "optional": false } } })
    };
    let env = json!([
        secret_env(ACCESS_KEY_ID),
        secret_env(SECRET_ACCESS_KEY),
        { "name": "AWS_REGION", "value": config.s3_region },
        { "name": "S3_ENDPOINT", "value": config.s3_endpoint },
        { "name": "S3_FORCE_PATH_STYLE", "value": "true" },
    ]);
    let secret_volume = |name: &str, secret: String, key: &str, path: &str| {
        json!({ "name": name, "secret": { "items": [{ "key": key, "path": path }], "secretName": secret } })
    };
    let mount = |name: &str, path: &str| json!({ "mountPath": path, "name": name, "readOnly": true });
    let mut volumes = vec![secret_volume("docker-config", names.registry_secret(), DOCKER_CONFIG_KEY, "config.json")];
    let mut mounts = vec![mount("docker-config", DOCKER_CONFIG_DIR)];
    if config.registry_ca_secret.is_some() {
        volumes.push(secret_volume("registry-ca", names.registry_ca_secret(), CA_CERT_KEY, CA_CERT_KEY));
        mounts.push(mount("registry-ca", CA_DIR));
        args.push(format!("--registry-certificate={}={CA_DIR}/{CA_CERT_KEY}", registry_host(ctx)));
    }
    let builder = &config.builder;
    json!({
        "backoffLimit": 0,
        "template": {
            "metadata": template_meta(ctx, Step::Build),
            "spec": {
                "containers": [{
                    "args": args,
                    "env": env,
                    "image": config.kaniko_image,
                    "name": "kaniko",
                    "resources": {
                        "limits": { "cpu": builder.cpu_limit.as_str(), "memory": builder.memory_limit.as_str() },
                        "requests": { "cpu": builder.cpu_request.as_str(), "memory": builder.memory_request.as_str() },
                    },
                    "volumeMounts": mounts,
                }],
                "restartPolicy": "Never",
                "volumes": volumes,
            },
        },
    })
}
