"""The LoCoMo bench's scorer and data handling, on hand-made cases (no data file, no model).

The scorer must give the dataset's official numbers: normalisation, nltk's Porter
stemmer (its default mode, as the official script), partial F1 for category 1, the
first ';' alternative for category 3, and the "not mentioned" rule for category 5.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime
from pathlib import Path

import pytest

pytest.importorskip("nltk", reason="the LoCoMo scorer needs nltk (pip install -e '.[bench]')")

BENCH = Path(__file__).resolve().parent.parent / "bench" / "locomo.py"


@pytest.fixture(scope="module")
def locomo():
    spec = importlib.util.spec_from_file_location("locomo_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


# -- normalisation and token F1 ---------------------------------------------------------


def test_normalisation_drops_case_punctuation_articles_and_and(locomo):
    assert locomo.normalize_answer("The Cat, and a Dog!") == "cat dog"
    assert locomo.normalize_answer("An apple-pie; the END.") == "applepie end"
    assert locomo.normalize_answer("  Band   Andes  ") == "band andes"  # whole words only
    assert locomo.normalize_answer(2022) == "2022"


def test_exact_and_disjoint_answers(locomo):
    assert locomo.f1_score("Adoption agencies", "adoption agencies") == 1.0
    assert locomo.f1_score("Sweden", "Norway") == 0.0
    assert locomo.f1_score("", "Norway") == 0.0
    assert locomo.f1_score("a the and", "Norway") == 0.0  # nothing left after normalisation


def test_partial_overlap_is_token_f1(locomo):
    # pred: carolin research adopt agenc (4), gold: adopt agenc (2): P 1/2, R 1
    assert locomo.f1_score("Caroline researched adoption agencies", "Adoption agencies") == pytest.approx(2 / 3)
    # pred: red apple pie (3), gold: apple (1): P 1/3, R 1 -> 0.5
    assert locomo.f1_score("red apple pie", "an apple") == pytest.approx(0.5)
    # repeated tokens count as a multiset: pred run run (2) vs gold run (1): P 1/2, R 1
    assert locomo.f1_score("run run", "run") == pytest.approx(2 / 3)


def test_porter_stemming_matches_word_forms(locomo):
    assert locomo.f1_score("running dogs", "run dog") == 1.0
    assert locomo.f1_score("painted sunsets", "painting a sunset") == 1.0
    # nltk's default (NLTK_EXTENSIONS) mode, as the official script uses: "dying" -> "die";
    # the original Porter algorithm would leave "dy" and score 0 here.
    assert locomo.f1_score("dying", "die") == 1.0


def test_numbers_as_answers(locomo):
    assert locomo.score_answer(2, "2022", 2022) == 1.0
    assert locomo.score_answer(2, "In 2022.", 2022) == pytest.approx(2 / 3)  # "in 2022" vs "2022"


# -- per-category rules ---------------------------------------------------------------


def test_category_1_is_partial_f1_over_comma_split_parts(locomo):
    assert locomo.score_answer(1, "Sweden, adoption agencies", "adoption agencies, Sweden") == 1.0
    assert locomo.score_answer(1, "Sweden", "adoption agencies, Sweden") == pytest.approx(0.5)
    # each gold part takes its best predicted part: (1 + 2/3) / 2
    assert locomo.score_answer(1, "pottery, painting landscapes", "pottery, painting") == pytest.approx((1 + 2 / 3) / 2)
    # the same answer scored as category 4 compares whole bags of words instead
    assert locomo.score_answer(4, "Sweden", "adoption agencies, Sweden") == pytest.approx(0.5)


def test_category_3_keeps_only_the_first_alternative(locomo):
    assert locomo.score_answer(3, "Likely yes", "Likely yes; she loves reading") == 1.0
    assert locomo.score_answer(4, "Likely yes", "Likely yes; she loves reading") < 1.0


def test_category_5_scores_saying_it_is_not_available(locomo):
    assert locomo.score_answer(5, "Not mentioned in the conversation", "self-care is important") == 1.0
    assert locomo.score_answer(5, "No information available.", "x") == 1.0
    assert locomo.score_answer(5, "It is NOT MENTIONED anywhere", "x") == 1.0
    assert locomo.score_answer(5, "Self-care is important", "Self-care is important") == 0.0
    assert locomo.score_answer(5, "I don't know.", "x") == 0.0  # raw, before our mapping


def test_unknown_category_is_an_error(locomo):
    with pytest.raises(ValueError):
        locomo.score_answer(6, "x", "x")


# -- mapping our "I don't know." to the dataset's convention ------------------------------


@pytest.mark.parametrize(
    "raw",
    ["I don't know.", "I do not know", "i dont know", "I don\u2019t know.", "The notes do not say. I don't know.", "", "  "],
)
def test_dont_know_becomes_not_mentioned(locomo, raw):
    prediction = locomo.to_dataset_convention(raw)
    assert prediction == locomo.NOT_MENTIONED
    assert locomo.score_answer(5, prediction, "anything") == 1.0
    assert locomo.score_answer(4, prediction, "mental health") == 0.0


def test_other_answers_are_kept(locomo):
    assert locomo.to_dataset_convention(" Mental health ") == "Mental health"
    assert locomo.to_dataset_convention("Melanie knows pottery") == "Melanie knows pottery"


# -- data handling --------------------------------------------------------------------


def test_session_dates_parse(locomo):
    assert locomo.parse_session_date("1:56 pm on 8 May, 2023") == datetime(2023, 5, 8, 13, 56)
    assert locomo.parse_session_date("12:09 am on 13 September, 2023") == datetime(2023, 9, 13, 0, 9)
    assert locomo.parse_session_date("10:37 am on 27 June,2023") == datetime(2023, 6, 27, 10, 37)
    with pytest.raises(ValueError):
        locomo.parse_session_date("yesterday")


SAMPLE = {
    "sample_id": "toy",
    "conversation": {
        "speaker_a": "Ann",
        "speaker_b": "Bo",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ann", "dia_id": "D1:1", "text": "Hi Bo!"},
            {"speaker": "Bo", "dia_id": "D1:2", "text": "Look at this.", "blip_caption": "a photo of a cake"},
            {"speaker": "Ann", "dia_id": "D1:3", "text": "Yum"},
        ],
        "session_2_date_time": "9:00 am on 1 June, 2023",
        "session_2": [],
        "session_10_date_time": "9:00 am on 2 June, 2023",
        "session_10": [{"speaker": "Bo", "dia_id": "D10:1", "text": "Back again"}],
        "session_11_date_time": "9:00 am on 3 June, 2023",
    },
    "qa": [
        {"question": "What did Bo bake?", "answer": "a cake", "evidence": ["D1:2"], "category": 4},
        {"question": "When did Ann say hi?", "answer": 2023, "evidence": ["D1:1"], "category": 2},
        {"question": "What did Ann bake?", "adversarial_answer": "a cake", "evidence": ["D1:2"], "category": 5},
    ],
}


def test_sessions_in_number_order_with_increasing_seconds(locomo):
    sessions = locomo.sessions_of(SAMPLE)
    assert [s.session_id for s in sessions] == ["session_1", "session_10"]  # empty and missing ones skipped
    first = sessions[0]
    assert [t.created_at for t in first.turns] == [
        datetime(2023, 5, 8, 13, 56, 0), datetime(2023, 5, 8, 13, 56, 1), datetime(2023, 5, 8, 13, 56, 2)
    ]
    assert first.turns[1].text == "Look at this. [shares a photo of a cake]"
    assert [t.dia_id for t in first.turns] == ["D1:1", "D1:2", "D1:3"]


def test_questions_take_the_official_gold(locomo):
    qs = locomo.questions_of(SAMPLE)
    assert [q.answer for q in qs] == ["a cake", 2023, locomo.NOT_MENTIONED]
    assert [q.category for q in qs] == [4, 2, 5]


def test_who_is_asked(locomo):
    speakers = ["Caroline", "Melanie"]
    assert locomo.named_speakers("What did Caroline research?", speakers) == ["Caroline"]
    assert locomo.named_speakers("How often does Melanie's family camp?", speakers) == ["Melanie"]
    assert locomo.named_speakers("What did Caroline and Melanie both like?", speakers) == speakers
    assert locomo.named_speakers("What did the charity race raise awareness for?", speakers) == []
    assert locomo.named_speakers("Who is Carolines friend?", speakers) == []  # whole words only


def test_question_subset_spreads_over_categories(locomo):
    qs = [locomo.Question(i, f"q{i}", c, "a") for i, c in enumerate([4] * 10 + [1] * 4 + [5] * 2 + [3])]
    picked = locomo.pick_questions(qs, 8, None)
    counts = {c: sum(q.category == c for q in picked) for c in (1, 3, 4, 5)}
    assert counts == {1: 3, 3: 1, 4: 2, 5: 2}  # round robin in category order; 3 and 5 run out
    assert [q.index for q in picked] == sorted(q.index for q in picked)
    fours = [q.index for q in picked if q.category == 4]
    assert fours == [0, 5]  # evenly spaced through the conversation, not the first two
    assert locomo.pick_questions(qs, None, {3, 5}) == [q for q in qs if q.category in (3, 5)]
    assert len(locomo.pick_questions(qs, 100, None)) == len(qs)


def test_summary_by_category_and_dataset_weights(locomo):
    rows = [
        {"category": 4, "m": 1.0}, {"category": 4, "m": 0.0}, {"category": 5, "m": 1.0}, {"category": 1, "m": None},
    ]
    out = locomo.summarise(rows, "m", weights={4: 0.75, 5: 0.25})
    assert out["by_category"]["4"]["f1"] == 0.5 and out["by_category"]["4"]["n"] == 2
    assert out["overall"] == pytest.approx(2 / 3)
    assert out["overall_dataset_weighted"] == pytest.approx(0.5 * 0.75 + 1.0 * 0.25)
    assert out["n"] == 3
