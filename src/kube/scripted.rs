//! A test double for the API server: answers from a script, then from a fallback, and records
//! what it was asked and how long the client waited. It stands in for the API server in unit
//! tests of request building and of the engine's steps; the real API server is in
//! tests/cluster_*.rs.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{stream, StreamExt};

use super::client::{COPY_FROM_HEADER, COPY_KEYS_HEADER};
use super::transport::{ByteStream, Response, Transport};
use super::KubeError;

/// An answer chosen by the request line.
pub(crate) type Answer = fn(&str) -> Result<Response, KubeError>;

#[derive(Default)]
pub(crate) struct ScriptedApi {
    pub answers: RefCell<VecDeque<Result<Response, KubeError>>>,
    /// Answers a request the script has no answer left for, by its "METHOD path?query" line.
    pub fallback: Option<Answer>,
    /// Requests that are never answered (the user interrupts while they are in flight).
    pub stalls: Option<fn(&str) -> bool>,
    pub asked: RefCell<Vec<String>>,
    pub slept: RefCell<Vec<Duration>>,
    /// Plays a server that copies Secrets; records the copy headers of each request.
    pub copies: bool,
    pub copy_headers: RefCell<Vec<(String, String)>>,
}

impl ScriptedApi {
    pub fn answering(answers: Vec<Result<Response, KubeError>>) -> Self {
        ScriptedApi { answers: RefCell::new(answers.into()), ..Default::default() }
    }
}

pub(crate) fn status(code: u16, retry_after: Option<&str>, body: &str) -> Result<Response, KubeError> {
    Ok(Response { status: code, retry_after: retry_after.map(String::from), body: body.as_bytes().to_vec() })
}

impl Transport for &ScriptedApi {
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<Response, KubeError> {
        let line = format!("{} {}", request.method(), request.uri());
        self.asked.borrow_mut().push(line.clone());
        let header = |name| request.headers().get(name).map(|v: &http::HeaderValue| v.to_str().unwrap().to_string());
        if let (Some(from), Some(keys)) = (header(COPY_FROM_HEADER), header(COPY_KEYS_HEADER)) {
            self.copy_headers.borrow_mut().push((from, keys));
        }
        if self.stalls.is_some_and(|stalls| stalls(&line)) {
            std::future::pending::<()>().await;
        }
        let scripted = self.answers.borrow_mut().pop_front();
        scripted.or_else(|| self.fallback.map(|answer| answer(&line))).expect("the script has an answer")
    }
    async fn stream(&self, request: http::Request<Vec<u8>>) -> Result<Result<ByteStream, Response>, KubeError> {
        let body = self.send(request).await?.body;
        Ok(Ok(stream::iter(body.chunks(7).map(|c| Ok(c.to_vec())).collect::<Vec<_>>()).boxed_local()))
    }
    async fn sleep(&self, duration: Duration) {
        self.slept.borrow_mut().push(duration);
    }
    fn now(&self) -> i64 {
        0
    }
    fn copies_secrets(&self) -> bool {
        self.copies
    }
}
