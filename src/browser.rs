//! The browser transport: the core's [`Transport`] over the JavaScript global `fetch`, so it
//! works in a page, in a worker and under Node (>= 18), none of which the core assumes a
//! `window` for. Bound here by hand (no web-sys, no gloo-net: gloo-net's fetch wants a
//! `Window` or a worker scope and does not run under Node):
//!
//! - every request gets its own `AbortController`; dropping the request's future (or a watch's
//!   stream) before the response is read to its end aborts the fetch, so an interrupted run
//!   leaves no request (and no watch connection) behind;
//! - a watch's body is read chunk by chunk from `response.body` (a ReadableStream reader);
//! - `cache: "no-store"`: nothing about a cluster is to be answered from a cache;
//! - sleeps are `setTimeout` (cleared when the sleep is dropped), the clock is `Date.now()`.
//!
//! Watches and proxies: the Kubernetes API server streams a watch as `application/json`
//! and answers `Accept: text/event-stream` with 406 Not Acceptable. jupyter-server-proxy (4.4
//! and later) streams a response only when the request's Accept is exactly
//! `text/event-stream`, and buffers it whole otherwise; [`WatchMode`] says which Accept a
//! watch sends, or that watches are not tried at all (the engine then polls).

use std::time::Duration;

use futures_util::stream;
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::kube::{ByteStream, KubeError, Response, Transport};

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (page, worker or Node).
    #[wasm_bindgen(js_name = fetch)]
    fn fetch(url: &str, init: &Object) -> Promise;

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, milliseconds: f64) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);

    #[wasm_bindgen(js_name = Response)]
    type FetchResponse;
    #[wasm_bindgen(method, getter)]
    fn status(this: &FetchResponse) -> u16;
    #[wasm_bindgen(method, getter)]
    fn headers(this: &FetchResponse) -> FetchHeaders;
    #[wasm_bindgen(method, getter)]
    fn body(this: &FetchResponse) -> Option<BodyStream>;
    #[wasm_bindgen(method, js_name = arrayBuffer)]
    fn array_buffer(this: &FetchResponse) -> Promise;

    #[wasm_bindgen(js_name = Headers)]
    type FetchHeaders;
    #[wasm_bindgen(method)]
    fn get(this: &FetchHeaders, name: &str) -> Option<String>;

    #[wasm_bindgen(js_name = ReadableStream)]
    type BodyStream;
    #[wasm_bindgen(method, catch, js_name = getReader)]
    fn get_reader(this: &BodyStream) -> Result<BodyReader, JsValue>;

    #[wasm_bindgen(js_name = ReadableStreamDefaultReader)]
    type BodyReader;
    #[wasm_bindgen(method)]
    fn read(this: &BodyReader) -> Promise;

    #[wasm_bindgen(js_name = AbortController)]
    type AbortController;
    #[wasm_bindgen(constructor)]
    fn new() -> AbortController;
    #[wasm_bindgen(method, getter)]
    fn signal(this: &AbortController) -> AbortSignal;
    #[wasm_bindgen(method)]
    fn abort(this: &AbortController);

    /// An `AbortSignal`: the one of each request, or one a caller passes to cancel a run.
    #[wasm_bindgen(js_name = AbortSignal)]
    pub type AbortSignal;
    #[wasm_bindgen(method, getter)]
    fn aborted(this: &AbortSignal) -> bool;
    #[wasm_bindgen(method, js_name = addEventListener)]
    fn add_event_listener(this: &AbortSignal, event: &str, listener: &Function, options: &JsValue);
}

/// What a watch request asks for (and so whether proxies on the way stream it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchMode {
    /// `Accept: application/json`: streams straight from a `kubectl proxy`; a buffering proxy
    /// (jupyter-server-proxy) hands the events over only when the watch ends.
    Json,
    /// `Accept: text/event-stream`: jupyter-server-proxy (>= 4.4) streams it, and its server
    /// entry must set the upstream Accept back to `application/json` (`request_headers_override`),
    /// as the API server answers 406 to `text/event-stream`; a 406 makes the engine poll.
    EventStream,
    /// No watch requests: the engine follows objects by polling.
    Poll,
}

impl WatchMode {
    pub const NAMES: &'static [&'static str] = &["json", "event-stream", "poll"];

    pub fn parse(name: &str) -> Option<WatchMode> {
        match name {
            "json" => Some(WatchMode::Json),
            "event-stream" => Some(WatchMode::EventStream),
            "poll" => Some(WatchMode::Poll),
            _ => None,
        }
    }
}

/// How S3 requests reach the S3 server from the page: the Jupyter server's route
/// (`<base_url>/kaptain/s3`), which forwards the path, the query and the `x-amz-*` headers
/// unchanged to its own endpoint, with `Host` set to that endpoint's and `Authorization` taken
/// from `X-Kaptain-S3-Authorization` (the page's `Authorization` is Jupyter's token). Requests
/// are signed for `endpoint`, so the signature holds at the S3 server.
#[cfg(feature = "build-step")]
#[derive(Debug, Clone)]
pub struct S3Route {
    pub base: String,
    pub endpoint: String,
}

/// The header a SigV4 `Authorization` travels in through the Jupyter server's S3 route.
#[cfg(feature = "build-step")]
pub const S3_AUTHORIZATION_HEADER: &str = "x-kaptain-s3-authorization";

pub struct BrowserTransport {
    /// Prepended to the request paths (`/api/...`, `/apis/...`), without a trailing slash.
    base: String,
    /// Sent with every request (the request's own Accept and Content-Type win), e.g.
    /// `Authorization` or `X-XSRFToken` for the Jupyter server in front of the API.
    headers: Vec<(String, String)>,
    watch: WatchMode,
    #[cfg(feature = "build-step")]
    s3: Option<S3Route>,
    /// The Jupyter server's `<base_url>/kaptain/secret-copy`, where a Secret's create that
    /// copies another Secret goes ([`crate::kube::COPY_FROM_HEADER`]): the server makes it,
    /// and the source's data never reaches the page.
    secret_copy: Option<String>,
}

impl BrowserTransport {
    /// `base`: where the API is, e.g. `http://127.0.0.1:8001` (a `kubectl proxy`) or
    /// `/user/me/kube` (behind jupyter-server-proxy).
    pub fn new(base: &str, headers: Vec<(String, String)>, watch: WatchMode) -> BrowserTransport {
        BrowserTransport {
            base: base.trim_end_matches('/').to_string(),
            headers,
            watch,
            #[cfg(feature = "build-step")]
            s3: None,
            secret_copy: None,
        }
    }

    pub fn with_secret_copy(mut self, route: Option<String>) -> Self {
        self.secret_copy = route.filter(|r| !r.is_empty()).map(|r| r.trim_end_matches('/').into());
        self
    }

    #[cfg(feature = "build-step")]
    pub fn with_s3(mut self, route: Option<S3Route>) -> Self {
        self.s3 = route.map(|r| S3Route { base: r.base.trim_end_matches('/').into(), endpoint: r.endpoint.trim_end_matches('/').into() });
        self
    }

    /// Starts a fetch; the guard aborts it when dropped before [`Abort::done`].
    async fn start(&self, request: http::Request<Vec<u8>>, accept: &str) -> Result<(FetchResponse, Abort), KubeError> {
        let what = describe_request(&request);
        let error = |message: String| KubeError::Transport { what: what.clone(), message };
        let (parts, body) = request.into_parts();

        let headers = Object::new();
        // Lower-case names, so that the request's own (http's are lower-case) replace a caller's.
        for (name, value) in &self.headers {
            put(&headers, &name.to_ascii_lowercase(), &JsValue::from_str(value)).map_err(error)?;
        }
        for (name, value) in &parts.headers {
            let value = value.to_str().map_err(|e| error(format!("header {}: {e}", name.as_str())))?;
            put(&headers, name.as_str(), &JsValue::from_str(value)).map_err(error)?;
        }
        if !parts.headers.contains_key(http::header::ACCEPT) {
            put(&headers, "accept", &JsValue::from_str(accept)).map_err(error)?;
        }

        let controller = AbortController::new();
        let init = Object::new();
        put(&init, "method", &JsValue::from_str(parts.method.as_str())).map_err(error)?;
        put(&init, "headers", &headers).map_err(error)?;
        put(&init, "cache", &JsValue::from_str("no-store")).map_err(error)?;
        // A redirect here is a login page taking over: reported as such, not followed.
        put(&init, "redirect", &JsValue::from_str("manual")).map_err(error)?;
        put(&init, "signal", &controller.signal()).map_err(error)?;
        if !body.is_empty() {
            put(&init, "body", &Uint8Array::from(body.as_slice())).map_err(error)?;
        }
        let base = match &self.secret_copy {
            Some(route) if parts.headers.contains_key(&crate::kube::COPY_FROM_HEADER) => route,
            _ => &self.base,
        };
        let url = format!("{base}{}", parts.uri);
        let guard = Abort(Some(controller));
        let response = JsFuture::from(fetch(&url, &init)).await.map_err(|e| error(describe_js(&e)))?;
        Ok((response.unchecked_into(), guard))
    }
}

/// Aborts the fetch it guards when dropped, unless the request completed.
struct Abort(Option<AbortController>);

impl Abort {
    fn done(mut self) {
        self.0 = None;
    }
}

impl Drop for Abort {
    fn drop(&mut self) {
        if let Some(controller) = self.0.take() {
            controller.abort();
        }
    }
}

fn put(target: &Object, name: &str, value: &JsValue) -> Result<(), String> {
    Reflect::set(target, &JsValue::from_str(name), value).map(drop).map_err(|e| describe_js(&e))
}

fn describe_request(request: &http::Request<Vec<u8>>) -> String {
    format!("{} {}", request.method(), request.uri())
}

/// The message of a thrown JS value, with its cause (Node's fetch puts the network error there:
/// "fetch failed: connect ECONNREFUSED 127.0.0.1:8001").
fn describe_js(value: &JsValue) -> String {
    let text = |v: &JsValue| {
        v.as_string().or_else(|| Reflect::get(v, &JsValue::from_str("message")).ok().and_then(|m| m.as_string()))
    };
    let mut message = text(value).unwrap_or_else(|| "the request failed".into());
    if let Some(cause) = Reflect::get(value, &JsValue::from_str("cause")).ok().as_ref().and_then(text) {
        message = format!("{message}: {cause}");
    }
    message
}

async fn read_all(what: &str, response: FetchResponse, guard: Abort) -> Result<Response, KubeError> {
    let status = response.status();
    let retry_after = response.headers().get("retry-after");
    let body = JsFuture::from(response.array_buffer())
        .await
        .map_err(|e| KubeError::Transport { what: what.into(), message: describe_js(&e) })?;
    guard.done();
    Ok(Response { status, retry_after, body: Uint8Array::new(&body).to_vec() })
}

impl Transport for BrowserTransport {
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<Response, KubeError> {
        let what = describe_request(&request);
        let (response, guard) = self.start(request, "application/json").await?;
        read_all(&what, response, guard).await
    }

    async fn stream(&self, request: http::Request<Vec<u8>>) -> Result<Result<ByteStream, Response>, KubeError> {
        let what = describe_request(&request);
        let accept = match self.watch {
            WatchMode::Json => "application/json",
            WatchMode::EventStream => "text/event-stream",
            WatchMode::Poll => {
                return Err(KubeError::Transport { what, message: "watches are off (watch: \"poll\")".into() });
            }
        };
        let mut request = request;
        request.headers_mut().insert(http::header::ACCEPT, http::HeaderValue::from_static(accept));
        let (response, guard) = self.start(request, accept).await?;
        if !(200..300).contains(&response.status()) {
            return read_all(&what, response, guard).await.map(Err);
        }
        let error = |message: String| KubeError::Transport { what: what.clone(), message };
        let reader = match response.body() {
            Some(body) => body.get_reader().map_err(|e| error(describe_js(&e)))?,
            None => return Err(error("the response has no body to stream".into())),
        };
        // The guard travels with the stream: dropping the stream before the end aborts the watch.
        let chunks = stream::unfold(Some((reader, guard, what)), |state| async move {
            let (reader, guard, what) = state?;
            let chunk = match JsFuture::from(reader.read()).await {
                Ok(chunk) => chunk,
                Err(e) => return Some((Err(KubeError::Transport { what, message: describe_js(&e) }), None)),
            };
            let done = Reflect::get(&chunk, &JsValue::from_str("done")).map(|d| d.is_truthy()).unwrap_or(true);
            if done {
                guard.done();
                return None;
            }
            let bytes = Reflect::get(&chunk, &JsValue::from_str("value"))
                .ok()
                .filter(|v| v.is_object())
                .map(|v| Uint8Array::new(&v).to_vec())
                .unwrap_or_default();
            Some((Ok(bytes), Some((reader, guard, what))))
        });
        Ok(Ok(Box::pin(chunks)))
    }

    fn copies_secrets(&self) -> bool {
        self.secret_copy.is_some()
    }

    #[cfg(feature = "build-step")]
    fn s3_endpoint(&self) -> Option<String> {
        self.s3.as_ref().map(|r| r.endpoint.clone())
    }

    #[cfg(feature = "build-step")]
    async fn send_s3(&self, request: crate::s3::Request, body: Vec<u8>) -> Result<Response, KubeError> {
        let what = format!("{} {}", request.method, request.url);
        let error = |message: String| KubeError::Transport { what: what.clone(), message };
        let route = self.s3.as_ref().ok_or_else(|| error("no route to S3 from this page: pass s3 { route, endpoint } (in JupyterLab the Jupyter server's kaptain/s3)".into()))?;
        let path = request.url.strip_prefix(&route.endpoint).filter(|p| p.starts_with('/')).ok_or_else(|| error(format!("not on the route's endpoint {}", route.endpoint)))?;
        let mut builder = http::Request::builder().method(request.method).uri(path);
        for (name, value) in &request.headers {
            let name = if name.eq_ignore_ascii_case("authorization") { S3_AUTHORIZATION_HEADER } else { name.as_str() };
            builder = builder.header(name, value);
        }
        let request = builder.body(body).map_err(|e| error(e.to_string()))?;
        // The same headers (Jupyter's token and XSRF), another base.
        let to_route = BrowserTransport::new(&route.base, self.headers.clone(), self.watch);
        let (response, guard) = to_route.start(request, "*/*").await?;
        read_all(&what, response, guard).await
    }

    async fn sleep(&self, duration: Duration) {
        let mut timer = Timer(None);
        let milliseconds = duration.as_millis() as f64;
        let done = Promise::new(&mut |resolve, _reject| timer.0 = Some(set_timeout(&resolve, milliseconds)));
        let _ = JsFuture::from(done).await;
        timer.0 = None;
    }

    fn now(&self) -> i64 {
        (js_sys::Date::now() / 1000.0) as i64
    }
}

/// Clears a pending timeout when a sleep is abandoned (Node would otherwise stay alive for it).
struct Timer(Option<JsValue>);

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(id) = self.0.take() {
            clear_timeout(&id);
        }
    }
}

/// Completes when `signal` aborts (at once when it has already).
pub async fn aborted(signal: AbortSignal) {
    if signal.aborted() {
        return;
    }
    let fired = Promise::new(&mut |resolve, _reject| {
        let once = Object::new();
        let _ = Reflect::set(&once, &JsValue::from_str("once"), &JsValue::TRUE);
        signal.add_event_listener("abort", &resolve, &once);
    });
    let _ = JsFuture::from(fired).await;
}
