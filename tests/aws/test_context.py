"""``AwsContext``: what a caller sends (botocore's precedence), and keys that never hold a secret
but tell a wrong secret from the right one."""

from __future__ import annotations

from bridge.aws.context import AwsContext
from bridge.aws.identity import principal_of

KEY, SECRET, TOKEN = "AKIACONTEXTTEST00001", "contextTestSecretValue000000000000000001", "tok" * 8
EXPORTED = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_PROFILE": "envp"}


def test_exported_credentials_beat_aws_profile_but_not_an_explicit_profile() -> None:
    exported = AwsContext.from_env({**EXPORTED, "AWS_REGION": "eu-west-1"})
    assert exported.profile is None and exported.credentials is not None
    assert exported.params()["credentials"]["secret_access_key"] == SECRET
    assert exported.params()["caller_env"] is True and exported.region == "eu-west-1"
    chosen = exported.with_profile("dev")
    assert chosen.credentials is None and chosen.profile == "dev"
    assert "credentials" not in chosen.params() and chosen.region == "eu-west-1"
    plain = AwsContext.from_env({"AWS_PROFILE": "envp"})
    assert plain.profile == "envp" and plain.key.describe() == "profile envp"


def test_keys_and_reprs_hold_no_secret_and_a_wrong_secret_has_its_own_key() -> None:
    right = AwsContext.from_env({**EXPORTED, "AWS_SESSION_TOKEN": TOKEN})
    wrong = AwsContext.from_env({**EXPORTED, "AWS_SECRET_ACCESS_KEY": "x" * 40})
    assert right.key != wrong.key and right.key.source == "environment"
    for shown in (repr(right), repr(right.key), right.key.describe()):
        assert KEY not in shown and SECRET not in shown and TOKEN not in shown
    # A context-less raw client is keyed apart from a caller that sent "the default profile".
    assert AwsContext().key.source == "default"
    assert AwsContext(caller_env=True).key.describe() == "profile default"


def test_an_assumed_role_is_one_principal_whatever_its_session_name() -> None:
    one = principal_of("111111111111", "arn:aws:sts::111111111111:assumed-role/Dev/aws-vault-1")
    two = principal_of("111111111111", "arn:aws:sts::111111111111:assumed-role/Dev/aws-vault-2")
    user = principal_of("111111111111", "arn:aws:iam::111111111111:user/alice")
    assert one == two and one.arn == "arn:aws:sts::111111111111:assumed-role/Dev"
    assert user.arn == "arn:aws:iam::111111111111:user/alice"


def test_the_proxys_plain_reading_sends_what_aws_context_sends() -> None:
    """``bridge.aws.caller.caller_params`` (the ProxyCommand's, without dataclasses) is
    ``AwsContext.from_env(env).with_profile(profile).params()`` for every kind of caller."""
    from bridge.aws.caller import caller_params

    envs = [
        {},
        {"AWS_PROFILE": "envp", "AWS_DEFAULT_REGION": "us-west-2"},
        {**EXPORTED, "AWS_SESSION_TOKEN": TOKEN, "AWS_REGION": "eu-west-1"},
        {
            **EXPORTED,
            "AWS_SECURITY_TOKEN": TOKEN,
            "AWS_CREDENTIAL_EXPIRATION": "2030-01-01T00:00:00Z",
        },
        {"AWS_ACCESS_KEY_ID": KEY, "AWS_ENDPOINT_URL": "http://127.0.0.1:1"},  # no secret
    ]
    for env in envs:
        for profile in (None, "dev"):
            assert (
                caller_params(env, profile)
                == AwsContext.from_env(env).with_profile(profile).params()
            )
