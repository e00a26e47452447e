"""What each kind of record must satisfy before it is stored, and what follows once it is.

``prepare`` runs before the commit: it parses geometry, checks references and transitions, and
collects flags (late, possible duplicate). Every refusal here stores nothing. Every reference to
another record goes through ``_refer``, which applies the one audience rule
(parley.records.audiences): a record about a record may not be wider than it. ``follow_up``
runs after the commit for the kinds that tell other parties something (withdrawals, incidents).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from parley import clock
from parley.errors import Conflict, Forbidden, InvalidSubmission, NotFound, Unprocessable
from parley.geo import shapes
from parley.geo.region import footprint_shape
from parley.hub import alert_acks, stix_refs
from parley.hub.admission import Checked
from parley.records import areamaps, audiences, incidents, notices, operations
from parley.records.kinds import REPEATABLE, Parsed, parse
from parley.store.db import Party, Submission

if TYPE_CHECKING:
    from parley.hub.admission import Accepted
    from parley.hub.context import Context

RESOLUTIONS = ("amended", "cancelled", "accepted-after-coordination")


@dataclass
class Prepared:
    parsed: Parsed | None = None
    flags: list[str] = field(default_factory=list)
    follow_up: bool = False


def prepare(ctx: Context, party: Party, checked: Checked) -> Prepared:
    kind = checked.record.kind
    body: dict[str, Any] = checked.document["body"]
    audience = checked.record.audience
    ready = Prepared(parsed=parse(kind, body))
    _in_region(ctx, kind, ready.parsed, body)
    if kind in REPEATABLE:
        ready.flags += _repeated(ctx, party, kind, body)
    if isinstance(ready.parsed, list):
        _operation(ctx, party, ready.parsed, body, audience)
    elif kind == "site" and isinstance(ready.parsed, shapes.Site):
        notices.check_site(body)
        ready.flags += _duplicates(ctx, party, ready.parsed)
    elif kind == "movement" and isinstance(ready.parsed, shapes.Movement):
        ready.flags += notices.movement_flags(
            ready.parsed, body, clock.now(), timedelta(seconds=ctx.settings.max_clock_skew_s)
        )
    elif kind == "operation-status":
        current = _own_operation(ctx, party, body.get("operation"), "body.operation")
        _refer(ctx, "operation status", audience, str(body["operation"]), "body.operation", True)
        operations.check_transition(str(body["operation"]), current, str(body.get("status")))
    elif kind == "acknowledgement":
        _acknowledgement(ctx, party, body.get("record"), audience)
    elif kind == "withdrawal":
        _withdrawal(ctx, party, notices.check_withdrawal(body), audience)
        ready.follow_up = True
    elif kind == "incident":
        incidents.check_report(body)
        incidents.probe(body)  # the location and time must make a valid probe
        ready.follow_up = True
    elif kind == "review":
        _review(ctx, party, body, audience)
    elif kind == "resolution":
        _resolution(ctx, party, body, audience)
    elif kind in ("area-map", "area-vote"):
        _area_map(ctx, party, kind, body, audience)
    elif kind == "intelligence":
        stix_refs.check(ctx, party, body, audience)
    elif kind == alert_acks.KIND:
        alert_acks.check(ctx.store, party, body, audience)
        ready.follow_up = True
    return ready


def draft_site(ctx: Context, party: Party, body: dict[str, Any]) -> list[str]:
    """What notifying this site would be told, without signing or storing anything."""
    parsed = parse("site", body)
    _in_region(ctx, "site", parsed, body)
    notices.check_site(body)
    assert isinstance(parsed, shapes.Site)
    return _duplicates(ctx, party, parsed)


def _in_region(ctx: Context, kind: str, parsed: Parsed | None, body: dict[str, Any]) -> None:
    """Refuse what lies wholly outside the area the hub serves (a typo, most often)."""
    if ctx.region is None:
        return
    if isinstance(parsed, list):
        for i, volume in enumerate(parsed):
            ctx.region.check(footprint_shape(volume.footprint), f"body.volumes[{i}].footprint")
    elif parsed is not None:
        where = "body.route" if kind == "movement" else "body.geometry"
        ctx.region.check(footprint_shape(parsed.footprint), where)
    elif kind == "incident":
        ctx.region.check(footprint_shape(incidents.probe(body).footprint), "body.location")


def _refer(
    ctx: Context,
    what: str,
    audience: tuple[str, ...] | None,
    subject: str,
    refers: str,
    exact: bool = False,
    subject_name: str = "record",
) -> None:
    """The one audience rule, for a reference to a record the author has already been found
    to see (so reading its audience here reveals nothing new)."""
    subject_audience = ctx.store.audience_of(subject)
    check = audiences.require_same if exact else audiences.require_within
    check(audience, subject_audience, what=what, subject_name=subject_name, refers=refers)


def _area_map(
    ctx: Context, party: Party, kind: str, body: dict[str, Any], audience: tuple[str, ...] | None
) -> None:
    if audience is not None:
        raise InvalidSubmission(
            'an area map is agreed among all parties: audience must be "all"', field="audience"
        )
    if not isinstance(body.get("map"), str):
        raise InvalidSubmission("map must name the map", field="body.map")
    ctx.screening.refresh()
    current = ctx.screening.maps.get(body["map"])
    if kind == "area-map":
        proposed = areamaps.parse_proposal(body)
        if ctx.region is not None:
            for i, area in enumerate(proposed.values()):
                ctx.region.check(footprint_shape(area.footprint), f"body.areas[{i}].geometry")
        areamaps.check_proposal(current, body)
    else:
        areamaps.check_vote(current, party.id, body)
        assert current is not None  # check_vote refuses a vote on no map
        version = current.versions[body["version"]]
        _refer(ctx, "vote", audience, version.record, "body.version", subject_name="map version")


def _operation(
    ctx: Context,
    party: Party,
    volumes: list[shapes.Volume],
    body: dict[str, Any],
    audience: tuple[str, ...] | None,
) -> None:
    operations.check_horizon(
        volumes,
        clock.now(),
        timedelta(days=ctx.settings.planning_horizon_days),
        timedelta(seconds=ctx.settings.max_clock_skew_s),
    )
    if "supersedes" in body:
        current = _own_operation(ctx, party, body["supersedes"], "body.supersedes")
        _refer(ctx, "amendment", audience, str(body["supersedes"]), "body.supersedes", True)
        operations.check_amendable(str(body["supersedes"]), current)
    if "key" in body:
        _picture(ctx, party, volumes, body["key"], audience)


def _picture(
    ctx: Context,
    party: Party,
    volumes: list[shapes.Volume],
    key: object,
    audience: tuple[str, ...] | None,
) -> None:
    """Stale-picture protection: refuse an operation planned without seeing what is there.

    The key names records, so each one it names must admit the operation's audience; and
    only such records are asked of it (a record the operation's audience may not all see
    cannot be named there; screening still reports any conflict with it to the planner)."""
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise InvalidSubmission("key must be a list of record ids", field="body.key")
    for i, named in enumerate(key):
        if ctx.store.get_submission(named, party.id) is not None:
            _refer(ctx, "operation", audience, named, f"body.key[{i}]")
    unseen = ctx.screening.unseen(party.id, volumes, key, audience)
    if unseen:
        raise Conflict(
            f"{len(unseen)} record(s) in this space and time are newer than your picture; "
            "fetch them, re-plan if needed, and include them in key",
            field="body.key",
            unseen=unseen,
        )


def _own_operation(ctx: Context, party: Party, operation: object, field: str) -> str:
    """The status of one of ``party``'s own operations; refused otherwise."""
    found = ctx.screening.operation(party.id, str(operation))
    if not isinstance(operation, str) or found is None:
        raise NotFound(f"no operation {operation!r}", field=field)
    holder, status = found
    if holder.party != party.id:
        raise Forbidden(f"operation {operation} belongs to {holder.party}", field=field)
    return status


def _acknowledgement(
    ctx: Context, party: Party, record: object, audience: tuple[str, ...] | None
) -> None:
    """A member acknowledges receipt of a site or movement it can see, once."""
    found = ctx.store.get_submission(record, party.id) if isinstance(record, str) else None
    if found is None or found.kind not in ("site", "movement"):
        raise NotFound(f"no site or movement {record!r}", field="body.record")
    _refer(ctx, "acknowledgement", audience, found.id, "body.record")
    if ctx.store.acknowledged(party.id, [found.id]):
        raise Conflict(f"you already acknowledged {found.id}", field="body.record")


def _repeated(ctx: Context, party: Party, kind: str, body: dict[str, Any]) -> list[str]:
    same = ctx.screening.same_body(party.id, kind, body)
    if same is None:
        return []
    return [f"likely duplicate of {same}: the same {kind} was already notified and is in force"]


def _duplicates(ctx: Context, party: Party, site: shapes.Site) -> list[str]:
    near = ctx.screening.nearby_sites(party.id, site, notices.DUPLICATE_WITHIN_M)
    return [
        f"possible duplicate of {other}: a {site.category} within "
        f"{notices.DUPLICATE_WITHIN_M:.0f} m"
        for other in near
    ]


def _withdrawal(ctx: Context, party: Party, record: str, audience: tuple[str, ...] | None) -> None:
    found = ctx.store.get_submission(record, party.id)
    if found is None:
        raise NotFound(f"no record {record!r}", field="body.record")
    if found.party_id != party.id:
        raise Forbidden("only the notifier of a record withdraws it", field="body.record")
    if found.kind not in ("site", "movement"):
        raise Unprocessable("only sites and movements are withdrawn", field="body.record")
    _refer(ctx, "withdrawal", audience, found.id, "body.record", True)
    ctx.screening.refresh()
    if ctx.screening.status.get(record) == "withdrawn":
        raise Conflict(f"{record} is already withdrawn", field="body.record")


def _review(
    ctx: Context, party: Party, body: dict[str, Any], audience: tuple[str, ...] | None
) -> None:
    incident = body.get("incident")
    visible = isinstance(incident, str) and _is(ctx, party, incident, "incident")
    request: Submission | None = None
    request_to = None
    if body.get("step") == "answer" and isinstance(body.get("request"), str):
        request = ctx.store.get_submission(body["request"], party.id)
        if request is not None and request.kind == "review":
            asked = request.body
            if asked.get("step") == "request" and asked.get("incident") == incident:
                request_to = str(asked.get("to"))
    incidents.check_review(party.role, party.id, body, request_to, visible)
    # check_review refused an incident the author cannot see, and an answer without its request
    _refer(ctx, "review", audience, str(incident), "body.incident", subject_name="incident")
    if request is not None:
        _refer(ctx, "answer", audience, request.id, "body.request", subject_name="request")


def _resolution(
    ctx: Context, party: Party, body: dict[str, Any], audience: tuple[str, ...] | None
) -> None:
    if body.get("outcome") not in RESOLUTIONS:
        raise InvalidSubmission(
            f"outcome must be one of {', '.join(RESOLUTIONS)}", field="body.outcome"
        )
    mine = {c.id for _, c in ctx.store.conflicts_for(party.id, 0, 100_000)}
    if body.get("conflict") not in mine:
        raise NotFound(f"no conflict {body.get('conflict')!r}", field="body.conflict")
    # A conflict is known only to the parties it alerted: that is its audience.
    audiences.require_within(
        audience,
        ctx.store.conflict_audience(str(body["conflict"])),
        what="resolution",
        subject_name="conflict",
        refers="body.conflict",
    )


def _is(ctx: Context, party: Party, record: str, kind: str) -> bool:
    found = ctx.store.get_submission(record, party.id)
    return found is not None and found.kind == kind


def follow_up(ctx: Context, done: Sequence[tuple[Accepted, Prepared]]) -> None:
    """Tell the parties concerned, after the commit."""
    for accepted, _ in done:
        record = accepted.record
        body = record.body
        if record.kind == "withdrawal":
            _tell_withdrawal(ctx, record.party_id, str(body["record"]))
        elif record.kind == "incident":
            accepted.related = _correlate(ctx, record.party_id, record.id, record.audience, body)
        elif record.kind == alert_acks.KIND:
            alert_acks.mark(ctx.store, record)


def _audience_of(ctx: Context, record: str) -> set[str]:
    holder = ctx.screening.holders.get(record)
    every = {p.id for p in ctx.store.parties()}
    return every if holder is None or holder.audience is None else set(holder.audience)


def _tell_withdrawal(ctx: Context, author: str, record: str) -> None:
    ctx.screening.refresh()
    members = {p.id for p in ctx.store.parties() if p.role == "member"}
    told = sorted((members & _audience_of(ctx, record)) - {author})
    ctx.store.add_alerts("withdrawal", record, f"{author} withdrew {record}", told)


def _correlate(
    ctx: Context, author: str, incident: str, audience: tuple[str, ...] | None, body: dict[str, Any]
) -> dict[str, Any]:
    """Operations near the incident in space and time that the reporter may see; each
    operation's party is alerted if it may see the incident.

    Operations the reporter may not see are neither named nor counted: a count would let a
    reporter map hidden operations by placing incidents (restricted to itself) and watching
    it. Their parties are still alerted; nothing of that alert reaches the reporter."""
    near = ctx.screening.operations_near(incidents.probe(body))
    seen_by = set(audience) if audience is not None else {p.id for p in ctx.store.parties()}
    named = []
    for operation, distance in near:
        holder = ctx.screening.holders[operation]
        if holder.visible_to(author):
            named.append({"operation": operation, "distance_m": round(distance, 1)})
        if holder.party in seen_by and holder.party != author:
            ctx.store.add_alerts(
                "incident-correlation",
                incident,
                f"an incident was reported {distance:,.0f} m from your operation {operation}",
                [holder.party],
            )
    return {"operations": named}
