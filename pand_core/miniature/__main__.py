"""`python -m pand_core.miniature build`: pretrain the miniature's teacher and upstream student with the shipped
recipes and write them as the shipped, hash-recorded weights (`pand_core/miniature/weights/`, `shipped.py`).

`python -m pand_core.miniature check` verifies the shipped files against the recorded hashes and prints where they
came from. On two CPU cores the build takes about the pretraining times recorded in each `pretraining.json`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..infra.errors import exit_status


def main(argv: list[str] | None = None, prog: str = "python -m pand_core.miniature") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="pretrain and write the shipped weights (and their hashes)")
    b.add_argument("--only", choices=["teacher", "student"], default=None, help="build one of the two")
    b.add_argument("--dest", default=None, help="write here instead of the package (no hashes recorded)")
    b.add_argument("--cache", default=None, help="where pretrained teachers are cached (default: $PAND_CACHE)")
    c = sub.add_parser("check", help="verify the shipped weights against the recorded SHA-256")
    c.add_argument("--report", default=None, help="also write a Markdown table of the shipped files here")
    args = p.parse_args(argv)

    def run() -> None:
        from . import artifacts

        if args.command == "check":
            for name in (artifacts.TEACHER_FILE, artifacts.STUDENT_FILE):
                path = artifacts.verified_path(name)
                log = artifacts.shipped_log(name)
                env = log.get("environment", {})
                print(f"ok  {path}  sha256 {artifacts.shipped_record(name)['sha256'][:16]}…  pretrained in "
                      f"{log['train_time_s'] / 60:.1f} min on {env.get('cpu_count')} CPU cores ({env.get('device')}, "
                      f"torch {env.get('torch')}, {env.get('time_utc')})")
            if args.report:
                Path(args.report).write_text(artifacts.shipped_markdown())
                print(f"wrote {args.report}")
            return
        from ..infra.paths import default_cache

        what = (args.only,) if args.only else ("teacher", "student")
        root = Path(args.dest) if args.dest else artifacts.WEIGHTS_DIR
        from . import ship

        entries = ship.build(Path(args.cache) if args.cache else default_cache(), root, what)
        built = {"teacher": artifacts.TEACHER_FILE, "student": artifacts.STUDENT_FILE}
        for name, entry in ((built[w], entries[built[w]]) for w in what):
            print(f"wrote {root / name}  {entry['bytes'] / 2**20:.1f} MiB  sha256 {entry['sha256']}")
        if root == artifacts.WEIGHTS_DIR:
            print(f"recorded in {artifacts.RECORD_FILE}")

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
