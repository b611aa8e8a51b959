"""kaptain for JupyterLab: the prebuilt labextension, the `kube` proxy, the config handler and
the S3 route."""

try:
    from ._version import __version__
except ImportError:  # a source checkout that was never built
    __version__ = "dev"

from .handlers import setup_handlers


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "kaptain-jupyterlab"}]


def _jupyter_server_extension_points():
    return [{"module": "kaptain_jupyterlab"}]


def _load_jupyter_server_extension(server_app):
    setup_handlers(server_app.web_app, server_app.log)
    base = server_app.base_url.rstrip("/")
    server_app.log.info("kaptain: serving %s/kaptain/config and %s/kaptain/s3/", base, base)
