"""Finding the Sent folder from IMAP LIST answers, without a server."""

import pytest
from mcl_core import sent_copy


def test_the_special_use_flag_wins_over_names():
    lines = [
        b'(\\HasNoChildren) "/" "Sent"',
        b'(\\HasNoChildren \\Sent) "/" "Envoy&AOk-s"',
    ]
    assert sent_copy.sent_folder(lines) == '"Envoy&AOk-s"'


def test_usual_names_when_nothing_is_marked():
    assert sent_copy.sent_folder([b'(\\HasNoChildren) "." INBOX', b'(\\HasNoChildren) "." "Sent Items"']) == (
        '"Sent Items"'
    )
    french = b'(\\HasNoChildren) "/" "&AMk-l&AOk-ments envoy&AOk-s"'
    assert sent_copy.sent_folder([french]) == '"&AMk-l&AOk-ments envoy&AOk-s"'


def test_modified_utf7_names_are_decoded():
    assert sent_copy.decode_folder_name('"&AMk-l&AOk-ments envoy&AOk-s"') == "Éléments envoyés"
    assert sent_copy.decode_folder_name("A&-B") == "A&B"


def test_unselectable_folders_are_ignored_and_absence_is_reported():
    with pytest.raises(sent_copy.NoSentFolderError):
        sent_copy.sent_folder([b'(\\Noselect) "/" "Sent"', b'(\\HasNoChildren) "/" INBOX'])
