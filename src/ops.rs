//! The operations every front end offers (CLI, wasm, and through them JupyterLab and the demo
//! page): parse, render, plan, policy. Front ends only translate arguments and results.

use std::borrow::Cow;

use saphyr::{Scalar, Yaml, YamlEmitter};
use serde_json::Value;

#[cfg(feature = "build-step")]
use crate::context::{self, Context, ContextError, FileSource, Limits};
use crate::identity::{RunId, RunIdentity};
use crate::lifecycle::{self, Outcome, PlanEntry, RunEnd};
use crate::manifest::{self, BuildContext, Manifest};
use crate::spec::{self, Cell, Env, ParseContext, SpecError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The cell (or an option) is wrong; the message says where and how to fix it.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The model's files cannot be packed into a build context.
    #[cfg(feature = "build-step")]
    #[error(transparent)]
    Context(#[from] ContextError),
}

/// An error as the front ends show it: the message, and what it is made of, so that none of
/// them takes it apart again (where in the cell, which field, the fix, the API's answer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorView {
    pub message: String,
    /// The message without its "line L, column C: " (the same when it has none).
    pub detail: String,
    pub field: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub fix: Option<String>,
    /// The HTTP status of the answer that refused, and the Kubernetes reason when the API
    /// server gave one.
    pub status: Option<u16>,
    pub reason: Option<String>,
}

/// What an error of the core is made of beyond its text (see [`ErrorView`]). Matched by hand,
/// not found through `dyn Error`: its vtables bring every error type's `Debug` into the wasm
/// (7 KB).
pub trait Explain: std::fmt::Display {
    /// Fills in what this error knows; `view` holds the message already.
    fn explain(&self, view: &mut ErrorView) {
        let _ = view;
    }

    fn view(&self) -> ErrorView {
        let message = self.to_string();
        let mut view = ErrorView { detail: message.clone(), message, ..ErrorView::default() };
        self.explain(&mut view);
        view
    }
}

impl Explain for SpecError {
    fn explain(&self, view: &mut ErrorView) {
        view.field = Some(self.field.clone());
        view.fix = Some(self.fix.clone()).filter(|f| !f.is_empty());
        if let Some(at) = self.location {
            let prefix = format!("line {}, column {}: ", at.line, at.column);
            view.detail = view.message.strip_prefix(&prefix).unwrap_or(&view.message).to_string();
            (view.line, view.column) = (Some(at.line), Some(at.column));
        }
    }
}

impl Explain for Error {
    fn explain(&self, view: &mut ErrorView) {
        if let Error::Spec(spec) = self {
            spec.explain(view);
        }
    }
}

impl Explain for crate::kube::KubeError {
    fn explain(&self, view: &mut ErrorView) {
        match self {
            crate::kube::KubeError::Api(api) => (view.status, view.reason) = (Some(api.code), Some(api.reason.clone())),
            crate::kube::KubeError::Gateway(gateway) => (view.status, view.fix) = (Some(gateway.code), Some(gateway.fix.clone())),
            _ => {}
        }
    }
}

impl Explain for crate::engine::EngineError {
    fn explain(&self, view: &mut ErrorView) {
        use crate::engine::EngineError;
        match self {
            EngineError::SourceSecret { fix, .. } => view.fix = Some(fix.clone()),
            EngineError::Kube(kube) => kube.explain(view),
            EngineError::CreateFailed { source, .. } | EngineError::FollowFailed { source, .. } => source.explain(view),
            _ => {}
        }
    }
}

impl Explain for crate::engine::objects::ObjectError {
    fn explain(&self, view: &mut ErrorView) {
        if let crate::engine::objects::ObjectError::Kube(kube) = self {
            kube.explain(view);
        }
    }
}

/// What a front end passes besides the cell text.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub namespace: Option<String>,
    /// KAPTAIN_SDK_* switches (others are refused with a "did you mean").
    pub env: Vec<(String, String)>,
    /// `config:` defaults from JupyterLab settings, as YAML or JSON text.
    pub settings: Option<String>,
    pub notebook: Option<String>,
    pub cell_id: Option<String>,
    /// sha256 of the packed build context, when the files have been packed.
    pub context_checksum: Option<String>,
    /// The notebook server running the cell, as it names itself (its base URL); its label
    /// value goes on every object (see [`crate::identity::notebook_server_label`]).
    pub notebook_server: Option<String>,
}

impl Options {
    fn parse_context(&self) -> Result<ParseContext, SpecError> {
        let mut env = Env::new();
        for (key, value) in &self.env {
            env.set(key, value)?;
        }
        Ok(ParseContext { env, settings: self.settings.clone(), namespace: self.namespace.clone() })
    }

    fn identity(&self, run_id: &RunId) -> RunIdentity {
        RunIdentity {
            run_id: run_id.clone(),
            notebook: self.notebook.clone(),
            cell_id: self.cell_id.clone(),
            notebook_server: self.notebook_server.as_deref().map(crate::identity::notebook_server_label),
        }
    }

    fn build_context(&self, cell: &Cell) -> Result<BuildContext, SpecError> {
        match &self.context_checksum {
            None => Ok(BuildContext::from_declaration(cell)),
            Some(sum) if sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) => {
                Ok(BuildContext { checksum: sum.clone() })
            }
            Some(sum) => Err(SpecError::new("context checksum", format!("{sum:?} is not a sha256"), "pass 64 lowercase hex digits")),
        }
    }
}

pub fn parse(cell: &str, options: &Options) -> Result<Cell, Error> {
    Ok(spec::parse_cell(cell, &options.parse_context()?)?)
}

/// The objects the cell would create, in creation order.
pub fn render(cell: &str, options: &Options, run_id: &RunId) -> Result<Vec<Manifest>, Error> {
    prepare(cell, options, run_id).map(|(_, _, objects)| objects)
}

/// Everything a run needs: the parsed cell, who runs it, and its objects.
pub fn prepare(cell: &str, options: &Options, run_id: &RunId) -> Result<(Cell, RunIdentity, Vec<Manifest>), Error> {
    let parsed = parse(cell, options)?;
    let context = options.build_context(&parsed)?;
    let identity = options.identity(run_id);
    let objects = manifest::render(&parsed, &identity, &context);
    Ok((parsed, identity, objects))
}

/// The build context of the cell's model, packed from `files`, when the cell's step builds an
/// image (None when it does not). Its checksum goes into [`Options::context_checksum`].
#[cfg(feature = "build-step")]
pub fn pack_context(cell: &str, options: &Options, files: &dyn FileSource, limits: Limits) -> Result<Option<Context>, Error> {
    let parsed = parse(cell, options)?;
    if !parsed.step_kind().needs_build() {
        return Ok(None);
    }
    Ok(Some(context::pack(&parsed.model, files, limits)?))
}

/// The files (relative to the notebook's directory) the build context of the cell's model is
/// packed from; empty when the cell's step does not build.
#[cfg(feature = "build-step")]
pub fn context_files(cell: &str, options: &Options) -> Result<Vec<String>, Error> {
    let parsed = parse(cell, options)?;
    if !parsed.step_kind().needs_build() {
        return Ok(Vec::new());
    }
    Ok(context::file_paths(&parsed.model)?)
}

/// What happens to each object `render` lists when the run ends with `outcome` in the cell's
/// own step.
pub fn plan(cell: &str, options: &Options, run_id: &RunId, outcome: Outcome) -> Result<Vec<PlanEntry>, Error> {
    let (parsed, _, objects) = prepare(cell, options, run_id)?;
    Ok(lifecycle::plan(&parsed, &objects, RunEnd { phase: parsed.step_kind(), outcome }))
}

pub fn objects_json(manifests: &[Manifest]) -> Value {
    Value::Array(manifests.iter().map(|m| m.object.clone()).collect())
}

/// Manifests as a multi-document YAML stream, as `kubectl apply -f` takes it.
pub fn objects_yaml(manifests: &[Manifest]) -> String {
    let mut out = String::new();
    for m in manifests {
        let mut doc = String::new();
        let mut emitter = YamlEmitter::new(&mut doc);
        if emitter.dump(&to_yaml(&m.object)).is_ok() {
            out.push_str(&doc);
            out.push('\n');
        }
    }
    out
}

/// One object as a YAML document (what the panel shows of an object in the cluster).
pub fn value_yaml(value: &Value) -> String {
    let mut doc = String::new();
    let _ = YamlEmitter::new(&mut doc).dump(&to_yaml(value));
    doc.push('\n');
    doc
}

fn to_yaml(value: &Value) -> Yaml<'static> {
    match value {
        Value::Null => Yaml::Value(Scalar::Null),
        Value::Bool(b) => Yaml::Value(Scalar::Boolean(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Value(Scalar::Integer(i)),
            None => Yaml::Value(Scalar::FloatingPoint(n.as_f64().unwrap_or_default().into())),
        },
        Value::String(s) => Yaml::Value(Scalar::String(Cow::Owned(s.clone()))),
        Value::Array(items) => Yaml::Sequence(items.iter().map(to_yaml).collect()),
        Value::Object(map) => {
            let mut out = saphyr::Mapping::new();
            for (k, v) in map {
                out.insert(Yaml::Value(Scalar::String(Cow::Owned(k.clone()))), to_yaml(v));
            }
            Yaml::Mapping(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::KubeError;

    #[test]
    fn an_error_view_carries_where_and_what_so_that_no_front_end_parses_the_text() {
        let cell = "%%kaptain train\nmodel:\n  id: dev/mnist\n  framework: tensorflw\n";
        let view = parse(cell, &Options::default()).unwrap_err().view();
        assert_eq!((view.line, view.column, view.field.as_deref()), (Some(4), Some(14), Some("model.framework")));
        assert!(view.message.starts_with("line 4, column 14: model.framework: "), "{}", view.message);
        assert!(view.detail.starts_with("model.framework: \"tensorflw\""), "{}", view.detail);
        assert!(view.fix.as_deref().is_some_and(|f| f.contains("tensorflow")), "{view:?}");

        let body = br#"{"kind":"Status","code":403,"reason":"Forbidden","message":"secrets is forbidden"}"#;
        let refused = crate::engine::EngineError::Kube(KubeError::from_response(403, None, body, "create", "secrets", "ns"));
        let view = refused.view();
        assert_eq!((view.status, view.reason.as_deref(), view.line), (Some(403), Some("Forbidden"), None));
        assert_eq!(view.detail, view.message);
    }
}
