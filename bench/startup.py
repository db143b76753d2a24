"""Cold commands against their floor: whole `honcho` processes beside bare imports, same run.

    .venv/bin/python bench/startup.py                 # 9 rounds
    .venv/bin/python bench/startup.py --rounds 15 --keep /tmp/startup-store

A round runs every command once, in the same order, so a floor and the commands measured
against it share the machine's state; the table gives per-command medians over the rounds
of wall time and of CPU time (user + system of that process alone, from wait4), and the
ratio of each median to its floor's median. CPU time is the steadier figure on a shared
machine.

Floors: `python -c "import typer"` for `--help`; `python -c "import duckdb, typer"` for
every command that neither reasons nor searches by meaning (target 2x); the no-query
`representation` call for the one with `--search-query` (target 3x).

The store: the seed's scenario plus 300 conclusions in alice -> bob embedded with the
real embedder (bench/representation.py's small store), so `--search-query` loads MiniLM.
Nothing here asserts; it prints a table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

PYTHON = str(REPO / ".venv" / "bin" / "python")
HONCHO = str(REPO / ".venv" / "bin" / "honcho")

FLOORS = {
    "typer": [PYTHON, "-c", "import typer"],
    "duckdb+typer": [PYTHON, "-c", "import duckdb, typer"],
}

# (name, argv after `honcho`, floor name, target ratio)
COMMANDS = [
    ("--help", ["--help"], "typer", 1.3),
    ("session add-message", ["session", "add-message", "game-session", "--peer", "bob", "I walked the dog."], "duckdb+typer", 2.0),
    ("representation alice --target bob", ["representation", "alice", "--target", "bob"], "duckdb+typer", 2.0),
    ("peer list", ["peer", "list"], "duckdb+typer", 2.0),
    ("session list", ["session", "list"], "duckdb+typer", 2.0),
    ("message list --session game-session --last 20", ["message", "list", "--session", "game-session", "--last", "20"], "duckdb+typer", 2.0),
    ("conclusion list --observer alice --limit 20", ["conclusion", "list", "--observer", "alice", "--limit", "20"], "duckdb+typer", 2.0),
    ("peer card alice --target bob", ["peer", "card", "alice", "--target", "bob"], "duckdb+typer", 2.0),
    ("deriver status", ["deriver", "status"], "duckdb+typer", 2.0),
    ("session context game-session --tokens 500", ["session", "context", "game-session", "--tokens", "500"], "duckdb+typer", 2.0),
    ("message search pancakes --mode fulltext", ["message", "search", "pancakes", "--mode", "fulltext"], "duckdb+typer", 2.0),
    ("representation alice --target bob --search-query breakfast",
     ["representation", "alice", "--target", "bob", "--search-query", "breakfast"],
     "representation alice --target bob", 3.0),
]


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one process; a failure stops the bench."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the store here instead of a temp dir")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="honcho-startup-"))
    store = root / "small"
    if not (store / "honcho.duckdb").exists():
        from representation import build_small_store  # bench/representation.py

        seconds = build_small_store(store)
        print(f"store built in {seconds:.1f} s", file=sys.stderr)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_") or k in ("HONCHO_CACHE_DIR", "HONCHO_THREADS")}
    env.update(HONCHO_DATA_DIR=str(store), HONCHO_JSON="1", HONCHO_CONFIG_DIR=str(root / "config"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed honcho has its bytecode cached, as typer and duckdb do

    plan = [(name, cmd) for name, cmd in FLOORS.items()] + [(name, [HONCHO, *argv]) for name, argv, _, _ in COMMANDS]
    for _, cmd in plan:  # warm the page cache and the FTS snapshot once
        run(cmd, env)
    walls: dict[str, list[float]] = {name: [] for name, _ in plan}
    cpus: dict[str, list[float]] = {name: [] for name, _ in plan}
    for _ in range(args.rounds):
        for name, cmd in plan:
            wall, cpu = run(cmd, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    med = {name: statistics.median(v) for name, v in walls.items()}
    cmed = {name: statistics.median(v) for name, v in cpus.items()}

    load = os.getloadavg()
    print(f"\ncold processes, medians of {args.rounds} rounds; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print("| command | wall | CPU | floor | floor wall | floor CPU | wall ratio | CPU ratio | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in FLOORS:
        print(f"| `python -c \"import {name.replace('+', ', ')}\"` | {med[name]:.3f} s | {cmed[name]:.3f} s | | | | | | |")
    for name, _, floor, target in COMMANDS:
        print(f"| `honcho {name}` | {med[name]:.3f} s | {cmed[name]:.3f} s | {floor} | {med[floor]:.3f} s | "
              f"{cmed[floor]:.3f} s | {med[name] / med[floor]:.2f}x | {cmed[name] / cmed[floor]:.2f}x | <= {target}x |")
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
