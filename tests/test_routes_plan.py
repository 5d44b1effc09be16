"""Route plans, called directly: the fewest writes, creates before deletes, valid positions."""

from __future__ import annotations

from typing import Any

from pulumi_oncall import _routes as routes


def server(*regexes: str, chain: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "id": f"R{n}",
            "position": n,
            "routing_regex": regex,
            "routing_type": "regex",
            "escalation_chain_id": chain,
        }
        for n, regex in enumerate(regexes)
    ]


def declared(*regexes: str) -> list[dict[str, Any]]:
    return [{"routing_regex": r} for r in regexes]


def methods(writes: list[routes.Write]) -> list[str]:
    return [w.method for w in writes]


def test_nothing_to_do_when_in_sync() -> None:
    assert routes.plan(server("a", "b", "c"), declared("a", "b", "c")) == []
    padded = [{"routing_regex": "  a \n"}, {"routing_regex": "b", "routing_type": "regex"}]
    assert routes.plan(server("a", "b"), padded) == []


def test_a_new_route_at_the_front_of_ten_is_one_create_at_position_zero() -> None:
    ten = [chr(ord("a") + n) for n in range(10)]
    (write,) = routes.plan(server(*ten), declared("new", *ten))
    assert write.method == "POST" and write.body["position"] == 0
    assert write.body == {
        "routing_regex": "new",
        "routing_type": "regex",
        "escalation_chain_id": None,
        "position": 0,
    }


def test_removing_one_is_one_delete_and_editing_one_keeps_its_id() -> None:
    (gone,) = routes.plan(server("a", "b", "c"), declared("a", "c"))
    assert (gone.method, gone.route_id) == ("DELETE", "R1")
    (edit,) = routes.plan(server("a", "b", "c"), declared("a", "B", "c"))
    assert (edit.method, edit.route_id) == ("PUT", "R1")
    assert edit.body == {"routing_regex": "B", "routing_type": "regex"}


def test_reversing_four_takes_three_moves() -> None:
    writes = routes.plan(server("a", "b", "c", "d"), declared("d", "c", "b", "a"))
    assert methods(writes) == ["PUT", "PUT", "PUT"]
    assert all(set(w.body) == {"position"} for w in writes)


def test_clearing_a_chain_replaces_the_route_create_first() -> None:
    remote = server("a", "b", chain="FCHAIN1")
    wanted = [
        {"routing_regex": "a", "escalation_chain_id": "FCHAIN1"},
        {"routing_regex": "b", "escalation_chain_id": ""},
    ]
    writes = routes.plan(remote, wanted)
    assert methods(writes) == ["POST", "DELETE"]
    assert writes[0].body["escalation_chain_id"] is None and writes[0].body["position"] == 1
    assert writes[1].route_id == "R1"
    # Left out after being declared, the chain goes too.
    previous = [{"id": "R0", "routing_regex": "a", "escalation_chain_id": "FCHAIN1"}]
    assert methods(routes.plan(remote[:1], declared("a"), previous)) == ["POST", "DELETE"]
    # Never declared: not managed.
    assert routes.plan(remote[:1], declared("a")) == []


def test_names_follow_their_route_through_an_edit_and_a_move() -> None:
    previous = [{"id": "R0", "name": "db"}, {"id": "R1", "name": "web"}]
    wanted = [{"name": "web", "routing_regex": "web2"}, {"name": "db", "routing_regex": "a"}]
    writes = routes.plan(server("a", "b"), wanted, previous)
    assert [(w.method, w.route_id) for w in writes] == [("PUT", "R1")]
    assert writes[0].body == {"routing_regex": "web2", "routing_type": "regex", "position": 0}


def test_positions_are_never_past_the_end_or_negative() -> None:
    remote = [dict(r, position=p) for r, p in zip(server("a", "b", "c"), (0, 5, 9), strict=True)]
    writes = routes.plan(remote, declared("x", "c", "y", "a", "z"))
    top = 9
    for write in writes:
        position = write.body.get("position")
        if position is not None:
            assert 0 <= position <= top + 1
            top += write.method == "POST"
