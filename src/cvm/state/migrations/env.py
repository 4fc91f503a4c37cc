"""Alembic environment: the engine is handed in by `cvm.state.store.upgrade_state`."""

from alembic import context

from cvm.state.tables import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
