"""Topics of free-text comments: TF-IDF + non-negative matrix factorisation, fixed seed.

A transparent method, on purpose: every step can be printed and checked.

1. Each comment becomes a TF-IDF vector (Salton & Buckley 1988, "Term-weighting approaches in
   automatic text retrieval", IP&M 24(5)): word and two-word terms, English stop words
   removed, sublinear term frequency 1 + log(tf), smoothed idf log((1 + n) / (1 + df)) + 1,
   rows scaled to unit length (scikit-learn's `TfidfVectorizer`).
2. NMF factorises the comments × terms matrix X ≈ W H with W, H ≥ 0 (Lee & Seung 1999,
   "Learning the parts of objects by non-negative matrix factorization", Nature 401),
   minimising the Frobenius norm ||X - WH||², initialised by NNDSVDa (Boutsidis & Gallopoulos
   2008), so the same comments give the same topics on every run.
3. A topic is named by its highest-weighted terms in H (a two-word term is skipped when its
   words are already among the chosen terms); a comment belongs to the topic with the
   largest weight in its row of W (the weight is reported; a comment with no known term has
   weight 0 and topic -1, "no topic").

The fitted state (vocabulary, idf, H) is plain lists and numbers (`to_dict`), never pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import TfidfVectorizer

from cvm.core.errors import NotFittedError, UserInputError

NO_TOPIC = -1


@dataclass(frozen=True)
class Assignment:
    topic: int  # NO_TOPIC when the comment has no known term
    weight: float


class CommentTopics:
    """TF-IDF + NMF topic model of short comments (see the module doc for the method)."""

    def __init__(
        self,
        n_topics: int = 5,
        top_terms: int = 4,
        min_df: int = 2,
        max_features: int = 5_000,
        random_state: int = 0,
    ) -> None:
        self.n_topics = n_topics
        self.top_terms = top_terms
        self.min_df = min_df
        self.max_features = max_features
        self.random_state = random_state

    def _vectorizer(self, min_df: int) -> TfidfVectorizer:
        return TfidfVectorizer(
            stop_words="english", ngram_range=(1, 2), sublinear_tf=True,
            min_df=min_df, max_features=self.max_features, lowercase=True,
        )  # fmt: skip

    def fit(self, comments: Sequence[str]) -> CommentTopics:
        if self.n_topics < 1:
            raise UserInputError("the number of topics must be at least 1")
        texts = [c for c in comments if c and c.strip()]
        if len(texts) < self.n_topics:
            raise UserInputError(
                f"{len(texts)} comments cannot make {self.n_topics} topics; lower --topics"
            )
        matrix = None
        # A few comments may share no term: then every term counts (min_df 1).
        for min_df in dict.fromkeys((min(self.min_df, len(texts)), 1)):
            vectorizer = self._vectorizer(min_df)
            try:
                matrix = vectorizer.fit_transform(texts)
                break
            except ValueError:  # no term left after pruning, or nothing but stop words
                continue
        if matrix is None:
            raise UserInputError("the comments have no words to group by")
        k = min(self.n_topics, matrix.shape[1])
        nmf = NMF(n_components=k, init="nndsvda", random_state=self.random_state, max_iter=500)
        nmf.fit(matrix)
        self.vectorizer_ = vectorizer
        self.terms_: list[str] = [str(t) for t in vectorizer.get_feature_names_out()]
        self.components_: np.ndarray = nmf.components_
        self.nmf_ = nmf
        self.topic_terms_: list[list[str]] = [self._name(row) for row in self.components_]
        return self

    def _name(self, row: np.ndarray) -> list[str]:
        """The topic's top terms, skipping a term whose words the chosen ones already say
        ("courier friendly" after "friendly" and "courier")."""
        chosen: list[str] = []
        said: set[str] = set()
        for i in np.argsort(-row):
            if len(chosen) == self.top_terms or row[i] <= 0:
                break
            words = set(self.terms_[i].split())
            if words <= said:
                continue
            chosen.append(self.terms_[i])
            said |= words
        return chosen

    def _check(self) -> None:
        if not hasattr(self, "components_"):
            raise NotFittedError("CommentTopics is not fitted; call fit first")

    @property
    def topic_names(self) -> list[str]:
        self._check()
        return [", ".join(terms) for terms in self.topic_terms_]

    def assign(self, comments: Sequence[str]) -> list[Assignment]:
        """Each comment's strongest topic and its weight (row of W)."""
        self._check()
        if not comments:
            return []
        weights = self.nmf_.transform(self.vectorizer_.transform([c or "" for c in comments]))
        best = weights.argmax(axis=1)
        top = weights[np.arange(len(comments)), best]
        return [
            Assignment(int(b) if w > 0 else NO_TOPIC, float(w))
            for b, w in zip(best, top, strict=True)
        ]

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as plain JSON-able values."""
        self._check()
        return {
            "settings": {
                "n_topics": self.n_topics, "top_terms": self.top_terms, "min_df": self.min_df,
                "max_features": self.max_features, "random_state": self.random_state,
            },
            "terms": self.terms_,
            "idf": [float(v) for v in self.vectorizer_.idf_],
            "components": self.components_.round(6).tolist(),
            "topic_terms": self.topic_terms_,
        }  # fmt: skip
