"""s3proxy.py: <base_url>/kaptain/s3/ sends the S3 requests the browser signed on to S3.

The Jupyter servers here run the server side from this source tree (PYTHONPATH, as in
test_server.py) with the extension enabled in their own config directory, and their S3
endpoint is a stand-in that records every request it gets (method, raw request target,
headers, body) and answers as S3 would: so the tests see exactly what S3 would see, which is
what the browser's SigV4 signature has to match.
"""

import hashlib
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from base64 import b64encode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import SOURCE
from kaptain_jupyterlab import s3proxy
from kaptain_jupyterlab.s3proxy import NO_ENDPOINT, S3ConfigError, s3_endpoint, upstream_headers

# What the browser would send: a SigV4 value and a session token that must never be logged.
SIGV4 = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + "5ec0" * 16
)
SESSION_TOKEN = "session-token-" + secrets.token_hex(12)
AMZ_DATE = "20260101T000000Z"
DENIED_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>'
    b"<Message>The request signature we calculated does not match the signature you provided."
    b"</Message><RequestId>17F0A1B2C3D4E5F6</RequestId></Error>"
)


# ------------------------------------------------------------------ the S3 stand-in


class Recorder(BaseHTTPRequestHandler):
    """Records each request; answers by path: /denied/ -> 403 XML, else like S3 for the method."""

    protocol_version = "HTTP/1.1"
    records = None  # set per server
    lock = threading.Lock()

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.lock:
            self.records.append(
                {
                    "method": self.command,
                    "target": self.path,  # the raw request target: path and query as sent
                    "headers": list(self.headers.items()),
                    "body": body,
                }
            )
        common = [("x-amz-request-id", "REQ123"), ("x-amz-id-2", "id2"), ("X-Upstream-Private", "no")]
        if "/denied/" in self.path:
            self.answer(403, common + [("Content-Type", "application/xml")], DENIED_XML)
        elif self.command == "HEAD":
            self.send_response(200)
            for name, value in common + [
                ("Content-Type", "application/gzip"),
                ("Content-Length", "1234"),
                ("ETag", '"0123456789abcdef"'),
                ("Last-Modified", "Thu, 01 Jan 2026 00:00:00 GMT"),
                ("x-amz-version-id", "v1"),
            ]:
                self.send_header(name, value)
            self.end_headers()
        elif self.command == "PUT":
            etag = '"%s"' % hashlib.md5(body).hexdigest()
            self.answer(200, common + [("ETag", etag)], b"")
        else:
            self.answer(200, common + [("Content-Type", "application/octet-stream")], b"object bytes")

    def answer(self, status, headers, body):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = handle_any

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def upstream():
    records = []
    handler = type("Handler", (Recorder,), {"records": records})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"port": httpd.server_address[1], "records": records}
    httpd.shutdown()
    httpd.server_close()


def received(upstream, target):
    """The request the stand-in got for this raw target (path and query), the last one."""
    found = [r for r in upstream["records"] if r["target"] == target]
    assert found, f"nothing reached S3 for {target}; it got {[r['target'] for r in upstream['records']]}"
    return found[-1]


# ------------------------------------------------------------------ Jupyter servers


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_jupyter(work, extra_env):
    for name in ("root", "config", "runtime"):
        (work / name).mkdir()
    # The extension enabled here, installed wheel or not.
    (work / "config" / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"kaptain_jupyterlab": True}}})
    )
    token = secrets.token_hex(16)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "KAPTAIN_", "AWS_"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(work / "config"),
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        PYTHONPATH=os.pathsep.join(p for p in (SOURCE, env.get("PYTHONPATH")) if p),
        **extra_env,
    )
    log = open(work / "server.log", "w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter_server",
            "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
            f"--port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work / 'root'}",
            # Everything logged, so that the no-secret-in-the-log check means something.
            "--ServerApp.log_level=DEBUG",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError((work / "server.log").read_text())
            time.sleep(0.2)
    return process, log, {"base": base, "token": token, "port": port, "log": work / "server.log"}


def stop_jupyter(process, log):
    os.killpg(process.pid, 15)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
    log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, upstream):
    """A Jupyter server whose S3 endpoint is the stand-in."""
    endpoint = f"http://127.0.0.1:{upstream['port']}"
    process, log, info = start_jupyter(
        tmp_path_factory.mktemp("s3"), {"KAPTAIN_S3_ENDPOINT": endpoint}
    )
    info["endpoint"] = endpoint
    yield info
    stop_jupyter(process, log)


@pytest.fixture(scope="module")
def unreachable(tmp_path_factory):
    """A Jupyter server whose S3 endpoint is a port nobody listens on."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    process, log, info = start_jupyter(
        tmp_path_factory.mktemp("s3-unreachable"), {"KAPTAIN_S3_ENDPOINT": endpoint}
    )
    info["endpoint"] = endpoint
    yield info
    stop_jupyter(process, log)


@pytest.fixture(scope="module")
def unconfigured(tmp_path_factory):
    """A Jupyter server without KAPTAIN_S3_ENDPOINT."""
    process, log, info = start_jupyter(tmp_path_factory.mktemp("s3-none"), {})
    yield info
    stop_jupyter(process, log)


def send(server, method, target, headers=None, body=None, token=True):
    """One request with the raw target as given (http.client does not re-encode it)."""
    connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=60)
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"token {server['token']}"
    connection.request(method, target, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    result = (response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    connection.close()
    return result


def signed(**extra):
    """Headers as the browser's core sends them: the SigV4 value under its own name."""
    headers = {
        "X-Kaptain-S3-Authorization": SIGV4,
        "x-amz-date": AMZ_DATE,
        "x-amz-content-sha256": s3proxy_empty_sha256(),
    }
    headers.update(extra)
    return headers


def s3proxy_empty_sha256():
    return hashlib.sha256(b"").hexdigest()


# ------------------------------------------------------------------ configuration (no server)


@pytest.mark.parametrize(
    "value, url, host",
    [
        ("http://minio-service.kubeflow:9000", "http://minio-service.kubeflow:9000", "minio-service.kubeflow:9000"),
        ("http://minio:9000/", "http://minio:9000", "minio:9000"),
        ("HTTPS://S3.Example.COM:443", "https://s3.example.com", "s3.example.com"),
        ("http://minio:80", "http://minio", "minio"),
        ("https://minio:80", "https://minio:80", "minio:80"),
        ("  http://10.0.0.7:9000  ", "http://10.0.0.7:9000", "10.0.0.7:9000"),
        ("http://[::1]:9000", "http://[::1]:9000", "[::1]:9000"),
    ],
)
def test_the_endpoint_is_scheme_and_host_as_the_core_signs_it(value, url, host):
    endpoint = s3_endpoint({"KAPTAIN_S3_ENDPOINT": value})
    assert (endpoint.url, endpoint.host) == (url, host)
    assert endpoint.verify_ssl is True and endpoint.ca_file is None


def test_no_endpoint_is_none():
    assert s3_endpoint({}) is None
    assert s3_endpoint({"KAPTAIN_S3_ENDPOINT": "  "}) is None


@pytest.mark.parametrize(
    "value, says",
    [
        ("http://minio:9000/bucket", "has a path"),
        ("http://minio:9000/?x=1", "has a path"),
        ("minio:9000", "not an http(s) URL"),
        ("ftp://minio", "not an http(s) URL"),
        ("http://", "not an http(s) URL"),
        ("http://minio:notaport", "not a URL"),
        ("http://key:secret@minio:9000", "user name or password"),
        ("http://key:secret@minio:bad/path", "user name or password"),
    ],
)
def test_an_unusable_endpoint_is_refused_with_the_fix(value, says):
    with pytest.raises(S3ConfigError, match="KAPTAIN_S3_ENDPOINT") as refused:
        s3_endpoint({"KAPTAIN_S3_ENDPOINT": value})
    assert says in str(refused.value)
    assert "secret" not in str(refused.value)  # a password in the endpoint is not repeated


def test_tls_verification_is_on_unless_switched_off(tmp_path):
    base = {"KAPTAIN_S3_ENDPOINT": "https://s3.example.com"}
    for off in ("false", "No", "n", "0", " FALSE "):
        assert s3_endpoint({**base, "KAPTAIN_S3_VERIFY_SSL": off}).verify_ssl is False
    for on in ("true", "yes", "1", "", "anything"):
        assert s3_endpoint({**base, "KAPTAIN_S3_VERIFY_SSL": on}).verify_ssl is True
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert s3_endpoint({**base, "KAPTAIN_S3_CA_FILE": str(bundle)}).ca_file == str(bundle)
    with pytest.raises(S3ConfigError, match="KAPTAIN_S3_CA_FILE"):
        s3_endpoint({**base, "KAPTAIN_S3_CA_FILE": str(tmp_path / "absent.pem")})


def test_a_bad_endpoint_makes_the_route_answer_with_the_reason():
    _, _, settings = s3proxy.s3_handlers("/", None, {"KAPTAIN_S3_ENDPOINT": "http://minio:9000/b"})
    assert settings["endpoint"] is None
    assert "has a path" in settings["error"]
    route, _, settings = s3proxy.s3_handlers("/user/x/", None, {})
    assert route == "/user/x/kaptain/s3/(.*)"
    assert (settings["endpoint"], settings["error"], settings["prefix"]) == (None, None, "/user/x/kaptain/s3")


def test_upstream_headers_are_an_allow_list():
    from tornado.httputil import HTTPHeaders

    incoming = HTTPHeaders()
    for name, value in [
        ("Authorization", "token jupyter"),
        ("Cookie", "_xsrf=1; username=2"),
        ("X-XSRFToken", "1"),
        ("X-Kaptain-S3-Authorization", SIGV4),
        ("X-Kaptain-Other", "no"),
        ("X-Other", "no"),
        ("Origin", "http://jupyter"),
        ("Referer", "http://jupyter/lab"),
        ("Accept-Encoding", "gzip"),
        ("Content-Type", "application/gzip"),
        ("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
        ("Content-Length", "999"),
        ("X-Amz-Date", AMZ_DATE),
        ("x-amz-meta-a", "1"),
        ("x-amz-meta-a", "2"),
    ]:
        incoming.add(name, value)
    sent = upstream_headers(incoming, "minio:9000", b"abc")
    assert sorted((k.lower(), v) for k, v in sent.get_all()) == sorted(
        [
            ("host", "minio:9000"),
            ("authorization", SIGV4),
            ("content-type", "application/gzip"),
            ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
            ("content-length", "3"),  # the body's, not the claim
            ("x-amz-date", AMZ_DATE),
            ("x-amz-meta-a", "1"),
            ("x-amz-meta-a", "2"),
        ]
    )
    # No body (GET, HEAD): no Content-Length; no SigV4 value: no Authorization at all.
    bare = upstream_headers(HTTPHeaders({"Authorization": "token t"}), "minio", None)
    assert list(bare.get_all()) == [("Host", "minio")]


# ------------------------------------------------------------------ through a Jupyter server

# Added by tornado's HTTP client itself; never a header of the browser's.
TRANSPORT_HEADERS = {"connection", "user-agent"}


def test_only_the_signature_and_the_amz_headers_go_upstream(server, upstream):
    target = "/bucket/headers/key.tar.gz"
    status, _, _ = send(
        server, "GET", f"/kaptain/s3{target}",
        signed(**{
            "Cookie": "_xsrf=xsrf-cookie-value; username-127-0-0-1=login-cookie-value",
            "X-XSRFToken": "xsrf-cookie-value",
            "X-Other": "other-value",
            "X-Kaptain-Other": "kaptain-other-value",
            "x-amz-security-token": SESSION_TOKEN,
            "Accept": "*/*",
        }),
    )
    assert status == 200
    got = received(upstream, target)
    headers = {k.lower(): v for k, v in got["headers"]}
    assert headers["authorization"] == SIGV4  # from X-Kaptain-S3-Authorization
    assert headers["x-amz-date"] == AMZ_DATE
    assert headers["x-amz-content-sha256"] == s3proxy_empty_sha256()
    assert headers["x-amz-security-token"] == SESSION_TOKEN
    assert set(headers) - TRANSPORT_HEADERS == {
        "host", "authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"
    }
    everything = json.dumps(got["headers"])
    for value in (server["token"], "xsrf-cookie-value", "login-cookie-value", "other-value", "kaptain-other-value"):
        assert value not in everything


def test_host_is_the_endpoints_host_and_port(server, upstream):
    target = "/bucket/host/key"
    assert send(server, "HEAD", f"/kaptain/s3{target}", signed())[0] == 200
    headers = {k.lower(): v for k, v in received(upstream, target)["headers"]}
    assert headers["host"] == f"127.0.0.1:{upstream['port']}"


@pytest.mark.parametrize(
    "target",
    [
        "/bucket/a%20b/c%2Bd.tar.gz",
        "/bucket/a%20b/c%2Bd.tar.gz?x-id=PutObject&empty=&flag&q=%2F%20%3D",
        "/bucket/%C3%A9t%C3%A9/a%2Fb~c!d'e(f)*g.tar.gz?prefix=a%2Fb&list-type=2",
        "/bucket/double//slash/./dot/../key",
        "/bucket",
        "/",
    ],
)
def test_the_raw_path_and_query_reach_s3_byte_for_byte(server, upstream, target):
    status, _, _ = send(server, "GET", f"/kaptain/s3{target}", signed())
    assert status == 200
    got = received(upstream, target)
    assert got["method"] == "GET" and got["body"] == b""


def test_a_put_body_reaches_s3_byte_for_byte(server, upstream):
    body = os.urandom(1024 * 1024 + 7)
    target = "/bucket/contexts/sha256-abc.tar.gz"
    md5 = b64encode(hashlib.md5(body).digest()).decode()
    status, headers, data = send(
        server, "PUT", f"/kaptain/s3{target}",
        signed(**{
            "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
            "Content-Type": "application/gzip",
            "Content-MD5": md5,
        }),
        body=body,
    )
    assert status == 200, data
    got = received(upstream, target)
    assert got["method"] == "PUT"
    assert got["body"] == body
    sent = {k.lower(): v for k, v in got["headers"]}
    assert sent["content-length"] == str(len(body))
    assert sent["content-type"] == "application/gzip"
    assert sent["content-md5"] == md5
    assert sent["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    # S3's ETag comes back; the stand-in's private header does not.
    assert headers["etag"] == '"%s"' % hashlib.md5(body).hexdigest()
    assert headers["x-amz-request-id"] == "REQ123"
    assert "x-upstream-private" not in headers and "x-amz-id-2" not in headers
    assert "content-type" not in headers  # S3 sent none: not Jupyter's application/json either


def test_a_bucket_put_with_and_without_a_body(server, upstream):
    config = b"<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"
    assert send(server, "PUT", "/kaptain/s3/new-bucket", signed(), body=config)[0] == 200
    assert received(upstream, "/new-bucket")["body"] == config
    assert send(server, "PUT", "/kaptain/s3/empty-bucket", signed(), body=b"")[0] == 200
    got = received(upstream, "/empty-bucket")
    assert got["body"] == b""
    assert {k.lower(): v for k, v in got["headers"]}["content-length"] == "0"


def test_head_answers_with_s3s_headers_and_no_body(server, upstream):
    status, headers, data = send(server, "HEAD", "/kaptain/s3/bucket/exists.tar.gz", signed())
    assert status == 200 and data == b""
    assert headers["content-length"] == "1234"
    assert headers["content-type"] == "application/gzip"
    assert headers["etag"] == '"0123456789abcdef"'
    assert headers["last-modified"] == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert headers["x-amz-request-id"] == "REQ123"
    assert headers["x-amz-version-id"] == "v1"
    assert "x-upstream-private" not in headers
    assert received(upstream, "/bucket/exists.tar.gz")["method"] == "HEAD"


def test_get_answers_with_the_objects_bytes(server):
    status, headers, data = send(server, "GET", "/kaptain/s3/bucket/object", signed())
    assert (status, data) == (200, b"object bytes")
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-length"] == str(len(b"object bytes"))
    assert "etag" not in headers  # none from S3, and none of tornado's making


def test_s3s_errors_come_back_as_s3_sent_them(server):
    for method in ("GET", "PUT"):
        body = b"x" if method == "PUT" else None
        status, headers, data = send(server, method, "/kaptain/s3/bucket/denied/key", signed(), body=body)
        assert (status, data) == (403, DENIED_XML)
        assert headers["content-type"] == "application/xml"
        assert headers["x-amz-request-id"] == "REQ123"
    status, headers, data = send(server, "HEAD", "/kaptain/s3/bucket/denied/key", signed())
    assert (status, data) == (403, b"")


def test_other_methods_are_refused(server, upstream):
    before = len(upstream["records"])
    for method in ("POST", "DELETE", "PATCH", "OPTIONS"):
        status, _, _ = send(server, method, "/kaptain/s3/bucket/key", signed(), body=b"")
        assert status == 405, method
    assert len(upstream["records"]) == before


def test_unauthenticated_requests_are_refused(server, upstream):
    before = len(upstream["records"])
    for method, body in (("GET", None), ("HEAD", None), ("PUT", b"data")):
        status, _, _ = send(server, method, "/kaptain/s3/bucket/key", signed(), body=body, token=False)
        assert status in (401, 403), method
    status, _, _ = send(
        server, "GET", "/kaptain/s3/bucket/key", {"Authorization": "token wrong-token"}, token=False
    )
    assert status in (401, 403)
    assert len(upstream["records"]) == before


def test_a_put_authenticated_by_cookie_needs_the_xsrf_token(server, upstream):
    # The login cookie, as a browser gets it from a token-authenticated request.
    connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
    connection.request("GET", "/api/status", headers={"Authorization": f"token {server['token']}"})
    response = connection.getresponse()
    response.read()
    cookies = [c.split(";", 1)[0] for k, c in response.getheaders() if k.lower() == "set-cookie"]
    connection.close()
    login = [c for c in cookies if c.startswith("username-")]
    assert login, cookies
    cookie = f"{login[0]}; _xsrf=xsrf-value"
    before = len(upstream["records"])
    status, _, _ = send(server, "PUT", "/kaptain/s3/bucket/xsrf", signed(Cookie=cookie), body=b"x", token=False)
    assert status == 403
    assert len(upstream["records"]) == before
    status, _, _ = send(
        server, "PUT", "/kaptain/s3/bucket/xsrf",
        signed(Cookie=cookie, **{"X-XSRFToken": "xsrf-value"}), body=b"x", token=False,
    )
    assert status == 200
    sent = {k.lower() for k, _ in received(upstream, "/bucket/xsrf")["headers"]}
    assert "cookie" not in sent and "x-xsrftoken" not in sent


def test_config_tells_the_s3_endpoint(server):
    status, _, data = send(server, "GET", "/kaptain/config")
    assert status == 200
    config = json.loads(data)
    assert config["s3Endpoint"] == server["endpoint"]
    assert set(config) == {"env", "namespace", "namespaceFrom", "proxyPath", "notebookServer", "s3Endpoint"}


def test_an_unreachable_s3_is_a_502_that_names_the_endpoint(unreachable):
    status, headers, data = send(
        unreachable, "PUT", "/kaptain/s3/bucket/key",
        signed(**{"x-amz-security-token": SESSION_TOKEN}), body=b"data",
    )
    assert status == 502
    assert headers["content-type"].startswith("application/json")
    message = json.loads(data)["message"]
    assert unreachable["endpoint"] in message
    assert "Connection refused" in message or "Errno" in message, message
    for value in (SIGV4, SESSION_TOKEN, AMZ_DATE, unreachable["token"]):
        assert value not in message


def test_no_endpoint_is_a_503_that_says_what_to_set(unconfigured):
    for method, body in (("GET", None), ("HEAD", None), ("PUT", b"data")):
        status, headers, data = send(unconfigured, method, "/kaptain/s3/bucket/key", signed(), body=body)
        assert status == 503, method
        if method != "HEAD":
            assert headers["content-type"].startswith("application/json")
            assert json.loads(data) == {"message": NO_ENDPOINT}
    assert "KAPTAIN_S3_ENDPOINT (e.g. http://minio-service.kubeflow:9000)" in NO_ENDPOINT
    _, _, data = send(unconfigured, "GET", "/kaptain/config")
    assert json.loads(data)["s3Endpoint"] is None


def test_no_signature_or_session_token_reaches_the_logs(server, unreachable, unconfigured):
    # Runs last (the file's order): every request above has been logged by now, at DEBUG.
    for info in (server, unreachable, unconfigured):
        log = info["log"].read_text()
        assert "/kaptain/s3/" in log  # the requests were logged, without their headers
        for value in (SIGV4, "5ec05ec0", SESSION_TOKEN):
            assert value not in log, info["log"]
