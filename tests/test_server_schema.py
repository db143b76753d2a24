"""Schemathesis against the server's own OpenAPI document, in process (ASGI): whatever requests
the schema allows, the server never answers 5xx, and what it answers fits its schema.

A store is seeded first with the names the schema's examples use (workspace `default`,
peers alice/bob, session s), so generated requests reach past the 404s into the routes.
Examples per operation are bounded to keep the run around a minute on two cores.
"""

from __future__ import annotations

import atexit
import random
import shutil
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from honcho_cli.client import Honcho  # noqa: E402
from honcho_cli.config import Settings  # noqa: E402
from honcho_cli.server.app import create_app  # noqa: E402

DATA = Path(tempfile.mkdtemp(prefix="honcho-schema-"))
atexit.register(shutil.rmtree, DATA, ignore_errors=True)
SETTINGS = Settings(data_dir=DATA, workspace="default", model="test-double", embedding_model=None, lock_timeout=10.0)
APP = create_app(SETTINGS, worker=False)


KNOWN: dict[str, list[str]] = {}
RNG = random.Random(20261124)


def _seed() -> None:
    """Idempotent: run again after a generated DELETE emptied the store."""
    KNOWN.pop("dirty", None)
    h = Honcho(engine=APP.state.engine, workspace="default")
    h.create_workspace("default")
    for peer in ("alice", "bob"):
        h.create_peer(peer)
    h.join_session("s", {"alice": {"observe_others": True}, "bob": {}}, create=True)
    h.update_session("s", is_active=True)
    sent = h.add_messages("s", [{"peer": "bob", "content": "I had pancakes for breakfast."},
                                {"peer": "alice", "content": "I prefer waffles."}])
    KNOWN["messages"] = [m.id for m in sent]
    KNOWN["conclusions"] = [c.id for c in h.list_conclusions()] or ["c_missing"]
    try:
        KNOWN["conclusions"].append(h.create_conclusion("alice", "bob", f"bob had pancakes {len(sent)}", session_id="s").id)
    except Exception:  # noqa: BLE001 - deleted for good by an earlier generated request
        pass


def _aim(case) -> None:
    """Most generated requests name things that exist, so they reach past the 404s
    (DELETEs less often: each one that lands means seeding the store again)."""
    if not KNOWN or KNOWN.get("dirty"):  # seeded on first use: collecting the tests stays cheap
        _seed()
    aim = 0.3 if case.method.upper() == "DELETE" else 0.85
    params = case.path_parameters or {}
    choices = {"workspace_id": ["default"], "peer_id": ["alice", "bob"], "session_id": ["s"],
               "message_id": KNOWN["messages"], "conclusion_id": KNOWN["conclusions"]}
    for name, options in choices.items():
        if name in params and RNG.random() < aim:
            params[name] = RNG.choice(options)


schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# Schemathesis' coverage phase (every boundary value of every parameter, every other HTTP method)
# alone takes ~65 s here, most of it in the store's write transactions; generated examples only.
schema.config.phases.coverage.enabled = False


@schemathesis.check
def no_server_error(ctx, response, case):
    """No 5xx, except the 501 NOT_SUPPORTED of routes the reference has and we do not (docs/http-api.md)
    — met here when a documented path is tried with another method (PUT .../card)."""
    if response.status_code == 501 and response.json().get("error", {}).get("code") == "NOT_SUPPORTED":
        return True
    if response.status_code >= 500:
        raise AssertionError(f"{response.status_code}: {response.text[:500]}")
    return None


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_no_server_error_and_responses_fit_the_schema(case):
    _aim(case)
    response = case.call_and_validate(
        checks=[no_server_error, response_schema_conformance, content_type_conformance, status_code_conformance],
        timeout=120,
    )
    if case.method.upper() == "DELETE" and response.status_code == 200:
        KNOWN["dirty"] = ["yes"]
