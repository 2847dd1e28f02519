"""The encryption of mailbox passwords, on its own."""

import pytest
from cryptography.fernet import Fernet
from mcl_core import vault


@pytest.fixture
def key():
    return Fernet.generate_key().decode()


def test_round_trip_hides_the_password(key):
    stored = vault.encrypt(key, "abcdefghijklmnop")
    assert "abcdefghijklmnop" not in stored
    assert vault.decrypt(key, stored) == "abcdefghijklmnop"


def test_each_encryption_differs(key):
    assert vault.encrypt(key, "same") != vault.encrypt(key, "same")


def test_spaces_of_a_pasted_app_password_are_removed():
    assert vault.clean_app_password(" ohgh uylv\txkwd zgbz\n") == "ohghuylvxkwdzgbz"
    assert vault.clean_app_password("   ") == ""
    assert vault.clean_app_password(None) == ""


def test_missing_key_is_reported():
    with pytest.raises(vault.KeyMissingError):
        vault.encrypt("", "secret")
    with pytest.raises(vault.KeyMissingError):
        vault.encrypt(" , ", "secret")


def test_invalid_key_is_reported():
    with pytest.raises(vault.KeyInvalidError):
        vault.encrypt("not-a-fernet-key", "secret")


def test_wrong_key_cannot_decrypt(key):
    stored = vault.encrypt(key, "secret")
    other = Fernet.generate_key().decode()
    assert not vault.can_decrypt(other, stored)
    with pytest.raises(vault.UndecryptableError):
        vault.decrypt(other, stored)


def test_old_keys_still_decrypt_and_rotation_moves_to_the_first(key):
    stored = vault.encrypt(key, "secret")
    new = Fernet.generate_key().decode()
    both = f"{new},{key}"
    assert vault.can_decrypt(both, stored)
    assert not vault.uses_current_key(both, stored)
    rotated = vault.rotate(both, stored)
    assert vault.uses_current_key(both, rotated)
    assert vault.decrypt(new, rotated) == "secret"
    assert not vault.can_decrypt(key, rotated)


def test_key_id_reveals_nothing_of_the_key(key):
    assert vault.key_id(key) not in key
    assert len(vault.key_id(key)) == 8


def test_generated_keys_are_valid_and_distinct():
    first, second = vault.generate_key(), vault.generate_key()
    assert first != second
    assert vault.decrypt(first, vault.encrypt(first, "x")) == "x"


def test_a_sealed_secret_opens_only_for_its_binding():
    key = vault.generate_key()
    binding = {"model": "ir.mail_server", "id": 7, "endpoints": [["smtp.gmail.com", 465, "ssl", "a@b.fr"]]}
    stored = vault.seal(key, "secret", binding)
    assert "secret" not in stored
    assert vault.unseal(key, stored, binding) == "secret"
    for other in ({**binding, "id": 8}, {**binding, "model": "fetchmail.server"},
                  {**binding, "endpoints": [["smtp.attacker.example", 465, "ssl", "a@b.fr"]]}):
        with pytest.raises(vault.BindingError):
            vault.unseal(key, stored, other)


def test_an_unbound_secret_opens_for_no_binding():
    key = vault.generate_key()
    with pytest.raises(vault.BindingError):
        vault.unseal(key, vault.encrypt(key, "secret"), {"model": "ir.mail_server", "id": 7, "endpoints": []})


def test_rotation_keeps_the_binding():
    old, new = vault.generate_key(), vault.generate_key()
    binding = {"model": "ir.mail_server", "id": 7, "endpoints": []}
    rotated = vault.rotate(f"{new},{old}", vault.seal(old, "secret", binding))
    assert vault.unseal(new, rotated, binding) == "secret"
