"""openpush: a self-hosted, wire-compatible implementation of the Coveo Push API."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
