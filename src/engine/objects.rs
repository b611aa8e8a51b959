//! One object at a time, for the panel: show it as YAML (Secret values hidden), delete it, and
//! the log tails of a run's pods. Only objects kaptain manages: a front end never shows or
//! deletes what a user made by hand through kaptain.

use serde::Serialize;
use serde_json::Value;

use super::{ObjectRef, CONFIRM_DEADLINE_SECONDS, POLL};
use crate::identity::{self, RunId, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::kinds::{self, KindInfo};
use crate::kube::{Client, KubeError, Transport};
use crate::ops;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("name: {0:?} is not an object name; pass a name as runs() lists it")]
    BadName(String),
    #[error("kind: {kind:?} is not a kind kaptain shows or deletes; use one of {known}")]
    UnknownKind { kind: String, known: String },
    #[error("{kind} {name:?} is not in namespace {namespace:?}; runs() lists what is there")]
    NotFound { kind: String, name: String, namespace: String },
    #[error("{kind} {name:?} in namespace {namespace:?} is not kaptain's: {why}; kaptain shows and deletes only what its runs created (use kubectl for the rest)")]
    NotManaged { kind: String, name: String, namespace: String, why: String },
    #[error("{kind} {name:?} was deleted but is still there after {CONFIRM_DEADLINE_SECONDS} s: {why}")]
    StillThere { kind: String, name: String, why: String },
    #[error("{0}")]
    Kube(#[from] KubeError),
}

/// An object kaptain manages, found by kind name (e.g. "TFJob", "Secret", "Revision"; an
/// InferenceService in whichever serving group has it) and checked to be kaptain's.
pub async fn find<T: Transport>(client: &Client<T>, kind: &str, name: &str, namespace: &str) -> Result<(KindInfo, Value), ObjectError> {
    // It goes into the request path: nothing but a name may get there.
    if !is_object_name(name) {
        return Err(ObjectError::BadName(name.into()));
    }
    let candidates = kinds::named(kind);
    if candidates.is_empty() {
        return Err(ObjectError::UnknownKind { kind: kind.into(), known: kinds::inspectable_names().join(", ") });
    }
    for info in candidates {
        // A kind the cluster does not serve answers 404 like a missing object. Of a Secret, only
        // its metadata is read: what it holds never reaches a front end.
        let found = match info == kinds::SECRET {
            true => client.get_metadata(&info, namespace, name).await?.map(|mut secret| {
                secret["apiVersion"] = info.api_version().into();
                secret["kind"] = info.kind.into();
                secret
            }),
            false => client.get(&info, namespace, name).await?,
        };
        if let Some(object) = found {
            if let Some(why) = not_managed_because(client, namespace, &info, &object).await? {
                return Err(ObjectError::NotManaged { kind: kind.into(), name: name.into(), namespace: namespace.into(), why });
            }
            return Ok((info, object));
        }
    }
    Err(ObjectError::NotFound { kind: kind.into(), name: name.into(), namespace: namespace.into() })
}

/// A DNS-1123 subdomain, as the names of every kind here are.
fn is_object_name(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(identity::is_dns1123_label)
}

fn is_managed(object: &Value) -> bool {
    object["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY_VALUE
}

/// Why an object is not kaptain's, or None when it is: it carries the managed-by label, or it is
/// a Knative object of a kaptain InferenceService (KFServing and KServe label what they make
/// with `<group>/inferenceservice`, but do not always copy the InferenceService's labels).
async fn not_managed_because<T: Transport>(client: &Client<T>, namespace: &str, kind: &KindInfo, object: &Value) -> Result<Option<String>, KubeError> {
    if is_managed(object) {
        return Ok(None);
    }
    let no_label = format!("it has no label {MANAGED_BY_LABEL}={MANAGED_BY_VALUE}");
    if !kinds::KNATIVE_KINDS.contains(kind) {
        return Ok(Some(no_label));
    }
    for isvc_kind in kinds::named("InferenceService") {
        let label = format!("{}/inferenceservice", isvc_kind.group);
        let Some(isvc) = object["metadata"]["labels"][label.as_str()].as_str() else { continue };
        return Ok(match client.get(&isvc_kind, namespace, isvc).await? {
            Some(owner) if is_managed(&owner) => None,
            Some(_) => Some(format!("{no_label}, and its InferenceService {isvc:?} is not kaptain's either")),
            None => Some(format!("{no_label}, and its InferenceService {isvc:?} is gone")),
        });
    }
    Ok(Some(no_label))
}

/// The object as YAML, as the panel shows it: without `metadata.managedFields`; of a Secret
/// its metadata only (see [`redact`] for what of that is hidden too).
pub async fn object_yaml<T: Transport>(client: &Client<T>, kind: &str, name: &str, namespace: &str) -> Result<String, ObjectError> {
    let (info, mut object) = find(client, kind, name, namespace).await?;
    redact(info, &mut object);
    Ok(ops::value_yaml(&object))
}

/// Drops the server's field bookkeeping and, for a Secret, hides every value: `data`,
/// `stringData` and a last-applied annotation (kubectl apply copies the data into it) become
/// `<hidden: N bytes>`. Secret values must never reach a screen.
pub fn redact(kind: KindInfo, object: &mut Value) {
    let secret = kind == kinds::SECRET;
    let hidden = |bytes: usize| Value::String(format!("<hidden: {bytes} bytes>"));
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
        let annotations = metadata.get_mut("annotations").and_then(Value::as_object_mut);
        let applied = annotations.and_then(|a| a.get_mut("kubectl.kubernetes.io/last-applied-configuration"));
        if let (Some(applied), true) = (applied, secret) {
            *applied = hidden(applied.as_str().map_or(0, str::len));
        }
    }
    if !secret {
        return;
    }
    for (field, base64) in [("data", true), ("stringData", false)] {
        let Some(values) = object.get_mut(field).and_then(Value::as_object_mut) else { continue };
        for value in values.values_mut() {
            let text = value.as_str().unwrap_or_default();
            *value = hidden(if base64 { decoded_len(text) } else { text.len() });
        }
    }
}

/// The number of bytes a base64 text decodes to.
fn decoded_len(text: &str) -> usize {
    let text = text.trim();
    let padding = text.bytes().rev().take_while(|&b| b == b'=').count();
    (text.len() * 3 / 4).saturating_sub(padding)
}

/// Deletes one object kaptain manages (dependents go by the garbage collector, in the
/// background, as in a cleanup) and waits until it is gone.
pub async fn delete_object<T: Transport>(client: &Client<T>, kind: &str, name: &str, namespace: &str) -> Result<ObjectRef, ObjectError> {
    let (info, _) = find(client, kind, name, namespace).await?;
    remove(client, &info, namespace, name).await?;
    Ok(ObjectRef { kind: info, name: name.into() })
}

/// Deletes an object and waits (bounded) until a GET no longer finds it.
pub(crate) async fn remove<T: Transport>(client: &Client<T>, kind: &KindInfo, namespace: &str, name: &str) -> Result<(), ObjectError> {
    client.delete(kind, namespace, name).await?;
    let started = client.transport().now();
    loop {
        let Some(left) = client.get_metadata(kind, namespace, name).await? else { return Ok(()) };
        if client.transport().now() - started > CONFIRM_DEADLINE_SECONDS {
            let finalizers = left["metadata"]["finalizers"].as_array().map_or(0, Vec::len);
            let why = format!("terminating, waiting for {finalizers} finalizer(s) or its node");
            return Err(ObjectError::StillThere { kind: kind.kind.into(), name: name.into(), why });
        }
        client.transport().sleep(POLL).await;
    }
}

/// The tail of one container's log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodLog {
    pub pod: String,
    pub container: String,
    pub lines: Vec<String>,
    /// Why there are no lines (a pod not started yet, a node out of reach): shown, not thrown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The last `tail_lines` lines of every container (init containers first) of every pod of the
/// run, pods by name.
pub async fn logs<T: Transport>(client: &Client<T>, namespace: &str, run_id: &RunId, tail_lines: u32) -> Result<Vec<PodLog>, KubeError> {
    let pods = client.list(&kinds::POD, namespace, &identity::run_selector(run_id)).await?;
    let mut wanted: Vec<(String, String)> = Vec::new();
    for pod in &pods.items {
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        for list in ["initContainers", "containers"] {
            for container in pod["spec"][list].as_array().into_iter().flatten() {
                wanted.push((name.into(), container["name"].as_str().unwrap_or_default().into()));
            }
        }
    }
    wanted.sort_by(|a, b| a.0.cmp(&b.0));
    // One after the other: a run has a few pods, and the wasm stays smaller without join_all.
    let mut tails = Vec::new();
    for (pod, container) in wanted {
        tails.push(match client.logs(namespace, &pod, &container, i64::from(tail_lines)).await {
            Ok(text) => PodLog { pod, container, lines: text.lines().map(String::from).collect(), error: None },
            Err(e) => PodLog { pod, container, lines: Vec::new(), error: Some(format!("logs unavailable: {e}")) },
        });
    }
    Ok(tails)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_that_could_leave_the_request_path_are_refused() {
        assert!(is_object_name("dev-mnist-r1-registry") && is_object_name("a.b-c"));
        for bad in ["", "../x", "a/b", "A", "a..b", "-a", "a?watch=1"] {
            assert!(!is_object_name(bad), "{bad}");
        }
    }

    #[test]
    fn secret_values_are_hidden_and_managed_fields_dropped() {
        let mut secret = json!({
            "kind": "Secret",
            "metadata": {"name": "s", "managedFields": [{"manager": "kaptain"}],
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"k\":\"c2VjcmV0\"}}", "note": "kept"}},
            "data": {"AWS_SECRET_ACCESS_KEY": "c2VlZGVkLXNlY3JldC1rZXk=", "empty": "", "one": "YQ=="},
            "stringData": {"token": "plain-text"},
            "type": "Opaque"
        });
        redact(kinds::SECRET, &mut secret);
        assert_eq!(secret["data"]["AWS_SECRET_ACCESS_KEY"], "<hidden: 17 bytes>");
        assert_eq!(secret["data"]["empty"], "<hidden: 0 bytes>");
        assert_eq!(secret["data"]["one"], "<hidden: 1 bytes>");
        assert_eq!(secret["stringData"]["token"], "<hidden: 10 bytes>");
        assert_eq!(secret["metadata"]["annotations"]["note"], "kept");
        assert!(!secret.to_string().contains("c2Vj"), "{secret}");
        assert!(secret["metadata"].get("managedFields").is_none());
        assert_eq!(secret["type"], "Opaque");

        let mut job = json!({"metadata": {"managedFields": [], "name": "j"}, "spec": {"data": {"x": "y"}}});
        redact(kinds::JOB, &mut job);
        assert_eq!(job, json!({"metadata": {"name": "j"}, "spec": {"data": {"x": "y"}}}));
        // Whatever the API sends, no panic.
        for mut odd in [json!(null), json!([]), json!({"metadata": 3, "data": "x"}), json!({"metadata": {}, "data": [1]})] {
            redact(kinds::SECRET, &mut odd);
        }
    }
}
