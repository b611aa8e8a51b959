//! kaptain: the Kaptain SDK's build / train / tune / deploy workflow as Kubernetes manifests
//! with a lifecycle that says, for every object, when it is deleted.
//!
//! Layers (see ARCHITECTURE.md): `spec` (what the user asks for) -> `manifest` (pure builders)
//! -> `lifecycle` (what to delete when). `ops` is the one facade every front end calls.

pub mod context;
pub mod identity;
pub mod engine;
pub mod kinds;
pub mod kube;
pub mod lifecycle;
pub mod manifest;
pub mod ops;
pub mod s3;
pub mod spec;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod wasm;


pub use ops::{Error, Options};
