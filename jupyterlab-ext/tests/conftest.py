"""The tests import kaptain_jupyterlab from this source tree (ahead of the installed wheel, whose
metadata, entry points and config files test_proxy.py checks separately)."""

import os
import sys

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, SOURCE)
