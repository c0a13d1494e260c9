"""Serve the same app to a browser with textual-serve (for rooms where learners have only a browser)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from workshop.core.errors import UsageError

PAGE = Path(__file__).resolve().parent / "web"  # our own page: every asset from this server, none from a CDN


def serve(host: str = "127.0.0.1", port: int = 8000, content: str | None = None, workspace: str | None = None) -> None:
    """Serve `workshop` (with the same --content/--workspace) at http://host:port until interrupted."""
    try:
        from textual_serve.server import Server
    except ImportError:
        raise UsageError("serving to a browser needs textual-serve: pip install textual-serve") from None
    argv = [sys.executable, "-m", "workshop"]
    if content:
        argv += ["--content", content]
    if workspace:
        argv += ["--workspace", workspace]
    Server(shlex.join(argv), host=host, port=port, title="Wasm workshop", templates_path=PAGE).serve()
