"""The units a plan may name, and how a cell's text is resolved to them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from plans.defaults import ALL_UNITS_PHRASES, CENTRE, DIVISIONS_PHRASES
from plans.parsing.normalize import clean_text, fold_spaces, search_key

__all__ = ["UnitDirectory", "UnitRef"]


@dataclass(frozen=True)
class UnitRef:
    """A unit of the department as the parser knows it."""

    name: str
    short_name: str
    kind: str
    aliases: tuple[str, ...] = ()


_ALL = "__all__"
_DIVISIONS = "__divisions__"
# Separators between unit names in one cell: , ; / ( ) newline and the word "và".
_UNIT_SEP = re.compile(r"[^\S\n]*(?:[,;/()\n]|\bvà\b)\s*", re.IGNORECASE)
_UNIT_WS = re.compile(r"\s+")
_UNIT_WORD = re.compile(r"[^\s,;/()]+")
_FRAGMENT_TRIM = " \t\n.:-–—"
_MAX_UNIT_TEXT = 2000


def _name_pattern(name: str) -> re.Pattern[str]:
    """A regex for a unit name that tolerates line breaks, case and dash variants."""
    name = fold_spaces(unicodedata.normalize("NFC", name))
    parts: list[str] = []
    i = 0
    while i < len(name):
        ch = name[i]
        if ch in "-–—":
            # "An toàn - Năng lượng", "An toàn – Năng lượng", "An toàn-Năng lượng"
            while parts and parts[-1] == r"\s+":
                parts.pop()
            parts.append(r"\s*[-–—]\s*")
            i += 1
            while i < len(name) and name[i] == " ":
                i += 1
            continue
        if ch == " ":
            parts.append(r"\s*" if parts and parts[-1].endswith((",", ";")) else r"\s+")
        else:
            parts.append(re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.IGNORECASE)


@dataclass(frozen=True)
class UnitDirectory:
    """The units a plan may name, with their spellings and the collective phrases.

    ``all_units_phrases`` ("Các phòng, đơn vị thuộc sở") stand for every unit,
    ``divisions_phrases`` ("Các phòng thuộc sở") for every unit that is not a centre.
    Both default to the lists in ``plans.defaults``.
    """

    units: tuple[UnitRef, ...]
    all_units_phrases: tuple[str, ...] = tuple(ALL_UNITS_PHRASES)
    divisions_phrases: tuple[str, ...] = tuple(DIVISIONS_PHRASES)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data, for the parse worker (``from_json`` reads it back)."""
        return {
            "units": [
                {"name": u.name, "short_name": u.short_name, "kind": u.kind, "aliases": list(u.aliases)}
                for u in self.units
            ],
            "all_units_phrases": list(self.all_units_phrases),
            "divisions_phrases": list(self.divisions_phrases),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnitDirectory:
        return cls(
            units=cls.from_seed(data["units"]).units,
            all_units_phrases=tuple(data["all_units_phrases"]),
            divisions_phrases=tuple(data["divisions_phrases"]),
        )

    @classmethod
    def from_seed(cls, seeds: Iterable[Any]) -> UnitDirectory:
        """Build from ``plans.defaults.DEFAULT_UNITS``-shaped dicts."""
        return cls(
            units=tuple(
                UnitRef(
                    name=seed["name"],
                    short_name=seed.get("short_name", ""),
                    kind=seed.get("kind", ""),
                    aliases=tuple(seed.get("aliases", ())),
                )
                for seed in seeds
            )
        )

    def _expand(self, target: str) -> tuple[str, ...]:
        if target == _ALL:
            return tuple(u.name for u in self.units)
        if target == _DIVISIONS:
            return tuple(u.name for u in self.units if u.kind != CENTRE)
        return (target,)

    @cached_property
    def _patterns(self) -> tuple[tuple[re.Pattern[str], str], ...]:
        """(regex, target) for every spelling, longest first so the greedy scan
        prefers "Thanh tra Sở" to "Thanh tra" and the "…và Xúc tiến Thương mại"
        name to a split at "và"."""
        spellings: list[tuple[str, str]] = []
        for unit in self.units:
            spellings.append((unit.name, unit.name))
            spellings.extend((alias, unit.name) for alias in unit.aliases)
        spellings.extend((phrase, _ALL) for phrase in self.all_units_phrases)
        spellings.extend((phrase, _DIVISIONS) for phrase in self.divisions_phrases)
        spellings = [(s, t) for s, t in spellings if fold_spaces(s)]
        spellings.sort(key=lambda st: len(fold_spaces(st[0])), reverse=True)
        return tuple((_name_pattern(s), t) for s, t in spellings)

    @cached_property
    def _keys(self) -> dict[str, str]:
        """Diacritics-insensitive exact lookup for left-over fragments."""
        keys: dict[str, str] = {}
        for unit in self.units:
            for spelling in (unit.name, *unit.aliases):
                keys.setdefault(search_key(spelling), unit.name)
        for phrase in self.all_units_phrases:
            keys.setdefault(search_key(phrase), _ALL)
        for phrase in self.divisions_phrases:
            keys.setdefault(search_key(phrase), _DIVISIONS)
        return keys

    def _match_at(self, text: str, pos: int, *, check_boundary: bool = True) -> tuple[str, int] | None:
        for pattern, target in self._patterns:
            m = pattern.match(text, pos)
            if m is None:
                continue
            end = m.end()
            if end < len(text) and (text[end].isalnum() or text[end] == "_"):
                continue  # stops inside a word
            if not check_boundary or self._boundary_ok(text, end):
                return target, end
        return None

    def _boundary_ok(self, text: str, end: int) -> bool:
        """A name must be followed by the end, a separator or another known name.

        This keeps "Văn phòng UBND tỉnh" from being read as "Văn phòng" (= Văn phòng
        Sở) plus a stray "UBND tỉnh".
        """
        rest = text[end:]
        if not rest.strip(_FRAGMENT_TRIM):
            return True
        if _UNIT_SEP.match(text, end) or text[end] in ".:":
            return True
        ws = _UNIT_WS.match(text, end)
        return ws is not None and self._match_at(text, ws.end(), check_boundary=False) is not None

    def resolve_named(self, text: str) -> tuple[str, ...]:
        """The units ``text`` names one by one: ``resolve`` without the collective phrases
        ("Các phòng, đơn vị thuộc sở" names none of the units it stands for)."""
        text = clean_text(text)
        for phrase in (*self.all_units_phrases, *self.divisions_phrases):
            if fold_spaces(phrase):
                text = _name_pattern(phrase).sub(";", text)
        return self.resolve(text)[0]

    @cached_property
    def _cache(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        return {}

    def resolve(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(canonical unit names in the order written, unresolved fragments).

        Known names, aliases and collective phrases are matched greedily first (so
        the comma inside "Các phòng, đơn vị thuộc sở" and the "và" inside "Trung tâm
        Khuyến công và Xúc tiến Thương mại" do not split them); what remains is split
        at commas, semicolons, slashes, line breaks and "và". Collective phrases
        expand to the units in directory order. Names are not repeated.
        """
        cached = self._cache.get(text)
        if cached is None:
            cached = self._resolve(text)
            if len(self._cache) < 4096:  # unit cells repeat a lot; keep the cache small
                self._cache[text] = cached
        return cached

    def _resolve(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        text = clean_text(text).replace("\t", " ")
        if len(text) > _MAX_UNIT_TEXT:
            # Far longer than any list of units: do not scan it word by word.
            return (), (fold_spaces(text)[:200],)
        items: list[tuple[str, str]] = []  # ("unit", target) | ("frag", text) | ("sep", sep)
        frag_start: int | None = None

        def flush(end: int) -> None:
            nonlocal frag_start
            if frag_start is not None:
                fragment = fold_spaces(text[frag_start:end]).strip(_FRAGMENT_TRIM)
                if fragment:
                    items.append(("frag", fragment))
                frag_start = None

        pos = 0
        while pos < len(text):
            sep = _UNIT_SEP.match(text, pos)
            if sep and sep.group().strip():
                flush(pos)
                items.append(("sep", fold_spaces(sep.group()).casefold()))
                pos = sep.end()
                continue
            ws = _UNIT_WS.match(text, pos)
            if ws:
                pos = ws.end()
                continue
            hit = self._match_at(text, pos)
            if hit:
                flush(pos)
                items.append(("unit", hit[0]))
                pos = hit[1]
                continue
            if frag_start is None:
                frag_start = pos
            word = _UNIT_WORD.match(text, pos)
            pos = word.end() if word else pos + 1
        flush(len(text))

        # Unknown names joined by "và" are one name ("Sở Khoa học và Công nghệ").
        merged: list[tuple[str, str]] = []
        for kind, value in items:
            if (
                kind == "frag"
                and len(merged) >= 2
                and merged[-1] == ("sep", "và")
                and merged[-2][0] == "frag"
            ):
                merged.pop()
                merged[-1] = ("frag", f"{merged[-1][1]} và {value}")
            else:
                merged.append((kind, value))

        names: list[str] = []
        unresolved: list[str] = []
        for kind, value in merged:
            if kind == "unit":
                targets = self._expand(value)
            elif kind == "frag":
                found = self._keys.get(search_key(value)) or next(
                    (u.name for u in self.units if u.short_name and u.short_name == value), None
                )
                if found is None:
                    if value not in unresolved:
                        unresolved.append(value)
                    continue
                targets = self._expand(found)
            else:
                continue
            names.extend(n for n in targets if n not in names)
        return tuple(names), tuple(unresolved)
