"""`cvm demo`: a workspace filled with a synthetic retailer and its ground truth."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, print_json, print_mapping, progress_bar, shorten
from cvm.workspace import init_workspace

if TYPE_CHECKING:
    from cvm.demo import Company


def demo(
    workspace: WorkspaceOpt = None,
    customers: Annotated[
        int, typer.Option("--customers", "-n", help="Number of customers to generate.", min=1)
    ] = 5000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same data.")] = 42,
    force: Annotated[
        bool, typer.Option("--force", help="Reset the workspace if it already exists.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace with a synthetic multi-channel retailer (data + ground truth).

    Loads customers, transactions, products, events and consents into the warehouse.

    Writes a Parquet copy and the ground truth (latent CLV parameters, true future value,
    the planted campaign uplift) under WORKSPACE/demo/.
    """
    root = workspace or (
        Path(os.environ["CVM_WORKSPACE"]) if os.environ.get("CVM_WORKSPACE") else Path.cwd()
    )
    # Imported here: the generator pulls in scipy and Parquet, which other commands never need.
    from cvm.demo import DemoGenerator, export_company
    from cvm.demo.extras import add_programme_data

    # Validate the request before touching (or resetting) anything on disk.
    generator = DemoGenerator(customers, seed)
    ws = init_workspace(root, force=force)
    folder = ws.root / "demo"
    if folder.exists():
        shutil.rmtree(folder)
    began = time.perf_counter()
    try:
        with progress_bar(enabled=not as_json) as progress:
            task = progress.add_task("generating and loading customers", total=customers)

            def advance(part: Company) -> None:
                progress.advance(task, part.customers.num_rows)

            params = export_company(
                generator, folder=folder, engine=ws.engine, replace=True, on_chunk=advance
            )
            extra_task = progress.add_task("programme data", total=None)
            extras = add_programme_data(
                ws,
                seed=seed,
                currency=params["currency"],
                step=lambda label: progress.update(extra_task, description=label),
            )
            progress.update(extra_task, total=1, completed=1)
    finally:
        ws.close()
    rows, campaign = params["totals"]["rows"], params["campaign"]
    summary = {
        "workspace": str(ws.root),
        "demo folder": shorten(folder),
        "customers": rows["customers"],
        "orders": params["totals"]["orders"],
        "transaction lines": rows["transactions"],
        "products": rows["products"],
        "events": rows["events"],
        "consents": rows["consents"],
        "gross revenue": f"{params['totals']['gross_revenue']:,.2f} {params['currency']}",
        "campaign": f"{campaign['campaign_id']} sent {campaign['send_date']}",
        "campaign audience": campaign["audience"],
        "treatment / control": f"{campaign['treatment']:,} / {campaign['control']:,}",
        "planted average uplift": f"{campaign['average_true_uplift']:.2%}",
        **extras,
        "seconds": round(time.perf_counter() - began, 1),
    }
    if as_json:
        print_json(summary)
    else:
        print_mapping("demo company", summary)
        console.print(f"ground truth: {shorten(folder / 'truth')}")
