"""kaptain for JupyterLab: the prebuilt labextension, and the server side's routes (handlers.py):
the `kube` proxy, the config handler, the S3 route and the build-context route; and the
extension's static files compressed (assets.py)."""

try:
    from ._version import __version__
except ImportError:  # a source checkout that was never built
    __version__ = "dev"

from .assets import LABEXTENSION_NAME
from .handlers import setup_handlers


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": LABEXTENSION_NAME}]


def _jupyter_server_extension_points():
    return [{"module": "kaptain_jupyterlab"}]


def _load_jupyter_server_extension(server_app):
    setup_handlers(server_app.web_app, server_app.log)
    base = server_app.base_url.rstrip("/")
    server_app.log.info("kaptain: serving %s/kube/, %s/kaptain/config, /kaptain/s3/ and /kaptain/context", base, base)
