"""Fetch package metadata from PyPI, summarize releases and plot download trends.

See https://warehouse.pypa.io/api-reference/json.html for the API; the data is
cached under /tmp/cache so repeated runs stay fast.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

import requests

API = "https://pypi.org/pypi/{name}/json"
STATS = "https://pypistats.org/api/packages/{name}/recent"
CACHE = Path(os.environ.get("CACHE_DIR", "/tmp/cache"))
USER_AGENT = "airlock-example/1.0 (+https://example.com/bot)"
TIMEOUT = (3.05, 27)
VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:(a|b|rc)(\d+))?$")


@dataclass
class Release:
    """One release of a package."""

    version: str
    uploaded: datetime
    size: int
    yanked: bool = False
    files: list[str] = field(default_factory=list)

    @property
    def major(self) -> int:
        m = VERSION_RE.match(self.version)
        return int(m.group(1)) if m else -1

    def __str__(self) -> str:
        flag = " (yanked)" if self.yanked else ""
        return f"{self.version:>10} {self.uploaded:%Y-%m-%d} {self.size / 1e6:8.2f} MB{flag}"


@dataclass
class Package:
    name: str
    summary: str
    home_page: str
    releases: list[Release]

    def latest(self) -> Release | None:
        good = [r for r in self.releases if not r.yanked]
        return max(good, key=lambda r: r.uploaded) if good else None

    def by_major(self) -> dict[int, list[Release]]:
        out: dict[int, list[Release]] = {}
        for r in self.releases:
            out.setdefault(r.major, []).append(r)
        return out


class Client:
    """A small caching client for the PyPI JSON API."""

    def __init__(self, session: requests.Session | None = None, cache: Path = CACHE) -> None:
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.cache = cache
        self.cache.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def _cached(self, key: str) -> dict | None:
        path = self.cache / f"{key}.json"
        if path.exists() and time.time() - path.stat().st_mtime < 3600:
            self.hits += 1
            return json.loads(path.read_text())
        return None

    def _store(self, key: str, data: dict) -> None:
        (self.cache / f"{key}.json").write_text(json.dumps(data))

    def get_json(self, url: str, key: str) -> dict:
        data = self._cached(key)
        if data is not None:
            return data
        self.misses += 1
        for attempt in range(3):
            try:
                resp = self.session.get(url, timeout=TIMEOUT)
                resp.raise_for_status()
                data = resp.json()
                self._store(key, data)
                return data
            except requests.RequestException as exc:  # retry on "temporary" errors
                wait = 2 ** attempt
                print(f"attempt {attempt + 1} failed: {exc!r}; retrying in {wait}s")
                time.sleep(wait)
        raise RuntimeError(f"could not fetch {url}")

    def package(self, name: str) -> Package:
        raw = self.get_json(API.format(name=name), f"pkg-{name}")
        info = raw["info"]
        releases = []
        for version, files in raw.get("releases", {}).items():
            if not files:
                continue
            uploaded = min(datetime.fromisoformat(f["upload_time_iso_8601"].replace("Z", "+00:00")) for f in files)
            releases.append(
                Release(
                    version=version,
                    uploaded=uploaded,
                    size=sum(f["size"] for f in files),
                    yanked=any(f.get("yanked") for f in files),
                    files=[f["filename"] for f in files],
                )
            )
        return Package(info["name"], info.get("summary") or "", info.get("home_page") or "", releases)

    def recent_downloads(self, name: str) -> dict[str, int]:
        raw = self.get_json(STATS.format(name=name), f"stats-{name}")
        return raw.get("data", {})


def mirror_url(name: str, mirror: str = "https://files.pythonhosted.org") -> str:
    """Where a wheel of name would be downloaded from."""
    first = name[0].lower()
    return f"{mirror}/packages/source/{first}/{name}/"


def human(n: float) -> str:
    for unit in ("", "K", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.1f}{unit}"
        n /= 1000
    return f"{n:.1f}T"


def cadence(releases: Iterable[Release]) -> float:
    """Median days between releases, NaN when fewer than two."""
    days = sorted(r.uploaded for r in releases)
    gaps = [(b - a).total_seconds() / 86400 for a, b in zip(days, days[1:])]
    return statistics.median(gaps) if gaps else math.nan


def table(rows: list[list[str]]) -> Iterator[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        yield "  ".join(cell.ljust(w) for cell, w in zip(row, widths))


def summarize(pkg: Package, downloads: dict[str, int]) -> str:
    latest = pkg.latest()
    lines = [
        f"# {pkg.name}",
        pkg.summary,
        f"home: {pkg.home_page or 'n/a'}",
        f"releases: {len(pkg.releases)}, latest: {latest.version if latest else 'none'}",
        f"median days between releases: {cadence(pkg.releases):.1f}",
        "downloads: " + ", ".join(f"{k}={human(v)}" for k, v in downloads.items()),
        "",
    ]
    rows = [["major", "count", "first", "last"]]
    for major, rs in sorted(pkg.by_major().items()):
        rs.sort(key=lambda r: r.uploaded)
        rows.append([str(major), str(len(rs)), rs[0].version, rs[-1].version])
    lines.extend(table(rows))
    return "\n".join(lines)


def main(names: list[str]) -> None:
    client = Client()
    started = time.perf_counter()
    for name in names:
        try:
            pkg = client.package(name)
            downloads = client.recent_downloads(name)
        except RuntimeError as exc:
            print(f"skipping {name}: {exc}")
            continue
        print(summarize(pkg, downloads))
        print()
        # the 3 largest releases
        for r in sorted(pkg.releases, key=lambda r: r.size, reverse=True)[:3]:
            print("  ", r)
        print("-" * 60)
    elapsed = time.perf_counter() - started
    print(f"done in {elapsed:.2f}s, cache hits {client.hits}, misses {client.misses}")
    print(f"generated {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}")


if __name__ == "__main__":
    main(["numpy", "pandas", "requests", "httpx"])
