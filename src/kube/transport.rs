//! The one way the core talks to a cluster. A front end implements [`Transport`]: the native
//! one over kube-rs (kubeconfig or `kubectl proxy`), the browser one over fetch.

use std::future::Future;
use std::time::Duration;

use futures_util::stream::LocalBoxStream;

use super::error::KubeError;

/// A complete response: status, the Retry-After header if any, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// Chunks of a streamed body (a watch), as they arrive.
pub type ByteStream = LocalBoxStream<'static, Result<Vec<u8>, KubeError>>;

pub trait Transport {
    /// Sends a request and reads its whole response. Dropping the future abandons the request.
    fn send(&self, request: http::Request<Vec<u8>>) -> impl Future<Output = Result<Response, KubeError>>;

    /// Sends a request whose response body streams (a watch). Returns the status, the body
    /// when the status is not 2xx, and the stream otherwise.
    fn stream(&self, request: http::Request<Vec<u8>>) -> impl Future<Output = Result<Result<ByteStream, Response>, KubeError>>;

    /// Waits (retry backoff, polling). The only clock the core uses.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()>;

    /// Seconds since the Unix epoch, for ages of objects.
    fn now(&self) -> i64;

    /// The S3 endpoint this transport's S3 requests reach, when it is not the one the cell
    /// names (the browser goes through the Jupyter server, which forwards to its own endpoint):
    /// requests are signed for this endpoint's host.
    fn s3_endpoint(&self) -> Option<String> {
        None
    }

    /// Sends a signed S3 request (see [`crate::s3::Request`]; its URL is absolute, on the
    /// endpoint it was signed for) and reads the whole response.
    fn send_s3(&self, request: crate::s3::Request, body: Vec<u8>) -> impl Future<Output = Result<Response, KubeError>> {
        let _ = body;
        async move { Err(KubeError::Transport { what: format!("{} {}", request.method, request.url), message: "this transport has no way to S3".into() }) }
    }

    /// Whether the server in front of the API makes Secrets that copy a source Secret's data
    /// (the Jupyter server's `kaptain/secret-copy`), so that the data never reaches this side:
    /// the transport sends a create that carries [`crate::kube::COPY_FROM_HEADER`] there.
    fn copies_secrets(&self) -> bool {
        false
    }
}

/// A transport with no cluster behind it: every request fails as unreachable. For tests of
/// the paths that must work without a cluster (rendering, validation, error reporting).
#[derive(Debug, Clone, Copy, Default)]
pub struct NullTransport;

impl Transport for NullTransport {
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<Response, KubeError> {
        Err(KubeError::Transport { what: request.uri().to_string(), message: "no cluster (null transport)".into() })
    }

    async fn stream(&self, request: http::Request<Vec<u8>>) -> Result<Result<ByteStream, Response>, KubeError> {
        self.send(request).await.map(Err)
    }

    async fn sleep(&self, _duration: Duration) {}

    fn now(&self) -> i64 {
        0
    }
}
