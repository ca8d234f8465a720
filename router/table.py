"""The route table: host → route, with the one ordering rule (never go back to a lower route_generation).

Pure: no I/O, no clock of its own (callers pass `now`), so every rule has a
unit test (tests/unit/router/test_table.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from server.domain.models import RuntimeState
from server.domain.routes import Backend, Route


@dataclass
class _Served:
    route: Route
    turn: int = 0  # round robin position over the route's HEALTHY backends


@dataclass
class RouteTable:
    _by_id: dict[str, _Served] = field(default_factory=dict)
    _by_host: dict[str, str] = field(default_factory=dict)  # host → instance id
    # Backends that refused a connection: address → until when they are skipped.
    _down: dict[str, float] = field(default_factory=dict)
    loaded: bool = False  # a first snapshot arrived
    ignored_older: int = 0  # routes refused because a higher generation was already served

    def replace(self, routes: Iterable[Route]) -> None:
        """A whole snapshot: instances not in it are no longer served; a held route of a higher
        generation than the snapshot's (read from a lagging server) is kept."""
        fresh: dict[str, _Served] = {}
        for route in routes:
            held = self._by_id.get(route.instance_id)
            fresh[route.instance_id] = self._merged(held, route)
        self._by_id = fresh
        self._index()
        self.loaded = True

    def update(self, routes: Iterable[Route]) -> None:
        """Changed routes, each the whole current route of its instance."""
        for route in routes:
            self._by_id[route.instance_id] = self._merged(self._by_id.get(route.instance_id), route)
        self._index()

    def _merged(self, held: _Served | None, route: Route) -> _Served:
        if held is None:
            return _Served(route)
        if route.route_generation < held.route.route_generation:
            self.ignored_older += 1
            return held
        # Same or higher generation: the newer read (a runtime instance may have failed meanwhile).
        return _Served(route, held.turn)

    def _index(self) -> None:
        self._by_host = {served.route.host: instance_id for instance_id, served in self._by_id.items()}

    def lookup(self, host: str) -> Route | None:
        instance_id = self._by_host.get(host)
        return self._by_id[instance_id].route if instance_id else None

    def route_of(self, instance_id: str) -> Route | None:
        served = self._by_id.get(instance_id)
        return served.route if served else None

    def routes(self) -> list[Route]:
        return [served.route for served in self._by_id.values()]

    def backends(self, route: Route, now: float) -> list[Backend]:
        """The HEALTHY backends in the order to try them: round robin, ones that recently refused a
        connection last. DRAINING ones never get a new request."""
        served = self._by_id.get(route.instance_id)
        healthy = [b for b in route.backends if b.state is RuntimeState.HEALTHY]
        if served is None or not healthy:
            return []
        start = served.turn % len(healthy)
        served.turn += 1
        ordered = healthy[start:] + healthy[:start]
        return sorted(ordered, key=lambda b: self._down.get(b.address, 0.0) > now)

    def refused(self, backend: Backend, until: float) -> None:
        self._down[backend.address] = until

    def answered(self, backend: Backend) -> None:
        self._down.pop(backend.address, None)
