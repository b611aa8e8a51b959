"""The Jupyter servers of the deployed suite: JupyterHub's single-user servers and the
Kubeflow-style ones (scripts/test-hub starts them with this file).

The standalone suite's configuration (galata's in-page helpers, the XSRF check kept, no calls
out of the machine, no terminals), less what a deployment sets itself: where the server
listens and its root (the spawner's environment, or the command line), and how it
authenticates (the hub's OAuth, or, in Kubeflow, the ingress in front: the server has no token).
"""

from pathlib import Path

load_subconfig(str(Path(__file__).resolve().parent.parent / "jupyter_server_test_config.py"))  # noqa: F821

for key in ("ip", "port", "port_retries", "root_dir", "password"):
    c.ServerApp.pop(key, None)  # noqa: F821
c.IdentityProvider.pop("token", None)  # noqa: F821
