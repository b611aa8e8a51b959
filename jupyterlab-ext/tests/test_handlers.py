"""handlers.server_config: what GET <base_url>/kaptain/config tells the frontend."""

import socket

from kaptain_jupyterlab.handlers import notebook_server, server_config
from kaptain_jupyterlab.proxy import PROXY_NAME


def test_only_the_switches_and_the_namespace_leave_the_server(tmp_path):
    environ = {
        "KAPTAIN_SDK_FORCE_CLEANUP": "yes",
        "KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED": "600",
        "KAPTAIN_NAMESPACE": "team-a",
        "KAPTAIN_KUBECTL": "/usr/local/bin/kubectl",
        "AWS_SECRET_ACCESS_KEY": "do-not-send",
        "JUPYTER_TOKEN": "do-not-send",
        "kaptain_sdk_force_cleanup": "lowercase is another variable",
    }
    config = server_config(environ, tmp_path / "absent")
    assert config == {
        "env": {"KAPTAIN_SDK_FORCE_CLEANUP": "yes", "KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED": "600"},
        "namespace": "team-a",
        "namespaceFrom": "KAPTAIN_NAMESPACE",
        "proxyPath": PROXY_NAME,
        "notebookServer": socket.gethostname(),
        "s3Endpoint": None,
    }
    assert "do-not-send" not in repr(config)


def test_the_namespace_comes_from_the_service_account_in_a_pod(tmp_path):
    namespace_file = tmp_path / "namespace"
    namespace_file.write_text("kubeflow-user\n")
    config = server_config({}, namespace_file)
    assert config["namespace"] == "kubeflow-user"
    assert config["namespaceFrom"] == str(namespace_file)


def test_the_variable_wins_over_the_service_account(tmp_path):
    namespace_file = tmp_path / "namespace"
    namespace_file.write_text("kubeflow-user")
    config = server_config({"KAPTAIN_NAMESPACE": "mine"}, namespace_file)
    assert (config["namespace"], config["namespaceFrom"]) == ("mine", "KAPTAIN_NAMESPACE")


def test_blank_values_count_as_unset(tmp_path):
    empty_file = tmp_path / "namespace"
    empty_file.write_text("  \n")
    config = server_config({"KAPTAIN_NAMESPACE": "  "}, empty_file)
    assert (config["namespace"], config["namespaceFrom"]) == (None, None)


def test_no_namespace_anywhere(tmp_path):
    config = server_config({}, tmp_path / "absent")
    assert config == {
        "env": {}, "namespace": None, "namespaceFrom": None, "proxyPath": "kube",
        "notebookServer": socket.gethostname(), "s3Endpoint": None,
    }


def test_an_unreadable_service_account_file_is_no_namespace(tmp_path):
    # A directory where the file should be: reading fails with an OSError, not a crash.
    config = server_config({}, tmp_path)
    assert config["namespace"] is None


def test_the_s3_endpoint_is_told_normalized_and_nothing_else_of_s3(tmp_path):
    environ = {
        "KAPTAIN_S3_ENDPOINT": "HTTP://MinIO-Service.Kubeflow:9000/",
        "KAPTAIN_S3_VERIFY_SSL": "no",
        "AWS_ACCESS_KEY_ID": "do-not-send",
    }
    config = server_config(environ, tmp_path / "absent")
    assert config["s3Endpoint"] == "http://minio-service.kubeflow:9000"
    assert "do-not-send" not in repr(config)
    assert set(config) == {"env", "namespace", "namespaceFrom", "proxyPath", "notebookServer", "s3Endpoint"}


def test_an_unusable_s3_endpoint_is_told_as_none(tmp_path):
    # user:password@ and a path are refused (the S3 route says why): never sent on.
    for endpoint in ("http://user:do-not-send@minio:9000", "http://minio:9000/bucket"):
        config = server_config({"KAPTAIN_S3_ENDPOINT": endpoint}, tmp_path / "absent")
        assert config["s3Endpoint"] is None
        assert "do-not-send" not in repr(config)


def test_a_server_is_named_by_its_base_url_behind_a_hub_or_in_a_profile():
    assert notebook_server("/user/alice/", {}) == "/user/alice/"
    assert notebook_server("/notebook/team-a/mnist/", {}) == "/notebook/team-a/mnist/"
    assert server_config({}, base_url="/user/bob/")["notebookServer"] == "/user/bob/"


def test_a_server_at_the_root_is_named_by_its_host_unless_told():
    assert notebook_server("/", {}, hostname="gpu-node-3") == "gpu-node-3"
    assert notebook_server("/", {"KAPTAIN_NOTEBOOK_SERVER": "alice-lab"}, hostname="gpu-node-3") == "alice-lab"
    assert notebook_server("/user/alice/", {"KAPTAIN_NOTEBOOK_SERVER": " "}) == "/user/alice/"
