"""The registered parties, their tokens, their status and every key each has had."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from parley.errors import Conflict
from parley.store import schema as t
from parley.store.base import Base, party_columns
from parley.store.rows import Party


@dataclass(frozen=True)
class PartyKey:
    party_id: str
    public_key: str  # base64url of the raw Ed25519 key
    valid_from: str
    log_index: int | None  # of the hub's party-key entry; None for the key given at registration


class Parties(Base):
    """Registration, token lookup and the lifecycle changes parley.hub.parties makes."""

    def add_party(
        self, party: Party, token_digest: str, token_expires_at: str | None = None
    ) -> None:
        try:
            with self._writer.begin() as conn:
                if conn.execute(select(t.parties.c.id).where(t.parties.c.id == party.id)).first():
                    raise Conflict(f"party {party.id!r} already exists")
                self._refuse_known_key(conn, party.public_key)
                conn.execute(
                    insert(t.parties).values(
                        id=party.id,
                        name=party.name,
                        role=party.role,
                        public_key=party.public_key,
                        token_digest=token_digest,
                        created_at=party.created_at,
                        status="active",
                        token_expires_at=token_expires_at,
                    )
                )
                conn.execute(
                    insert(t.party_keys).values(
                        public_key=party.public_key,
                        party_id=party.id,
                        valid_from=party.created_at,
                        log_index=None,
                    )
                )
        except IntegrityError:
            raise Conflict(f"party {party.id!r} already exists") from None

    def _refuse_known_key(self, conn: Connection, public_key: str) -> None:
        owner = conn.execute(
            select(t.party_keys.c.party_id).where(t.party_keys.c.public_key == public_key)
        ).scalar()
        if owner is not None:
            raise Conflict(
                f"this public key is already registered to party {owner!r}: each party signs "
                "with a key of its own (make one with `parley keygen`)",
                field="public_key",
            )

    def party_by_token(self, token_digest: str) -> Party | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*party_columns()).where(t.parties.c.token_digest == token_digest)
            ).first()
        return Party(*row) if row else None

    def party(self, party_id: str) -> Party | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*party_columns()).where(t.parties.c.id == party_id)).first()
        return Party(*row) if row else None

    def token_digest_of(self, party_id: str) -> str | None:
        with self.engine.connect() as conn:
            found: str | None = conn.execute(
                select(t.parties.c.token_digest).where(t.parties.c.id == party_id)
            ).scalar()
        return found

    def parties(self) -> list[Party]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*party_columns()).order_by(t.parties.c.id)).all()
        return [Party(*row) for row in rows]

    def set_party_status(self, party_id: str, status: str, since: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(
                update(t.parties)
                .where(t.parties.c.id == party_id)
                .values(status=status, status_since=since)
            )

    def set_token(self, party_id: str, token_digest: str, expires_at: str | None) -> None:
        """Replace the party's token: the old digest is gone in the same statement."""
        with self._writer.begin() as conn:
            conn.execute(
                update(t.parties)
                .where(t.parties.c.id == party_id)
                .values(token_digest=token_digest, token_expires_at=expires_at)
            )

    def rotate_key(self, party_id: str, public_key: str, valid_from: str) -> None:
        """Put ``public_key`` in force for the party from ``valid_from``; its earlier keys stay
        in its history for the records received under them."""
        with self._writer.begin() as conn:
            self._refuse_known_key(conn, public_key)
            conn.execute(
                insert(t.party_keys).values(
                    public_key=public_key, party_id=party_id, valid_from=valid_from, log_index=None
                )
            )
            conn.execute(
                update(t.parties).where(t.parties.c.id == party_id).values(public_key=public_key)
            )

    def set_key_log_index(self, public_key: str, log_index: int) -> None:
        with self._writer.begin() as conn:
            conn.execute(
                update(t.party_keys)
                .where(t.party_keys.c.public_key == public_key)
                .values(log_index=log_index)
            )

    def all_party_keys(self) -> list[PartyKey]:
        """Every party's keys, oldest first: one read for a hub's cache."""
        c = t.party_keys.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.party_id, c.public_key, c.valid_from, c.log_index).order_by(
                    c.party_id, c.valid_from
                )
            ).all()
        return [PartyKey(*row) for row in rows]

    def party_keys(self, party_id: str) -> list[PartyKey]:
        """The party's keys, oldest first."""
        c = t.party_keys.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.party_id, c.public_key, c.valid_from, c.log_index)
                .where(c.party_id == party_id)
                .order_by(c.valid_from)
            ).all()
        return [PartyKey(*row) for row in rows]
