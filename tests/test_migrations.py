"""The schema is built by the migrations alone, and the models agree with them."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext


def test_upgrading_an_empty_database_to_head_leaves_no_drift(app, db):
    """The session's database was created empty and upgraded to head by the `app` fixture."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_every_revision_has_a_real_message():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from backend.config import PROJECT_ROOT

    config = Config(str(PROJECT_ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    script = ScriptDirectory.from_config(config)
    revisions = list(script.walk_revisions())
    assert revisions
    for revision in revisions:
        assert revision.doc and len(revision.doc) > 15, revision.revision
    assert len(script.get_heads()) == 1, "migrations must form a single line"
