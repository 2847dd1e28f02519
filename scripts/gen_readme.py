"""Write each add-on's README.rst and static/description/index.html from its readme/ fragments, as OCA does.

The output is the one of ``oca-gen-addon-readme`` (OCA/maintainer-tools, the hook of OCA's pre-commit
configuration), which is not on PyPI: the same sections in the same order, the same badges, the same
source digest (so that the hook, run later with ``--if-source-changed``, finds nothing to redo) and the
same HTML. Markdown fragments are converted by pandoc (from pypandoc-binary, else the ``pandoc`` on
PATH), the HTML page by docutils. ``make readme`` runs it in its own small virtualenv.

    python scripts/gen_readme.py --org-name ORG --repo-name REPO --branch 18.0 ADDON_DIR...
    python scripts/gen_readme.py --check-digest ADDON_DIR...   # README.rst up to date? (no pandoc needed)
"""

import argparse
import ast
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urljoin

# Fragment name, section title (None: not a section of its own), heading level.
FRAGMENTS = [
    ("DESCRIPTION", None, 2),
    ("CONTEXT", "Use Cases / Context", 2),
    ("INSTALL", "Installation", 2),
    ("CONFIGURE", "Configuration", 2),
    ("USAGE", "Usage", 2),
    ("ROADMAP", "Known issues / Roadmap", 2),
    ("DEVELOP", "Development", 2),
    ("CONTRIBUTORS", "Contributors", 3),
    ("CREDITS", "Other credits", 3),
    ("HISTORY", "Changelog", 2),
]
BODY_SECTIONS = ["CONTEXT", "INSTALL", "CONFIGURE", "USAGE", "DEVELOP", "ROADMAP", "HISTORY"]
# GitHub Flavored Markdown without raw HTML and without automatic identifiers, as OCA converts it.
PANDOC_FORMAT = "gfm-raw_html-gfm_auto_identifiers"
MATURITY = "https://odoo-community.org/page/development-status"
DEVELOPMENT_STATUS_BADGES = {
    "mature": ("https://img.shields.io/badge/maturity-Mature-brightgreen.png", MATURITY, "Mature"),
    "production/stable": ("https://img.shields.io/badge/maturity-Production%2FStable-green.png", MATURITY,
                          "Production/Stable"),
    "beta": ("https://img.shields.io/badge/maturity-Beta-yellow.png", MATURITY, "Beta"),
    "alpha": ("https://img.shields.io/badge/maturity-Alpha-red.png", MATURITY, "Alpha"),
}
LICENSE_BADGES = {
    name: (f"https://img.shields.io/badge/license-{name.replace('-', '--')}-blue.png",
           f"http://www.gnu.org/licenses/{name.lower()}.0-standalone.html", f"License: {name}")
    for name in ("AGPL-3", "LGPL-3", "GPL-3")
}
# docutils settings for the HTML page (those of pypa/readme_renderer, as OCA uses them).
RST2HTML_SETTINGS = {
    "file_insertion_enabled": False,
    "halt_level": 2,
    "math_output": "MathJax",
    "raw_enabled": False,
    "smart_quotes": True,
    "syntax_highlight": "short",
    "xml_declaration": False,
    "output_encoding": "utf-8",
}
GENERATED_MARK = "oca-gen-addon-readme"


def read_manifest(addon_dir):
    return ast.literal_eval((addon_dir / "__manifest__.py").read_text(encoding="utf-8"))


def source_digest(addon_dir):
    """sha256 of the manifest and of every file under readme/ (names and contents, sorted, dot files aside)."""
    digest = hashlib.sha256()
    paths = [addon_dir / "__manifest__.py"]
    for directory, subdirectories, files in os.walk(addon_dir / "readme"):  # a folder's files, then its folders
        subdirectories.sort()
        paths += [Path(directory, name) for name in sorted(files) if not name.startswith(".")]
    for path in paths:
        digest.update(str(path.relative_to(addon_dir)).encode())
        digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()


def pandoc_binary():
    try:
        import pypandoc  # noqa: PLC0415 - optional: pypandoc-binary brings its own pandoc

        return pypandoc.get_pandoc_path()
    except (ImportError, OSError):
        found = shutil.which("pandoc")
        if not found:
            sys.exit("pandoc is missing: install pypandoc-binary (make readme does) or Debian's pandoc")
        return found


def fragment_source(addon_dir, name):
    """The fragment ``name`` as reStructuredText, or None when the add-on has none."""
    md, rst = addon_dir / "readme" / f"{name}.md", addon_dir / "readme" / f"{name}.rst"
    if md.exists() and rst.exists():
        sys.exit(f"both {md} and {rst} exist: remove one")
    if rst.exists():
        return rst.read_text(encoding="utf-8")
    if not md.exists():
        return None
    level = dict((fragment, level) for fragment, _title, level in FRAGMENTS)[name]
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / f"{name}.rst"
        subprocess.run([pandoc_binary(), f"--from={PANDOC_FORMAT}", "--to=rst", str(md), f"--output={output}",
                        "--sandbox", f"--shift-heading-level-by={level - 2}"], check=True)
        return output.read_text(encoding="utf-8")


def absolute_images(text, org, repo, branch, addon):
    """Relative figure and image paths point at the add-on's files on GitHub (readme/../ removed)."""
    image_re = re.compile(r".*\s*\.\..* (figure|image)::\s+(?P<path>.*?)\s*$")
    base = f"https://raw.githubusercontent.com/{org}/{repo}/{branch}/{addon}/"
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        match = image_re.match(line)
        if match and not match.group("path").startswith("http"):
            path = match.group("path")
            lines[index] = line.replace(path, urljoin(base, path.replace("../", "")))
    text = "".join(lines)
    return text if text.endswith("\n") else text + "\n"


def fragments_of(addon_dir, org, repo, branch):
    fragments = {}
    formats = set()
    for name, _title, _level in FRAGMENTS:
        formats |= {suffix for suffix in (".md", ".rst") if (addon_dir / "readme" / f"{name}{suffix}").exists()}
        text = fragment_source(addon_dir, name)
        if text:
            fragments[name] = absolute_images(text, org, repo, branch, addon_dir.name)
    if len(formats) > 1:
        sys.exit(f"{addon_dir}/readme mixes .md and .rst fragments: use one format")
    return fragments, formats


def section(fragments, name, title, underline="="):
    return f"{title}\n{underline * len(title)}\n\n{fragments[name]}\n" if name in fragments else ""


def badges_of(manifest, org, repo, branch, addon):
    badges = []
    status = manifest.get("development_status", "Beta").lower()
    if status in DEVELOPMENT_STATUS_BADGES:
        badges.append(DEVELOPMENT_STATUS_BADGES[status])
    if manifest.get("license") in LICENSE_BADGES:
        badges.append(LICENSE_BADGES[manifest["license"]])
    badges.append((f"https://img.shields.io/badge/github-{org.replace('-', '--')}%2F{repo.replace('-', '--')}"
                   "-lightgray.png?logo=github",
                   f"https://github.com/{org}/{repo}/tree/{branch}/{addon}", f"{org}/{repo}"))
    if org == "OCA":
        badges.append(("https://img.shields.io/badge/weblate-Translate%20me-F47D42.png",
                       f"https://translation.odoo-community.org/projects/{repo}-{branch.replace('.', '-')}/"
                       f"{repo}-{branch.replace('.', '-')}-{addon}", "Translate me on Weblate"))
        badges.append(("https://img.shields.io/badge/runboat-Try%20me-875A7B.png",
                       f"https://runboat.odoo-community.org/builds?repo=OCA/{repo}&target_branch={branch}",
                       "Try me on Runboat"))
    return badges, status


def render(addon_dir, org, repo, branch, digest):
    manifest = read_manifest(addon_dir)
    addon = addon_dir.name
    fragments, formats = fragments_of(addon_dir, org, repo, branch)
    level3 = "~" if formats == {".rst"} else "-"
    badges, status = badges_of(manifest, org, repo, branch, addon)
    name = manifest["name"]
    out = []
    if org == "OCA":
        out.append(".. image:: https://odoo-community.org/readme-banner-image\n"
                   "   :target: https://odoo-community.org/get-involved?utm_source=readme\n"
                   "   :alt: Odoo Community Association\n\n")
    bangs = "!" * 52
    out.append(f"{'=' * len(name)}\n{name}\n{'=' * len(name)}\n\n"
               f".. \n   {bangs}\n   !! This file is generated by {GENERATED_MARK} !!\n"
               f"   !! changes will be overwritten.                   !!\n   {bangs}\n"
               f"   !! source digest: {digest}\n   {bangs}\n\n")
    for index, (image, target, alt) in enumerate(badges, 1):
        out.append(f".. |badge{index}| image:: {image}\n    :target: {target or '#'}\n")
        if alt:
            out.append(f"    :alt: {alt}\n")
    out.append("\n" + " ".join(f"|badge{index}|" for index in range(1, len(badges) + 1)) + "\n\n")
    out.append(fragments.get("DESCRIPTION", "") + "\n")
    if status == "alpha":
        out.append(".. IMPORTANT::\n"
                   "   This is an alpha version, the data model and design can change at any time without warning.\n"
                   "   Only for development or testing purpose, do not use in production.\n"
                   "   `More details on development status <https://odoo-community.org/page/development-status>`_\n\n")
    out.append("**Table of contents**\n\n.. contents::\n   :local:\n\n")
    titles = {fragment: title for fragment, title, _level in FRAGMENTS}
    out.extend(section(fragments, fragment, titles[fragment]) for fragment in BODY_SECTIONS)
    issues = f"https://github.com/{org}/{repo}/issues"
    out.append(
        "Bug Tracker\n===========\n\n"
        f"Bugs are tracked on `GitHub Issues <{issues}>`_.\n"
        "In case of trouble, please check there if your issue has already been reported.\n"
        "If you spotted it first, help us to smash it by providing a detailed and welcomed\n"
        f"`feedback <{issues}/new?body=module:%20{addon}%0Aversion:%20{branch}%0A%0A**Steps%20to%20reproduce**"
        "%0A-%20...%0A%0A**Current%20behavior**%0A%0A**Expected%20behavior**>`_.\n\n"
        "Do not contact contributors directly about support or help with technical issues.\n\n"
        "Credits\n=======\n\n"
    )
    authors = [author.strip() for author in manifest.get("author", "").split(",") if "(OCA)" not in author]
    if authors:
        out.append(f"Authors\n{level3 * 7}\n\n" + "".join(f"* {author}\n" for author in authors) + "\n")
    out.append(section(fragments, "CONTRIBUTORS", "Contributors", level3))
    out.append(section(fragments, "CREDITS", "Other credits", level3))
    out.append(f"Maintainers\n{level3 * 11}")
    if org == "OCA":
        out.append("\n\nThis module is maintained by the OCA.\n\n"
                   ".. image:: https://odoo-community.org/logo.png\n"
                   "   :alt: Odoo Community Association\n"
                   "   :target: https://odoo-community.org\n\n"
                   "OCA, or the Odoo Community Association, is a nonprofit organization whose\n"
                   "mission is to support the collaborative development of Odoo features and\n"
                   "promote its widespread use.")
    maintainers = manifest.get("maintainers") or []
    if maintainers:
        out.append("\n")
        out.extend(f"\n.. |maintainer-{login}| image:: https://github.com/{login}.png?size=40px\n"
                   f"    :target: https://github.com/{login}\n    :alt: {login}" for login in maintainers)
        plural = "s" if len(maintainers) > 1 else ""
        if org == "OCA":
            out.append(f"\n\nCurrent `maintainer{plural} <https://odoo-community.org/page/maintainer-role>`__:")
        else:
            out.append(f"\n\nCurrent maintainer{plural}:")
        out.append("\n\n" + "".join(f"|maintainer-{login}| " for login in maintainers))
    out.append(f"\n\nThis module is part of the `{org}/{repo} <https://github.com/{org}/{repo}/tree/{branch}/{addon}>`_"
               " project on GitHub.\n\n")
    if org == "OCA":
        out.append("You are welcome to contribute. To learn how please visit https://odoo-community.org/page/Contribute.\n")
    else:
        out.append("You are welcome to contribute.\n")
    return "".join(out)


def write_index(readme):
    """static/description/index.html from README.rst, unless that page was written by hand."""
    from docutils.core import publish_file  # noqa: PLC0415 - only this step needs docutils

    index = readme.parent / "static" / "description" / "index.html"
    if index.exists() and GENERATED_MARK.encode() not in index.read_bytes():
        return None
    index.parent.mkdir(parents=True, exist_ok=True)
    publish_file(source_path=str(readme), destination_path=str(index), writer_name="html4css1",
                 settings_overrides=RST2HTML_SETTINGS)
    # without docutils' version, a new docutils does not change every page
    index.write_bytes(re.sub(rb"(<meta.*generator.*Docutils)\s*[\d.]+", rb"\1", index.read_bytes(), count=1))
    return index


def check_rst(readme):
    from docutils.core import publish_string  # noqa: PLC0415

    publish_string(readme.read_text(encoding="utf-8"), source_path=str(readme), writer_name="html4css1",
                   settings_overrides=RST2HTML_SETTINGS)


def recorded_digest(readme):
    match = re.search(r"!! source digest: (sha256:\w+)", readme.read_text(encoding="utf-8")) if readme.exists() else None
    return match.group(1) if match else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--org-name", default="OCA")
    parser.add_argument("--repo-name")
    parser.add_argument("--branch")
    parser.add_argument("--no-gen-html", dest="gen_html", action="store_false", help="skip index.html")
    parser.add_argument("--check-digest", action="store_true",
                        help="only say whether each README.rst was generated from the current fragments and manifest")
    parser.add_argument("addon_dirs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    stale = []
    for addon_dir in args.addon_dirs:
        manifest = read_manifest(addon_dir)
        if not manifest.get("installable", True):
            continue
        if not any((addon_dir / "readme" / f"DESCRIPTION{suffix}").exists() for suffix in (".md", ".rst")):
            continue
        readme = addon_dir / "README.rst"
        digest = source_digest(addon_dir)
        if args.check_digest:
            if recorded_digest(readme) != digest:
                stale.append(str(readme))
            continue
        if not (args.repo_name and args.branch):
            parser.error("--repo-name and --branch are required to generate")
        readme.write_text(render(addon_dir, args.org_name, args.repo_name, args.branch, digest), encoding="utf-8")
        check_rst(readme)
        written = [readme]
        if args.gen_html and manifest.get("preloadable", True):
            written.append(write_index(readme))
        print("wrote", ", ".join(str(path) for path in written if path))
    if stale:
        print("not generated from the current readme/ fragments and manifest (run make readme):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
