"""The host alias scheme: readable for SageMaker names, reversible for any name."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.ssh.aliases import SpaceRef, alias_for, host_key_alias, parse_alias, resolve_alias
from bridge.ssh.errors import AmbiguousAliasError, InvalidAliasError, UnknownSpaceError

SPACES = [
    SpaceRef("demo", "d-aaaaaaaaaaaa"),
    SpaceRef("train", "d-aaaaaaaaaaaa"),
    SpaceRef("Train", "d-bbbbbbbbbbbb"),
]
# What ssh accepts as a plain host name: no pattern characters, whitespace or quotes.
SSH_HOST_RE = re.compile(r"[A-Za-z0-9_.-]+\Z")


def test_unique_name_gets_a_short_alias() -> None:
    assert alias_for("demo", "d-aaaaaaaaaaaa", SPACES) == "sm-demo"
    assert parse_alias("sm-demo") == ("demo", None)


def test_name_in_several_domains_is_qualified_case_insensitively() -> None:
    # "train" and "Train" are the same ssh host name (ssh matches Host case-insensitively).
    assert alias_for("train", "d-aaaaaaaaaaaa", SPACES) == "sm-train.d-aaaaaaaaaaaa"
    assert alias_for("Train", "d-bbbbbbbbbbbb", SPACES) == "sm-Train.d-bbbbbbbbbbbb"
    assert parse_alias("sm-train.d-aaaaaaaaaaaa") == ("train", "d-aaaaaaaaaaaa")


def test_space_not_in_the_list_counts_itself() -> None:
    assert alias_for("new", "d-cccccccccccc", SPACES) == "sm-new"
    assert alias_for("demo", "d-cccccccccccc", SPACES) == "sm-demo.d-cccccccccccc"


def test_custom_prefix() -> None:
    assert alias_for("demo", "d-a", [], prefix="studio.") == "studio.demo"
    assert parse_alias("studio.demo.d-a", prefix="studio.") == ("demo", "d-a")
    with pytest.raises(InvalidAliasError, match="prefix"):
        alias_for("demo", "d-a", [], prefix="")
    with pytest.raises(InvalidAliasError, match="prefix"):
        alias_for("demo", "d-a", [], prefix="sm *")


def test_unusual_characters_are_escaped_reversibly() -> None:
    alias = alias_for("my space_€", "d-a", [])
    assert alias == "sm-my_20space_5f_e2_82_ac"
    assert SSH_HOST_RE.match(alias)
    assert parse_alias(alias) == ("my space_€", None)


@pytest.mark.parametrize(
    "bad", ["demo", "sm-", "sm-a.b.c", "sm-a_zz", "sm-_41", "sm-a_ff", "sm-.d-a", "sm-a."]
)
def test_parse_rejects_what_alias_for_never_makes(bad: str) -> None:
    with pytest.raises(InvalidAliasError) as exc:
        parse_alias(bad)
    assert "\n" not in str(exc.value)


def test_resolve_alias_as_typed_in_any_case() -> None:
    assert resolve_alias("SM-DEMO", SPACES) == SpaceRef("demo", "d-aaaaaaaaaaaa")
    assert resolve_alias("sm-demo.d-aaaaaaaaaaaa", SPACES) == SpaceRef("demo", "d-aaaaaaaaaaaa")
    assert resolve_alias("sm-train.D-BBBBBBBBBBBB", SPACES) == SpaceRef("Train", "d-bbbbbbbbbbbb")


def test_resolve_ambiguous_lists_the_qualified_names() -> None:
    with pytest.raises(AmbiguousAliasError) as exc:
        resolve_alias("sm-train", SPACES)
    assert exc.value.candidates == ("sm-Train.d-bbbbbbbbbbbb", "sm-train.d-aaaaaaaaaaaa")
    assert "sm-train.d-aaaaaaaaaaaa" in str(exc.value)


def test_resolve_unknown() -> None:
    with pytest.raises(UnknownSpaceError, match="'nope'"):
        resolve_alias("sm-nope", SPACES)
    with pytest.raises(UnknownSpaceError, match="d-zzz"):
        resolve_alias("sm-demo.d-zzz", SPACES)


def test_host_key_alias_is_lower_case() -> None:
    assert host_key_alias("sm-Train.d-bbbbbbbbbbbb") == "sm-train.d-bbbbbbbbbbbb"


names = st.text(min_size=1, max_size=40)
domains = st.text(min_size=1, max_size=20)
sagemaker_names = st.from_regex(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,30}", fullmatch=True)
prefixes = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,6}", fullmatch=True)


@given(name=names, domain=domains, other_domain=domains, prefix=prefixes)
def test_round_trip_any_name(name: str, domain: str, other_domain: str, prefix: str) -> None:
    unique = alias_for(name, domain, [], prefix=prefix)
    assert SSH_HOST_RE.match(unique)
    assert parse_alias(unique, prefix=prefix) == (name, None)
    if other_domain.lower() != domain.lower():
        qualified = alias_for(name, domain, [SpaceRef(name, other_domain)], prefix=prefix)
        assert SSH_HOST_RE.match(qualified)
        assert parse_alias(qualified, prefix=prefix) == (name, domain)
        assert parse_alias(qualified.upper(), prefix=prefix)[0].lower() == name.lower()


@given(name=sagemaker_names)
def test_sagemaker_names_stay_readable(name: str) -> None:
    assert alias_for(name, "d-abc", []) == f"sm-{name}"


def test_ambiguity_counts_spaces_not_domains() -> None:
    # Two spaces of ONE domain whose names differ only in case both match `sm-train`.
    same_domain = [SpaceRef("train", "d-aaaaaaaaaaaa"), SpaceRef("Train", "d-aaaaaaaaaaaa")]
    with pytest.raises(AmbiguousAliasError) as exc:
        resolve_alias("sm-train", same_domain)
    message = str(exc.value)
    assert "matches 2 spaces" in message
    assert "domains" not in message
    # Their qualified aliases are equal but for case, so the hint names domain-id/name instead.
    assert "d-aaaaaaaaaaaa/Train" in message and "d-aaaaaaaaaaaa/train" in message

    with pytest.raises(AmbiguousAliasError, match="matches 2 spaces; use one of: sm-Train"):
        resolve_alias("sm-train", SPACES)
