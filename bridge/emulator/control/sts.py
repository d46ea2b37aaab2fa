"""STS GetCallerIdentity (query protocol): who the signing credential belongs to."""

from __future__ import annotations

import hashlib

from bridge.emulator.config import CredentialConfig


def caller_identity(cred: CredentialConfig, account_id: str) -> dict[str, str]:
    arn = cred.arn or f"arn:aws:iam::{account_id}:user/smconnect-emulator"
    digest = hashlib.sha256(cred.access_key_id.encode()).hexdigest().upper()[:17]
    if ":assumed-role/" in arn:
        user_id = f"AROA{digest}:{arn.rsplit('/', 1)[-1]}"
    else:
        user_id = f"AIDA{digest}"
    return {"UserId": user_id, "Account": account_id, "Arn": arn}
