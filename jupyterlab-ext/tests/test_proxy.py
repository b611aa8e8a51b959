"""proxy.py: jupyter-server-proxy's entry that runs `kubectl proxy` under <base_url>/kube/."""

import os
import stat
from importlib.metadata import entry_points

import pytest

from kaptain_jupyterlab import proxy


def test_kubectl_comes_from_the_variable_first(tmp_path):
    assert proxy.kubectl_path({"KAPTAIN_KUBECTL": "/opt/k/kubectl", "PATH": ""}) == "/opt/k/kubectl"


def test_kubectl_from_path(tmp_path, monkeypatch):
    kubectl = tmp_path / "kubectl"
    kubectl.write_text("#!/bin/sh\n")
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert proxy.kubectl_path({}) == str(kubectl)


def test_no_kubectl_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="KAPTAIN_KUBECTL"):
        proxy.kubectl_path({})


def test_the_command_listens_on_loopback_and_accepts_loopback_hosts_only():
    command = proxy.kubectl_proxy_command(40123, "/bin/kubectl")
    assert command[:2] == ["/bin/kubectl", "proxy"]
    assert "--address=127.0.0.1" in command
    assert "--port=40123" in command
    accept = [a for a in command if a.startswith("--accept-hosts=")]
    assert accept == [r"--accept-hosts=^localhost$,^127\.0\.0\.1$,^\[::1\]$"]
    # Never an open proxy: no flag that widens who may connect.
    assert not any(a.startswith(("--disable-filter", "--accept-paths", "--reject-paths")) for a in command)


def test_the_entry(monkeypatch):
    monkeypatch.setenv("KAPTAIN_KUBECTL", "/some/kubectl")
    entry = proxy.setup_kubectl_proxy()
    assert entry["command"](41000) == proxy.kubectl_proxy_command(41000, "/some/kubectl")
    assert entry["absolute_url"] is False
    assert entry["launcher_entry"] == {"enabled": False}
    headers = entry["request_headers_override"]
    # A watch asked for as text/event-stream (so that the proxy streams it) reaches the API
    # server as JSON, the type it streams.
    assert headers["Accept"] == "application/json"
    # The browser's Jupyter credentials stop at the Jupyter server.
    for name in ("Authorization", "Cookie", "X-XSRFToken"):
        assert headers[name] == ""


def test_kubectl_is_looked_up_when_the_proxy_starts_not_when_the_entry_loads(monkeypatch, tmp_path):
    monkeypatch.delenv("KAPTAIN_KUBECTL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    entry = proxy.setup_kubectl_proxy()  # no kubectl anywhere: loading the entry still works
    monkeypatch.setenv("KAPTAIN_KUBECTL", "/late/kubectl")
    assert entry["command"](1)[0] == "/late/kubectl"


def test_the_installed_package_registers_the_entry():
    found = [e for e in entry_points(group="jupyter_serverproxy_servers") if e.name == proxy.PROXY_NAME]
    assert len(found) == 1, "is kaptain-jupyterlab installed (scripts/build-extension)?"
    assert found[0].load() is proxy.setup_kubectl_proxy


def test_the_installed_package_enables_the_server_extension():
    import sys

    config = os.path.join(sys.prefix, "etc", "jupyter", "jupyter_server_config.d", "kaptain_jupyterlab.json")
    assert os.path.exists(config), config
