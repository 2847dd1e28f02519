#!/usr/bin/env bash
# Prepare everything the demo and the tests need; idempotent and fast on a second run.
#   - a Python >= 3.10, Odoo 18.0 sources (ODOO_SRC, the cache, or the nightly tarball)
#   - a virtualenv with Odoo's requirements and our tooling
#   - PostgreSQL running, Dovecot and Chromium installed
# Prints nothing but problems and progress lines; exports nothing (see scripts/env.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
source "$here/env.sh"

die() { echo "error: $*" >&2; exit 1; }
step() { echo "==> $*"; }

check_python() {
    command -v "$MCL_PYTHON" >/dev/null 2>&1 \
        || die "no '$MCL_PYTHON' found: install Python 3.10+ (apt-get install python3 python3-venv) or set MCL_PYTHON."
    "$MCL_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || die "$("$MCL_PYTHON" -V 2>&1) is too old: Odoo 18.0 needs Python 3.10+; set MCL_PYTHON to a newer interpreter."
}

is_odoo18() {  # $1: a directory holding odoo-bin
    [ -f "$1/odoo-bin" ] && [ -f "$1/odoo/release.py" ] \
        && grep -qE "^version_info = \(18, 0," "$1/odoo/release.py"
}

find_odoo() {
    if [ -n "${ODOO_SRC:-}" ]; then
        [ -f "$ODOO_SRC/odoo-bin" ] || die "ODOO_SRC=$ODOO_SRC has no odoo-bin: point ODOO_SRC at the root of an Odoo 18.0 source tree."
        is_odoo18 "$ODOO_SRC" || die "ODOO_SRC=$ODOO_SRC is not Odoo 18.0 (see its odoo/release.py): point ODOO_SRC at an 18.0 tree."
        return
    fi
    if is_odoo18 "$MCL_ODOO_CACHE"; then return; fi
    step "downloading the Odoo 18.0 nightly source into $MCL_ODOO_CACHE"
    local tmp; tmp=$(mktemp -d)
    if curl -fsSL --retry 2 "$MCL_ODOO_NIGHTLY" | tar -xz -C "$tmp" --strip-components=1 2>/dev/null && is_odoo18 "$tmp"; then
        mkdir -p "$(dirname "$MCL_ODOO_CACHE")"; rm -rf "$MCL_ODOO_CACHE"; mv "$tmp" "$MCL_ODOO_CACHE"
    else
        rm -rf "$tmp"
        die "no Odoo 18.0 source found and the nightly download failed: set ODOO_SRC=/path/to/odoo-18.0 (a tree with odoo-bin) or unpack one into $MCL_ODOO_CACHE."
    fi
}

make_venv() {
    local stamp="$MCL_VENV/.mcl-stamp" want
    want=$(cat "$ODOO_HOME/requirements.txt" "$MCL_ROOT/requirements-dev.txt" | sha1sum | cut -c1-12)
    if [ -x "$MCL_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return; fi
    step "creating the virtualenv $MCL_VENV (first run only: a few minutes)"
    "$MCL_PYTHON" -m venv "$MCL_VENV" || die "could not create a virtualenv: apt-get install python3-venv"
    "$MCL_VENV/bin/pip" install -q --upgrade pip packaging wheel
    "$MCL_VENV/bin/python" "$MCL_ROOT/scripts/odoo_requirements.py" "$ODOO_HOME/requirements.txt" > "$MCL_VENV/odoo-requirements.txt"
    "$MCL_VENV/bin/pip" install -q -r "$MCL_VENV/odoo-requirements.txt" -r "$MCL_ROOT/requirements-dev.txt" \
        || die "pip could not install Odoo's requirements (above); psycopg2 needs libpq-dev and gcc: apt-get install libpq-dev build-essential python3-dev"
    echo "$want" > "$stamp"
}

apt_install() {  # $@: Debian packages; root only
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return
    [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}' once."
    step "installing ${missing[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
        || die "apt-get could not install ${missing[*]}"
}

start_postgres() {
    command -v psql >/dev/null || die "PostgreSQL is not installed: apt-get install postgresql"
    if psql -d postgres -Atc 'select 1' >/dev/null 2>&1; then return; fi
    if command -v pg_lsclusters >/dev/null; then
        local ver; ver=$(pg_lsclusters -h | awk 'NR==1{print $1}')
        [ -n "$ver" ] && pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || true
    fi
    psql -d postgres -Atc 'select 1' >/dev/null 2>&1 \
        || die "PostgreSQL does not answer for $(id -un): start it (pg_ctlcluster 15 main start) and create a role: createuser -s $(id -un)"
}

check_python
find_odoo
apt_install dovecot-imapd dovecot-lmtpd chromium ca-certificates wkhtmltopdf poppler-utils fonts-lato
make_venv
start_postgres
