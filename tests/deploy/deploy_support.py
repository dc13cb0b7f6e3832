"""Helpers of the deployment tests (importable as `deploy_support`: conftest puts this
folder on sys.path): the repository root, scripts/rehearse_swarm.py as a module, real tools."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_rehearse():
    if "rehearse_swarm" in sys.modules:
        return sys.modules["rehearse_swarm"]
    spec = importlib.util.spec_from_file_location("rehearse_swarm", REPO / "scripts" / "rehearse_swarm.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["rehearse_swarm"] = mod
    spec.loader.exec_module(mod)
    return mod


rehearse = _load_rehearse()


def tool(name: str) -> str:
    """A real tool's path: beside this interpreter (PyPI tools) or on PATH. In CI a missing
    tool fails the test (scripts/install.sh installs them); elsewhere it skips, naming it."""
    here = Path(sys.executable).with_name(name)
    found = str(here) if here.exists() else shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed (see docs/DEPLOYMENT.md, 'Checks')"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
