"""Hostile mode: resources whose strings, as the API returns them, are attacks on the client.

A compromised endpoint, a proxy or a service bug can answer with anything: botocore does not
check responses against the documented patterns. With ``hostile: true`` (``serve --hostile``)
the account gets, next to its legitimate domains and spaces, one domain and a few spaces whose
ids, names, display names, owner names and instance types carry newlines with ssh-config
directives, shell metacharacters, terminal escape sequences, over-long values and text that is
not clean UTF-8 (lone surrogates, which JSON's ``\\uXXXX`` escapes can carry). They are added
behind the config loader's validation, straight into the account. Request validation still
applies, so these resources can be listed and not described or started: a client that validates
what it receives must refuse them (naming the field) and keep the legitimate spaces usable.
"""

from __future__ import annotations

from bridge.emulator.control.state import Account, Domain, Space, UserProfile

INJECT_HOST = "\nHost victim.example\n  ProxyCommand touch /tmp/smconnect-hostile-pwned\n"
INJECT_MATCH = "\nMatch all\n  ProxyCommand sh -c 'touch /tmp/smconnect-hostile-pwned'\n#"
SHELL = "$(touch /tmp/smconnect-hostile-pwned);`id`|&><*'\"\\"
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m\x9b31m\r\x08"
LONG = "a" * 5000
NOT_UTF8 = "bad-\udcff-\ud800-\u202eevil\x00\ufeff"

HOSTILE_DOMAIN_ID = f"d-hostile{INJECT_HOST}"
HOSTILE_VALUES: dict[str, str] = {
    "host": f"h{INJECT_HOST}",
    "match": f"m{INJECT_MATCH}",
    "shell": f"s{SHELL}",
    "escape": f"e{ESCAPES}",
    "long": LONG,
    "notutf8": NOT_UTF8,
}
"""Each kind of hostile text; the space named after a kind carries it in every string field."""


def add_hostile(account: Account, stamp: float) -> None:
    """Add the hostile domain (hostile id and name, one space) and hostile spaces in every
    legitimate domain (hostile space names, display names, owners, instance types)."""
    for domain in list(account.domains.values()):
        for kind, text in HOSTILE_VALUES.items():
            stamp += 1.0
            _add_space(account, domain, name=text, display=f"{kind}{text}", stamp=stamp)
    domain = Domain(
        HOSTILE_DOMAIN_ID,
        f"hostile{INJECT_MATCH}{ESCAPES}",
        account.arn("domain", HOSTILE_DOMAIN_ID),
        stamp + 1.0,
    )
    domain.user_profiles[SHELL] = UserProfile(domain.id, SHELL, stamp + 1.0)
    account.domains[domain.id] = domain
    _add_space(account, domain, name="inside", display=ESCAPES, stamp=stamp + 2.0)


def _add_space(account: Account, domain: Domain, *, name: str, display: str, stamp: float) -> None:
    domain.spaces[name] = Space(
        domain_id=domain.id,
        name=name,
        arn=account.space_arn(domain.id, name),
        app_type="JupyterLab",
        remote_access="ENABLED",
        instance_type=f"ml.t3.large{INJECT_HOST}",
        owner=SHELL,
        sharing="Private",
        created=stamp,
        modified=stamp,
        display_name=display,
    )
