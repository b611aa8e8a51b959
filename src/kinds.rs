//! The one list of Kubernetes kinds kaptain creates or follows: API version, kind, plural.
//! Cleanup by label walks this list, so an object of any of these kinds is found even when
//! its create request was still in flight.

/// A kind as the rest of the code holds it: from the moment a manifest is built to the moment
/// its object is deleted, never a string. JavaScript and the CLI see its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KindInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub follow: Follow,
}

/// How a run reads an object's progress to an outcome (see `engine::status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Follow {
    /// Never followed: Secrets, ServiceAccounts, and what others make from kaptain's objects.
    Not,
    /// A batch Job: its Complete / Failed conditions.
    Job,
    /// TFJob, PyTorchJob, Experiment: their Succeeded / Failed conditions.
    Conditions,
    /// An InferenceService: Ready, of its latest generation.
    Serving,
}

impl serde::Serialize for KindInfo {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.kind)
    }
}

impl std::fmt::Display for KindInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind)
    }
}

impl KindInfo {
    const fn new(group: &'static str, version: &'static str, kind: &'static str, plural: &'static str) -> Self {
        KindInfo { group, version, kind, plural, follow: Follow::Not }
    }

    const fn followed(self, follow: Follow) -> Self {
        KindInfo { follow, ..self }
    }

    pub fn is_inference_service(&self) -> bool {
        self.follow == Follow::Serving
    }

    /// A Job or a training / tuning job: it runs towards Succeeded or Failed by itself.
    pub fn works_towards_an_outcome(&self) -> bool {
        matches!(self.follow, Follow::Job | Follow::Conditions)
    }

    /// `apiVersion` as manifests write it (`v1` for the core group).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The API path of the collection in a namespace.
    pub fn collection_path(&self, namespace: &str) -> String {
        let prefix = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        format!("{prefix}/namespaces/{namespace}/{}", self.plural)
    }
}

pub const SECRET: KindInfo = KindInfo::new("", "v1", "Secret", "secrets");
pub const SERVICE_ACCOUNT: KindInfo = KindInfo::new("", "v1", "ServiceAccount", "serviceaccounts");
/// Image records (see `identity::image_record_name`), not created by runs.
pub const CONFIG_MAP: KindInfo = KindInfo::new("", "v1", "ConfigMap", "configmaps");
pub const POD: KindInfo = KindInfo::new("", "v1", "Pod", "pods");
pub const JOB: KindInfo = KindInfo::new("batch", "v1", "Job", "jobs").followed(Follow::Job);
pub const TFJOB: KindInfo = KindInfo::new("kubeflow.org", "v1", "TFJob", "tfjobs").followed(Follow::Conditions);
pub const PYTORCHJOB: KindInfo = KindInfo::new("kubeflow.org", "v1", "PyTorchJob", "pytorchjobs").followed(Follow::Conditions);
pub const EXPERIMENT: KindInfo =
    KindInfo::new("kubeflow.org", "v1beta1", "Experiment", "experiments").followed(Follow::Conditions);
pub const TRIAL: KindInfo = KindInfo::new("kubeflow.org", "v1beta1", "Trial", "trials");
pub const KFSERVING_INFERENCE_SERVICE: KindInfo =
    KindInfo::new("serving.kubeflow.org", "v1beta1", "InferenceService", "inferenceservices").followed(Follow::Serving);
pub const KSERVE_INFERENCE_SERVICE: KindInfo =
    KindInfo::new("serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices").followed(Follow::Serving);
pub const KNATIVE_SERVICE: KindInfo = KindInfo::new("serving.knative.dev", "v1", "Service", "services");
pub const KNATIVE_CONFIGURATION: KindInfo =
    KindInfo::new("serving.knative.dev", "v1", "Configuration", "configurations");
pub const KNATIVE_ROUTE: KindInfo = KindInfo::new("serving.knative.dev", "v1", "Route", "routes");
pub const KNATIVE_REVISION: KindInfo = KindInfo::new("serving.knative.dev", "v1", "Revision", "revisions");

/// Every kind a run can create directly, in the order a cleanup deletes them: what consumes
/// an object goes before the object it consumes.
pub const CREATED_KINDS: [KindInfo; 8] = [
    KFSERVING_INFERENCE_SERVICE,
    KSERVE_INFERENCE_SERVICE,
    EXPERIMENT,
    TFJOB,
    PYTORCHJOB,
    JOB,
    SERVICE_ACCOUNT,
    SECRET,
];

/// The Knative kinds KFServing makes for an InferenceService (owned by it, so they go with it).
pub const KNATIVE_KINDS: [KindInfo; 4] = [KNATIVE_SERVICE, KNATIVE_CONFIGURATION, KNATIVE_ROUTE, KNATIVE_REVISION];

/// What the panel may show or delete one by one: what a run creates, the pods of its Jobs and
/// the Knative objects of its InferenceService. `Service` is Knative's: kaptain makes no core
/// Services.
pub const INSPECTABLE_KINDS: [KindInfo; CREATED_KINDS.len() + 1 + KNATIVE_KINDS.len()] = {
    let mut all = [POD; CREATED_KINDS.len() + 1 + KNATIVE_KINDS.len()];
    let mut i = 0;
    while i < CREATED_KINDS.len() {
        all[i] = CREATED_KINDS[i];
        i += 1;
    }
    // all[CREATED_KINDS.len()] is POD.
    let mut k = 0;
    while k < KNATIVE_KINDS.len() {
        all[CREATED_KINDS.len() + 1 + k] = KNATIVE_KINDS[k];
        k += 1;
    }
    all
};

/// The kinds called `kind` (InferenceService: both serving groups, KFServing's first).
pub fn named(kind: &str) -> Vec<KindInfo> {
    INSPECTABLE_KINDS.into_iter().filter(|k| k.kind == kind).collect()
}

/// The kind names [`named`] knows, for error messages.
pub fn inspectable_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = INSPECTABLE_KINDS.iter().map(|k| k.kind).collect();
    names.dedup();
    names
}

/// The InferenceService kind of a serving group (`serving.kubeflow.org` / `serving.kserve.io`).
pub fn inference_service_of_group(group: &str) -> Option<KindInfo> {
    [KFSERVING_INFERENCE_SERVICE, KSERVE_INFERENCE_SERVICE].into_iter().find(|k| k.group == group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_api_conventions() {
        assert_eq!(SECRET.collection_path("ns"), "/api/v1/namespaces/ns/secrets");
        assert_eq!(TFJOB.collection_path("ns"), "/apis/kubeflow.org/v1/namespaces/ns/tfjobs");
        assert_eq!(JOB.api_version(), "batch/v1");
        assert_eq!(SECRET.api_version(), "v1");
    }

    #[test]
    fn kinds_by_name() {
        assert_eq!(named("InferenceService"), vec![KFSERVING_INFERENCE_SERVICE, KSERVE_INFERENCE_SERVICE]);
        assert_eq!(named("Revision"), vec![KNATIVE_REVISION]);
        assert!(named("Deployment").is_empty());
        assert_eq!(inspectable_names().len(), 12);
    }
}
