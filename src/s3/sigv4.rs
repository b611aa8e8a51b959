//! AWS Signature Version 4 (header-based, `AWS4-HMAC-SHA256`), pure: the time is an argument.
//!
//! Tested against AWS's published SigV4 test suite (tests/data/sigv4) and the S3
//! documentation's examples (tests/sigv4.rs). Paths are encoded once, as S3 wants it: a URL's
//! path is percent-decoded and re-encoded with the SigV4 rules (unreserved characters kept,
//! everything else as `%XX`), so whatever escaping the caller used, the canonical URI is what
//! the server computes. The double encoding other AWS services want is not implemented.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::context::hex;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash that leaves the body unsigned (S3 only).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// An access key pair, and a session token for temporary credentials. `Debug` shows the
/// access key id only: the secret and the token never reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl Credentials {
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Credentials { access_key_id: access_key_id.into(), secret_access_key: secret_access_key.into(), session_token: None }
    }

    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Everything besides the request that goes into a signature.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    pub credentials: &'a Credentials,
    pub region: &'a str,
    /// `s3` for S3 and MinIO.
    pub service: &'a str,
    /// Seconds since the Unix epoch (UTC); the caller reads the clock.
    pub time: u64,
    /// Add and sign `x-amz-content-sha256` (S3 requires it).
    pub content_sha256_header: bool,
    /// Remove `.`/`..` segments and repeated slashes from the path before signing (services
    /// other than S3; S3 signs the path as it is).
    pub normalize_path: bool,
}

impl<'a> SigningParams<'a> {
    /// What S3 (and MinIO) expect.
    pub fn s3(credentials: &'a Credentials, region: &'a str, time: u64) -> Self {
        SigningParams { credentials, region, service: "s3", time, content_sha256_header: true, normalize_path: false }
    }
}

/// A signature and the headers that carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// `x-amz-date`, `x-amz-content-sha256` (S3), `x-amz-security-token` (with a session token)
    /// and `authorization`: add them to the request as they are.
    pub headers: Vec<(&'static str, String)>,
    /// `host;x-amz-date;...`
    pub signed_headers: String,
    pub canonical_request: String,
    pub string_to_sign: String,
    /// 64 hex digits.
    pub signature: String,
}

impl Signed {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn authorization(&self) -> &str {
        self.header("authorization").unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("{url:?} is not an http(s) URL with a host; write it like http://minio.example:9000/bucket/key")]
    Url { url: String },
    #[error("header {name:?} has a line break or a control character in its value; remove it")]
    HeaderValue { name: String },
    #[error("header name {name:?} is not a valid HTTP header name")]
    HeaderName { name: String },
    #[error("payload hash {hash:?} is neither 64 lowercase hex digits nor UNSIGNED-PAYLOAD")]
    PayloadHash { hash: String },
}

/// Signs a request. `url` is the URL as sent (scheme, host and port, path, query); `headers`
/// are the headers to sign besides those the signer adds (a `host` header wins over the URL's
/// authority: give the host the server will see when a proxy sits between). `payload_hash`
/// is the lowercase hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`].
pub fn sign(method: &str, url: &str, headers: &[(&str, &str)], payload_hash: &str, params: &SigningParams<'_>) -> Result<Signed, SignError> {
    let valid_hash = payload_hash == UNSIGNED_PAYLOAD
        || (payload_hash.len() == 64 && payload_hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    if !valid_hash {
        return Err(SignError::PayloadHash { hash: payload_hash.into() });
    }
    let parts = Url::parse(url).ok_or_else(|| SignError::Url { url: url.into() })?;
    let amz_date = amz_date(params.time);
    let scope = format!("{}/{}/{}/aws4_request", &amz_date[..8], params.region, params.service);

    // Canonical headers: lowercase names, trimmed values with inner runs of spaces collapsed,
    // repeated names joined with ',' in their order, sorted by name.
    let mut canonical: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, value: &str| -> Result<(), SignError> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(SignError::HeaderName { name: name.into() });
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(SignError::HeaderValue { name: name.into() });
        }
        let name = name.to_ascii_lowercase();
        let value = value.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
        match canonical.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            None => canonical.push((name, value)),
        }
        Ok(())
    };
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut added: Vec<(&'static str, String)> = Vec::new();
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("authorization") {
            add(name, value)?;
        }
    }
    if !has("host") {
        add("host", &parts.host)?;
    }
    if !has("x-amz-date") {
        add("x-amz-date", &amz_date)?;
        added.push(("x-amz-date", amz_date.clone()));
    }
    if params.content_sha256_header && !has("x-amz-content-sha256") {
        add("x-amz-content-sha256", payload_hash)?;
        added.push(("x-amz-content-sha256", payload_hash.to_string()));
    }
    if let Some(token) = &params.credentials.session_token {
        if !has("x-amz-security-token") {
            add("x-amz-security-token", token)?;
            added.push(("x-amz-security-token", token.clone()));
        }
    }
    canonical.sort_by(|a, b| a.0.cmp(&b.0));
    let signed_headers = canonical.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
    let header_block: String = canonical.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();

    let canonical_request = format!(
        "{}\n{}\n{}\n{header_block}\n{signed_headers}\n{payload_hash}",
        method.to_ascii_uppercase(),
        canonical_uri(parts.path, params.normalize_path),
        canonical_query(parts.query),
    );
    let string_to_sign =
        format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(canonical_request.as_bytes())));

    let secret = format!("AWS4{}", params.credentials.secret_access_key);
    let mut key = hmac(secret.as_bytes(), &amz_date.as_bytes()[..8]);
    for part in [params.region, params.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));

    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        params.credentials.access_key_id
    );
    added.push(("authorization", authorization));
    Ok(Signed { headers: added, signed_headers, canonical_request, string_to_sign, signature })
}

/// Lowercase hex SHA-256 of a body: the payload hash of a signed payload.
pub fn payload_hash(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: new_from_slice does not fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYYMMDD'T'HHMMSS'Z'` (ISO 8601 basic, UTC) of a Unix time.
pub fn amz_date(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let secs = unix_seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

struct Url<'a> {
    /// host[:port], without the scheme's default port.
    host: String,
    path: &'a str,
    query: &'a str,
}

impl<'a> Url<'a> {
    fn parse(url: &'a str) -> Option<Url<'a>> {
        let (scheme, rest) = url.split_once("://")?;
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "http" => ":80",
            "https" => ":443",
            _ => return None,
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_query) = rest.split_at(end);
        let authority = authority.rsplit('@').next().unwrap_or_default();
        if authority.is_empty() || authority.chars().any(|c| c.is_whitespace()) {
            return None;
        }
        let host = authority.strip_suffix(default_port).unwrap_or(authority).to_ascii_lowercase();
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        Some(Url { host, path, query })
    }
}

/// SigV4's URI encoding: unreserved characters as they are, every other byte as `%XX`.
pub fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` to bytes; a `%` without two hex digits stays as it is.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hexval = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hexval(bytes[i + 1]), hexval(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn canonical_uri(path: &str, normalize: bool) -> String {
    let decoded = percent_decode(if path.is_empty() { "/" } else { path });
    if !normalize {
        return uri_encode(&decoded, true);
    }
    // RFC 3986 remove_dot_segments, and empty segments dropped.
    let mut segments: Vec<&[u8]> = Vec::new();
    let mut trailing = false;
    for segment in decoded.split(|&b| b == b'/') {
        trailing = matches!(segment, b"" | b"." | b"..");
        match segment {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = Vec::new();
    for s in &segments {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if out.is_empty() || trailing {
        out.push(b'/');
    }
    uri_encode(&out, true)
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&percent_decode(k), false), uri_encode(&percent_decode(v), false))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_encoding() {
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(uri_encode(b"a b/c~$", true), "a%20b/c~%24");
        assert_eq!(uri_encode(b"a/b", false), "a%2Fb");
        assert_eq!(percent_decode("a%20b%zz%4"), b"a b%zz%4");
        assert_eq!(canonical_uri("/a/./b/../c//", true), "/a/c/");
        assert_eq!(canonical_uri("", false), "/");
        assert_eq!(canonical_query("b=2&a=&c&a=1"), "a=&a=1&b=2&c=");
    }

    #[test]
    fn debug_redacts_the_secret_and_the_token() {
        let creds = Credentials::new("AKID", "very-secret").with_session_token("token-value");
        let text = format!("{creds:?}");
        assert!(text.contains("AKID"));
        assert!(!text.contains("very-secret") && !text.contains("token-value"), "{text}");
    }
}
