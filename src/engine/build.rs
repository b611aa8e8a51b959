//! What the build step does besides creating objects: an image built before from the same
//! context is not built again, and the packed context goes to S3 before the kaniko Job that
//! reads it is created.
//!
//! Image reuse keeps a record in the cluster rather than asking the registry: a ConfigMap per
//! image (`identity::image_record_name`), written when a build Job succeeds. The registry is
//! often not reachable from the browser (no proxy route to it, and its credentials would have
//! to be read into the page for every check), while the API is, with the user's own rights.
//! The price: an image deleted from the registry is not noticed; deleting its record (or
//! `config.force_rebuild: true`) builds it again.

use serde_json::{json, Value};

use super::EngineError;
use crate::context::Context;
use crate::identity::{self, RunIdentity};
use crate::kinds;
use crate::kube::{Client, Transport};
use crate::manifest::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};
use crate::s3::{Bucket, Credentials, Request};
use crate::spec::Cell;

/// The run that built `image` before, when a record says it was built.
pub(super) async fn built_before<T: Transport>(client: &Client<T>, namespace: &str, image: &str) -> Result<Option<String>, EngineError> {
    let record = client.get(&kinds::CONFIG_MAP, namespace, &identity::image_record_name(image)).await?;
    // A record of another image under the same name would be a hash collision: ignore it.
    Ok(record
        .filter(|r| r["data"]["image"] == image)
        .map(|r| r["metadata"]["annotations"][identity::BUILT_BY_RUN_ANNOTATION].as_str().unwrap_or("an earlier run").to_string()))
}

/// Records that this run built and pushed `image` from `context_uri`.
pub(super) async fn record<T: Transport>(client: &Client<T>, cell: &Cell, run: &RunIdentity, image: &str, context_uri: &str) -> Result<(), EngineError> {
    let namespace = &cell.config.namespace;
    let model = identity::label_value(&cell.model.id);
    let record = json!({
        "apiVersion": kinds::CONFIG_MAP.api_version(),
        "kind": kinds::CONFIG_MAP.kind,
        "metadata": {
            "name": identity::image_record_name(image),
            "namespace": namespace,
            "labels": { identity::MANAGED_BY_LABEL: identity::MANAGED_BY_VALUE, identity::IMAGE_RECORD_LABEL: model },
            "annotations": {
                identity::BUILT_BY_RUN_ANNOTATION: run.run_id.as_str(),
                identity::MODEL_ID_ANNOTATION: cell.model.id,
            },
        },
        "data": { "image": image, "context": context_uri },
    });
    match client.create(&kinds::CONFIG_MAP, namespace, &record, None, false).await {
        Err(e) if !e.is_already_exists() => Err(e.into()),
        _ => Ok(()),
    }
}

/// The S3 credentials a run copied into its build Secret (filled by `credentials::fill`).
/// The S3 keys the upload is signed with, read from the S3 source Secret: the one Secret a page
/// reads whole, and only to upload a build context.
pub(super) async fn credentials<T: Transport>(client: &Client<T>, cell: &Cell) -> Result<Credentials, EngineError> {
    let secret = &cell.config.s3_credentials_secret;
    let found = client.get(&kinds::SECRET, &cell.config.namespace, secret).await?.unwrap_or_default();
    let read = |key: &str| found["data"][key].as_str().and_then(decode_base64).and_then(|b| String::from_utf8(b).ok());
    match (read(ACCESS_KEY_ID), read(SECRET_ACCESS_KEY)) {
        (Some(id), Some(key)) => Ok(Credentials::new(id.trim(), key.trim())),
        _ => Err(EngineError::S3 {
            action: "upload the build context".into(),
            problem: format!("Secret {secret:?} has no readable {ACCESS_KEY_ID} and {SECRET_ACCESS_KEY}"),
            fix: format!("put both keys, base64 as kubectl writes them, in Secret {secret:?}"),
        }),
    }
}

/// Where the context went, for the cell.
pub(super) struct Uploaded {
    pub uri: String,
    pub bytes: usize,
}

/// Puts the context at `s3://<bucket>/<prefix>/<checksum>.tar.gz`, creating the bucket when
/// it does not exist. The object's name is its content's checksum, so a second upload of the
/// same context writes the same bytes again.
pub(super) async fn upload<T: Transport>(client: &Client<T>, cell: &Cell, context: &Context, credentials: &Credentials) -> Result<Uploaded, EngineError> {
    let config = &cell.config;
    let transport = client.transport();
    let endpoint = transport.s3_endpoint().unwrap_or_else(|| config.s3_endpoint.clone());
    let bucket = Bucket { endpoint: endpoint.clone(), name: config.s3_bucket.clone(), region: config.s3_region.clone() };
    let key = context.object_key(&config.context_prefix);
    let uri = format!("s3://{}/{key}", config.s3_bucket);
    let action = format!("upload the build context to {uri}");
    let send = |request: Result<Request, crate::s3::SignError>, body: Vec<u8>| {
        let action = action.clone();
        let endpoint = endpoint.clone();
        async move {
            let request = request.map_err(|e| EngineError::S3 { action: action.clone(), problem: e.to_string(), fix: "check the keys in config.s3_credentials_secret".into() })?;
            transport.send_s3(request, body).await.map_err(|e| EngineError::S3 {
                action,
                problem: format!("S3 at {endpoint} could not be reached ({e})"),
                fix: "check config.s3_endpoint (in JupyterLab: KAPTAIN_S3_ENDPOINT of the Jupyter server, which forwards to it)".into(),
            })
        }
    };
    let put = || send(bucket.put_object(&key, &context.archive, "application/gzip", credentials, transport.now() as u64), context.archive.clone());
    let mut response = put().await?;
    if response.status == 404 && s3_error(&response.body).0 == "NoSuchBucket" {
        let (request, body) = match bucket.create_bucket(credentials, transport.now() as u64) {
            Ok((request, body)) => (Ok(request), body),
            Err(e) => (Err(e), Vec::new()),
        };
        let created = send(request, body).await?;
        let code = s3_error(&created.body).0;
        if !(200..300).contains(&created.status) && code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
            return Err(refused(&format!("create bucket {:?}", config.s3_bucket), created.status, &created.body, config));
        }
        response = put().await?;
    }
    if !(200..300).contains(&response.status) {
        return Err(refused(&action, response.status, &response.body, config));
    }
    Ok(Uploaded { uri, bytes: context.archive.len() })
}

fn refused(action: &str, status: u16, body: &[u8], config: &crate::spec::Config) -> EngineError {
    let (code, message) = s3_error(body);
    let fix = match code.as_str() {
        "SignatureDoesNotMatch" | "InvalidAccessKeyId" | "AccessDenied" => format!(
            "check the keys in Secret {:?} (config.s3_credentials_secret) and that the user may write to bucket {:?}",
            config.s3_credentials_secret, config.s3_bucket
        ),
        "RequestTimeTooSkewed" => "the browser's or this machine's clock is off: correct it".into(),
        _ if status == 503 || status == 502 => "check the S3 route of the Jupyter server (KAPTAIN_S3_ENDPOINT)".into(),
        _ => "see the S3 server's message".into(),
    };
    let problem = match (code.is_empty(), message.is_empty()) {
        (true, true) => format!("S3 answered {status}"),
        _ => format!("S3 answered {status} {code}: {message}"),
    };
    EngineError::S3 { action: action.to_string(), problem, fix }
}

/// `<Code>` and `<Message>` of an S3 error document, or the `message` of a JSON error (the
/// Jupyter server's route).
fn s3_error(body: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(body);
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find("</")? + start;
        Some(text[start..end].to_string())
    };
    match element("Code") {
        Some(code) => (code, element("Message").unwrap_or_default()),
        None => {
            let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            (String::new(), json["message"].as_str().unwrap_or_default().to_string())
        }
    }
}

/// Standard base64 (Secret data), padding optional; None when it is not base64.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => continue,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_of_secret_data() {
        assert_eq!(decode_base64("bWluaW9hZG1pbg==").unwrap(), b"minioadmin");
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert_eq!(decode_base64("YQ").unwrap(), b"a");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert!(decode_base64("not base64!").is_none());
    }

    #[test]
    fn s3_error_documents() {
        let xml = b"<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(s3_error(xml), ("NoSuchBucket".into(), "The specified bucket does not exist".into()));
        assert_eq!(s3_error(br#"{"message": "no S3 endpoint"}"#), (String::new(), "no S3 endpoint".into()));
        assert_eq!(s3_error(b""), (String::new(), String::new()));
    }
}
