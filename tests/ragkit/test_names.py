"""Names are checked whole: a trailing newline (which `$` lets through) is refused everywhere a name becomes a folder or key."""

from __future__ import annotations

import pytest

from ragkit.errors import NotFound, UsageError
from ragkit.finetune.adapters import AdapterStore
from ragkit.storage.filters import parse_where
from ragkit.storage.home import HomeLayout, check_collection_name
from ragkit.storage.manifest import Manifest


@pytest.mark.parametrize("name", ["abc\n", "ab", "-abc", "abc-", "ABC", "a" * 64, "ab c", ""])
def test_bad_collection_names_are_refused(name):
    with pytest.raises(UsageError, match="invalid collection name"):
        check_collection_name(name)


@pytest.mark.parametrize("name", ["abc", "a1-b_2", "a" * 63])
def test_good_collection_names_pass(name):
    assert check_collection_name(name) == name


def test_adapter_names_are_checked_whole(tmp_path):
    store = AdapterStore(HomeLayout(tmp_path), Manifest(tmp_path / "m.sqlite3"))
    assert store.folder("abc", "lora-1.2").name == "lora-1.2"
    for bad in ("lora\n", ".hidden", "a/b", ""):
        with pytest.raises(NotFound):
            store.folder("abc", bad)


def test_filter_keys_are_checked_whole():
    with pytest.raises(UsageError):
        parse_where('{"source\\n": "x"}')
