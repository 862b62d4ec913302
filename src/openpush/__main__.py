from __future__ import annotations

from openpush.cli.main import main

main()
