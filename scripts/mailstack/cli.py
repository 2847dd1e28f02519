"""Command line: python scripts/mailstack {start,stop,stop-left,status,add-user,smtp-reply,imap-reply,oauth-client,
oauth-urls,env,serve}."""

import argparse
import shlex
import sys
import time

from . import owned
from .layout import StackError
from .server import run
from .stack import PACKAGE_DIR, Stack

DEFAULT_DIR = PACKAGE_DIR.parent.parent / ".run" / "mailstack-demo"


def parse_user(text):
    """'email:password' -> (email, password); the password may itself contain ':'."""
    address, sep, password = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected EMAIL:PASSWORD, got {text!r}")
    return address, password


def build_parser():
    parser = argparse.ArgumentParser(prog="mailstack", description="Local mail stack for the demo and the tests.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name, help_text, port_base=False):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--dir", default=DEFAULT_DIR, help=f"run directory (default {DEFAULT_DIR})")
        if port_base:
            sub.add_argument(
                "--port-base", type=int, help="ports are base+993, base+465, ... (default: last start, else 10000)"
            )
        return sub

    start = command("start", "start everything in the background and wait until every port answers", True)
    start.add_argument("--user", action="append", type=parse_user, default=[], metavar="EMAIL:PASSWORD")
    command("stop", "stop everything this run directory started")
    stop_left = commands.add_parser("stop-left", help="stop the stacks killed test runs left in ROOT's slots")
    stop_left.add_argument("--root", required=True, help="the clone's folder of stacks ($MCL_STACKS)")
    command("status", "show pids and which ports answer; exit 3 when not running")
    add_user = command("add-user", "add or update a mailbox user (works while running)")
    add_user.add_argument("email")
    add_user.add_argument("password")
    for name, what in (("smtp-reply", "AUTH on SMTP"), ("imap-reply", "LOGIN on the IMAP replay server")):
        reply = command(name, f"answer {what} for LOGIN with REPLY; without REPLY, forget it")
        reply.add_argument("login")
        reply.add_argument("reply", nargs="?")
    oauth_client = command("oauth-client", "register an OAuth client with the identity server (again: one more URI)")
    oauth_client.add_argument("client_id")
    oauth_client.add_argument("client_secret")
    oauth_client.add_argument("redirect_uri")
    command("oauth-urls", "print the identity server's endpoints (Microsoft endpoint, Google authorize and token)")
    command("env", "print KEY=VALUE lines (ports, CA file) for shells", True)
    command("serve", "run the SMTP and IMAP replay servers in the foreground (what start detaches)", True)
    return parser


def do_start(stack, args):
    began = time.monotonic()
    started = stack.start(dict(args.user))
    state = f"started in {time.monotonic() - began:.1f} s" if started else "already running"
    print(f"mail stack in {stack.dir}: {state}")
    print_ports(stack)
    print(f"CA file: {stack.ca_file}")


def print_ports(stack, up=None):
    for name, port in stack.ports.items():
        print(f"  {name:<16} 127.0.0.1:{port}" + ("" if up is None else f"  {'up' if up[name] else 'down'}"))


def do_status(stack, args):
    pids = stack.pids()
    print(f"mail stack in {stack.dir}: " + ", ".join(f"{name} pid {pid or '-'}" for name, pid in pids.items()))
    print_ports(stack, stack.status())
    return 0 if all(pids.values()) else 3


def do_stop(stack, args):
    print(f"mail stack in {stack.dir}: {'stopped' if stack.stop() else 'was not running'}")


def do_stop_left(root):
    for directory in owned.stop_left(root):
        print(f"mail stack in {directory}: stopped (left by a test run)")


def do_add_user(stack, args):
    stack.add_user(args.email, args.password)


def do_smtp_reply(stack, args):
    stack.set_smtp_reply(args.login, args.reply)


def do_imap_reply(stack, args):
    stack.set_imap_reply(args.login, args.reply)


def do_oauth_client(stack, args):
    stack.oauth_register_client(args.client_id, args.client_secret, args.redirect_uri)


def do_oauth_urls(stack, args):
    for name, url in stack.oauth_urls().items():
        print(f"{name}={url}")


def do_env(stack, args):
    for key, value in stack.env().items():
        print(f"{key}={shlex.quote(value)}")


def do_serve(stack, args):
    run(stack.layout)


HANDLERS = {
    "start": do_start,
    "stop": do_stop,
    "status": do_status,
    "add-user": do_add_user,
    "smtp-reply": do_smtp_reply,
    "imap-reply": do_imap_reply,
    "oauth-client": do_oauth_client,
    "oauth-urls": do_oauth_urls,
    "env": do_env,
    "serve": do_serve,
}


def main(argv=None):
    """Run one command; StackError and ValueError become 'error: ...' and exit status 1."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "stop-left":
            return do_stop_left(args.root) or 0
        return HANDLERS[args.command](Stack(args.dir, getattr(args, "port_base", None)), args) or 0
    except (StackError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
