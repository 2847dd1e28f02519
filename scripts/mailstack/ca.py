"""A throw-away CA, the localhost server certificate, and deliberately bad certificates."""

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = datetime.timedelta(days=1)
LOCALHOST_NAMES = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
WRONG_HOST_NAMES = [x509.DNSName("mail.example.net")]
# Certificate name -> (signed by the test CA, SAN entries, validity window relative to now).
LEAVES = {
    "server": (True, LOCALHOST_NAMES, (-DAY, 365 * DAY)),
    "untrusted": (False, LOCALHOST_NAMES, (-DAY, 365 * DAY)),
    "expired": (True, LOCALHOST_NAMES, (-30 * DAY, -DAY)),
    "wronghost": (True, WRONG_HOST_NAMES, (-DAY, 365 * DAY)),
}


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject, issuer, public_key, window):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + window[0])
        .not_valid_after(now + window[1])
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(ca):
    flags = dict.fromkeys(
        [
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "encipher_only",
            "decipher_only",
        ],
        False,
    )
    return x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca, **flags)


def make_ca(common_name):
    """A self-signed CA: (certificate, private key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(common_name), _name(common_name), key.public_key(), (-DAY, 3650 * DAY))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_leaf(ca_cert, ca_key, names, window):
    """A TLS server certificate for `names` signed by the given CA: (certificate, private key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(str(names[0].value)), ca_cert.subject, key.public_key(), window)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _write(cert, key, cert_path, key_path):
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _still_valid(cert_path):
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    return cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc) > 7 * DAY


def ensure_certificates(layout):
    """Create the CA and every leaf under the run directory unless a valid set is already there; refresh the bundle."""
    if not (layout.ca_file.exists() and _still_valid(layout.tls_dir / "server.pem")):
        _create_all(layout)
    system = Path(ssl.get_default_verify_paths().openssl_cafile)
    system_pem = system.read_text() if system.is_file() else ""
    layout.ca_bundle.write_text(system_pem.rstrip("\n") + "\n" + layout.ca_file.read_text())


def _create_all(layout):
    """A fresh test CA, a stranger CA, and every leaf of LEAVES."""
    os.makedirs(layout.tls_dir, mode=0o700, exist_ok=True)
    ca_cert, ca_key = make_ca("mcl_mailbox mail stack test CA")
    stranger_cert, stranger_key = make_ca("mcl_mailbox untrusted CA")
    for name, (trusted, names, window) in LEAVES.items():
        issuer = (ca_cert, ca_key) if trusted else (stranger_cert, stranger_key)
        cert, key = make_leaf(*issuer, names, window)
        _write(cert, key, layout.tls_dir / f"{name}.pem", layout.tls_dir / f"{name}.key")
    _write(ca_cert, ca_key, layout.ca_file, layout.tls_dir / "ca.key")


def cert_pair(layout, name):
    """(certificate path, key path) of one of the generated leaves."""
    return layout.tls_dir / f"{name}.pem", layout.tls_dir / f"{name}.key"
