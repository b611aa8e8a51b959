"""The server side's routes: `GET <base_url>/kaptain/config`, what the server's environment says
to the frontend; `<base_url>/kube/`, the Kubernetes API (proxy.py); `<base_url>/kaptain/s3/`, the
S3 requests the browser signs (s3proxy.py); `<base_url>/kaptain/context`, the files of a build
context (context.py); `<base_url>/kaptain/secret-copy`, a run's credential Secrets made without
their data passing through the page (secret_copy.py).

The frontend needs the KAPTAIN_SDK_* switches, the default namespace, the S3 endpoint and which
notebook server this is, which live in the server's environment and settings (a Kubeflow
notebook server sets them in its pod spec). Only those are sent: the rest of the environment
may hold credentials.
"""

import json
import os
import socket
from pathlib import Path

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from . import secret_copy
from .assets import static_assets_transform
from .context import ContextHandler
from .proxy import PROXY_NAME, kube_handlers
from .s3proxy import LOG_SCRUB_PARAM_KEYS, S3ConfigError, s3_endpoint, s3_handlers

SWITCH_PREFIX = "KAPTAIN_SDK_"
NAMESPACE_VARIABLE = "KAPTAIN_NAMESPACE"
# Names this server when its base URL does not (two servers at "/" sharing a namespace).
NOTEBOOK_SERVER_VARIABLE = "KAPTAIN_NOTEBOOK_SERVER"
# In a pod, the namespace of its service account (the one `kubectl proxy` acts as).
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def notebook_server(base_url, environ=os.environ, hostname=None):
    """Which notebook server this is, for the label every run it starts carries (the core makes
    the label value): KAPTAIN_NOTEBOOK_SERVER, else the base URL (`/user/alice/`,
    `/notebook/team-a/mnist/`: distinct for every server behind a hub or in a profile), else, for
    a server at `/`, the host's name."""
    explicit = environ.get(NOTEBOOK_SERVER_VARIABLE, "").strip()
    if explicit:
        return explicit
    if base_url.strip("/"):
        return base_url
    return hostname or socket.gethostname()


def server_config(environ=os.environ, service_account_namespace=SERVICE_ACCOUNT_NAMESPACE, base_url="/", hostname=None):
    """The switches, namespace and identity the frontend starts from, before its own settings."""
    switches = {k: v for k, v in sorted(environ.items()) if k.startswith(SWITCH_PREFIX)}
    namespace = environ.get(NAMESPACE_VARIABLE, "").strip() or None
    namespace_from = NAMESPACE_VARIABLE if namespace else None
    if namespace is None:
        try:
            namespace = service_account_namespace.read_text().strip() or None
            namespace_from = str(service_account_namespace) if namespace else None
        except OSError:
            pass
    try:
        endpoint = s3_endpoint(environ)
    except S3ConfigError:  # the S3 route answers 503 with the reason
        endpoint = None
    return {
        "env": switches,
        "namespace": namespace,
        "namespaceFrom": namespace_from,
        "proxyPath": PROXY_NAME,
        "notebookServer": notebook_server(base_url, environ, hostname),
        # What the browser signs for: `Host` is this without the scheme (KAPTAIN_S3_ENDPOINT,
        # normalized: lowercase, no default port); null when none (or an unusable one) is set.
        "s3Endpoint": endpoint.url if endpoint else None,
    }


class ConfigHandler(APIHandler):
    @tornado.web.authenticated
    def get(self):
        self.finish(json.dumps(server_config(base_url=self.base_url)))


def setup_handlers(web_app, log=None):
    base_url = web_app.settings["base_url"]
    routes = [
        (url_path_join(base_url, "kaptain", "config"), ConfigHandler),
        (url_path_join(base_url, "kaptain", "context"), ContextHandler),
        s3_handlers(base_url, log),
        *kube_handlers(base_url, [(secret_copy.ROUTE, secret_copy.secret_copy_handler)]),
    ]
    web_app.add_handlers(".*$", routes)
    web_app.add_transform(static_assets_transform(base_url))
    # Presigned S3 URLs carry their signature in the query: Jupyter's request log hides it.
    scrub = list(web_app.settings.get("extra_log_scrub_param_keys") or [])
    web_app.settings["extra_log_scrub_param_keys"] = scrub + [
        k for k in LOG_SCRUB_PARAM_KEYS if k not in scrub
    ]
