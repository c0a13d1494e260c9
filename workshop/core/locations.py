"""Where the workshop keeps things: content, workspaces, state, data and caches.

Every location can be moved with an environment variable, which is how the tests isolate themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "wasm-workshop"


def _dir(env: str, kind: str) -> Path:
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP))


def state_dir() -> Path:
    """Progress files and the record of what the runner started."""
    return _dir("WORKSHOP_STATE_DIR", "state")


def data_dir() -> Path:
    """What the labs keep between runs: the registry's images, the mesh's state."""
    return _dir("WORKSHOP_DATA_DIR", "data")


def tools_dir() -> Path:
    """What `workshop prepare` installs (bin/, func-e's Envoy versions): the data folder unless
    WORKSHOP_TOOLS_DIR moves it, so that many data folders (tests, grading jobs) share one set of tools."""
    if os.environ.get("WORKSHOP_TOOLS_DIR"):
        return Path(os.environ["WORKSHOP_TOOLS_DIR"]).expanduser()
    return data_dir()


def cache_dir() -> Path:
    return _dir("WORKSHOP_CACHE_DIR", "cache")


def tools_bin() -> Path:
    return tools_dir() / "bin"


def default_workspace() -> Path:
    """The learner's folder: one sub-folder per lab."""
    return Path(os.environ.get("WORKSHOP_WORKSPACE", "~/wasm-workshop")).expanduser()


def bundled_content() -> Path:
    """The content shipped with the package: the source tree's, or the wheel's copy."""
    pkg = Path(__file__).resolve().parent.parent
    in_tree = pkg.parent
    if (in_tree / "labs").is_dir() and (in_tree / "checks").is_dir():
        return in_tree
    return pkg / "_content"


def content_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    if os.environ.get("WORKSHOP_CONTENT"):
        return Path(os.environ["WORKSHOP_CONTENT"]).expanduser().resolve()
    return bundled_content()
