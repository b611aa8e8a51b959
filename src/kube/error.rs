//! Errors from the Kubernetes API, typed from its Status responses, with messages a notebook
//! user can act on.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// A failed request: what was asked, and what the API (or the way to it) answered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KubeError {
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The API could not be reached, or the connection broke.
    #[error("cannot reach the Kubernetes API ({what}): {message}")]
    Transport { what: String, message: String },
    #[error("the API answered {what} with something that is not JSON: {message}")]
    Decode { what: String, message: String },
    /// A request could not be built from what was given (a bug in kaptain).
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
            KubeError::Transport { .. } => true,
            _ => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(|e| e.retry_after)
    }
}

/// One field the API server rejected (422 Invalid).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Cause {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    /// The API's reason: NotFound, AlreadyExists, Conflict, Invalid, Forbidden, ...
    pub reason: String,
    pub message: String,
    pub causes: Vec<Cause>,
    pub retry_after: Option<Duration>,
    /// The request, as `verb resource` (e.g. `create tfjobs.kubeflow.org`) in `namespace`.
    pub verb: String,
    pub resource: String,
    pub namespace: String,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    message: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    details: Option<StatusDetails>,
}

#[derive(Deserialize)]
struct StatusDetails {
    #[serde(default)]
    causes: Vec<Cause>,
    #[serde(default, rename = "retryAfterSeconds")]
    retry_after_seconds: Option<u64>,
}

impl ApiError {
    /// From an error response: the Status body when there is one, the HTTP status otherwise.
    pub fn from_response(code: u16, retry_after: Option<&str>, body: &[u8], verb: &str, resource: &str, namespace: &str) -> ApiError {
        let status: Option<Status> = serde_json::from_slice(body).ok();
        let details = status.as_ref().and_then(|s| s.details.as_ref());
        let header_retry = retry_after.and_then(|v| v.trim().parse::<u64>().ok());
        let retry_after = header_retry.or(details.and_then(|d| d.retry_after_seconds)).map(Duration::from_secs);
        let fallback = String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_string();
        ApiError {
            code,
            reason: status.as_ref().map(|s| s.reason.clone()).filter(|r| !r.is_empty()).unwrap_or_else(|| default_reason(code).into()),
            message: status.as_ref().map(|s| s.message.clone()).filter(|m| !m.is_empty()).unwrap_or(fallback),
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
                "forbidden: you may not {verb} {resource} in namespace {ns:?} ({}); ask a cluster admin for a Role that allows `{verb}` on `{resource}`",
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

    #[test]
    fn retry_after_from_header_or_details() {
        let e = ApiError::from_response(429, Some("3"), b"", "list", "pods", "ns");
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        let body = br#"{"kind":"Status","reason":"TooManyRequests","details":{"retryAfterSeconds":2},"code":429}"#;
        assert_eq!(ApiError::from_response(429, None, body, "list", "pods", "ns").retry_after, Some(Duration::from_secs(2)));
        assert!(KubeError::Api(Box::new(e)).is_transient());
    }
}
