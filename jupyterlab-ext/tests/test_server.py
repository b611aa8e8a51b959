"""The installed server side in a real Jupyter server: /kaptain/config and the /kube/ proxy.

The proxy runs a stand-in for kubectl (KAPTAIN_KUBECTL) that answers with the request it got,
so the test sees exactly what would reach `kubectl proxy`: the path, the headers, and whether
a response is streamed. The end-to-end tests (ui-tests) do the same against a real cluster.
"""

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from conftest import SOURCE

FAKE_KUBECTL = textwrap.dedent(
    """\
    #!{python}
    # Stand-in for `kubectl proxy`: records its arguments, echoes requests, streams /stream.
    import json, sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    args = sys.argv[1:]
    port = int([a for a in args if a.startswith("--port=")][0].split("=", 1)[1])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
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
            body = json.dumps({{"path": self.path, "args": args,
                               "headers": {{k: v for k, v in self.headers.items()}}}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
    """
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("server")
    kubectl = work / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(python=sys.executable))
    kubectl.chmod(0o755)
    for name in ("root", "config", "runtime", "data"):
        (work / name).mkdir()
    token = secrets.token_hex(16)
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "KAPTAIN_", "AWS_"))
    }
    env.update(
        JUPYTER_CONFIG_DIR=str(work / "config"),
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        KAPTAIN_KUBECTL=str(kubectl),
        KAPTAIN_NAMESPACE="team-a",
        KAPTAIN_SDK_FORCE_CLEANUP="yes",
        AWS_SECRET_ACCESS_KEY="must-not-leave-the-server",
        # The server side from this source tree (conftest.py), ahead of the installed wheel.
        PYTHONPATH=os.pathsep.join(p for p in (SOURCE, env.get("PYTHONPATH")) if p),
    )
    log = open(work / "server.log", "w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter_server",
            "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
            f"--port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work / 'root'}",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
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
    yield {"base": base, "token": token, "port": port, "log": work / "server.log"}
    # The server's own process group: the server and the proxy it started.
    os.killpg(process.pid, 15)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
    log.close()


def get(server, path, headers=None, token=True):
    request = urllib.request.Request(f"{server['base']}{path}", headers=dict(headers or {}))
    if token:
        request.add_header("Authorization", f"token {server['token']}")
    return urllib.request.urlopen(request, timeout=30)


def test_config_answers_with_the_switches_and_namespace_only(server):
    config = json.load(get(server, "/kaptain/config"))
    assert config == {
        "env": {"KAPTAIN_SDK_FORCE_CLEANUP": "yes"},
        "namespace": "team-a",
        "namespaceFrom": "KAPTAIN_NAMESPACE",
        "proxyPath": "kube",
        "s3Endpoint": None,
    }


def status_without_token(server, path):
    connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
    connection.request("GET", path)  # no redirect is followed
    status = connection.getresponse().status
    connection.close()
    return status


def test_config_wants_authentication(server):
    assert status_without_token(server, "/kaptain/config") == 403


def test_kube_runs_kubectl_proxy_on_loopback(server):
    echo = json.load(get(server, "/kube/api/v1/namespaces/team-a?limit=1"))
    assert echo["path"] == "/api/v1/namespaces/team-a?limit=1"
    assert echo["args"][0] == "proxy"
    assert "--address=127.0.0.1" in echo["args"]


def test_kube_does_not_pass_on_the_browsers_jupyter_credentials(server):
    echo = json.load(
        get(server, "/kube/api", {"Cookie": "_xsrf=abc; other=1", "X-XSRFToken": "abc"})
    )
    headers = {k.lower(): v for k, v in echo["headers"].items()}
    assert server["token"] not in json.dumps(echo)
    assert headers.get("authorization", "") == ""
    assert headers.get("cookie", "") == ""
    assert headers.get("x-xsrftoken", "") == ""
    assert headers["accept"] == "application/json"


def test_kube_wants_authentication(server):
    # A redirect to the login page, or refused: never the proxied answer.
    assert status_without_token(server, "/kube/api") in (302, 403)


def test_kube_streams_when_asked_for_an_event_stream(server):
    connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
    started = time.monotonic()
    connection.request(
        "GET", "/kube/stream?watch=true",
        headers={"Accept": "text/event-stream", "Authorization": f"token {server['token']}"},
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
