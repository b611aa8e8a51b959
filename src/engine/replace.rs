//! `deploy --replace`: a new version of a model kaptain deployed before, applied over its
//! InferenceService, without ever taking down what kaptain did not make or what the run did not
//! make. The InferenceService a replacing run applies over carries what it was before
//! ([`REPLACED_ANNOTATION`]): an interruption (or a cleanup of the run, found by label alone)
//! restores that instead of deleting a model that was serving; a run that succeeds drops it.

use serde_json::{json, Map, Value};

use super::EngineError;
use crate::identity::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, MODEL_ID_ANNOTATION, REPLACED_ANNOTATION, REPLACING_LABEL, RUN_ID_LABEL};
use crate::kinds::KindInfo;
use crate::kube::{Client, KubeError, Transport};

/// Annotations that are the server's or a client's bookkeeping, not the object's.
const NOT_RESTORED: &[&str] = &[REPLACED_ANNOTATION, "kubectl.kubernetes.io/last-applied-configuration"];

/// What a replacing deploy of `model_id` by `run_id` applies over: refused unless kaptain made
/// it for the same model. Returns what it was, to be restored if the run is interrupted.
pub(super) fn previous(found: &Value, model_id: &str, run_id: &str, namespace: &str) -> Result<Value, EngineError> {
    let name = found["metadata"]["name"].as_str().unwrap_or_default();
    let refuse = |why: String| EngineError::NotOurDeployment { name: name.into(), namespace: namespace.into(), why };
    if found["metadata"]["labels"][MANAGED_BY_LABEL] != MANAGED_BY_VALUE {
        return Err(refuse(format!("kaptain did not make it (it has no label {MANAGED_BY_LABEL}={MANAGED_BY_VALUE})")));
    }
    let serves = found["metadata"]["annotations"][MODEL_ID_ANNOTATION].as_str().unwrap_or_default();
    if serves != model_id {
        return Err(refuse(format!("it serves model {serves:?}, not {model_id:?}")));
    }
    let annotations = &found["metadata"]["annotations"];
    // Resumed after a reload: this run applied over it already, and what it replaced is noted.
    if found["metadata"]["labels"][RUN_ID_LABEL] == run_id {
        if let Some(noted) = annotations[REPLACED_ANNOTATION].as_str().and_then(|t| serde_json::from_slice(t.as_bytes()).ok()) {
            return Ok(noted);
        }
    }
    let mut kept = Map::new();
    for (key, value) in annotations.as_object().into_iter().flatten() {
        if !NOT_RESTORED.contains(&key.as_str()) {
            kept.insert(key.clone(), value.clone());
        }
    }
    Ok(json!({"labels": found["metadata"]["labels"], "annotations": kept, "spec": found["spec"]}))
}

/// The InferenceService to apply: the rendered one, noting what it replaces.
pub(super) fn noting(object: &Value, previous: &Value) -> Value {
    let mut object = object.clone();
    object["metadata"]["annotations"][REPLACED_ANNOTATION] = Value::String(serde_json::to_string(previous).unwrap_or_default());
    object["metadata"]["labels"][REPLACING_LABEL] = Value::String("true".into());
    object
}

/// True for an object a replacing run applied over (to be restored, not deleted).
pub fn replaces(item: &Value) -> bool {
    item["metadata"]["labels"][REPLACING_LABEL] == "true"
}

/// The label selector of a run's InferenceServices that the run made (deleted by a cleanup),
/// not those it applied over (put back).
pub fn made_by(run_selector: &str) -> String {
    format!("{run_selector},!{REPLACING_LABEL}")
}

/// Puts back what a replacing run applied over `item`, as its note says. Ok(false) when it
/// notes nothing readable (it is then left as it is: never deleted).
pub async fn restore<T: Transport>(client: &Client<T>, kind: &KindInfo, namespace: &str, item: &Value) -> Result<bool, KubeError> {
    let Some(previous) = item["metadata"]["annotations"][REPLACED_ANNOTATION].as_str().and_then(|t| serde_json::from_slice::<Value>(t.as_bytes()).ok()) else {
        return Ok(false);
    };
    let name = item["metadata"]["name"].as_str().unwrap_or_default();
    let object = json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind,
        "metadata": {"name": name, "namespace": namespace, "labels": previous["labels"], "annotations": previous["annotations"]},
        "spec": previous["spec"],
    });
    client.apply(kind, namespace, name, &object, false).await?;
    Ok(true)
}
