"""The installed server side in a real Jupyter server with a Kubeflow-style base URL: /kaptain/config,
the /kube/ route (jupyter-server-proxy, `kubectl proxy` on a unix socket) and /kaptain/context.

Most cases run a test double for kubectl (FAKE_KUBECTL, through KAPTAIN_KUBECTL) that listens on
the socket it is given and answers with the request it got, so the test sees exactly what would
reach `kubectl proxy`: the path, the headers, whether a response is streamed. With KUBECTL and
KUBECONFIG set (scripts/test-extension sets them to the local control plane), the real kubectl
proxy runs too, against the real API server.
"""

import http.client
import json
import os
import secrets
import shutil
import socket
import stat
import struct
import subprocess
import sys
import textwrap
import time
import urllib.request
from http.cookies import SimpleCookie

import pytest

from conftest import SOURCE

BASE_URL = "/notebook/team-a/mnist/"
# What a browser behind a Kubeflow ingress or a hub sends: not a loopback name.
PUBLIC_HOST = "kubeflow.example.org"

FAKE_KUBECTL = textwrap.dedent(
    """\
    #!{python}
    # Test double for `kubectl proxy`: listens on --unix-socket, records its arguments, echoes
    # requests, streams /stream.
    import json, os, socketserver, sys, time
    from http.server import BaseHTTPRequestHandler

    args = sys.argv[1:]
    path = [a for a in args if a.startswith("--unix-socket=")][0].split("=", 1)[1]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def address_string(self):
            return "unix"

        def answer(self):
            if self.path.startswith("/stream"):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(2):
                    line = json.dumps({{"type": "ADDED", "n": i, "at": time.time()}}).encode() + b"\\n"
                    self.wfile.write(b"%x\\r\\n%s\\r\\n" % (len(line), line))
                    self.wfile.flush()
                    time.sleep(3)
                self.wfile.write(b"0\\r\\n\\r\\n")
                return
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = json.dumps({{"method": self.command, "path": self.path, "args": args,
                               "headers": {{k: v for k, v in self.headers.items()}}}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = do_PATCH = answer

        def log_message(self, *a):
            pass

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    Server(path, Handler).serve_forever()
    """
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(work, env_overrides, base_url=BASE_URL):
    for name in ("root", "config", "runtime", "data"):
        (work / name).mkdir(exist_ok=True)
    # The server extension from this source tree, enabled whether or not the wheel is installed.
    (work / "config" / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"kaptain_jupyterlab": True}}})
    )
    token = secrets.token_hex(16)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "KAPTAIN_", "AWS_", "KUBECONFIG"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(work / "config"),
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        HOME=str(work),
        # The server side from this source tree (conftest.py), ahead of the installed wheel.
        PYTHONPATH=os.pathsep.join(p for p in (SOURCE, env.get("PYTHONPATH")) if p),
    )
    env.update(env_overrides)
    log = open(work / "server.log", "w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter_server",
            "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
            f"--port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.base_url={base_url}",
            # As behind a hub or an ingress: requests come with a host name that is not loopback.
            "--ServerApp.allow_remote_access=True",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work / 'root'}",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}{base_url.rstrip('/')}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError((work / "server.log").read_text())
            time.sleep(0.2)
    return {"base": base, "prefix": base_url.rstrip("/"), "token": token, "port": port, "log": work / "server.log",
            "root": work / "root", "process": process, "logfile": log}


def stop_server(server):
    # The server's own process group: the server and the proxy it started.
    os.killpg(server["process"].pid, 15)
    try:
        server["process"].wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(server["process"].pid, 9)
        server["process"].wait()
    server["logfile"].close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("server")
    kubectl = work / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(python=sys.executable))
    kubectl.chmod(0o755)
    kubeconfig = work / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    env = {
        "KAPTAIN_KUBECTL": str(kubectl),
        "KUBECONFIG": str(kubeconfig),
        "KAPTAIN_NAMESPACE": "team-a",
        "KAPTAIN_SDK_FORCE_CLEANUP": "yes",
        "AWS_SECRET_ACCESS_KEY": "must-not-leave-the-server",
    }
    server = start_server(work, env)
    yield server
    stop_server(server)


def request(server, method, path, headers=None, body=None, token=True, host=PUBLIC_HOST):
    """A request to the server as a browser at `host` would send it (no redirect is followed)."""
    connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=40)
    headers = {"Host": host, **(headers or {})}
    if token:
        headers["Authorization"] = f"token {server['token']}"
    connection.request(method, f"{server['prefix']}{path}", body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, response.getheader("Content-Type", ""), data


def get_json(server, path, headers=None):
    status, _, data = request(server, "GET", path, headers)
    assert status == 200, (status, data)
    return json.loads(data)


def test_config_answers_with_the_switches_namespace_and_which_server_this_is(server):
    config = get_json(server, "/kaptain/config")
    assert config == {
        "env": {"KAPTAIN_SDK_FORCE_CLEANUP": "yes"},
        "namespace": "team-a",
        "namespaceFrom": "KAPTAIN_NAMESPACE",
        "proxyPath": "kube",
        "notebookServer": BASE_URL,
        "s3Endpoint": None,
    }


def test_config_wants_authentication(server):
    assert request(server, "GET", "/kaptain/config", token=False)[0] == 403


def test_kube_runs_kubectl_proxy_on_a_private_unix_socket(server):
    echo = get_json(server, "/kube/api/v1/namespaces/team-a?limit=1")
    assert echo["path"] == "/api/v1/namespaces/team-a?limit=1"
    assert echo["args"][0] == "proxy"
    assert not any(a.startswith(("--port", "--address")) for a in echo["args"]), echo["args"]
    socket_path = [a for a in echo["args"] if a.startswith("--unix-socket=")][0].split("=", 1)[1]
    folder = os.stat(os.path.dirname(socket_path))
    assert stat.S_IMODE(folder.st_mode) == 0o700, oct(folder.st_mode)
    assert folder.st_uid == os.getuid()


def test_another_account_on_the_machine_cannot_reach_the_socket(server):
    echo = get_json(server, "/kube/api")
    socket_path = [a for a in echo["args"] if a.startswith("--unix-socket=")][0].split("=", 1)[1]
    setpriv = shutil.which("setpriv")
    if os.getuid() != 0 or not setpriv:
        pytest.skip("needs root and setpriv (util-linux) to act as another account")
    attempt = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    print('refused')\n"
        "else:\n    print('connected')\n"
    )
    out = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", attempt, socket_path],
        capture_output=True, text=True, timeout=30,
    )
    assert out.stdout.strip() == "refused", out
    # The same attempt as the server's own account does connect: the check is not vacuous.
    mine = subprocess.run([sys.executable, "-c", attempt, socket_path], capture_output=True, text=True, timeout=30)
    assert mine.stdout.strip() == "connected", mine


def test_a_request_with_a_public_host_reaches_kubectl_as_localhost(server):
    echo = get_json(server, "/kube/api/v1/namespaces/team-a/configmaps")
    headers = {k.lower(): v for k, v in echo["headers"].items()}
    assert headers["host"] == "localhost"


def test_kube_does_not_pass_on_the_browsers_jupyter_credentials(server):
    echo = get_json(server, "/kube/api", {"Cookie": "_xsrf=abc; other=1", "X-XSRFToken": "abc"})
    headers = {k.lower(): v for k, v in echo["headers"].items()}
    assert server["token"] not in json.dumps(echo)
    for name in ("authorization", "cookie", "x-xsrftoken"):
        assert name not in headers, headers


def test_metadata_only_lists_keep_their_accept(server):
    metadata = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    echo = get_json(server, "/kube/api/v1/namespaces/team-a/secrets", {"Accept": metadata})
    assert {k.lower(): v for k, v in echo["headers"].items()}["accept"] == metadata


def test_kube_wants_authentication(server):
    # A redirect to the login page, or refused: never the proxied answer.
    assert request(server, "GET", "/kube/api", token=False)[0] in (302, 403)


def login_cookies(server):
    """The cookies a browser has after logging in with the token: _xsrf (set by the login page)
    and the login cookie."""
    jar = SimpleCookie()
    for path in ("/login", f"/login?token={server['token']}"):
        connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
        cookie = "; ".join(f"{k}={m.value}" for k, m in jar.items())
        connection.request("GET", f"{server['prefix']}{path}", headers={"Host": PUBLIC_HOST, "Cookie": cookie})
        response = connection.getresponse()
        response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        connection.close()
    return {k: m.value for k, m in jar.items()}


def test_a_cookie_logged_in_write_needs_the_xsrf_token(server):
    cookies = login_cookies(server)
    assert "_xsrf" in cookies, cookies
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    path = "/kube/api/v1/namespaces/team-a/secrets"
    # A page of another site makes the browser send the cookie, but cannot read _xsrf.
    forged = request(server, "POST", path, {"Cookie": cookie, "Content-Type": "application/json"}, b"{}", token=False)
    assert forged[0] == 403, forged
    assert json.loads(forged[2])["kind"] == "KubeProxyError"
    status, _, data = request(
        server, "POST", path, {"Cookie": cookie, "X-XSRFToken": cookies["_xsrf"], "Content-Type": "application/json"}, b"{}", token=False
    )
    assert status == 200, data
    assert json.loads(data)["method"] == "POST"


COPY_PATH = "/kaptain/secret-copy/api/v1/namespaces/team-a/secrets"


def copy_request(server, path=COPY_PATH, source="kaptain-registry-credentials", keys=".dockerconfigjson", body=None, **kwargs):
    """A Secret's create as the core sends it to the secret-copy route."""
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "m-r1-registry"}, "type": "kubernetes.io/dockerconfigjson"}
    headers = {"Content-Type": "application/json", "X-Kaptain-Copy-From": source, "X-Kaptain-Copy-Keys": keys}
    return request(server, "POST", path, headers, json.dumps(secret if body is None else body).encode(), **kwargs)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"path": "/kaptain/secret-copy/api/v1/namespaces/team-a/configmaps"}, "path: "),
        ({"path": "/kaptain/secret-copy/api/v1/namespaces/team-a/secrets?watch=true"}, "query: watch"),
        ({"source": "../kaptain"}, "X-Kaptain-Copy-From: "),
        ({"keys": "a,b/c"}, "X-Kaptain-Copy-Keys: "),
        ({"body": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}, "body: is not a Secret"),
        ({"body": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "team-b"}}}, "body.metadata.namespace: "),
        ({"body": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {"a": "eA=="}}}, "body.data: must be absent"),
    ],
)
def test_the_secret_copy_route_refuses_what_is_not_a_secrets_create_naming_the_field(server, change, field):
    status, content_type, data = copy_request(server, **change)
    assert status == 400, (status, data)
    refused = json.loads(data)
    assert refused["reason"] == "BadSecretCopy", refused
    assert f"the secret-copy route refused the request: {field}" in refused["message"], refused


def test_the_secret_copy_route_wants_authentication_and_answers_only_post(server):
    assert copy_request(server, token=False)[0] in (302, 403)
    assert request(server, "GET", COPY_PATH)[0] == 405


def test_kube_streams_when_asked_for_an_event_stream(server):
    connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
    started = time.monotonic()
    connection.request(
        "GET", f"{server['prefix']}/kube/stream?watch=true",
        headers={"Accept": "text/event-stream", "Authorization": f"token {server['token']}", "Host": PUBLIC_HOST},
    )
    response = connection.getresponse()
    assert response.status == 200
    first = json.loads(response.readline())
    first_after = time.monotonic() - started
    assert first["n"] == 0
    # The stand-in sends its second line 3 s after the first: a buffering proxy would hold
    # the first one until the end.
    assert first_after < 2.5, f"the first event came after {first_after:.1f} s: buffered"
    assert json.loads(response.readline())["n"] == 1
    connection.close()


def context_answer(data):
    (length,) = struct.unpack(">I", data[:4])
    manifest = json.loads(data[4 : 4 + length])
    files, offset = {}, 4 + length
    for entry in manifest["files"]:
        files[entry["path"]] = data[offset : offset + entry["size"]]
        offset += entry["size"]
    assert offset == len(data)
    return files, manifest["missing"]


def post_context(server, body):
    return request(server, "POST", "/kaptain/context", {"Content-Type": "application/json"}, json.dumps(body).encode())


def test_context_files_come_from_the_notebooks_directory(server):
    folder = server["root"] / "demo"
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "trainer.py").write_bytes(b"print('train')\n")
    (folder / "src" / "model.py").write_bytes(b"\x00\x01binary")
    status, content_type, data = post_context(server, {"dir": "demo", "paths": ["trainer.py", "src/model.py", "absent.txt"], "maxBytes": 1 << 20})
    assert (status, content_type) == (200, "application/vnd.kaptain.context-files"), data
    files, missing = context_answer(data)
    assert files == {"trainer.py": b"print('train')\n", "src/model.py": b"\x00\x01binary"}
    assert missing == ["absent.txt"]


def test_a_link_out_of_the_servers_root_is_refused(server, tmp_path):
    outside = tmp_path / "token"
    outside.write_text("a service account token")
    folder = server["root"] / "linked"
    folder.mkdir(exist_ok=True)
    (folder / "data.csv").symlink_to(outside)
    status, _, data = post_context(server, {"dir": "linked", "paths": ["data.csv"], "maxBytes": 1 << 20})
    assert status == 400, data
    refused = json.loads(data)
    assert refused["message"].startswith("data.csv: leads outside the Jupyter server's root")
    assert "a service account token" not in data.decode()
    for escape in ("../../etc/passwd", "/etc/passwd"):
        assert post_context(server, {"dir": "linked", "paths": [escape], "maxBytes": 1 << 20})[0] == 400


def test_sizes_are_checked_before_a_byte_is_read(server):
    folder = server["root"] / "large"
    folder.mkdir(exist_ok=True)
    # 8 GiB that take no disk: reading them would take long, adding their size does not.
    with open(folder / "weights.bin", "wb") as sparse:
        sparse.truncate(8 << 30)
    started = time.monotonic()
    status, _, data = post_context(server, {"dir": "large", "paths": ["weights.bin"], "maxBytes": 100 << 20})
    assert status == 413, data
    assert "more than the 104857600 a build context may hold" in json.loads(data)["message"]
    assert time.monotonic() - started < 5


def test_hidden_files_are_not_served_unless_the_server_allows_them(server):
    folder = server["root"] / "hidden"
    folder.mkdir(exist_ok=True)
    (folder / ".env").write_text("AWS_SECRET_ACCESS_KEY=x")
    status, _, data = post_context(server, {"dir": "hidden", "paths": [".env"], "maxBytes": 1 << 20})
    assert status == 403, data
    assert "AWS_SECRET" not in data.decode()


def test_context_wants_authentication(server):
    assert request(server, "POST", "/kaptain/context", {"Content-Type": "application/json"}, b"{}", token=False)[0] == 403


@pytest.mark.parametrize(
    "env, reason",
    [
        ({"KAPTAIN_KUBECTL": "/nonexistent/kubectl"}, "KubectlNotFound"),
        # kubectl, but nothing to authenticate with: no kubeconfig, not in a pod.
        ({"KAPTAIN_KUBECTL": sys.executable}, "NoClusterCredentials"),
    ],
)
def test_a_server_without_a_way_to_the_cluster_says_why_at_once(tmp_path, env, reason):
    server = start_server(tmp_path, env)
    try:
        started = time.monotonic()
        status, content_type, data = request(server, "GET", "/kube/api/v1/namespaces/team-a/configmaps")
        assert time.monotonic() - started < 10
        assert (status, content_type) == (502, "application/json"), data
        error = json.loads(data)
        assert (error["kind"], error["reason"]) == ("KubeProxyError", reason)
        assert error["fix"].startswith("the Jupyter server's administrator:"), error
    finally:
        stop_server(server)


REAL = os.environ.get("KUBECTL") and os.environ.get("KUBECONFIG")


@pytest.mark.skipif(not REAL, reason="set KUBECTL and KUBECONFIG to a cluster (scripts/test-extension does)")
def test_the_real_kubectl_proxy_answers_a_request_with_a_public_host(tmp_path):
    """What failed behind every hub and ingress: kubectl proxy refused the browser's Host."""
    server = start_server(tmp_path, {"KAPTAIN_KUBECTL": os.environ["KUBECTL"], "KUBECONFIG": os.environ["KUBECONFIG"]})
    try:
        status, content_type, data = request(server, "GET", "/kube/api/v1/namespaces/default/configmaps?limit=1")
        assert status == 200, (status, data)
        assert json.loads(data)["kind"] == "ConfigMapList"
    finally:
        stop_server(server)


REPO = os.path.dirname(SOURCE)


@pytest.mark.skipif(not REAL, reason="set KUBECTL and KUBECONFIG to a cluster (scripts/test-extension does)")
def test_the_secret_copy_route_copies_a_source_secret_as_the_service_account_and_answers_without_its_data(tmp_path):
    """A run's credential Secrets are made by the server: the page gets the API's answer, never
    the source's data. As the namespace's ServiceAccount bound to deploy/rbac.yaml."""
    namespace = f"copy-{secrets.token_hex(3)}"
    password = secrets.token_hex(12)
    user_kubeconfig = tmp_path / "user.kubeconfig"
    subprocess.run(
        [os.path.join(REPO, "tests", "cluster", "user-namespace"), namespace, str(user_kubeconfig)],
        check=True, env={**os.environ, "KAPTAIN_REGISTRY_PASSWORD": password},
    )
    kubectl = [os.environ["KUBECTL"], "-n", namespace]
    server = start_server(tmp_path, {"KAPTAIN_KUBECTL": os.environ["KUBECTL"], "KUBECONFIG": str(user_kubeconfig)})
    path = f"/kaptain/secret-copy/api/v1/namespaces/{namespace}/secrets"
    metadata = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
    try:
        source = json.loads(subprocess.check_output([*kubectl, "get", "secret", "kaptain-registry-credentials", "-o", "json"]))
        value = source["data"][".dockerconfigjson"]

        # A dry run creates nothing; then the copy, as the core asks for it (metadata only).
        for query in ("?dryRun=All&fieldManager=kaptain", "?fieldManager=kaptain"):
            status, _, data = request(
                server, "POST", path + query,
                {"Content-Type": "application/json", "Accept": metadata,
                 "X-Kaptain-Copy-From": "kaptain-registry-credentials", "X-Kaptain-Copy-Keys": ".dockerconfigjson"},
                json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "m-r1-registry", "labels": {"kaptain.io/run-id": "r1"}},
                            "type": "kubernetes.io/dockerconfigjson"}).encode(),
            )
            assert status == 201, (status, data)
            answer = json.loads(data)
            assert answer["kind"] == "PartialObjectMetadata" and answer["metadata"]["name"] == "m-r1-registry", answer
            assert value not in data.decode() and password not in data.decode()
            if "dryRun" in query:
                found = subprocess.run([*kubectl, "get", "secret", "m-r1-registry"], capture_output=True, text=True)
                assert found.returncode != 0 and "NotFound" in found.stderr, found
        copied = json.loads(subprocess.check_output([*kubectl, "get", "secret", "m-r1-registry", "-o", "json"]))
        assert copied["data"] == {".dockerconfigjson": value}
        assert copied["type"] == "kubernetes.io/dockerconfigjson"
        assert copied["metadata"]["labels"] == {"kaptain.io/run-id": "r1"}
        # Read (and made) as the notebook's identity, the ServiceAccount, not as an admin: in a
        # namespace its Role does not reach, the source cannot even be read.
        status, _, data = copy_request(server, "/kaptain/secret-copy/api/v1/namespaces/default/secrets")
        assert status == 403, (status, data)
        refused = json.loads(data)
        assert refused["details"]["name"] == "kaptain-registry-credentials", refused
        assert f"system:serviceaccount:{namespace}:" in refused["message"], refused

        # What the core turns into "does not exist; create it with ..." and "has no key ...".
        status, _, data = copy_request(server, path, source="nothing-here")
        assert status == 404, (status, data)
        assert json.loads(data)["details"] == {"name": "nothing-here", "kind": "secrets"}
        status, _, data = copy_request(server, path, source="kaptain-s3-credentials", keys="AWS_ACCESS_KEY_ID,ca.crt")
        assert status == 422, (status, data)
        refused = json.loads(data)
        assert refused["details"]["name"] == "kaptain-s3-credentials"
        assert [c["field"] for c in refused["details"]["causes"]] == ["data[ca.crt]"]
        assert "AWS_ACCESS_KEY_ID" not in json.dumps(refused["details"]["causes"])
    finally:
        stop_server(server)
        subprocess.run([os.environ["KUBECTL"], "delete", "namespace", namespace, "--wait=false"], capture_output=True)
