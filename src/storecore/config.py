"""The archive server's configuration: a TOML file, checked strictly.

``storecore serve --config storecore.toml`` reads it; command-line options
override it. Every key is optional; an unknown table or key, or a value of the
wrong type, is an error that names it (a typo must not silently fall back to a
default). The reference file, with every key and its default:

.. code-block:: toml

    [server]
    ae_title = "STORECORE"        # our AE title: associations calling another are rejected
    host = "0.0.0.0"
    port = 11112
    max_pdu_length = 131072       # the Maximum Length we advertise (PS3.8 D.1)

    [peers]
    allowed_calling_ae_titles = []  # empty: anyone may store

    [peers.directory]             # where requesters of Storage Commitment listen, for
    # WORKSTATION1 = "10.0.0.5:11113"  # reports on a new association (PS3.4 J.3.3)

    [accept]
    sop_classes = []              # empty: every Storage SOP Class (PS3.4 B.5)
    transfer_syntaxes = []        # empty: every native and encapsulated syntax
    promiscuous = false           # also accept SOP classes we do not know

    [storage]
    path = "archive"
    layout = "study"              # or "hashed"
    duplicates = "keep"           # keep | overwrite | reject | version
    durability = "fsync"          # fsync | background
    store_transfer_syntax = ""    # "": as received; else a native syntax UID or keyword
    flush_interval = 1.0          # background durability: seconds between syncs
    min_free_bytes = 1073741824   # refuse (0xA700) below this much free space
    reservation_bytes = 67108864  # space reserved per instance in flight

    [metrics]                     # present: Prometheus metrics on http://host:port/metrics
    port = 9464
    host = "127.0.0.1"

    [[forward]]                   # each: a forwarding rule (storecore.forward)
    name = "to-pacs"
    destination = "PACS@10.0.0.9:104"   # AE title @ host : port
    trigger = "on-store"          # once each matching instance is stored, or
                                  # "on-study-stable": the study, once quiet for
    stable_seconds = 60           # this long, as one batch over one association
    match = { modality = ["CT", "MR"] } # instance keys -> accepted values; absent: all
    transfer_syntaxes = ["JPEGLSLossless"]  # forward in these by preference (UID or keyword)
    allow_lossy = false
    commit = false                # request Storage Commitment; done only once committed

    [validation]                  # present: the SOP Class validators run on every instance
    mode = "strict"               # strict: an error refuses (0xA900); lenient: stored, 0xB007
    # warning_status, failure_status, disabled = ["label", ...],
    # [validation.per_ae.SOME_AE] mode = "lenient"   (see storecore.validators.policy)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from storecore.errors import StorecoreError
from storecore.storage.blobstore import Layout
from storecore.storage.policy import DuplicatePolicy, Durability, StoragePolicy
from storecore.uid import transfer_syntax

__all__ = ["ConfigError", "ServeConfig", "load_config"]


class ConfigError(StorecoreError):
    """The configuration file is wrong; the message names the key."""


@dataclass(frozen=True)
class ServeConfig:
    """What ``storecore serve`` runs with."""

    ae_title: str = "STORECORE"
    host: str = "0.0.0.0"
    port: int = 11112
    max_pdu_length: int = 128 * 1024
    allowed_calling_ae_titles: tuple[str, ...] = ()
    directory: tuple[tuple[str, str, int], ...] = ()
    sop_classes: tuple[str, ...] = ()
    transfer_syntaxes: tuple[str, ...] = ()
    promiscuous: bool = False
    path: Path = Path("archive")
    layout: Layout = Layout.STUDY
    duplicates: DuplicatePolicy = DuplicatePolicy.KEEP
    durability: Durability = Durability.FSYNC
    store_transfer_syntax: str | None = None
    flush_interval: float = 1.0
    min_free_bytes: int = 1 << 30
    reservation_bytes: int = 64 << 20
    forward: tuple[Any, ...] = field(default=(), compare=False)
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    validation: dict[str, Any] | None = field(default=None, compare=False)
    source: Path | None = field(default=None, compare=False)

    def policy(self) -> StoragePolicy:
        policy = StoragePolicy(
            duplicates=self.duplicates,
            durability=self.durability,
            store_transfer_syntax=self.store_transfer_syntax,
            min_free_bytes=self.min_free_bytes,
            reservation_bytes=self.reservation_bytes,
            flush_interval=self.flush_interval,
        )
        if self.forward:
            from storecore.forward import router

            policy = replace(policy, route=router(self.forward))
        if self.validation is None:
            return policy
        from storecore.validators import ValidationConfig, default_registry

        check = default_registry().validator(
            ValidationConfig.from_mapping(self.validation),
            limits=policy.limits,
            lenient_odd_length=policy.lenient_odd_length,
        )
        return replace(policy, validators=(check,))

    def override(self, **changes: Any) -> ServeConfig:
        """Command-line options (None: not given) over the file's values."""
        given = {k: v for k, v in changes.items() if v is not None}
        return _check(replace(self, **given), "command line")


# table -> key -> (field, expected type)
_SCHEMA: dict[str, dict[str, tuple[str, type | tuple[type, ...]]]] = {
    "server": {
        "ae_title": ("ae_title", str),
        "host": ("host", str),
        "port": ("port", int),
        "max_pdu_length": ("max_pdu_length", int),
    },
    "peers": {
        "allowed_calling_ae_titles": ("allowed_calling_ae_titles", list),
        "directory": ("directory", dict),
    },
    "accept": {
        "sop_classes": ("sop_classes", list),
        "transfer_syntaxes": ("transfer_syntaxes", list),
        "promiscuous": ("promiscuous", bool),
    },
    "storage": {
        "path": ("path", str),
        "layout": ("layout", str),
        "duplicates": ("duplicates", str),
        "durability": ("durability", str),
        "store_transfer_syntax": ("store_transfer_syntax", str),
        "flush_interval": ("flush_interval", (int, float)),
        "min_free_bytes": ("min_free_bytes", int),
        "reservation_bytes": ("reservation_bytes", int),
    },
    "metrics": {"port": ("metrics_port", int), "host": ("metrics_host", str)},
}

_ENUMS: dict[str, type[Layout] | type[DuplicatePolicy] | type[Durability]] = {
    "layout": Layout,
    "duplicates": DuplicatePolicy,
    "durability": Durability,
}


def load_config(path: str | Path) -> ServeConfig:
    """Read and check a TOML configuration file."""
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{source}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for table, content in data.items():
        if table == "forward":
            values["forward"] = _forward_rules(source, content, data)
            continue
        if table == "validation":
            if not isinstance(content, dict):
                raise ConfigError(f"{source}: validation must be a table")
            from storecore.validators import ValidationConfig

            try:
                ValidationConfig.from_mapping(content)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"{source}: [validation]: {exc}") from None
            values["validation"] = dict(content)
            continue
        schema = _SCHEMA.get(table)
        if schema is None:
            known = ", ".join([*_SCHEMA, "validation"])
            raise ConfigError(f"{source}: unknown table [{table}] (known: {known})")
        if not isinstance(content, dict):
            raise ConfigError(f"{source}: {table} must be a table")
        for key, value in content.items():
            if key not in schema:
                raise ConfigError(
                    f"{source}: unknown key {table}.{key} (known: {', '.join(schema)})"
                )
            name, kind = schema[key]
            if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
                raise ConfigError(f"{source}: {table}.{key} has the wrong type ({value!r})")
            values[name] = value
    for name in ("allowed_calling_ae_titles", "sop_classes", "transfer_syntaxes"):
        if name in values:
            if not all(isinstance(v, str) for v in values[name]):
                raise ConfigError(f"{source}: {name} must be a list of strings")
            values[name] = tuple(values[name])
    if "directory" in values:
        entries = []
        for ae, address in values["directory"].items():
            host, _, port = str(address).rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(f"{source}: peers.directory.{ae} = {address!r}: use HOST:PORT")
            entries.append((ae, host, int(port)))
        values["directory"] = tuple(entries)
    for name, enum in _ENUMS.items():
        if name in values:
            try:
                values[name] = enum(values[name])
            except ValueError:
                choices = " | ".join(e.value for e in enum)
                raise ConfigError(
                    f"{source}: storage.{name} = {values[name]!r}: choose {choices}"
                ) from None
    if "path" in values:
        # a relative storage path is relative to the config file, not the cwd
        values["path"] = (source.parent / values["path"]).resolve()
    if values.get("store_transfer_syntax") == "":
        values["store_transfer_syntax"] = None
    return _check(ServeConfig(**values, source=source), str(source))


_FORWARD_KEYS = {
    "name",
    "destination",
    "trigger",
    "stable_seconds",
    "match",
    "allow_lossy",
    "transfer_syntaxes",
    "commit",
}


def _forward_rules(source: Path, content: Any, data: dict[str, Any]) -> tuple[Any, ...]:
    from storecore.forward import ForwardRule

    if not isinstance(content, list):
        raise ConfigError(f"{source}: forward must be an array of tables ([[forward]])")
    ae_title = str(data.get("server", {}).get("ae_title", "STORECORE"))
    rules = []
    for n, rule in enumerate(content, start=1):
        where = f"{source}: forward #{n}"
        if not isinstance(rule, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = set(rule) - _FORWARD_KEYS
        if unknown:
            known = ", ".join(sorted(_FORWARD_KEYS))
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]} (known: {known})")
        name = rule.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: name is required")
        trigger = rule.get("trigger", "on-store")
        if trigger not in ("on-store", "on-study-stable"):
            raise ConfigError(f"{where}: trigger {trigger!r}: on-store or on-study-stable")
        stable = rule.get("stable_seconds", 60.0)
        if isinstance(stable, bool) or not isinstance(stable, int | float) or stable < 0:
            raise ConfigError(f"{where}: stable_seconds must be a number of seconds >= 0")
        dest = str(rule.get("destination", ""))
        ae, _, address = dest.partition("@")
        host, _, port = address.rpartition(":")
        if not ae or not host or not port.isdigit():
            raise ConfigError(f"{where}: destination {dest!r}: use AE@HOST:PORT")
        match = rule.get("match", {})
        if not isinstance(match, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in match.values()
        ):
            raise ConfigError(f"{where}: match must map keys to lists of strings")
        rules.append(
            ForwardRule(
                name=name,
                ae_title=ae,
                host=host,
                port=int(port),
                match={k: tuple(v) for k, v in match.items()},
                allow_lossy=bool(rule.get("allow_lossy", False)),
                calling_ae_title=ae_title,
                trigger=trigger,
                stable_seconds=float(stable),
                commit=bool(rule.get("commit", False)),
                transfer_syntaxes=tuple(
                    _forward_syntax(where, t) for t in rule.get("transfer_syntaxes", [])
                ),
            )
        )
    if len({r.name for r in rules}) != len(rules):
        raise ConfigError(f"{source}: forwarding rule names must be unique")
    return tuple(rules)


def _forward_syntax(where: str, value: object) -> str:
    try:
        return transfer_syntax(str(value)).uid
    except LookupError:
        raise ConfigError(f"{where}: transfer syntax {value!r} is unknown") from None


def _check(config: ServeConfig, where: str) -> ServeConfig:
    if not 0 <= config.port <= 65535:
        raise ConfigError(f"{where}: port {config.port} is out of range")
    if config.store_transfer_syntax:
        try:
            ts = transfer_syntax(config.store_transfer_syntax)
        except LookupError:
            raise ConfigError(
                f"{where}: store_transfer_syntax {config.store_transfer_syntax!r} is unknown"
            ) from None
        if not ts.native:
            raise ConfigError(
                f"{where}: store_transfer_syntax {ts.keyword}: only native syntaxes for now"
            )
        config = replace(config, store_transfer_syntax=ts.uid)
    if config.flush_interval <= 0:
        raise ConfigError(f"{where}: flush_interval must be > 0")
    for name in ("min_free_bytes", "reservation_bytes"):
        if getattr(config, name) < 0:
            raise ConfigError(f"{where}: {name} must be >= 0")
    return config
