//! S3 (and MinIO) requests the build step needs, signed with AWS Signature Version 4: create
//! the bucket, ask whether an object exists, put an object. Pure: the caller sends the request
//! (browser fetch, or a native client) and reads the clock.
//!
//! Buckets are addressed path-style (`<endpoint>/<bucket>/<key>`), which MinIO and S3 both
//! serve and which needs no DNS per bucket. The signature covers the host and the path the S3
//! server sees: a proxy between the caller and the server must forward the path unchanged
//! after its own prefix and must not rewrite `Host` (or the caller signs the host the server
//! will see, see [`sigv4::sign`]).

pub mod sigv4;

pub use sigv4::{payload_hash, sign, Credentials, SignError, Signed, SigningParams, EMPTY_SHA256, UNSIGNED_PAYLOAD};

/// A bucket on an S3 endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// The endpoint as the S3 server is reached, e.g. `http://minio.kaptain:9000`.
    pub endpoint: String,
    pub name: String,
    /// `us-east-1` for MinIO unless it was configured otherwise.
    pub region: String,
}

/// A signed request, ready to send. `headers` are every header to set (`Host` excepted: the
/// HTTP client sets it from the URL, and browsers forbid setting it); the body is the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

impl Bucket {
    /// `<endpoint>/<bucket>/<key>`, the key's segments percent-encoded.
    pub fn object_url(&self, key: &str) -> String {
        format!("{}/{}", self.bucket_url(), sigv4::uri_encode(key.trim_start_matches('/').as_bytes(), true))
    }

    pub fn bucket_url(&self) -> String {
        format!("{}/{}", self.endpoint.trim_end_matches('/'), sigv4::uri_encode(self.name.as_bytes(), false))
    }

    /// PUT of an object whose body is `body` (signed: S3 checks the body against its hash).
    pub fn put_object(&self, key: &str, body: &[u8], content_type: &str, credentials: &Credentials, time: u64) -> Result<Request, SignError> {
        let mut request = self.signed("PUT", self.object_url(key), &payload_hash(body), credentials, time)?;
        // Not signed: a proxy may normalize it, and S3 only requires x-amz-* to be signed.
        request.headers.push(("content-type".into(), content_type.into()));
        Ok(request)
    }

    /// HEAD of an object: 200 when it exists, 404 when not.
    pub fn head_object(&self, key: &str, credentials: &Credentials, time: u64) -> Result<Request, SignError> {
        self.signed("HEAD", self.object_url(key), EMPTY_SHA256, credentials, time)
    }

    /// PUT of the bucket; 200 when created, 409 `BucketAlreadyOwnedByYou` when it exists. The
    /// body (a location constraint outside us-east-1) goes with the request.
    pub fn create_bucket(&self, credentials: &Credentials, time: u64) -> Result<(Request, Vec<u8>), SignError> {
        let body = if self.region.is_empty() || self.region == "us-east-1" {
            Vec::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.region
            )
            .into_bytes()
        };
        let request = self.signed("PUT", self.bucket_url(), &payload_hash(&body), credentials, time)?;
        Ok((request, body))
    }

    fn signed(&self, method: &'static str, url: String, payload: &str, credentials: &Credentials, time: u64) -> Result<Request, SignError> {
        let region = if self.region.is_empty() { "us-east-1" } else { &self.region };
        let signed = sign(method, &url, &[], payload, &SigningParams::s3(credentials, region, time))?;
        let headers = signed.headers.into_iter().map(|(n, v)| (n.to_string(), v)).collect();
        Ok(Request { method, url, headers })
    }
}
