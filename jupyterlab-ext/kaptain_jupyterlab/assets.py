"""The extension's own static files (its wasm and scripts) go to the browser gzip-compressed.

JupyterLab serves a prebuilt extension's files uncompressed (the server has no
compress_response, and tornado's gzip would skip application/wasm anyway): the page's wasm is
about 580 KB that way and about 258 KB compressed. This output transform compresses only
responses under <base_url>.../extensions/kaptain-jupyterlab/static/, and only full 200 answers
to a request that accepts gzip; every other response of the server passes through untouched.
The files are content-hashed and JupyterLab marks them immutable, so a reload fetches none again.
"""

from tornado.web import GZipContentEncoding

# The directory JupyterLab installs the prebuilt extension under (its package.json name).
LABEXTENSION_NAME = "kaptain-jupyterlab"


def static_assets_transform(base_url):
    """An output transform class for the server's web app (web_app.add_transform)."""
    marker = f"/extensions/{LABEXTENSION_NAME}/static/"
    prefix = base_url.rstrip("/") + "/"

    class ExtensionAssetsGzip(GZipContentEncoding):
        CONTENT_TYPES = GZipContentEncoding.CONTENT_TYPES | {"application/wasm"}
        # As scripts/build-wasm measures the wasm budgets (gzip -9): about 80 ms for the page's
        # wasm, once per browser, the files being immutable.
        GZIP_LEVEL = 9

        def __init__(self, request):
            super().__init__(request)
            self._ours = request.path.startswith(prefix) and marker in request.path

        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            if not self._ours or status_code != 200:
                # Not ours (or a range, a 304): as if this transform were not there.
                self._gzipping = False
                return status_code, headers, chunk
            return super().transform_first_chunk(status_code, headers, chunk, finishing)

        def transform_chunk(self, chunk, finishing):
            return super().transform_chunk(chunk, finishing) if self._gzipping else chunk

    return ExtensionAssetsGzip
