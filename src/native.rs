//! The native transport (CLI, integration tests): kube-rs's client, which reads a kubeconfig
//! (certificates, tokens, exec plugins) or talks plain HTTP to a `kubectl proxy`.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use http_body_util::BodyExt;

use crate::kube::{ByteStream, KubeError, Response, Transport};

pub struct NativeTransport {
    client: kube::Client,
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
        Ok((NativeTransport { client }, namespace))
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
}
