//! Pure builders: a validated cell plus a run identity gives the Kubernetes objects to create,
//! in the order they must be created.
//!
//! Per-run credential Secrets are rendered without data: the `kaptain.io/credentials-from`
//! annotation names the source Secret whose data the run copies in when it creates them, so
//! no manifest that is rendered (and shown) ever holds a credential.

mod build;
pub use build::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};
mod deploy;
mod pod;
mod train;
mod tune;

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::identity::{self, Names, RunIdentity};
use crate::kinds::KindInfo;
use crate::lifecycle::Resource;
use crate::spec::{Cell, Step, StepSpec};

/// One object to create, with what the lifecycle needs to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub kind: KindInfo,
    pub name: String,
    pub namespace: String,
    /// The step whose phase created it (a train run's build objects say build).
    pub step: Step,
    pub resource: Resource,
    pub object: Value,
}

/// What the objects are built from besides the cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildContext {
    /// sha256 (hex) of the build context: names the context object and tags the image.
    pub checksum: String,
}

impl BuildContext {
    /// Until the files themselves are packed (and hashed), the checksum covers what the cell
    /// declares about them: the same declaration gives the same image tag.
    pub fn from_declaration(cell: &Cell) -> BuildContext {
        let m = &cell.model;
        let mut hasher = Sha256::new();
        for part in [
            m.base_image.as_deref().unwrap_or(""),
            m.main_file.as_deref().unwrap_or(""),
            m.requirements.as_deref().unwrap_or(""),
            &m.extra_files.join("\n"),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        BuildContext { checksum: crate::context::hex(&hasher.finalize()) }
    }
}

/// `image_name:checksum`: the image a build of this context pushes and training runs.
pub fn image_ref(cell: &Cell, checksum: &str) -> String {
    format!("{}:{}", cell.model.image_name.as_deref().unwrap_or_default(), checksum)
}

/// Everything a builder needs: the cell, who runs it, and the derived names.
pub(crate) struct Ctx<'a> {
    pub cell: &'a Cell,
    pub run: &'a RunIdentity,
    pub names: Names,
    pub context: &'a BuildContext,
}

impl Ctx<'_> {
    pub fn labels(&self, step: Step) -> BTreeMap<String, String> {
        identity::run_labels(self.run, step, &self.cell.model.id, &self.cell.model.labels)
    }

    /// `metadata` of an object the run creates: name, namespace, run labels and annotations.
    pub fn meta(&self, name: String, step: Step) -> Meta {
        Meta {
            annotations: identity::run_annotations(self.run, &self.cell.model.id),
            labels: self.labels(step),
            name,
            namespace: self.cell.config.namespace.clone(),
        }
    }

    /// `image:checksum`, the image the build pushes and training runs.
    pub fn image(&self) -> String {
        image_ref(self.cell, &self.context.checksum)
    }

    pub fn manifest(&self, kind: KindInfo, step: Step, resource: Resource, object: Value) -> Manifest {
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
        Manifest {
            kind,
            name,
            namespace: self.cell.config.namespace.clone(),
            step,
            resource,
            object,
        }
    }
}

/// Object metadata as kaptain writes it. Our own type rather than k8s-openapi's ObjectMeta,
/// whose serializer brings a date library (~50 KB gzipped) into the wasm for fields kaptain
/// never sets.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Meta {
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub name: String,
    pub namespace: String,
}

/// An object: apiVersion and kind first, as people read manifests, then metadata and `fields`.
pub(crate) fn object(kind: KindInfo, meta: &Meta, fields: Value) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("apiVersion".into(), Value::String(kind.api_version()));
    out.insert("kind".into(), Value::String(kind.kind.into()));
    out.insert("metadata".into(), serde_json::to_value(meta).unwrap_or(Value::Null));
    if let Value::Object(fields) = fields {
        out.extend(fields);
    }
    Value::Object(out)
}

/// A custom resource: metadata and a `spec`.
pub(crate) fn with_spec(kind: KindInfo, meta: &Meta, spec: Value) -> Value {
    object(kind, meta, serde_json::json!({ "spec": spec }))
}

/// The objects a cell creates, in creation order (a train or tune cell starts with its build).
pub fn render(cell: &Cell, run: &RunIdentity, context: &BuildContext) -> Vec<Manifest> {
    let ctx = Ctx { cell, run, names: Names::new(&cell.model.id, &run.run_id), context };
    let mut objects = Vec::new();
    if cell.step_kind().needs_build() {
        objects.extend(build::objects(&ctx));
    }
    match &cell.step {
        StepSpec::Build => {}
        StepSpec::Train(spec) => objects.push(train::training_job(&ctx, spec)),
        StepSpec::Tune(spec) => objects.push(tune::experiment(&ctx, spec)),
        StepSpec::Deploy(spec) => objects.extend(deploy::objects(&ctx, spec)),
    }
    objects
}
