"""An independent pandas interpreter of segment trees, written from docs/segments.md only.

It shares no code with the SQL compiler (only the pydantic models), so agreement between the two
on random data is evidence that the compiler does what the documentation says. The benchmark
uses it as the pandas baseline.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from cvm.core.hashing import stable_bucket
from cvm.segments import definition as d

KNOWN_CHANNELS = (
    "email",
    "sms",
    "push",
    "messenger",
    "telegram",
    "whatsapp",
    "viber",
    "in_app",
    "web_push",
)


class Reference:
    def __init__(
        self,
        customers: pd.DataFrame,
        profiles: pd.DataFrame,
        events: pd.DataFrame,
        transactions: pd.DataFrame,
        consents: pd.DataFrame,
        as_of: dt.datetime,
        policy: str = "opt_in",
        resolve: Callable[[str], d.Node] | None = None,
    ) -> None:
        self.c360 = customers.merge(profiles, on="customer_id", how="left").set_index(
            "customer_id", drop=False
        )
        self.ids = self.c360.index
        self.events = events[events["customer_id"].notna() & (events["occurred_at"] <= as_of)]
        self.tx = transactions[
            transactions["customer_id"].notna() & (transactions["occurred_at"] <= as_of)
        ]
        self.consents = consents[consents["occurred_at"] <= as_of]
        self.as_of, self.policy, self.resolve = as_of, policy, resolve
        self._props = self.events["properties"].map(
            lambda t: json.loads(t) if isinstance(t, str) else {}
        )

    # -- helpers -----------------------------------------------------------------------------
    def none(self) -> pd.Series:
        return pd.Series(False, index=self.ids)

    def window(self, moments: pd.Series, w: d.Window | None) -> pd.Series:
        keep = pd.Series(True, index=moments.index)
        if w is None:
            return keep
        if w.days is not None:
            keep &= moments > self.as_of - dt.timedelta(days=w.days)
        if w.max_days_ago is not None:
            keep &= moments > self.as_of - dt.timedelta(days=w.max_days_ago)
        if w.min_days_ago is not None:
            keep &= moments <= self.as_of - dt.timedelta(days=w.min_days_ago)
        if w.from_ is not None:
            keep &= moments >= pd.Timestamp(w.from_)
        if w.to is not None:
            keep &= moments < pd.Timestamp(w.to + dt.timedelta(days=1))
        return keep

    def per_customer(self, values: pd.Series, fill: Any) -> pd.Series:
        return (
            values.reindex(self.ids).fillna(fill) if fill is not None else values.reindex(self.ids)
        )

    @staticmethod
    def numeric_test(op: str, value: Any, x: pd.Series) -> pd.Series:
        ops = {"at_least": "gte", "at_most": "lte", "exactly": "eq"}
        op = ops.get(op, op)
        if op == "between":
            return (x >= value[0]) & (x <= value[1])
        return {
            "eq": x == value,
            "ne": x != value,
            "lt": x < value,
            "lte": x <= value,
            "gt": x > value,
            "gte": x >= value,
        }[op]

    def cutoff(
        self, moments: pd.Series, op: str, date: dt.date | None, days_ago: int | None
    ) -> pd.Series:
        if date is not None:
            cut = pd.Timestamp(date)
            return (moments < cut) if op == "before" else (moments >= cut)
        cut = pd.Timestamp(self.as_of - dt.timedelta(days=days_ago or 0))
        return (moments <= cut) if op == "before" else (moments > cut)

    # -- comparisons -------------------------------------------------------------------------
    def compare(self, x: pd.Series, op: str, value: Any, kind: str) -> pd.Series:
        """Two-valued comparison of a column (kind: number/text/bool/time) with a value."""
        present = x.notna()
        if kind == "text":
            present &= x.astype(object).map(lambda v: v != "")
        if op == "is_set":
            return present
        if op == "not_set":
            return ~present
        if op == "ne":
            return ~self.compare(x, "eq", value, kind)
        if op == "not_in":
            return ~self.compare(x, "in", value, kind)
        out = pd.Series(False, index=x.index)
        valid = x.notna()
        v = x[valid]
        if kind == "time":
            if op in ("within_days", "older_than_days"):
                cut = self.as_of - dt.timedelta(days=value)
                res = (v > cut) & (v <= self.as_of) if op == "within_days" else v <= cut
                out[valid] = res
                return out
            values = value if isinstance(value, list) else [value]
            if all(len(s) == 10 for s in values):
                v = v.map(lambda t: t.date())
                conv: Callable[[str], Any] = dt.date.fromisoformat
            else:
                conv = dt.datetime.fromisoformat
            value = [conv(s) for s in value] if isinstance(value, list) else conv(value)
        if op == "in":
            res = v.isin(value)
        elif op == "between":
            res = (v >= value[0]) & (v <= value[1])
        elif op == "contains":
            res = v.map(lambda s: value.lower() in str(s).lower())
        elif op == "starts_with":
            res = v.map(lambda s: str(s).lower().startswith(value.lower()))
        else:
            res = self.numeric_test(op, value, v)
        out[valid] = res.astype(bool)
        return out

    def json_values(self, docs: pd.Series, path: str, sample: Any) -> tuple[pd.Series, str]:
        def get(doc: Any) -> Any:
            for key in path.split("."):
                if not isinstance(doc, dict) or key not in doc:
                    return None
                doc = doc[key]
            return doc

        def as_text(v: Any) -> Any:
            if v is None or isinstance(v, str):
                return v
            if isinstance(v, bool):
                return str(v).lower()
            if isinstance(v, dict | list):
                return json.dumps(v, separators=(",", ":"))
            return str(v)

        def as_number(v: Any) -> Any:
            return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

        # Plain lists and dtype=object: pandas would otherwise turn None into NaN (or "nan").
        raw = [get(doc) for doc in docs]
        if isinstance(sample, bool):
            convert, kind = (lambda v: v if isinstance(v, bool) else None), "bool"
        elif isinstance(sample, int | float):
            convert, kind = as_number, "number"
        else:
            convert, kind = as_text, "text"
        return pd.Series([convert(v) for v in raw], index=docs.index, dtype=object), kind

    # -- nodes -------------------------------------------------------------------------------
    def members(self, node: d.Node) -> set[str]:
        return set(self.eval(node)[lambda s: s].index)

    def eval(self, node: d.Node) -> pd.Series:  # noqa: C901 - one branch per kind
        if isinstance(node, d.AllOf):
            out = pd.Series(True, index=self.ids)
            for c in node.conditions:
                out &= self.eval(c)
            return out
        if isinstance(node, d.AnyOf):
            out = self.none()
            for c in node.conditions:
                out |= self.eval(c)
            return out
        if isinstance(node, d.Not):
            return ~self.eval(node.condition)
        if isinstance(node, d.SegmentRef):
            assert self.resolve is not None
            return self.eval(self.resolve(node.name))
        if isinstance(node, d.ProfileCondition):
            if node.field.startswith("traits."):
                docs = self.c360["traits"].map(
                    lambda t: json.loads(t) if isinstance(t, str) else {}
                )
                sample = (
                    node.value[0] if isinstance(node.value, list) and node.value else node.value
                )
                x, kind = self.json_values(docs, node.field[7:], sample)
                return self.compare(x, node.op, node.value, kind)
            x = self.c360[node.field]
            if node.field in ("signup_date", "birth_date"):
                kind = "time"
            elif pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
                kind = "number"
            else:
                kind = "text"
            return self.compare(x, node.op, node.value, kind)
        if isinstance(node, d.TopCondition):
            x = self.c360[node.field].astype(float)
            n = int(x.notna().sum())
            rank = x.rank(method="min", ascending=False)
            limit = math.ceil(Decimal(repr(float(node.share))) * n)
            return (rank <= limit).fillna(False)
        if isinstance(node, d.EventCondition | d.NotPerformedCondition | d.EventTimeCondition):
            ev = self.events
            keep = ev["name"] == node.name
            if node.channel is not None:
                keep &= ev["channel"] == node.channel
            if not isinstance(node, d.EventTimeCondition):
                keep &= self.window(ev["occurred_at"], node.window)
            for f in node.where:
                sample = f.value[0] if isinstance(f.value, list) and f.value else f.value
                x, kind = self.json_values(self._props, f.property, sample)
                keep &= self.compare(x, f.op, f.value, kind)
            rows = ev[keep]
            if isinstance(node, d.EventTimeCondition):
                agg = rows.groupby("customer_id")["occurred_at"]
                moment = self.per_customer(agg.min() if node.which == "first" else agg.max(), None)
                return (
                    self.cutoff(moment, node.op, node.date, node.days_ago).fillna(False)
                    & moment.notna()
                )
            counts = self.per_customer(rows.groupby("customer_id").size(), 0)
            if isinstance(node, d.NotPerformedCondition):
                return counts == 0
            return self.numeric_test(node.op, node.times, counts)
        if isinstance(node, d.PurchaseCondition | d.PurchaseTimeCondition):
            tx = self.tx
            keep = pd.Series(True, index=tx.index)
            if isinstance(node, d.PurchaseCondition):
                keep &= self.window(tx["occurred_at"], node.window)
            if node.category:
                keep &= tx["category"].isin(node.category)
            if node.product:
                keep &= tx["product_id"].isin(node.product)
            rows = tx[keep]
            # a line is a purchase unless flagged as a return (NULL flag = purchase)
            purchase = rows["is_return"].map(lambda r: not (isinstance(r, bool | np.bool_) and r))
            if isinstance(node, d.PurchaseTimeCondition):
                agg = rows[purchase].groupby("customer_id")["occurred_at"]
                moment = self.per_customer(agg.min() if node.which == "first" else agg.max(), None)
                return (
                    self.cutoff(moment, node.op, node.date, node.days_ago).fillna(False)
                    & moment.notna()
                )
            if node.measure == "count":
                value = rows[purchase].groupby("customer_id")["transaction_id"].nunique()
            else:
                column = "amount" if node.measure == "spend" else "quantity"
                value = rows.groupby("customer_id")[column].sum().astype(float)
            return self.numeric_test(node.op, node.value, self.per_customer(value, 0))
        if isinstance(node, d.MessageCondition):
            verbs = {
                "received": ("sent", "delivered"),
                "opened": ("opened",),
                "clicked": ("clicked",),
            }[node.action]
            ev = self.events
            generic = ev["name"].isin([f"message_{v}" for v in verbs])
            if node.channel is not None:
                generic &= ev["channel"] == node.channel
            channels = [node.channel] if node.channel else list(KNOWN_CHANNELS)
            prefixed = ev["name"].isin([f"{c}_{v}" for c in channels for v in verbs])
            keep = (generic | prefixed) & self.window(ev["occurred_at"], node.window)
            rows = ev[keep]
            key = self._props[keep].map(lambda p: p.get("message_id")).fillna(rows["event_id"])
            counts = self.per_customer(key.groupby(rows["customer_id"]).nunique(), 0)
            return self.numeric_test(node.op, node.times, counts)
        if isinstance(node, d.LocationCondition):
            out = pd.Series(True, index=self.ids)
            for col in ("country", "region", "city"):
                wanted = getattr(node, col)
                if wanted:
                    lowered = {w.lower() for w in wanted}
                    out &= self.c360[col].map(
                        lambda v, ok=lowered: isinstance(v, str) and v.lower() in ok
                    )
            return out
        if isinstance(node, d.NearCondition):
            lat = np.radians(self.c360["latitude"].astype(float))
            lon = np.radians(self.c360["longitude"].astype(float))
            lat0, lon0 = math.radians(node.latitude), math.radians(node.longitude)
            a = (
                np.sin((lat - lat0) / 2) ** 2
                + math.cos(lat0) * np.cos(lat) * np.sin((lon - lon0) / 2) ** 2
            )
            km = 2 * 6371.0088 * np.arcsin(np.sqrt(np.minimum(1, a)))
            return (km <= node.radius_km).fillna(False)
        if isinstance(node, d.ConsentCondition):
            k = self.consents
            k = k[k["channel"].isin([node.channel, "all"]) & (k["purpose"] == node.purpose)]
            # latest decision; on a tie the denial wins
            k = k.assign(deny_first=(k["status"] == "granted").astype(int))
            latest = k.sort_values(
                ["customer_id", "occurred_at", "deny_first"], ascending=[True, False, True]
            )
            latest = latest.drop_duplicates("customer_id").set_index("customer_id")["status"]
            status = latest.reindex(self.ids)
            granted = status == "granted"
            if self.policy == "opt_out":
                granted |= status.isna()
            return granted
        if isinstance(node, d.RandomBucket):
            b = pd.Series([stable_bucket(node.salt, c) for c in self.ids], index=self.ids)
            return (b >= node.offset) & (b < node.offset + node.share)
        raise AssertionError(f"no reference for {node.kind}")
