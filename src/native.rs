//! The native transport (CLI, integration tests): kube-rs's client, which reads a kubeconfig
//! (certificates, tokens, exec plugins) or talks plain HTTP to a `kubectl proxy`.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use http_body_util::BodyExt;

use crate::kube::{ByteStream, KubeError, Response, Transport};

pub struct NativeTransport {
    client: kube::Client,
    /// Where S3 requests go when not to the endpoint the cell names (`--s3-endpoint`).
    s3_endpoint: Option<String>,
}

/// Where the cluster is: a kubeconfig file, a proxy URL, or what the environment says
/// (KUBECONFIG, ~/.kube/config, in-cluster).
pub enum Target<'a> {
    Kubeconfig(&'a Path),
    Server(&'a str),
    Infer,
}

impl NativeTransport {
    /// Connects (lazily) and returns the transport with the kubeconfig's default namespace.
    pub async fn connect(target: Target<'_>) -> Result<(NativeTransport, String), String> {
        let config = match target {
            Target::Kubeconfig(path) => {
                let file = kube::config::Kubeconfig::read_from(path).map_err(|e| format!("--kubeconfig {}: {e}", path.display()))?;
                kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                    .await
                    .map_err(|e| format!("--kubeconfig {}: {e}", path.display()))?
            }
            Target::Server(url) => {
                let uri = url.parse().map_err(|e| format!("--server {url:?} is not a URL ({e}); write it like http://127.0.0.1:8001"))?;
                kube::Config::new(uri)
            }
            Target::Infer => kube::Config::infer()
                .await
                .map_err(|e| format!("no cluster configured ({e}); pass --kubeconfig PATH or --server URL (a kubectl proxy)"))?,
        };
        let namespace = config.default_namespace.clone();
        let client = kube::Client::try_from(config).map_err(|e| format!("cannot set up the Kubernetes client: {e}"))?;
        Ok((NativeTransport { client, s3_endpoint: None }, namespace))
    }

    /// Sends S3 requests to `endpoint` (and signs them for its host) instead of the cell's
    /// `config.s3_endpoint`, e.g. a port-forward to an in-cluster MinIO.
    pub fn with_s3_endpoint(mut self, endpoint: Option<String>) -> Self {
        self.s3_endpoint = endpoint;
        self
    }

    async fn request(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<kube::client::Body>, KubeError> {
        let what = format!("{} {}", request.method(), request.uri());
        let (parts, body) = request.into_parts();
        self.client
            .send(http::Request::from_parts(parts, kube::client::Body::from(body)))
            .await
            .map_err(|e| KubeError::Transport { what, message: e.to_string() })
    }
}

fn retry_after(response: &http::Response<kube::client::Body>) -> Option<String> {
    response.headers().get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(String::from)
}

async fn read_body(what: &str, response: http::Response<kube::client::Body>) -> Result<Response, KubeError> {
    let status = response.status().as_u16();
    let retry_after = retry_after(&response);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| KubeError::Transport { what: what.into(), message: e.to_string() })?
        .to_bytes()
        .to_vec();
    Ok(Response { status, retry_after, body })
}

impl Transport for NativeTransport {
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<Response, KubeError> {
        let what = format!("{} {}", request.method(), request.uri());
        let response = self.request(request).await?;
        read_body(&what, response).await
    }

    async fn stream(&self, request: http::Request<Vec<u8>>) -> Result<Result<ByteStream, Response>, KubeError> {
        let what = format!("{} {}", request.method(), request.uri());
        let response = self.request(request).await?;
        if !response.status().is_success() {
            return read_body(&what, response).await.map(Err);
        }
        let chunks = response.into_body().into_data_stream().map(move |chunk| {
            chunk.map(|bytes| bytes.to_vec()).map_err(|e| KubeError::Transport { what: what.clone(), message: e.to_string() })
        });
        Ok(Ok(chunks.boxed_local()))
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await
    }

    fn now(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }

    fn s3_endpoint(&self) -> Option<String> {
        self.s3_endpoint.clone()
    }

    async fn send_s3(&self, request: crate::s3::Request, body: Vec<u8>) -> Result<Response, KubeError> {
        let what = format!("{} {}", request.method, request.url);
        let error = |message: String| KubeError::Transport { what: what.clone(), message };
        let mut builder = http::Request::builder().method(request.method).uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let request = builder.body(http_body_util::Full::new(bytes::Bytes::from(body))).map_err(|e| error(e.to_string()))?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| error(format!("no TLS root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        let response = client.request(request).await.map_err(|e| error(describe(&e)))?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| error(e.to_string()))?.to_bytes().to_vec();
        Ok(Response { status, retry_after: None, body })
    }
}

/// An error with its causes ("client error (Connect): tcp connect error: Connection refused").
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
