"""The deriver: turns queued messages into grounded conclusions in the right collections.

One loop step: claim a unit (short write), extract facts with the model while the
store is closed, ground and embed them, then in one more short write check the
lease is still ours and record the facts in every witness collection of the unit.
Extraction runs once per unit however many observers it has; which collections
receive the result was fixed when the messages were created, never by the model's
output, so nothing a message says can move a fact into another peer's view.
"""

from __future__ import annotations

import time
from datetime import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from honcho_cli.core import conclusions as conclusions_core
from honcho_cli.core import messages as messages_core
from honcho_cli.core import queue
from honcho_cli.errors import HonchoError, ModelError
from honcho_cli.reasoning import prompts
from honcho_cli.reasoning.dates import absolutize
from honcho_cli.reasoning.grounding import (
    Line, ground, is_question, sentences, speaks_for_self, statements, uncovered,
)
from honcho_cli.reasoning.phrasing import phrase_note, phrased_by_rule, plain_first_person

if TYPE_CHECKING:
    from honcho_cli.client import Honcho
    from honcho_cli.engine import Engine
    from honcho_cli.reasoning.interfaces import ChatModel, Embedder
    from honcho_cli.store.vectors import VectorIndex


@dataclass
class Fact:
    content: str
    source_message_ids: list[str]
    embedding: list[float] | None
    said_at: datetime | None = None  # when the source message was written: the conclusion's date
    speaker: str = ""  # whom it is about: the speaker of the line it was tied to


@dataclass
class UnitResult:
    session_id: str
    observed: str
    observers: list[str]
    messages: int
    tokens: int
    outcome: str  # completed | retry | failed | lost
    stored: int = 0
    dropped: int = 0
    new: int = 0
    reinforced: int = 0
    suppressed: int = 0
    seconds: float = 0.0
    error: str | None = None
    dropped_facts: list[str] = field(default_factory=list)


@dataclass
class RunStats:
    units: int = 0
    messages: int = 0
    tokens: int = 0
    stored: int = 0
    dropped: int = 0
    failed: int = 0
    retried: int = 0
    summaries: int = 0
    consolidations: int = 0
    seconds: float = 0.0
    # units left in progress under other live workers when the run ended (see run(wait=...))
    held_elsewhere: list[dict] = field(default_factory=list)

    def add(self, result: UnitResult) -> None:
        self.units += 1
        if result.outcome == "completed":  # a retried, failed or lost unit reasoned over nothing
            self.messages += result.messages
            self.tokens += result.tokens
        self.stored += result.stored
        self.dropped += result.dropped
        self.failed += result.outcome == "failed"
        self.retried += result.outcome == "retry"

    def to_dict(self) -> dict:
        out = dict(self.__dict__)
        out["messages_per_second"] = round(self.messages / self.seconds, 3) if self.seconds else None
        return out


def _addressee(lines: list, index: int) -> str | None:
    """Whom line `index` most likely speaks to: the nearest other speaker before it, else after it."""
    speaker = lines[index].peer_id
    for j in [*range(index - 1, -1, -1), *range(index + 1, len(lines))]:
        if lines[j].peer_id != speaker:
            return lines[j].peer_id
    return None


def _observers_of(fact: Fact, unit: queue.WorkUnit) -> list[str]:
    """Everyone who witnessed at least one of the fact's source lines (fixed when each was written)."""
    return sorted({o for m in fact.source_message_ids for o in unit.witnesses.get(m, ())})


class Deriver:
    def __init__(
        self,
        source: Engine | Honcho,
        chat: ChatModel,
        embedder: Embedder | None,
        vectors: VectorIndex | None = None,
        *,
        workspace_id: str | None = None,
        worker_id: str | None = None,
        all_workspaces: bool = False,
        summaries: bool = True,
        consolidation: bool = False,
    ) -> None:
        """`source`: the data directory's Engine, or a Honcho client on it (its engine
        and workspace are used). `open_deriver` fills in the engine's own models."""
        self.engine = getattr(source, "engine", source)
        self.honcho = self.engine  # what the steps below read `.store` from
        self.chat = chat
        self.embedder = embedder
        self.vectors = vectors
        self.worker_id = worker_id or queue.new_worker_id()
        workspace_id = workspace_id or getattr(source, "workspace", None) or self.engine.settings.workspace
        self.workspace_id = None if all_workspaces else workspace_id
        self.summaries = summaries
        self._failed_summaries: set[tuple] = set()
        self.consolidation = consolidation
        self._consolidated: set[tuple] = set()  # one pass per collection per run

    # -- one unit ---------------------------------------------------------------

    def extract(self, unit: queue.WorkUnit) -> tuple[list[Fact], list[str], dict[str, list[float]]]:
        """Model calls, grounding and embedding for one unit; touches no database.

        Each claimed line that states something is read once, on its own (with the
        question it answers, if any). Returns the kept facts, the dropped notes with
        their reasons, and the vectors of the unit's messages (for semantic message search).
        """
        lines = unit.lines
        citable = {m.id for m in unit.messages if unit.witnesses.get(m.id)}
        grounding_lines: list[Line] = []
        notes: list[tuple[int, str]] = []
        answers: dict[str, list[str]] = {}
        peer_names = frozenset(p.lower() for p in {*unit.session_peers, *(m.peer_id for m in lines)})
        for j, message in enumerate(lines):
            before = lines[j - 1] if j else None
            question = ""
            if before is not None and before.peer_id != message.peer_id:
                question = " ".join(s for s in sentences(before.content) if is_question(s))
            said = statements(message.content, answers_a_question=bool(question))
            grounding_lines.append(Line(message.peer_id, said, question))
            if message.id not in citable or not said:
                continue
            by_rule = [phrased_by_rule(s) for s in said]
            notes.extend((j, plain) for plain in by_rule if plain is not None)
            to_read = [s for s, plain in zip(said, by_rule) if plain is None]
            answering = question if to_read and not speaks_for_self(to_read[0]) else ""
            for i, piece in enumerate(prompts.pieces(" ".join(to_read)) if to_read else ()):
                prompt = prompts.line_prompt(message.peer_id, [piece], answering if i == 0 else "")
                if prompt not in answers:  # the same words again in this window are not read twice
                    answer = self.chat.complete(
                        prompts.EXTRACTION_INSTRUCTIONS, prompt, max_tokens=prompts.note_budget(sentences(piece)),
                        examples=prompts.EXAMPLES,
                    )
                    answers[prompt] = prompts.parse_notes(answer)
                    if not answers[prompt] and not prompts.says_nothing(answer):
                        raise ModelError("the model's answer has no notes, one per line", answer=answer[:300])
                notes.extend((j, text) for text in answers[prompt])
            # what the model left out of a plain first-person line is still kept, put in the third person by rule
            written = [text for index, text in notes if index == j]
            for sentence in uncovered(said, written, peer_names):
                plain = plain_first_person(sentence)
                if plain is not None:
                    notes.append((j, plain))
        notes = list(dict.fromkeys(notes))
        peers = peer_names
        similarities = None
        message_vectors: dict[str, list[float]] = {}
        if self.embedder is not None:
            vectors = self.embedder.embed([text for _, text in notes] + [m.content for m in lines])
            note_vectors, line_vectors = vectors[: len(notes)], vectors[len(notes) :]
            message_vectors = {m.id: [float(x) for x in v] for m, v in zip(lines, line_vectors) if m.id in citable}
            if notes:
                similarities = (note_vectors @ line_vectors.T).tolist()
        report = ground(
            notes, grounding_lines, peers=peers, similarities=similarities, copied_words=prompts.example_words()
        )
        kept: dict[tuple[str, str], Fact] = {}
        for grounded in report.kept:
            source = lines[grounded.line]
            note = phrase_note(
                grounded.note, source.peer_id, peers, grounded.retold, _addressee(lines, grounded.line), grounded.sentence
            )
            if note is None:
                report.dropped.append(f"{grounded.note} (the speaker stands where someone else was)")
                continue
            content = absolutize(note, source.created_at)
            key = (source.peer_id, " ".join(content.lower().split()))
            ids = [lines[j].id for j in grounded.supporting if lines[j].id in citable]
            if key in kept:  # two notes that say the same: one fact, every source
                kept[key].source_message_ids = list(dict.fromkeys(kept[key].source_message_ids + ids))
                continue
            kept[key] = Fact(content, ids, None, source.created_at, speaker=source.peer_id)
        facts = list(kept.values())
        if self.embedder is not None and facts:
            for fact, vector in zip(facts, self.embedder.embed([f.content for f in facts])):
                fact.embedding = [float(x) for x in vector]
        return facts, report.dropped, message_vectors

    def process_one(self, message_ids: list[str] | None = None) -> UnitResult | None:
        with self.honcho.store.write() as conn:
            unit = queue.claim_unit(conn, self.worker_id, workspace_id=self.workspace_id, message_ids=message_ids)
        if unit is None:
            return None
        started = time.perf_counter()
        result = UnitResult(
            unit.session_id, ",".join(unit.speakers), unit.observers, len(unit.messages), unit.tokens, "completed"
        )
        try:
            with queue.keep_leased(self.honcho.store, unit):  # a heartbeat renews the lease while the model works
                facts, dropped, message_vectors = self.extract(unit)
        except HonchoError as exc:
            with self.honcho.store.write() as conn:
                status = queue.release_unit(conn, unit, f"{exc.code}: {exc.message}")
            result.outcome = "failed" if status == "failed" else "retry"
            result.error = exc.message
            result.seconds = time.perf_counter() - started
            return result
        except Exception as exc:  # a bug or a native error: stop loudly, but leave no lease behind
            with self.honcho.store.write() as conn:
                queue.release_unit(conn, unit, f"INTERNAL: {type(exc).__name__}: {exc}")
            raise
        changed_ids: list[str] = []
        with self.honcho.store.write() as conn:
            if not queue.still_leased(conn, unit):
                result.outcome = "lost"
                result.seconds = time.perf_counter() - started
                return result
            for fact in facts:
                for observer in _observers_of(fact, unit):
                    recorded = conclusions_core.record_conclusion(
                        conn, unit.workspace_id, observer, fact.speaker, fact.content,
                        session_id=unit.session_id,
                        source_message_ids=[m for m in fact.source_message_ids if observer in unit.witnesses.get(m, ())],
                        embedding=fact.embedding, now=fact.said_at,
                    )
                    setattr(result, recorded.outcome, getattr(result, recorded.outcome) + 1)
                    if recorded.embedding is not None:
                        changed_ids.append(recorded.id)
            per_message: dict[str, int] = {}
            for fact in facts:
                for message_id in fact.source_message_ids:
                    per_message[message_id] = per_message.get(message_id, 0) + 1
            queue.finish_unit(conn, unit, extracted=per_message, dropped=len(dropped))
            messages_core.store_embeddings(conn, unit.workspace_id, message_vectors)
        self.catch_up_index()
        result.stored = len(facts)
        result.dropped = len(dropped)
        result.dropped_facts = dropped
        result.seconds = time.perf_counter() - started
        return result

    def summarize_one(self) -> bool:
        """Write one due session summary, if any; the store is closed while the model writes."""
        from honcho_cli.core import summaries
        from honcho_cli.reasoning.summarizer import summarize

        with self.honcho.store.read() as conn:
            jobs = [
                job for job in summaries.due_jobs(conn, self.workspace_id, limit=len(self._failed_summaries) + 1)
                if (job.workspace_id, job.session_id, job.kind, job.upto_seq) not in self._failed_summaries
            ]
        if not jobs:
            return False
        job = jobs[0]
        try:
            text = summarize(self.chat, job)
        except HonchoError:
            self._failed_summaries.add((job.workspace_id, job.session_id, job.kind, job.upto_seq))
            return True  # not written; skipped for the rest of this run, tried again by the next
        with self.honcho.store.write() as conn:
            summaries.save(conn, job, text)
        return True

    def consolidate_one(self, *, min_new: int = 2, only: tuple[str | None, str | None] = (None, None)) -> UnitResult | None:
        """One consolidation pass over a collection with new conclusions, if any is due.

        `only` = (observer, observed) narrows the candidates; None matches any.
        """
        from honcho_cli.core import consolidation as plan
        from honcho_cli.reasoning.consolidation import consolidate

        with self.honcho.store.read() as conn:
            due = [
                c for c in plan.due_collections(conn, self.workspace_id, min_new=min_new)
                if c not in self._consolidated and only[0] in (None, c[1]) and only[1] in (None, c[2])
            ]
            if not due:
                return None
            job = plan.build_job(conn, *due[0])
        self._consolidated.add(due[0])
        started = time.perf_counter()
        result = UnitResult("", job.observed, [job.observer], 0, 0, "completed")
        try:
            outcome = consolidate(self.chat, job)
        except HonchoError as exc:
            result.outcome, result.error = "failed", exc.message
            return result
        vectors = self.embedder.embed([d.content for d in outcome.kept]) if self.embedder and outcome.kept else None
        changed: list[str] = []
        with self.honcho.store.write() as conn:
            for i, derived in enumerate(outcome.kept):
                recorded = conclusions_core.record_conclusion(
                    conn, job.workspace_id, job.observer, job.observed, derived.content, level=derived.level,
                    session_id=derived.session_id, source_message_ids=derived.source_message_ids,
                    premise_ids=derived.premise_ids, embedding=None if vectors is None else [float(x) for x in vectors[i]],
                )
                setattr(result, recorded.outcome, getattr(result, recorded.outcome) + 1)
                if recorded.embedding is not None:
                    changed.append(recorded.id)
            plan.mark_consolidated(conn, job)
        if changed:
            self.catch_up_index()
        result.stored, result.dropped, result.dropped_facts = len(outcome.kept), len(outcome.dropped), outcome.dropped
        result.seconds = time.perf_counter() - started
        return result

    def catch_up_index(self, *, until_done: bool = False) -> None:
        """After a commit: the vector index follows DuckDB (store/index_sync). Rows it cannot
        take now stay marked pending, and searches read them from DuckDB meanwhile."""
        if self.vectors is None:
            return
        from honcho_cli.store import index_sync

        if until_done:
            index_sync.catch_up(self.honcho.store, self.vectors.path, index=self.vectors, until_done=True)
        else:
            index_sync.catch_up_after_write(self.honcho.store, self.vectors.path, index=self.vectors)

    # -- the loop ----------------------------------------------------------------

    def _others_hold(self, message_ids: list[str]) -> bool:
        with self.honcho.store.read() as conn:
            return queue.unfinished(conn, message_ids) > 0

    def _held_elsewhere(self) -> list[dict]:
        """Live workers' units (a dead worker's are given back by the next claim, so not here)."""
        with self.honcho.store.read() as conn:
            held = queue.held_elsewhere(conn, self.workspace_id, besides=self.worker_id)
        return [{**h, "lease_until": h["lease_until"].isoformat() if h["lease_until"] else None} for h in held]

    def pending_units_hint(self) -> int:
        """Messages waiting (an upper bound on units), for progress bars."""
        with self.honcho.store.read() as conn:
            clause, params = ("", []) if self.workspace_id is None else (" AND workspace_id = ?", [self.workspace_id])
            return conn.execute(
                f"SELECT count(*) FROM deriver_queue WHERE status IN ('pending', 'in_progress'){clause}", params
            ).fetchone()[0]

    def run(
        self,
        *,
        limit: int | None = None,
        follow: bool = False,
        message_ids: list[str] | None = None,
        poll_seconds: float = 1.0,
        on_unit: Callable[[UnitResult], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        wait: bool = False,
    ) -> RunStats:
        """Process units until the queue is empty (or `limit` units, or forever with `follow`).

        It never stops while a unit could be claimed: a dead worker's is claimable at once.
        Units that live workers elsewhere hold are listed in `held_elsewhere`; with `wait`,
        the run waits for them (and takes over any whose worker dies or stalls).
        """
        stats = RunStats()
        started = time.perf_counter()
        self.catch_up_index(until_done=True)  # whatever an earlier process committed but did not index
        while limit is None or stats.units < limit:
            if should_stop is not None and should_stop():
                break
            result = self.process_one(message_ids)
            if result is None and message_ids is not None and self._others_hold(message_ids):
                time.sleep(poll_seconds)  # another worker is on them: wait for it (or its lease to lapse)
                continue
            if result is None:
                if self.summaries and message_ids is None and self.summarize_one():
                    stats.summaries += 1
                    continue
                if self.consolidation and message_ids is None:
                    dreamt = self.consolidate_one()
                    if dreamt is not None:
                        stats.consolidations += 1
                        stats.stored += dreamt.stored
                        stats.dropped += dreamt.dropped
                        continue
                if not follow:
                    held = self._held_elsewhere()
                    if held and wait:
                        time.sleep(poll_seconds)
                        continue
                    stats.held_elsewhere = held
                    break
                time.sleep(poll_seconds)
                continue
            stats.add(result)
            if on_unit is not None:
                on_unit(result)
        self.catch_up_index(until_done=True)
        stats.seconds = time.perf_counter() - started
        return stats


class OnFirstUse:
    """Stands in for one of the engine's models (or its vector index) and loads it on
    first use, so a run with nothing to read loads nothing: an empty `deriver run` took
    6 s and 880 MB loading the chat model (~1 s), the embedder (~0.7 s) and LanceDB
    (~2.7 s) it never used. `known` attributes (the index's path) answer without loading."""

    def __init__(self, load: Callable[[], object], **known: object) -> None:
        self._load = load
        self._loaded: object | None = None
        self.__dict__.update(known)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__") or name in ("_load", "_loaded"):
            raise AttributeError(name)
        return getattr(self.resolve(), name)

    def resolve(self) -> object:
        """The model (or index) itself, loaded now if it was not yet."""
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded


def open_deriver(
    source: Engine | Honcho,
    *,
    workspace_id: str | None = None,
    all_workspaces: bool = False,
    with_vectors: bool = True,
    **options: bool,
) -> Deriver:
    """The deriver on the engine's own models and vector index, each loaded when first needed.

    What can be refused is refused here, before any work is claimed: a model file that is
    not on disk, an embedding model other than the one that made the store's vectors.
    """
    from honcho_cli.reasoning.backends import check_models_present

    engine = getattr(source, "engine", source)
    check_models_present(engine.settings)
    engine.check_embedding_model()
    embedder = OnFirstUse(engine.embedder)
    vectors = OnFirstUse(lambda: engine.vectors(embedder.dimensions), path=engine.settings.vectors_path) if with_vectors else None
    return Deriver(
        source, OnFirstUse(engine.chat_model), embedder, vectors, workspace_id=workspace_id, all_workspaces=all_workspaces,
        **options,
    )
