"""Where an alert's ticket went, as named when it was made: the PSA company and the board. The
alert detail says so even after the mapping or the alert route changes."""

from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("alert", "ticket_company", CharField(null=True)),
        migrator.add_column("alert", "ticket_board", CharField(null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("alert", "ticket_company"),
        migrator.drop_column("alert", "ticket_board"),
    )
