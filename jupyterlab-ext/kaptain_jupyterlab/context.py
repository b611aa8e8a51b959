"""`POST <base_url>/kaptain/context`: the files of a build context, read for the page from the
server's disk, only from inside the server's root.

Through the Contents API a symlink in the notebook's directory (`data.csv ->
/var/run/secrets/kubernetes.io/serviceaccount/token`) is followed, and what it points at would
be packed, uploaded to S3 and baked into an image. Here every path is resolved to its real path
and refused when that leaves the root; only regular files are read; hidden files only where the
server's contents manager allows them; and the sizes are added up before a byte is read, so a
context over the limit the page passes (the core's) is refused without reading it.

Request: `{"dir": "<the notebook's directory, relative to the root>", "paths": [...],
"maxBytes": N}`. Answer (`application/vnd.kaptain.context-files`): a 4-byte big-endian length,
that many bytes of JSON `{"files": [{"path", "size"}], "missing": [...]}`, then the files'
bytes one after the other in that order. Refusals are JSON `{"message", "fix"}` with 400
(a path that leaves the root or is not a file), 403 (hidden) or 413 (too large).
"""

import json
import os
import stat
import struct

import tornado
from jupyter_core.paths import is_hidden
from jupyter_server.base.handlers import JupyterHandler

MEDIA_TYPE = "application/vnd.kaptain.context-files"


class ContextRefused(Exception):
    def __init__(self, status, message, fix):
        super().__init__(message)
        self.status, self.message, self.fix = status, message, fix


def resolve(root, directory, path, allow_hidden=False):
    """The real path of `path` (relative to `directory`, relative to `root`), or None when there
    is nothing there. Refuses what leaves the root, what is not a regular file, and hidden files
    unless `allow_hidden`."""
    real_root = os.path.realpath(root)
    if os.path.isabs(path) or os.path.isabs(directory):
        raise ContextRefused(400, f"{path}: an absolute path", "name the file relative to the notebook's directory")
    joined = os.path.join(real_root, directory, path)
    real = os.path.realpath(joined)
    if os.path.commonpath([real_root, real]) != real_root:
        raise ContextRefused(
            400,
            f"{path}: leads outside the Jupyter server's root (to {real})",
            "copy the file into the notebook's directory instead of linking to it",
        )
    if not os.path.lexists(joined):
        return None
    if not os.path.exists(real):
        return None  # a dangling link: nothing there
    if not allow_hidden and is_hidden(real, real_root):
        raise ContextRefused(
            403,
            f"{path}: is hidden, and the Jupyter server does not serve hidden files",
            "rename it, or ask the server's administrator for ContentsManager.allow_hidden",
        )
    if not stat.S_ISREG(os.stat(real).st_mode):
        raise ContextRefused(400, f"{path}: is not a regular file", "name a file, not a directory or a device")
    return real


def read_context(root, directory, paths, max_bytes, allow_hidden=False):
    """The answer's bytes (see the module's docstring)."""
    found, missing, total = [], [], 0
    for path in paths:
        real = resolve(root, directory, path, allow_hidden)
        if real is None:
            missing.append(path)
            continue
        size = os.stat(real).st_size
        total += size
        found.append((path, real, size))
    if total > max_bytes:
        raise ContextRefused(
            413,
            f"the model's files are {total} bytes, more than the {max_bytes} a build context may hold",
            "leave large data out of model.extra_files (read it from S3 in the training code)",
        )
    chunks = []
    for path, real, size in found:
        with open(real, "rb") as file:
            data = file.read(size + 1)
        if len(data) != size:
            raise ContextRefused(400, f"{path}: changed while it was read", "run the cell again")
        chunks.append(data)
    manifest = json.dumps(
        {"files": [{"path": path, "size": size} for path, _, size in found], "missing": missing}
    ).encode()
    return b"".join([struct.pack(">I", len(manifest)), manifest, *chunks])


class ContextHandler(JupyterHandler):
    # Not an APIHandler: that one answers everything as application/json.
    @tornado.web.authenticated
    def post(self):
        body = self.get_json_body() or {}
        directory, paths, max_bytes = body.get("dir", ""), body.get("paths"), body.get("maxBytes")
        if not isinstance(directory, str) or not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            return self.refuse(ContextRefused(400, "the request names no files", "send {dir, paths, maxBytes}"))
        if not isinstance(max_bytes, int) or max_bytes < 0:
            return self.refuse(ContextRefused(400, "maxBytes: missing", "send the largest build context the core accepts"))
        contents = self.contents_manager
        root = getattr(contents, "root_dir", None) or self.settings.get("server_root_dir")
        allow_hidden = bool(getattr(contents, "allow_hidden", False))
        try:
            answer = read_context(root, directory, paths, max_bytes, allow_hidden)
        except ContextRefused as refused:
            return self.refuse(refused)
        self.set_header("Content-Type", MEDIA_TYPE)
        self.finish(answer)

    def refuse(self, refused):
        self.set_status(refused.status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": refused.message, "fix": refused.fix}))
