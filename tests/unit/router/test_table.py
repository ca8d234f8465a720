"""The route table's rules (router/table.py): generations never go back, DRAINING gets nothing new, round robin."""

from __future__ import annotations

from router.table import RouteTable
from server.domain.models import Kind, RuntimeState
from server.domain.routes import Backend, Route

H, D = RuntimeState.HEALTHY, RuntimeState.DRAINING


def route(generation: int, *backends: tuple[str, RuntimeState], host: str = "web.shop.prod.acme.localhost",
          release: str = "r1") -> Route:
    return Route("i1", host, Kind.DYNAMIC, generation, "d1", release, "1.0.0", "",
                 tuple(Backend(f"rt-{address}", address, state) for address, state in backends))


def test_a_change_of_a_lower_generation_is_ignored() -> None:
    table = RouteTable()
    table.replace([route(5, ("127.0.0.1:2", H), release="new")])
    table.update([route(4, ("127.0.0.1:1", H), release="old")])
    served = table.lookup("web.shop.prod.acme.localhost")
    assert served is not None and (served.route_generation, served.release_id) == (5, "new")
    assert table.ignored_older == 1


def test_a_snapshot_older_than_what_is_served_keeps_the_newer_route() -> None:
    table = RouteTable()
    table.replace([route(7, ("127.0.0.1:2", H), release="new")])
    table.replace([route(6, ("127.0.0.1:1", H), release="old")])  # e.g. from a lagging server after a reconnect
    assert table.route_of("i1") is not None and table.route_of("i1").release_id == "new"  # type: ignore[union-attr]


def test_the_same_generation_is_a_newer_read() -> None:
    table = RouteTable()
    table.replace([route(3, ("127.0.0.1:1", H), ("127.0.0.1:2", H))])
    table.update([route(3, ("127.0.0.1:2", H))])  # one runtime instance failed: no switch, same generation
    served = table.route_of("i1")
    assert served is not None and [b.address for b in table.backends(served, 0.0)] == ["127.0.0.1:2"]


def test_a_snapshot_drops_instances_it_does_not_hold_and_follows_renames() -> None:
    table = RouteTable()
    table.replace([route(1, ("127.0.0.1:1", H))])
    table.replace([route(1, ("127.0.0.1:1", H), host="shop.shop.prod.acme.localhost")])
    assert table.lookup("web.shop.prod.acme.localhost") is None
    assert table.lookup("shop.shop.prod.acme.localhost") is not None
    table.replace([])
    assert table.lookup("shop.shop.prod.acme.localhost") is None and table.loaded


def test_round_robin_over_healthy_backends_only() -> None:
    table = RouteTable()
    table.replace([route(1, ("a:1", H), ("b:1", D), ("c:1", H))])
    served = table.route_of("i1")
    assert served is not None
    firsts = [table.backends(served, 0.0)[0].address for _ in range(4)]
    assert firsts == ["a:1", "c:1", "a:1", "c:1"]
    assert all("b:1" not in [b.address for b in table.backends(served, 0.0)] for _ in range(3)), "DRAINING gets nothing new"


def test_a_backend_that_refused_goes_last_until_its_time_is_over() -> None:
    table = RouteTable()
    table.replace([route(1, ("a:1", H), ("b:1", H))])
    served = table.route_of("i1")
    assert served is not None
    table.refused(Backend("rt-a", "a:1", H), until=10.0)
    assert [table.backends(served, 5.0)[0].address for _ in range(2)] == ["b:1", "b:1"]
    assert {table.backends(served, 11.0)[0].address for _ in range(2)} == {"a:1", "b:1"}
    table.refused(Backend("rt-b", "b:1", H), until=10.0)
    assert len(table.backends(served, 5.0)) == 2, "when all refused, all are still tried"
