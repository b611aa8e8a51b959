"""`GET <base_url>/kaptain/config`: what the server's environment says to the frontend; and
the route of the S3 requests the browser signs, `<base_url>/kaptain/s3/` (s3proxy.py).

The frontend needs the KAPTAIN_SDK_* switches, the default namespace and the S3 endpoint,
which live in the server's environment (a Kubeflow notebook server sets them in its pod spec).
Only those are sent: the rest of the environment may hold credentials.
"""

import json
import os
from pathlib import Path

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .proxy import PROXY_NAME
from .s3proxy import LOG_SCRUB_PARAM_KEYS, S3ConfigError, s3_endpoint, s3_handlers

SWITCH_PREFIX = "KAPTAIN_SDK_"
NAMESPACE_VARIABLE = "KAPTAIN_NAMESPACE"
# In a pod, the namespace of its service account (the one `kubectl proxy` acts as).
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def server_config(environ=os.environ, service_account_namespace=SERVICE_ACCOUNT_NAMESPACE):
    """The switches and namespace the frontend starts from, before its own settings."""
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
        # What the browser signs for: `Host` is this without the scheme (KAPTAIN_S3_ENDPOINT,
        # normalized: lowercase, no default port); null when none (or an unusable one) is set.
        "s3Endpoint": endpoint.url if endpoint else None,
    }


class ConfigHandler(APIHandler):
    @tornado.web.authenticated
    def get(self):
        self.finish(json.dumps(server_config()))


def setup_handlers(web_app, log=None):
    base_url = web_app.settings["base_url"]
    route = url_path_join(base_url, "kaptain", "config")
    web_app.add_handlers(".*$", [(route, ConfigHandler), s3_handlers(base_url, log)])
    # Presigned S3 URLs carry their signature in the query: Jupyter's request log hides it.
    scrub = list(web_app.settings.get("extra_log_scrub_param_keys") or [])
    web_app.settings["extra_log_scrub_param_keys"] = scrub + [
        k for k in LOG_SCRUB_PARAM_KEYS if k not in scrub
    ]
