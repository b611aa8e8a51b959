"""The extension's static files go out gzip-compressed, and nothing else of the server changes
(kaptain_jupyterlab/assets.py). A tornado app with two static routes stands in for JupyterLab's:
the extension's files under a base URL, and a file of JupyterLab's own. tests/fresh-install
checks the same on a real JupyterLab of each supported release."""

import gzip
import os
import shutil
import tempfile

from tornado.testing import AsyncHTTPTestCase
from tornado.web import Application, StaticFileHandler

from kaptain_jupyterlab.assets import static_assets_transform

BASE_URL = "/user/alice/"
OURS = "/user/alice/lab/extensions/kaptain-jupyterlab/static/"
THEIRS = "/user/alice/static/lab/"
CHROMIUM = {"Accept-Encoding": "gzip, deflate, br, zstd"}


class ExtensionAssetsTest(AsyncHTTPTestCase):
    def get_app(self):
        self.wasm = os.urandom(512) * 400  # 200 KiB that compresses
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)
        for name in ("core.wasm", "main.js"):
            with open(os.path.join(self.folder, name), "wb") as f:
                f.write(self.wasm)
        app = Application([
            (OURS + "(.*)", StaticFileHandler, {"path": self.folder}),
            (THEIRS + "(.*)", StaticFileHandler, {"path": self.folder}),
        ])
        app.add_transform(static_assets_transform(BASE_URL))
        return app

    def test_the_extensions_wasm_goes_compressed_and_decompresses_to_the_file(self):
        response = self.fetch(OURS + "core.wasm", headers=CHROMIUM, decompress_response=False)
        assert response.code == 200
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.body) == self.wasm
        assert len(response.body) < len(self.wasm) / 100

    def test_a_client_that_does_not_accept_gzip_gets_the_file(self):
        response = self.fetch(OURS + "core.wasm", decompress_response=False)
        assert "Content-Encoding" not in response.headers
        assert response.body == self.wasm

    def test_a_range_is_answered_as_it_would_be_without_the_transform(self):
        headers = {**CHROMIUM, "Range": "bytes=0-99"}
        response = self.fetch(OURS + "core.wasm", headers=headers, decompress_response=False)
        assert response.code == 206
        assert "Content-Encoding" not in response.headers
        assert response.body == self.wasm[:100]

    def test_another_route_of_the_server_is_untouched(self):
        response = self.fetch(THEIRS + "main.js", headers=CHROMIUM, decompress_response=False)
        assert response.code == 200
        assert "Content-Encoding" not in response.headers
        assert "Vary" not in response.headers
        assert response.body == self.wasm
