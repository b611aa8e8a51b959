"""proxy.py: the <base_url>/kube/ route, jupyter-server-proxy running `kubectl proxy` on a unix
socket. What reaches kubectl proxy, and the errors the route answers with itself."""

import json
import os
import stat
import sys
from importlib.metadata import entry_points

import pytest
from tornado.httputil import HTTPHeaders

from kaptain_jupyterlab import proxy


def executable(path):
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_kubectl_comes_from_the_variable_first(tmp_path):
    kubectl = executable(tmp_path / "kubectl")
    assert proxy.kubectl_path({"KAPTAIN_KUBECTL": kubectl, "PATH": ""}) == kubectl


def test_a_variable_that_names_no_kubectl_says_so(tmp_path):
    with pytest.raises(proxy.KubeProxyUnavailable) as refused:
        proxy.kubectl_path({"KAPTAIN_KUBECTL": str(tmp_path / "nothing")})
    assert refused.value.reason == "KubectlNotFound"
    assert "is not an executable file" in refused.value.message
    assert refused.value.fix.startswith("the Jupyter server's administrator:")


def test_kubectl_from_path(tmp_path, monkeypatch):
    kubectl = executable(tmp_path / "kubectl")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert proxy.kubectl_path({}) == kubectl


def test_no_kubectl_says_what_to_do_and_for_whom(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(proxy.KubeProxyUnavailable) as refused:
        proxy.kubectl_path({})
    assert "KAPTAIN_KUBECTL" in refused.value.fix
    assert "administrator" in refused.value.fix


def test_the_command_listens_on_a_unix_socket_and_keeps_its_host_filter():
    command = proxy.kubectl_proxy_command("/tmp/jsp-x/socket", "/bin/kubectl")
    assert command[:2] == ["/bin/kubectl", "proxy"]
    assert "--unix-socket=/tmp/jsp-x/socket" in command
    assert not any(a.startswith(("--port", "--address")) for a in command), command
    accept = [a for a in command if a.startswith("--accept-hosts=")]
    assert accept == [r"--accept-hosts=^localhost$,^127\.0\.0\.1$,^\[::1\]$"]
    # Never an open proxy: no flag that widens what it accepts.
    assert not any(a.startswith(("--disable-filter", "--accept-paths", "--reject-paths")) for a in command)


def test_upstream_requests_carry_host_localhost_and_no_jupyter_credentials():
    browser = HTTPHeaders(
        {
            "Host": "hub.example.org",
            "Authorization": "token abc",
            "Cookie": "_xsrf=abc; jupyterhub-user-alice=secret",
            "X-XSRFToken": "abc",
            "Accept": "text/event-stream",
            "Content-Type": "application/json",
        }
    )
    upstream = proxy.upstream_headers(browser)
    assert upstream["Host"] == "localhost"
    for name in ("Authorization", "Cookie", "X-XSRFToken"):
        assert name not in upstream
    # A watch asked for as text/event-stream (so that the proxy streams it) reaches the API
    # server as JSON, the type it streams.
    assert upstream["Accept"] == "application/json"
    assert upstream["Content-Type"] == "application/json"


def test_any_other_accept_goes_on_as_the_browser_sent_it():
    metadata = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    assert proxy.upstream_headers(HTTPHeaders({"Accept": metadata}))["Accept"] == metadata


def test_credentials_are_found_in_a_kubeconfig_or_a_pod(tmp_path):
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    assert "no kubeconfig (~/.kube/config)" in proxy.credentials_problem({}, str(home))
    (home / ".kube" / "config").write_text("apiVersion: v1\n")
    assert proxy.credentials_problem({}, str(home)) is None
    config = tmp_path / "alice.kubeconfig"
    assert "KUBECONFIG=" in proxy.credentials_problem({"KUBECONFIG": str(config)}, str(tmp_path))
    config.write_text("apiVersion: v1\n")
    both = os.pathsep.join([str(tmp_path / "absent"), str(config)])
    assert proxy.credentials_problem({"KUBECONFIG": both}, str(tmp_path)) is None


def test_the_routes_own_errors_say_what_refused_and_the_fix():
    missing = json.loads(proxy.error_body(502, proxy.KubeProxyUnavailable("KubectlNotFound", "no kubectl", "install it")))
    assert missing == {"kind": "KubeProxyError", "code": 502, "reason": "KubectlNotFound", "message": "no kubectl", "fix": "install it"}
    login = json.loads(proxy.error_body(403, None))
    assert (login["reason"], login["fix"]) == ("NotAuthenticated", "reload the page (and log in again if asked)")


def test_the_installed_package_serves_kube_itself_not_through_an_entry_point():
    # The route is the server extension's (a handler subclass with its own headers, XSRF check
    # and errors): a jupyter-server-proxy entry of the same name would shadow or double it.
    found = [e for e in entry_points(group="jupyter_serverproxy_servers") if e.name == proxy.PROXY_NAME]
    assert found == []


def test_the_installed_package_enables_the_server_extension():
    config = os.path.join(sys.prefix, "etc", "jupyter", "jupyter_server_config.d", "kaptain_jupyterlab.json")
    assert os.path.exists(config), f"{config}: is kaptain-jupyterlab installed (scripts/build-extension)?"
