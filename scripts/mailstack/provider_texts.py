"""What Microsoft's and Google's identity platforms answer, word for word as far as public reports show it.

Microsoft: reason -> (OAuth error, AADSTS code, text); {placeholders} are filled in by the identity server.
"""

TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"  # the tenant of personal Microsoft accounts (Outlook.com)

MICROSOFT = {
    # https://github.com/AzureADQuickStarts/AppModelv2-WebApp-OpenIDConnect-DotNet/issues/50
    "unknown_client": (
        "unauthorized_client",
        700016,
        "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if "
        "the application has not been installed by the administrator of the tenant or consented to by any user in "
        "the tenant. You may have sent your authentication request to the wrong tenant.",
    ),
    # https://github.com/OfficeDev/microsoft-teams-apps-company-communicator/issues/1035
    "unknown_redirect_uri": (
        "invalid_request",
        50011,
        "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for "
        "the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your "
        "application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about "
        "how to fix this.",
    ),
    # https://github.com/PuzzleServer/mainpuzzleserver/issues/571 (error_description of the redirect)
    "consent_refused": ("access_denied", 65004, "User declined to consent to access the app."),
    # https://learn.microsoft.com/en-us/archive/blogs/aaddevsup/receiving-aadsts90094-the-grant-requires-admin-permission
    "admin_consent_required": ("access_denied", 90094, "The grant requires admin permission."),
    # https://github.com/soraxas/echo360/issues/68
    "user_not_assigned": (
        "access_denied",
        50105,
        "Your administrator has configured the application {client_id} ('{client_id}') to block users unless they "
        "are specifically granted ('assigned') access to the application. The signed in user '{login}' is blocked "
        "because they are not a direct member of a group with access, nor had access directly assigned by an "
        "administrator. Please contact your administrator to assign access to this application.",
    ),
    # https://github.com/OfficeDev/microsoft-365-agents-toolkit/issues/8621
    "wrong_secret": (
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
        "not the client secret ID, for a secret added to app '{client_id}'.",
    ),
    # https://github.com/snok/django-auth-adfs/issues/245
    "code_expired": (
        "invalid_grant",
        70008,
        "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive "
        "authorization request for this user and resource.",
    ),
    # https://github.com/AzureAD/microsoft-identity-web/issues/2612
    "code_redeemed": (
        "invalid_grant",
        54005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing "
        "refresh token.",
    ),
    # https://github.com/PartnerCenterSamples/Reseller-Web-Application/issues/73 (the token request's redirect_uri)
    "redirect_mismatch": (
        "invalid_grant",
        50011,
        "The reply address '{redirect_uri}' does not match the reply address '{code_redirect_uri}' provided when "
        "requesting Authorization code.",
    ),
    # https://github.com/microsoft/azuredatastudio/issues/13953
    "grant_revoked": (
        "invalid_grant",
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have "
        "changed or reset their password. The grant was issued on '{issued}' and the TokensValidFrom date (before "
        "which tokens are not valid) for this user is '{valid_from}'.",
    ),
    # https://github.com/Azure/azure-cli/issues/14244
    "refresh_expired": (
        "invalid_grant",
        700082,
        "The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive for "
        "90.00:00:00.",
    ),
    # https://github.com/microsoftgraph/microsoft-graph-docs/issues/9207
    "missing_grant_type": (
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'grant_type'.",
    ),
    # https://github.com/AzureAD/microsoft-authentication-library-for-dotnet/pull/3023
    "unsupported_grant_type": (
        "unsupported_grant_type",
        70003,
        "The app requested an unsupported grant type '{grant_type}'.",
    ),
}

# Google answers with an OAuth error and a short description; reason -> (HTTP status, error, description).
GOOGLE = {
    # https://github.com/GeneralTask/task-manager/pull/2169
    "grant_revoked": (400, "invalid_grant", "Token has been expired or revoked."),
    "refresh_expired": (400, "invalid_grant", "Token has been expired or revoked."),
    # Google's terse answers for a bad code or client (as its token endpoint gives them, no public report quoted).
    "code_expired": (400, "invalid_grant", "Bad Request"),
    "code_redeemed": (400, "invalid_grant", "Bad Request"),
    "redirect_mismatch": (400, "redirect_uri_mismatch", "Bad Request"),
    "unknown_client": (401, "invalid_client", "The OAuth client was not found."),
    "wrong_secret": (401, "invalid_client", "Unauthorized"),
    "missing_grant_type": (400, "unsupported_grant_type", "Invalid grant_type: "),
    "unsupported_grant_type": (400, "unsupported_grant_type", "Invalid grant_type: {grant_type}"),
}
# Google's sign-in pages for a client or redirect URI it does not know.
GOOGLE_PAGES = {
    "unknown_client": "Error 401: invalid_client. The OAuth client was not found.",
    "unknown_redirect_uri": "Error 400: redirect_uri_mismatch. You can't sign in to this app because it doesn't "
    "comply with Google's OAuth 2.0 policy.",
}

# Wording of the sign-in page when the password is wrong (Microsoft's sign-in page says this).
SIGN_IN_FAILED = "Your account or password is incorrect."

# What Outlook.com / Microsoft 365 say on SMTP AUTH XOAUTH2 (as given by the add-on's brief and its recorded sessions).
XOAUTH2_CHALLENGE = '{"status":"401","schemes":"bearer","scope":"https://outlook.office.com/SMTP.Send"}'
XOAUTH2_REFUSED = "535 5.7.3 Authentication unsuccessful"
SMTP_AUTH_DISABLED = (
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
    "Visit https://aka.ms/smtp_auth_disabled for more information."
)
