"""`GET <base_url>/kaptain/config`: what the server's environment says to the frontend.

The frontend needs the KAPTAIN_SDK_* switches and the default namespace, which live in the
server's environment (a Kubeflow notebook server sets them in its pod spec). Only those
names are sent: the rest of the environment may hold credentials.
"""

import json
import os
from pathlib import Path

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .proxy import PROXY_NAME

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
    return {
        "env": switches,
        "namespace": namespace,
        "namespaceFrom": namespace_from,
        "proxyPath": PROXY_NAME,
    }


class ConfigHandler(APIHandler):
    @tornado.web.authenticated
    def get(self):
        self.finish(json.dumps(server_config()))


def setup_handlers(web_app):
    base_url = web_app.settings["base_url"]
    route = url_path_join(base_url, "kaptain", "config")
    web_app.add_handlers(".*$", [(route, ConfigHandler)])
