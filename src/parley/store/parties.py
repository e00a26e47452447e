"""The registered parties and their tokens."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from parley.errors import Conflict
from parley.store import schema as t
from parley.store.base import Base, party_columns
from parley.store.rows import Party


class Parties(Base):
    """Registration and token lookup."""

    def add_party(self, party: Party, token_digest: str) -> None:
        try:
            with self._writer.begin() as conn:
                conn.execute(
                    insert(t.parties).values(
                        id=party.id,
                        name=party.name,
                        role=party.role,
                        public_key=party.public_key,
                        token_digest=token_digest,
                        created_at=party.created_at,
                    )
                )
        except IntegrityError:
            raise Conflict(f"party {party.id!r} already exists") from None

    def party_by_token(self, token_digest: str) -> Party | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*party_columns()).where(t.parties.c.token_digest == token_digest)
            ).first()
        return Party(*row) if row else None

    def parties(self) -> list[Party]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*party_columns()).order_by(t.parties.c.id)).all()
        return [Party(*row) for row in rows]
