"""The in-process API fixtures of tests/api, for the regression tests of what fuzzing found."""

from __future__ import annotations

from tests.api.conftest import api, runtime, settings_overrides

__all__ = ["api", "runtime", "settings_overrides"]
