"""``odoo-bin mcl_mailbox``: the encryption key of the mailbox passwords, for server administrators.

Odoo finds the command only when the add-on is on the addons path given first:
``odoo-bin --addons-path=<paths> mcl_mailbox genkey`` prints a new key;
``odoo-bin --addons-path=<paths> mcl_mailbox rotate -c odoo.conf -d DB`` re-encrypts
every stored password with the first key of ``mcl_mailbox_keys``.
"""

import argparse
import sys
from pathlib import Path

from odoo import SUPERUSER_ID, api
from odoo.cli import Command
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.service.db import exp_db_exist
from odoo.tools import config

from ..core import vault

EXIT_UNREADABLE = 2


class McLMailbox(Command):
    """Mailbox passwords: print a new key (genkey), re-encrypt with the current key (rotate)"""

    name = "mcl_mailbox"

    def run(self, cmdargs):
        parser = self._parser()
        args, odoo_args = parser.parse_known_args(cmdargs)
        if args.action == "genkey":
            if odoo_args:
                parser.error(f"genkey takes no options: {' '.join(odoo_args)}")
            sys.stdout.write(vault.generate_key() + "\n")
            return
        sys.exit(self._rotate(parser, odoo_args))

    def _parser(self):
        parser = argparse.ArgumentParser(
            prog=f"{Path(sys.argv[0]).name} {self.name}",
            description="Manage the Fernet keys that encrypt the personal mailbox passwords.",
        )
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("genkey", help="print a new random key, to put first in mcl_mailbox_keys")
        actions.add_parser(
            "rotate",
            help="re-encrypt every stored password with the first key of mcl_mailbox_keys; "
                 "takes Odoo's options (-c odoo.conf -d DB)",
        )
        return parser

    def _rotate(self, parser, odoo_args):
        """Rotate the secrets of one database; return the exit status."""
        config.parse_config(odoo_args, setup_logging=True)
        dbname = config["db_name"]
        if not dbname or "," in dbname:
            parser.error("rotate needs one database: -d DB")
        if not exp_db_exist(dbname):
            parser.error(f"database {dbname!r} does not exist")
        registry = Registry(dbname)
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            try:
                report = env["mcl.mailbox.mixin"]._mcl_rotate_secrets()
            except UserError as error:
                sys.stderr.write(f"{error.args[0]}\n")
                return 1
            sys.stdout.write(self._summary(report))
        return EXIT_UNREADABLE if any(counts["unreadable"] for counts in report.values()) else 0

    @staticmethod
    def _summary(report):
        lines = []
        for model_name, counts in report.items():
            unreadable = counts["unreadable"]
            lines.append(f"{model_name}: {counts['rotated']} re-encrypted, {counts['current']} already on the "
                         f"current key, {len(unreadable)} cannot be opened by any configured key")
            lines.extend(f"  cannot be opened: {model_name} id {record.id} ({record.display_name}): "
                         "its owner must re-enter the app password" for record in unreadable)
        return "\n".join(lines) + "\n"
