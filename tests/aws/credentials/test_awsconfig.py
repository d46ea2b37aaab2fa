"""Edits of ~/.aws/config: only the keys we set change, botocore reads the result, backups are
made once per distinct content, a concurrent edit is never overwritten, symlinks survive."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import botocore.configloader
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bridge import fsutil
from bridge.aws import awsconfig
from bridge.aws.errors import ConfigurationError

ORIGINAL = """\
# top comment
[default]
region = us-east-1

[profile work]  # inline comment on the header
region = eu-west-1
s3 =
    max_concurrent_requests = 4
credential_process = old-tool --x
; a comment inside
output = json

[sso-session corp]
sso_start_url = https://example.awsapps.com/start
"""


def test_set_replace_and_remove_keep_everything_else() -> None:
    edited = awsconfig.edit_text(
        ORIGINAL,
        "profile work",
        {"credential_process": "smconnect credentials work", "mfa_serial": "arn:x"},
        remove={"s3"},
    )
    assert edited == ORIGINAL.replace(
        "s3 =\n    max_concurrent_requests = 4\ncredential_process = old-tool --x\n",
        "credential_process = smconnect credentials work\n",
    ).replace("output = json\n", "output = json\nmfa_serial = arn:x\n")
    sections = awsconfig.parse(edited)
    assert sections["profile work"]["credential_process"] == "smconnect credentials work"
    assert sections["sso-session corp"]["sso_start_url"].startswith("https://")


def test_new_section_at_the_end_and_idempotence() -> None:
    edited = awsconfig.edit_text(ORIGINAL, "profile new", {"region": "us-west-2"})
    assert edited == ORIGINAL + "\n[profile new]\nregion = us-west-2\n"
    assert awsconfig.edit_text(edited, "profile new", {"region": "us-west-2"}) == edited
    assert awsconfig.edit_text("", "default", {"a": "b"}) == "[default]\na = b\n"
    assert awsconfig.edit_text("[x]\nk = v", "x", {"n": "m"}) == "[x]\nk = v\nn = m\n"


@given(
    st.lists(
        st.sampled_from(["# c", "", "[default]", "[profile a]", "k = v", "  nested = 1"]),
        max_size=12,
    ),
    st.sampled_from(["default", "profile a", "profile b"]),
    st.dictionaries(
        st.sampled_from(["k", "region", "x"]), st.sampled_from(["1", "two words"]), max_size=2
    ),
)
def test_other_sections_are_untouched(
    lines: list[str], section: str, values: dict[str, str]
) -> None:
    text = "\n".join(lines) + ("\n" if lines else "")
    assume(_botocore_reads(text))  # duplicate sections or keys: botocore refuses the file
    edited = awsconfig.edit_text(text, section, values)
    assert _botocore_reads(edited)
    before, after = awsconfig.parse(text), awsconfig.parse(edited)
    for name, keys in before.items():
        if name != section:
            assert after[name] == keys
    for key, value in values.items():
        assert after[section][key] == value


def _botocore_reads(text: str) -> bool:
    try:
        configparser.RawConfigParser().read_string(text)  # what botocore.configloader uses
    except configparser.Error:
        return False
    return True


def test_botocore_reads_what_we_write(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(awsconfig.edit_text(ORIGINAL, "profile work", {"mfa_serial": "arn:x"}))
    parsed = botocore.configloader.load_config(str(path))
    assert parsed["profiles"]["work"]["mfa_serial"] == "arn:x"
    assert parsed["profiles"]["work"]["s3"] == {"max_concurrent_requests": "4"}
    assert parsed["sso_sessions"]["corp"]["sso_start_url"].startswith("https://")


def test_update_backs_up_once_and_refuses_a_concurrent_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "dotfiles" / "aws-config"
    config.parent.mkdir()
    config.write_text(ORIGINAL)
    link = tmp_path / ".aws" / "config"
    link.parent.mkdir()
    link.symlink_to(config)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(link))

    first = awsconfig.update_section("profile a", {"region": "us-east-1"})
    assert first.changed and first.backup is not None and first.backup.read_text() == ORIGINAL
    assert link.is_symlink() and "[profile a]" in config.read_text()
    again = awsconfig.update_section("profile a", {"region": "us-east-1"})
    assert not again.changed and again.backup is None

    real_write = fsutil.atomic_write

    def edited_meanwhile(path: Path, data: bytes, **kwargs: object) -> None:
        with open(config, "a") as f:
            f.write("# the user saved this meanwhile\n")
        real_write(path, data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fsutil, "atomic_write", edited_meanwhile)
    with pytest.raises(ConfigurationError, match="changed while smconnect"):
        awsconfig.update_section("profile a", {"region": "ap-south-1"})
    assert config.read_text().endswith("# the user saved this meanwhile\n")
    assert "ap-south-1" not in config.read_text()
    assert os.stat(config).st_mode & 0o777 in (0o600, 0o644)
