"""Copy benchmark run dirs into the repository so a later session can resume them.

SQLite files are copied with SQLite's backup API (a consistent snapshot even while a run writes
to them, WAL included); server logs are left out. Re-running a bench with `--out DST` resumes
from the snapshot: finished evaluations are reused and optimizer answers come from the cache.

    python bench/snapshot.py bench/out/lcp15c bench/results/lcp_bbh_1.5b
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path


def snapshot(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        if p.is_dir():
            snapshot(p, dst / p.name)
        elif p.suffix == ".sqlite":
            with sqlite3.connect(p) as a, sqlite3.connect(dst / p.name) as b:
                a.backup(b)
            sqlite3.connect(dst / p.name).execute("PRAGMA journal_mode=DELETE").close()
        elif p.suffix in (".json", ".md", ".txt", ".html") and "-wal" not in p.name:
            shutil.copy2(p, dst / p.name)


if __name__ == "__main__":
    snapshot(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"copied {sys.argv[1]} -> {sys.argv[2]}")
