"""A data directory records the permission encoding of its index; another one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from openpush.errors import StorageError
from openpush.runtime import Runtime
from openpush.security.acl import ACL_ENCODING
from openpush.storage.registry import open_state_store
from tests.api.conftest import make_settings


def test_a_new_data_directory_records_the_encoding(tmp_path: Path) -> None:
    Runtime.open(make_settings(tmp_path)).close()
    store = open_state_store("", make_settings(tmp_path))
    try:
        assert store.catalog.get_meta("acl_encoding") == ACL_ENCODING
    finally:
        store.close()
    Runtime.open(make_settings(tmp_path)).close()  # reopening is fine


def test_an_index_of_another_encoding_is_refused(tmp_path: Path) -> None:
    store = open_state_store("", make_settings(tmp_path))
    store.catalog.set_meta_default("acl_encoding", "1")
    store.close()
    with pytest.raises(StorageError, match="encoding 1"):
        Runtime.open(make_settings(tmp_path))
