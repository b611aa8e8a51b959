//! The one place for label keys, annotation keys, run ids and object names.
//!
//! Every object a run creates carries the run labels, so that a run can be found (and cleaned
//! up) with a label selector alone, without any local state.

use std::collections::BTreeMap;
use std::fmt;

use crate::spec::{SpecError, Step};

pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "kaptain";
pub const RUN_ID_LABEL: &str = "kaptain.io/run-id";
pub const STEP_LABEL: &str = "kaptain.io/step";
pub const MODEL_ID_LABEL: &str = "kaptain.io/model-id";
/// The notebook server that started the run (see [`notebook_server_label`]): several servers
/// share a namespace (every Kubeflow profile), and each acts only on its own runs unless told
/// otherwise. Runs started from the command line or the demo page have none.
pub const NOTEBOOK_SERVER_LABEL: &str = "kaptain.io/notebook-server";

/// The model id as the user wrote it (label values cannot hold `/`).
pub const MODEL_ID_ANNOTATION: &str = "kaptain.io/model-id";
pub const NOTEBOOK_ANNOTATION: &str = "kaptain.io/notebook";
pub const CELL_ANNOTATION: &str = "kaptain.io/cell-id";
pub const CONTEXT_CHECKSUM_ANNOTATION: &str = "kaptain.io/context-checksum";
/// On a per-run Secret: the source Secret its data is copied from when the run creates it.
/// Rendered manifests never carry credential values.
pub const CREDENTIALS_FROM_ANNOTATION: &str = "kaptain.io/credentials-from";

/// On an InferenceService a replacing deploy applied over: what it was before (JSON: labels,
/// annotations, spec), restored if that run is interrupted (see `engine::replace`); the label
/// marks it for a cleanup that finds the run's objects by label alone.
pub const REPLACED_ANNOTATION: &str = "kaptain.io/replaced";
pub const REPLACING_LABEL: &str = "kaptain.io/replacing";

/// On the ConfigMap that records a built image (see [`image_record_name`]); its value is the
/// model label. Records carry no run-id label: no run's cleanup deletes them.
pub const IMAGE_RECORD_LABEL: &str = "kaptain.io/image-record";
/// Annotations of an image record: the image, the run that built it.
pub const IMAGE_ANNOTATION: &str = "kaptain.io/image";
pub const BUILT_BY_RUN_ANNOTATION: &str = "kaptain.io/built-by-run";

/// The name of the ConfigMap recording that `image` (`name:checksum`) was built and pushed:
/// `kaptain-image-` and 40 hex digits of the image reference's SHA-256.
pub fn image_record_name(image: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(image.as_bytes());
    format!("kaptain-image-{}", &crate::context::hex(&digest)[..40])
}

/// Label prefixes users may not set through `model.labels`: they would break run identity.
pub const RESERVED_LABEL_PREFIXES: &[&str] = &["kaptain.io/", "app.kubernetes.io/managed-by"];

const RUN_ID_MAX: usize = 12;
const MODEL_SLUG_MAX: usize = 24;
/// KFServing derives `<name>-predictor-default-00001-deployment` (and label values of at most
/// 63 characters) from the InferenceService name.
const INFERENCE_SERVICE_MAX: usize = 32;

/// One id per cell execution: short, lowercase, DNS-1123 friendly, label-value valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    pub fn parse(value: &str) -> Result<RunId, SpecError> {
        let ok = !value.is_empty()
            && value.len() <= RUN_ID_MAX
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && !value.ends_with('-')
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(RunId(value.to_string()))
        } else {
            Err(SpecError::new(
                "run id",
                format!("{value:?} is not a valid run id"),
                format!(
                    "use 1 to {RUN_ID_MAX} lowercase letters, digits or '-', starting with a letter, e.g. r7k2m9q"
                ),
            ))
        }
    }

    /// A fresh run id from caller-supplied entropy (the core does no IO, randomness included).
    pub fn from_entropy(entropy: u64) -> RunId {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut id = String::from("r");
        let mut n = entropy;
        for _ in 0..8 {
            id.push(ALPHABET[(n % 36) as usize] as char);
            n /= 36;
        }
        RunId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who is running: the run id, and where the cell lives when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunIdentity {
    pub run_id: RunId,
    pub notebook: Option<String>,
    pub cell_id: Option<String>,
    /// The notebook server's label value ([`notebook_server_label`]), when a server runs it.
    pub notebook_server: Option<String>,
}

impl RunIdentity {
    pub fn new(run_id: RunId) -> Self {
        RunIdentity { run_id, notebook: None, cell_id: None, notebook_server: None }
    }
}

/// The label value that names a notebook server, from what the server says it is (its base
/// URL, e.g. `/user/alice/` or `/notebook/team-a/mnist/`, its host name, or
/// `KAPTAIN_NOTEBOOK_SERVER`): the path with `/` as `.` where that is a label value
/// (`user.alice`, `notebook.team-a.mnist`), else a cut of it with a digest of the whole, so
/// that two servers never share one.
pub fn notebook_server_label(server: &str) -> String {
    let path = server.trim_matches('/');
    let readable = path.replace('/', ".");
    if !path.is_empty() && !path.contains('.') && readable.len() <= 63 && is_label_value(&readable) {
        return readable;
    }
    use sha2::{Digest, Sha256};
    let digest = crate::context::hex(&Sha256::digest(server.as_bytes()));
    let mut cut = label_value(&readable);
    cut.truncate(54);
    let cut = cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if cut.is_empty() { format!("s-{}", &digest[..8]) } else { format!("{cut}-{}", &digest[..8]) }
}

/// The label selector that finds every object of a run, whatever its kind.
pub fn run_selector(run_id: &RunId) -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{RUN_ID_LABEL}={run_id}")
}

/// The selector for everything kaptain manages in a namespace.
pub fn managed_selector() -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}")
}

/// Labels for an object created by `step` in a run.
pub fn run_labels(
    run: &RunIdentity,
    step: Step,
    model_id: &str,
    user_labels: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut labels = user_labels.clone();
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into());
    labels.insert(RUN_ID_LABEL.into(), run.run_id.to_string());
    labels.insert(STEP_LABEL.into(), step.as_str().into());
    labels.insert(MODEL_ID_LABEL.into(), label_value(model_id));
    if let Some(server) = &run.notebook_server {
        labels.insert(NOTEBOOK_SERVER_LABEL.into(), server.clone());
    }
    labels
}

pub fn run_annotations(run: &RunIdentity, model_id: &str) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    annotations.insert(MODEL_ID_ANNOTATION.into(), model_id.into());
    if let Some(notebook) = &run.notebook {
        annotations.insert(NOTEBOOK_ANNOTATION.into(), notebook.clone());
    }
    if let Some(cell) = &run.cell_id {
        annotations.insert(CELL_ANNOTATION.into(), cell.clone());
    }
    annotations
}

/// The names of every object a run may create. Deterministic for a run id and model id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    base: String,
    model: String,
}

impl Names {
    pub fn new(model_id: &str, run_id: &RunId) -> Names {
        let model = dns1123_label(model_id, MODEL_SLUG_MAX);
        Names { base: format!("{model}-{run_id}"), model }
    }
    pub fn registry_secret(&self) -> String {
        format!("{}-registry", self.base)
    }
    pub fn build_s3_secret(&self) -> String {
        format!("{}-context", self.base)
    }
    pub fn registry_ca_secret(&self) -> String {
        format!("{}-registry-ca", self.base)
    }
    pub fn build_job(&self) -> String {
        format!("{}-build", self.base)
    }
    pub fn training_job(&self) -> String {
        self.base.clone()
    }
    pub fn experiment(&self) -> String {
        self.base.clone()
    }
    pub fn serving_secret(&self) -> String {
        format!("{}-serving", self.base)
    }
    pub fn serving_account(&self) -> String {
        format!("{}-serving", self.base)
    }
    /// One InferenceService per model (not per run): a new deploy of the same model is a new
    /// Revision of the same Knative Service.
    pub fn inference_service(&self) -> String {
        let mut name = self.model.clone();
        name.truncate(INFERENCE_SERVICE_MAX);
        trim_to_label(name)
    }
}

/// The Knative Service the serving operator makes for an InferenceService's predictor (its
/// name, not kaptain's): KFServing `<isvc>-predictor-default`; KServe `<isvc>-predictor`, or
/// `-predictor-default` in older KServe releases. Candidates in the order to try them.
pub fn predictor_service_names(inference_service: &str, kserve: bool) -> Vec<String> {
    let default = format!("{inference_service}-predictor-default");
    if kserve { vec![format!("{inference_service}-predictor"), default] } else { vec![default] }
}

/// The label Knative puts on a Revision (and its Route, Configuration): its Knative Service.
pub const KNATIVE_SERVICE_LABEL: &str = "serving.knative.dev/service";

/// True for a DNS-1123 label: 1-63 of [a-z0-9-], alphanumeric at both ends.
pub fn is_dns1123_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

/// A namespace, before it goes into an API path: a DNS-1123 label, nothing else (a value from
/// settings or browser storage could otherwise walk the path elsewhere). `field` names where
/// the value came from.
pub fn check_namespace(field: &str, value: &str) -> Result<(), SpecError> {
    if is_dns1123_label(value) {
        return Ok(());
    }
    Err(SpecError::new(
        field,
        format!("{value:?} is not a namespace"),
        "a namespace is 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit",
    ))
}

/// Turns any text into a DNS-1035 label (a DNS-1123 label that starts with a letter, as
/// Services and Knative need) of at most `max` characters.
pub fn dns1123_label(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    let mut out = if out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.to_string()
    } else {
        format!("m-{out}")
    };
    out.truncate(max.clamp(1, 63));
    let out = trim_to_label(out);
    if out.is_empty() { "m".into() } else { out }
}

fn trim_to_label(mut name: String) -> String {
    while name.ends_with('-') {
        name.pop();
    }
    name
}

/// A label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends.
pub fn label_value(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') { c } else { '-' })
        .collect();
    out.truncate(63);
    out.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

/// Checks a label key (optional DNS prefix + '/' + name) as Kubernetes does.
pub fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty() && p.len() <= 253 && p.split('.').all(is_dns1123_label)
    });
    prefix_ok && is_label_name(name)
}

fn is_label_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A label value as Kubernetes accepts it (empty allowed).
pub fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_label_name(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitises_model_ids_into_dns_labels() {
        assert_eq!(dns1123_label("dev/MNIST_v2", 24), "dev-mnist-v2");
        assert_eq!(dns1123_label("42-answers", 24), "m-42-answers");
        assert_eq!(dns1123_label("///", 24), "m");
        assert_eq!(dns1123_label("a-very-long-model-identifier-here", 24), "a-very-long-model-identi");
        assert_eq!(dns1123_label("abcdefghijklmnopqrstuvw-xyz", 24), "abcdefghijklmnopqrstuvw");
    }

    #[test]
    fn run_ids_are_checked() {
        assert!(RunId::parse("r1a2b3").is_ok());
        for bad in ["", "R1", "1abc", "abc-", "abcdefghijklm", "a_b"] {
            assert!(RunId::parse(bad).is_err(), "{bad}");
        }
        let generated = RunId::from_entropy(u64::MAX);
        assert!(RunId::parse(generated.as_str()).is_ok());
    }

    #[test]
    fn names_are_valid_and_short_enough_for_what_derives_from_them() {
        let names = Names::new("Some Org/An Extremely Long Model Name That Goes On", &RunId::parse("r123456789ab").unwrap());
        for name in [
            names.registry_secret(),
            names.build_s3_secret(),
            names.registry_ca_secret(),
            names.build_job(),
            names.training_job(),
            names.serving_secret(),
            names.inference_service(),
        ] {
            assert!(is_dns1123_label(&name), "{name}");
            assert!(name.len() <= 50, "{name}");
        }
        // KFServing: <isvc>-predictor-default-00001-deployment must stay a label value.
        assert!(names.inference_service().len() + "-predictor-default-00001".len() <= 63);
    }

    #[test]
    fn namespaces_are_checked_before_they_become_paths() {
        assert!(check_namespace("namespace", "team-a").is_ok());
        for bad in ["", "Team", "../../api/v1/secrets", "a/b", "ns?x=1", "-a", &"a".repeat(64)] {
            let error = check_namespace("namespace", bad).unwrap_err();
            assert_eq!(error.field, "namespace", "{bad}");
        }
    }

    #[test]
    fn notebook_servers_become_label_values() {
        assert_eq!(notebook_server_label("/user/alice/"), "user.alice");
        assert_eq!(notebook_server_label("/notebook/team-a/mnist/"), "notebook.team-a.mnist");
        assert_eq!(notebook_server_label("jupyter-alice-0"), "jupyter-alice-0");
        // A named server and a user whose name looks like it stay apart.
        assert_ne!(notebook_server_label("/user/alice/gpu/"), notebook_server_label("/user/alice-gpu/"));
        assert_ne!(notebook_server_label("/user/a.b/"), notebook_server_label("/user/a/b/"));
        assert!(is_label_value(&notebook_server_label("/")) && !notebook_server_label("/").is_empty());
        let long = format!("/notebook/{}/a/", "x".repeat(70));
        let other = format!("/notebook/{}/b/", "x".repeat(70));
        let (a, b) = (notebook_server_label(&long), notebook_server_label(&other));
        assert_ne!(a, b, "long names stay apart");
        assert!(is_label_value(&a) && a.len() <= 63, "{a}");
        assert!(is_label_value(&notebook_server_label("/user/ålice (2)/")));
    }

    #[test]
    fn label_keys_and_values() {
        assert!(is_label_key("kaptain-sim/outcome"));
        assert!(is_label_key("team"));
        assert!(!is_label_key("-bad"));
        assert!(!is_label_key("a/b/c"));
        assert!(is_label_value("Succeeded"));
        assert!(!is_label_value("no spaces"));
        assert_eq!(label_value("dev/mnist"), "dev-mnist");
    }
}
