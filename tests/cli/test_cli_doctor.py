"""doctor: every check reported with its fix, and the exit status follows the failures.

The tests share one daemon and emulator (``home_cli``): doctor only asks the daemon its status,
and what each test changes (files in HOME, the environment) is put back after it."""

from __future__ import annotations

import os
import pwd
import zipfile
from pathlib import Path

from .cli_helpers import Cli, fake_editor

CHECKS = [
    "AWS identity",
    "AWS region",
    "AWS credentials",
    "SageMaker API",
    "smconnect daemon",
    "OpenSSH client",
    "ssh config",
    "VS Code CLI",
    "Remote-SSH extension",
    "keyring",
]


def _checks(cli: Cli, *args: str, **env: str) -> tuple[int, dict[str, dict[str, object]]]:
    result = cli.run("doctor", "--json", *args, **env)
    assert "Traceback" not in result.stderr
    report = result.json()
    assert [c["name"] for c in report["checks"]] == CHECKS
    assert report["ok"] == (result.returncode == 0)
    for check in report["checks"]:
        assert check["ok"] == (check["fix"] is None), check
    return result.returncode, {c["name"]: c for c in report["checks"]}


def test_doctor_reports_each_check_and_passes_once_fixed(home_cli: Cli, tmp_path: Path) -> None:
    cli = home_cli
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_editor(bin_dir, "code", extensions=("ms-python.python", "ms-vscode-remote.remote-ssh"))
    env = {"PATH": f"{bin_dir}:{cli.env['PATH']}", "SMCONNECT_EDITOR": ""}

    code, checks = _checks(cli, **env)
    assert code == 1
    failed = [name for name, c in checks.items() if not c["ok"]]
    assert failed == ["ssh config"]
    assert "smconnect ssh-config install" in str(checks["ssh config"]["fix"])
    assert "us-east-1" in str(checks["AWS region"]["detail"])
    assert "arn:aws:iam::123456789012:" in str(checks["AWS credentials"]["detail"])
    assert cli.env["AWS_ENDPOINT_URL"] in str(checks["SageMaker API"]["detail"])
    assert "OpenSSH" in str(checks["OpenSSH client"]["detail"])
    assert checks["Remote-SSH extension"]["detail"] == "ms-vscode-remote.remote-ssh"

    cli.run("ssh-config", "install").ok()
    code, checks = _checks(cli, **env)
    assert code == 0, checks
    assert "up to date" in str(checks["ssh config"]["detail"])

    human = cli.run("doctor", **env).ok().stdout
    assert human.count("✓") == len(CHECKS) and "✗" not in human


def test_doctor_without_credentials_or_editor(home_cli: Cli) -> None:
    cli = home_cli
    code, checks = _checks(cli, AWS_SECRET_ACCESS_KEY="wrong-secret")
    assert code == 1
    assert not checks["AWS credentials"]["ok"]
    assert "SignatureDoesNotMatch" in str(checks["AWS credentials"]["detail"])
    assert not checks["SageMaker API"]["ok"]
    assert checks["smconnect daemon"]["ok"] and checks["OpenSSH client"]["ok"]
    assert not checks["VS Code CLI"]["ok"] and "SMCONNECT_EDITOR" in str(
        checks["VS Code CLI"]["detail"]
    )
    assert not checks["Remote-SSH extension"]["ok"]
    assert "--install-extension" in str(checks["Remote-SSH extension"]["fix"])

    human = cli.run("doctor", AWS_SECRET_ACCESS_KEY="wrong-secret")
    assert human.returncode == 1 and "Traceback" not in human.stderr
    assert "✗ AWS credentials" in human.stdout and "    fix: " in human.stdout


def test_doctor_checks_the_config_openssh_reads_not_just_home(
    home_cli: Cli, tmp_path: Path
) -> None:
    """OpenSSH reads ~/.ssh/config from the passwd entry, whatever $HOME says: installed under
    $HOME only, plain `ssh` finds no host, and doctor must not say ✓ (issue 16)."""
    cli = home_cli
    cli.run("ssh-config", "install").ok()
    include = f'Include "{cli.home / ".ssh" / "smconnect" / "config"}"'
    # The real passwd entry: this test's HOME is a temporary directory, not that home.
    passwd_home = pwd.getpwuid(os.getuid()).pw_dir
    _, checks = _checks(cli, SMCONNECT_OPENSSH_HOME="")
    ssh_config = checks["ssh config"]
    assert not ssh_config["ok"] and f"{passwd_home}/.ssh/config" in str(ssh_config["detail"])
    assert include in str(ssh_config["fix"])

    other = tmp_path / "other"
    (other / ".ssh").mkdir(parents=True)
    _, checks = _checks(cli, SMCONNECT_OPENSSH_HOME=str(other))
    assert f"{other}/.ssh/config" in str(checks["ssh config"]["detail"])
    (other / ".ssh" / "config").write_text(f"{include}\nHost *\n  ServerAliveInterval 30\n")
    _, checks = _checks(cli, SMCONNECT_OPENSSH_HOME=str(other))
    assert checks["ssh config"]["ok"], checks["ssh config"]


def test_doctor_names_what_the_proxy_command_runs(home_cli: Cli) -> None:
    """An install made in a shell with another region: same binary, so say what differs."""
    cli = home_cli
    cli.run("ssh-config", "install").ok()
    _, checks = _checks(cli, AWS_REGION="eu-west-1")
    detail = str(checks["ssh config"]["detail"])
    assert "the ProxyCommand runs --region us-east-1 (this shell: eu-west-1)" in detail, detail


def test_doctor_says_plainly_what_keyring_holds_keys(home_cli: Cli) -> None:
    """The sandbox's keyring is keyrings.alt's plaintext file: fine while unused, a failure
    once a profile keeps its keys there; no usable keyring at all likewise."""
    cli = home_cli
    _, checks = _checks(cli)
    assert checks["keyring"]["ok"] and "plaintext file store" in str(checks["keyring"]["detail"])
    aws = cli.home / ".aws"
    aws.mkdir(exist_ok=True)
    (aws / "config").write_text(
        "[profile kp]\ncredential_process = smconnect credentials kp\nregion = us-east-1\n"
    )
    _, checks = _checks(cli)
    keyring = checks["keyring"]
    assert not keyring["ok"] and "profile kp keeps its AWS keys" in str(keyring["detail"])
    assert "plaintext file store" in str(keyring["detail"]) and "Secret Service" in str(
        keyring["fix"]
    )
    _, checks = _checks(cli, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    assert "needs a keyring, and none is usable" in str(checks["keyring"]["detail"])


def test_doctor_bundle_has_the_facts_and_no_secrets(home_cli: Cli, tmp_path: Path) -> None:
    cli = home_cli
    cli.run("ssh-config", "install").ok()
    planted = {
        "aws_secret_access_key = PLANTEDsecret0001",
        "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1?token=PLANTEDtoken0002",
        '"SessionToken": "PLANTEDsession0003"',
        "AKIAPLANTED0004XYZW",
    }
    cli.state_dir.mkdir(parents=True, exist_ok=True)
    with (cli.state_dir / "daemon.log").open("a") as log:
        for secret in planted:
            log.write(f"2026-11-30T10:00:00.000Z INFO smconnect.daemon [1] marker-line {secret}\n")
    aws = cli.home / ".aws"
    aws.mkdir(exist_ok=True)
    (aws / "credentials").write_text("[default]\naws_secret_access_key = PLANTEDfile0005\n")

    bundle = tmp_path / "bundle.zip"
    result = cli.run("doctor", "--bundle", str(bundle))
    assert "Traceback" not in result.stderr and "support bundle" in result.stderr, result
    assert bundle.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(bundle) as z:
        texts = {name: z.read(name).decode() for name in z.namelist()}
    assert set(texts) == {"versions.txt", "doctor.json", "daemon.log", "cli.log", "ssh-G.txt"}
    everything = "\n".join(texts.values())
    secrets = ["PLANTED", cli.env["AWS_SECRET_ACCESS_KEY"]]
    assert not [s for s in secrets if s in everything]
    assert "marker-line" in texts["daemon.log"] and "smconnect 0." in texts["versions.txt"]
    assert "## ssh -G sm-demo" in texts["ssh-G.txt"] and "proxycommand " in texts["ssh-G.txt"]
    assert '"name": "keyring"' in texts["doctor.json"]


def test_doctor_says_where_the_region_comes_from(home_cli: Cli) -> None:
    cli = home_cli
    _, checks = _checks(cli)
    assert checks["AWS region"]["detail"] == "us-east-1 (from AWS_REGION)"
    del cli.env["AWS_REGION"], cli.env["AWS_DEFAULT_REGION"]  # set but empty is not unset
    _, checks = _checks(cli, "--region", "us-east-1")
    assert checks["AWS region"]["detail"] == "us-east-1 (from --region)"
    aws = cli.home / ".aws"
    aws.mkdir(exist_ok=True)
    (aws / "config").write_text("[default]\nregion = us-east-1\n")
    _, checks = _checks(cli)
    assert checks["AWS region"]["detail"] == "us-east-1 (from profile default in ~/.aws/config)"
