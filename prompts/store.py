"""The versioned prompts in the database: seeded from the files on the first start, edited as drafts,
published (or restored, which is publishing an older version), and read by every turn.

A turn asks for the live versions with one small query; the templates themselves are compiled once
per (name, version) and cached, since a version never changes after it is written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Template
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prompts.library import PromptLibrary
from prompts.source import FILE_VERSION, PromptSet, SystemSettings, check_settings
from prompts.templates import PROMPT_SPECS, TemplateProblem, check_template, make_environment
from storage.models import as_utc, utcnow
from storage.prompt_models import PromptVersion

log = logging.getLogger(__name__)

# Compiled templates kept in memory (each version is immutable, so nothing ever goes stale).
CACHE_SIZE = 64


class UnknownPromptError(LookupError):
    """No prompt has this name, or it has no such version."""


class VersionConflictError(Exception):
    """A draft based on a version that is no longer the newest: someone saved in between."""

    def __init__(self, newest: PromptRecord) -> None:
        super().__init__(
            f"version {newest.version} of {newest.name!r} was saved by {newest.author} in the meantime; "
            "start from it, or save again with it as base_version"
        )
        self.newest = newest


@dataclass(frozen=True)
class PromptRecord:
    """One stored version of a prompt."""

    name: str
    version: int
    template: str
    settings: dict[str, Any]
    note: str
    author: str
    created_at: datetime
    status: str
    published_at: datetime | None
    published_by: str | None

    def public(self, *, with_template: bool = True) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "note": self.note,
            "settings": self.settings,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "published_by": self.published_by,
        }
        if with_template:
            shown["template"] = self.template
        return shown


def _record(row: PromptVersion) -> PromptRecord:
    return PromptRecord(
        name=row.name,
        version=row.version,
        template=row.template,
        settings=dict(row.settings or {}),
        note=row.note,
        author=row.author,
        created_at=as_utc(row.created_at),
        status=row.status,
        published_at=as_utc(row.published_at) if row.published_at else None,
        published_by=row.published_by,
    )


class PromptStore:
    """The database prompt source (`PromptSource`); prompts missing from the database fall back to the files."""

    def __init__(self, engine: Engine, *, files: PromptLibrary | None = None) -> None:
        self.engine = engine
        self.files = files or PromptLibrary()
        self._env = make_environment()
        self._cache: dict[tuple[str, int], tuple[Template, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    # -- seeding -------------------------------------------------------------------------------

    def seed(self, *, branding: Mapping[str, Any]) -> list[str]:
        """Store each prompt file that has no version yet as its live version 1 (the system prompt
        with `branding` as its settings), and bring older defaults up to date (`_refresh`); the names
        seeded or refreshed. Safe to run on every start, by several processes at once."""
        seeded = []
        for name in self.files.names():
            settings = check_settings(name, branding if name == "system" else None)
            try:
                with Session(self.engine) as db, db.begin():
                    if db.scalar(select(func.count()).where(PromptVersion.name == name)):
                        if not self._refresh(db, name):
                            continue
                    else:
                        first = PromptVersion(
                            name=name,
                            version=1,
                            template=self.files.source(name),
                            settings=settings,
                            note=f"the default from prompts/{name}.md.j2",
                            author="setup",
                        )
                        self._publish_in(db, first, by="setup")
            except IntegrityError:
                continue  # another process seeded or refreshed it at the same moment
            seeded.append(name)  # counted once committed
        return seeded

    def _refresh(self, db: Session, name: str) -> bool:
        """Publish the file's template as a new version of `name` when the live version is an older
        default nobody edited (every version written by setup), or when it no longer passes the
        template check (this release changed the prompt's variables: it would fail every turn). An
        edited version is kept in the history either way; its settings carry over."""
        versions = db.scalars(
            select(PromptVersion).where(PromptVersion.name == name).order_by(PromptVersion.version.desc())
        ).all()
        live = next((v for v in versions if v.status == "live"), None)
        source = self.files.source(name)
        if live is None or live.template == source:
            return False
        try:
            check_template(name, live.template)
            broken = None
        except TemplateProblem as problem:
            broken = problem
        if broken is None and any(v.author != "setup" for v in versions):
            return False
        if broken is not None:
            log.warning(
                "The live %s prompt (version %d) no longer fits this release (%s): publishing the "
                "default from prompts/%s.md.j2 instead; the old version stays in the history",
                name,
                live.version,
                broken,
                name,
            )
        default = PromptVersion(
            name=name,
            version=versions[0].version + 1,
            template=source,
            settings=dict(live.settings or {}),
            note=f"the default from prompts/{name}.md.j2, updated"
            + (f" (version {live.version}: {broken})" if broken is not None else ""),
            author="setup",
        )
        self._publish_in(db, default, by="setup")
        return True

    # -- reading -------------------------------------------------------------------------------

    def summaries(self) -> list[dict[str, Any]]:
        """Every prompt name with its live and newest version."""
        with Session(self.engine) as db:
            rows = db.execute(
                select(
                    PromptVersion.name,
                    func.max(PromptVersion.version),
                    func.count(),
                    func.max(PromptVersion.created_at),
                ).group_by(PromptVersion.name)
            ).all()
            live = dict(
                db.execute(
                    select(PromptVersion.name, PromptVersion.version).where(PromptVersion.status == "live")
                ).all()
            )
        stats = {name: (newest, count, updated) for name, newest, count, updated in rows}
        return [
            {
                "name": spec.name,
                "description": spec.description,
                "variables": sorted(spec.variables),
                "live_version": live.get(spec.name),
                "newest_version": stats[spec.name][0] if spec.name in stats else None,
                "versions": stats[spec.name][1] if spec.name in stats else 0,
                "updated_at": as_utc(stats[spec.name][2]).isoformat() if spec.name in stats else None,
            }
            for spec in PROMPT_SPECS.values()
        ]

    def versions(self, name: str) -> list[PromptRecord]:
        """Every version of `name`, newest first."""
        self._known(name)
        with Session(self.engine) as db:
            rows = db.scalars(
                select(PromptVersion).where(PromptVersion.name == name).order_by(PromptVersion.version.desc())
            ).all()
            return [_record(r) for r in rows]

    def get(self, name: str, version: int) -> PromptRecord:
        self._known(name)
        with Session(self.engine) as db:
            row = self._row(db, name, version)
            return _record(row)

    def live(self, name: str) -> PromptRecord | None:
        self._known(name)
        with Session(self.engine) as db:
            row = db.scalar(
                select(PromptVersion).where(PromptVersion.name == name, PromptVersion.status == "live")
            )
            return _record(row) if row is not None else None

    # -- writing -------------------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        template: str,
        note: str,
        author: str,
        base_version: int,
        settings: Mapping[str, Any] | None = None,
    ) -> PromptRecord:
        """Store a draft after `base_version`, which must be the newest (VersionConflictError otherwise).

        The template must render (TemplateProblem) and the settings be valid (SettingsProblem);
        without `settings`, the base version's are kept. A draft identical to the base version (the
        same template and settings; the note does not count) stores nothing: the base version itself
        is returned, so `record.version == base_version` tells the caller that nothing changed.
        """
        self._known(name)
        check_template(name, template)
        checked = check_settings(name, settings) if settings is not None else None
        try:
            with Session(self.engine) as db, db.begin():
                newest = db.scalar(
                    select(PromptVersion)
                    .where(PromptVersion.name == name)
                    .order_by(PromptVersion.version.desc())
                    .limit(1)
                )
                newest_version = newest.version if newest is not None else 0
                if newest is not None and newest_version != base_version:
                    raise VersionConflictError(_record(newest))
                if newest is None and base_version not in (0, FILE_VERSION):
                    raise UnknownPromptError(f"{name!r} has no version {base_version}")
                base_settings = check_settings(name, newest.settings if newest is not None else None)
                if checked is None:
                    checked = base_settings
                if newest is not None and newest.template == template and base_settings == checked:
                    return _record(newest)
                row = PromptVersion(
                    name=name,
                    version=newest_version + 1,
                    template=template,
                    settings=checked,
                    note=note,
                    author=author,
                    status="draft",
                )
                db.add(row)
                db.flush()
                return _record(row)
        except IntegrityError:
            # Two saves on the same base at once: the other one got the number.
            newest_now = self.versions(name)[0]
            raise VersionConflictError(newest_now) from None

    def publish(self, name: str, version: int, *, by: str) -> PromptRecord:
        """Make `version` the live one (the one before it is retired); publishing an older version
        restores it. The next turn of every session uses it."""
        self._known(name)
        for attempt in range(3):
            try:
                with Session(self.engine) as db, db.begin():
                    # Publishers of one prompt take turns (row locks on PostgreSQL; SQLite has one writer).
                    db.execute(select(PromptVersion.id).where(PromptVersion.name == name).with_for_update())
                    return self._publish_in(db, self._row(db, name, version), by=by)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _publish_in(db: Session, row: PromptVersion, *, by: str) -> PromptRecord:
        """Make `row` (stored, or new: it is added) the live version of its prompt inside `db`'s
        transaction, the caller's, so that what it checked and the publishing commit together: the
        live version is retired, `row` is marked published by `by` now. Publishing the live version
        changes nothing."""
        if row.status == "live":
            return _record(row)
        db.add(row)
        db.flush()  # a new row gets its number here: a race for it fails before anything changes
        db.execute(
            update(PromptVersion)
            .where(PromptVersion.name == row.name, PromptVersion.status == "live")
            .values(status="retired")
        )
        row.status, row.published_at, row.published_by = "live", utcnow(), by
        db.flush()
        return _record(row)

    # -- the source ------------------------------------------------------------------------------

    def prompt_set(self, drafts: Mapping[str, int] | None = None) -> PromptSet:
        """The live versions (one small query), `drafts` (name → version) used instead where given."""
        for name in drafts or {}:
            self._known(name)
        with self.engine.connect() as conn:
            live = dict(
                conn.execute(
                    select(PromptVersion.name, PromptVersion.version).where(PromptVersion.status == "live")
                ).all()
            )
        wanted = {**live, **(drafts or {})}
        templates: dict[str, tuple[int, Template]] = {}
        settings: dict[str, Any] = {}
        for name, version in wanted.items():
            if name not in PROMPT_SPECS:
                continue
            template, version_settings = self._compiled(name, version)
            templates[name] = (version, template)
            if name == "system":
                settings = version_settings
        for name in self.files.names():
            templates.setdefault(name, (FILE_VERSION, self.files.template(name)))
        return PromptSet(templates, SystemSettings.model_validate(settings))

    def _compiled(self, name: str, version: int) -> tuple[Template, dict[str, Any]]:
        key = (name, version)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        record = self.get(name, version)
        compiled = (self._env.from_string(record.template), record.settings)
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = compiled
        return compiled

    @staticmethod
    def _known(name: str) -> None:
        if name not in PROMPT_SPECS:
            raise UnknownPromptError(
                f"there is no prompt named {name!r}; the prompts are: {', '.join(PROMPT_SPECS)}"
            )

    @staticmethod
    def _row(db: Session, name: str, version: int) -> PromptVersion:
        row = db.scalar(
            select(PromptVersion).where(PromptVersion.name == name, PromptVersion.version == version)
        )
        if row is None:
            raise UnknownPromptError(f"{name!r} has no version {version}")
        return row
