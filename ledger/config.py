"""Settings (pydantic-settings, ``TIPLEDGER_*`` environment variables) and the data directory.

The data directory (``$TIPLEDGER_HOME``, default a per-user data dir) holds what one deployment of
TipLedger needs on this machine: the deployment file written by ``devchain`` or ``deploy``, the
anchorer key, the SQLite database and the devchain's state.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from platformdirs import user_data_dir
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from ledger.audit.deadlines import Deadlines


def default_home() -> Path:
    return Path(user_data_dir("tipledger", appauthor=False))


class Settings(BaseSettings):
    """Everything configurable, from the environment (``TIPLEDGER_HOME``, ...)."""

    model_config = SettingsConfigDict(env_prefix="TIPLEDGER_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    rpc_url: str | None = None
    key_passphrase: str | None = Field(default=None, repr=False)
    key_passphrase_file: Path | None = None
    rpc_timeout: float = 10.0
    # Sequencer: a batch every interval, or sooner when this many submissions wait.
    batch_interval: float = 1.0
    batch_cap: int = 65_536
    confirmations: int = 0
    # Seconds a sequencer's lease lasts without renewal before another instance takes over.
    lease_seconds: float = 5.0
    # Seconds an anchor transaction may stay unmined before it is replaced with higher fees.
    tx_stuck_seconds: float = 30.0
    # HTTP API.
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 16 * 1024 * 1024
    # The HTTP edge (api/server.py), per API process: a request head (request line and headers)
    # of more bytes or header lines gets 431, one not complete this many seconds after the
    # connection opened 408; a body gets BODY_TIMEOUT seconds plus one per BODY_MIN_RATE bytes
    # (a rate, so a large attachment from a slow phone still arrives and a trickle does not
    # hold a connection), then 408; connections beyond MAX_CONNECTIONS get 503 and are closed.
    max_header_bytes: int = Field(default=16 * 1024, ge=256)
    max_headers: int = Field(default=100, ge=1)
    header_timeout: float = Field(default=10.0, gt=0)
    body_timeout: float = Field(default=30.0, gt=0)
    body_min_rate: float = Field(default=1024.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)
    desk_public_key: str | None = None
    # Tips, attachments, identities and answers arrive sealed on the sender's device (PROTOCOL.md
    # 17). True also takes them in clear and seals them here, as before: the service then reads
    # each one as it arrives, so a compromised or compelled server reads every new tip. Off
    # unless a deployment turns it on (README, "Sealing on the device").
    server_sealing: bool = False
    # The URL reviewers and custodians reach this service at: the domain and URI their EIP-4361
    # sign-in messages must name (default http://HOST:PORT). Never taken from a request's Host.
    public_url: str | None = None
    # Where verifiers fetch the log's tiles (PROTOCOL.md 18): a mirror or CDN; default this
    # service's own /log. Published in /web-config.json as log_url.
    log_url: str | None = None
    session_seconds: int = 8 * 3600
    # Sign-in challenges a client address may ask for per minute (a burst of as many, counted in
    # memory under a keyed hash of the address), and the most outstanding nonces in total.
    challenges_per_source: int = Field(default=30, ge=1)
    max_open_challenges: int = Field(default=10_000, ge=1)
    # How long agencies have to answer a tip: a preset ("th", "eu") or "ack=7d,outcome=90d"
    # (ledger.audit.deadlines); the audit and the transparency page measure against it.
    deadlines: str = "th"

    @field_validator("deadlines")
    @classmethod
    def _check_deadlines(cls, value: str) -> str:
        from ledger.audit.deadlines import parse_deadlines  # lazily: config stays light
        from ledger.errors import ConfigError

        try:
            return parse_deadlines(value).spec()
        except ConfigError as exc:  # pydantic reports a ValueError naming the variable
            raise ValueError(str(exc)) from exc

    @property
    def deadline_policy(self) -> Deadlines:
        """``deadlines`` parsed: ``.ack_days``, ``.outcome_days``."""
        from ledger.audit.deadlines import parse_deadlines

        return parse_deadlines(self.deadlines)

    @property
    def service_url(self) -> str:
        """The service of this data directory: TIPLEDGER_PUBLIC_URL, else the URL ``serve``
        wrote while it runs (any port it was given), else host and port."""
        if self.public_url:
            return self.public_url.rstrip("/")
        try:
            served = self.served_url_file.read_text(encoding="utf-8").strip()
        except OSError:
            served = ""
        return (served or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def served_url_file(self) -> Path:
        return self.home / "served-url.txt"

    @property
    def deployment_file(self) -> Path:
        return self.home / "deployment.json"

    @property
    def anchorer_key_file(self) -> Path:
        return self.home / "anchorer-key.json"

    @property
    def desk_public_file(self) -> Path:
        return self.home / "desk-public.txt"

    @property
    def devchain_dir(self) -> Path:
        return self.home / "devchain"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'ledger.sqlite3'}"

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.home
