"""A store identity: a random id that namespaces this store's entries in the system keyring.

Two stores on one machine (the demo's throwaway one and the real one, say) must never read
each other's secrets, so keyring entries are named after the store, not only the integration.
"""

import uuid

from peewee import CharField, Model, TextField


def up(migrator, db):
    class AppSetting(Model):
        key = CharField(primary_key=True)
        value = TextField()

        class Meta:
            database = db
            table_name = "app_setting"

    db.create_tables([AppSetting])
    AppSetting.create(key="store_id", value=uuid.uuid4().hex)


def down(migrator, db):
    migrator.migrate(migrator.drop_table("app_setting"))
