//! Talking to the Kubernetes API: typed errors, the transport trait every front end implements,
//! and the client that builds requests (with kube-core) and retries transient failures.

mod client;
mod error;
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod scripted;
mod transport;

pub use client::{Client, ObjectList, RetryPolicy, SecretCopy, WatchEvent, COPY_FROM_HEADER, COPY_KEYS_HEADER, FIELD_MANAGER};
pub use error::{ApiError, Cause, GatewayError, KubeError};
pub use transport::{ByteStream, NullTransport, Response, Transport};
