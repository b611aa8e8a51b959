//! The JavaScript API (wasm-bindgen): the CLI's operations for JupyterLab, the `%%kaptain`
//! magics and the demo page. Translation only: JS arguments become [`Options`] and a [`RunId`],
//! results become plain JS values (objects, not Maps), errors become JS `Error`s whose message
//! is exactly the core's message (what the CLI prints after `error: `).
//!
//! ```js
//! import init, { parse, render, plan, policy, version } from "./pkg/kaptain.js";
//! await init();
//! const objects = render(cellText, { runId: "r7k2m9q", namespace: "team-a" });
//! const yaml = render(cellText, { runId: "r7k2m9q", format: "yaml" });
//! const entries = plan(cellText, "interrupted", { runId: "r7k2m9q" });
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::identity::{self, RunId, RunIdentity};
use crate::lifecycle::{self, Outcome};
use crate::{ops, Options};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** What every call takes besides the cell text. Every key is optional. */
export interface Options {
  /** One id per cell execution (1-12 of a-z, 0-9, '-', starting with a letter); a new one when absent. */
  runId?: string;
  /** Namespace to work in, when the cell's config does not say. */
  namespace?: string;
  /** KAPTAIN_SDK_* switches, e.g. { KAPTAIN_SDK_FORCE_CLEANUP: "true" }. */
  env?: Record<string, string>;
  /** `config:` defaults (JupyterLab settings) as YAML or JSON text. */
  settings?: string;
  /** Notebook path, written into the objects' annotations. */
  notebook?: string;
  /** Cell id, written into the objects' annotations. */
  cellId?: string;
  /** sha256 (64 lowercase hex digits) of the packed build context. */
  contextChecksum?: string;
  /** render only: "json" (default, an array of objects) or "yaml" (a multi-document string). */
  format?: "json" | "yaml";
}

/** A Kubernetes object as `kubectl apply` takes it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** How the run ended, in the cell's own step. */
export type Outcome = "succeeded" | "failed" | "interrupted";

/** One object's fate when the run ends. Entries come in the order deletes must be sent. */
export interface PlanEntry {
  apiVersion: string;
  kind: string;
  name: string;
  action: "delete" | "keep";
  reason: string;
}

export type Switch = "force_cleanup" | "delete_experiment" | "keep_serving_credentials";

export interface Rule {
  rule: "delete" | "keep" | "delete_if" | "delete_unless";
  switch?: Switch;
}

/** A row of the lifecycle table. */
export interface PolicyRow {
  resource: "build-objects" | "training-job" | "experiment" | "serving-credentials" | "inference-service";
  what: string;
  on_success: Rule;
  on_failure: Rule;
  on_interruption: Rule;
}

/** What `parse` tells about a valid cell. */
export interface CellSummary {
  step: "build" | "train" | "tune" | "deploy";
  /** The model id as written (e.g. "dev/mnist"). */
  modelId: string;
  modelName?: string;
  framework: "tensorflow" | "pytorch";
  namespace: string;
  /** The run id used (options.runId, or a new one: pass it on to render and plan). */
  runId: string;
  /** Label selector that finds every object of the run, whatever its kind. */
  selector: string;
  /** Labels every object of the cell's own step carries. */
  labels: Record<string, string>;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// Randomness for new run ids (the core does no IO, randomness included).
    #[wasm_bindgen(js_namespace = Math)]
    fn random() -> f64;

    #[wasm_bindgen(js_namespace = Object, js_name = keys)]
    fn object_keys(value: &JsValue) -> Vec<String>;
}

/// The keys of [`JsOptions`] as JS writes them. serde-wasm-bindgen reads only the fields a
/// struct names, so unknown keys (a misspelt option) are looked for here.
const OPTION_KEYS: &[&str] =
    &["runId", "namespace", "env", "settings", "notebook", "cellId", "contextChecksum", "format"];

/// `options` as JS passes it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsOptions {
    run_id: Option<String>,
    namespace: Option<String>,
    env: Option<BTreeMap<String, String>>,
    settings: Option<String>,
    notebook: Option<String>,
    cell_id: Option<String>,
    context_checksum: Option<String>,
    format: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CellSummary<'a> {
    step: &'static str,
    model_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_name: Option<&'a str>,
    framework: &'static str,
    namespace: &'a str,
    run_id: &'a str,
    selector: String,
    labels: BTreeMap<String, String>,
}

/// The package version (the crate's).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Parses and validates a `%%kaptain` cell; throws an `Error` saying what is wrong and where.
#[wasm_bindgen(unchecked_return_type = "CellSummary")]
pub fn parse(
    cell: &str,
    #[wasm_bindgen(unchecked_optional_param_type = "Options")] options: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let (options, run_id, _) = load(options)?;
    let parsed = ops::parse(cell, &options).map_err(message)?;
    let step = parsed.step_kind();
    let model = &parsed.model;
    let run = RunIdentity::new(run_id.clone());
    to_js(&CellSummary {
        step: step.as_str(),
        model_id: &model.id,
        model_name: model.name.as_deref(),
        framework: model.framework().as_str(),
        namespace: &parsed.config.namespace,
        run_id: run_id.as_str(),
        selector: identity::run_selector(&run_id),
        labels: identity::run_labels(&run, step, &model.id, &model.labels),
    })
}

/// The objects the cell would create, in creation order: an array of objects, or with
/// `format: "yaml"` one multi-document YAML string (as `kubectl apply -f` takes it).
#[wasm_bindgen(unchecked_return_type = "KubeObject[] | string")]
pub fn render(
    cell: &str,
    #[wasm_bindgen(unchecked_optional_param_type = "Options")] options: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let (options, run_id, format) = load(options)?;
    let yaml = match format.as_deref() {
        None | Some("json") => false,
        Some("yaml") => true,
        Some(other) => {
            return Err(JsError::new(&format!("format: {other:?} is not a format render knows; use json or yaml")))
        }
    };
    let objects = ops::render(cell, &options, &run_id).map_err(message)?;
    if yaml {
        Ok(JsValue::from_str(&ops::objects_yaml(&objects)))
    } else {
        to_js(&ops::objects_json(&objects))
    }
}

/// What happens to each object `render` lists when the run ends with `outcome`
/// ("succeeded", "failed" or "interrupted") in the cell's own step.
#[wasm_bindgen(unchecked_return_type = "PlanEntry[]")]
pub fn plan(
    cell: &str,
    #[wasm_bindgen(unchecked_param_type = "Outcome")] outcome: &str,
    #[wasm_bindgen(unchecked_optional_param_type = "Options")] options: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let (options, run_id, _) = load(options)?;
    let outcome = Outcome::parse(outcome).ok_or_else(|| {
        let known: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        JsError::new(&format!("outcome: {outcome:?} is not an outcome; use {}", known.join(", ")))
    })?;
    let entries = ops::plan(cell, &options, &run_id, outcome).map_err(message)?;
    to_js(&entries)
}

/// The lifecycle table: when each kind of object is deleted. `"markdown"` (the default, as in
/// the CLI) gives a Markdown table, `"json"` an array of rows.
#[wasm_bindgen(unchecked_return_type = "PolicyRow[] | string")]
pub fn policy(
    #[wasm_bindgen(unchecked_optional_param_type = "\"json\" | \"markdown\"")] format: Option<String>,
) -> Result<JsValue, JsError> {
    init();
    match format.as_deref() {
        None | Some("markdown") => Ok(JsValue::from_str(&lifecycle::table_markdown())),
        Some("json") => to_js(&lifecycle::TABLE),
        Some(other) => {
            Err(JsError::new(&format!("format: {other:?} is not a format policy knows; use markdown or json")))
        }
    }
}

fn init() {
    console_error_panic_hook::set_once();
}

/// JS options -> core options, the run id (given or new) and the output format.
fn load(options: Option<JsValue>) -> Result<(Options, RunId, Option<String>), JsError> {
    init();
    let js: JsOptions = match options {
        None => JsOptions::default(),
        Some(options) if options.is_null() => JsOptions::default(),
        Some(options) if !options.is_object() => {
            let type_name = options.js_typeof().as_string().unwrap_or_default();
            return Err(JsError::new(&format!(
                "options: is a {type_name}; pass an object such as {{ runId: \"r7k2m9q\" }}"
            )));
        }
        Some(options) => {
            let unknown = object_keys(&options).into_iter().find(|key| !OPTION_KEYS.contains(&key.as_str()));
            let parsed = match unknown {
                Some(key) => Err(<serde_wasm_bindgen::Error as serde::de::Error>::unknown_field(&key, OPTION_KEYS)),
                None => serde_wasm_bindgen::from_value(options),
            };
            // The error is a JS Error whose string form starts with "Error: ".
            parsed.map_err(|e| JsError::new(&format!("options: {}", e.to_string().trim_start_matches("Error: "))))?
        }
    };
    let run_id = match &js.run_id {
        Some(id) => RunId::parse(id).map_err(|e| JsError::new(&format!("runId: {}; {}", e.problem, e.fix)))?,
        None => RunId::from_entropy(entropy()),
    };
    let options = Options {
        namespace: js.namespace,
        env: js.env.unwrap_or_default().into_iter().collect(),
        settings: js.settings,
        notebook: js.notebook,
        cell_id: js.cell_id,
        context_checksum: js.context_checksum,
    };
    Ok((options, run_id, js.format))
}

/// 64 bits from two `Math.random()` draws (run ids use about 41).
fn entropy() -> u64 {
    let draw = || (random() * 4_294_967_296.0) as u64;
    (draw() << 32) | draw()
}

fn message(error: ops::Error) -> JsError {
    JsError::new(&error.to_string())
}

/// Plain JS values: objects (not Maps), numbers as numbers, missing as null.
fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| JsError::new(&e.to_string()))
}

#[cfg(test)]
#[path = "../tests/wasm/bindings.rs"]
mod tests;
