"""Who runs a sync: `host:pid` of the process, so a run left `running` by a process that died
(killed, or the machine restarted) is shown as interrupted instead of running forever."""

from peewee import CharField


def up(migrator, db):
    migrator.migrate(migrator.add_column("sync_run", "runner", CharField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("sync_run", "runner"))
