"""LoCoMo question answering: honcho's memory against the same model reading the conversation.

For each LoCoMo sample: a fresh data dir, the two speakers as peers, each `session_N`
as a session with both of them, the turns in order with `created_at` taken from
`session_N_date_time` (turn i of a session is i seconds after its start), then the
deriver runs until its queue is empty. Each question is then answered twice with the
same local model:

- memory: honcho's dialectic over the conclusions the deriver wrote;
- baseline: the conversation itself as the prompt (truncated from the start to fit
  `--baseline-ctx` tokens), conversation first and question last so llama.cpp reuses
  the conversation's KV cache and pays its prefill once per sample.

Scoring is the dataset's official QA score (snap-research/locomo, task_eval/evaluation.py):
token F1 after normalisation and Porter stemming (nltk's PorterStemmer, as the
official script; `pip install -e ".[bench]"`), partial F1 over comma-split
sub-answers for category 1, only the first ';' alternative of a category-3 answer,
and for category 5 a 1 when the prediction says "no information available" or
"not mentioned", else 0.

Design choices (see also the printed notes):
- Who asks: LoCoMo questions are about the speakers, so honcho is asked for the
  self view of the speaker the question names ((X, X): everything concluded about X,
  whoever said it in front of whom). A question naming both speakers, or neither, gets
  both self views merged (alternating, capped at the reasoning level's size).
- "I don't know." (honcho's answer when memory holds nothing relevant, and the
  baseline's instructed answer) is scored as "Not mentioned in the conversation", the
  dataset's own wording for the adversarial category (its GPT runs offer
  "(a) Not mentioned in the conversation" as a choice). Both systems get this mapping.
- The question text is the dataset's, for both systems; no category-specific hints
  (the official GPT runs add a date hint to category 2 and turn category 5 into a
  multiple choice, which tells the model the category).
- `--answer-style short` (default) asks both systems for a short phrase, as the
  official prompt does; the memory side shows the instruction to the model only,
  not to retrieval. `native` uses `Honcho.chat` untouched (one or two sentences).

Run from the repository root, e.g.:
    .venv/bin/python bench/locomo.py --samples 1 --questions 60 --out /tmp/locomo.json
"""

from __future__ import annotations

import argparse
import json
import math
import re
import string
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "locomo-dev.json"

CATEGORY_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
NOT_MENTIONED = "Not mentioned in the conversation"

# --------------------------------------------------------------------------- scoring

_STEMMER = None


def _stem(word: str) -> str:
    global _STEMMER
    if _STEMMER is None:
        try:
            from nltk.stem import PorterStemmer
        except ImportError:  # pragma: no cover - the bench extra declares it
            raise SystemExit(
                "the LoCoMo scorer needs nltk's PorterStemmer, as the official script: pip install -e \".[bench]\""
            ) from None
        _STEMMER = PorterStemmer()
    return _STEMMER.stem(word)


def normalize_answer(text: Any) -> str:
    """Official normalisation: drop commas, lower-case, strip punctuation, drop a/an/the/and."""
    s = str(text).replace(",", "")
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the|and)\b", " ", s)
    return " ".join(s.split())


def answer_tokens(text: Any) -> list[str]:
    return [_stem(w) for w in normalize_answer(text).split()]


def f1_score(prediction: Any, ground_truth: Any) -> float:
    """Token F1 between stemmed, normalised bags of words."""
    pred = answer_tokens(prediction)
    gold = answer_tokens(ground_truth)
    common = Counter(pred) & Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(gold)
    return 2 * precision * recall / (precision + recall)


def partial_f1(prediction: Any, ground_truth: Any) -> float:
    """Category 1: mean over the comma-split gold parts of the best F1 against any predicted part."""
    preds = [p.strip() for p in str(prediction).split(",")]
    golds = [g.strip() for g in str(ground_truth).split(",")]
    return sum(max(f1_score(p, g) for p in preds) for g in golds) / len(golds)


def says_not_available(prediction: Any) -> bool:
    low = str(prediction).lower()
    return "no information available" in low or "not mentioned" in low


def score_answer(category: int, prediction: Any, answer: Any) -> float:
    """The official per-question score for one category."""
    if category == 5:
        return 1.0 if says_not_available(prediction) else 0.0
    gold = str(answer)
    if category == 3:
        gold = gold.split(";")[0].strip()
    if category in (2, 3, 4):
        return f1_score(prediction, gold)
    if category == 1:
        return partial_f1(prediction, gold)
    raise ValueError(f"unknown LoCoMo category {category!r}")


_DONT_KNOW = re.compile(r"\b(i\s+(?:don'?t|do\s+not)\s+know)\b")


def to_dataset_convention(answer: str) -> str:
    """Our "I don't know." is the dataset's "Not mentioned in the conversation"; anything else as is."""
    text = (answer or "").strip()
    if not text or _DONT_KNOW.search(text.lower().replace("\u2019", "'")):
        return NOT_MENTIONED
    return text


# --------------------------------------------------------------------------- data


@dataclass
class Turn:
    speaker: str
    text: str
    dia_id: str
    created_at: datetime


@dataclass
class LocomoSession:
    number: int
    date_time: str
    started: datetime
    turns: list[Turn]

    @property
    def session_id(self) -> str:
        return f"session_{self.number}"


@dataclass
class Question:
    index: int
    question: str
    category: int
    answer: Any
    evidence: list[str] = field(default_factory=list)


def parse_session_date(text: str) -> datetime:
    """LoCoMo's '1:56 pm on 8 May, 2023' as a naive datetime (taken as UTC)."""
    cleaned = " ".join(text.replace(",", ", ").split()).replace(" ,", ",")
    for fmt in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
        try:
            return datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
    raise ValueError(f"unrecognised LoCoMo date {text!r}")


def turn_content(turn: dict[str, Any]) -> str:
    """The turn's text, plus the caption of a shared photo, as the official prompts show it."""
    text = " ".join(str(turn.get("text", "")).split())
    caption = turn.get("blip_caption")
    if caption:
        text = f"{text} [shares {' '.join(str(caption).split())}]".strip()
    return text


def sessions_of(sample: dict[str, Any]) -> list[LocomoSession]:
    conv = sample["conversation"]
    numbers = sorted(
        int(m.group(1)) for key in conv if (m := re.fullmatch(r"session_(\d+)", key)) and isinstance(conv[key], list)
    )
    out = []
    for n in numbers:
        raw_turns = conv[f"session_{n}"]
        if not raw_turns:
            continue
        date_time = conv[f"session_{n}_date_time"]
        started = parse_session_date(date_time)
        turns = [
            Turn(t["speaker"], turn_content(t), t.get("dia_id", ""), started + timedelta(seconds=i))
            for i, t in enumerate(raw_turns)
            if turn_content(t)
        ]
        out.append(LocomoSession(n, date_time, started, turns))
    return out


def questions_of(sample: dict[str, Any]) -> list[Question]:
    out = []
    for i, qa in enumerate(sample["qa"]):
        answer = qa.get("answer", qa.get("adversarial_answer"))
        if qa["category"] == 5:
            answer = NOT_MENTIONED  # what the official scorer rewards
        out.append(Question(i, qa["question"], int(qa["category"]), answer, list(qa.get("evidence", []))))
    return out


def pick_questions(questions: list[Question], limit: int | None, categories: set[int] | None) -> list[Question]:
    """Up to `limit` questions spread over the categories: round-robin over categories, and
    within a category evenly spaced through the conversation (not just its first questions)."""
    pool = [q for q in questions if categories is None or q.category in categories]
    if limit is None or limit >= len(pool):
        return pool
    by_cat: dict[int, list[Question]] = defaultdict(list)
    for q in pool:
        by_cat[q.category].append(q)
    quota = {c: 0 for c in by_cat}
    left = limit
    while left > 0:
        progressed = False
        for c in sorted(by_cat):
            if left and quota[c] < len(by_cat[c]):
                quota[c] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    chosen = []
    for c, items in by_cat.items():
        k = quota[c]
        if k:
            step = len(items) / k
            chosen.extend(items[int(i * step)] for i in range(k))
    return sorted(chosen, key=lambda q: q.index)


def evidence_sessions(q: Question) -> set[int]:
    """Session numbers the question's evidence points at ('D3:13' -> 3)."""
    return {int(n) for n in re.findall(r"D(\d+):", " ".join(map(str, q.evidence)))}


def in_scope(q: Question, session_numbers: set[int]) -> bool:
    """True when all of the question's evidence lies in the ingested sessions."""
    needed = evidence_sessions(q)
    return bool(needed) and needed <= session_numbers


def peer_id_for(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", name.strip())[:100]
    return cleaned or "speaker"


def named_speakers(question: str, speakers: list[str]) -> list[str]:
    """The speakers whose (first) name appears in the question as a word."""
    found = []
    for name in speakers:
        first = name.split()[0]
        if re.search(rf"\b{re.escape(first)}\b", question, flags=re.IGNORECASE):
            found.append(name)
    return found


# --------------------------------------------------------------------------- memory side


@dataclass
class IngestStats:
    sessions: int = 0
    messages: int = 0
    seconds: float = 0.0


def ingest(honcho: Any, sample: dict[str, Any], sessions: list[LocomoSession]) -> IngestStats:
    conv = sample["conversation"]
    speakers = [conv["speaker_a"], conv["speaker_b"]]
    started = time.perf_counter()
    stats = IngestStats()
    for name in speakers:
        honcho.create_peer(peer_id_for(name))
    for s in sessions:
        members = list(dict.fromkeys([peer_id_for(n) for n in speakers] + [peer_id_for(t.speaker) for t in s.turns]))
        honcho.create_session(s.session_id, peers=members, metadata={"date_time": s.date_time})
        honcho.add_messages(
            s.session_id,
            [
                {"peer": peer_id_for(t.speaker), "content": t.text, "created_at": t.created_at,
                 "metadata": {"dia_id": t.dia_id}}
                for t in s.turns
            ],
            join=True,
        )
        stats.sessions += 1
        stats.messages += len(s.turns)
    stats.seconds = time.perf_counter() - started
    return stats


@dataclass
class DeriveStats:
    units: int = 0
    failed: int = 0
    conclusions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    message_tokens: int = 0
    seconds: float = 0.0
    summaries: int = 0
    run_stats: dict[str, Any] = field(default_factory=dict)


def derive(honcho: Any, *, progress: bool = True) -> DeriveStats:
    """Reason over the queue until it is empty; summaries off (QA does not read them)."""
    from honcho_cli.reasoning.deriver import open_deriver

    deriver = open_deriver(honcho, summaries=False)
    sys.path.insert(0, str(REPO / "bench"))
    from model_usage import CountingChat

    counting = deriver.chat = CountingChat(deriver.chat)
    out = DeriveStats()
    pending = deriver.pending_units_hint()
    started = time.perf_counter()

    def on_unit(result: Any) -> None:
        out.prompt_tokens, out.completion_tokens = counting.prefilled_tokens, counting.completion_tokens
        out.units += 1
        if progress and (out.units % 10 == 0 or result.outcome != "completed"):
            extra = f" {result.outcome}: {result.error}" if result.outcome != "completed" else ""
            log(f"  deriver: {out.units} units, {time.perf_counter() - started:.0f} s "
                f"({pending} messages were queued){extra}")

    stats = deriver.run(on_unit=on_unit)
    out.seconds = stats.seconds
    out.failed = stats.failed
    out.message_tokens = stats.tokens
    out.summaries = getattr(stats, "summaries", 0)
    out.run_stats = stats.to_dict()
    out.conclusions = len(honcho.list_conclusions())
    status = honcho.deriver_status()
    if status["pending_work_units"] or status["in_progress_work_units"]:
        log(f"  warning: the deriver stopped with work left: {status['pending_work_units']} pending, "
            f"{status['in_progress_work_units']} in progress")
    if status["failed_work_units"]:
        log(f"  warning: {status['failed_work_units']} messages failed in the deriver; first: "
            f"{status['recent_failures'][:1]}")
    return out


SHORT_ANSWER = "Answer with a short phrase, using exact words from the notes whenever possible."
# honcho's own instructions ask for one sentence; for the short style both systems get the same
# request in their instructions (the baseline's BASELINE_SYSTEM), not a sentence against a phrase
SHORT_INSTRUCTIONS = """You answer questions about a person from your notes, which are all you know about them.
- Answer with a short phrase, using exact words from the notes whenever possible.
- The date in brackets is when a note was said; use it for questions about when.
- If the notes do not answer the question, reply exactly: I don't know."""


def memory_answer(
    honcho: Any, question: str, peers: list[str], *, reasoning_level: str, answer_style: str
) -> tuple[str, list[str]]:
    """(answer, conclusion ids used) from the named peer's self view, or both merged."""
    from honcho_cli.reasoning import dialectic

    if len(peers) == 1 and answer_style == "native":
        result = honcho.chat(peers[0], question, reasoning_level=reasoning_level)
        return result["answer"], result["conclusions"]
    contexts = []
    level = None
    for peer in peers:
        context, level = honcho.chat_context(peer, question, reasoning_level=reasoning_level)
        contexts.append(context)
    context = contexts[0]
    if len(contexts) > 1:
        context = _merged(contexts, level.max_conclusions)
    if answer_style == "short":
        context.question = f"{question}\n{SHORT_ANSWER}"
    instructions = SHORT_INSTRUCTIONS if answer_style == "short" else dialectic.INSTRUCTIONS
    text = dialectic.answer(honcho.chat_model(), context, level, instructions) if not context.is_empty else dialectic.DONT_KNOW
    result = dialectic.chat_result(text, context)
    return result["answer"], result["conclusions"]


def _merged(contexts: list[Any], cap: int) -> Any:
    """Both speakers' self views as one context: conclusions alternated, capped at `cap`."""
    from honcho_cli.core.representation import Representation
    from honcho_cli.reasoning.dialectic import ChatContext

    names = [c.representation.observed for c in contexts]
    lists = [c.representation.conclusions for c in contexts]
    chosen, seen = [], set()
    for i in range(max(len(x) for x in lists)):
        for items in lists:
            if i < len(items) and items[i].id not in seen and len(chosen) < cap:
                seen.add(items[i].id)
                chosen.append(items[i])
    joined = " and ".join(names)
    rep = Representation(observer=joined, observed=joined, conclusions=chosen)
    quoted, seen_messages = [], set()
    for i in range(max(len(c.evidence) for c in contexts)):
        for c in contexts:
            if i < len(c.evidence) and c.evidence[i].id not in seen_messages:
                seen_messages.add(c.evidence[i].id)
                quoted.append(c.evidence[i])
    cap_messages = max(len(c.evidence) for c in contexts)
    return ChatContext(
        question=contexts[0].question, representation=rep, messages=[], evidence=quoted[:cap_messages],
        note_tokens=contexts[0].note_tokens,
    )


# --------------------------------------------------------------------------- baseline side

BASELINE_SYSTEM = """You answer questions about a long conversation between two people, using only what the conversation says.
- Answer with a short phrase, using exact words from the conversation whenever possible.
- If the conversation does not contain the answer, reply exactly: I don't know."""

BASELINE_NATIVE_SYSTEM = """You answer questions about a long conversation between two people, using only what the conversation says.
- Answer in one or two short sentences.
- If the conversation does not contain the answer, reply exactly: I don't know."""

QUESTION_TAIL = "\n\nBased on the above conversation, answer the question.\nQuestion: {question}\nShort answer:"
QUESTION_TAIL_NATIVE = "\n\nBased on the above conversation, answer the question.\nQuestion: {question}\nAnswer:"


@dataclass
class BaselineContext:
    text: str
    tokens: int
    turns_kept: int
    turns_total: int
    sessions_kept: int
    sessions_total: int

    @property
    def truncated(self) -> bool:
        return self.turns_kept < self.turns_total


def baseline_context(model: Any, sample: dict[str, Any], sessions: list[LocomoSession], budget: int) -> BaselineContext:
    """The conversation in the official layout, oldest turns dropped until it fits `budget` tokens."""
    conv = sample["conversation"]
    head = (
        f"Below is a conversation between two people: {conv['speaker_a']} and {conv['speaker_b']}. "
        "The conversation takes place over multiple days and the date of each conversation is written "
        "at the beginning of the conversation.\n"
    )
    used = model.count_tokens(head)
    kept_sessions: list[tuple[LocomoSession, list[str]]] = []
    total_turns = sum(len(s.turns) for s in sessions)
    kept_turns = 0
    full = False
    for s in reversed(sessions):
        header = f"\nDATE: {s.date_time}\nCONVERSATION:\n"
        header_cost = model.count_tokens(header)
        lines: list[str] = []
        for t in reversed(s.turns):
            line = f'{t.speaker} said, "{t.text}"\n'
            cost = model.count_tokens(line)
            if used + cost + (header_cost if not lines else 0) > budget:
                full = True
                break
            if not lines:
                used += header_cost
            lines.append(line)
            used += cost
        if lines:
            kept_sessions.append((s, list(reversed(lines))))
            kept_turns += len(lines)
        if full:
            break
    body = "".join(
        f"\nDATE: {s.date_time}\nCONVERSATION:\n" + "".join(lines) for s, lines in reversed(kept_sessions)
    )
    text = head + body
    return BaselineContext(text, model.count_tokens(text), kept_turns, total_turns, len(kept_sessions), len(sessions))


# --------------------------------------------------------------------------- running


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(rows: list[dict[str, Any]], key: str, weights: dict[int, float] | None = None) -> dict[str, Any]:
    by_cat: dict[int, list[float]] = defaultdict(list)
    for r in rows:
        if r.get(key) is not None:
            by_cat[r["category"]].append(r[key])
    out: dict[str, Any] = {
        "by_category": {str(c): {"name": CATEGORY_NAMES[c], "n": len(v), "f1": mean(v)} for c, v in sorted(by_cat.items())},
        "overall": mean([x for v in by_cat.values() for x in v]),
        "n": sum(len(v) for v in by_cat.values()),
    }
    if weights:
        present = {c: w for c, w in weights.items() if c in by_cat}
        total = sum(present.values())
        out["overall_dataset_weighted"] = (
            sum(mean(by_cat[c]) * w for c, w in present.items()) / total if total else None
        )
    return out


def fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def run_sample(args: argparse.Namespace, sample: dict[str, Any], settings_kwargs: dict[str, Any]) -> dict[str, Any]:
    from honcho_cli.client import Honcho
    from honcho_cli.config import resolve_settings

    sample_id = sample["sample_id"]
    conv = sample["conversation"]
    speakers = [conv["speaker_a"], conv["speaker_b"]]
    sessions = sessions_of(sample)
    all_questions = questions_of(sample)
    if args.max_sessions:
        # a shorter conversation: only its first sessions, and only the questions whose evidence is all in them
        sessions = sessions[: args.max_sessions]
        numbers = {s.number for s in sessions}
        all_questions = [q for q in all_questions if in_scope(q, numbers)]
    questions = pick_questions(all_questions, args.questions, args.categories)
    log(f"[{sample_id}] {speakers[0]} & {speakers[1]}: {len(sessions)} sessions, "
        f"{sum(len(s.turns) for s in sessions)} turns; {len(questions)} of {len(all_questions)} questions")

    base = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="honcho-locomo-"))
    data_dir = base / sample_id
    reuse = args.reuse and (data_dir / "honcho.duckdb").exists()
    if data_dir.exists() and not reuse and any(data_dir.iterdir()):
        raise SystemExit(f"{data_dir} is not empty: pass a fresh --data-dir, or --reuse to answer from it")
    settings = resolve_settings(data_dir=data_dir, workspace="locomo", **settings_kwargs)
    honcho = Honcho(settings=settings)
    result: dict[str, Any] = {"sample_id": sample_id, "speakers": speakers, "data_dir": str(data_dir)}

    # -- ingest and derive
    if args.baseline_only:
        ing, der = IngestStats(), DeriveStats()
        result["reused"] = None
    elif reuse:
        log(f"[{sample_id}] reusing {data_dir}")
        ing, der = IngestStats(), DeriveStats(conclusions=len(honcho.list_conclusions()))
        result["reused"] = True
    else:
        honcho.create_workspace("locomo")
        ing = ingest(honcho, sample, sessions)
        log(f"[{sample_id}] ingested {ing.messages} messages in {ing.seconds:.1f} s; deriving...")
        der = derive(honcho)
        log(f"[{sample_id}] deriver: {der.units} units in {der.seconds:.0f} s, {der.conclusions} conclusions, "
            f"{der.prompt_tokens:,} prompt + {der.completion_tokens:,} completion tokens, {der.failed} failed")
    result["ingest"] = ing.__dict__
    result["deriver"] = der.__dict__

    # -- memory answers
    rows: list[dict[str, Any]] = []
    peers_of = {n: peer_id_for(n) for n in speakers}
    if args.baseline_only:
        rows = [{"index": q.index, "category": q.category, "question": q.question, "answer": q.answer,
                 "evidence": q.evidence} for q in questions]
    for i, q in enumerate([] if args.baseline_only else questions, start=1):
        named = named_speakers(q.question, speakers)
        asked = [peers_of[n] for n in (named if len(named) == 1 else speakers)]
        started = time.perf_counter()
        try:
            raw, used = memory_answer(honcho, q.question, asked, reasoning_level=args.reasoning_level,
                                      answer_style=args.answer_style)
            error = None
        except Exception as exc:  # noqa: BLE001 - a failed question is scored 0 and reported
            raw, used, error = "", [], f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        prediction = to_dataset_convention(raw)
        rows.append({
            "index": q.index, "category": q.category, "question": q.question, "answer": q.answer,
            "evidence": q.evidence, "asked": asked, "memory_raw": raw, "memory_prediction": prediction,
            "memory_conclusions": len(used), "memory_seconds": round(seconds, 3),
            "memory_f1": score_answer(q.category, prediction, q.answer), **({"memory_error": error} if error else {}),
        })
        if i % 10 == 0 or i == len(questions):
            log(f"  memory: {i}/{len(questions)} answered")
    if not args.baseline_only:
        result["memory_model_load_seconds"] = getattr(honcho.chat_model(), "load_seconds", None)

    # -- baseline answers
    if not args.no_baseline:
        result["baseline"] = run_baseline(args, sample, sessions, questions, rows, settings)
    result["questions"] = rows
    weights = {c: n / len(all_questions) for c, n in Counter(q.category for q in all_questions).items()}
    if not args.baseline_only:
        result["memory"] = summarise(rows, "memory_f1", weights)
        result["memory"]["mean_answer_seconds"] = mean([r["memory_seconds"] for r in rows])
    if not args.no_baseline:
        result["baseline"].update(summarise(rows, "baseline_f1", weights))
    result["category_weights"] = weights
    _close(honcho)
    return result


def run_baseline(
    args: argparse.Namespace, sample: dict[str, Any], sessions: list[LocomoSession], questions: list[Question],
    rows: list[dict[str, Any]], settings: Any,
) -> dict[str, Any]:
    from honcho_cli.reasoning.llm import LlamaChatModel
    from honcho_cli.reasoning.model_files import resolve_chat_model

    native = args.answer_style == "native"
    system = BASELINE_NATIVE_SYSTEM if native else BASELINE_SYSTEM
    tail = QUESTION_TAIL_NATIVE if native else QUESTION_TAIL
    answer_tokens_max = 128 if native else 48
    model = LlamaChatModel(resolve_chat_model(settings), n_ctx=args.baseline_ctx)
    try:
        longest_q = max((model.count_tokens(tail.format(question=q.question)) for q in questions), default=0)
        reserve = model.count_tokens(system) + longest_q + answer_tokens_max + 32  # 32: the chat template
        ctx = baseline_context(model, sample, sessions, args.baseline_ctx - reserve)
        sid = sample["sample_id"]
        log(f"[{sid}] baseline: {ctx.tokens:,} conversation tokens"
            + (f" (truncated from the start: last {ctx.turns_kept} of {ctx.turns_total} turns, "
               f"{ctx.sessions_kept} of {ctx.sessions_total} sessions)" if ctx.truncated else " (whole conversation)"))
        latencies = []
        for i, (q, row) in enumerate(zip(questions, rows), start=1):
            started = time.perf_counter()
            try:
                raw = model.complete(system, ctx.text + tail.format(question=q.question), max_tokens=answer_tokens_max)
                error = None
            except Exception as exc:  # noqa: BLE001
                raw, error = "", f"{type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - started
            latencies.append(seconds)
            prediction = to_dataset_convention(raw)
            row.update({
                "baseline_raw": raw, "baseline_prediction": prediction, "baseline_seconds": round(seconds, 3),
                "baseline_prompt_tokens": model.usage.prompt_tokens,
                "baseline_f1": score_answer(q.category, prediction, q.answer),
                **({"baseline_error": error} if error else {}),
            })
            if i == 1:
                log(f"  baseline: first answer (with the conversation's prefill) took {seconds:.0f} s")
            if i % 10 == 0 or i == len(questions):
                log(f"  baseline: {i}/{len(questions)} answered")
        return {
            "n_ctx": args.baseline_ctx, "conversation_tokens": ctx.tokens, "truncated": ctx.truncated,
            "turns_kept": ctx.turns_kept, "turns_total": ctx.turns_total,
            "sessions_kept": ctx.sessions_kept, "sessions_total": ctx.sessions_total,
            "load_seconds": model.load_seconds,
            "first_answer_seconds": latencies[0] if latencies else None,
            "mean_answer_seconds_after_first": mean(latencies[1:]),
            "mean_answer_seconds": mean(latencies),
        }
    finally:
        model.close()


def _close(honcho: Any) -> None:
    model = getattr(honcho, "_chat_model", None)
    if model is not None and hasattr(model, "close"):
        model.close()


def aggregate(results: list[dict[str, Any]], baseline: bool) -> dict[str, Any]:
    rows = [r for res in results for r in res["questions"]]
    weights: dict[int, float] = defaultdict(float)
    total_q = 0
    for res in results:
        for c, w in res["category_weights"].items():
            weights[int(c)] += w * len(res["questions"])
        total_q += len(res["questions"])
    weights = {c: w / total_q for c, w in weights.items()} if total_q else {}
    memory = any("memory_f1" in r for r in rows)
    out = {"memory": summarise(rows, "memory_f1", weights) if memory else None}
    if baseline:
        out["baseline"] = summarise(rows, "baseline_f1", weights)
    if memory:
        out["memory"]["mean_answer_seconds"] = mean([r["memory_seconds"] for r in rows])
    if baseline:
        out["baseline"]["mean_answer_seconds"] = mean([r["baseline_seconds"] for r in rows if "baseline_seconds" in r])
    return out


def print_report(args: argparse.Namespace, results: list[dict[str, Any]], totals: dict[str, Any], wall: float) -> None:
    baseline = not args.no_baseline
    mem, base = totals["memory"], totals.get("baseline")
    if mem is None:  # --baseline-only: show the baseline in the memory column's place
        mem, base, baseline = base, None, False
        print("(--baseline-only: the column below is the whole-conversation baseline)")
    print(f"\nLoCoMo QA, official F1 - model {args.model or 'default'}, reasoning level {args.reasoning_level}, "
          f"answer style {args.answer_style}")
    print(f"samples: {', '.join(r['sample_id'] for r in results)}; questions: {mem['n']}"
          + (f"; only the first {args.max_sessions} sessions of each, and the questions whose evidence is in them"
             if args.max_sessions else ""))
    header = f"{'category':<16}{'n':>5}{'memory':>10}" + (f"{'baseline':>10}" if baseline else "")
    print(header)
    print("-" * len(header))
    for c in sorted(CATEGORY_NAMES):
        m = mem["by_category"].get(str(c))
        if not m:
            continue
        line = f"{f'{c} {CATEGORY_NAMES[c]}':<16}{m['n']:>5}{fmt(m['f1']):>10}"
        if baseline:
            line += f"{fmt(base['by_category'][str(c)]['f1']):>10}"
        print(line)
    print("-" * len(header))
    line = f"{'overall':<16}{mem['n']:>5}{fmt(mem['overall']):>10}" + (f"{fmt(base['overall']):>10}" if baseline else "")
    print(line)
    line = f"{'dataset-weighted':<16}{'':>5}{fmt(mem.get('overall_dataset_weighted')):>10}"
    if baseline:
        line += f"{fmt(base.get('overall_dataset_weighted')):>10}"
    print(line)
    print()
    for r in results:
        ing, der = r["ingest"], r["deriver"]
        if r.get("reused") is None and args.baseline_only:
            pass
        elif r.get("reused"):
            print(f"[{r['sample_id']}] memory reused from {r['data_dir']} ({der['conclusions']} conclusions, "
                  "derived by an earlier run, possibly with another model)")
        else:
            print(f"[{r['sample_id']}] ingest {ing['messages']} messages in {ing['seconds']:.1f} s; "
                  f"deriver {der['units']} units in {der['seconds']:.0f} s, {der['conclusions']} conclusions, "
                  f"model tokens {der['prompt_tokens']:,} prompt + {der['completion_tokens']:,} completion "
                  f"({der['message_tokens']:,} message tokens), {der['failed']} failed")
        if baseline:
            b = r["baseline"]
            trunc = (f"truncated from the start to the last {b['turns_kept']}/{b['turns_total']} turns "
                     f"({b['sessions_kept']}/{b['sessions_total']} sessions)" if b["truncated"] else "whole conversation")
            print(f"[{r['sample_id']}] baseline prompt: {b['conversation_tokens']:,} tokens in n_ctx {b['n_ctx']}, {trunc}; "
                  f"first answer {fmt(b['first_answer_seconds'], 1)} s (prefill), then "
                  f"{fmt(b['mean_answer_seconds_after_first'], 2)} s each")
    print(f"mean answer latency: memory {fmt(mem['mean_answer_seconds'], 2)} s"
          + (f", baseline {fmt(base['mean_answer_seconds'], 2)} s (incl. prefill)" if baseline else ""))
    print(f"total wall time: {wall:.0f} s")
    print("notes: memory asks the self view of the speaker the question names (both views merged when it names "
          "both or neither); \"I don't know.\" is scored as \"Not mentioned in the conversation\".")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(DEFAULT_DATA), help="LoCoMo JSON (default: ../shared/data/locomo-dev.json)")
    p.add_argument("--samples", type=int, default=1, help="how many samples, from the first (default 1)")
    p.add_argument("--sample-ids", default=None, help="comma-separated sample ids (overrides --samples)")
    p.add_argument("--questions", type=int, default=None, help="questions per sample, spread over categories (default all)")
    p.add_argument("--categories", default=None, help="only these categories, e.g. 1,2,4")
    p.add_argument("--model", default=None, help="chat model name or path (default: the configured one)")
    p.add_argument("--embedding-model", default=None)
    p.add_argument("--reasoning-level", default="low", choices=["minimal", "low", "medium", "high", "max"])
    p.add_argument("--answer-style", default="short", choices=["short", "native"],
                   help="short: both systems asked for a short phrase (official prompt); native: Honcho.chat as is")
    p.add_argument("--data-dir", default=None, help="where the per-sample data dirs go (default: a new temp dir)")
    p.add_argument("--reuse", action="store_true", help="answer from an existing --data-dir/SAMPLE without ingesting")
    p.add_argument("--no-baseline", action="store_true", help="skip the whole-conversation baseline")
    p.add_argument("--baseline-only", action="store_true",
                   help="only the whole-conversation baseline (no store, no deriver): run it beside a memory run")
    p.add_argument("--baseline-ctx", type=int, default=8192,
                   help="baseline context in tokens; the conversation is truncated from the start to fit (default 8192)")
    p.add_argument("--max-sessions", type=int, default=None,
                   help="ingest only the first N sessions, and ask only the questions whose evidence is all in them")
    p.add_argument("--threads", type=int, default=None,
                   help="llama.cpp threads (default: all CPUs; 1 is faster when the machine is oversubscribed)")
    p.add_argument("--out", default=None, help="write the full result (every question and answer) as JSON here")
    args = p.parse_args(argv)
    args.categories = {int(c) for c in args.categories.split(",")} if args.categories else None
    if args.categories and not args.categories <= set(CATEGORY_NAMES):
        p.error(f"categories are 1-5, got {sorted(args.categories)}")
    if args.questions is not None and args.questions < 1:
        p.error("--questions must be at least 1")
    if args.baseline_ctx < 1024:
        p.error("--baseline-ctx must be at least 1024")
    return args


def set_threads(n: int) -> None:
    """Make every llama.cpp model this process loads use `n` threads (the library has no setting for it)."""
    from honcho_cli.reasoning import embedding, llm

    llm.default_threads = embedding.default_threads = lambda: n


def git_commit() -> str | None:
    """The commit of the package actually imported (a snapshot may say so in HONCHO_BENCH_COMMIT)."""
    import os
    import subprocess

    if os.environ.get("HONCHO_BENCH_COMMIT"):
        return os.environ["HONCHO_BENCH_COMMIT"]
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _stem("warmup")  # fail early if the scorer's stemmer is missing
    data_path = Path(args.data)
    if not data_path.is_file():
        raise SystemExit(f"{data_path} not found: pass --data PATH (the data stays outside the repository)")
    data = json.loads(data_path.read_text(encoding="utf-8"))
    if args.sample_ids:
        wanted = [s.strip() for s in args.sample_ids.split(",") if s.strip()]
        by_id = {s["sample_id"]: s for s in data}
        missing = [w for w in wanted if w not in by_id]
        if missing:
            raise SystemExit(f"unknown sample id(s): {', '.join(missing)}; known: {', '.join(by_id)}")
        samples = [by_id[w] for w in wanted]
    else:
        samples = data[: max(1, args.samples)]
    settings_kwargs = {"model": args.model, "embedding_model": args.embedding_model}
    if args.threads:
        set_threads(args.threads)
    started = time.perf_counter()
    started_at = datetime.now().isoformat(timespec="seconds")
    results: list[dict[str, Any]] = []
    for sample in samples:
        results.append(run_sample(args, sample, settings_kwargs))
        wall = time.perf_counter() - started
        totals = aggregate(results, not args.no_baseline)
        if args.out:  # after every sample: a long run cut short keeps what it finished
            write_result(args, data_path, started_at, wall, totals, results)
    print_report(args, results, totals, wall)
    return 0


def write_result(args: argparse.Namespace, data_path: Path, started_at: str, wall: float,
                 totals: dict[str, Any], results: list[dict[str, Any]]) -> None:
    from honcho_cli.reasoning.native import default_threads

    payload = {
        "benchmark": "locomo-qa", "data": str(data_path), "git_commit": git_commit(),
        "package": str(Path(sys.modules["honcho_cli"].__file__).parent),
        "model": args.model, "reasoning_level": args.reasoning_level, "answer_style": args.answer_style,
        "baseline_ctx": None if args.no_baseline else args.baseline_ctx,
        "threads": args.threads or default_threads(), "max_sessions": args.max_sessions,
        "started_at": started_at, "wall_seconds": wall,
        "totals": totals, "samples": results,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    log(f"wrote {args.out} ({len(results)} sample(s))")


if __name__ == "__main__":
    sys.exit(main())
