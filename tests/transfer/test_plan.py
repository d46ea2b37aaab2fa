"""The pure planning of ``sync`` (and ``cp``'s destination rules): walks in, a plan out."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.transfer.lanes import TransferError
from bridge.transfer.plan import excluded, plan_sync

S = 1_000_000_000  # ns per second


def f(rel: str, size: int = 10, mtime: int = 5 * S) -> dict[str, Any]:
    return {"rel": rel, "type": "file", "size": size, "mode": 0o644, "mtime": mtime}


def d(rel: str) -> dict[str, Any]:
    return {"rel": rel, "type": "dir", "mode": 0o755}


def link(rel: str, target: str) -> dict[str, Any]:
    return {"rel": rel, "type": "link", "target": target}


SRC = [d(""), f("same"), f("newer", mtime=9 * S), f("bigger", 20), d("sub"), f("sub/new")]
SRC += [link("ln", "same"), f("cache/x.pyc"), f("keep.log")]
DEST = [d(""), f("same", mtime=5 * S + 123), f("newer"), f("bigger"), f("extra"), d("old")]
DEST += [f("old/gone"), link("ln", "other"), f("skip.log")]


def test_only_what_differs_is_copied_and_extras_deleted_deepest_first() -> None:
    plan = plan_sync("/s", SRC, "/d", DEST, delete=True, exclude=["cache", "skip.*"])
    assert [j.dst for j in plan.copy.files] == [
        "/d/newer",
        "/d/bigger",
        "/d/sub/new",
        "/d/keep.log",
    ]
    assert [j.src for j in plan.same] == ["/s/same"]  # mtime equal to the second
    assert plan.copy.dirs == ["/d/sub"]
    assert plan.copy.links == [("/d/ln", "same")]
    assert plan.delete == ["/d/old/gone", "/d/extra", "/d/old"]  # excluded skip.log stays


def test_without_delete_nothing_is_removed() -> None:
    assert plan_sync("/s", SRC, "/d", DEST).delete == []


def test_checksum_leaves_size_equal_files_to_the_hashes() -> None:
    plan = plan_sync("/s", SRC, "/d", DEST, checksum=True)
    assert sorted(j.dst for j in plan.check) == ["/d/newer", "/d/same"]
    plan.checked({"/d/same"})
    assert "/d/same" in [j.dst for j in plan.copy.files]
    assert [j.dst for j in plan.same] == ["/d/newer"]  # same content despite the mtime
    assert plan.check == []


def test_an_empty_destination_gets_everything() -> None:
    plan = plan_sync("/s", SRC, "/d", [])
    assert len(plan.copy.files) == 6 and plan.copy.dirs == ["/d", "/d/sub"]


def test_a_missing_source_is_an_error() -> None:
    with pytest.raises(TransferError, match="no such file"):
        plan_sync("/s", [], "/d", DEST)


@pytest.mark.parametrize(
    ("rel", "patterns", "expected"),
    [
        ("a/b/c.pyc", ["*.pyc"], True),
        ("a/__pycache__/x", ["__pycache__"], True),
        ("a/b", ["a/b"], True),
        ("x/a/b", ["a/b"], False),
        ("a/b", ["/a"], True),
        ("data.csv", ["*.pyc"], False),
        ("", ["*"], False),
    ],
)
def test_exclude_patterns(rel: str, patterns: list[str], expected: bool) -> None:
    assert excluded(rel, patterns) is expected
