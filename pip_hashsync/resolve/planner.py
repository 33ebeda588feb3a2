"""``sync``'s planning half: from requirements files and a target to a plan.

The flow is the design's, one way: read the files and decide the hash mode; introspect the
target; evaluate markers there; read the indexes; let the provider choose one file per
project and keep evidence for every other; check the closure; compare with what is
installed. Every problem found on the way is collected, so a run reports all of them, and
nothing here changes the environment.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version
from resolvelib import BaseReporter, ResolutionImpossible, Resolver
from resolvelib.structs import RequirementInformation

from pip_hashsync.archives.cache import ArchiveCache
from pip_hashsync.archives.fetch import fetch_file
from pip_hashsync.environment.installed import (
    InstalledDist,
    own_requirements,
    protected_closure,
    scan,
)
from pip_hashsync.environment.target import Target, protected_names
from pip_hashsync.errors import ExitCode, HashsyncError, Problem
from pip_hashsync.index.candidates import Candidate
from pip_hashsync.index.http import (
    Clients,
    HttpClient,
    NetworkError,
    requirements_file_reader,
)
from pip_hashsync.index.metadata import IntegrityError, Metadata, MetadataFetcher
from pip_hashsync.index.pages import FileLink, Index
from pip_hashsync.requirements import rules
from pip_hashsync.requirements.hashes import AllowedHashes
from pip_hashsync.requirements.reader import Kind, Requirement, RequirementSet
from pip_hashsync.requirements.rules import Applies
from pip_hashsync.resolve.diagnostics import (
    exit_code_for,
    explain_gaps,
    explain_network,
    explain_no_candidates,
    with_paste_ready,
)
from pip_hashsync.resolve.local import LocalBuild, is_local
from pip_hashsync.resolve.ownenv import breaks_us
from pip_hashsync.resolve.pins import resolve_pins
from pip_hashsync.resolve.plan import Action, PlanRules, make_plan
from pip_hashsync.resolve.provider import (
    HashAwareProvider,
    Policy,
    TargetFacts,
    Want,
    read_next,
)
from pip_hashsync.settings.config import Settings, with_file_options
from pip_hashsync.settings.request import SyncRequest, cache_dir_of, locate, read_request
from pip_hashsync.urls import path_to_url, redact

if TYPE_CHECKING:
    from pip_hashsync.archives.build import FillEnv
    from pip_hashsync.resolve.builds import BuildSettings, PlannedBuild
    from pip_hashsync.settings.request import Located


@dataclass
class SyncPlan:
    """The outcome of planning: the actions, or the problems that prevent them."""

    target: Target | None
    hash_mode: bool
    actions: list[Action] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: What carrying the plan out needs: settings, allowed hashes, what is installed, and
    #: the URL of each direct-URL requirement (for ``direct_url.json``).
    settings: Settings | None = None
    allowed: Mapping[str, AllowedHashes] = field(default_factory=dict)
    installed: Mapping[str, InstalledDist] = field(default_factory=dict)
    direct_urls: Mapping[str, str] = field(default_factory=dict)
    #: The core metadata each chosen project was resolved with: the wheel installed must
    #: say the same (see :func:`~pip_hashsync.index.metadata.wheel_contradictions`).
    metadata: Mapping[str, Metadata] = field(default_factory=dict)
    #: The sdists to build, by project, and what their builds share.
    builds: Mapping[str, PlannedBuild] = field(default_factory=dict)
    build_settings: BuildSettings | None = None
    #: Local projects and checkouts built while planning, by project; their wheels live in
    #: ``workspace`` until the plan is carried out.
    local: Mapping[str, LocalBuild] = field(default_factory=dict)
    workspace: tempfile.TemporaryDirectory[str] | None = None

    @property
    def exit_code(self) -> ExitCode:
        return exit_code_for(self.problems) if self.problems else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """The plan's own keys of the documented report (the CLI adds the target, problems
        and warnings, which every command's report has)."""
        return {
            "hash_mode": self.hash_mode,
            "actions": [_action_json(a, self.builds.get(a.key)) for a in self.actions],
        }


def _action_json(action: Action, build: PlannedBuild | None) -> dict[str, Any]:
    file = action.file
    return {
        "build": build.to_json() if build else None,
        "action": action.action,
        "name": action.name,
        "version": action.version,
        "installed_version": action.installed_version,
        "file": file.filename if file else None,
        "url": redact(file.url) if file else None,
        "sha256": file.hashes.get("sha256") if file else None,
        "index": file.origin if file else None,
        "reason": action.reason,
    }


@dataclass(frozen=True)
class _Run:
    """The facts one planning run works from, once the files are read and settled."""

    request: SyncRequest
    lines: RequirementSet
    wanted: tuple[Requirement, ...]
    mode: rules.HashMode
    settings: Settings
    target: Target
    allowed: Mapping[str, AllowedHashes]
    installed: Mapping[str, InstalledDist]
    #: Whether a line's marker is true for the target.
    applies: Applies
    clients: Clients


def plan_sync(
    request: SyncRequest,
    *,
    located: Located | None = None,
    cache: ArchiveCache | None = None,
    offline: bool = False,
    fresh: bool = False,
    fill: FillEnv | None = None,
    clients: Clients | None = None,
) -> SyncPlan:
    """Decide what ``sync`` would do; never changes the environment.

    The target and the settings are found from the request unless ``located`` gives
    them. With a ``cache``, archives already
    in it stand in for the index in hash-checking mode (a warm sync reads no index page);
    ``offline`` forbids reading the index at all; ``fresh`` plans for a new, empty
    environment of the target's interpreter (a build environment). Local projects and
    checkouts are built (see :mod:`~pip_hashsync.resolve.local`) in build environments
    that ``fill`` fills. Requests go through ``clients`` (the run's, shared with what
    carries the plan out), else through clients of this plan's own.
    """
    if clients is None:
        with Clients() as own:
            return plan_sync(
                request, located=located, cache=cache, offline=offline, fresh=fresh,
                fill=fill, clients=own,
            )  # fmt: skip
    new_venv = located is None and bool(request.venv) and not request.python
    new_venv = new_venv and not Path(request.venv or "").exists()
    target, settings, config_warnings = located or locate(request, new_venv=new_venv)
    try:
        lines, mode, problems = read_request(request, settings, requirements_file_reader(settings))
    except NetworkError as exc:  # a requirements file given by URL
        return SyncPlan(target, False, problems=[Problem("network", str(exc))])
    plan = SyncPlan(target, mode.enabled, warnings=[*config_warnings, *lines.warnings])
    if new_venv:
        plan.warnings.append(
            f"{request.venv} does not exist: planned for a new virtual environment of "
            f"{target.executable}"
        )
    applies = rules.applies_in(target.marker_env(""))
    plan.problems = [*lines.problems, *problems, *rules.check(lines, mode, applies)]
    plan.problems.extend(rules.lock_problems(lines, target.marker_env("")))
    plan.problems.extend(
        Problem(
            "constraint",
            f"{line.describe()}: a constraint's URL is used only when it names an archive; "
            "put a folder or checkout on a requirement line instead",
            line.source,
        )
        for line in lines.constraints
        if line.url and line.kind is not Kind.ARCHIVE and applies(line) and not mode.enabled
    )
    if mode.enabled and any(p.kind in rules.MODE_PROBLEMS for p in plan.problems):
        plan.warnings.append(f"hash-checking mode is on ({mode.reason})")
    if plan.problems:
        if not offline:
            _paste_missing_hashes(plan, lines, clients(with_file_options(settings, lines.options)))
        return plan
    settings = with_file_options(settings, lines.options)
    plan.settings = settings
    wanted = [r for r in lines.requirements if applies(r)]
    if not wanted and (request.additive or not request.allow_empty):
        message = (
            "no requirement applies to this target; nothing to install"
            if request.additive
            else "no requirement applies to this target; refusing to empty the environment "
            "(use --allow-empty to remove everything that is not protected)"
        )
        plan.problems.append(Problem("empty", message))
        return plan
    if not mode.enabled and any(is_local(r) for r in wanted):
        wanted = _build_local(plan, wanted, target, settings, fill)
    allowed = rules.allowed_hashes(lines, applies)
    installed = {} if new_venv or fresh else scan(target.site_dirs())
    run = _Run(
        request, lines, tuple(wanted), mode, settings, target, allowed, installed, applies,
        clients,
    )  # fmt: skip
    plan.allowed = allowed
    plan.direct_urls = {
        **_constraint_urls(lines.constraints, applies),
        **{r.key: r.url for r in wanted if r.key and r.url},
    }
    try:
        resolved = _resolve(run, plan, clients(settings), cache, offline)
    except IntegrityError as exc:
        # A problem, not an error: ``--format json`` still prints the plan with it.
        source = next((r.source for r in wanted if exc.project and r.key == exc.project), None)
        plan.problems.append(Problem("integrity", str(exc), source, exc.project))
    except NetworkError as exc:
        plan.problems.append(explain_network(exc, settings))
    if plan.problems:
        return plan
    plan.installed = installed
    applying_keys = {r.key for r in wanted}
    marker_false = {
        r.key: str(r.marker) for r in lines.requirements if r.key and r.key not in applying_keys
    }
    plan_rules = PlanRules(
        hash_mode=mode.enabled,
        protected=frozenset(
            protected_closure(
                protected_names(target, request.keep), installed, target.marker_env("")
            )
        ),
        marker_false=marker_false,
        trust_installed=request.trust_installed,
        additive=request.additive,
        upgrade=request.upgrade,
        force_reinstall=request.force_reinstall,
        wanted=_wanted_specifiers(wanted, lines.constraints, applies),
        stale={
            key: why
            for key, build in plan.local.items()
            if key in installed and (why := build.differs(installed[key]))
        },
    )
    plan.actions = make_plan(resolved, installed, allowed, plan_rules)
    plan.problems = breaks_us(plan.actions, own_requirements(target.site_dirs()))
    if plan.problems:
        return plan
    if any(a.changes and a.file is not None and not a.file.is_wheel for a in plan.actions):
        _plan_builds(run, plan, cache, offline)
    return plan


def _paste_missing_hashes(plan: SyncPlan, lines: RequirementSet, client: HttpClient) -> None:
    """Give each pinned line that lacks a hash the ``--hash`` lines of its version's files,
    read from the index pages (nothing is downloaded); when the index cannot be read, the
    problems stand as they are."""
    pinned = {
        r.source: r
        for r in lines.all_lines()
        if r.pinned_version and r.key and not r.locked_files  # a lock names its own files
    }
    missing = [
        (number, pinned[p.source])
        for number, p in enumerate(plan.problems)
        if p.kind == "missing-hash" and p.source in pinned
    ]
    if not missing:
        return
    settings = client.settings
    try:
        index = Index(client, settings.index_urls, settings.find_links)
        index.prefetch(line.key or "" for _, line in missing)
        for number, line in missing:
            offered = index.files(line.key or "")
            plan.problems[number] = with_paste_ready(plan.problems[number], line, offered)
    except HashsyncError:
        pass


def _build_local(
    plan: SyncPlan,
    wanted: list[Requirement],
    target: Target,
    settings: Settings,
    fill: FillEnv | None,
) -> list[Requirement]:
    """Build the local and VCS lines of ``wanted`` into ``plan.local``; ``wanted`` with
    those lines named as their projects are."""
    if fill is None:
        raise ValueError("planning local projects needs a fill callback for build environments")
    from pip_hashsync.resolve.local import build_local

    plan.workspace = tempfile.TemporaryDirectory(prefix="pip-hashsync-local-")
    local = [r for r in wanted if is_local(r)]
    built = build_local(
        local,
        target=target,
        fill=fill,
        config_settings=settings.config_settings,
        scratch=Path(plan.workspace.name),
        log_dir=Path(cache_dir_of(settings) or tempfile.gettempdir(), "build-logs"),
        workers=min(os.cpu_count() or 1, 4),
    )
    plan.local = {build.link.name: build for build in built}
    named = iter(built)
    return [next(named).line if is_local(r) else r for r in wanted]


def _plan_builds(run: _Run, plan: SyncPlan, cache: ArchiveCache | None, offline: bool) -> None:
    """Fetch and read every sdist the plan builds, and settle its build requirements
    against the pins (an absent cache: the per-user one, as the real sync uses). Imported
    here: a plan without sdists needs none of it."""
    from pip_hashsync.resolve.buildpins import read_build_pins
    from pip_hashsync.resolve.builds import BuildSettings, plan_builds, write_pins

    pins, problems, warnings = read_build_pins(
        run.settings.build_constraints, run.lines, run.applies, run.request.build_hashes
    )
    plan.problems.extend(problems)
    plan.warnings.extend(warnings)
    if problems:
        return
    client = run.clients(run.settings)
    own_cache = cache or ArchiveCache(cache_dir_of(run.settings))
    target = run.target
    settings = BuildSettings(
        pins,
        run.request.build_hashes,
        target.marker_env(""),
        TargetFacts(Version(target.version), target.tag_ranks, target.marker_env),
        Index(client, tuple(run.settings.index_urls), tuple(run.settings.find_links)).files,
    )
    try:
        plan.builds, problems, warnings = plan_builds(
            plan.actions,
            {r.key: r for r in run.wanted if r.key},
            run.allowed,
            settings,
            client=client,
            cache=own_cache,
            offline=offline,
        )
        plan.build_settings = settings
        plan.problems.extend(problems)
        plan.warnings.extend(warnings)
        if not plan.problems:
            with tempfile.TemporaryDirectory(prefix="pip-hashsync-plan-") as folder:
                pins_file = write_pins(pins, Path(folder, "build-constraints.txt"))
                for build in plan.builds.values():
                    plan.problems.extend(
                        _plan_build_environment(run, build, pins_file, own_cache, offline)
                    )
    finally:
        if cache is None:
            own_cache.close()


def _plan_build_environment(
    run: _Run, build: PlannedBuild, pins_file: Path, cache: ArchiveCache, offline: bool
) -> list[Problem]:
    """Plan now the install that fills ``build``'s environment with its
    ``build-system.requires``, so that ``--dry-run`` reports what the build would refuse:
    a dependency of a build dependency that no pin names, a file that fails its hash."""
    if not build.requires:
        return []
    verify = run.request.build_hashes == "verify"
    settings = replace(
        run.settings,
        constraints=(str(pins_file),),
        require_hashes=False,
        no_require_hashes=verify,
        only_binary=frozenset({":all:"}),  # as the build itself installs them
        no_binary=frozenset(),
        sources={**run.settings.sources, "no-require-hashes": "--build-hashes verify"},
    )
    request = SyncRequest(
        files=(), arguments=build.requires, additive=True, closure_from_constraints=True
    )
    located: Located = (run.target, settings, [])
    nested = plan_sync(
        request, located=located, cache=cache, offline=offline, fresh=True, clients=run.clients
    )
    return [
        Problem(p.kind, f"to build {build.sdist.filename}: {p.message}", p.source, p.name)
        for p in nested.problems
    ]


def _listed(run: _Run) -> Iterable[Requirement]:
    """The lines whose projects may be installed in hash-checking mode: the requirement
    lines, and the applying constraint lines when the request says they complete them."""
    if not run.request.closure_from_constraints:
        return run.wanted
    return [*run.wanted, *(c for c in run.lines.constraints if run.applies(c))]


def _wanted_specifiers(
    wanted: Sequence[Requirement], constraints: Sequence[Requirement], applies: Applies
) -> dict[str, SpecifierSet]:
    """What the lines ask of each project: its requirement and constraint specifiers."""
    specifiers = _constraint_specifiers(constraints, applies)
    for line in wanted:
        if line.key:
            specifiers[line.key] = specifiers.get(line.key, SpecifierSet()) & line.specifier
    return specifiers


def _constraint_specifiers(
    lines: Sequence[Requirement], applies: Applies
) -> dict[str, SpecifierSet]:
    """Each constrained project's combined specifier (constraints never become targets)."""
    constraints: dict[str, SpecifierSet] = {}
    for line in lines:
        if line.key and applies(line):
            constraints[line.key] = constraints.get(line.key, SpecifierSet()) & line.specifier
    return constraints


def _constraint_urls(lines: Sequence[Requirement], applies: Applies) -> dict[str, str]:
    """The archive URL each applying constraint line names (``name @ URL``)."""
    return {
        line.key: line.url
        for line in lines
        if line.key and line.url and line.kind is Kind.ARCHIVE and applies(line)
    }


def _policy(settings: Settings, request: SyncRequest) -> Policy:
    return Policy(
        only_binary=frozenset(settings.only_binary),
        no_binary=frozenset(settings.no_binary),
        prefer_binary=settings.prefer_binary,
        pre=settings.all_releases | ({":all:"} if settings.pre else set()),
        final_only=settings.only_final,
        no_build=request.no_build,
    )


def _resolve(
    run: _Run, plan: SyncPlan, client: HttpClient, cache: ArchiveCache | None, offline: bool
) -> dict[str, Candidate]:
    """One chosen candidate per project; problems and warnings go to ``plan``. The index
    pages of exactly pinned projects are read only for the pinned version, as no other can
    be chosen; a run that fails is done again with every file read, for the diagnosis that
    names what else is offered. An archive read for its METADATA (no PEP 658 file) is kept
    in ``cache`` for the install; without one, in a private folder removed afterwards."""
    settings = run.settings
    pinned = _pinned_specifiers(run)
    index = Index(client, tuple(settings.index_urls), tuple(settings.find_links), versions=pinned)
    downloads = cache or ArchiveCache(None)
    try:
        problems, warnings = len(plan.problems), len(plan.warnings)
        chosen = _resolve_with(run, plan, index, client, cache, downloads, offline)
        if len(plan.problems) > problems and index.widen():
            del plan.problems[problems:], plan.warnings[warnings:]
            chosen = _resolve_with(run, plan, index, client, cache, downloads, offline)
        return chosen
    finally:
        if cache is None:
            downloads.close()


def _pinned_specifiers(run: _Run) -> dict[str, SpecifierSet]:
    """What the lines ask of each project that a line pins to one version: every line of
    the file is a root, so whatever is chosen meets it."""
    pinned = {line.key for line in run.wanted if line.pinned_version and not line.url}
    specifiers = _wanted_specifiers(run.wanted, run.lines.constraints, run.applies)
    return {key: specifier for key, specifier in specifiers.items() if key in pinned}


def _resolve_with(
    run: _Run,
    plan: SyncPlan,
    index: Index,
    client: HttpClient,
    cache: ArchiveCache | None,
    downloads: ArchiveCache,
    offline: bool,
) -> dict[str, Candidate]:
    settings, allowed, mode = run.settings, run.allowed, run.mode
    keep_installed = mode.enabled and not (run.request.upgrade or run.request.force_reinstall)
    source = _FileSource(
        index,
        cache if mode.enabled else None,
        allowed,
        offline,
        run.installed if keep_installed else {},
        _wanted_specifiers(run.wanted, run.lines.constraints, run.applies),
        _locked_links([*run.wanted, *run.lines.constraints], run.applies),
    )
    metadata = MetadataFetcher(
        client,
        lambda key, file: str(fetch_file(key, file, allowed.get(key), client, downloads).path),
        verified=source.verified_urls,
        installed=source.installed_urls,
    )
    provider = HashAwareProvider(
        files_of=source,
        metadata_of=metadata,
        target=TargetFacts(
            Version(run.target.version), run.target.tag_ranks, run.target.marker_env
        ),
        policy=_policy(settings, run.request),
        allowed=allowed,
        constraints=_constraint_specifiers(run.lines.constraints, run.applies),
        closed=mode.enabled or not run.request.additive,
        listed=frozenset(r.key for r in _listed(run) if r.key),
        no_deps=run.request.no_deps,
        constraint_urls=_constraint_urls(run.lines.constraints, run.applies),
        direct_files={build.line.url or "": build.link for build in plan.local.values()},
    )
    source.verified_urls.update(build.link.url for build in plan.local.values())
    source.usable = provider.usable
    roots = [
        Want(line.key or "", frozenset(line.extras), line.specifier, line.url, line)
        for line in run.wanted
    ]
    if not offline:
        index.prefetch(
            {r.key for r in roots if not (r.url or r.key in source.locked or source.cached(r.key))}
        )
    best, problems = _match_roots(provider, source, roots, allowed, metadata.prefetch)
    if problems:
        plan.problems.extend(problems)
        return {}
    mapping = resolve_pins(provider, roots, best)
    if mapping is None:
        provider.gaps.clear()  # resolvelib visits the same candidates again
        try:
            mapping = Resolver(provider, BaseReporter()).resolve(roots, max_rounds=200_000).mapping
        except ResolutionImpossible as exc:
            plan.problems.extend(_conflicts(exc.causes))
            return {}
    gaps = explain_gaps(provider.gaps)
    if mode.enabled:
        plan.problems.extend(gaps)
    else:
        plan.warnings.extend(g.message for g in gaps)
    plan.warnings.extend(metadata.notices)
    plan.warnings.extend(
        f"Ignoring version {version} of {key} since it has invalid metadata: {problem}"
        for (key, version), problem in provider.invalid.items()
    )
    chosen = {}
    for candidate in mapping.values():
        if not candidate.extras:
            files = tuple(f for f in candidate.files if f.url not in metadata.failed)
            chosen[candidate.key] = replace(candidate, files=files)
    plan.warnings.extend(_yank_warnings(chosen, [*run.wanted, *run.lines.constraints]))
    plan.metadata = {
        key: known for key, c in chosen.items() if (known := metadata.known(c)) is not None
    }
    return chosen


def _yank_warnings(chosen: Mapping[str, Candidate], lines: Sequence[Requirement]) -> list[str]:
    """One warning per yanked version taken, naming the ``==`` pin that took it (only an
    exact pin may, PEP 592) and the reason given for the yank."""
    warnings = []
    for key, candidate in sorted(chosen.items()):
        reasons = sorted({f.yanked for f in candidate.files if f.yanked is not None})
        if not reasons:
            continue
        reason = next((f": {r}" for r in reasons if r), "")
        pin = next((f" {line.text} ({line.source})" for line in lines if line.key == key), "")
        warnings.append(
            f"{candidate.name} {candidate.version} is yanked{reason}; used because the pin"
            f"{pin} allows nothing else"
        )
    return warnings


def _match_roots(
    provider: HashAwareProvider,
    files_of: Callable[[str], Sequence[FileLink]],
    roots: Sequence[Want],
    allowed: Mapping[str, AllowedHashes],
    prefetch: Callable[[Iterable[Candidate]], None],
) -> tuple[dict[str, Candidate], list[Problem]]:
    """Each line's best candidate, and every line of the file that no file can satisfy, all
    at once (EC57): resolvelib would stop at the first. The metadata of every line's best
    candidate is read at once (``prefetch``): the resolver needs it, a lock needs no other."""
    best: dict[str, Candidate] = {}
    problems = []
    for root in roots:
        source = root.line.source if root.line else None
        provider.required_by.setdefault(root.identifier, (None, source))
    found = [
        (root, provider.find_matches(i, {i: iter([root])}, {i: iter([])}))
        for root in roots
        for i in [root.identifier]
    ]
    prefetch(c for _, matches in found if (c := read_next(matches)) is not None)
    for root, matches in found:
        ident = root.identifier
        if matches:
            best.setdefault(ident, matches[0])
        else:
            offered = len(files_of(root.key)) if not root.url else 1
            evidence = provider.evidence.get(root.key, [])
            problems.append(explain_no_candidates(root, evidence, offered, allowed.get(root.key)))
    return best, problems


def _conflicts(causes: Iterable[RequirementInformation[Want, Candidate]]) -> list[Problem]:
    problems = []
    for cause in causes:
        want, parent = cause.requirement, cause.parent
        by = f" (required by {parent.name}=={parent.version})" if parent else ""
        source = want.line.source if want.line else None
        message = f"{want.describe()}{by}: no version satisfies it"
        problems.append(Problem("conflict", message, source, want.key))
    return problems


@dataclass
class _FileSource:
    """Files of a project, cheapest first: a distribution already installed from an allowed
    archive (it will be kept: no archive is needed, its installed METADATA gives its
    dependencies); else the allowed archives already in the cache (a warm sync reads no
    index page); else the index's — unless ``offline``."""

    index: Index
    cache: ArchiveCache | None
    allowed: Mapping[str, AllowedHashes]
    offline: bool
    installed: Mapping[str, InstalledDist]
    #: What the lines ask of each project: an installed version outside it is not offered.
    wanted: Mapping[str, SpecifierSet]
    #: The files a lock lists, by project: offered instead of the index's.
    locked: Mapping[str, list[FileLink]]
    #: URLs of the cached archives this run has re-hashed (their metadata needs no new hash).
    verified_urls: set[str] = field(default_factory=set)
    #: URLs standing for installed distributions: their METADATA file.
    installed_urls: set[str] = field(default_factory=set)
    #: Whether the provider could take a file for the target (set once it exists): cached
    #: archives stand in for the index only when one of them could be taken. A cache shared
    #: by several Pythons holds files of the lock that suit only the others.
    usable: Callable[[str, FileLink], bool] = lambda key, file: True
    _cached: dict[str, list[FileLink]] = field(default_factory=dict)

    def cached(self, key: str) -> list[FileLink]:
        if key not in self._cached:
            hashes = self.allowed.get(key)
            links = _installed_links(self.installed.get(key), hashes, self.wanted.get(key))
            self.installed_urls.update(link.url for link in links)
            if not links and self.cache:
                links = _cached_links(self.cache, hashes)
                if not any(self.usable(key, link) for link in links):
                    links = []
                self.verified_urls.update(link.url for link in links)
            self._cached[key] = links
        return self._cached[key]

    def __call__(self, key: str) -> Sequence[FileLink]:
        if self.cached(key):
            return self._cached[key]
        if key in self.locked:
            return self.locked[key]
        if self.offline:
            raise NetworkError(f"{key} is not in the cache, and --offline forbids downloading")
        return self.index.files(key)


def _locked_links(lines: Sequence[Requirement], applies: Applies) -> dict[str, list[FileLink]]:
    """The files that applying lines of a lock list, by project, as an index offers files
    (their advertised digests are the lock's); a file of another project is left out."""
    links: dict[str, list[FileLink]] = {}
    for line in lines:
        if not (line.key and line.locked_files and applies(line)):
            continue
        for file in line.locked_files:
            try:
                link = FileLink.of_archive(
                    file.filename,
                    file.url,
                    line.source.path,
                    {d.algorithm: d.value for d in file.digests},
                    project=line.key,
                    requires_python=file.requires_python,
                )
            except ValueError:
                continue
            links.setdefault(line.key, []).append(link)
    return links


def _installed_links(
    dist: InstalledDist | None, allowed: AllowedHashes | None, wanted: SpecifierSet | None
) -> list[FileLink]:
    """The installed distribution as a file, when its recorded archive is allowed now and
    its version is the one asked for."""
    provenance = dist.provenance() if dist else None
    if dist is None or provenance is None or not allowed or wanted is None:
        return []
    if not wanted.contains(dist.version, prereleases=True):
        return []
    if not allowed.allows({"sha256": provenance.sha256}):
        return []
    url = path_to_url(str(dist.path / "METADATA"))
    digests = {"sha256": provenance.sha256}
    try:
        return [
            FileLink.of_archive(provenance.archive, url, "installed", digests, project=dist.key)
        ]
    except ValueError:
        return []


def _cached_links(cache: ArchiveCache, allowed: AllowedHashes | None) -> list[FileLink]:
    """Cached archives whose (re-hashed) bytes the allowed set accepts."""
    links: list[FileLink] = []
    if not allowed:
        return links
    for digest in allowed.digests():
        hit = cache.get(digest.value, allowed.algorithms) if digest.algorithm == "sha256" else None
        if hit is None or not allowed.allows(hit.digests):
            continue
        url = path_to_url(str(hit.path))
        try:
            links.append(FileLink.of_archive(hit.filename, url, hit.origin or "cache", hit.digests))
        except ValueError:
            continue
    return links
