"""`kill -9` of `honcho serve` while clients add messages and its worker reasons; then a
restart on the same data directory.

Every message the server acknowledged (201 with its id) must be in the store, and the
queue must resume by itself: the units the dead server was reasoning over are taken
over by the new one before their leases would have expired (checked on the lease
times the store recorded, not on a clock in the test), and everything completes.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import datetime

import httpx

from server_support import Server

CLIENTS = 4


def _client(base: str, name: str, acked: list[str], stop: threading.Event) -> None:
    n = 0
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            n += 1
            try:
                reply = http.post(f"{base}/messages", json={"messages": [
                    {"peer_id": name, "content": f"{name} note {n}: I moved to town {n} and bought {n} plants."}]})
            except httpx.HTTPError:
                return  # the server is gone
            if reply.status_code != 201:
                return
            acked.extend(m["id"] for m in reply.json())


def _leases(h) -> dict[str, datetime]:
    with h.store.read() as conn:
        return dict(conn.execute(
            "SELECT message_id, lease_until FROM deriver_queue WHERE status = 'in_progress'"
        ).fetchall())


def test_kill_9_of_serve_under_load_loses_no_acknowledged_message_and_the_queue_resumes(tmp_path):
    from honcho_cli import Honcho

    data, config = tmp_path / "data", tmp_path / "config"
    srv = Server(data, config)
    base = f"{srv.url}/v3/workspaces/default/sessions/busy"
    peers = {f"client{i}": {"observe_others": i == 0} for i in range(CLIENTS)}
    assert httpx.post(f"{srv.url}/v3/workspaces/default/sessions", json={"id": "busy", "peers": peers},
                      timeout=30).status_code in (200, 201)
    acked: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_client, args=(base, name, acked, stop)) for name in peers]
    for t in threads:
        t.start()
    h = Honcho(data_dir=data)
    deadline = time.monotonic() + 180
    while len(acked) < 80 and time.monotonic() < deadline:
        time.sleep(0.05)
    while not _leases(h) and time.monotonic() < deadline:  # kill it while its worker holds a unit
        time.sleep(0.01)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(timeout=30)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    srv._log.close()
    assert len(acked) >= 80, f"only {len(acked)} messages acknowledged before the kill"

    held = _leases(h)  # what the dead server was reasoning over, and until when its leases ran
    stored = {m.id for m in h.list_messages("busy")}
    missing = [i for i in acked if i not in stored]
    print(f"\nacknowledged {len(acked)}, stored {len(stored)}, lost {len(missing)}, in progress at the kill {len(held)}")
    assert not missing
    assert held, "the kill left units in progress for the restarted server to take over"

    again = Server(data, config)
    try:
        deadline = time.monotonic() + 300
        while True:
            status = httpx.get(f"{again.url}/v3/workspaces/default/queue/status", timeout=30).json()
            if status["pending_work_units"] == 0 and status["in_progress_work_units"] == 0:
                break
            assert time.monotonic() < deadline, f"the queue did not resume: {status}"
            time.sleep(0.2)
        with h.store.read() as conn:
            done = dict(conn.execute(
                "SELECT message_id, updated_at FROM deriver_queue WHERE list_contains(?, message_id)", [list(held)]
            ).fetchall())
            statuses = dict(conn.execute("SELECT status, count(*) FROM deriver_queue GROUP BY status").fetchall())
        assert statuses == {"completed": len(stored)}, statuses
        late = {m: (done[m], held[m]) for m in held if done[m] >= held[m]}
        assert not late, f"taken over only after the dead server's lease ran out: {late}"
    finally:
        again.stop_cleanly()
