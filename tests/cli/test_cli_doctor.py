"""doctor: every check reported with its fix, and the exit status follows the failures."""

from __future__ import annotations

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


def test_doctor_reports_each_check_and_passes_once_fixed(cli: Cli, tmp_path: Path) -> None:
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


def test_doctor_without_credentials_or_editor(cli: Cli) -> None:
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
