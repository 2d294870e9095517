"""API keys and other secrets: in the system keyring, or in a 0600 file when there is none.

Over SSH on a headless box there is usually no keyring backend (no desktop session, no D-Bus
secret service). Then secrets go to `secrets.json` in the config dir, created with mode 0600,
and the app says so once. `MSP_TUI_SECRETS=keyring|file` forces a choice (`memory` exists for
tests). Secrets are addressed by (integration, name) inside a namespace: the store's id, so two
stores on one machine never share entries. Values are never logged and never stored in the
database.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.compat import properties

from msp_tui.paths import config_dir

SERVICE_PREFIX = "msp-tui"
MODES = ("keyring", "file", "memory")


class SecretStoreError(Exception):
    """A secret could not be read or written; the message says what to do."""


class MemoryKeyring(KeyringBackend):
    """Secrets in a dict, gone with the process: for tests."""

    @properties.classproperty
    def priority(cls) -> float:
        return -10  # never picked by keyring on its own

    def __init__(self) -> None:
        super().__init__()
        self._values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self._values.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


class FileKeyring(KeyringBackend):
    """Secrets in one JSON file readable only by its owner (mode 0600, directory 0700).

    Not encrypted: the protection is the file mode, as with ~/.ssh keys. Writes go to a new
    0600 file that replaces the old one, so a crash never leaves half a file.
    """

    @properties.classproperty
    def priority(cls) -> float:
        return -10  # chosen explicitly, never by keyring's own discovery

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            mode = self.path.stat().st_mode & 0o777
        except FileNotFoundError:
            return {}
        if mode & 0o077:
            raise SecretStoreError(
                f"{self.path} is readable by other users (mode {mode:o});"
                f" run: chmod 600 {self.path}"
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError) as exc:
            raise SecretStoreError(f"cannot read secrets file {self.path}: {exc}") from exc
        if not isinstance(data, dict):
            raise SecretStoreError(f"secrets file {self.path} is not a JSON object")
        return data

    def _save(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600 before a byte is written.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".secrets-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write between processes (a CLI and the TUI, say)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_path = self.path.with_suffix(".lock")
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:
                import fcntl
            except ImportError:  # not on Windows; one writer at a time is then up to the user
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._locked():
            data = self._load()
            data.setdefault(service, {})[username] = password
            self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        with self._locked():
            data = self._load()
            if data.get(service, {}).pop(username, None) is None:
                raise keyring.errors.PasswordDeleteError(username)
            if not data[service]:
                del data[service]
            self._save(data)


def secrets_file_path() -> Path:
    return config_dir() / "secrets.json"


def system_keyring() -> KeyringBackend | None:
    """The system keyring, or None when there is no usable backend (typical over SSH)."""
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


class SecretStore:
    """Secrets addressed by (integration, name) within one store's namespace."""

    def __init__(self, backend: KeyringBackend, namespace: str, notice: str | None = None):
        self.backend = backend
        self.service = f"{SERVICE_PREFIX}/{namespace}"
        #: What to tell the operator once about where secrets live, or None for the keyring.
        self.notice = notice

    @property
    def description(self) -> str:
        if isinstance(self.backend, FileKeyring):
            return f"file {self.backend.path} (mode 0600)"
        if isinstance(self.backend, MemoryKeyring):
            return "memory (not kept)"
        return f"keyring ({type(self.backend).__module__}.{type(self.backend).__name__})"

    def _username(self, integration: str, name: str) -> str:
        if not integration or not name:
            raise ValueError("a secret needs an integration and a name")
        return f"{integration}/{name}"

    def _call(self, what: str, fn, *args):
        try:
            return fn(self.service, *args)
        except keyring.errors.PasswordDeleteError:
            return None
        except keyring.errors.KeyringError as exc:
            # Never include the arguments: one of them may be the secret.
            raise SecretStoreError(
                f"the system keyring failed to {what} a secret ({type(exc).__name__});"
                " set MSP_TUI_SECRETS=file to keep secrets in a 0600 file instead"
            ) from None

    def set(self, integration: str, name: str, value: str) -> None:
        if not value:
            raise ValueError("refusing to store an empty secret")
        self._call("store", self.backend.set_password, self._username(integration, name), value)

    def get(self, integration: str, name: str) -> str | None:
        """The environment variable `env_name(...)` first (a service's EnvironmentFile, a
        second host), then the store."""
        from_env = os.environ.get(env_name(integration, name))
        if from_env:
            return from_env
        return self._call("read", self.backend.get_password, self._username(integration, name))

    def source(self, integration: str, name: str) -> str | None:
        """Where `get` finds this secret (never its value), or None when it has none."""
        variable = env_name(integration, name)
        if os.environ.get(variable):
            return f"environment {variable}"
        found = self._call("read", self.backend.get_password, self._username(integration, name))
        return self.description if found else None

    def delete(self, integration: str, name: str) -> None:
        self._call("delete", self.backend.delete_password, self._username(integration, name))


def env_name(integration: str, name: str) -> str:
    """The variable that supplies a secret: (psa/connectwise, private_key) is
    MSP_TUI_SECRET_PSA_CONNECTWISE_PRIVATE_KEY, (spamtitan, api_key)
    MSP_TUI_SECRET_SPAMTITAN_API_KEY."""
    scope = "".join(c if c.isalnum() else "_" for c in f"{integration}_{name}".upper())
    return f"MSP_TUI_SECRET_{scope}"


_MEMORY = MemoryKeyring()


def open_secret_store(namespace: str, mode: str | None = None) -> SecretStore:
    """The secret store for one data store. `mode` defaults to MSP_TUI_SECRETS, then to the
    system keyring if there is one, then to the file."""
    mode = (mode or os.environ.get("MSP_TUI_SECRETS") or "").strip().lower() or None
    if mode not in (None, *MODES):
        raise SecretStoreError(f"MSP_TUI_SECRETS={mode!r} is not one of: {', '.join(MODES)}")
    if mode == "memory":
        return SecretStore(_MEMORY, namespace)
    if mode in (None, "keyring"):
        backend = system_keyring()
        if backend is not None:
            return SecretStore(backend, namespace)
        if mode == "keyring":
            raise SecretStoreError(
                "MSP_TUI_SECRETS=keyring but no keyring backend is available"
                " (over SSH there usually is none); unset it to use a 0600 file instead"
            )
    path = secrets_file_path()
    notice = None
    if mode is None:
        notice = (
            f"No system keyring here: secrets are kept in {path} (mode 0600)."
            " Set MSP_TUI_SECRETS=file to silence this, or =keyring to require a keyring."
        )
    return SecretStore(FileKeyring(path), namespace, notice)
