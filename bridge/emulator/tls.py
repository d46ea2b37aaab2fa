"""The emulator's TLS (``tls: true``, ``--tls``): a private CA made at start, and a server
certificate it signs for 127.0.0.1 and localhost.

The service's StreamUrl is ``wss://`` and its API endpoints are HTTPS; with this on, the
emulator's are too, so a client's production TLS path (one shared context per daemon, the
TLS pre-dial beside StartSession, asyncio's SSL transport on every frame) runs end to end.
Clients are given trust the way a user's tools take a corporate CA, not by a code path of
their own: the CA's certificate file is named by ``SSL_CERT_FILE`` (Python's default
context) and ``AWS_CA_BUNDLE`` (botocore) in ``Emulator.env()``.

The keys never leave the process except the server key, which ``ssl`` can only load from a
file: it is written to the emulator's private temp directory (mode 0700, removed at stop).
The CA's key is not written anywhere and is gone once the server certificate is signed.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["EmulatorTls", "make_tls"]

_LIFETIME = datetime.timedelta(days=2)  # an emulator runs for hours; clocks may be a bit off
_HOSTS = ("localhost",)
_ADDRESSES = ("127.0.0.1", "::1")
# The CA signs certificates (and CRLs), nothing else.
_CA_USAGE = dict.fromkeys(
    (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "encipher_only",
        "decipher_only",
    ),
    False,
) | {"key_cert_sign": True, "crl_sign": True}


@dataclass(frozen=True)
class EmulatorTls:
    """What the servers load (``server``) and what clients are told to trust (``ca_file``)."""

    server: ssl.SSLContext
    ca_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_ids(
    builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    """The subject key identifier (OpenSSL's strict checks want it on a CA)."""
    return builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    )


def make_tls(directory: Path) -> EmulatorTls:
    """A fresh CA and server certificate; ``directory`` receives ``ca.pem`` (public) and the
    server's chain and key. Blocking (key generation, file writes): call it off the loop."""
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + _LIFETIME
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("smconnect emulator CA")
    ca_builder = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(**_CA_USAGE), critical=True)
    )
    ca_cert = _key_ids(ca_builder, ca_key).sign(ca_key, hashes.SHA256())

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in _HOSTS]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in _ADDRESSES]
    cert = (
        _key_ids(x509.CertificateBuilder(), key)
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    chain_file, key_file = directory / "server.pem", directory / "server-key.pem"
    chain_file.write_bytes(cert.public_bytes(pem))
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(chain_file, key_file)
    return EmulatorTls(server=server, ca_file=ca_file)
