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


def test_root_help_lists_each_command_with_its_own_help_and_loads_none():
    """The root's listing comes from a table (so it imports no command module); the table
    must say what each command says of itself."""
    probe = """
import json, sys
from honcho_cli.cli.app import LAZY_COMMANDS, main
try:
    main(["--help"])
except SystemExit:
    pass
loaded = sorted(m for m, _, _ in LAZY_COMMANDS.values() if m in sys.modules)
sys.stderr.write(json.dumps(loaded) + "\\n")
"""
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == []
    from honcho_cli.cli.app import LAZY_COMMANDS, load_command

    for name, (_, _, listed) in LAZY_COMMANDS.items():
        assert f"  {name} " in proc.stdout, name
        own = load_command(name).get_short_help_str(limit=500)
        assert own == listed, f"{name}: the table says {listed!r}, the command {own!r}"


def test_non_reasoning_commands_import_no_pydantic_or_vector_engine(run_cli, h):
    """Typer 0.29 builds pydantic adapters for every parameter (~0.3 s under load); the
    pinned Typer does not. A plain read must not load LanceDB, llama.cpp, numpy or pydantic."""
    h.create_peer("alice")
    probe = """
import json, sys
from honcho_cli.cli.app import main
try:
    main(["peer", "list", "--json"])
except SystemExit as done:
    code = done.code
heavy = sorted(n for n in ("pydantic", "lancedb", "llama_cpp", "numpy", "pyarrow", "rich") if n in sys.modules)
sys.stderr.write(json.dumps({"code": code, "heavy": heavy}) + "\\n")
"""
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}, report
    assert '"alice"' in proc.stdout
