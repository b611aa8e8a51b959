//! AWS Signature V4: AWS's published test suite (tests/data/sigv4, see its README) and the
//! examples of the S3 API reference ("Signature calculations for the Authorization header:
//! transferring payload in a single chunk").

use std::path::Path;

use kaptain::s3::{sigv4, Bucket, Credentials, SigningParams, EMPTY_SHA256};

/// 2015-08-30T12:36:00Z, the test suite's time.
const SUITE_TIME: u64 = 1_440_938_160;
/// 2013-05-24T00:00:00Z, the S3 documentation's time.
const DOC_TIME: u64 = 1_369_353_600;
const DOC_ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const DOC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

struct SuiteRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// request.txt: request line, headers (a line starting with whitespace continues the previous
/// value), blank line, body.
fn parse_request(text: &str) -> SuiteRequest {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let path = rest.rsplit_once(" HTTP/").unwrap().0;
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("a continuation follows a header");
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.to_string(), value.to_string()));
        }
    }
    SuiteRequest { method: method.into(), path: path.into(), headers, body: body.as_bytes().to_vec() }
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

#[test]
fn the_aws_sigv4_test_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigv4");
    let mut cases: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(cases.len() >= 30, "the suite's cases are in {}", root.display());
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy();
        let context: serde_json::Value = serde_json::from_str(&read(dir, "context.json")).unwrap();
        assert_eq!(context["timestamp"], "2015-08-30T12:36:00Z", "{name}");
        let creds = &context["credentials"];
        let mut credentials = Credentials::new(creds["access_key_id"].as_str().unwrap(), creds["secret_access_key"].as_str().unwrap());
        // omit_session_token: the token is added after signing (post-sts-header-after), so it
        // is not part of the signature.
        if let (Some(token), false) = (creds["token"].as_str(), context["omit_session_token"].as_bool().unwrap_or(false)) {
            credentials = credentials.with_session_token(token);
        }
        let request = parse_request(&read(dir, "request.txt"));
        let host = request.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("host")).unwrap().1.clone();
        let url = format!("https://{host}{}", request.path);
        let headers: Vec<(&str, &str)> = request.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let params = SigningParams {
            credentials: &credentials,
            region: context["region"].as_str().unwrap(),
            service: context["service"].as_str().unwrap(),
            time: SUITE_TIME,
            content_sha256_header: context["sign_body"].as_bool().unwrap(),
            normalize_path: context["normalize"].as_bool().unwrap(),
        };
        let signed = sigv4::sign(&request.method, &url, &headers, &sigv4::payload_hash(&request.body), &params)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(signed.canonical_request, read(dir, "header-canonical-request.txt"), "{name}: canonical request");
        assert_eq!(signed.string_to_sign, read(dir, "header-string-to-sign.txt"), "{name}: string to sign");
        assert_eq!(signed.signature, read(dir, "header-signature.txt").trim(), "{name}: signature");
        assert_eq!(
            signed.authorization(),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={}, Signature={}",
                signed.signed_headers, signed.signature
            ),
            "{name}"
        );
    }
}

fn doc_credentials() -> Credentials {
    Credentials::new(DOC_ACCESS_KEY, DOC_SECRET)
}

#[test]
fn the_s3_documentation_get_object_with_range() {
    let creds = doc_credentials();
    let signed = sigv4::sign(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        &[("Range", "bytes=0-9")],
        EMPTY_SHA256,
        &SigningParams::s3(&creds, "us-east-1", DOC_TIME),
    )
    .unwrap();
    assert_eq!(
        signed.canonical_request,
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
         x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
         x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        signed.string_to_sign,
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
         7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    );
    assert_eq!(signed.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    assert_eq!(
        signed.authorization(),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
    assert_eq!(signed.header("x-amz-date"), Some("20130524T000000Z"));
    assert_eq!(signed.header("x-amz-content-sha256"), Some(EMPTY_SHA256));
}

#[test]
fn the_s3_documentation_put_object_with_an_escaped_key() {
    let creds = doc_credentials();
    let body = b"Welcome to Amazon S3.";
    let signed = sigv4::sign(
        "PUT",
        "https://examplebucket.s3.amazonaws.com/test$file.text",
        &[("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
        &sigv4::payload_hash(body),
        &SigningParams::s3(&creds, "us-east-1", DOC_TIME),
    )
    .unwrap();
    assert!(signed.canonical_request.starts_with("PUT\n/test%24file.text\n\n"), "{}", signed.canonical_request);
    assert!(signed.string_to_sign.ends_with("9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"));
    assert_eq!(signed.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    // Already escaped by the caller: the same canonical URI.
    let again = sigv4::sign(
        "PUT",
        "https://examplebucket.s3.amazonaws.com/test%24file.text",
        &[("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
        &sigv4::payload_hash(body),
        &SigningParams::s3(&creds, "us-east-1", DOC_TIME),
    )
    .unwrap();
    assert_eq!(again.signature, signed.signature);
}

#[test]
fn the_s3_documentation_get_bucket_lifecycle() {
    let creds = doc_credentials();
    let signed = sigv4::sign(
        "GET",
        "https://examplebucket.s3.amazonaws.com/?lifecycle",
        &[],
        EMPTY_SHA256,
        &SigningParams::s3(&creds, "us-east-1", DOC_TIME),
    )
    .unwrap();
    assert!(signed.canonical_request.starts_with("GET\n/\nlifecycle=\n"), "{}", signed.canonical_request);
    assert_eq!(signed.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

#[test]
fn path_style_requests_for_minio() {
    let bucket = Bucket { endpoint: "http://127.0.0.1:9000/".into(), name: "kaptain".into(), region: "us-east-1".into() };
    let creds = Credentials::new("minioadmin", "minio-secret-value").with_session_token("session-token-value");
    let key = "contexts/dev mnist/abc.tar.gz";
    assert_eq!(bucket.object_url(key), "http://127.0.0.1:9000/kaptain/contexts/dev%20mnist/abc.tar.gz");

    let put = bucket.put_object(key, b"bytes", "application/gzip", &creds, DOC_TIME).unwrap();
    assert_eq!(put.method, "PUT");
    let names: Vec<&str> = put.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "authorization", "content-type"]);
    let auth = &put.headers[3].1;
    assert!(auth.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"), "{auth}");
    assert_eq!(put.headers[1].1, sigv4::payload_hash(b"bytes"));

    // The host the server sees is signed with its port.
    let signed = sigv4::sign("HEAD", &bucket.object_url(key), &[], EMPTY_SHA256, &SigningParams::s3(&creds, "us-east-1", DOC_TIME)).unwrap();
    assert!(signed.canonical_request.contains("\nhost:127.0.0.1:9000\n"));
    assert!(signed.canonical_request.starts_with("HEAD\n/kaptain/contexts/dev%20mnist/abc.tar.gz\n"));
    let head = bucket.head_object(key, &creds, DOC_TIME).unwrap();
    assert_eq!(head.headers.iter().find(|(n, _)| n == "authorization").unwrap().1, signed.authorization());

    let (create, body) = bucket.create_bucket(&creds, DOC_TIME).unwrap();
    assert_eq!((create.method, create.url.as_str(), body.len()), ("PUT", "http://127.0.0.1:9000/kaptain", 0));
    let eu = Bucket { region: "eu-west-1".into(), ..bucket.clone() };
    let (_, body) = eu.create_bucket(&creds, DOC_TIME).unwrap();
    assert!(String::from_utf8(body).unwrap().contains("<LocationConstraint>eu-west-1</LocationConstraint>"));

    // No secret in anything a caller might print.
    let printed = format!("{put:?} {creds:?} {signed:?}");
    assert!(!printed.contains("minio-secret-value"), "{printed}");
}

#[test]
fn refuses_what_cannot_be_signed() {
    let creds = doc_credentials();
    let params = SigningParams::s3(&creds, "us-east-1", DOC_TIME);
    assert!(sigv4::sign("GET", "ftp://host/x", &[], EMPTY_SHA256, &params).is_err());
    assert!(sigv4::sign("GET", "http:///x", &[], EMPTY_SHA256, &params).is_err());
    assert!(sigv4::sign("GET", "http://h/x", &[("x-evil", "a\r\nb")], EMPTY_SHA256, &params).is_err());
    assert!(sigv4::sign("GET", "http://h/x", &[], "not-a-hash", &params).is_err());
    assert!(sigv4::sign("GET", "http://h/x", &[], sigv4::UNSIGNED_PAYLOAD, &params).is_ok());
}
