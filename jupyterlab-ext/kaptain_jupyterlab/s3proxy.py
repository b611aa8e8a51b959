"""`<base_url>/kaptain/s3/<bucket>/<key>`: S3 requests the browser signed, sent on to S3.

The wasm core signs S3 requests (SigV4, path-style) in the browser; the browser cannot reach
the S3 server (MinIO in the cluster) itself, the Jupyter server can. What this route has to get
right:

- The upstream is the server's, never the request's: $KAPTAIN_S3_ENDPOINT (`http://host:port`
  or `https://host`, no path), read once when the extension loads. No open proxy.
- The signature covers the method, the path, the query, `Host` and the x-amz-* headers. The
  path after `/kaptain/s3` and the query are sent exactly as they arrived (the raw request
  target: percent-encoding untouched), and `Host` is the endpoint's host[:port] (the default
  port left out, lowercased: what the core signs; `/kaptain/config` tells it as `s3Endpoint`).
- Jupyter's own auth uses `Authorization` (`token ...`), so the browser sends the SigV4 value
  in `X-Kaptain-S3-Authorization` and it goes upstream as `Authorization`.
- Only an allow-list of headers goes upstream (UPSTREAM_HEADERS, x-amz-*, Content-Length for
  a PUT): never the browser's cookies, its Jupyter token, its XSRF token or any X-Kaptain-*.
  The tornado client adds the transport's own `Connection: close` and `User-Agent`.
- Only an allow-list of headers comes back (RETURNED_HEADERS); status and body as S3 sent them,
  S3's XML errors (SignatureDoesNotMatch, ...) included.
- No header value is logged or put in an error message.

Bodies are buffered: tornado reads the whole request body before the handler runs, up to the
server's ServerApp.max_body_size (512 MiB by default; a build context is at most 100 MiB).
"""

import json
import os
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

import tornado
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado.httpclient import HTTPRequest
from tornado.httputil import HTTPHeaders
from tornado.simple_httpclient import SimpleAsyncHTTPClient

ENDPOINT_VARIABLE = "KAPTAIN_S3_ENDPOINT"
VERIFY_SSL_VARIABLE = "KAPTAIN_S3_VERIFY_SSL"
CA_FILE_VARIABLE = "KAPTAIN_S3_CA_FILE"
FALSE_VALUES = frozenset({"false", "no", "n", "0"})

ROUTE = ("kaptain", "s3")
# The SigV4 Authorization value, under a name of its own: Jupyter's auth owns Authorization.
AUTHORIZATION_HEADER = "X-Kaptain-S3-Authorization"
# Sent upstream as they came, besides every x-amz-* header.
UPSTREAM_HEADERS = ("Content-Type", "Content-MD5")
# Sent back to the browser as S3 sent them (Content-Length only for a HEAD: otherwise it is
# the body's own).
RETURNED_HEADERS = ("Content-Type", "ETag", "Last-Modified", "x-amz-request-id", "x-amz-version-id")

CONNECT_TIMEOUT = 30.0
REQUEST_TIMEOUT = 300.0
# The most a response body (a GET) may hold: the server's default max_body_size.
MAX_RESPONSE_BODY = 512 * 1024 * 1024

NO_ENDPOINT = (
    "no S3 endpoint is configured for the Jupyter server: set KAPTAIN_S3_ENDPOINT "
    "(e.g. http://minio-service.kubeflow:9000) in the server's environment"
)
# Query parameters of presigned URLs that Jupyter's request log must not show (names that
# *contain* one of these; Jupyter already hides token, key, auth, ...).
LOG_SCRUB_PARAM_KEYS = (
    "Signature", "signature", "Credential", "credential",
    "Security-Token", "security-token", "AWSAccessKeyId",
)


class S3ConfigError(ValueError):
    """The server's S3 settings are unusable; the message says which and how to fix it."""


@dataclass(frozen=True)
class S3Endpoint:
    url: str  # scheme://host[:port], what `/kaptain/config` tells the browser
    host: str  # the Host header: host[:port], lowercase, without the scheme's default port
    verify_ssl: bool = True
    ca_file: Optional[str] = None


def s3_endpoint(environ=os.environ) -> Optional[S3Endpoint]:
    """The S3 endpoint of the server's environment; None when unset; S3ConfigError when unusable."""
    value = environ.get(ENDPOINT_VARIABLE, "").strip()
    if not value:
        return None
    example = "write it like http://minio-service.kubeflow:9000 or https://s3.example.com"
    try:
        parts = urlsplit(value)
    except ValueError as e:
        raise S3ConfigError(f"{ENDPOINT_VARIABLE}={value!r} is not a URL ({e}); {example}") from None
    if "@" in parts.netloc:  # told without the value: it may hold a password
        raise S3ConfigError(
            f"{ENDPOINT_VARIABLE} holds a user name or password: S3 credentials never go in the "
            f"endpoint (the browser signs with them); {example}"
        )
    try:
        port = parts.port
    except ValueError as e:
        raise S3ConfigError(f"{ENDPOINT_VARIABLE}={value!r} is not a URL ({e}); {example}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise S3ConfigError(f"{ENDPOINT_VARIABLE}={value!r} is not an http(s) URL with a host; {example}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or value.endswith(("?", "#")):
        raise S3ConfigError(
            f"{ENDPOINT_VARIABLE}={value!r} has a path, query or fragment: the endpoint is "
            f"scheme://host[:port] only (buckets are addressed path-style after it); {example}"
        )
    hostname = parts.hostname  # lowercased by urlsplit; IPv6 without its brackets
    if any(c.isspace() or c in "/\\" for c in hostname):
        raise S3ConfigError(f"{ENDPOINT_VARIABLE}={value!r} has no valid host; {example}")
    host = f"[{hostname}]" if ":" in hostname else hostname
    default_port = 80 if scheme == "http" else 443
    if port is not None and port != default_port:
        host = f"{host}:{port}"

    verify = environ.get(VERIFY_SSL_VARIABLE, "").strip().lower() not in FALSE_VALUES
    ca_file = environ.get(CA_FILE_VARIABLE, "").strip() or None
    if ca_file is not None and not os.path.isfile(ca_file):
        raise S3ConfigError(f"{CA_FILE_VARIABLE}={ca_file!r} is not a file (a PEM CA bundle)")
    return S3Endpoint(url=f"{scheme}://{host}", host=host, verify_ssl=verify, ca_file=ca_file)


def upstream_headers(request_headers: HTTPHeaders, host: str, body: Optional[bytes]) -> HTTPHeaders:
    """The headers S3 gets: Host, the SigV4 Authorization, x-amz-*, the body's; nothing else."""
    headers = HTTPHeaders()
    headers["Host"] = host
    authorization = request_headers.get(AUTHORIZATION_HEADER)
    if authorization is not None:
        headers["Authorization"] = authorization
    wanted = {name.lower() for name in UPSTREAM_HEADERS}
    for name, value in request_headers.get_all():
        lower = name.lower()
        if lower.startswith("x-amz-") or lower in wanted:
            headers.add(name, value)
    if body is not None:
        headers["Content-Length"] = str(len(body))
    return headers


def _hide(text: str, secrets) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[hidden]")
    return text


class S3ProxyHandler(APIHandler):
    """Forwards HEAD, GET and PUT to the configured S3 endpoint; any other method is a 405."""

    SUPPORTED_METHODS = ("GET", "HEAD", "PUT")  # type: ignore[assignment]

    def initialize(self, endpoint: Optional[S3Endpoint], error: Optional[str], prefix: str):
        self.endpoint = endpoint
        self.config_error = error
        self.prefix = prefix  # <base_url>kaptain/s3, as the raw request path starts
        self._passthrough = False

    def compute_etag(self):
        # No ETag of tornado's making (nor a 304 from it): the ETag is S3's, or none.
        return None

    def finish(self, *args, **kwargs):
        if self._passthrough:
            # S3's Content-Type, or none: not APIHandler's application/json.
            self.update_api_activity()
            return JupyterHandler.finish(self, *args, **kwargs)
        return super().finish(*args, **kwargs)

    @tornado.web.authenticated
    async def head(self, _path):
        await self._forward()

    @tornado.web.authenticated
    async def get(self, _path):
        await self._forward()

    @tornado.web.authenticated
    async def put(self, _path):
        await self._forward()

    def _json_error(self, status: int, message: str):
        self.set_status(status)
        self.finish(json.dumps({"message": message}))

    async def _forward(self):
        endpoint = self.endpoint
        if endpoint is None:
            self.log.warning("kaptain: /kaptain/s3: %s", self.config_error or NO_ENDPOINT)
            return self._json_error(503, self.config_error or NO_ENDPOINT)
        # The raw path (tornado does not decode request.path), not the decoded argument.
        raw_path = self.request.path
        if not raw_path.startswith(self.prefix + "/"):
            return self._json_error(404, "not an S3 path: <base_url>kaptain/s3/<bucket>/<key>")
        path = raw_path[len(self.prefix):]
        query = self.request.query
        url = endpoint.url + path + (f"?{query}" if query else "")
        if urlsplit(url).netloc.lower() != endpoint.host:  # cannot happen: path starts with "/"
            return self._json_error(400, "the S3 path would leave the configured endpoint")

        method = self.request.method
        body = (self.request.body or b"") if method == "PUT" else None  # as received, buffered
        headers = upstream_headers(self.request.headers, endpoint.host, body)
        upstream = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=body,
            follow_redirects=False,
            decompress_response=False,
            connect_timeout=CONNECT_TIMEOUT,
            request_timeout=REQUEST_TIMEOUT,
            validate_cert=endpoint.verify_ssl,
            ca_certs=endpoint.ca_file,
        )
        # tornado's own client whatever AsyncHTTPClient is configured as (as jupyter-server-proxy
        # does), an instance of its own: the response size limit is this route's.
        client = SimpleAsyncHTTPClient(
            force_instance=True, max_buffer_size=MAX_RESPONSE_BODY, max_body_size=MAX_RESPONSE_BODY
        )
        try:
            response = await client.fetch(upstream, raise_error=False)
        except Exception as e:  # refused, DNS, TLS, timeout, ...
            # The error's own words, with any header value blanked out all the same.
            error = _hide(f"{type(e).__name__}: {e}", [v for _, v in headers.get_all()])
            message = f"cannot reach the S3 endpoint {endpoint.url} ({ENDPOINT_VARIABLE}): {error}"
            self.log.warning("kaptain: %s %s: %s", method, self.prefix + path, message)
            return self._json_error(502, message)
        finally:
            client.close()

        self._passthrough = True
        self.set_status(response.code)
        self.clear_header("Content-Type")
        for name in RETURNED_HEADERS:
            value = response.headers.get(name)
            if value is not None:
                self.set_header(name, value)
        if method == "HEAD":
            length = response.headers.get("Content-Length")
            if length is not None:
                self.set_header("Content-Length", length)
        elif response.code not in (204, 304) and response.body:
            self.write(response.body)
        self.finish()


def s3_handlers(base_url: str, log=None, environ=os.environ):
    """The route, with the endpoint read now (a bad setting is logged, and told to each request)."""
    prefix = url_path_join(base_url, *ROUTE)
    error = None
    try:
        endpoint = s3_endpoint(environ)
    except S3ConfigError as e:
        endpoint, error = None, str(e)
        if log is not None:
            log.error("kaptain: %s", error)
    if endpoint is None and error is None and log is not None:
        log.info("kaptain: %s/(.*) answers 503: %s", prefix, NO_ENDPOINT)
    elif endpoint is not None and log is not None:
        log.info("kaptain: %s/ forwards to %s", prefix, endpoint.url)
    route = (prefix + "/(.*)", S3ProxyHandler, {"endpoint": endpoint, "error": error, "prefix": prefix})
    return route
