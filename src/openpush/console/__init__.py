"""The web console's assets: a static page and vanilla JavaScript modules, no build step.

:mod:`openpush.api.routes.console` serves them at ``/console``; the page then calls only the
public APIs, with the API key entered at login.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
