//! Per-run Secrets get their data from source Secrets in the user's namespace, just before
//! they are created; rendered manifests never hold it.

use serde_json::Value;

use super::EngineError;
use crate::identity::{Names, CREDENTIALS_FROM_ANNOTATION};
use crate::kinds;
use crate::kube::{Client, Transport};
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

/// Fills the data of every per-run Secret from its source. Fails, naming the Secret, the
/// missing key and how to create it, before anything is created.
pub(super) async fn fill<T: Transport>(client: &Client<T>, cell: &Cell, names: &Names, objects: &mut [Manifest]) -> Result<(), EngineError> {
    let namespace = cell.config.namespace.clone();
    for object in objects.iter_mut().filter(|m| m.kind == kinds::SECRET.kind) {
        let Some(source) = object.object["metadata"]["annotations"][CREDENTIALS_FROM_ANNOTATION].as_str().map(String::from) else {
            continue;
        };
        let Some((need, setting)) = need(names, &object.name) else { continue };
        let fix = format!(
            "create it with `{}`, or name another Secret in {setting}",
            need.create.replace("{ns}", &namespace).replace("{name}", &source)
        );
        let found = client.get(&kinds::SECRET, &namespace, &source).await.map_err(|error| match error.api() {
            Some(api) if api.code == 403 => EngineError::SourceSecret {
                secret: source.clone(),
                namespace: namespace.clone(),
                problem: format!("cannot be read ({})", api.message),
                fix: "ask a cluster admin for a Role that allows `get` on secrets in this namespace".into(),
            },
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
