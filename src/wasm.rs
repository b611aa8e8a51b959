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
//!
//! // With a cluster (through a kubectl proxy, or jupyter-server-proxy's `/<base_url>/kube`):
//! const stop = new AbortController();
//! const report = await apply(cellText, { server: "http://127.0.0.1:8001", signal: stop.signal },
//!                            (event) => console.log(event));
//! // Validate only (dryRun=All), nothing created: a `checked` event per object.
//! await apply(cellText, { server, dryRun: true }, (e) => e.event === "checked" && console.log(e));
//! const listed = await runs({ server: "http://127.0.0.1:8001", namespace: "team-a" });
//! const cleaned = await cleanup(report.run_id, { server: "http://127.0.0.1:8001" });
//! // After a page reload: follow a run the ledger says was live, instead of starting it.
//! await apply(cellText, { server, runId: "r7k2m9q", resume: true }, onEvent);
//! // The panel: one object, the Revisions of a deployment, orphans, logs.
//! const yaml = await objectYaml("Secret", "dev-mnist-r7k2m9q-registry", { server });
//! await deleteObject("TFJob", "dev-mnist-r7k2m9q", { server });
//! const served = await revisions("dev-mnist", { server });
//! await pruneRevisions("dev-mnist", { server });
//! await sweep({ server, runIds: ["r7k2m9q"] });
//! const tails = await logs("r7k2m9q", { server, tailLines: 50 });
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::browser::{self, AbortSignal, BrowserTransport, WatchMode};
#[cfg(feature = "build-step")]
use crate::{browser::S3Route, context::MemorySource};
use crate::engine::{self, Engine, Event};
use crate::identity::{self, RunId, RunIdentity};
use crate::kube::Client;
use crate::lifecycle::{self, Outcome};
use crate::ops::{self, Explain};
use crate::Options;

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
  /**
   * The notebook server running the cell, as it names itself (its base URL, e.g. "/user/alice/",
   * or what `<base_url>/kaptain/config` says): every object gets its label
   * `kaptain.io/notebook-server`, so that servers sharing a namespace each act on their own runs.
   */
  notebookServer?: string;
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
  /** What this fate costs the user, where the lifecycle table knows (the serving caveat). */
  caveat?: string;
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

/** Where the cluster is: what `apply`, `cleanup` and `runs` take besides their own options. */
export interface ClusterOptions {
  /**
   * Base URL of the Kubernetes API without credentials in the browser: a `kubectl proxy`
   * ("http://127.0.0.1:8001") or jupyter-server-proxy's named server ("/user/me/kube").
   * Request paths (/api/..., /apis/...) are appended to it. Required.
   */
  server: string;
  /**
   * Headers for every request, for the server in front of the API, e.g.
   * { Authorization: "token …" } or { "X-XSRFToken": xsrf } for Jupyter's; the request's own
   * Accept and Content-Type win over these.
   */
  headers?: Record<string, string>;
  /** Namespace to work in; cleanup and runs default to "default". */
  namespace?: string;
  /**
   * How runs follow their objects: "json" (default) watches with Accept: application/json,
   * streamed by a kubectl proxy but held back by jupyter-server-proxy until the watch ends;
   * "event-stream" watches with Accept: text/event-stream, which jupyter-server-proxy (>= 4.4)
   * streams when its server entry sets the upstream Accept to application/json
   * (`request_headers_override`; the API server answers text/event-stream itself with 406, and
   * the run then polls); "poll" never watches.
   */
  watch?: "json" | "event-stream" | "poll";
}

/** `apply`'s options: the cell options (but `format`) and where the cluster is. */
export interface ApplyOptions extends Omit<Options, "format">, ClusterOptions {
  /** Follow the run to its outcome and apply the lifecycle (default true). */
  follow?: boolean;
  /**
   * Follow the run `runId` (required then) started before a page reload, instead of starting
   * it: objects that exist count as created (`created` events with `resumed: true`), the rest
   * are created when their phase comes, then the run is followed and its lifecycle applied as
   * usual. Rejects when nothing of the run is left.
   */
  resume?: boolean;
  /** Aborting it interrupts the run: everything of it is deleted, and the report says "interrupted". */
  signal?: AbortSignal;
  /**
   * Validate only, create nothing: the checks a run makes first (source Secrets, serving API,
   * an existing deployment; a failure rejects), then every object with the API server
   * (`dryRun=All`), each answer a `checked` event (no `validated`). The report's outcome is "succeeded" when the
   * server accepts every object, "failed" otherwise; `created` and `plan` are empty.
   */
  dryRun?: boolean;
  /**
   * Where the run's credential Secrets are made: the Jupyter server's
   * "<base_url>/kaptain/secret-copy", which copies each from its source Secret, so that the
   * sources' data never reaches the page. Without it the page reads the sources and fills the
   * copies in itself.
   */
  secretCopy?: string;
  /**
   * A step that builds (build, train, tune): the model's files, by path relative to the
   * notebook's directory (what model.main_file, extra_files and requirements name). The core
   * packs them into the build context, whose checksum tags the image; uploads it to S3 through
   * `s3` unless an image of that checksum was built before (`config.force_rebuild` builds
   * anyway). Without `files` the build objects are created as rendered.
   */
  files?: Record<string, Uint8Array>;
  /** What error messages call the place the files came from, e.g. "the notebook's directory demo/". */
  filesLocation?: string;
  /** Largest build context accepted, in bytes (default 100 MiB). */
  maxContextBytes?: number;
  /**
   * How the page reaches S3: `route`, a URL that forwards S3 requests (the Jupyter server's
   * "<base_url>/kaptain/s3"), and `endpoint`, the S3 endpoint it forwards to (its
   * `/kaptain/config` says), whose host requests are signed for.
   */
  s3?: { route: string; endpoint: string };
}

/** What the build package's `packContext` gives. */
export interface PackedContext {
  /** sha256 over the content (see src/context/mod.rs): names the S3 object, tags the image. */
  checksum: string;
  /** The files in archive order, Dockerfile included, with their sizes in bytes. */
  files: [string, number][];
  dockerfile: string;
  /** The deterministic tar.gz: the same files give the same bytes, natively and in wasm. */
  archive: Uint8Array;
}

export interface ObjectRef {
  kind: string;
  name: string;
}

/** What happened, as it happens: `apply` calls its `onEvent` with each. */
export type RunEvent =
  | { event: "validated"; objects: number }
  /** A line of the build pod's log (kaniko's), as it is written. */
  | { event: "log"; pod: string; line: string }
  /** An image of this build context was built before: the build step is skipped. */
  | { event: "build-skipped"; image: string; built_by: string }
  /** The packed build context is in S3 (`uri`), `bytes` long, named by its `checksum`. */
  | { event: "context-uploaded"; uri: string; bytes: number; checksum: string }
  | { event: "created"; kind: string; name: string; resumed?: true }
  | { event: "status"; kind: string; name: string; state: string; message: string; outcome: Outcome | null }
  | { event: "phase-ended"; phase: "build" | "train" | "tune" | "deploy"; outcome: Outcome; message: string }
  | { event: "deleted"; kind: string; name: string; reason: string }
  | { event: "kept"; kind: string; name: string; reason: string }
  /** Put back as it was before the run: an InferenceService a replacing deploy applied over. */
  | { event: "restored"; kind: string; name: string; reason: string }
  | { event: "remains"; kind: string; name: string; why: string }
  /** With `dryRun`: the API server's answer for one object; `error` is null when it accepts it. */
  | { event: "checked"; kind: string; name: string; error: string | null };

export interface CleanupReport {
  deleted: ObjectRef[];
  /** Objects the run applied over (a replaced InferenceService), put back as they were. */
  restored: ObjectRef[];
  /** What could not be confirmed gone, and why. */
  remaining: [ObjectRef, string][];
  /** API requests the cleanup sent, confirmation included. */
  requests: number;
}

/** How a run ended. */
export interface RunReport {
  run_id: string;
  outcome: Outcome;
  /** The phase the run ended in (a train run whose build failed ended in build). */
  phase: "build" | "train" | "tune" | "deploy";
  message: string;
  created: ObjectRef[];
  plan: PlanEntry[];
  /** Set when the run was interrupted. */
  cleanup: CleanupReport | null;
}

export interface RunObject {
  kind: string;
  name: string;
  step: string;
  state: string;
  /** Seconds since the Unix epoch. */
  created: number;
  /** When it reached its outcome (seconds since the Unix epoch), if it has one. */
  finished: number | null;
  /** A job or experiment still working towards its outcome. */
  active: boolean;
  /** A deployment (an InferenceService): Revisions serve traffic behind it. */
  serving: boolean;
}

/** A run found in the namespace by its labels. */
export interface RunSummary {
  run_id: string;
  model_id: string;
  step: string;
  status: string;
  age_seconds: number;
  /**
   * Seconds since the run ended (its last job or experiment reached its outcome; with none, its
   * newest object was created); null while one still works (never swept by age then).
   */
  ended_seconds_ago: number | null;
  /** The label value of the notebook server that started it; null from the command line. */
  notebook_server: string | null;
  /** Started by the notebook server `runs` was given as `notebookServer`. */
  ours: boolean;
  /** The notebook path and cell id its objects were annotated with (first non-empty), if any. */
  notebook: string | null;
  cell_id: string | null;
  objects: RunObject[];
}

/**
 * Whose runs `runs` lists and `sweep` cleans: with `notebookServer`, that server's; with
 * `allServers: true`, everyone's. Without either, `runs` lists everyone's and `sweep` cleans
 * only runs started without a notebook server (the CLI's, the demo page's).
 */
export interface WhoseOptions {
  notebookServer?: string;
  allServers?: boolean;
}

export interface RunsOptions extends ClusterOptions, WhoseOptions {}

/**
 * The kinds objectYaml and deleteObject take: what a run creates, its pods, and the Knative
 * objects of its InferenceService ("Service" is Knative's).
 */
export type InspectableKind =
  | "InferenceService" | "Experiment" | "TFJob" | "PyTorchJob" | "Job" | "ServiceAccount" | "Secret" | "Pod"
  | "Service" | "Configuration" | "Route" | "Revision";

/** A Knative Revision behind an InferenceService: one per deploy of the model. */
export interface RevisionInfo {
  name: string;
  traffic_percent: number;
  /** The newest Revision that became ready. */
  latest_ready: boolean;
  ready: boolean;
  /** Seconds since the Unix epoch. */
  created: number;
  /** The Knative Service it belongs to. */
  service: string;
  /**
   * Whether pruneRevisions deletes it: no traffic, neither the latest ready Revision nor the
   * latest created (a rollout on its way).
   */
  prunable: boolean;
}

/**
 * What every call of the core rejects (or throws) with when the core refuses: an Error whose
 * message is the core's, with its parts, so that nothing parses the text.
 */
export interface KaptainError extends Error {
  /** The message without its "line L, column C: ". */
  detail: string;
  /** The field as the user writes it, e.g. "model.framework" or "--workers". */
  field?: string;
  /** 1-based, in the cell. */
  line?: number;
  column?: number;
  fix?: string;
  /** The HTTP status of the answer that refused, and the Kubernetes reason when there is one. */
  status?: number;
  reason?: string;
}

export interface PrunedRevisions {
  deleted: string[];
  kept: string[];
}

export interface SweepOptions extends ClusterOptions, WhoseOptions {
  /** Sweep the runs that ended longer ago than this (a run still working is never swept by age). */
  olderThanSeconds?: number;
  /** Sweep these runs (orphans: their notebook or cell is gone). */
  runIds?: string[];
  /** Delete nothing; `deleted` lists what would be. */
  dryRun?: boolean;
}

/** A swept run: everything but a deployment is deleted. */
export interface SweptRun {
  run_id: string;
  age_seconds: number;
  deleted: ObjectRef[];
  /** The deployment (InferenceService and its serving credentials), never swept. */
  kept: ObjectRef[];
}

export interface LogsOptions extends ClusterOptions {
  /** Lines from the end of each container's log (default 100). */
  tailLines?: number;
}

/** The tail of one container's log. */
export interface PodLog {
  pod: string;
  container: string;
  lines: string[];
  /** Why there are no lines ("logs unavailable: ..."): a pod not started, a node out of reach. */
  error?: string;
}

/** What `parse` tells about a valid cell. */
export interface CellSummary {
  step: "build" | "train" | "tune" | "deploy";
  /** The phases a run of the cell goes through, in order (train and tune build first). */
  phases: ("build" | "train" | "tune" | "deploy")[];
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

    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(value: &JsValue);
}

/// The keys of [`JsOptions`] as JS writes them. Deserializing reads only the fields a struct
/// names, so unknown keys (a misspelt option) are looked for here.
const OPTION_KEYS: &[&str] =
    &["runId", "namespace", "env", "settings", "notebook", "cellId", "contextChecksum", "notebookServer", "format"];
/// `apply`'s keys: the cell's (but `format`) and the cluster's; the build package (pkg/build/)
/// also takes the build step's.
#[cfg(not(feature = "build-step"))]
const APPLY_KEYS: &[&str] = &[
    "runId", "namespace", "env", "settings", "notebook", "cellId", "contextChecksum", "notebookServer", "server", "headers",
    "follow", "signal", "watch", "resume", "dryRun", "secretCopy",
];
#[cfg(feature = "build-step")]
const APPLY_KEYS: &[&str] = &[
    "runId", "namespace", "env", "settings", "notebook", "cellId", "contextChecksum", "notebookServer", "server", "headers",
    "follow", "signal", "watch", "resume", "dryRun", "secretCopy", "files", "filesLocation", "maxContextBytes", "s3",
];
/// The keys of `cleanup`, `runs` and the other calls that take just the cluster.
const CLUSTER_KEYS: &[&str] = &["server", "headers", "namespace", "watch"];
const RUNS_KEYS: &[&str] = &["server", "headers", "namespace", "watch", "notebookServer", "allServers"];
const SWEEP_KEYS: &[&str] =
    &["server", "headers", "namespace", "watch", "notebookServer", "allServers", "olderThanSeconds", "runIds", "dryRun"];
const LOGS_KEYS: &[&str] = &["server", "headers", "namespace", "watch", "tailLines"];
/// Lines of each container's log `logs` gives when `tailLines` is absent.
const DEFAULT_TAIL_LINES: u32 = 100;

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
    notebook_server: Option<String>,
    all_servers: Option<bool>,
    format: Option<String>,
    server: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    follow: Option<bool>,
    watch: Option<String>,
    resume: Option<bool>,
    older_than_seconds: Option<u32>,
    run_ids: Option<Vec<String>>,
    dry_run: Option<bool>,
    tail_lines: Option<u32>,
    #[cfg(feature = "build-step")]
    files_location: Option<String>,
    #[cfg(feature = "build-step")]
    max_context_bytes: Option<f64>,
    #[cfg(feature = "build-step")]
    s3: Option<JsS3Route>,
    // `signal` (an AbortSignal), `files` (Uint8Arrays) and apply's `secretCopy` are read as they
    // are, not through serde: a field here costs its size in every call that takes options.
}

#[cfg(feature = "build-step")]
#[derive(Debug, Deserialize)]
struct JsS3Route {
    route: String,
    endpoint: String,
}

/// `options.files`: path relative to the notebook's directory -> bytes.
#[cfg(feature = "build-step")]
fn files(options: &JsValue, location: Option<&str>) -> Result<Option<MemorySource>, JsError> {
    let files = js_sys::Reflect::get(options, &JsValue::from_str("files")).unwrap_or(JsValue::UNDEFINED);
    if files.is_undefined() || files.is_null() {
        return Ok(None);
    }
    memory_source(&files, location).map(Some)
}

/// A `Record<string, Uint8Array>` of files as a source the packer reads.
#[cfg(feature = "build-step")]
fn memory_source(files: &JsValue, location: Option<&str>) -> Result<MemorySource, JsError> {
    let mut source = MemorySource::new(location.unwrap_or("the notebook's directory"));
    for path in object_keys(&files) {
        let bytes = js_sys::Reflect::get(&files, &JsValue::from_str(&path)).unwrap_or(JsValue::UNDEFINED);
        let bytes = bytes.dyn_into::<js_sys::Uint8Array>().map_err(|_| JsError::new(&format!("files[{path:?}]: is not a Uint8Array; pass the file's bytes")))?;
        source.insert(&path, bytes.to_vec());
    }
    Ok(source)
}

/// What `packContext` gives: the checksum, the files packed with their sizes, the generated
/// Dockerfile and the tar.gz.
#[cfg(feature = "build-step")]
#[derive(Serialize)]
struct PackedSummary<'a> {
    checksum: &'a str,
    files: &'a [(String, u64)],
    dockerfile: &'a str,
}

/// The build package only: the build context of the cell's model packed from `files` (path
/// relative to the notebook's directory -> bytes), as `apply` packs it: `{ checksum, files,
/// dockerfile, archive }`, `archive` the deterministic tar.gz. Throws what `apply` would (a
/// missing file, a path outside the directory, a context too large), or when the cell's step
/// does not build.
#[cfg(feature = "build-step")]
#[wasm_bindgen(js_name = packContext, unchecked_return_type = "PackedContext")]
pub fn pack_context(
    cell: &str,
    #[wasm_bindgen(unchecked_param_type = "Record<string, Uint8Array>")] files: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Options")] options: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let (options, _, _) = load(options)?;
    let source = memory_source(&files, None)?;
    let packed = ops::pack_context(cell, &options, &source, crate::context::Limits::default())
        .map_err(failed)?
        .ok_or_else(|| JsError::new("cell: its step does not build an image; packContext is for build, train and tune cells"))?;
    let summary = to_js(&PackedSummary { checksum: &packed.checksum, files: &packed.files, dockerfile: &packed.dockerfile })?;
    let archive = js_sys::Uint8Array::from(packed.archive.as_slice());
    js_sys::Reflect::set(&summary, &JsValue::from_str("archive"), &archive).map_err(|_| JsError::new("cannot hand the archive to JavaScript"))?;
    Ok(summary)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CellSummary<'a> {
    step: &'static str,
    phases: Vec<&'static str>,
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

/// The build package only: the largest build context `apply` accepts by default, in bytes (what
/// a front end asks for files up to, before it has them).
#[cfg(feature = "build-step")]
#[wasm_bindgen(js_name = maxContextBytes)]
pub fn max_context_bytes() -> f64 {
    crate::context::DEFAULT_MAX_BYTES as f64
}

/// The build package only: the files, by path relative to the notebook's directory, that a
/// cell's build context is packed from (what `apply` wants in `files`); empty when the cell's
/// step does not build. Throws when a path leaves the notebook's directory.
#[cfg(feature = "build-step")]
#[wasm_bindgen(js_name = contextFiles)]
pub fn context_files(
    cell: &str,
    #[wasm_bindgen(unchecked_optional_param_type = "Options")] options: Option<JsValue>,
) -> Result<Vec<String>, JsError> {
    let (options, _, _) = load(options)?;
    ops::context_files(cell, &options).map_err(failed)
}

/// Parses and validates a `%%kaptain` cell; throws an `Error` saying what is wrong and where.
#[wasm_bindgen(unchecked_return_type = "CellSummary")]
pub fn parse(
    cell: &str,
    #[wasm_bindgen(unchecked_optional_param_type = "Options")] options: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let (options, run_id, _) = load(options)?;
    let parsed = ops::parse(cell, &options).map_err(failed)?;
    let step = parsed.step_kind();
    let model = &parsed.model;
    let run = RunIdentity::new(run_id.clone());
    to_js(&CellSummary {
        step: step.as_str(),
        phases: step.phases().iter().map(|phase| phase.as_str()).collect(),
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
    let objects = ops::render(cell, &options, &run_id).map_err(failed)?;
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
    let entries = ops::plan(cell, &options, &run_id, outcome).map_err(failed)?;
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
    let (options, run_id, js) = load_with(options, OPTION_KEYS)?;
    Ok((options, run_id, js.format))
}

/// Reads `options` with the keys a call takes: the core options, the run id and the JS options.
fn load_with(options: Option<JsValue>, keys: &'static [&'static str]) -> Result<(Options, RunId, JsOptions), JsError> {
    let js = read_options(options, keys)?;
    let run_id = match &js.run_id {
        Some(id) => RunId::parse(id).map_err(|e| JsError::new(&format!("runId: {}; {}", e.problem, e.fix)))?,
        None => RunId::from_entropy(entropy()),
    };
    let options = Options {
        namespace: js.namespace.clone(),
        env: js.env.clone().unwrap_or_default().into_iter().collect(),
        settings: js.settings.clone(),
        notebook: js.notebook.clone(),
        cell_id: js.cell_id.clone(),
        context_checksum: js.context_checksum.clone(),
        notebook_server: js.notebook_server.clone(),
    };
    Ok((options, run_id, js))
}

fn read_options(options: Option<JsValue>, keys: &'static [&'static str]) -> Result<JsOptions, JsError> {
    init();
    Ok(match options {
        None => JsOptions::default(),
        Some(options) if options.is_null() || options.is_undefined() => JsOptions::default(),
        Some(options) if !options.is_object() => {
            let type_name = options.js_typeof().as_string().unwrap_or_default();
            return Err(JsError::new(&format!(
                "options: is a {type_name}; pass an object such as {{ runId: \"r7k2m9q\" }}"
            )));
        }
        Some(options) => {
            if let Some(key) = object_keys(&options).into_iter().find(|key| !keys.contains(&key.as_str())) {
                let error = <serde_json::Error as serde::de::Error>::unknown_field(&key, keys);
                return Err(JsError::new(&format!("options: {error}")));
            }
            // Through JSON, whose reader the core has anyway (serde-wasm-bindgen cost 1.5 KB
            // gzipped more); without what is read as it is (an AbortSignal, the files' bytes).
            let plain = js_sys::Object::assign(&js_sys::Object::new(), options.unchecked_ref());
            for key in ["signal", "files"] {
                let _ = js_sys::Reflect::delete_property(&plain, &JsValue::from_str(key));
            }
            let text = js_sys::JSON::stringify(&plain).ok().and_then(|t| t.as_string()).ok_or_else(|| JsError::new("options: cannot be read as JSON (a BigInt, or a cycle?)"))?;
            serde_json::from_slice(text.as_bytes()).map_err(|e| {
                // Its position is in the JSON text the user never saw.
                let message = e.to_string();
                let message = message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m);
                JsError::new(&format!("options: {message}"))
            })?
        }
    })
}

/// The cluster a call talks to, from `server`, `headers` and `watch`.
fn connect(js: &JsOptions, secret_copy: Option<String>) -> Result<Client<BrowserTransport>, JsError> {
    let server = js.server.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| {
        JsError::new(
            "server: missing; pass the base URL of the Kubernetes API, e.g. \"http://127.0.0.1:8001\" (kubectl proxy) or \"/user/me/kube\" (jupyter-server-proxy)",
        )
    })?;
    let watch = match js.watch.as_deref() {
        None => WatchMode::Json,
        Some(name) => WatchMode::parse(name).ok_or_else(|| {
            JsError::new(&format!("watch: {name:?} is not a watch mode; use {}", WatchMode::NAMES.join(", ")))
        })?,
    };
    let headers = js.headers.clone().unwrap_or_default().into_iter().collect();
    let transport = BrowserTransport::new(server, headers, watch).with_secret_copy(secret_copy);
    #[cfg(feature = "build-step")]
    let transport = transport.with_s3(js.s3.as_ref().map(|r| S3Route { base: r.route.clone(), endpoint: r.endpoint.clone() }));
    Ok(Client::new(transport))
}

/// `options.signal`: None when absent; an error when it is not an AbortSignal.
fn signal(options: &JsValue) -> Result<Option<AbortSignal>, JsError> {
    let signal = js_sys::Reflect::get(options, &JsValue::from_str("signal")).unwrap_or(JsValue::UNDEFINED);
    if signal.is_undefined() || signal.is_null() {
        return Ok(None);
    }
    let aborted = js_sys::Reflect::get(&signal, &JsValue::from_str("aborted")).unwrap_or(JsValue::UNDEFINED);
    if aborted.as_bool().is_none() {
        return Err(JsError::new("signal: is not an AbortSignal; pass one such as new AbortController().signal"));
    }
    Ok(Some(signal.unchecked_into()))
}

/// Creates the cell's objects in the cluster, follows them to an outcome and applies the
/// lifecycle (the CLI's `kaptain apply`). Calls `onEvent` with each event as it happens.
/// Resolves with the run's report, also when `options.signal` interrupts it (every object of
/// the run is then deleted; outcome "interrupted"); rejects with an `Error` when the cell is
/// invalid (before anything is created) or the cluster fails the run. With `options.dryRun` it
/// validates only (`dryRun=All`) and creates nothing.
#[wasm_bindgen(unchecked_return_type = "RunReport")]
pub async fn apply(
    cell: String,
    #[wasm_bindgen(unchecked_param_type = "ApplyOptions")] options: JsValue,
    #[wasm_bindgen(js_name = onEvent, unchecked_optional_param_type = "(event: RunEvent) => void")] on_event: Option<js_sys::Function>,
) -> Result<JsValue, JsError> {
    if on_event.as_ref().is_some_and(|f| !f.is_function()) {
        return Err(JsError::new("onEvent: is not a function; pass one such as (event) => console.log(event)"));
    }
    let cancel = if options.is_object() { signal(&options)? } else { None };
    let secret_copy = match js_sys::Reflect::get(&options, &JsValue::from_str("secretCopy")).ok().filter(|v| !v.is_undefined() && !v.is_null()) {
        Some(route) => Some(route.as_string().ok_or_else(|| JsError::new("secretCopy: is not a URL; pass the Jupyter server's \"<base_url>/kaptain/secret-copy\""))?),
        None => None,
    };
    #[cfg(feature = "build-step")]
    let raw_options = options.clone();
    let (options, run_id, js) = load_with(Some(options), APPLY_KEYS)?;
    let resume = js.resume.unwrap_or(false);
    if resume && js.run_id.is_none() {
        return Err(JsError::new("resume: needs runId, the run the page followed before it was reloaded"));
    }
    let client = connect(&js, secret_copy)?;
    #[cfg(feature = "build-step")]
    let (options, context) = {
        let source = files(&raw_options, js.files_location.as_deref())?.filter(|_| !resume);
        let mut options = options;
        let mut limits = crate::context::Limits::default();
        if let Some(max) = js.max_context_bytes {
            limits.max_bytes = max as u64;
        }
        let context = match source {
            Some(source) => ops::pack_context(&cell, &options, &source, limits).map_err(failed)?,
            None => None,
        };
        if let Some(context) = &context {
            options.context_checksum = Some(context.checksum.clone());
        }
        (options, context)
    };
    let (parsed, identity, objects) = ops::prepare(&cell, &options, &run_id).map_err(failed)?;
    let mut emit = |event: Event| {
        if let (Some(callback), Ok(value)) = (&on_event, to_js(&event)) {
            if let Err(thrown) = callback.call1(&JsValue::NULL, &value) {
                // The run goes on: a failing listener must not leave objects behind.
                console_error(&thrown);
            }
        }
    };
    let cancelled = async move {
        match cancel {
            Some(signal) => browser::aborted(signal).await,
            None => std::future::pending().await,
        }
    };
    let runner = Engine::new(&client, &parsed, &identity, &mut emit).resume(resume).dry_run(js.dry_run.unwrap_or(false));
    #[cfg(feature = "build-step")]
    let runner = runner.context(context.as_ref());
    let mut runner = runner;
    let report = runner
        .run(objects, js.follow.unwrap_or(true), cancelled)
        .await
        .map_err(failed)?;
    to_js(&report)
}

/// Deletes every object of a run, by label across every kind a run can create, and waits
/// until they are gone (the CLI's `kaptain cleanup`). Resolves with what was deleted and what
/// could not be confirmed gone.
#[wasm_bindgen(unchecked_return_type = "CleanupReport")]
pub async fn cleanup(
    #[wasm_bindgen(js_name = runId)] run_id: String,
    #[wasm_bindgen(unchecked_param_type = "ClusterOptions")] options: JsValue,
) -> Result<JsValue, JsError> {
    let run_id = parse_run_id("runId", &run_id)?;
    let (_, client, namespace) = cluster(options, CLUSTER_KEYS)?;
    let report = engine::cleanup(&client, &namespace, &run_id, &mut |_| {}).await;
    to_js(&report)
}

/// `options` of a call that talks to the cluster: the JS options, the client and the namespace.
fn cluster(options: JsValue, keys: &'static [&'static str]) -> Result<(JsOptions, Client<BrowserTransport>, String), JsError> {
    let js = read_options(Some(options), keys)?;
    let namespace = js.namespace.clone().unwrap_or_else(|| crate::spec::Config::default().namespace);
    identity::check_namespace("namespace", &namespace).map_err(failed)?;
    let client = connect(&js, None)?;
    Ok((js, client, namespace))
}

fn parse_run_id(what: &str, run_id: &str) -> Result<RunId, JsError> {
    RunId::parse(run_id).map_err(|e| JsError::new(&format!("{what}: {}; {}", e.problem, e.fix)))
}

/// An error of the core as JavaScript gets it: an `Error` whose message is the core's, with
/// the parts of its [`ErrorView`] as properties (`KaptainError` in the typings). A JsError's
/// clone is the same JS object, so the properties are set through it.
fn failed(error: impl Explain) -> JsError {
    thrown(error.view())
}

/// Once for every error type (inlined into each `failed`, it cost 3 KB).
#[inline(never)]
fn thrown(view: ops::ErrorView) -> JsError {
    let thrown = JsError::new(&view.message);
    let object = JsValue::from(thrown.clone());
    let text = |v: Option<String>| v.map(JsValue::from);
    let number = |v: Option<usize>| v.map(|n| JsValue::from(n as f64));
    let parts = [
        ("detail", Some(JsValue::from(view.detail))),
        ("field", text(view.field)),
        ("line", number(view.line)),
        ("column", number(view.column)),
        ("fix", text(view.fix)),
        ("status", number(view.status.map(usize::from))),
        ("reason", text(view.reason)),
    ];
    for (name, value) in parts {
        if let Some(value) = value {
            let _ = js_sys::Reflect::set(&object, &JsValue::from_str(name), &value);
        }
    }
    thrown
}

/// One object of a run as YAML, for the panel: `kind` is its kind name ("TFJob", "Secret",
/// "Revision"...; an InferenceService in whichever serving group has it). Without
/// `metadata.managedFields`; a Secret's values are replaced by `<hidden: N bytes>`. Rejects
/// objects kaptain does not manage.
#[wasm_bindgen(js_name = objectYaml)]
pub async fn object_yaml(
    #[wasm_bindgen(unchecked_param_type = "InspectableKind")] kind: String,
    name: String,
    #[wasm_bindgen(unchecked_param_type = "ClusterOptions")] options: JsValue,
) -> Result<String, JsError> {
    let (_, client, namespace) = cluster(options, CLUSTER_KEYS)?;
    engine::objects::object_yaml(&client, &kind, &name, &namespace).await.map_err(failed)
}

/// Deletes one object kaptain manages (its dependents go by the garbage collector) and waits
/// until it is gone. Rejects objects kaptain does not manage, naming them and why.
#[wasm_bindgen(js_name = deleteObject, unchecked_return_type = "ObjectRef")]
pub async fn delete_object(
    #[wasm_bindgen(unchecked_param_type = "InspectableKind")] kind: String,
    name: String,
    #[wasm_bindgen(unchecked_param_type = "ClusterOptions")] options: JsValue,
) -> Result<JsValue, JsError> {
    let (_, client, namespace) = cluster(options, CLUSTER_KEYS)?;
    to_js(&engine::objects::delete_object(&client, &kind, &name, &namespace).await.map_err(failed)?)
}

/// The Knative Revisions behind a kaptain InferenceService (one per deploy), newest first,
/// with their share of the traffic.
#[wasm_bindgen(unchecked_return_type = "RevisionInfo[]")]
pub async fn revisions(
    #[wasm_bindgen(js_name = inferenceService)] inference_service: String,
    #[wasm_bindgen(unchecked_param_type = "ClusterOptions")] options: JsValue,
) -> Result<JsValue, JsError> {
    let (_, client, namespace) = cluster(options, CLUSTER_KEYS)?;
    to_js(&engine::serving::revisions(&client, &inference_service, &namespace).await.map_err(failed)?)
}

/// Deletes the Revisions of a kaptain InferenceService that serve no traffic; never the latest
/// ready (nor the latest created) one, nor any with traffic.
#[wasm_bindgen(js_name = pruneRevisions, unchecked_return_type = "PrunedRevisions")]
pub async fn prune_revisions(
    #[wasm_bindgen(js_name = inferenceService)] inference_service: String,
    #[wasm_bindgen(unchecked_param_type = "ClusterOptions")] options: JsValue,
) -> Result<JsValue, JsError> {
    let (_, client, namespace) = cluster(options, CLUSTER_KEYS)?;
    to_js(&engine::serving::prune_revisions(&client, &inference_service, &namespace).await.map_err(failed)?)
}

/// Removes what runs left behind (the CLI's `kaptain sweep`): everything but a deployment, of
/// the runs in `runIds` and of those that ended longer ago than `olderThanSeconds`, among
/// `notebookServer`'s runs (or everyone's with `allServers`, or without either the runs no
/// notebook server started).
#[wasm_bindgen(unchecked_return_type = "SweptRun[]")]
pub async fn sweep(
    #[wasm_bindgen(unchecked_param_type = "SweepOptions")] options: JsValue,
) -> Result<JsValue, JsError> {
    let (js, client, namespace) = cluster(options, SWEEP_KEYS)?;
    let run_ids = js.run_ids.unwrap_or_default();
    if js.older_than_seconds.is_none() && run_ids.is_empty() {
        return Err(JsError::new("sweep: selects no run; pass olderThanSeconds, runIds or both"));
    }
    let run_ids = run_ids.iter().enumerate().map(|(i, id)| parse_run_id(&format!("runIds[{i}]"), id)).collect::<Result<_, _>>()?;
    let whose = engine::runs::Whose::of(js.notebook_server.as_deref(), js.all_servers.unwrap_or(false));
    let selection = engine::runs::SweepSelection { whose, older_than_seconds: js.older_than_seconds, run_ids };
    let swept = engine::runs::sweep(&client, &namespace, &selection, js.dry_run.unwrap_or(false), &mut |_, _| {}).await.map_err(failed)?;
    to_js(&swept)
}

/// The tail of the logs of every container of the run's pods. A log the cluster cannot give
/// (a pod not started, no kubelet) is reported in the entry's `error`, not thrown.
#[wasm_bindgen(unchecked_return_type = "PodLog[]")]
pub async fn logs(
    #[wasm_bindgen(js_name = runId)] run_id: String,
    #[wasm_bindgen(unchecked_param_type = "LogsOptions")] options: JsValue,
) -> Result<JsValue, JsError> {
    let run_id = parse_run_id("runId", &run_id)?;
    let (js, client, namespace) = cluster(options, LOGS_KEYS)?;
    let tail = js.tail_lines.unwrap_or(DEFAULT_TAIL_LINES);
    to_js(&engine::objects::logs(&client, &namespace, &run_id, tail).await.map_err(failed)?)
}

/// The runs with objects in the namespace, newest first (the CLI's `kaptain runs`): one
/// server's with `notebookServer`, else everyone's.
#[wasm_bindgen(unchecked_return_type = "RunSummary[]")]
pub async fn runs(
    #[wasm_bindgen(unchecked_param_type = "RunsOptions")] options: JsValue,
) -> Result<JsValue, JsError> {
    let (js, client, namespace) = cluster(options, RUNS_KEYS)?;
    let whose = engine::runs::Whose::of(js.notebook_server.as_deref(), js.all_servers.unwrap_or(js.notebook_server.is_none()));
    let mut runs = engine::runs::list_runs(&client, &namespace, &whose).await.map_err(failed)?;
    engine::runs::mark_ours(&mut runs, js.notebook_server.as_deref());
    to_js(&runs)
}

/// 64 bits from two `Math.random()` draws (run ids use about 41).
fn entropy() -> u64 {
    let draw = || (random() * 4_294_967_296.0) as u64;
    (draw() << 32) | draw()
}


/// Plain JS values: objects (not Maps), numbers as numbers, missing as null. Through JSON text:
/// serde_json's writer is already in the wasm, and one JSON.parse is smaller code than a
/// serde-wasm-bindgen serializer per result type.
fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    let text = serde_json::to_string(value).map_err(|e| JsError::new(&e.to_string()))?;
    js_sys::JSON::parse(&text).map_err(|_| JsError::new("cannot hand the result to JavaScript (JSON.parse failed)"))
}

#[cfg(test)]
#[path = "../tests/wasm/bindings.rs"]
mod tests;
