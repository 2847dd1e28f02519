"""Encryption of mailbox passwords with Fernet keys kept outside the database.

Keys are given as one comma-separated string (``mcl_mailbox_keys`` in odoo.conf or
``MCL_MAILBOX_KEYS`` in the environment); the first key encrypts, every key decrypts,
so a new key can be put first and the old one removed once secrets are rotated.

A password is *sealed* together with its binding: the record that stores it and the
endpoints it may be sent to.  It is opened only for that same binding, so a token
copied to another row, or left on a row whose server was changed, opens nothing.
"""

import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# A stored secret is "<key id>:<Fernet token>": the key id tells, without
# decrypting, whether the configured keys can open it.
SEPARATOR = ":"


class KeyMissingError(Exception):
    """No encryption key is configured."""


class KeyInvalidError(Exception):
    """A configured key is not a valid Fernet key."""


class UndecryptableError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


class BindingError(Exception):
    """A sealed secret belongs to another record or to other endpoints."""


def generate_key():
    """Return a new random Fernet key as text."""
    return Fernet.generate_key().decode()


def clean_app_password(value):
    """Remove every whitespace character: providers show app passwords in groups."""
    return "".join((value or "").split())


def split_keys(raw_keys):
    """The configured keys, current first."""
    return [key.strip() for key in (raw_keys or "").split(",") if key.strip()]


def key_id(key):
    """A short public fingerprint of a key (it reveals nothing usable about it)."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def can_decrypt(raw_keys, stored):
    """Whether a key that encrypted ``stored`` is configured (no decryption done)."""
    kid = (stored or "").partition(SEPARATOR)[0]
    return bool(kid) and kid in {key_id(key) for key in split_keys(raw_keys)}


def uses_current_key(raw_keys, stored):
    """Whether ``stored`` is encrypted with the current (first) key."""
    keys = split_keys(raw_keys)
    return bool(keys) and (stored or "").partition(SEPARATOR)[0] == key_id(keys[0])


def parse_keys(raw_keys):
    """Return a MultiFernet for the comma-separated keys, the first being current."""
    keys = split_keys(raw_keys)
    if not keys:
        raise KeyMissingError()
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise KeyInvalidError() from exc


def encrypt(raw_keys, secret):
    """Encrypt ``secret`` with the current key; return the text to store."""
    fernet = parse_keys(raw_keys)
    return key_id(split_keys(raw_keys)[0]) + SEPARATOR + fernet.encrypt(secret.encode()).decode()


def decrypt(raw_keys, stored):
    """Decrypt a stored secret with any configured key."""
    fernet = parse_keys(raw_keys)
    try:
        return fernet.decrypt(stored.partition(SEPARATOR)[2].encode()).decode()
    except InvalidToken as exc:
        raise UndecryptableError() from exc


def rotate(raw_keys, stored):
    """Re-encrypt a stored secret with the current key."""
    return encrypt(raw_keys, decrypt(raw_keys, stored))


def seal(raw_keys, secret, binding):
    """Encrypt ``secret`` together with ``binding`` (JSON-serialisable); return the text to store."""
    return encrypt(raw_keys, json.dumps({"binding": binding, "secret": secret}, sort_keys=True))


def unseal(raw_keys, stored, binding):
    """The secret sealed in ``stored``, only if it was sealed with exactly ``binding``."""
    try:
        payload = json.loads(decrypt(raw_keys, stored))
    except ValueError as exc:
        raise BindingError() from exc
    if not isinstance(payload, dict) or payload.get("binding") != json.loads(json.dumps(binding)):
        raise BindingError()
    return payload["secret"]
