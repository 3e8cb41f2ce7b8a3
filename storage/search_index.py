"""The queue's blind search index: keyed tokens instead of words, so the index reveals no name or address.

Each visit's document is a list of search tokens (`DataKey.token`, keyed BLAKE2b under a key derived from the
data key, 8 bytes): every trigram of the normalised name and address, every character and pair of characters
of the name, the phone's last 4 digits and the ID number's last 4 characters. They live in a contentless FTS5
table (`visit_index`, rowid = `visits.id`), whose posting lists intersect the query's tokens in C. A search
hashes the query the same way; where the tokens only say "every trigram occurs" (4 characters or more), the
candidates' sealed cards are opened and the substring confirmed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from storage.crypto import DataKey

__all__ = ["SearchPlan", "fold", "index_document", "search_plan"]

_TRIGRAM = 3


def fold(text: str) -> str:
    """What search compares: compatibility forms (full-width digits and letters) and case folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def _grams(text: str, n: int) -> set[str]:
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def index_document(key: DataKey, name: str, address: str, phone_tail: str, id_tail: str) -> str:
    """The visit's tokens, space-separated (the FTS document)."""
    name, address = fold(name), fold(address)
    # One call per kind of term: most terms (a district's address trigrams, common name characters) recur
    # across visits and are answered from the key's memo.
    tokens = key.tokens
    found = tokens("n1:", set(name))
    found += tokens("n2:", _grams(name, 2))
    found += tokens("n3:", _grams(name, 3))
    found += tokens("a3:", _grams(address, 3))
    if phone_tail:
        found += tokens("p:", (phone_tail,))
    if id_tail:
        found += tokens("i:", (id_tail.upper(),))
    return " ".join(found)


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """`match` is the FTS5 query; `exact` means its hits need no confirmation (one token per alternative)."""

    text: str
    folded: str
    match: str | None
    exact: bool

    def confirms(self, card: Sequence[str], external_id: str) -> bool:
        """Whether an opened card (`storage.queue.CARD_FIELDS`) really matches the search."""
        q, f = self.text, self.folded
        if external_id == q:
            return True
        name, address, phone_tail, id_tail = card[0], card[3], card[6], card[7]
        if len(f) >= _TRIGRAM:
            if f in fold(name) or f in fold(address):
                return True
        elif f in fold(name):
            return True
        return len(q) == 4 and (phone_tail == q or id_tail == q.upper())


def search_plan(key: DataKey, search: str) -> SearchPlan:
    """Search semantics: ≥ 3 characters, a substring of the name or the address; 1–2 characters, of the name
    only; exactly 4 characters, also the phone's or the ID number's last 4 (X in any case); always the exact
    account number (`external_id`, matched in SQL, not here)."""
    q = search.strip()
    f = fold(q)
    token = key.token
    parts: list[str] = []
    exact = True
    if len(f) >= _TRIGRAM:
        grams = sorted(_grams(f, 3))
        exact = len(grams) == 1
        for field in ("n3:", "a3:"):
            parts.append("(" + " AND ".join(token(field + g) for g in grams) + ")")
    elif f:
        parts.append(token(f"n{len(f)}:{f}"))
    if len(q) == 4:
        parts.append(token("p:" + q))
        parts.append(token("i:" + q.upper()))
    return SearchPlan(q, f, " OR ".join(parts) if parts else None, exact)
