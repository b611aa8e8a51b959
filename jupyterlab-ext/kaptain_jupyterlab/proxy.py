"""The Kubernetes API for the browser at <base_url>/kube/: jupyter-server-proxy supervising
`kubectl proxy` on a unix socket.

`kubectl proxy` authenticates with the server's kubeconfig or its pod's service account, so
the browser never holds a cluster credential. What the route has to get right (DESIGN §4):

- Who may use it: a loopback port is open to every account on the machine (on a shared node,
  TLJH or a login node, that is everyone), and whoever reaches it acts with the notebook's
  cluster identity. `kubectl proxy` listens on a unix socket in a directory of its own
  (mode 0700, the server's user), so only the server reaches it.
- Host check: `kubectl proxy` refuses (a plain-text 403 "Forbidden") every request whose Host
  header is not in --accept-hosts, and jupyter-server-proxy passes the browser's Host on (a
  hub's or an ingress' host name). The upstream request carries `Host: localhost`; the filter
  stays as it is.
- Streaming: jupyter-server-proxy streams a response only when the request's Accept is
  exactly `text/event-stream`, and the API server refuses that type (406). The browser asks
  for event-stream (watch mode "event-stream") and the upstream request is sent with
  `Accept: application/json`, which the API server streams as JSON lines. Any other Accept
  goes on as the browser sent it (metadata-only lists ask for PartialObjectMetadataList).
- Credentials: jupyter-server-proxy forwards every request header, so the browser's Jupyter
  token (`Authorization: token ...`), its login cookie and its XSRF token would reach
  `kubectl proxy` and the API server; and `kubectl proxy` adds its own bearer token only
  when the request has no Authorization header. Those headers are removed upstream.
- XSRF: jupyter-server-proxy leaves the XSRF check to the proxied application, which here is
  the cluster: the check is Jupyter's, as for its own API.
- Errors: what fails before the API server answers (no kubectl, no credentials, kubectl proxy
  not starting) is answered as JSON, `{"kind": "KubeProxyError", "reason", "message", "fix"}`,
  which the core tells apart from the API server's Status and from RBAC.
"""

import json
import os
import shutil

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from jupyter_server_proxy.config import make_handlers, make_server_process
from tornado import web

PROXY_NAME = "kube"
KUBECTL_VARIABLE = "KAPTAIN_KUBECTL"
ACCEPT_HOSTS = r"^localhost$,^127\.0\.0\.1$,^\[::1\]$"
# The Host of every upstream request: one --accept-hosts lets through.
UPSTREAM_HOST = "localhost"
# Removed from every upstream request: see the module's docstring.
CREDENTIAL_HEADERS = ("Authorization", "Cookie", "X-XSRFToken")
# How long kubectl proxy may take to answer on its socket after it was started.
START_TIMEOUT = 30
SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
ADMIN = "the Jupyter server's administrator"


class KubeProxyUnavailable(Exception):
    """The way to the cluster is missing on this server: says why and who fixes it how."""

    def __init__(self, reason, message, fix, status=502):
        super().__init__(message)
        self.reason, self.message, self.fix, self.status = reason, message, fix, status


def kubectl_path(environ=os.environ):
    """The kubectl to run: $KAPTAIN_KUBECTL, else the one on PATH."""
    fix = (
        f"{ADMIN}: install kubectl on the server's PATH or set {KUBECTL_VARIABLE} to its path, "
        "then restart the server"
    )
    configured = environ.get(KUBECTL_VARIABLE)
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise KubeProxyUnavailable(
                "KubectlNotFound", f"{KUBECTL_VARIABLE}={configured} is not an executable file", fix
            )
        return configured
    found = shutil.which("kubectl", path=environ.get("PATH"))
    if found is None:
        raise KubeProxyUnavailable(
            "KubectlNotFound",
            f"the Jupyter server has no kubectl: it is not on the server's PATH and {KUBECTL_VARIABLE} is not set",
            fix,
        )
    return found


def credentials_problem(environ=os.environ, home=os.path.expanduser("~")):
    """Why kubectl on this server would have no cluster credentials, or None."""
    if environ.get("KUBERNETES_SERVICE_HOST") and os.path.exists(SERVICE_ACCOUNT_TOKEN):
        return None  # in a pod: kubectl uses its service account
    configured = environ.get("KUBECONFIG")
    paths = [p for p in (configured or "").split(os.pathsep) if p] or [
        os.path.join(home, ".kube", "config")
    ]
    if any(os.path.isfile(p) for p in paths):
        return None
    where = f"KUBECONFIG={configured}" if configured else "~/.kube/config"
    return f"kubectl has no cluster credentials on the Jupyter server: no kubeconfig ({where}) and not in a pod with a service account"


def kubectl_proxy_command(unix_socket, kubectl):
    return [
        kubectl,
        "proxy",
        f"--unix-socket={unix_socket}",
        f"--accept-hosts={ACCEPT_HOSTS}",
        # Watches may stay open for minutes; kubectl's default keeps them.
        "--keepalive=30s",
    ]


def upstream_headers(headers):
    """What reaches `kubectl proxy` of the browser's request headers (a tornado HTTPHeaders)."""
    for name in CREDENTIAL_HEADERS:
        if name in headers:
            del headers[name]
    headers["Host"] = UPSTREAM_HOST
    if headers.get("Accept") == "text/event-stream":
        headers["Accept"] = "application/json"
    return headers


def error_body(status, error):
    """The JSON body of an error of the route itself (not of the API server)."""
    if isinstance(error, KubeProxyUnavailable):
        reason, message, fix = error.reason, error.message, error.fix
    elif status == 403:
        reason = "NotAuthenticated"
        detail = getattr(error, "log_message", None)
        message = "the Jupyter server did not accept the page's login" + (
            f" ({detail})" if detail else ""
        )
        fix = "reload the page (and log in again if asked)"
    else:
        reason = "KubeProxyFailed"
        detail = getattr(error, "log_message", None) or (str(error) if error else "")
        message = "the Jupyter server's kube proxy failed" + (f": {detail}" if detail else "")
        fix = f"{ADMIN}: the server's log says more (look for kubectl proxy)"
    return json.dumps(
        {"kind": "KubeProxyError", "code": status, "reason": reason, "message": message, "fix": fix}
    )


def kube_process():
    """jupyter-server-proxy's process: what its entry points used to return (the same call in
    every version from 4.4 on, where its config became a class)."""
    config = {
        "command": lambda unix_socket: kubectl_proxy_command(unix_socket, kubectl_path()),
        # A socket in a new private temporary directory (mkdtemp: 0700, the server's user).
        "unix_socket": True,
        "absolute_url": False,
        "timeout": START_TIMEOUT,
        "launcher_entry": {"enabled": False},
        "new_browser_tab": False,
    }
    return make_server_process(PROXY_NAME, config, None)


def kube_handlers(base_url, routes_on_the_socket=()):
    """The tornado handlers of <base_url>/kube/: jupyter-server-proxy's, with our headers,
    our XSRF check and our errors. `routes_on_the_socket`: (route, make_handler) pairs, each
    route under <base_url> (and the paths below it) served by make_handler(the kube route's
    handler class), sharing its `kubectl proxy` (secret_copy.py)."""
    handlers = make_handlers(base_url, [kube_process()])
    pattern = url_path_join(base_url, PROXY_NAME, r"(.*)")
    found = [i for i, h in enumerate(handlers) if h[0] == pattern]
    if len(found) != 1:
        raise RuntimeError(f"jupyter-server-proxy made no handler for {pattern}: {handlers}")
    index = found[0]
    _, supervised, kwargs = handlers[index]

    class KubeProxyHandler(supervised):
        def check_xsrf_cookie(self):
            # jupyter-server-proxy defers this to the proxied application; the cluster has none.
            return JupyterHandler.check_xsrf_cookie(self)

        def proxy_request_headers(self):
            return upstream_headers(super().proxy_request_headers())

        async def ensure_process(self):
            if "proc" not in self.state:
                kubectl_path()  # raises when there is none
                problem = credentials_problem()
                if problem:
                    raise KubeProxyUnavailable(
                        "NoClusterCredentials",
                        problem,
                        f"{ADMIN}: set KUBECONFIG in the server's environment to a kubeconfig for "
                        "the notebook's cluster identity, or run the server in a pod with a "
                        "service account (bound to the Role in kaptain's deploy/rbac.yaml)",
                    )
            try:
                return await super().ensure_process()
            except web.HTTPError as error:
                raise KubeProxyUnavailable(
                    "KubectlProxyNotStarting",
                    f"kubectl proxy did not answer on its socket within {START_TIMEOUT} s "
                    f"({error.log_message})",
                    f"{ADMIN}: the server's log has kubectl's error (run `kubectl get --raw /version` "
                    "as the server's user with its environment to see it)",
                ) from error

        def write_error(self, status_code, **kwargs):
            error = kwargs.get("exc_info", (None, None, None))[1]
            if isinstance(error, KubeProxyUnavailable):
                status_code = error.status
                self.set_status(status_code)
            self.set_header("Content-Type", "application/json")
            self.finish(error_body(status_code, error))

    handlers[index] = (pattern, KubeProxyHandler, kwargs)
    for route, make_handler in routes_on_the_socket:
        handlers.append((url_path_join(base_url, *route, r"(.*)"), make_handler(KubeProxyHandler), kwargs))
    return handlers
