"""`workshop mesh status`: what is in force in the mesh (being rewritten on the real Istio)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parsers(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """`mesh` and its actions, each naming its handler."""
