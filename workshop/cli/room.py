"""`workshop room` (serve, goto, view: the instructor's room) and `workshop join` (a learner's one command)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from workshop.cli import output, room_live
from workshop.cli.exit_codes import EXIT_OK
from workshop.core.errors import UsageError

ROOM_HELP = """\
The instructor's room: serve this prepared machine to the learners, say which lab the room is on,
and view a folder of learners' progress.

  workshop room serve --listen 192.168.1.20:8765   serve the room (prints the learners' join command)
  workshop room goto 03                           the room is on lab 03 now (late joiners start there)
  workshop room view                              who is where, live (--watch, --tui, --json; a page too)
  workshop room view DIR                          who is where in a folder of progress files
  workshop room export --csv grades.csv           the room's results, in the gradebook's formats
"""

VIEW_HELP = """\
Who is on which lab and step, who has been stuck longest, and their last failing message.

DIR holds the learners' progress files (copied from each machine's state folder, `progress/*.json`)
or their workspaces (whose progress is read from this machine's state folder).
"""

SERVE_HELP = """\
Serve this machine's prepared workshop to a room: the Go modules the labs need (a Go module proxy),
the built programs with a manifest signed with the room token, the Python wheels (a pip index), and
the lab the room is on. Bound to 127.0.0.1 unless --listen names another address (in a real room,
this machine's address on the venue's network). Prints the command each learner types.
"""

JOIN_HELP = """\
Join a room: install what this machine lacks from the room only (never from the internet), verify
every file against the room's signed manifest, seed func-e, warm the Go build cache, and start the lab
the room is on. Run it again to resume: nothing already verified is fetched twice.
"""

SUBCOMMANDS = ("serve", "goto", "view", "export")


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    room = sub.add_parser("room", help="the instructor's room: serve it, say which lab it is on, view progress",
                          description=ROOM_HELP, formatter_class=fmt, parents=[common])
    rooms = room.add_subparsers(dest="room_command", metavar="COMMAND", required=True)
    s = rooms.add_parser("serve", help="serve this prepared machine to the learners of a room", description=SERVE_HELP,
                         formatter_class=fmt, parents=[common])
    s.add_argument("--listen", default="127.0.0.1:8765", metavar="ADDR:PORT",
                   help="where to listen (default 127.0.0.1:8765; a LAN address in a real room)")
    s.add_argument("--new-token", action="store_true", help="make a fresh room token (learners joined before must join again)")
    s.add_argument("--live-only", action="store_true", help="serve only the live view and the learners' events "
                   "(learners prepared already join with --prepared); nothing is stocked")
    s.add_argument("--no-wheels", action="store_true", help="serve no Python wheels (they need PyPI once to be made)")
    s.set_defaults(func=cmd_serve)
    g = rooms.add_parser("goto", help="set the lab the room is on (learners who join start it)", parents=[common])
    g.add_argument("lab", help="lab id, like 03")
    g.set_defaults(func=cmd_goto)
    v = rooms.add_parser("view", help="who is where, who is stuck, and why: live from the room this machine serves, or from a folder",
                         description=VIEW_HELP, formatter_class=fmt, parents=[common])
    v.add_argument("folder", metavar="DIR", nargs="?", help="a folder of progress files (default: the live room this machine serves)")
    v.add_argument("--json", action="store_true", help="print JSON for machines")
    v.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    v.add_argument("--tui", action="store_true", help="open the instructor's screen: the live table, sortable, with details")
    v.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between refreshes (2)")
    v.set_defaults(func=cmd_view)
    room_live.add_export(rooms, common)
    j = sub.add_parser("join", help="join a room: get ready from the instructor's machine, then start the room's lab",
                       description=JOIN_HELP, formatter_class=fmt, parents=[common])
    j.add_argument("url", metavar="URL", help="the room's address, as the instructor's screen shows it")
    j.add_argument("--token", required=True, metavar="T", help="the room token")
    j.add_argument("--name", required=True, metavar="NAME", help="your name, as the instructor will see it")
    j.add_argument("--prepared", action="store_true", help="this machine is prepared already (`workshop prepare`): "
                   "take a seat and start the room's lab, fetch nothing")
    j.set_defaults(func=cmd_join)


def rewrite(argv: list[str]) -> list[str]:
    """`workshop room DIR` (the folder view, as before `room` had commands) still works: it means `room view DIR`."""
    for i, word in enumerate(argv):
        if word.startswith("-"):
            continue
        if word == "room" and i + 1 < len(argv) and not argv[i + 1].startswith("-") and argv[i + 1] not in SUBCOMMANDS:
            return [*argv[: i + 1], "view", *argv[i + 1 :]]
        return argv
    return argv


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"--listen {text} is not ADDR:PORT", "for example --listen 127.0.0.1:8765")
    return host.strip("[]"), int(port)


def cmd_serve(args: argparse.Namespace) -> int:
    from workshop.room import stock
    from workshop.room.auth import with_userinfo
    from workshop.room.home import RoomHome
    from workshop.room.server import serve

    host, port = _listen(args.listen)
    session = output.session(args)
    home = RoomHome.default()
    token = home.token(renew=args.new_token)

    def ready(url: str) -> None:
        lab = home.current_lab() or "none yet: `workshop room goto NN`"
        if host in ("0.0.0.0", "::"):  # every address: the learners need one of this machine's own
            url = url.replace(host, "THIS-MACHINES-ADDRESS", 1)
        print(f"The room is served at {url} (lab: {lab}; programs for {stock.platform_name()}). Ctrl-C stops it.\n\n"
              f"Each learner types:\n  workshop join {url} --token {token} --name THEIR-NAME\n", flush=True)
        if any(home.wheels.glob("wasm_workshop-*.whl")):
            index = with_userinfo(f"{url}/simple/", token)
            # pip ignores a plain-http index other than localhost's unless it is trusted
            trusted = "" if host in ("127.0.0.1", "localhost", "::1") else f"--trusted-host {url.split('//')[1].rsplit(':', 1)[0]} "
            print(f"A learner without the workshop installs it from the room first (Python {stock.python_version()}):\n"
                  f"  python3 -m venv ~/workshop-venv && ~/workshop-venv/bin/pip install {trusted}--index-url {index} "
                  "wasm-workshop\n", flush=True)
        print(room_live.watch_note(url, home), flush=True)

    def stock_room() -> None:
        stock.stock(session.workshop, home, progress=lambda msg: print(f"  … {msg}", flush=True), wheels=not args.no_wheels)

    try:
        serve(home, host, port, ready, stock=None if args.live_only else stock_room)
    except KeyboardInterrupt:
        print("The room is closed.")
    return EXIT_OK


def cmd_goto(args: argparse.Namespace) -> int:
    from workshop.room.home import RoomHome

    session = output.session(args)
    lab, _ = session.resolve(args.lab)
    RoomHome.default().goto(lab.slug)
    print(f"The room is on {lab.slug} now: learners who join start it.")
    return EXIT_OK


class Lines:
    """Progress as lines: a new line when the words change, the bytes at most once a second."""

    def __init__(self) -> None:
        self.last, self.at = "", 0.0

    def __call__(self, text: str, fraction: float | None = None) -> None:
        head = text.split(" (", 1)[0]
        now = time.monotonic()
        if head != self.last or (fraction is not None and (now - self.at > 1.0 or fraction >= 1.0)):
            self.last, self.at = head, now
            print(f"  … {text}", flush=True)


def cmd_join(args: argparse.Namespace) -> int:
    from workshop.room.join import join
    from workshop.room.seats import WHAT_IS_SENT

    session = output.session(args)
    started = time.monotonic()
    report = join(session, args.url, args.token, args.name, Lines(), prepared=args.prepared)
    phases = ", ".join(f"{name} {secs:.0f} s" for name, secs in report.seconds.items())
    print(f"Ready in {time.monotonic() - started:.0f} s ({phases}): {len(report.fetched)} file(s) from the room "
          f"({report.bytes >> 20} MB), {len(report.kept)} already here.")
    print(f"You are in the room at {args.url.rstrip('/')} as {args.name}, on lab {report.lab}.\nYour folder: {report.folder}")
    print(f"\n{WHAT_IS_SENT}")
    print("\nNext: `eval \"$(workshop shellenv)\"` for the tools, then read the lab (`workshop`), then `workshop check`.")
    return EXIT_OK


def prepare_from(args: argparse.Namespace, session: Any) -> int:
    """`workshop prepare --from URL --token T`: a join's preparation, without joining."""
    from workshop.room.client import Room
    from workshop.room.join import get_ready

    if not args.token:
        raise UsageError("--from needs the room's token too", "workshop prepare --from URL --token T")
    started = time.monotonic()
    report, _ = get_ready(session, Room(args.from_url.rstrip("/"), args.token), Lines())
    print(f"Ready in {time.monotonic() - started:.0f} s from the room: {len(report.fetched)} file(s) fetched "
          f"({report.bytes >> 20} MB), {len(report.kept)} already here; the labs now run offline.")
    return EXIT_OK


def cmd_view(args: argparse.Namespace) -> int:
    from workshop.room import roster

    if args.folder is None:
        return room_live.cmd_live_view(args)
    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: pass the folder holding the progress files or workspaces")
    if args.tui:
        from workshop.tui.room import run_room_app

        return run_room_app(folder, interval=args.interval)
    render = (lambda seats: roster.to_json(seats)) if args.json else (lambda seats: roster.table(seats, _width()))
    if not args.watch:
        print(render(roster.read_room(folder)))
        return EXIT_OK
    try:
        while True:
            seats = roster.read_room(folder)
            if not args.json:
                output.clear_screen()
            print(f"{folder}  {time.strftime('%H:%M:%S')}  {len(seats)} learner(s)  (Ctrl-C to stop)\n")
            print(render(seats), flush=True)
            time.sleep(max(0.2, args.interval))
    except KeyboardInterrupt:
        return EXIT_OK


def _width() -> int:
    import shutil

    return max(80, shutil.get_terminal_size((120, 24)).columns)
