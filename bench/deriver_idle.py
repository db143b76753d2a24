"""What `honcho deriver run` costs when there is nothing to reason over.

Scripts and CI jobs call it after every batch of writes, most often with an empty
queue; it should then cost about what opening the store costs, not a model load.

    .venv/bin/python bench/deriver_idle.py                       # this checkout
    .venv/bin/python bench/deriver_idle.py --before /path/to/old  # beside another checkout's package

Whole processes, medians of --rounds, cases alternated within each round; the floor is
`python -c "import duckdb, typer"` in the same run. Prints wall, CPU, peak RSS and ratios.
Nothing here asserts.
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


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MiB) of one process; a failure stops the bench. It runs in
    the data dir's parent: from a checkout's root, `python -m` would import that checkout
    ahead of PYTHONPATH."""
    started = time.perf_counter()
    cwd = Path(env["HONCHO_DATA_DIR"]).parent
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode(errors='replace')[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", type=Path, help="another checkout's root, run from its own honcho_cli")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="honcho-idle-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_") or k in ("HONCHO_CACHE_DIR", "HONCHO_THREADS")}
    env.update(HONCHO_DATA_DIR=str(root / "data"), HONCHO_CONFIG_DIR=str(root / "config"), HONCHO_JSON="1")
    honcho = [sys.executable, "-m", "honcho_cli"]
    subprocess.run([*honcho, "peer", "create", "alice"], env={**env, "PYTHONPATH": str(REPO)}, cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    cases = {
        'floor: python -c "import duckdb, typer"': ([sys.executable, "-c", "import duckdb, typer"], env),
        "honcho deriver run (this checkout)": ([*honcho, "deriver", "run"], {**env, "PYTHONPATH": str(REPO)}),
    }
    if args.before:
        cases[f"honcho deriver run ({args.before.name})"] = ([*honcho, "deriver", "run"], {**env, "PYTHONPATH": str(args.before)})
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in cases}
    for cmd, case_env in cases.values():  # warm the page cache
        run(cmd, case_env)
    for _ in range(args.rounds):
        for name, (cmd, case_env) in cases.items():
            results[name].append(run(cmd, case_env))
    floor_wall = statistics.median(r[0] for r in results[next(iter(cases))])
    floor_cpu = statistics.median(r[1] for r in results[next(iter(cases))])
    load = os.getloadavg()
    print(f"empty queue, medians of {args.rounds}; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print("| case | wall | CPU | peak RSS | wall / floor | CPU / floor |")
    print("|---|---|---|---|---|---|")
    for name, rows in results.items():
        wall = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        rss = max(r[2] for r in rows)
        print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {rss:.0f} MiB | {wall / floor_wall:.2f}x | {cpu / floor_cpu:.2f}x |")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
