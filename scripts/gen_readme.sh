#!/usr/bin/env bash
# make readme: each add-on's README.rst and static/description/index.html from its readme/ fragments,
# in OCA's format (scripts/gen_readme.py gives the output of OCA's oca-gen-addon-readme, which is not
# on PyPI). Runs in a small virtualenv of its own with pandoc (pypandoc-binary), docutils and Pygments pinned, so
# that every machine writes the same files. OCA's tool, where installed, writes the same:
#   oca-gen-addon-readme --org-name mcl-mailbox --repo-name mcl_mailbox --branch 18.0 --addons-dir .
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
source "$here/env.sh"

README_VENV=$MCL_CACHE/venv-readme
README_REQUIREMENTS=(pypandoc-binary==1.17 docutils==0.23 pygments==2.21.0)
want=$(printf '%s\n' "${README_REQUIREMENTS[@]}" | sha1sum | cut -c1-12)
if [ ! -x "$README_VENV/bin/python" ] || [ "$(cat "$README_VENV/.mcl-stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> creating $README_VENV (pandoc and docutils for the README files; first run only)"
    rm -rf "$README_VENV"
    "$MCL_PYTHON" -m venv "$README_VENV"
    "$README_VENV/bin/pip" install -q --disable-pip-version-check "${README_REQUIREMENTS[@]}"
    echo "$want" > "$README_VENV/.mcl-stamp"
fi
cd "$MCL_ROOT"
"$README_VENV/bin/python" scripts/gen_readme.py --org-name mcl-mailbox --repo-name mcl_mailbox --branch 18.0 \
    mcl_mailbox mcl_mailbox_demo "$@"
