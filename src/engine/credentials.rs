//! Per-run Secrets get their data from source Secrets in the user's namespace as they are
//! created; rendered manifests never hold it. Where the server in front of the API copies
//! Secrets (the Jupyter server's `kaptain/secret-copy`), it makes them and the sources' data
//! never reaches the core; otherwise the core reads the sources and fills the data in.

use serde_json::Value;

use super::EngineError;
use crate::identity::{Names, CREDENTIALS_FROM_ANNOTATION};
use crate::kinds;
use crate::kube::{Client, KubeError, SecretCopy, Transport};
use crate::manifest::Manifest;
use crate::spec::Cell;

/// What a source Secret must hold, and how a user creates one.
struct Need {
    what: &'static str,
    keys: &'static [&'static str],
    create: &'static str,
}

const REGISTRY: Need = Need {
    what: "registry credentials",
    keys: &[".dockerconfigjson"],
    create: "kubectl -n {ns} create secret docker-registry {name} --docker-server=REGISTRY --docker-username=USER --docker-password=PASSWORD",
};
const S3: Need = Need {
    what: "S3 credentials",
    keys: &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    create: "kubectl -n {ns} create secret generic {name} --from-literal=AWS_ACCESS_KEY_ID=KEY --from-literal=AWS_SECRET_ACCESS_KEY=SECRET",
};
const CA: Need = Need {
    what: "the registry's CA certificate",
    keys: &["ca.crt"],
    create: "kubectl -n {ns} create secret generic {name} --from-file=ca.crt=PATH/TO/ca.crt",
};

fn need(names: &Names, secret: &str) -> Option<(&'static Need, &'static str)> {
    if secret == names.registry_secret() {
        Some((&REGISTRY, "config.registry_credentials_secret"))
    } else if secret == names.build_s3_secret() || secret == names.serving_secret() {
        Some((&S3, "config.s3_credentials_secret"))
    } else if secret == names.registry_ca_secret() {
        Some((&CA, "config.registry_ca_secret"))
    } else {
        None
    }
}

/// What the server must copy for a per-run Secret (None for every other object).
pub(super) fn copy_of<'m>(names: &Names, object: &'m Manifest) -> Option<SecretCopy<'m>> {
    let source = object.object["metadata"]["annotations"][CREDENTIALS_FROM_ANNOTATION].as_str()?;
    let (need, _) = need(names, &object.name).filter(|_| object.kind == kinds::SECRET)?;
    Some(SecretCopy { source, keys: need.keys })
}

/// A copy the server refused, said as [`fill`] says it when the source or a key is missing.
pub(super) fn copy_failed(error: KubeError, cell: &Cell, names: &Names, object: &Manifest, copy: SecretCopy<'_>) -> EngineError {
    let Some(api) = error.api().filter(|api| api.name == copy.source) else { return error.into() };
    let Some((need, setting)) = need(names, &object.name) else { return error.into() };
    let problem = match api.code {
        404 => format!("holding {} does not exist", need.what),
        403 => return unreadable(copy.source, &cell.config.namespace, &api.message),
        _ => match api.causes.iter().find_map(|c| c.field.strip_prefix("data[")?.strip_suffix(']')) {
            Some(key) => format!("has no key {key:?}"),
            None => return error.into(),
        },
    };
    let namespace = cell.config.namespace.clone();
    let fix = format!("create it with `{}`, or name another Secret in {setting}", need.create.replace("{ns}", &namespace).replace("{name}", copy.source));
    EngineError::SourceSecret { secret: copy.source.into(), namespace, problem, fix }
}

fn unreadable(secret: &str, namespace: &str, message: &str) -> EngineError {
    EngineError::SourceSecret {
        secret: secret.into(),
        namespace: namespace.into(),
        problem: format!("cannot be read ({message})"),
        fix: "ask a cluster admin for a Role that allows `get` on secrets in this namespace".into(),
    }
}

/// Fills the data of every per-run Secret from its source. Fails, naming the Secret, the
/// missing key and how to create it, before anything is created.
pub(super) async fn fill<T: Transport>(client: &Client<T>, cell: &Cell, names: &Names, objects: &mut [Manifest]) -> Result<(), EngineError> {
    let namespace = cell.config.namespace.clone();
    for object in objects.iter_mut().filter(|m| m.kind == kinds::SECRET) {
        let Some(source) = object.object["metadata"]["annotations"][CREDENTIALS_FROM_ANNOTATION].as_str().map(String::from) else {
            continue;
        };
        let Some((need, setting)) = need(names, &object.name) else { continue };
        let fix = format!(
            "create it with `{}`, or name another Secret in {setting}",
            need.create.replace("{ns}", &namespace).replace("{name}", &source)
        );
        let found = client.get(&kinds::SECRET, &namespace, &source).await.map_err(|error| match error.api() {
            Some(api) if api.code == 403 => unreadable(&source, &namespace, &api.message),
            _ => EngineError::Kube(error),
        })?;
        let Some(found) = found else {
            return Err(EngineError::SourceSecret {
                secret: source,
                namespace,
                problem: format!("holding {} does not exist", need.what),
                fix,
            });
        };
        let mut data = serde_json::Map::new();
        for key in need.keys {
            match found["data"][*key].as_str() {
                Some(value) => {
                    data.insert((*key).to_string(), Value::String(value.to_string()));
                }
                None => {
                    return Err(EngineError::SourceSecret {
                        secret: source,
                        namespace,
                        problem: format!("has no key {key:?}"),
                        fix,
                    })
                }
            }
        }
        object.object["data"] = Value::Object(data);
    }
    Ok(())
}
