"""What each diagnosis code of ``core.probe`` tells the user: the cause and what to do.

Data in one place, translated when shown; the texts take ``host``, ``port``, ``login`` and
``seconds`` (see ``mcl.mailbox.mixin._mcl_cause_and_advice``). A test ties the codes to the probe's.
"""

from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

# code: (cause, advice); an advice of None depends on the provider's kind of password.
DIAGNOSES = {
    "dns": (_lt("The server name “%(host)s” does not exist."),
            _lt("Check the server name; Prefill fills it in for known providers.")),
    "refused": (_lt("Nothing answers on %(host)s, port %(port)s."),
                _lt("Check the port and the security (SSL/TLS or STARTTLS).")),
    "timeout": (_lt("%(host)s did not answer within %(seconds)s seconds."),
                _lt("Check the server name and the port, and that this network lets mail connections out.")),
    "tls_on_plain_port": (_lt("SSL/TLS was chosen but port %(port)s expects STARTTLS or no encryption."),
                          _lt("Choose STARTTLS for this port, or use the SSL/TLS port (993 for IMAP, 465 for SMTP).")),
    "plain_on_tls_port": (_lt("STARTTLS was chosen but port %(port)s expects SSL/TLS from the start."),
                          _lt("Choose SSL/TLS for this port.")),
    "untrusted_certificate": (_lt("The server's certificate is not signed by a trusted authority."),
                              _lt("Check the server name. If it is right, do not go on: the server is misconfigured "
                                  "or the connection is intercepted.")),
    "expired_certificate": (_lt("The server's certificate has expired."),
                            _lt("Tell the provider; do not go on until the certificate is renewed.")),
    "hostname_mismatch": (_lt("The server's certificate is not valid for the name “%(host)s”."),
                          _lt("Use the server name the provider documents.")),
    "starttls_unsupported": (_lt("STARTTLS was chosen but the server does not offer it on port %(port)s."),
                             _lt("Choose SSL/TLS with its port (993 for IMAP, 465 for SMTP).")),
    "tls_handshake_failed": (_lt("The secure connection could not be set up."),
                             _lt("Check the security setting and the port.")),
    "auth_failed": (_lt("The server refused the login or the password."), None),
    "app_password_required": (_lt("The provider requires an app password, not your account password."),
                              _lt("Turn on 2-Step Verification, then create an app password (see the provider's "
                                  "steps) and paste it here.")),
    "imap_disabled": (_lt("IMAP access is turned off for this account."),
                      _lt("Turn IMAP on in your mailbox settings (the provider's first step), then test again.")),
    "web_login_required": (_lt("The provider blocked the sign-in and asks you to sign in on its website."),
                           _lt("Sign in to your mailbox in a browser, confirm it was you, then test again.")),
    "basic_auth_disabled": (_lt("Microsoft refuses passwords and app passwords for this account."),
                            _lt("Connect this mailbox with Odoo's Outlook sign-in (OAuth) instead.")),
    "smtp_auth_disabled_tenant": (_lt("SMTP sign-in is disabled for your Microsoft 365 organisation."),
                                  _lt("Ask your Microsoft 365 administrator to enable SMTP AUTH, or use Odoo's "
                                      "Outlook sign-in.")),
    "too_many_attempts": (_lt("Too many failed sign-in attempts: the provider blocks new ones for a while."),
                          _lt("Wait a few minutes, create a new app password, then test once.")),
    "no_auth": (_lt("The server does not offer sign-in on this connection."),
                _lt("Check the port and security: sign-in is usually offered on port 465 (SSL/TLS) or 587 "
                    "(STARTTLS).")),
    "sender_refused": (_lt("The server refused to send from this address."),
                       _lt("Check that the address belongs to this mailbox and matches the login.")),
    "recipient_refused": (_lt("The server refused to send to an outside address."),
                          _lt("The account may not be allowed to send: check the provider's note (for example, "
                              "turn SMTP on at Free).")),
    "server_closed": (_lt("The server closed the connection unexpectedly."),
                      _lt("Check the port and the security setting.")),
    "protocol_error": (_lt("The server's answer is not what a mail server says."),
                       _lt("Check the port: it may belong to another service.")),
    # Sign-in with Microsoft or Google (core.oauth.CODES); the texts take ``service``, and the wrong
    # account's ``account`` and ``email``.
    "oauth_consent_refused": (_lt("You did not accept, at %(service)s, the access Odoo asks for."),
                              _lt("Click “Sign in with %(service)s” again and accept: Odoo needs it to send your "
                                  "emails (SMTP) and file them in your mailbox (IMAP).")),
    "oauth_admin_required": (_lt("Your organisation's administrator does not allow this application for your "
                                 "account."),
                             _lt("Ask your %(service)s administrator to approve the Odoo application for the "
                                 "organisation (admin consent) and to allow your account, then sign in again.")),
    "oauth_grant_refused": (_lt("%(service)s no longer accepts the sign-in saved for this mailbox: access "
                                "withdrawn, password changed or sign-in expired."),
                            _lt("Open the mailbox and click “Sign in with %(service)s”: the waiting emails leave "
                                "once you are signed in again.")),
    "oauth_app_refused": (_lt("%(service)s refused Odoo's application (its identifier, its secret or its "
                              "redirect address)."),
                          _lt("Ask your Odoo administrator to check the %(service)s application in Settings "
                              "(client ID, client secret and redirect URI).")),
    "oauth_wrong_account": (_lt("You signed in as %(account)s, but this mailbox is %(email)s."),
                            _lt("Click “Sign in with %(service)s” again and choose the account %(email)s (sign out "
                                "of the other one at %(service)s first if it is chosen for you).")),
    "oauth_unavailable": (_lt("%(service)s did not answer."),
                          _lt("Try again in a moment; emails that wait are retried by themselves.")),
    "oauth_unknown": (_lt("%(service)s refused the sign-in."),
                      _lt("Try again; if it lasts, give the provider's reply below to your administrator.")),
}
UNKNOWN = (_lt("The connection failed."), _lt("Check the settings; the server's reply below may help."))
CREDENTIALS_ADVICE = {
    "app_password": _lt("Create a new app password (see the provider's steps) and paste it here; "
                        "check the login (%(login)s)."),
    "password": _lt("Check the login (%(login)s) and the password of the mailbox."),
    "xoauth2_microsoft": _lt("The sign-in worked but the server refused it: turn IMAP on in your mailbox settings (at "
                             "Outlook.com: Settings > Mail > Forwarding and IMAP); for a work account, ask its "
                             "administrator to allow IMAP and SMTP AUTH for your mailbox. Then test again."),
    "xoauth2_google": _lt("The sign-in worked but the server refused it: turn IMAP on in Gmail (Settings > See all "
                          "settings > Forwarding and POP/IMAP); for a Google Workspace account, ask its administrator "
                          "to allow IMAP for your account. Then test again."),
}
