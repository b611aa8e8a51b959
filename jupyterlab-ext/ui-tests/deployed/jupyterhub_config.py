"""JupyterHub of the deployed end-to-end suite (scripts/test-hub starts it with this file).

Two users, alice and bob, each with a single-user JupyterLab from the Jupyter environment that
carries the project's wheel, behind configurable-http-proxy (started by the script, as a
deployment runs it beside the hub) and reached by a host name, not localhost. Each user's
server talks to the cluster as a ServiceAccount of its own, bound to the Role the project
ships (deploy/rbac.yaml), never as the admin: its KUBECONFIG is the one
tests/cluster/service-account wrote for it.

The local spawner runs every server as the hub's own OS user (a test setup, no isolation
between users); the password is shared (SharedPasswordAuthenticator), random per run.

What the script passes in the environment:
  KAPTAIN_HUB_STATE         a folder of the run's own: the hub's database and cookie secret, the
                            users' homes (each user's server root)
  KAPTAIN_HUB_PORT          where the proxy listens (the public URL's port)
  KAPTAIN_HUB_API_PORT      the hub's own port, behind the proxy
  KAPTAIN_HUB_PROXY_API_URL the proxy's REST API (its token: CONFIGPROXY_AUTH_TOKEN)
  KAPTAIN_HUB_PASSWORD      the users' password
  KAPTAIN_HUB_SERVICE_TOKEN the test process's API token (start servers, reach them)
  KAPTAIN_HUB_SINGLEUSER    jupyterhub-singleuser of the Jupyter environment
  KAPTAIN_HUB_KUBECONFIGS   a folder with <user>.kubeconfig for each user
  KAPTAIN_KUBECTL, KAPTAIN_NAMESPACE, KAPTAIN_S3_ENDPOINT   passed on to every server
"""

import os
from pathlib import Path

here = Path(__file__).resolve().parent
state = Path(os.environ["KAPTAIN_HUB_STATE"])
USERS = ["alice", "bob"]

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)

# The proxy is the script's: the hub only talks to its API.
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = os.environ["KAPTAIN_HUB_PROXY_API_URL"]
c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ['KAPTAIN_HUB_PORT']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ['KAPTAIN_HUB_API_PORT']}"
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True

c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ["KAPTAIN_HUB_PASSWORD"]
c.Authenticator.allowed_users = set(USERS)

# The test process starts the users' servers and reaches them with this token.
c.JupyterHub.services = [{"name": "kaptain-e2e", "api_token": os.environ["KAPTAIN_HUB_SERVICE_TOKEN"]}]
c.JupyterHub.load_roles = [
    {
        "name": "kaptain-e2e",
        "scopes": ["read:users", "servers", "access:servers"],
        "services": ["kaptain-e2e"],
    }
]

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "home" / "{username}")
# The servers stay in the hub's process group, which the script stops as a whole.
c.LocalProcessSpawner.popen_kwargs = {"start_new_session": False}
c.Spawner.cmd = [os.environ["KAPTAIN_HUB_SINGLEUSER"]]
# --allow-root: the tests run as root (CI does), and the local spawner runs every user as the
# hub's own OS user.
c.Spawner.args = [f"--config={here / 'jupyter_server_config.py'}", "--allow-root"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
# What a hub's spawner sets for kaptain in a user's server: the user's own cluster identity, the
# kubectl the `kube` proxy runs, the namespace, the S3 endpoint. The admin's KUBECONFIG is not
# among the variables a spawner keeps (Spawner.env_keep), so only this one reaches the server.
c.Spawner.environment = {
    "KUBECONFIG": lambda spawner: str(Path(os.environ["KAPTAIN_HUB_KUBECONFIGS"]) / f"{spawner.user.name}.kubeconfig"),
    "KAPTAIN_KUBECTL": os.environ["KAPTAIN_KUBECTL"],
    "KAPTAIN_NAMESPACE": os.environ["KAPTAIN_NAMESPACE"],
    "KAPTAIN_S3_ENDPOINT": os.environ["KAPTAIN_S3_ENDPOINT"],
}
