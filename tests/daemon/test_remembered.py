"""What a daemon keeps for the next one (``bridge/daemon/remembered.py``): written only when
something new was learnt, private, and anything odd in the files ignored (a wrong ARN or key
must never come from a file someone else shaped)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from bridge.daemon.remembered import KnownArns, KnownHostKeys

ARN = "arn:aws:sagemaker:us-east-1:111122223333:space/d-1/demo"


def test_arns_are_kept_per_endpoint_and_written_only_when_new(tmp_path: Path) -> None:
    path = tmp_path / "state" / "space-arns.json"
    arns = KnownArns(path)
    arns.for_endpoint(None)["d-1/demo"] = ARN
    arns.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = path.stat().st_ino
    arns.save()  # nothing new: no write
    assert path.stat().st_ino == written  # replaced files get a new inode
    again = KnownArns(path)
    assert again.for_endpoint(None) == {"d-1/demo": ARN}
    assert again.for_endpoint("http://127.0.0.1:1") == {}


def test_odd_arn_entries_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "space-arns.json"
    odd = {
        "d-1/demo": ARN,
        "d-1/other": ARN,  # names another space
        "d-1/x": 5,
        "nodomain": "arn:aws:sagemaker:us-east-1:1:space/nodomain",
        "d-1/forged": "arn:x:space/d-1/forged",  # not a SageMaker space ARN
    }
    path.write_text(json.dumps({"version": 1, "arns": {"": odd, "bad": []}}))
    assert KnownArns(path).for_endpoint(None) == {"d-1/demo": ARN}
    path.write_text("{not json")
    assert KnownArns(path).for_endpoint(None) == {}


def test_a_host_key_is_kept_for_its_app_run_only(tmp_path: Path) -> None:
    path = tmp_path / "host-keys.json"
    keys = KnownHostKeys(path)
    keys.put(ARN, "2026-12-01 10:00:00", "ssh-ed25519 AAAAkey1")
    keys.put(ARN + "x", None, "ssh-ed25519 AAAAkey2")  # run unknown: this daemon only
    again = KnownHostKeys(path)
    assert again.get(ARN, "2026-12-01 10:00:00") == "ssh-ed25519 AAAAkey1"
    assert again.get(ARN, "2026-12-01 11:00:00") is None  # a new run is asked again
    assert again.get(ARN + "x", None) is None
    assert keys.get(ARN + "x", None) == "ssh-ed25519 AAAAkey2"
    again.put(ARN, "2026-12-01 11:00:00", "ssh-ed25519 AAAAkey3")
    assert KnownHostKeys(path).get(ARN, "2026-12-01 10:00:00") is None
    path.write_text(json.dumps({"version": 1, "keys": {ARN: {"app_created": "t", "key": "a\nb"}}}))
    assert KnownHostKeys(path).get(ARN, "t") is None
