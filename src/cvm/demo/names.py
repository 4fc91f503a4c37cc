"""Fake but plausible personal names, with an ASCII spelling for building e-mail addresses.

Russian customers get Cyrillic names (surnames take the feminine form for women, as in real
data); e-mail local parts use a simple transliteration. No list pretends to be exhaustive: the
point is realistic-looking rows, not a census.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class NameList:
    """Display names and their ASCII spellings (same order)."""

    female: tuple[tuple[str, str], ...]
    male: tuple[tuple[str, str], ...]
    # (male or neutral surname, female surname) with ASCII spellings.
    surnames: tuple[tuple[str, str, str, str], ...]


def _ru_surnames(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str, str, str], ...]:
    # Surnames in -ов/-ев/-ин take -а for women (Иванов -> Иванова, Ivanov -> Ivanova).
    return tuple((cyr, cyr + "а", lat, lat + "a") for cyr, lat in pairs)


def _plain(names: tuple[str, ...]) -> tuple[tuple[str, str, str, str], ...]:
    return tuple((n, n, n.lower(), n.lower()) for n in names)


def _same(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((n, n.lower()) for n in names)


NAME_LISTS: dict[str, NameList] = {
    "ru": NameList(
        female=(
            ("Анна", "anna"), ("Мария", "maria"), ("Елена", "elena"), ("Ольга", "olga"),
            ("Наталья", "natalya"), ("Екатерина", "ekaterina"), ("Татьяна", "tatyana"),
            ("Ирина", "irina"), ("Светлана", "svetlana"), ("Юлия", "yulia"),
            ("Дарья", "darya"), ("Анастасия", "anastasia"), ("Ксения", "ksenia"),
            ("Полина", "polina"), ("Виктория", "viktoria"), ("Алина", "alina"),
        ),
        male=(
            ("Александр", "alexander"), ("Дмитрий", "dmitry"), ("Сергей", "sergey"),
            ("Андрей", "andrey"), ("Алексей", "alexey"), ("Максим", "maxim"),
            ("Иван", "ivan"), ("Михаил", "mikhail"), ("Николай", "nikolay"),
            ("Павел", "pavel"), ("Артём", "artem"), ("Егор", "egor"), ("Кирилл", "kirill"),
            ("Владимир", "vladimir"), ("Роман", "roman"), ("Илья", "ilya"),
        ),
        surnames=_ru_surnames(
            (
                ("Иванов", "ivanov"), ("Смирнов", "smirnov"), ("Кузнецов", "kuznetsov"),
                ("Попов", "popov"), ("Васильев", "vasilyev"), ("Петров", "petrov"),
                ("Соколов", "sokolov"), ("Михайлов", "mikhailov"), ("Новиков", "novikov"),
                ("Фёдоров", "fedorov"), ("Морозов", "morozov"), ("Волков", "volkov"),
                ("Алексеев", "alekseev"), ("Лебедев", "lebedev"), ("Семёнов", "semenov"),
                ("Егоров", "egorov"), ("Павлов", "pavlov"), ("Козлов", "kozlov"),
                ("Степанов", "stepanov"), ("Никитин", "nikitin"), ("Орлов", "orlov"),
                ("Макаров", "makarov"), ("Зайцев", "zaitsev"), ("Соловьёв", "solovyov"),
            )
        ),
    ),
    "en": NameList(
        female=_same(
            (
                "Olivia", "Emma", "Amelia", "Sophia", "Isabella", "Charlotte", "Mia", "Emily",
                "Grace", "Chloe", "Lucy", "Hannah", "Sarah", "Jessica", "Laura", "Maria",
            )
        ),
        male=_same(
            (
                "Oliver", "James", "William", "Jack", "Noah", "George", "Henry", "Thomas",
                "Daniel", "Michael", "David", "Joseph", "Samuel", "Benjamin", "Lucas", "Carlos",
            )
        ),
        surnames=_plain(
            (
                "Smith", "Johnson", "Williams", "Brown", "Jones", "Taylor", "Davies", "Wilson",
                "Evans", "Thomas", "Roberts", "Walker", "Wright", "Robinson", "Thompson",
                "White", "Hughes", "Edwards", "Green", "Hall", "Garcia", "Martinez", "Lopez",
                "Clarke",
            )
        ),
    ),
    "de": NameList(
        female=(
            ("Anna", "anna"), ("Lena", "lena"), ("Julia", "julia"), ("Laura", "laura"),
            ("Sophie", "sophie"), ("Marie", "marie"), ("Lea", "lea"), ("Katharina", "katharina"),
            ("Sabine", "sabine"), ("Claudia", "claudia"), ("Jana", "jana"), ("Hanna", "hanna"),
            ("Jülide", "juelide"), ("Lisa", "lisa"), ("Mia", "mia"), ("Greta", "greta"),
        ),
        male=(
            ("Lukas", "lukas"), ("Leon", "leon"), ("Felix", "felix"), ("Jonas", "jonas"),
            ("Paul", "paul"), ("Maximilian", "maximilian"), ("Tobias", "tobias"),
            ("Florian", "florian"), ("Stefan", "stefan"), ("Thomas", "thomas"),
            ("Jürgen", "juergen"), ("Matthias", "matthias"), ("Niklas", "niklas"),
            ("Finn", "finn"), ("Elias", "elias"), ("Moritz", "moritz"),
        ),
        surnames=tuple(
            (d, d, a, a)
            for d, a in (
                ("Müller", "mueller"), ("Schmidt", "schmidt"), ("Schneider", "schneider"),
                ("Fischer", "fischer"), ("Weber", "weber"), ("Meyer", "meyer"),
                ("Wagner", "wagner"), ("Becker", "becker"), ("Schulz", "schulz"),
                ("Hoffmann", "hoffmann"), ("Schäfer", "schaefer"), ("Koch", "koch"),
                ("Bauer", "bauer"), ("Richter", "richter"), ("Klein", "klein"),
                ("Wolf", "wolf"), ("Schröder", "schroeder"), ("Neumann", "neumann"),
                ("Schwarz", "schwarz"), ("Zimmermann", "zimmermann"),
            )
        ),
    ),
}  # fmt: skip

LOCALES: tuple[str, ...] = tuple(NAME_LISTS)


def _flatten() -> tuple[
    tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], npt.NDArray[np.int64]
]:
    """Flat name tables plus, per (locale, sex, first|last), the start and length of its block."""
    first_d: list[str] = []
    first_a: list[str] = []
    last_d: list[str] = []
    last_a: list[str] = []
    blocks = np.zeros((len(LOCALES), 2, 2, 2), dtype=np.int64)
    for li, key in enumerate(LOCALES):
        names = NAME_LISTS[key]
        for sex, pool in ((0, names.male), (1, names.female)):
            blocks[li, sex, 0] = (len(first_d), len(pool))
            first_d.extend(p[0] for p in pool)
            first_a.extend(p[1] for p in pool)
            blocks[li, sex, 1] = (len(last_d), len(names.surnames))
            last_d.extend(s[sex] for s in names.surnames)
            last_a.extend(s[sex + 2] for s in names.surnames)
    return tuple(first_d), tuple(first_a), tuple(last_d), tuple(last_a), blocks


FIRST_DISPLAY, FIRST_ASCII, LAST_DISPLAY, LAST_ASCII, _BLOCKS = _flatten()


def draw_names(
    rng: np.random.Generator,
    locale: npt.NDArray[np.int64],
    female: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Codes into (FIRST_*, LAST_*) for customers of the given locale and sex, vectorised."""
    sex = female.astype(np.int64)
    first = _BLOCKS[locale, sex, 0]
    last = _BLOCKS[locale, sex, 1]
    n = locale.shape[0]
    first_code = first[:, 0] + (rng.random(n) * first[:, 1]).astype(np.int64)
    last_code = last[:, 0] + (rng.random(n) * last[:, 1]).astype(np.int64)
    return first_code, last_code
