"""The `workshop` command: one parser, each command's parser named with its handler (``set_defaults(func=)``).

Imports in cli/ are deferred on purpose: building the parser loads every command module, so their tops
import only the standard library and the small modules that cost `--help` nothing (errors, verdicts,
locations, output, tui/serve.py); what a command needs is imported inside it when it runs. That keeps
`workshop --help` under 300 ms; `benchmarks/cli_help.py` measures it.
"""

from __future__ import annotations

import argparse
import os
import sys

from workshop import __version__
from workshop.cli import author, env, grade, learner, mesh, output, room, setup
from workshop.cli.exit_codes import EXIT_BROKEN, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from workshop.core.errors import UsageError, WorkshopError, explain, friendly

DESCRIPTION = """\
Hands-on labs on extending Envoy and Istio with WebAssembly, checked live against real software.

With no command, opens the workshop app. Typical session:
  workshop start 01          make your folder for lab 01 (in ~/wasm-workshop)
  workshop check 01          run the lab's checks against your work
  workshop hint 01/build     one more hint for a step
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workshop", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     parents=[output.common_options(None)])
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.set_defaults(func=learner.open_app)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = output.common_options(argparse.SUPPRESS)
    for commands in (learner, author, setup, env, mesh, grade, room):
        commands.add_parsers(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(room.rewrite(sys.argv[1:] if argv is None else list(argv)))
    if args.version:
        print(f"workshop {__version__}")
        return EXIT_OK

    verbose = bool(getattr(args, "verbose", False))
    try:
        return int(args.func(args))
    except WorkshopError as exc:
        _show_error(explain(exc), verbose)
        return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_BROKEN
    except KeyboardInterrupt:
        print("workshop: interrupted; everything it started has been stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `workshop list | head`: the reader has gone; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (OSError, RuntimeError) as exc:  # the machine said no (a tool, a file, a port): still one sentence
        _show_error(friendly(exc), verbose)
        return EXIT_BROKEN


def _show_error(text: str, verbose: bool) -> None:
    """One error, in plain words; with --verbose, the traceback that led to it first."""
    if verbose:
        import traceback

        traceback.print_exc()
    print(f"workshop: {text}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
