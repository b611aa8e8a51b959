"""JupyterLab's server for the end-to-end tests (scripts/test-extension starts it with this file).

galata's helper configuration (its in-page test helpers, the app exposed as window.jupyterapp,
a throw-away workspaces dir), then what the tests need on top of it. Unlike galata's default
the server keeps a token and the XSRF check, as a user's server does: the tests log in with the
token, and the extension must authenticate its own requests (to /kaptain/config and /kube/).
The command line (port, token, root dir) wins over this file.
"""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c is the config object Jupyter passes in)
# The token comes in the environment, not on a command line every account on the machine can
# read; galata's configuration empties it, so it is set again here.
if os.environ.get("JUPYTER_TOKEN"):
    c.IdentityProvider.token = os.environ["JUPYTER_TOKEN"]  # noqa: F821

# Only the prebuilt extensions scripts/test-extension links there (the one under test); galata's
# helper comes on its own path.
if os.environ.get("KAPTAIN_E2E_LABEXTENSIONS"):
    c.LabApp.labextensions_path = [os.environ["KAPTAIN_E2E_LABEXTENSIONS"]]  # noqa: F821

c.ServerApp.disable_check_xsrf = False  # noqa: F821
c.ServerApp.open_browser = False  # noqa: F821
c.ServerApp.ip = "127.0.0.1"  # noqa: F821
# No calls out of the machine while the tests run.
c.LabApp.news_url = None  # noqa: F821
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"  # noqa: F821
# No terminals needed (galata's config points them at bash).
c.ServerApp.terminals_enabled = False  # noqa: F821
