"""jupyter-server-proxy's entry for the Kubernetes API: `kubectl proxy` at <base_url>/kube/.

`kubectl proxy` authenticates with the server's kubeconfig or its pod's service account, so
the browser never holds a cluster credential. What the entry has to get right (DESIGN §4):

- Host check: jupyter-server-proxy connects to 127.0.0.1, which kubectl's default
  --accept-hosts allows; the list is spelled out so that nobody widens it by accident.
- Streaming: jupyter-server-proxy streams a response only when the request's Accept is
  `text/event-stream`, and the API server refuses that type (406). The browser asks for
  event-stream (watch mode "event-stream") and the upstream request is sent with
  `Accept: application/json`, which the API server streams as JSON lines.
- Credentials: jupyter-server-proxy forwards every request header, so the browser's Jupyter
  token (`Authorization: token ...`), its login cookie and its XSRF token would reach
  `kubectl proxy` and the API server. Worse, `kubectl proxy` adds its own bearer token (a
  pod's service account) only when the request has no Authorization header: with the Jupyter
  token passed on, every request would reach the API server unauthenticated. The upstream
  request has those headers emptied (an empty Authorization counts as none).
- Cache busting: the frontend calls fetch itself, not ServerConnection.makeRequest, so no
  `?<timestamp>` query reaches the API server (it would reject the unknown parameter on a
  watch).
"""

import os
import shutil

PROXY_NAME = "kube"
KUBECTL_VARIABLE = "KAPTAIN_KUBECTL"
ACCEPT_HOSTS = r"^localhost$,^127\.0\.0\.1$,^\[::1\]$"
# Set on every request to `kubectl proxy`: see the module's docstring.
UPSTREAM_HEADERS = {
    "Accept": "application/json",
    "Authorization": "",
    "Cookie": "",
    "X-XSRFToken": "",
}


def kubectl_path(environ=os.environ):
    """The kubectl to run: $KAPTAIN_KUBECTL, else the one on PATH."""
    configured = environ.get(KUBECTL_VARIABLE)
    if configured:
        return configured
    found = shutil.which("kubectl")
    if found is None:
        raise FileNotFoundError(
            "kubectl: not found on PATH; install kubectl or set "
            f"{KUBECTL_VARIABLE} to its path before starting JupyterLab"
        )
    return found


def kubectl_proxy_command(port, kubectl):
    return [
        kubectl,
        "proxy",
        "--address=127.0.0.1",
        f"--port={port}",
        f"--accept-hosts={ACCEPT_HOSTS}",
        # Watches may stay open for minutes; kubectl's default keeps them.
        "--keepalive=30s",
    ]


def setup_kubectl_proxy():
    return {
        "command": lambda port: kubectl_proxy_command(port, kubectl_path()),
        "absolute_url": False,
        "timeout": 30,
        "request_headers_override": UPSTREAM_HEADERS,
        "launcher_entry": {"enabled": False},
        "new_browser_tab": False,
    }
