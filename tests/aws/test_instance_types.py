"""The instance-type check: botocore's enumeration, and the 8 GiB remote access needs."""

from __future__ import annotations

import pytest

from bridge.aws.instance_types import (
    InvalidInstanceType,
    check_instance_type,
    known_types,
    memory_gib,
)


def test_memory_comes_from_the_table_and_unknown_memory_is_not_guessed() -> None:
    assert memory_gib("ml.t3.medium") == 4
    assert memory_gib("ml.m5.large") == 8
    assert memory_gib("ml.r5.2xlarge") == 64
    assert memory_gib("ml.c5.large") == 4
    assert memory_gib("ml.p4d.24xlarge") is None  # not in the table: accepted on the enum alone
    assert check_instance_type("ml.p4d.24xlarge") == "ml.p4d.24xlarge"
    # Every type of the model whose memory is known parses to a positive figure.
    assert all((memory_gib(t) or 1) > 0 for t in known_types())


@pytest.mark.parametrize(
    ("value", "needles"),
    [
        ("ml.bogus.xl", ["not a SageMaker Studio instance type"]),
        ("ml.m5.larg", ["did you mean ml.m5.large"]),
        ("ml.t3.medium", ["4 GiB", "at least 8 GiB", "ml.t3.large (8 GiB)"]),
        ("ml.c7i.large", ["4 GiB", "ml.c7i.xlarge"]),
    ],
)
def test_refused_types_say_why_and_what_to_choose(value: str, needles: list[str]) -> None:
    with pytest.raises(InvalidInstanceType) as refused:
        check_instance_type(value)
    for needle in needles:
        assert needle in str(refused.value)
