//! Errors from the Kubernetes API, typed from its Status responses, with messages a notebook
//! user can act on.

use std::fmt;
use std::time::Duration;

/// A failed request: what was asked, and what the API (or the way to it) answered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KubeError {
    #[error("{0}")]
    Api(Box<ApiError>),
    /// Refused on the way to the API, by something that is not the API server.
    #[error("{0}")]
    Gateway(Box<GatewayError>),
    /// The API could not be reached, or the connection broke.
    #[error("cannot reach the Kubernetes API ({what}): {message}")]
    Transport { what: String, message: String },
    #[error("the API answered {what} with something that is not JSON: {message}")]
    Decode { what: String, message: String },
    /// A request could not be built from what was given (a namespace that is not one).
    #[error("cannot build the request {what}: {message}")]
    Request { what: String, message: String },
    #[error("{0} was cancelled")]
    Cancelled(String),
}

impl KubeError {
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            KubeError::Api(e) => Some(e.as_ref()),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(|e| e.code == 404)
    }

    /// A create of an object that exists already (409 AlreadyExists, not a write conflict).
    pub fn is_already_exists(&self) -> bool {
        self.api().is_some_and(|e| e.code == 409 && e.reason == "AlreadyExists")
    }

    /// Worth trying again: throttling, server trouble, a broken connection.
    pub fn is_transient(&self) -> bool {
        match self {
            KubeError::Api(e) => matches!(e.code, 429 | 500 | 502 | 503 | 504),
            KubeError::Gateway(e) => e.transient,
            KubeError::Transport { .. } => true,
            _ => false,
        }
    }

    /// An error answer to `what` (`verb resource in namespace`): the API server's when the body
    /// is a Kubernetes Status, else a refusal on the way to it ([`GatewayError`]).
    pub fn from_response(code: u16, retry_after: Option<&str>, body: &[u8], verb: &str, resource: &str, namespace: &str) -> KubeError {
        if is_status(body) {
            KubeError::Api(Box::new(ApiError::from_response(code, retry_after, body, verb, resource, namespace)))
        } else {
            KubeError::Gateway(Box::new(GatewayError::from_response(code, body, &format!("{verb} {resource} in {namespace:?}"))))
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(|e| e.retry_after)
    }
}

/// One field the API server rejected (422 Invalid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub field: String,
    pub message: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    /// The API's reason: NotFound, AlreadyExists, Conflict, Invalid, Forbidden, ...
    pub reason: String,
    pub message: String,
    /// The object the Status is about (its `details.name`), when it names one.
    pub name: String,
    pub causes: Vec<Cause>,
    pub retry_after: Option<Duration>,
    /// The request, as `verb resource` (e.g. `create tfjobs.kubeflow.org`) in `namespace`.
    pub verb: String,
    pub resource: String,
    pub namespace: String,
}

/// The body as a JSON object, if it is one.
fn json_object(body: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice::<serde_json::Value>(body).ok().filter(serde_json::Value::is_object)
}

/// True for a `kind: Status` body, which only the Kubernetes API server answers with.
fn is_status(body: &[u8]) -> bool {
    json_object(body).is_some_and(|v| v["kind"] == "Status")
}

/// The parts of a `kind: Status` body kaptain reads. Read from the body's JSON value, as a
/// derived `Deserialize` would (a field of the wrong type drops the whole Status, a missing one
/// is empty); a derive for these three structs cost ~6 KB of wasm, the value reader is there
/// anyway.
struct Status {
    message: String,
    reason: String,
    details: Option<StatusDetails>,
}

struct StatusDetails {
    name: String,
    causes: Vec<Cause>,
    retry_after_seconds: Option<u64>,
}

/// `object[key]` as a string: "" when absent, None (the whole Status unreadable) when not one.
fn text(object: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<String> {
    match object.get(key) {
        None => Some(String::new()),
        Some(value) => value.as_str().map(String::from),
    }
}

impl Status {
    fn read(body: &[u8]) -> Option<Status> {
        let value = json_object(body)?;
        let object = value.as_object()?;
        let details = match object.get("details") {
            None | Some(serde_json::Value::Null) => None,
            Some(details) => Some(StatusDetails::read(details.as_object()?)?),
        };
        Some(Status { message: text(object, "message")?, reason: text(object, "reason")?, details })
    }
}

impl StatusDetails {
    fn read(object: &serde_json::Map<String, serde_json::Value>) -> Option<StatusDetails> {
        let causes = match object.get("causes") {
            None => Vec::new(),
            Some(causes) => causes
                .as_array()?
                .iter()
                .map(|cause| {
                    let cause = cause.as_object()?;
                    Some(Cause { field: text(cause, "field")?, message: text(cause, "message")?, reason: text(cause, "reason")? })
                })
                .collect::<Option<_>>()?,
        };
        let retry_after_seconds = match object.get("retryAfterSeconds") {
            None | Some(serde_json::Value::Null) => None,
            Some(seconds) => Some(seconds.as_u64()?),
        };
        Some(StatusDetails { name: text(object, "name")?, causes, retry_after_seconds })
    }
}

impl ApiError {
    /// From an error response: the Status body when there is one, the HTTP status otherwise.
    pub fn from_response(code: u16, retry_after: Option<&str>, body: &[u8], verb: &str, resource: &str, namespace: &str) -> ApiError {
        let status = Status::read(body);
        let details = status.as_ref().and_then(|s| s.details.as_ref());
        let header_retry = retry_after.and_then(|v| v.trim().parse::<u64>().ok());
        let retry_after = header_retry.or(details.and_then(|d| d.retry_after_seconds)).map(Duration::from_secs);
        let fallback = String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_string();
        ApiError {
            code,
            reason: status.as_ref().map(|s| s.reason.clone()).filter(|r| !r.is_empty()).unwrap_or_else(|| default_reason(code).into()),
            message: status.as_ref().map(|s| s.message.clone()).filter(|m| !m.is_empty()).unwrap_or(fallback),
            name: details.map(|d| d.name.clone()).unwrap_or_default(),
            causes: details.map(|d| d.causes.clone()).unwrap_or_default(),
            retry_after,
            verb: verb.into(),
            resource: resource.into(),
            namespace: namespace.into(),
        }
    }
}

fn default_reason(code: u16) -> &'static str {
    match code {
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        422 => "Invalid",
        429 => "TooManyRequests",
        500..=599 => "InternalError",
        _ => "Unknown",
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (verb, resource, ns) = (&self.verb, &self.resource, &self.namespace);
        match self.code {
            403 => write!(
                f,
                "forbidden: you may not {verb} {resource} in namespace {ns:?} ({}); ask a cluster admin for a Role that allows `{verb}` on `{resource}` (kaptain's deploy/rbac.yaml has every one it needs)",
                self.message
            ),
            401 => write!(f, "unauthorized: the cluster did not accept the credentials ({}); check the kubeconfig or the proxy", self.message),
            422 => {
                write!(f, "the cluster rejected {resource}: {}", self.message)?;
                for cause in &self.causes {
                    write!(f, "\n  {}: {}", cause.field, cause.message)?;
                }
                Ok(())
            }
            // The node's kubelet answered for a pod's log: the API exists, that log does not.
            404 if verb.ends_with(" log of") && self.message.contains("the server could not find the requested resource") => write!(
                f,
                "{verb} a pod in {ns:?}: the node has no log for it ({}); a container that never started has none, and a node played by kwok serves none",
                self.message
            ),
            404 if self.reason == "NotFound" && self.message.contains("the server could not find the requested resource") => write!(
                f,
                "the cluster does not serve {resource}: install its CRD (or the operator that brings it) first"
            ),
            429 => write!(f, "the API server is throttling requests ({verb} {resource}); kaptain retries, but gave up: {}", self.message),
            500..=599 => write!(f, "the API server failed on {verb} {resource} ({} {}): {}", self.code, self.reason, self.message),
            _ => write!(f, "{verb} {resource} in {ns:?}: {} ({})", self.message, self.reason),
        }
    }
}

/// Who answered instead of the API server, what it said and who can do what about it.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayError {
    /// The HTTP status (0: the browser did not follow a redirect).
    pub code: u16,
    /// What refused: `kubectl proxy`, the Jupyter server's kube route, a page in front of it.
    pub refused_by: String,
    pub message: String,
    /// What to do, and for whom when it is not the user.
    pub fix: String,
    /// The request, as `verb resource in "namespace"`.
    pub what: String,
    pub transient: bool,
}

const JUPYTER_ADMIN: &str = "the Jupyter server's administrator";

impl GatewayError {
    pub fn from_response(code: u16, body: &[u8], what: &str) -> GatewayError {
        let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
        let text = text.trim();
        let gateway = |refused_by: &str, message: String, fix: String| GatewayError {
            code,
            refused_by: refused_by.into(),
            message,
            fix,
            what: what.into(),
            transient: matches!(code, 502..=504),
        };
        let json = json_object(body);
        let field = |name: &str| json.as_ref().and_then(|v| v[name].as_str()).map(String::from);
        // The body kaptain-jupyterlab's kube route answers its own errors with (proxy.py).
        if json.as_ref().is_some_and(|v| v["kind"] == "KubeProxyError") {
            let message = field("message").unwrap_or_else(|| text.into());
            let mut refused = gateway("the Jupyter server's kube route", message, field("fix").unwrap_or_default());
            // Its own verdicts (no kubectl, no credentials, not logged in) do not pass by waiting.
            refused.transient = field("reason").as_deref() == Some("KubeProxyFailed") && matches!(code, 502..=504 | 599);
            return refused;
        }
        if code == 403 && text == "Forbidden" {
            return gateway(
                "kubectl proxy",
                "its filter refused the request: the Host header is not one --accept-hosts allows (or the path is one --reject-paths refuses); the cluster's RBAC was not asked".into(),
                format!("{JUPYTER_ADMIN}: kaptain-jupyterlab's kube route sends `Host: localhost` to kubectl proxy; a route or proxy in front of kubectl proxy that passes the browser's Host on causes this (keep --accept-hosts as it is)"),
            );
        }
        if let Some(title) = html_title(text) {
            let fix = match code {
                0 | 200 | 300..=399 | 401 | 403 => "reload the page and log in again; if it persists, the notebook server's administrator should look at the proxy in front of it".to_string(),
                404 => format!("{JUPYTER_ADMIN}: the notebook server has no kube route: is kaptain-jupyterlab installed and enabled where the server runs (`jupyter server extension list`)?"),
                502..=504 => "the notebook server (or the way to it) is not answering: wait and try again, or ask the hub's administrator".to_string(),
                _ => format!("{JUPYTER_ADMIN}: look at the server's log"),
            };
            return gateway("a web page in front of the Kubernetes API (the Jupyter server, a hub or an ingress)", format!("it answered {code} with an HTML page: {title:?}"), fix);
        }
        if code == 0 || (300..400).contains(&code) {
            return gateway(
                "the server in front of the Kubernetes API",
                "it redirected the request (to a login page?)".into(),
                "reload the page and log in again".into(),
            );
        }
        // Jupyter's own API errors.
        if let Some(message) = field("message") {
            return gateway("the Jupyter server", message, format!("{JUPYTER_ADMIN}: look at the server's log"));
        }
        let said = if text.is_empty() { "no body".to_string() } else { format!("{:?}", text.chars().take(300).collect::<String>()) };
        gateway("something in front of the Kubernetes API", format!("it answered {code} with {said}"), format!("{JUPYTER_ADMIN}: look at what stands between the notebook server and the cluster"))
    }
}

/// The title of an HTML page (or "untitled"), None when `text` is not HTML.
pub(crate) fn html_title(text: &str) -> Option<String> {
    let head: String = text.chars().take(15).collect::<String>().to_ascii_lowercase();
    if !head.starts_with("<!doctype html") && !head.starts_with("<html") {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let title = lower
        .find("<title>")
        .and_then(|start| lower[start + 7..].find("</title>").map(|end| text[start + 7..start + 7 + end].trim().to_string()));
    Some(title.filter(|t| !t.is_empty()).unwrap_or_else(|| "untitled".into()))
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let answered = if self.code == 0 { "redirected".to_string() } else { format!("answered {}", self.code) };
        write!(f, "{}: {} {answered}, not the Kubernetes API: {}", self.what, self.refused_by, self.message)?;
        if !self.fix.is_empty() {
            write!(f, "; {}", self.fix)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_lists_the_fields() {
        let body = br#"{"kind":"Status","status":"Failure","message":"TFJob.kubeflow.org \"x\" is invalid","reason":"Invalid","details":{"causes":[{"reason":"FieldValueInvalid","message":"Invalid value: -1","field":"spec.runPolicy.activeDeadlineSeconds"}]},"code":422}"#;
        let e = ApiError::from_response(422, None, body, "create", "tfjobs.kubeflow.org", "ns");
        let text = e.to_string();
        assert!(text.contains("spec.runPolicy.activeDeadlineSeconds: Invalid value: -1"), "{text}");
    }

    #[test]
    fn forbidden_names_verb_and_resource() {
        let body = br#"{"kind":"Status","message":"jobs.batch is forbidden: User \"alice\" cannot create resource \"jobs\"","reason":"Forbidden","code":403}"#;
        let text = ApiError::from_response(403, None, body, "create", "jobs.batch", "team").to_string();
        assert!(text.contains("you may not create jobs.batch in namespace \"team\""), "{text}");
    }

    fn refusal(code: u16, body: &str) -> String {
        let error = KubeError::from_response(code, None, body.as_bytes(), "get", "configmaps", "team");
        assert!(error.api().is_none(), "{body} is not the API's answer");
        assert!(!error.to_string().contains("cluster admin"), "not RBAC: {error}");
        error.to_string()
    }

    #[test]
    fn kubectl_proxys_host_filter_is_not_rbac() {
        let text = refusal(403, "Forbidden\n");
        assert!(text.starts_with("get configmaps in \"team\": kubectl proxy answered 403, not the Kubernetes API"), "{text}");
        assert!(text.contains("--accept-hosts") && text.contains("the Jupyter server's administrator"), "{text}");
    }

    #[test]
    fn the_kube_routes_own_errors_carry_their_fix_and_are_final() {
        let body = r#"{"kind": "KubeProxyError", "code": 502, "reason": "KubectlNotFound", "message": "the Jupyter server has no kubectl", "fix": "install it"}"#;
        let error = KubeError::from_response(502, None, body.as_bytes(), "list", "secrets", "team");
        assert_eq!(error.to_string(), "list secrets in \"team\": the Jupyter server's kube route answered 502, not the Kubernetes API: the Jupyter server has no kubectl; install it");
        assert!(!error.is_transient(), "no kubectl does not come back by retrying");
        let failed = br#"{"kind": "KubeProxyError", "code": 599, "reason": "KubeProxyFailed", "message": "timeout"}"#;
        assert!(KubeError::from_response(599, None, failed, "list", "secrets", "team").is_transient());
    }

    #[test]
    fn html_pages_are_named_by_their_title_and_code() {
        let hub = "<!DOCTYPE html>\n<html><head><title>JupyterHub: 503 Service Unavailable</title></head><body>…</body></html>";
        let text = refusal(503, hub);
        assert!(text.contains("answered 503 with an HTML page: \"JupyterHub: 503 Service Unavailable\""), "{text}");
        assert!(KubeError::from_response(503, None, hub.as_bytes(), "get", "pods", "t").is_transient());
        let login = refusal(403, "<html><title>403 : Forbidden</title></html>");
        assert!(login.contains("log in again"), "{login}");
        assert!(refusal(404, "<html><body>no</body></html>").contains("untitled"));
        assert!(refusal(404, "<html></html>").contains("jupyter server extension list"));
    }

    #[test]
    fn redirects_and_bodies_of_other_servers() {
        assert!(refusal(0, "").contains("redirected, not the Kubernetes API"));
        assert!(refusal(401, "").contains("answered 401 with no body"));
        let jupyter = refusal(403, r#"{"message": "'_xsrf' argument missing from POST", "reason": null}"#);
        assert!(jupyter.contains("the Jupyter server answered 403") && jupyter.contains("_xsrf"), "{jupyter}");
        // The API server's own Status stays an API error, whatever its code.
        let status = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"secrets is forbidden","reason":"Forbidden","code":403}"#;
        assert!(KubeError::from_response(403, None, status, "list", "secrets", "t").api().is_some());
    }

    #[test]
    fn a_status_is_read_as_a_derived_deserialize_would() {
        let read = |body: &str| ApiError::from_response(409, None, body.as_bytes(), "create", "jobs.batch", "ns");
        let e = read(r#"{"kind":"Status","message":"m","reason":"AlreadyExists","details":{"name":"x","causes":[{"field":"f"}]}}"#);
        assert_eq!((e.message.as_str(), e.reason.as_str(), e.name.as_str()), ("m", "AlreadyExists", "x"));
        assert_eq!(e.causes, vec![Cause { field: "f".into(), message: String::new(), reason: String::new() }]);
        let e = read(r#"{"kind":"Status","message":"m","details":null}"#);
        assert_eq!((e.message.as_str(), e.reason.as_str(), e.name.as_str()), ("m", "Conflict", ""));
        // A field of the wrong type leaves the whole Status unread: the body and the code speak.
        for body in [
            r#"{"kind":"Status","message":"m","reason":7}"#,
            r#"{"kind":"Status","message":"m","details":{"retryAfterSeconds":-1}}"#,
            r#"{"kind":"Status","message":"m","details":{"causes":[{"field":null}]}}"#,
        ] {
            let e = read(body);
            assert_eq!((e.message.as_str(), e.reason.as_str()), (body, "Conflict"), "{body}");
        }
    }

    #[test]
    fn a_log_the_node_does_not_have_is_not_a_missing_api() {
        let body = br#"{"kind":"Status","status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","code":404}"#;
        let text = ApiError::from_response(404, None, body, "get log of", "pods", "team").to_string();
        assert!(text.starts_with("get log of a pod in \"team\": the node has no log for it"), "{text}");
        assert!(!text.contains("CRD"), "{text}");
        let gone = br#"{"kind":"Status","status":"Failure","message":"pods \"p\" not found","reason":"NotFound","code":404}"#;
        let text = ApiError::from_response(404, None, gone, "get log of", "pods", "team").to_string();
        assert!(text.contains("pods \"p\" not found"), "{text}");
    }

    #[test]
    fn retry_after_from_header_or_details() {
        let e = ApiError::from_response(429, Some("3"), b"", "list", "pods", "ns");
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        let body = br#"{"kind":"Status","reason":"TooManyRequests","details":{"retryAfterSeconds":2},"code":429}"#;
        assert_eq!(ApiError::from_response(429, None, body, "list", "pods", "ns").retry_after, Some(Duration::from_secs(2)));
        assert!(KubeError::Api(Box::new(e)).is_transient());
    }
}
