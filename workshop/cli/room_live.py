"""`workshop room view` with no folder (the live room this machine serves) and `workshop room export`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from workshop.cli import output
from workshop.cli.exit_codes import EXIT_OK
from workshop.core.errors import UsageError

EXPORT_HELP = """\
The room's results after the workshop, in the gradebook formats `workshop grade` writes: one row per
learner, one point per step of each lab they reached (passed when their last check of it passed).
Read from the room's own database on this machine (the room need not be running).

  workshop room export --csv grades.csv --markdown summary.md --json -
"""


def add_export(rooms: Any, common: argparse.ArgumentParser) -> None:
    e = rooms.add_parser("export", help="write the room's results as CSV, JSON or Markdown (the gradebook's formats)",
                         description=EXPORT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter, parents=[common])
    e.add_argument("--csv", metavar="FILE", help="one row per learner (- for stdout)")
    e.add_argument("--json", metavar="FILE", help="every step's verdict as JSON (- for stdout)")
    e.add_argument("--markdown", metavar="FILE", help="a Markdown summary (- for stdout)")
    e.set_defaults(func=cmd_export)


def watch_note(url: str, home: Any) -> str:
    """What `room serve` says about the live view: the command, and the page for the projector."""
    from urllib.parse import quote

    from workshop.room.live import view_key

    return (f"The room, live: `workshop room view --watch` (or --tui, --json) on this machine; on the projector, open\n"
            f"  {url}/room/live#{quote(view_key(home))}\n"
            "(the browser asks for the room token as the password; the part after # is the instructor's view key:\n"
            "learners know the token, never the key)\n")


def cmd_live_view(args: argparse.Namespace) -> int:
    """The live room: once, --json, --watch (waits for each change) or --tui."""
    from workshop.room import view
    from workshop.room.watching import LiveRoom

    live = LiveRoom.here()
    if args.tui:
        from workshop.tui.room import run_live_room_app

        return run_live_room_app(live, interval=args.interval)
    render = view.to_json if args.json else (lambda v: view.text(v, _width()))
    if not args.watch:
        print(render(live.view()))
        return EXIT_OK
    print(f"The same view in a browser (for the projector; it asks for the room token): {live.page}", file=sys.stderr)
    version = None
    try:
        while True:
            data = live.view(after=version)
            version = data["version"]
            if not args.json and output.live():
                output.clear_screen()
                print(f"{live.url}  {time.strftime('%H:%M:%S')}  (Ctrl-C to stop)\n")
            print(render(data), flush=True)
    except KeyboardInterrupt:
        return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from workshop.grading import gradebook
    from workshop.room.export import grades, labs_reached
    from workshop.room.home import RoomHome
    from workshop.room.live import store_path
    from workshop.room.store import RoomStore
    from workshop.room.view import Fold

    if not (args.csv or args.json or args.markdown):
        raise UsageError("say what to write: --csv FILE, --json FILE or --markdown FILE (- for stdout)")
    home = RoomHome.default()
    path = store_path(home)
    if not path.exists():
        raise UsageError(f"no room has been served from {home.folder}: nothing to export",
                         "run it where `workshop room serve` ran (the same WORKSHOP_DATA_DIR)")
    store = RoomStore(path)
    try:
        fold = Fold()
        fold.update(store)
    finally:
        store.close()
    workshop = output.session(args).workshop
    labs = labs_reached(workshop, fold)
    found = grades(workshop, fold)
    if args.csv:
        gradebook.write(args.csv, gradebook.to_csv(found, labs))
    if args.json:
        gradebook.write(args.json, gradebook.to_json(found, source="room", labs=[lab.slug for lab in labs]))
    if args.markdown:
        gradebook.write(args.markdown, gradebook.markdown(found, labs))
    print(f"{len(found)} learner(s), {len(labs)} lab(s) exported from {Path(path)}", file=sys.stderr)
    return EXIT_OK


def _width() -> int:
    import shutil

    return max(80, shutil.get_terminal_size((120, 24)).columns)
