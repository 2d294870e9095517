"""What the operator did to a mapping outlives the board: an account or service they unmapped
stays unmapped when the board opens again (the matcher only suggests it), and a service mapping
says how it was made, as an account mapping does. Service mappings made before this say
"manual": how they were made was not kept."""

from peewee import BooleanField, CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("vendor_account", "kept_unmapped", BooleanField(default=False)),
        migrator.add_column("vendor_service", "kept_unmapped", BooleanField(default=False)),
        migrator.add_column("service_mapping", "method", CharField(default="manual")),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("vendor_account", "kept_unmapped"),
        migrator.drop_column("vendor_service", "kept_unmapped"),
        migrator.drop_column("service_mapping", "method"),
    )
