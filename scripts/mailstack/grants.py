"""OAuth state: codes and tokens (kept by the servers process), user flags and revocations (set through the API)."""

import os
import secrets
import threading
import time

from . import store

CODE_LIFETIME = 600
DEFAULT_FLAGS = {
    "authorize_error": None,
    "access_lifetime": 3600,
    "refresh_lifetime": 90 * 86400,
    "imap_disabled": False,
    "smtp_auth_disabled": False,
}
AUTHORIZE_ERRORS = (None, "consent_refused", "admin_consent_required", "user_not_assigned")
STAT_NAMES = (
    "authorize_accepted",
    "authorize_declined",
    "token_authorization_code",
    "token_refresh",
    "token_errors",
    "introspections",
    "xoauth2_smtp_ok",
    "xoauth2_smtp_refused",
)


def check_flags(flags):
    """Raise ValueError for an unknown flag or an authorize_error the identity server does not know."""
    unknown = set(flags) - set(DEFAULT_FLAGS)
    if unknown:
        raise ValueError(f"unknown OAuth user flags {sorted(unknown)}: use {sorted(DEFAULT_FLAGS)}")
    if flags.get("authorize_error") not in AUTHORIZE_ERRORS:
        raise ValueError(f"authorize_error must be one of {AUTHORIZE_ERRORS}, not {flags['authorize_error']!r}")


def user_flags(layout, login):
    """The flags of `login` (lower-cased), defaults filled in."""
    return {**DEFAULT_FLAGS, **store.read_json(layout.oauth_users).get(login.lower(), {})}


def revocation(layout, login):
    """{'revoked': time, 'access_expired': time} as far as set for `login`: tokens issued until then are dead."""
    return store.read_json(layout.oauth_revocations).get(login.lower(), {})


# Every code and token carries the test run's secret marker (as the test passwords do), so that the run's
# leak checks of logs and database dumps find any token that escapes.
SECRET_MARKER = os.environ.get("MCL_TEST_SECRET", "mcltestsecret")


def new_token(prefix):
    return f"{SECRET_MARKER}-{prefix}.{secrets.token_urlsafe(32)}"


class Counters:
    """Thread-safe counters mirrored to a JSON file after each change (read by Stack.oauth_stats)."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.counts = dict.fromkeys(STAT_NAMES, 0)
        store.write_json(path, self.counts)

    def bump(self, name):
        with self.lock:
            self.counts[name] += 1
            store.write_json(self.path, self.counts)


class Grants:
    """Authorization codes, access and refresh tokens, persisted so that a restart of the servers keeps them."""

    def __init__(self, layout):
        self.layout = layout
        self.lock = threading.Lock()
        saved = store.read_json(layout.oauth_grants)
        self.data = {kind: saved.get(kind, {}) for kind in ("codes", "access", "refresh")}

    def _save(self):
        """Drop expired codes and access tokens, then write the rest."""
        now = time.time()
        for kind in ("codes", "access"):
            self.data[kind] = {key: rec for key, rec in self.data[kind].items() if rec["expires"] > now}
        store.write_json(self.layout.oauth_grants, self.data)

    def _revoked(self, record):
        return record["issued"] <= revocation(self.layout, record["login"]).get("revoked", 0)

    def issue_code(self, client_id, redirect_uri, scope, login, offline=True):
        """A single-use code bound to the client, the redirect URI and the signed-in user; ``offline``:
        its token answer carries a refresh token."""
        code = new_token("code")
        now = time.time()
        record = dict(client_id=client_id, redirect_uri=redirect_uri, scope=scope, login=login, issued=now,
                      offline=offline)
        with self.lock:
            self.data["codes"][code] = {**record, "expires": now + CODE_LIFETIME, "used": False}
            self._save()
        return code

    def redeem_code(self, code, client_id, redirect_uri):
        """(record, None) and the code is used up, or (record or None, reason) with reason one of code_expired,
        code_redeemed, redirect_mismatch, grant_revoked."""
        with self.lock:
            record = self.data["codes"].get(code)
            if record is None or record["client_id"] != client_id or record["expires"] <= time.time():
                return None, "code_expired"
            if record["used"]:
                return None, "code_redeemed"
            if record["redirect_uri"] != redirect_uri:
                return dict(record), "redirect_mismatch"
            if self._revoked(record):
                return dict(record), "grant_revoked"
            record["used"] = True
            self._save()
            return dict(record), None

    def check_refresh(self, token, client_id):
        """(record, None) for a live refresh token of this client, else (record or None, grant_revoked |
        refresh_expired)."""
        with self.lock:
            record = self.data["refresh"].get(token)
        if record is None or record["client_id"] != client_id or self._revoked(record):
            return None, "grant_revoked"
        if record["expires"] <= time.time():
            return record, "refresh_expired"
        return record, None

    def issue_tokens(self, login, client_id, scope):
        """A new access token and refresh token: {'access_token', 'refresh_token', 'expires_in'}."""
        flags = user_flags(self.layout, login)
        now = time.time()
        access, refresh = new_token("at"), new_token("rt")
        common = dict(login=login, client_id=client_id, scope=scope, issued=now)
        with self.lock:
            self.data["access"][access] = {**common, "expires": now + flags["access_lifetime"]}
            self.data["refresh"][refresh] = {**common, "expires": now + flags["refresh_lifetime"]}
            self._save()
        return {"access_token": access, "refresh_token": refresh, "expires_in": flags["access_lifetime"]}

    def access_login(self, token):
        """The login an access token was issued to, or None if it is unknown, expired or revoked."""
        with self.lock:
            record = self.data["access"].get(token)
        if record is None or record["expires"] <= time.time() or self._revoked(record):
            return None
        if record["issued"] <= revocation(self.layout, record["login"]).get("access_expired", 0):
            return None
        return record["login"]
