"""Warm tool-call latency of `honcho mcp`, through the official SDK's stdio client.

    .venv/bin/python bench/mcp_latency.py                          # test double (no model files)
    HONCHO_THREADS=1 .venv/bin/python bench/mcp_latency.py --real --repeat 10 --chat-repeat 3

A real `honcho mcp` process on a fresh temporary data dir: the seed's scenario is played
through the tools and reasoned in the server's background, every measured tool is called
once to warm it (models loaded, DuckDB file open), then timed:

- add_messages: one message per call into a room where the sender's observe_me is off,
  so no reasoning is queued and the worker stays idle (the write path alone);
- get_representation: alice's view of charlie (search-free, the default selection);
- chat: alice's view of bob, "What did Bob say about breakfast?" (the local model answers).

Floor, measured in the same run: the `list_tools` round trip (stdio + JSON-RPC + the SDK,
no store, no model). After the server has exited, the same calls are timed in-process on
the `Honcho` client (`direct`), so the MCP face's cost shows as a ratio. Medians and p90 in ms. Nothing here asserts; it prints a table and JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HONCHO = str(Path(sys.executable).parent / "honcho")
QUESTION = "What did Bob say about breakfast?"


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] * 1000, 2),
    }


async def timed(session: ClientSession, name: str, args: dict, n: int, vary=None) -> list[float]:
    out = []
    for i in range(n):
        call_args = vary(i) if vary else args
        start = time.perf_counter()
        result = await session.call_tool(name, call_args)
        out.append(time.perf_counter() - start)
        if result.is_error:
            raise SystemExit(f"{name} failed: {result.content[0].text}")
    return out


async def ok(session: ClientSession, name: str, args: dict) -> dict:
    result = await session.call_tool(name, args)
    if result.is_error:
        raise SystemExit(f"{name} failed: {result.content[0].text}")
    return result.structured_content or {}


async def run_server(env: dict[str, str], repeat: int, chat_repeat: int) -> dict:
    params = StdioServerParameters(command=HONCHO, args=["mcp"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        t0 = time.perf_counter()
        await session.initialize()
        init = time.perf_counter() - t0
        await ok(session, "create_session", {"session_id": "game-session", "peers": ["alice", "bob", "charlie"],
                                             "observe_others": ["alice"]})
        await ok(session, "add_messages", {"session_id": "game-session", "messages": [
            {"peer_id": "bob", "content": "I had pancakes for breakfast."},
            {"peer_id": "charlie", "content": "I prefer waffles."}]})
        await ok(session, "create_session", {"session_id": "game-session-2", "peers": ["alice", "charlie"],
                                             "observe_others": ["alice"]})
        await ok(session, "add_messages", {"session_id": "game-session-2", "messages": [
            {"peer_id": "charlie", "content": "I didn't have breakfast. I lied to Bob."}]})
        t0 = time.perf_counter()
        while True:
            status = await ok(session, "queue_status", {})
            if status["pending_work_units"] == 0 and status["in_progress_work_units"] == 0:
                break
            if time.perf_counter() - t0 > 900:
                raise SystemExit(f"reasoning did not finish: {status}")
            await asyncio.sleep(0.2)
        reasoned = time.perf_counter() - t0
        if status["failed_work_units"]:
            print(f"warning: {status['failed_work_units']} unit(s) failed: {status}", file=sys.stderr)
        await ok(session, "create_session", {"session_id": "bench-room", "peers": ["bob"]})
        await ok(session, "set_peer_config", {"session_id": "bench-room", "peer_id": "bob", "observe_me": False})

        def add(i: int) -> dict:
            return {"session_id": "bench-room", "messages": [{"peer_id": "bob", "content": f"Note number {i} about toast."}]}

        rep_args = {"peer_id": "alice", "target": "charlie"}
        chat_args = {"peer_id": "alice", "target": "bob", "question": QUESTION}
        # warm every path once: the first chat loads the chat model, the first add opens the file
        for name, args in (("add_messages", add(-1)), ("get_representation", rep_args), ("chat", chat_args)):
            await ok(session, name, args)
        await session.list_tools()
        floor = []
        for _ in range(repeat):
            s = time.perf_counter()
            await session.list_tools()
            floor.append(time.perf_counter() - s)
        results = {
            "initialize_s": round(init, 3),
            "seed_reasoned_s": round(reasoned, 3),
            "floor_list_tools": summary(floor),
            "add_messages": summary(await timed(session, "add_messages", {}, repeat, add)),
            "get_representation": summary(await timed(session, "get_representation", rep_args, repeat)),
            "chat": summary(await timed(session, "chat", chat_args, chat_repeat)),
        }
        view = await session.call_tool("get_representation", rep_args)
        answer = await session.call_tool("chat", chat_args)
        results["sample"] = {"alice_view_of_charlie": view.content[0].text, "chat_answer": answer.content[0].text}
    return results


def direct(data_dir: str, repeat: int, chat_repeat: int) -> dict:
    """The same calls in-process on the Honcho client (no MCP); the chat model is loaded
    and asked once before timing, like the server's."""
    from honcho_cli import Honcho

    h = Honcho(data_dir=data_dir)
    h.representation("alice", "charlie")
    h.chat("alice", QUESTION, target="bob")
    chats = []
    for _ in range(chat_repeat):
        s = time.perf_counter()
        h.chat("alice", QUESTION, target="bob")
        chats.append(time.perf_counter() - s)
    adds, reps = [], []
    for i in range(repeat):
        s = time.perf_counter()
        h.add_messages("bench-room", [{"peer": "bob", "content": f"Direct note {i} about toast."}])
        adds.append(time.perf_counter() - s)
    for _ in range(repeat):
        s = time.perf_counter()
        h.representation("alice", "charlie")
        reps.append(time.perf_counter() - s)
    return {"add_messages": summary(adds), "get_representation": summary(reps), "chat": summary(chats)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", action="store_true", help="the configured llama.cpp models instead of the test double")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--chat-repeat", type=int, default=None, help="chat calls (default: --repeat)")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="honcho-mcp-bench-")
    data_dir = os.path.join(root, "data")
    env = {
        **{k: v for k, v in os.environ.items() if k in ("HONCHO_CACHE_DIR", "HONCHO_THREADS", "HONCHO_EMBEDDING_MODEL")},
        "HONCHO_DATA_DIR": data_dir,
        "HONCHO_CONFIG_DIR": os.path.join(root, "config"),
    }
    if not args.real:
        env["HONCHO_MODEL"] = "test-double"
    elif os.environ.get("HONCHO_MODEL"):
        env["HONCHO_MODEL"] = os.environ["HONCHO_MODEL"]
    os.environ.update({k: v for k, v in env.items() if k.startswith("HONCHO_")})
    mcp = asyncio.run(run_server(env, args.repeat, args.chat_repeat or args.repeat))
    results = {"model": "real (configured)" if args.real else "test-double", "threads": os.environ.get("HONCHO_THREADS"),
               "mcp": mcp, "direct": direct(data_dir, args.repeat, args.chat_repeat or args.repeat)}
    floor = mcp["floor_list_tools"]["p50_ms"]
    print(f"{'call':<20}{'p50 ms':>10}{'p90 ms':>10}{'x floor':>10}{'direct p50':>12}{'x direct':>10}")
    for name in ("floor_list_tools", "add_messages", "get_representation", "chat"):
        row = mcp[name]
        d = results["direct"].get(name)
        print(f"{name:<20}{row['p50_ms']:>10}{row['p90_ms']:>10}{row['p50_ms'] / floor:>10.1f}"
              + (f"{d['p50_ms']:>12}{row['p50_ms'] / d['p50_ms']:>10.2f}" if d else ""))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
