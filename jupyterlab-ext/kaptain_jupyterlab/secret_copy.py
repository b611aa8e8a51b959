"""`<base_url>/kaptain/secret-copy/`: a Secret created with data the server copies from another.

A run's credential Secrets (the registry's, its CA's, the S3 keys of a build or a deployment)
are copies of source Secrets in the user's namespace, made as the run creates them. Made in the
page, the sources' data would pass through the browser, where every extension, a devtools HAR or
a crash report can see it. Here the page sends the create it would send to the API (through
`<base_url>/kube/`) to this route instead, the Secret without data, with two headers:
`X-Kaptain-Copy-From` (the source Secret, same namespace) and `X-Kaptain-Copy-Keys` (the keys to
copy, comma-separated). The route reads the source through the kube route's own `kubectl proxy`
(the same cluster identity as every request of the page), puts those keys into the Secret and
creates it. The page gets the API server's answer to the create (metadata only, as it asks), or
the API server's answer to reading the source (a Status whose `details.name` is the source),
or a 422 Status naming `data[<key>]` when the source lacks a key. Never the data.

Only a create of a Secret goes this way: `POST .../api/v1/namespaces/<ns>/secrets` with a body
of kind Secret in that namespace and no `data` or `stringData`, and no query but the create's own
(dryRun, fieldManager, fieldValidation). Anything else is refused (400, naming the field), in the
kube route's error form, `{"kind": "KubeProxyError", "reason", "message", "fix"}`.
"""

import json
import re
from urllib.parse import parse_qsl, urlencode

import aiohttp
from tornado import web

from .proxy import UPSTREAM_HOST, KubeProxyUnavailable

ROUTE = ("kaptain", "secret-copy")
COPY_FROM_HEADER = "X-Kaptain-Copy-From"
COPY_KEYS_HEADER = "X-Kaptain-Copy-Keys"
SECRETS_PATH = re.compile(r"^/api/v1/namespaces/([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)/secrets$")
CREATE_QUERY = frozenset({"dryRun", "fieldManager", "fieldValidation"})
SECRET_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
# What goes upstream of the page's request headers: the answer's form, nothing of the login.
PASSED_HEADERS = ("Accept", "Content-Type")
UPSTREAM_TIMEOUT = 60


class BadCopyRequest(ValueError):
    """The request is not a create of a Secret copy; the message names the field."""


def parse_request(path, query, headers, body):
    """The checked request: (namespace, source, keys, secret, query)."""
    match = SECRETS_PATH.match(path)
    if not match:
        raise BadCopyRequest(f"path: {path!r} is not a create of Secrets, /api/v1/namespaces/<namespace>/secrets")
    namespace = match.group(1)
    params = parse_qsl(query, keep_blank_values=True)
    unknown = sorted({k for k, _ in params} - CREATE_QUERY)
    if unknown:
        raise BadCopyRequest(f"query: {', '.join(unknown)} is not a create's parameter")
    source = headers.get(COPY_FROM_HEADER, "")
    if not SECRET_NAME.match(source):
        raise BadCopyRequest(f"{COPY_FROM_HEADER}: {source!r} is not a Secret's name")
    keys = headers.get(COPY_KEYS_HEADER, "").split(",")
    if not all(SECRET_KEY.match(k) for k in keys):
        raise BadCopyRequest(f"{COPY_KEYS_HEADER}: is not a comma-separated list of Secret keys")
    try:
        secret = json.loads(body or b"")
    except ValueError:
        raise BadCopyRequest("body: is not JSON; send the Secret to create") from None
    if not isinstance(secret, dict) or secret.get("apiVersion") != "v1" or secret.get("kind") != "Secret":
        raise BadCopyRequest("body: is not a Secret (apiVersion v1, kind Secret)")
    metadata = secret.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("namespace", namespace) != namespace:
        raise BadCopyRequest(f"body.metadata.namespace: is not {namespace!r}, the path's; a copy stays beside its source")
    for field in ("data", "stringData"):
        if field in secret:
            raise BadCopyRequest(f"body.{field}: must be absent; the copy's data comes from the source only")
    return namespace, source, keys, secret, params


def missing_keys_status(namespace, source, missing):
    """The API server's form for what it would say of an invalid object: a 422 Status."""
    message = f"Secret {source!r} in namespace {namespace!r} has no key " + ", ".join(repr(k) for k in missing)
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": "Invalid",
        "code": 422,
        "details": {
            "name": source,
            "kind": "secrets",
            "causes": [{"reason": "FieldValueRequired", "field": f"data[{k}]", "message": "Required value"} for k in missing],
        },
    }


def without_data(body):
    """The create's answer, with nothing of a Secret's data even if the API server sent it whole."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body
    if isinstance(answer, dict) and ("data" in answer or "stringData" in answer):
        answer = {k: v for k, v in answer.items() if k not in ("data", "stringData")}
        return json.dumps(answer).encode()
    return body


async def copy_secret(session, namespace, source, keys, secret, params, headers):
    """Reads `source`, creates `secret` with its `keys`: (status, content type, body) to answer."""
    secrets = f"http://{UPSTREAM_HOST}/api/v1/namespaces/{namespace}/secrets"
    upstream = {"Host": UPSTREAM_HOST, "Accept": "application/json"}
    async with session.get(f"{secrets}/{source}", headers=upstream) as read:
        data = await read.read()
        if read.status != 200:
            return read.status, read.headers.get("Content-Type", "text/plain"), data
    found = json.loads(data).get("data") or {}
    missing = [k for k in keys if k not in found]
    if missing:
        return 422, "application/json", json.dumps(missing_keys_status(namespace, source, missing)).encode()
    copy = {**secret, "data": {k: found[k] for k in keys}}
    upstream.update({k: headers[k] for k in PASSED_HEADERS if k in headers})
    upstream["Content-Type"] = "application/json"
    query = f"?{urlencode(params)}" if params else ""
    async with session.post(f"{secrets}{query}", data=json.dumps(copy), headers=upstream) as created:
        return created.status, created.headers.get("Content-Type", "application/json"), without_data(await created.read())


def secret_copy_handler(kube_handler):
    """The route's handler: the kube route's handler (its login and XSRF checks, its
    `kubectl proxy` on a private socket, its errors) answering a POST with a copy."""

    class SecretCopyHandler(kube_handler):
        async def http_get(self, *args):
            raise web.HTTPError(405)

        async def open(self, *args):
            raise web.HTTPError(405)

        async def post(self, path):
            try:
                request = parse_request("/" + path.lstrip("/"), self.request.query, self.request.headers, self.request.body)
            except BadCopyRequest as error:
                raise KubeProxyUnavailable(
                    "BadSecretCopy",
                    f"the secret-copy route refused the request: {error}",
                    "send a Secret's create as kaptain's core does",
                    status=400,
                ) from None
            await self.ensure_process()
            connector = aiohttp.UnixConnector(path=self.unix_socket)
            timeout = aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                status, content_type, body = await copy_secret(session, *request, self.request.headers)
            self.set_status(status)
            self.set_header("Content-Type", content_type)
            self.set_header("Cache-Control", "no-store")
            self.finish(body)

        put = delete = head = patch = options = http_get

    return SecretCopyHandler
