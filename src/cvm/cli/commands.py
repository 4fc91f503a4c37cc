"""Registers every command group on the Typer app (one module per group)."""

from __future__ import annotations

import typer

from cvm.cli import (
    acquisition_cmds,
    campaigns_cmds,
    decide_cmds,
    demo_cmds,
    feedback_cmds,
    identity_cmds,
    ingest_cmds,
    keys_cmds,
    loyalty_cmds,
    loyalty_programme_cmds,
    measure_cmds,
    models_cmds,
    privacy_cmds,
    profile_cmds,
    run_cmds,
    segments_cmds,
    serve_cmds,
    users_cmds,
    workspace_cmds,
)


def register(app: typer.Typer) -> None:
    app.command()(workspace_cmds.init)
    app.command()(workspace_cmds.info)
    app.add_typer(ingest_cmds.ingest_app, name="ingest")
    app.add_typer(ingest_cmds.quarantine_app, name="quarantine")
    app.command()(run_cmds.run)
    app.command()(run_cmds.value)
    app.command()(run_cmds.report)
    app.add_typer(models_cmds.models_app, name="models")
    app.command()(models_cmds.score)
    app.command()(demo_cmds.demo)
    app.add_typer(segments_cmds.app, name="segments")
    # live side: API server, intake, keys, profiles, identity, consent, privacy
    app.command()(serve_cmds.serve)
    app.add_typer(serve_cmds.collect_app, name="collect")
    app.add_typer(keys_cmds.keys_app, name="keys")
    app.add_typer(profile_cmds.profile_app, name="profile")
    app.add_typer(identity_cmds.identity_app, name="identity")
    app.add_typer(privacy_cmds.privacy_app, name="privacy")
    app.add_typer(privacy_cmds.consent_app, name="consent")
    app.add_typer(decide_cmds.app, name="decide")
    app.add_typer(decide_cmds.offers_app, name="offers")
    app.add_typer(campaigns_cmds.app, name="campaigns")
    app.add_typer(users_cmds.users_app, name="users")
    app.add_typer(measure_cmds.app, name="measure")
    app.add_typer(loyalty_cmds.loyalty_app, name="loyalty")
    loyalty_programme_cmds.register(loyalty_cmds.loyalty_app)  # run, tiers
    app.add_typer(acquisition_cmds.app, name="acquisition")
    app.add_typer(feedback_cmds.feedback_app, name="feedback")
