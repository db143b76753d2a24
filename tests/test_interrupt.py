"""Ctrl-C ends any command quietly with exit code 130, even inside a DuckDB query.

DuckDB notices the interrupt itself and raises `RuntimeError: Query interrupted`
chained to the KeyboardInterrupt; a `deriver run --follow` stopped this way once
printed a traceback in CI.
"""

import signal
import subprocess
import sys
import time

from conftest import HONCHO, takes_ctrl_c

# A real process, a real DuckDB query that runs for minutes, and a real SIGINT. The
# deriver command is swapped for the query so the signal lands inside DuckDB every time.
SCRIPT = """
import sys, duckdb
import honcho_cli.cli.deriver as deriver_cli

def long_query(**_):
    conn = duckdb.connect(config={"threads": 1})
    print("querying", flush=True)
    conn.execute("select count(*) from range(100000000000) a, range(100000) b")

deriver_cli.run_deriver = long_query
from honcho_cli.cli.app import main
main(["deriver", "run", "--follow"])
"""


def test_ctrl_c_inside_a_duckdb_query_exits_130_without_a_traceback(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"HONCHO_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}, preexec_fn=takes_ctrl_c)
    assert proc.stdout.readline().strip() == "querying"
    time.sleep(1.0)
    # DuckDB looks for the interrupt between pieces of work; a user whose first Ctrl-C goes
    # unnoticed presses it again, and so does this test (one query thread makes it rare)
    for _ in range(12):
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=5)
            break
        except subprocess.TimeoutExpired:
            continue
    else:
        proc.kill()
        raise AssertionError("the process ignored a minute of Ctrl-C")
    assert "Traceback" not in err, err
    assert proc.returncode == 130, (proc.returncode, out, err)


def test_one_ctrl_c_stops_a_following_deriver(h, tmp_path):
    """`deriver run --follow` polls the store every second; one SIGINT, wherever it lands
    (in a query, in the sleep between polls), ends it with 130 and no traceback."""
    import os


    env = {**os.environ, "HONCHO_DATA_DIR": str(h.settings.data_dir), "HONCHO_MODEL": "test-double"}
    for delay in (2.0, 2.3, 2.6, 2.9):
        proc = subprocess.Popen([*HONCHO, "deriver", "run", "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env, preexec_fn=takes_ctrl_c)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f"one Ctrl-C did not stop the follower (sent {delay}s after start)") from None
        assert "Traceback" not in err, err
        assert proc.returncode == 130, (proc.returncode, out, err)
