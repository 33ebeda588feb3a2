"""pip as the oracle: what pip's own parser makes of a requirements file.

Only tests import this; pip's internals stay out of the package (design: ``_pipcompat``).
Returns the same keys as ``lint --format json`` so the two can be compared directly.
"""

from __future__ import annotations

import optparse
import os
import re
from typing import Any

from pip_hashsync.commands.lint import lint, requirement_json
from pip_hashsync.urls import redact


def pip_lines(path: str, constraint: bool = False) -> list[dict[str, Any]]:
    """Every requirement pip reads from ``path``, as ``requirement_json``-like dicts."""
    from pip._internal.network.session import PipSession
    from pip._internal.req.constructors import install_req_from_parsed_requirement
    from pip._internal.req.req_file import parse_requirements

    lines = []
    for parsed in parse_requirements(path, session=PipSession(), constraint=constraint):
        ireq = install_req_from_parsed_requirement(parsed)
        match = re.fullmatch(r"-[rc] (.*) \(line (\d+)\)", parsed.comes_from)
        assert match, parsed.comes_from
        hashes = [f"{alg}:{h.lower()}" for alg, hs in ireq.hash_options.items() for h in hs]
        if ireq.link is not None and ireq.link.hash_name and ireq.original_link is not None:
            hashes.append(f"{ireq.link.hash_name}:{ireq.link.hash.lower()}")
        lines.append(
            {
                "name": ireq.req.name if ireq.req else None,
                "specifier": str(ireq.req.specifier) if ireq.req else "",
                "extras": sorted(ireq.extras),
                "marker": str(ireq.markers) if ireq.markers else None,
                "url": redact(ireq.link.url) if ireq.link else None,
                "editable": ireq.editable,
                "hashes": sorted(hashes),
                "source": f"{os.path.abspath(match.group(1))}:{match.group(2)}",
                "constraint": parsed.constraint,
            }
        )
    return lines


def pip_options(path: str) -> dict[str, Any]:
    """The global options pip takes from ``path`` (index URLs, find-links, binaries, …)."""
    from pip._internal.index.collector import LinkCollector
    from pip._internal.index.package_finder import PackageFinder
    from pip._internal.models.search_scope import SearchScope
    from pip._internal.models.selection_prefs import SelectionPreferences
    from pip._internal.network.session import PipSession
    from pip._internal.req.req_file import parse_requirements

    session = PipSession()
    collector = LinkCollector(session, SearchScope.create([], [], no_index=False))
    finder = PackageFinder.create(collector, SelectionPreferences(allow_yanked=False))
    options = optparse.Values(
        {"require_hashes": False, "no_require_hashes": False, "features_enabled": []}
    )
    list(parse_requirements(path, session=session, finder=finder, options=options))
    control = finder.format_control
    return {
        "index_urls": list(finder.index_urls),
        "find_links": list(finder.find_links),
        "prefer_binary": finder._candidate_prefs.prefer_binary,
        "no_binary": sorted(control.no_binary),
        "only_binary": sorted(control.only_binary),
        "require_hashes": options.require_hashes,
        "use_feature": list(options.features_enabled),
        "trusted_hosts": [f"{h}:{p}" if p else h for h, p in session.pip_trusted_origins],
    }


COMPARED = ("name", "specifier", "extras", "marker", "url", "editable", "hashes", "source")


def ours(path: str) -> list[dict[str, Any]]:
    report = lint([path])
    lines = [
        *((r, False) for r in report.lines.requirements),
        *((c, True) for c in report.lines.constraints),
    ]
    result = []
    for line, constraint in lines:
        data = requirement_json(line)
        data["hashes"] = sorted(data["hashes"])
        spot, _, number = data["source"].rpartition(":")
        data["source"] = f"{os.path.abspath(spot)}:{number}"
        data["constraint"] = constraint
        result.append(data)
    return sorted(result, key=lambda d: (d["constraint"], d["source"]))


def theirs(path: str) -> list[dict[str, Any]]:
    return sorted(pip_lines(path), key=lambda d: (d["constraint"], d["source"]))


def assert_same(path: str) -> None:
    mine, pips = ours(path), theirs(path)
    assert [d["source"] for d in mine] == [d["source"] for d in pips]
    for a, b in zip(mine, pips, strict=True):
        assert {k: a[k] for k in (*COMPARED, "constraint")} == {
            k: b[k] for k in (*COMPARED, "constraint")
        }, a["source"]
