"""`honcho --help` stays cheap: the engines load only inside the commands that need them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("duckdb", "lancedb", "llama_cpp", "numpy", "pyarrow")

PROBE = f"""
import json, sys
from honcho_cli.cli.app import main
helps = [["--help"], ["session", "--help"], ["session", "add-message", "--help"], ["message", "--help"],
         ["peer", "--help"], ["workspace", "--help"]]
codes = []
for argv in helps:
    try:
        main(argv)
    except SystemExit as done:
        codes.append(done.code)
heavy = sorted(name for name in {HEAVY!r} if name in sys.modules)
sys.stderr.write(json.dumps({{"codes": codes, "heavy": heavy}}) + "\\n")
"""


def test_help_does_not_import_the_engines():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["codes"] == [0] * 6, report
    assert report["heavy"] == [], f"--help imported {report['heavy']}"
    assert "add-message" in proc.stdout and "session" in proc.stdout


def test_help_through_the_console_script_lists_the_nouns(run_cli):
    result = run_cli("--help")
    assert result.code == 0
    for noun in ("workspace", "peer", "session", "message"):
        assert noun in result.stdout
