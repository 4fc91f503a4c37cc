"""Comment topics: on synthetic comments built from known themes the topics recover the themes
(purity), the result is the same on every run, and the warehouse summary counts and scores each
topic."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from cvm.core.contracts import SURVEY_RESPONSES
from cvm.core.errors import NotFittedError, UserInputError
from cvm.feedback.topic_report import summarize_topics
from cvm.feedback.topics import NO_TOPIC, CommentTopics

THEMES = {
    "delivery": ["delivery", "courier", "parcel", "late", "shipping", "arrived", "days"],
    "price": ["price", "expensive", "cheaper", "cost", "discount", "money", "value"],
    "quality": ["quality", "broke", "material", "fabric", "durable", "stitching", "defect"],
    "support": ["support", "agent", "phone", "waited", "rude", "helpful", "answer"],
    "app": ["app", "crashes", "login", "update", "screen", "button", "checkout"],
}
FILLER = ["the", "was", "really", "very", "my", "order", "this", "time", "i", "it"]


def synthetic(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Comments of 3-5 theme words mixed with filler and shared words ('order', 'time'), half
    of them with one word of a random other theme."""
    rng = np.random.default_rng(seed)
    names = list(THEMES)
    comments, truth = [], []
    for _ in range(n):
        theme = names[int(rng.integers(len(names)))]
        words = list(rng.choice(THEMES[theme], size=int(rng.integers(3, 6)), replace=False))
        words += list(rng.choice(FILLER, size=4))
        if rng.random() < 0.5:  # a stray word of another theme, as real comments wander
            other = names[int(rng.integers(len(names)))]
            words.append(str(rng.choice(THEMES[other])))
        rng.shuffle(words)
        comments.append(" ".join(words))
        truth.append(theme)
    return comments, truth


def purity(found: list[int], truth: list[str]) -> float:
    """Share of comments whose topic's majority theme is their own theme."""
    by_topic: dict[int, Counter[str]] = {}
    for topic, theme in zip(found, truth, strict=True):
        by_topic.setdefault(topic, Counter())[theme] += 1
    return sum(c.most_common(1)[0][1] for c in by_topic.values()) / len(truth)


def test_topics_recover_the_themes() -> None:
    comments, truth = synthetic(600, seed=1)
    model = CommentTopics(n_topics=5, random_state=0).fit(comments)
    assigned = model.assign(comments)
    assert purity([a.topic for a in assigned], truth) >= 0.9
    # Each topic is named by terms of one theme.
    for terms in model.topic_terms_:
        owners = {t for term in terms for t, words in THEMES.items() if term.split()[0] in words}
        assert len(owners) == 1, terms
    assert len({frozenset(t) for t in model.topic_terms_}) == 5


def test_same_topics_every_run_and_plain_json_state() -> None:
    comments, _ = synthetic(200, seed=2)
    a = CommentTopics(n_topics=4, random_state=3).fit(comments)
    b = CommentTopics(n_topics=4, random_state=3).fit(comments)
    assert a.topic_names == b.topic_names
    assert [x.topic for x in a.assign(comments)] == [x.topic for x in b.assign(comments)]
    state = a.to_dict()
    assert len(state["components"]) == 4 and len(state["idf"]) == len(state["terms"])


def test_unknown_words_get_no_topic_and_refusals_are_clear() -> None:
    comments, _ = synthetic(100, seed=3)
    model = CommentTopics(n_topics=3).fit(comments)
    (none,) = model.assign(["zzz qqq"])
    assert none.topic == NO_TOPIC and none.weight == 0.0
    with pytest.raises(UserInputError, match="cannot make 5 topics"):
        CommentTopics(n_topics=5).fit(["one comment", "two"])
    with pytest.raises(NotFittedError):
        CommentTopics().assign(["x"])


def test_summary_from_the_warehouse(tmp_path: Path) -> None:
    from cvm.workspace import init_workspace

    comments, truth = synthetic(150, seed=4)
    # Delivery complaints score low, everything else high: the topic's NPS must show it.
    scores = [2 if t == "delivery" else 10 for t in truth]
    ws = init_workspace(tmp_path / "ws")
    try:
        ws.engine.ensure_table(SURVEY_RESPONSES)
        n = len(comments)
        ws.engine.write_arrow(
            "survey_responses",
            pa.table(
                {
                    "response_id": [f"r{i}" for i in range(n)],
                    "customer_id": [f"c{i}" for i in range(n)],
                    "survey": ["nps"] * n,
                    "score": pa.array(scores, pa.int64()),
                    "comment": comments,
                    "responded_at": pa.array([dt.datetime(2026, 1, 1)] * n, pa.timestamp("us")),
                }
            ),
            mode="append",
        )
        rows, fitted = summarize_topics(ws.engine, n_topics=5, examples=2)
    finally:
        ws.close()
    assert fitted == n and sum(r.count for r in rows) == n
    assert sum(r.share for r in rows) == pytest.approx(1.0)
    delivery_words = set(THEMES["delivery"])
    delivery = next(r for r in rows if delivery_words & set(r.name.replace(",", " ").split()))
    assert delivery.nps is not None and delivery.nps < -80
    assert all(r.nps is not None and r.nps > 80 for r in rows if r is not delivery)
    assert len(delivery.examples) == 2
