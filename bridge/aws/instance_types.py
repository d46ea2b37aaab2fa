"""Which instance types ``open`` / ``start --instance-type`` accept, checked before anything is
stopped or started: the service model's ``AppInstanceType`` enumeration (botocore ships the
SageMaker model), and remote access's memory requirement.

Remote access needs at least 8 GiB of memory [D: SageMaker "Connect to Studio spaces from
VS Code" prerequisites]. Memory per type is derived from ``GIB_PER_VCPU`` and the size's vCPUs;
the figures are EC2's instance specifications [D: docs.aws.amazon.com/ec2/latest/instancetypes,
general purpose, compute optimized, memory optimized and accelerated computing tables]; ml.*
types have the memory of the EC2 type they are named after. A type whose memory the table does
not know is accepted on the enumeration alone (never refused on a guess).
"""

from __future__ import annotations

import difflib
import functools
import re

from bridge.aws.errors import AwsError

__all__ = ["InvalidInstanceType", "check_instance_type", "memory_gib"]

MIN_MEMORY_GIB = 8.0
# GiB of memory per vCPU, by family (EC2 specifications; see the module docstring).
GIB_PER_VCPU: dict[str, float] = {
    **dict.fromkeys(("c5", "c6i", "c6id", "c7i"), 2.0),
    **dict.fromkeys(("m5", "m5d", "m6i", "m6id", "m7i", "g4dn", "g5", "g6"), 4.0),
    **dict.fromkeys(("r5", "r6i", "r6id", "r7i", "g6e"), 8.0),
}
# Burstable types do not follow a per-vCPU ratio: their memory, from the same tables.
T3_MEMORY_GIB = {"micro": 1.0, "small": 2.0, "medium": 4.0, "large": 8.0, "xlarge": 16.0}
_SIZE = re.compile(r"(\d*)xlarge|large")


class InvalidInstanceType(AwsError):
    """An instance type Studio would refuse, or that cannot run remote access."""

    kind = "invalid_instance_type"


@functools.cache
def known_types() -> tuple[str, ...]:
    """The service model's ``AppInstanceType`` enumeration, as the installed botocore has it."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return tuple(model.shape_for("AppInstanceType").metadata["enum"])


def memory_gib(instance_type: str) -> float | None:
    """The type's memory in GiB, or None when the table does not know it."""
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml":
        return None
    _, family, size = parts
    if family == "t3":
        return T3_MEMORY_GIB.get(size, 32.0 if size == "2xlarge" else None)
    ratio, match = GIB_PER_VCPU.get(family), _SIZE.fullmatch(size)
    if ratio is None or match is None:
        return None
    vcpus = 2 if size == "large" else 4 * int(match.group(1) or 1)
    return ratio * vcpus


def check_instance_type(instance_type: str) -> str:
    """``instance_type`` if Studio knows it and it has the memory remote access needs; else
    ``InvalidInstanceType`` saying why and what to choose instead."""
    known = known_types()
    if instance_type not in known:
        close = difflib.get_close_matches(instance_type, known, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "for example ml.m5.large"
        raise InvalidInstanceType(
            f"{instance_type!r} is not a SageMaker Studio instance type ({hint}); "
            "the SageMaker API documents the list (AppInstanceType)"
        )
    memory = memory_gib(instance_type)
    if memory is not None and memory < MIN_MEMORY_GIB:
        raise InvalidInstanceType(
            f"{instance_type} has {memory:g} GiB of memory; remote access needs at least "
            f"{MIN_MEMORY_GIB:g} GiB: choose {suggestion(instance_type)}"
        )
    return instance_type


def suggestion(instance_type: str) -> str:
    """The smallest type of the same family with enough memory (else ml.m5.large)."""
    family = instance_type.split(".")[1] if instance_type.count(".") == 2 else ""
    fits = [
        (mem, t)
        for t in known_types()
        if t.split(".")[1:2] == [family]
        and (mem := memory_gib(t)) is not None
        and mem >= MIN_MEMORY_GIB
    ]
    best = min(fits)[1] if fits else "ml.m5.large"
    return f"{best} ({memory_gib(best):g} GiB) or larger"
