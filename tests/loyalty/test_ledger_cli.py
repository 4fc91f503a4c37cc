"""`cvm loyalty enroll|post|balance|statement|reverse|expire|rewards|redeem|referrals` end to end
through the real command line on a real workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
from typer.testing import CliRunner

from cvm.cli.app import app
from cvm.core.errors import CvmError
from cvm.workspace import init_workspace

runner = CliRunner()

CATALOGUE = """
rewards:
  - {id: coffee, name: Free coffee, points: 300}
  - {id: mug, name: Mug, points: 100, stock: 1}
  - {id: lounge, name: Lounge pass, points: 50, tier: gold}
  - {id: old, name: Old bag, points: 10, valid_to: 2020-12-31}
"""


def cvm(root: Path, *args: str, code: int = 0) -> Any:
    """Run a command; a domain error counts with the exit code and message `cvm.cli.app.main`
    gives it (CliRunner calls the Typer app directly, without that wrapper)."""
    result = runner.invoke(app, [*args, "--workspace", str(root)])
    output, exit_code = result.output, result.exit_code
    if isinstance(result.exception, CvmError):
        output, exit_code = output + result.exception.message, result.exception.exit_code
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert exit_code == code, output
    if "--json" in args and code == 0:
        return json.loads(output)
    return output


def workspace(tmp_path: Path) -> Path:
    ws = init_workspace(tmp_path / "ws")
    root = ws.root
    ws.close()
    return root


def test_points_lifecycle_through_the_cli(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    assert cvm(root, "loyalty", "enroll", "c1", "--at", "2024-01-01", "--json")["enrolled"]
    assert "already a member" in cvm(root, "loyalty", "enroll", "c1")
    earn = ["loyalty", "post", "c1", "400", "--kind", "earn", "--key", "o1"]
    assert (
        cvm(root, *earn, "--expires", "2024-03-01", "--at", "2024-01-02", "--json")["posted"] == 1
    )
    assert cvm(root, *earn, "--json")["duplicates"] == 1  # a retry posts once
    over = cvm(root, "loyalty", "post", "c1", "-500", "--kind", "redeem", "--key", "r1", code=2)
    assert "posting 'r1' rejected: insufficient balance: 400 points, 500 needed" in over
    cvm(root, "loyalty", "post", "c1", "5", "--kind", "bonus", code=2)
    balance = cvm(root, "loyalty", "balance", "c1", "--json")
    assert balance["balance"] == 400 and balance["earned"] == 400
    assert cvm(root, "loyalty", "reverse", "o1", "--reason", "returned", "--json")["posted"] == 1
    assert cvm(root, "loyalty", "balance", "c1", "--json")["balance"] == 0
    kinds = [e["kind"] for e in cvm(root, "loyalty", "statement", "c1", "--json")]
    assert kinds == ["reverse", "earn"]
    cvm(root, "loyalty", "post", "c1", "30", "--kind", "earn", "--expires", "2024-02-01")
    assert cvm(root, "loyalty", "expire", "--as-of", "2024-02-01", "--json")["posted"] == 1
    assert "not a loyalty member" in cvm(root, "loyalty", "balance", "nobody", code=2)


def test_rewards_and_redemption_through_the_cli(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    catalogue = tmp_path / "rewards.yaml"
    catalogue.write_text(CATALOGUE)
    assert cvm(root, "loyalty", "rewards", "load", str(catalogue), "--json") == {
        "added": 4,
        "updated": 0,
    }
    listed = {r["id"]: r for r in cvm(root, "loyalty", "rewards", "list", "--json")}
    assert listed["coffee"]["stock"] is None and listed["mug"]["stock"] == 1
    assert listed["old"]["available"] is False
    for member in ("a", "b"):
        cvm(root, "loyalty", "enroll", member)
        cvm(root, "loyalty", "post", member, "250", "--kind", "earn")
    done = cvm(root, "loyalty", "redeem", "a", "mug", "--key", "k1", "--json")
    assert (done["points"], done["balance"], done["duplicate"]) == (100, 150, False)
    assert cvm(root, "loyalty", "redeem", "a", "mug", "--key", "k1", "--json")["duplicate"]
    refusals = {
        ("b", "mug"): "reward 'mug' is out of stock",
        ("b", "coffee"): "cannot redeem 'coffee': insufficient balance: 250 points, 300 needed",
        ("b", "lounge"): "reward 'lounge' needs tier 'gold' or above",
        ("b", "old"): "reward 'old' expired on 2020-12-31 23:59",
        ("b", "nope"): "no reward with id 'nope'",
        ("zed", "mug"): "reward 'mug' is out of stock",
    }
    for (member, reward), message in refusals.items():
        assert message in cvm(root, "loyalty", "redeem", member, reward, code=2)
    assert cvm(root, "loyalty", "balance", "b", "--json")["balance"] == 250
    # reloading the same file does not restock what was redeemed
    cvm(root, "loyalty", "rewards", "load", str(catalogue))
    listed = {r["id"]: r for r in cvm(root, "loyalty", "rewards", "list", "--json")}
    assert (listed["mug"]["stock"], listed["mug"]["redeemed"]) == (0, 1)


def test_tier_requirement_reads_the_current_tier_from_the_warehouse(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    (root / "loyalty.yaml").write_text(
        "tiers:\n  levels:\n    - {name: member, threshold: 0}\n"
        "    - {name: gold, threshold: 1000}\n    - {name: platinum, threshold: 5000}\n"
    )
    catalogue = tmp_path / "rewards.yaml"
    catalogue.write_text(CATALOGUE)
    cvm(root, "loyalty", "rewards", "load", str(catalogue))
    for member in ("p", "m"):
        cvm(root, "loyalty", "enroll", member)
        cvm(root, "loyalty", "post", member, "100", "--kind", "earn")
    from cvm.workspace import open_workspace

    with open_workspace(root) as ws:
        ws.engine.write_arrow(
            "loyalty_tiers",
            pa.table(
                {
                    "customer_id": ["p", "p", "m"],
                    "tier": ["member", "platinum", "member"],
                    "valid_from": pa.array([0, 10], pa.int32()).cast(pa.date32()).to_pylist()
                    + [None],
                    "valid_to": [pa.scalar(10, pa.int32()).cast(pa.date32()).as_py(), None, None],
                }
            ),
        )
    assert cvm(root, "loyalty", "redeem", "p", "lounge", "--json")["points"] == 50
    assert "needs tier 'gold'" in cvm(root, "loyalty", "redeem", "m", "lounge", code=2)


def test_bad_catalogue_files_name_the_file_reward_and_key(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("rewards:\n  - {id: a, name: A, points: 5}\n  - {id: b, name: B, points: -1}\n")
    out = cvm(root, "loyalty", "rewards", "load", str(bad), code=2)
    assert f"{bad}: reward 2 (b), key 'points': Input should be greater than 0" in out
    bad.write_text("rewards:\n  - {id: a, name: A, points: 5, colour: red}\n")
    assert "reward 1 (a), key 'colour': Extra inputs are not permitted" in cvm(
        root, "loyalty", "rewards", "load", str(bad), code=2
    )
    bad.write_text("rewards: [\n")
    assert "not valid YAML" in cvm(root, "loyalty", "rewards", "load", str(bad), code=2)
    assert "no such file" in cvm(
        root, "loyalty", "rewards", "load", str(tmp_path / "x.yaml"), code=2
    )


def test_referrals_through_the_cli(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    cvm(root, "loyalty", "enroll", "alice")
    code = cvm(root, "loyalty", "referrals", "code", "alice").strip()
    joined = cvm(root, "loyalty", "enroll", "bob", "--referral-code", code, "--json")
    assert (joined["referrer"], joined["referral_status"]) == ("alice", "pending")
    assert "no member has the referral code" in cvm(
        root, "loyalty", "enroll", "eve", "--referral-code", "WRONG", code=2
    )
    out = cvm(root, "loyalty", "referrals", "qualify", "bob", "50", "--order", "o1", "--json")
    assert (out["status"], out["points_posted"]) == ("qualified", 2)
    assert cvm(root, "loyalty", "balance", "alice", "--json")["balance"] == 500
    [row] = cvm(root, "loyalty", "referrals", "list", "--json")
    assert row["status"] == "qualified"
