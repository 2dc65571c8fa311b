"""Alembic environment: runs on the connection the catalog hands it (see store/database.py)."""

from alembic import context
from sqlalchemy import create_engine

from modelcatalog.store.tables import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    # Used by `alembic revision --autogenerate` during development.
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic.ini sets no sqlalchemy.url to generate revisions against")
    engine = create_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
