//! Requests to the Kubernetes API over a [`Transport`]: create / apply / get / list / delete /
//! delete a collection / watch / discovery, with retries for transient errors. Requests are
//! built by kube-core; this module adds the error types and the retry policy.

use std::time::Duration;

use futures_util::stream::{self, Stream, StreamExt};
use kube_core::params::{DeleteParams, GetParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy, WatchParams};
use kube_core::request::Request;
use serde_json::Value;

use super::error::{ApiError, KubeError};
use super::transport::{ByteStream, Response, Transport};
use crate::kinds::KindInfo;

/// The field manager kaptain's server-side applies are recorded under.
pub const FIELD_MANAGER: &str = "kaptain";

/// On a Secret's create, sent where a server copies Secrets ([`Transport::copies_secrets`]):
/// the Secret to copy from, in the same namespace, and the keys to copy (comma-separated).
/// That server reads the source, puts the keys' values into the Secret and creates it; it
/// answers as the API server does, a failure to read the source being the read's Status
/// (whose `details.name` is the source), a missing key a 422 naming `data[<key>]`.
pub const COPY_FROM_HEADER: http::HeaderName = http::HeaderName::from_static("x-kaptain-copy-from");
pub const COPY_KEYS_HEADER: http::HeaderName = http::HeaderName::from_static("x-kaptain-copy-keys");

/// A Secret's data copied from another Secret by the server in front of the API.
#[derive(Debug, Clone, Copy)]
pub struct SecretCopy<'a> {
    pub source: &'a str,
    pub keys: &'a [&'a str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 8, first_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(5) }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        self.first_backoff.saturating_mul(1 << attempt.min(10)).min(self.max_backoff)
    }
}

/// `Accept` for an answer that needs only the objects' metadata: what a Secret holds never
/// travels. No fallback to the whole object: every kind kaptain touches is served by the API
/// server itself, which has answered these since Kubernetes 1.15.
const METADATA: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/// A list: the items and the resourceVersion a watch can start from.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectList {
    pub items: Vec<Value>,
    pub resource_version: String,
}

/// A change seen by a watch.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    Added(Value),
    Modified(Value),
    Deleted(Value),
    Bookmark(String),
    /// The watch ended with an error Status (e.g. 410 Gone: the resourceVersion is too old).
    Error(Box<ApiError>),
}

pub struct Client<T> {
    transport: T,
    retry: RetryPolicy,
    /// When the API last could not be reached (the transport's clock), if ever.
    unreachable_at: std::cell::Cell<Option<i64>>,
}

/// How long after the API could not be reached a 403 counts as transient: an API server that
/// just came back answers before its authorizer has read the RBAC objects, and denies what its
/// Roles allow (seen here: a restarted kube-apiserver refused a ServiceAccount `get jobs`).
const AFTER_OUTAGE_SECONDS: i64 = 30;

struct Call<'a> {
    verb: &'static str,
    kind: &'a KindInfo,
    namespace: &'a str,
    /// What to ask the answer as (METADATA, METADATA_LIST); None: the objects whole.
    accept: Option<&'static str>,
}

fn header(call: &Call<'_>, value: &str) -> Result<http::HeaderValue, KubeError> {
    http::HeaderValue::from_str(value).map_err(|_| KubeError::Request { what: call.what(), message: format!("{value:?} cannot be sent in a header") })
}

/// API discovery (`GET /apis`): the one request in no namespace.
const DISCOVERY: KindInfo = KindInfo { group: "", version: "", kind: "APIGroupList", plural: "apis", follow: crate::kinds::Follow::Not };

impl Call<'_> {
    /// Refuses a namespace that is not one before it becomes part of a path.
    fn check(&self) -> Result<(), KubeError> {
        if *self.kind == DISCOVERY {
            return Ok(());
        }
        crate::identity::check_namespace("namespace", self.namespace)
            .map_err(|e| KubeError::Request { what: format!("{} {} in {:?}", self.verb, self.resource(), self.namespace), message: e.to_string() })
    }

    fn resource(&self) -> String {
        if self.kind.group.is_empty() {
            self.kind.plural.to_string()
        } else {
            format!("{}.{}", self.kind.plural, self.kind.group)
        }
    }

    fn what(&self) -> String {
        format!("{} {} in {}", self.verb, self.resource(), self.namespace)
    }

    fn api_error(&self, status: u16, retry_after: Option<&str>, body: &[u8]) -> KubeError {
        KubeError::from_response(status, retry_after, body, self.verb, &self.resource(), self.namespace)
    }
}

/// GET of a pod's log. Built here, not by kube-core's `logs`: its LogParams carry a timestamp
/// whose formatting brings a date library (~60 KB gzipped) into the wasm. Pod and container
/// names are DNS labels, so nothing needs escaping; anything else is refused.
fn log_request(call: &Call<'_>, pod: &str, container: &str, query: &str) -> Result<http::Request<Vec<u8>>, KubeError> {
    call.check()?;
    let plain = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !plain(pod) || !plain(container) {
        return Err(KubeError::Request { what: call.what(), message: format!("{pod:?} / {container:?} is not a pod / container name") });
    }
    let path = format!("{}/{pod}/log?container={container}&{query}", crate::kinds::POD.collection_path(call.namespace));
    http::Request::get(path).body(Vec::new()).map_err(|e| KubeError::Request { what: call.what(), message: e.to_string() })
}

fn request_error(call: &Call<'_>, error: kube_core::request::Error) -> KubeError {
    KubeError::Request { what: call.what(), message: error.to_string() }
}

fn decode(call: &Call<'_>, body: &[u8]) -> Result<Value, KubeError> {
    serde_json::from_slice(body).map_err(|e| match super::error::html_title(String::from_utf8_lossy(body).trim_start()) {
        // A login page after a followed redirect, an error page of a proxy: said as such.
        Some(_) => KubeError::from_response(200, None, body, call.verb, &call.resource(), call.namespace),
        None => KubeError::Decode { what: call.what(), message: e.to_string() },
    })
}

impl<T: Transport> Client<T> {
    pub fn new(transport: T) -> Self {
        Client::with_retry(transport, RetryPolicy::default())
    }

    pub fn with_retry(transport: T, retry: RetryPolicy) -> Self {
        Client { transport, retry, unreachable_at: std::cell::Cell::new(None) }
    }

    /// Worth trying again: a transient error, or a refusal from an API server that was out of
    /// reach moments ago (see [`AFTER_OUTAGE_SECONDS`]).
    fn retryable(&self, error: &KubeError) -> bool {
        let now = self.transport.now();
        if matches!(error, KubeError::Transport { .. }) {
            self.unreachable_at.set(Some(now));
        }
        let after_outage = self.unreachable_at.get().is_some_and(|at| now - at <= AFTER_OUTAGE_SECONDS);
        error.is_transient() || (after_outage && error.api().is_some_and(|e| e.code == 403))
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Sends `build()`'s request, trying again on transient errors (honouring Retry-After).
    /// `build` is a `dyn Fn`: one retry loop in the wasm, not one per kind of request (~8 KB).
    async fn call(&self, call: &Call<'_>, build: &dyn Fn() -> Result<http::Request<Vec<u8>>, kube_core::request::Error>) -> Result<Vec<u8>, KubeError> {
        call.check()?;
        let mut attempt = 0;
        loop {
            let mut request = build().map_err(|e| request_error(call, e))?;
            if let Some(accept) = call.accept {
                request.headers_mut().insert(http::header::ACCEPT, http::HeaderValue::from_static(accept));
            }
            let error = match self.transport.send(request).await {
                Ok(r) if (200..300).contains(&r.status) => return Ok(r.body),
                Ok(r) => call.api_error(r.status, r.retry_after.as_deref(), &r.body),
                Err(e) => e,
            };
            attempt += 1;
            if !self.retryable(&error) || attempt >= self.retry.attempts {
                return Err(error);
            }
            let wait = error.retry_after().unwrap_or_else(|| self.retry.backoff(attempt - 1));
            self.transport.sleep(wait.min(Duration::from_secs(30))).await;
        }
    }

    fn request(kind: &KindInfo, namespace: &str) -> Request {
        Request::new(kind.collection_path(namespace))
    }

    /// Creates an object; `dry_run` asks the server to validate it without storing it. Answers
    /// with the created object's metadata (a created Secret's data does not come back). With
    /// `copy`, a Secret whose data the server in front of the API copies from another
    /// ([`Transport::copies_secrets`]; refused for a transport without).
    pub async fn create(&self, kind: &KindInfo, namespace: &str, object: &Value, copy: Option<SecretCopy<'_>>, dry_run: bool) -> Result<Value, KubeError> {
        let call = Call { verb: "create", kind, namespace, accept: Some(METADATA) };
        if copy.is_some() && !self.transport.copies_secrets() {
            return Err(KubeError::Request { what: call.what(), message: "this transport has no server that copies Secrets".into() });
        }
        let copy = match copy {
            Some(copy) => Some((header(&call, copy.source)?, header(&call, &copy.keys.join(","))?)),
            None => None,
        };
        let body = serde_json::to_vec(object).map_err(|e| KubeError::Request { what: call.what(), message: e.to_string() })?;
        let params = PostParams { dry_run, field_manager: Some(FIELD_MANAGER.into()) };
        let build = || {
            let mut request = Self::request(kind, namespace).create(&params, body.clone())?;
            if let Some((source, keys)) = &copy {
                request.headers_mut().insert(COPY_FROM_HEADER, source.clone());
                request.headers_mut().insert(COPY_KEYS_HEADER, keys.clone());
            }
            Ok(request)
        };
        let body = self.call(&call, &build).await?;
        decode(&call, &body)
    }

    /// Server-side apply: creates the object or updates the fields kaptain owns. Answers with
    /// the object's metadata.
    pub async fn apply(&self, kind: &KindInfo, namespace: &str, name: &str, object: &Value, dry_run: bool) -> Result<Value, KubeError> {
        let call = Call { verb: "patch", kind, namespace, accept: Some(METADATA) };
        let params = PatchParams { dry_run, force: true, field_manager: Some(FIELD_MANAGER.into()), field_validation: None };
        let body = self.call(&call, &|| Self::request(kind, namespace).patch(name, &params, &Patch::Apply(object))).await?;
        decode(&call, &body)
    }

    /// The object, or None when it does not exist.
    pub async fn get(&self, kind: &KindInfo, namespace: &str, name: &str) -> Result<Option<Value>, KubeError> {
        self.get_as(kind, namespace, name, None).await
    }

    /// The object's metadata only (`PartialObjectMetadata`), or None when it does not exist.
    pub async fn get_metadata(&self, kind: &KindInfo, namespace: &str, name: &str) -> Result<Option<Value>, KubeError> {
        self.get_as(kind, namespace, name, Some(METADATA)).await
    }

    async fn get_as(&self, kind: &KindInfo, namespace: &str, name: &str, accept: Option<&'static str>) -> Result<Option<Value>, KubeError> {
        let call = Call { verb: "get", kind, namespace, accept };
        match self.call(&call, &|| Self::request(kind, namespace).get(name, &GetParams::default())).await {
            Ok(body) => decode(&call, &body).map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn list(&self, kind: &KindInfo, namespace: &str, label_selector: &str) -> Result<ObjectList, KubeError> {
        self.list_as(kind, namespace, label_selector, None).await
    }

    /// The matching objects' metadata only (`PartialObjectMetadataList`): names, labels,
    /// annotations, timestamps, finalizers; never what a Secret holds.
    pub async fn list_metadata(&self, kind: &KindInfo, namespace: &str, label_selector: &str) -> Result<ObjectList, KubeError> {
        self.list_as(kind, namespace, label_selector, Some(METADATA_LIST)).await
    }

    async fn list_as(&self, kind: &KindInfo, namespace: &str, label_selector: &str, accept: Option<&'static str>) -> Result<ObjectList, KubeError> {
        let call = Call { verb: "list", kind, namespace, accept };
        let params = ListParams { label_selector: Some(label_selector.into()), ..ListParams::default() };
        let body = self.call(&call, &|| Self::request(kind, namespace).list(&params)).await?;
        let mut list = decode(&call, &body)?;
        Ok(ObjectList {
            resource_version: list["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string(),
            items: match list["items"].take() {
                Value::Array(items) => items,
                _ => Vec::new(),
            },
        })
    }

    /// Deletes one object; Ok(false) when it was already gone.
    pub async fn delete(&self, kind: &KindInfo, namespace: &str, name: &str) -> Result<bool, KubeError> {
        let call = Call { verb: "delete", kind, namespace, accept: Some(METADATA) };
        let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..DeleteParams::default() };
        match self.call(&call, &|| Self::request(kind, namespace).delete(name, &params).map(bodiless)).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes every object of a kind that matches the selector, in one request. Dependents
    /// (a Job's pods, an InferenceService's Knative objects) go by the garbage collector.
    /// Returns the names of the objects the request deleted (the answer carries their metadata
    /// only).
    pub async fn delete_collection(&self, kind: &KindInfo, namespace: &str, label_selector: &str) -> Result<Vec<String>, KubeError> {
        let call = Call { verb: "deletecollection", kind, namespace, accept: Some(METADATA_LIST) };
        let delete = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..DeleteParams::default() };
        let list = ListParams { label_selector: Some(label_selector.into()), ..ListParams::default() };
        let body = self.call(&call, &|| Self::request(kind, namespace).delete_collection(&delete, &list).map(bodiless)).await?;
        let deleted = decode(&call, &body)?;
        Ok(deleted["items"]
            .as_array()
            .map(|items| items.iter().filter_map(|i| i["metadata"]["name"].as_str().map(String::from)).collect())
            .unwrap_or_default())
    }

    /// Watches the objects that match the selectors from `resource_version` on. The stream ends
    /// when the server closes the watch (after `timeout_seconds` at most).
    pub async fn watch(
        &self,
        kind: &KindInfo,
        namespace: &str,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
        resource_version: &str,
        timeout_seconds: u32,
    ) -> Result<impl Stream<Item = Result<WatchEvent, KubeError>> + use<T>, KubeError> {
        let call = Call { verb: "watch", kind, namespace, accept: None };
        call.check()?;
        let params = WatchParams {
            label_selector: label_selector.map(Into::into),
            field_selector: field_selector.map(Into::into),
            timeout: Some(timeout_seconds.min(295)),
            bookmarks: true,
            ..WatchParams::default()
        };
        let request = Self::request(kind, namespace).watch(&params, resource_version).map_err(|e| request_error(&call, e))?;
        let answer = self.transport.stream(request).await;
        if let Err(error) = &answer {
            self.retryable(error); // notes an outage
        }
        match answer? {
            Ok(body) => Ok(watch_events(body)),
            Err(response) => Err(call.api_error(response.status, response.retry_after.as_deref(), &response.body)),
        }
    }

    /// The last `tail_lines` lines of a container's log, as text. Tried once: a pod whose node
    /// cannot be reached (or that has not started) answers with an error worth showing, not
    /// one worth waiting for.
    pub async fn logs(&self, namespace: &str, pod: &str, container: &str, tail_lines: i64) -> Result<String, KubeError> {
        let call = Call { verb: "get log of", kind: &crate::kinds::POD, namespace, accept: None };
        let request = log_request(&call, pod, container, &format!("tailLines={tail_lines}"))?;
        match self.transport.send(request).await? {
            r if (200..300).contains(&r.status) => Ok(String::from_utf8_lossy(&r.body).into_owned()),
            r => Err(call.api_error(r.status, r.retry_after.as_deref(), &r.body)),
        }
    }

    /// A container's log from its start, streamed as it is written (`follow=true`) until the
    /// container ends. Err(response) when the server refuses (the container has not started).
    pub async fn follow_logs(&self, namespace: &str, pod: &str, container: &str) -> Result<Result<ByteStream, Response>, KubeError> {
        let call = Call { verb: "follow log of", kind: &crate::kinds::POD, namespace, accept: None };
        let request = log_request(&call, pod, container, "follow=true")?;
        self.transport.stream(request).await
    }

    /// Which InferenceService APIs the cluster serves, from API discovery.
    pub async fn serving_apis(&self) -> Result<Vec<crate::spec::ServingApi>, KubeError> {
        let call = Call { verb: "get", kind: &DISCOVERY, namespace: "", accept: None };
        let body = self
            .call(&call, &|| {
                http::Request::get("/apis").body(Vec::new()).map_err(kube_core::request::Error::BuildRequest)
            })
            .await?;
        let groups = decode(&call, &body)?;
        let served: Vec<&str> = groups["groups"]
            .as_array()
            .map(|gs| gs.iter().filter_map(|g| g["name"].as_str()).collect())
            .unwrap_or_default();
        Ok(crate::spec::ServingApi::ALL.into_iter().filter(|api| served.contains(&api.group())).collect())
    }
}

/// Every DELETE goes without a body, whatever the transport: jupyter-server-proxy (its tornado
/// client) refuses a DELETE with a body ("Body must be None
/// for method DELETE"), and kube-core sends the DeleteOptions as one. The API server takes the
/// same options as query parameters: they move there when every one of them can (not so
/// `preconditions`, which keep the body).
fn delete_options_in_query(parts: &mut http::request::Parts, body: &mut Vec<u8>) {
    use serde_json::Value;
    if parts.method != http::Method::DELETE || body.is_empty() {
        return;
    }
    let Ok(Value::Object(options)) = serde_json::from_slice::<Value>(body) else { return };
    let plain = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric());
    let existing = parts.uri.query().map(|q| q.trim_matches('&')).filter(|q| !q.is_empty());
    let mut query: Vec<String> = existing.map(String::from).into_iter().collect();
    for (key, value) in &options {
        match (key.as_str(), value) {
            ("kind" | "apiVersion", _) => {}
            ("propagationPolicy", Value::String(v)) if plain(v) => query.push(format!("{key}={v}")),
            ("gracePeriodSeconds", Value::Number(n)) => match n.as_u64() {
                Some(seconds) => query.push(format!("{key}={seconds}")),
                None => return,
            },
            ("orphanDependents", Value::Bool(b)) => query.push(format!("{key}={b}")),
            ("dryRun", Value::Array(items)) => {
                for item in items {
                    match item.as_str() {
                        Some(v) if plain(v) => query.push(format!("{key}={v}")),
                        _ => return,
                    }
                }
            }
            _ => return,
        }
    }
    let uri = match query.is_empty() {
        true => parts.uri.path().to_string(),
        false => format!("{}?{}", parts.uri.path(), query.join("&")),
    };
    if let Ok(uri) = uri.parse() {
        parts.uri = uri;
        parts.headers.remove(http::header::CONTENT_TYPE);
        body.clear();
    }
}

/// A DELETE request as kube-core builds it, with its options moved into the query.
fn bodiless(request: http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let (mut parts, mut body) = request.into_parts();
    delete_options_in_query(&mut parts, &mut body);
    http::Request::from_parts(parts, body)
}

/// Splits a watch body into lines and parses each into an event.
fn watch_events(body: ByteStream) -> impl Stream<Item = Result<WatchEvent, KubeError>> {
    let lines = stream::unfold((body, Vec::<u8>::new(), false), |(mut body, mut buffer, mut ended)| async move {
        loop {
            if let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                return Some((Ok(line), (body, buffer, ended)));
            }
            if ended {
                if buffer.iter().all(u8::is_ascii_whitespace) {
                    return None;
                }
                let line = std::mem::take(&mut buffer);
                return Some((Ok(line), (body, buffer, ended)));
            }
            match body.next().await {
                Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
                Some(Err(e)) => return Some((Err(e), (body, Vec::new(), true))),
                None => ended = true,
            }
        }
    });
    lines.filter_map(|line| async move {
        match line {
            Err(e) => Some(Err(e)),
            Ok(line) if line.iter().all(u8::is_ascii_whitespace) => None,
            Ok(line) => Some(parse_event(&line)),
        }
    })
}

fn parse_event(line: &[u8]) -> Result<WatchEvent, KubeError> {
    let decode_error = |message: String| KubeError::Decode { what: "a watch event".into(), message };
    let mut event: Value = serde_json::from_slice(line).map_err(|e| decode_error(e.to_string()))?;
    let object = event["object"].take();
    Ok(match event["type"].as_str() {
        Some("ADDED") => WatchEvent::Added(object),
        Some("MODIFIED") => WatchEvent::Modified(object),
        Some("DELETED") => WatchEvent::Deleted(object),
        Some("BOOKMARK") => WatchEvent::Bookmark(object["metadata"]["resourceVersion"].as_str().unwrap_or_default().into()),
        Some("ERROR") => {
            let code = object["code"].as_u64().unwrap_or(500) as u16;
            let body = serde_json::to_vec(&object).unwrap_or_default();
            WatchEvent::Error(Box::new(ApiError::from_response(code, None, &body, "watch", "", "")))
        }
        other => return Err(decode_error(format!("unknown event type {other:?}"))),
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::kinds;

    use super::super::scripted::{status, ScriptedApi};

    #[tokio::test]
    async fn a_copied_secret_names_its_source_and_keys_and_is_never_sent_where_nothing_copies() {
        let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "m-r1-registry"}});
        let copy = SecretCopy { source: "registry-source", keys: &["a", "b.c"] };
        let api = ScriptedApi { copies: true, ..ScriptedApi::answering(vec![status(201, None, r#"{"metadata":{"name":"m-r1-registry"}}"#)]) };
        Client::new(&api).create(&kinds::SECRET, "ns", &secret, Some(copy), true).await.unwrap();
        assert_eq!(*api.asked.borrow(), vec!["POST /api/v1/namespaces/ns/secrets?&dryRun=All&fieldManager=kaptain"]);
        assert_eq!(*api.copy_headers.borrow(), vec![("registry-source".to_string(), "a,b.c".to_string())]);

        // Sent to the API server itself, the Secret would be created without its data.
        let plain = ScriptedApi::default();
        let refused = Client::new(&plain).create(&kinds::SECRET, "ns", &secret, Some(copy), false).await.unwrap_err();
        assert!(refused.to_string().contains("no server that copies Secrets"), "{refused}");
        assert!(plain.asked.borrow().is_empty());
    }

    #[tokio::test]
    async fn throttling_and_server_errors_are_retried_honouring_retry_after() {
        let api = ScriptedApi::answering(vec![
            status(429, Some("3"), r#"{"kind":"Status","reason":"TooManyRequests","code":429}"#),
            status(503, None, "unavailable"),
            Err(KubeError::Transport { what: "GET".into(), message: "connection reset".into() }),
            status(200, None, r#"{"metadata":{"name":"x"}}"#),
        ]);
        let client = Client::new(&api);
        let found = client.get(&kinds::SECRET, "ns", "x").await.unwrap().unwrap();
        assert_eq!(found["metadata"]["name"], "x");
        assert_eq!(*api.slept.borrow(), vec![Duration::from_secs(3), Duration::from_millis(400), Duration::from_millis(800)]);
        assert_eq!(api.asked.borrow()[0], "GET /api/v1/namespaces/ns/secrets/x");
    }

    #[tokio::test]
    async fn an_api_server_that_just_came_back_may_deny_for_a_moment() {
        let denied = r#"{"kind":"Status","reason":"Forbidden","message":"jobs.batch \"j\" is forbidden","code":403}"#;
        let api = ScriptedApi::answering(vec![
            Err(KubeError::Transport { what: "GET".into(), message: "connection refused".into() }),
            status(403, None, denied),
            status(200, None, r#"{"metadata":{"name":"j"}}"#),
        ]);
        let client = Client::new(&api);
        assert!(client.get(&kinds::JOB, "ns", "j").await.unwrap().is_some());
        assert_eq!(api.asked.borrow().len(), 3);
        // Without an outage before it, a 403 is an answer: no retry.
        let api = ScriptedApi::answering(vec![status(403, None, denied)]);
        let client = Client::new(&api);
        assert!(client.get(&kinds::JOB, "ns", "j").await.unwrap_err().to_string().contains("forbidden"));
        assert_eq!(api.asked.borrow().len(), 1);
    }

    #[tokio::test]
    async fn a_namespace_that_is_not_one_never_becomes_a_path() {
        let api = ScriptedApi::answering(Vec::new());
        let client = Client::new(&api);
        for namespace in ["../../api/v1/namespaces/kube-system/secrets", "team-a/secrets/x", "Team", ""] {
            let error = client.list(&kinds::SECRET, namespace, "a=b").await.unwrap_err();
            assert!(error.to_string().contains("is not a namespace"), "{error}");
            assert!(client.delete(&kinds::SECRET, namespace, "x").await.is_err());
            assert!(client.watch(&kinds::JOB, namespace, None, None, "1", 5).await.is_err());
            assert!(client.logs(namespace, "pod", "main", 5).await.is_err());
        }
        assert!(api.asked.borrow().is_empty(), "nothing was sent: {:?}", api.asked.borrow());
    }

    #[tokio::test]
    async fn client_errors_are_not_retried_and_say_what_was_refused() {
        let api = ScriptedApi::answering(vec![status(
            422,
            None,
            r#"{"kind":"Status","reason":"Invalid","message":"TFJob.kubeflow.org \"x\" is invalid","details":{"causes":[{"field":"spec.runPolicy","message":"bad"}]},"code":422}"#,
        )]);
        let client = Client::new(&api);
        let error = client.create(&kinds::TFJOB, "ns", &serde_json::json!({"metadata": {"name": "x"}}), None, true).await.unwrap_err();
        assert!(error.to_string().contains("spec.runPolicy: bad"), "{error}");
        assert!(api.slept.borrow().is_empty());
        assert_eq!(api.asked.borrow()[0], "POST /apis/kubeflow.org/v1/namespaces/ns/tfjobs?&dryRun=All&fieldManager=kaptain");
    }

    #[tokio::test]
    async fn a_watch_body_split_anywhere_gives_whole_events() {
        let body = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\n{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}";
        let api = ScriptedApi::answering(vec![status(200, None, body)]);
        let client = Client::new(&api);
        let events: Vec<_> = client.watch(&kinds::JOB, "ns", None, Some("metadata.name=a"), "1", 30).await.unwrap().collect().await;
        assert!(matches!(&events[0], Ok(WatchEvent::Added(o)) if o["metadata"]["name"] == "a"));
        assert!(matches!(&events[1], Ok(WatchEvent::Bookmark(v)) if v == "9"));
        assert!(matches!(&events[2], Ok(WatchEvent::Error(e)) if e.code == 410));
        assert_eq!(events.len(), 3);
    }

    #[test]
    fn delete_options_move_into_the_query_for_jupyter_server_proxy() {
        use kube_core::params::{DeleteParams, ListParams, Preconditions, PropagationPolicy};
        use kube_core::request::Request;

        let moved = |request: http::Request<Vec<u8>>| {
            let (mut parts, mut body) = request.into_parts();
            delete_options_in_query(&mut parts, &mut body);
            (parts.uri.to_string(), String::from_utf8(body).unwrap(), parts.headers.contains_key(http::header::CONTENT_TYPE))
        };
        let secrets = Request::new("/api/v1/namespaces/ns/secrets");
        let background = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..DeleteParams::default() };
        assert_eq!(
            moved(secrets.delete("s1", &background).unwrap()),
            ("/api/v1/namespaces/ns/secrets/s1?propagationPolicy=Background".into(), String::new(), false)
        );
        let selected = ListParams { label_selector: Some("kaptain.io/run-id=r1".into()), ..ListParams::default() };
        let dry = DeleteParams { dry_run: true, grace_period_seconds: Some(0), ..background.clone() };
        let (uri, body, _) = moved(secrets.delete_collection(&dry, &selected).unwrap());
        assert_eq!(
            uri,
            "/api/v1/namespaces/ns/secrets?labelSelector=kaptain.io%2Frun-id%3Dr1&dryRun=All&gracePeriodSeconds=0&propagationPolicy=Background"
        );
        assert_eq!(body, "");
        // Preconditions have no query form: the body stays.
        let guarded = DeleteParams { preconditions: Some(Preconditions { uid: Some("u".into()), resource_version: None }), ..background };
        let (uri, body, content_type) = moved(secrets.delete("s1", &guarded).unwrap());
        assert_eq!(uri, "/api/v1/namespaces/ns/secrets/s1?");
        assert!(body.contains("preconditions") && content_type);
        // Other methods are left alone.
        let (uri, body, _) = moved(secrets.create(&Default::default(), b"{}".to_vec()).unwrap());
        assert_eq!((uri.as_str(), body.as_str()), ("/api/v1/namespaces/ns/secrets?", "{}"));
    }
}
