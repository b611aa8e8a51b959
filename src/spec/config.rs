//! Build and cluster settings: the cell's `config:` over JupyterLab settings over defaults.

use super::error::SpecError;
use super::quantity::Quantity;
use super::yaml::Node;
use crate::identity;

/// Which InferenceService API the cluster serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServingApi {
    /// KFServing, the API the Kaptain SDK used.
    #[default]
    KfServing,
    /// KServe, the current name of the same API.
    KServe,
}

impl ServingApi {
    pub const ALL: [ServingApi; 2] = [ServingApi::KfServing, ServingApi::KServe];

    pub fn group(self) -> &'static str {
        match self {
            ServingApi::KfServing => "serving.kubeflow.org",
            ServingApi::KServe => "serving.kserve.io",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            ServingApi::KfServing => "serving.kubeflow.org/v1beta1",
            ServingApi::KServe => "serving.kserve.io/v1beta1",
        }
    }

    fn parse(text: &str) -> Option<ServingApi> {
        ServingApi::ALL.into_iter().find(|api| api.api_version() == text || api.group() == text)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuilderResources {
    pub cpu_limit: Quantity,
    pub cpu_request: Quantity,
    pub memory_limit: Quantity,
    pub memory_request: Quantity,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub namespace: String,
    /// The registry host the image is pushed to; by default the host in `model.image_name`.
    pub registry_url: Option<String>,
    /// Source Secret (kubernetes.io/dockerconfigjson) the build's registry credentials are
    /// copied from; also the training pods' imagePullSecret.
    pub registry_credentials_secret: String,
    /// Source Secret holding the registry's CA certificate under `ca.crt`, if the registry
    /// uses a private CA.
    pub registry_ca_secret: Option<String>,
    /// Source Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for S3 / MinIO.
    pub s3_credentials_secret: String,
    pub s3_endpoint: String,
    pub s3_region: String,
    pub s3_bucket: String,
    pub s3_verify_ssl: bool,
    /// Key prefix of build contexts in the bucket.
    pub context_prefix: String,
    pub model_storage_uri: String,
    pub builder: BuilderResources,
    pub kaniko_image: String,
    pub serving_api: ServingApi,
    /// Build even when an image of the same context checksum was built before.
    pub force_rebuild: bool,
}

pub(super) const KEYS: &[&str] = &[
    "namespace", "registry_url", "registry_credentials_secret", "registry_ca_secret",
    "s3_credentials_secret", "s3_endpoint", "s3_region", "s3_bucket", "s3_verify_ssl",
    "context_prefix", "model_storage_uri", "builder_cpu_limit", "builder_cpu_request",
    "builder_memory_limit", "builder_memory_request", "kaniko_image", "serving_api", "force_rebuild",
];

impl Default for Config {
    fn default() -> Self {
        let q = |s: &str| Quantity::parse(s).expect("built-in quantities are valid");
        Config {
            namespace: "default".into(),
            registry_url: None,
            registry_credentials_secret: "kaptain-registry-credentials".into(),
            registry_ca_secret: None,
            s3_credentials_secret: "kaptain-s3-credentials".into(),
            s3_endpoint: "http://minio-service.kubeflow:9000".into(),
            s3_region: "us-east-1".into(),
            s3_bucket: "kaptain".into(),
            s3_verify_ssl: true,
            context_prefix: "build-contexts".into(),
            model_storage_uri: "s3://kaptain/models".into(),
            builder: BuilderResources {
                cpu_limit: q("1"),
                cpu_request: q("500m"),
                memory_limit: q("1G"),
                memory_request: q("500M"),
            },
            kaniko_image: "gcr.io/kaniko-project/executor:v1.23.2".into(),
            serving_api: ServingApi::KfServing,
            force_rebuild: false,
        }
    }
}

impl Config {
    /// Reads `config:` keys over `self` (the layer below).
    pub(super) fn read_over(mut self, node: Node<'_>) -> Result<Config, SpecError> {
        for field in node.mapping(KEYS)? {
            let value = field.node();
            match field.key {
                "namespace" => self.namespace = namespace(value)?,
                "registry_url" => self.registry_url = Some(host(value)?),
                "registry_credentials_secret" => self.registry_credentials_secret = secret_name(value)?,
                "registry_ca_secret" => self.registry_ca_secret = if value.is_null() { None } else { Some(secret_name(value)?) },
                "s3_credentials_secret" => self.s3_credentials_secret = secret_name(value)?,
                "s3_endpoint" => self.s3_endpoint = endpoint(value)?,
                "s3_region" => self.s3_region = value.text()?,
                "s3_bucket" => self.s3_bucket = bucket(value)?,
                "s3_verify_ssl" => self.s3_verify_ssl = value.boolean()?,
                "context_prefix" => self.context_prefix = value.text()?.trim_matches('/').to_string(),
                "model_storage_uri" => self.model_storage_uri = s3_uri(value)?,
                "builder_cpu_limit" => self.builder.cpu_limit = value.quantity("1")?,
                "builder_cpu_request" => self.builder.cpu_request = value.quantity("500m")?,
                "builder_memory_limit" => self.builder.memory_limit = value.quantity("1G")?,
                "builder_memory_request" => self.builder.memory_request = value.quantity("500M")?,
                "kaniko_image" => self.kaniko_image = value.text()?,
                "force_rebuild" => self.force_rebuild = value.boolean()?,
                "serving_api" => {
                    let text = value.text()?;
                    self.serving_api = ServingApi::parse(&text).ok_or_else(|| {
                        value.error(
                            format!("{text:?} is not a serving API kaptain knows"),
                            "use serving.kubeflow.org/v1beta1 (KFServing) or serving.kserve.io/v1beta1 (KServe)",
                        )
                    })?
                }
                _ => unreachable!("mapping() admits only known keys"),
            }
        }
        let builder = &self.builder;
        for (request, limit, name) in [
            (&builder.cpu_request, &builder.cpu_limit, "cpu"),
            (&builder.memory_request, &builder.memory_limit, "memory"),
        ] {
            if request.value() > limit.value() {
                return Err(node.error(
                    format!("builder_{name}_request {request} is more than builder_{name}_limit {limit}"),
                    format!("lower builder_{name}_request or raise builder_{name}_limit"),
                ));
            }
        }
        Ok(self)
    }

    /// `http` or `https`, as KFServing's s3-usehttps annotation wants it.
    pub fn s3_uses_https(&self) -> bool {
        self.s3_endpoint.starts_with("https://")
    }

    /// host[:port] without scheme, as KFServing's s3-endpoint annotation wants it.
    pub fn s3_host(&self) -> &str {
        self.s3_endpoint.split_once("://").map_or(self.s3_endpoint.as_str(), |(_, h)| h)
    }
}

pub(super) fn namespace(node: Node<'_>) -> Result<String, SpecError> {
    let ns = node.text()?;
    if identity::is_dns1123_label(&ns) {
        Ok(ns)
    } else {
        Err(node.error(format!("{ns:?} is not a valid namespace"), "use lowercase letters, digits and '-', at most 63"))
    }
}

fn secret_name(node: Node<'_>) -> Result<String, SpecError> {
    let name = node.text()?;
    let valid = name.len() <= 253 && name.split('.').all(identity::is_dns1123_label);
    if valid {
        Ok(name)
    } else {
        Err(node.error(format!("{name:?} is not a valid Secret name"), "use lowercase letters, digits, '-' and '.'"))
    }
}

fn host(node: Node<'_>) -> Result<String, SpecError> {
    let text = node.text()?;
    let host = text.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
    let valid = !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if valid {
        Ok(host.to_string())
    } else {
        Err(node.error(format!("{text:?} is not a registry host"), "write it like registry.example.com or registry.example.com:5000"))
    }
}

fn endpoint(node: Node<'_>) -> Result<String, SpecError> {
    let text = node.text()?;
    let rest = text.strip_prefix("http://").or_else(|| text.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains(['/', ' ', '?', '#']) => Ok(text),
        Some(rest) if rest.ends_with('/') && !rest.trim_end_matches('/').contains('/') => {
            Ok(text.trim_end_matches('/').to_string())
        }
        _ => Err(node.error(
            format!("{text:?} is not an S3 endpoint"),
            "write it like http://minio.kubeflow:9000 or https://s3.amazonaws.com",
        )),
    }
}

fn bucket(node: Node<'_>) -> Result<String, SpecError> {
    let name = node.text()?;
    let valid = (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(name)
    } else {
        Err(node.error(format!("{name:?} is not a valid bucket name"), "use 3 to 63 lowercase letters, digits, '-' or '.'"))
    }
}

pub(super) fn s3_uri(node: Node<'_>) -> Result<String, SpecError> {
    let uri = node.text()?;
    match uri.strip_prefix("s3://") {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.contains(' ') => {
            Ok(uri.trim_end_matches('/').to_string())
        }
        _ => Err(node.error(format!("{uri:?} is not an s3:// URI"), "write it like s3://kaptain/models")),
    }
}
