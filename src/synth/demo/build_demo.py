"""Build the bundled demo corpus: 3 small SQLite databases in Spider layout, written by us.

Everything — schemas, rows, question/SQL pairs — is defined in this file, so the corpus can be
rebuilt byte-for-byte (the few generated rows come from ``random.Random(SEED)``, using only
``random()``, whose sequence is stable across Python versions). Every gold query is executed on
its database and must return at least one row; otherwise the build fails and writes nothing
further.

Usage::

    python -m synth.demo.build_demo            # rewrite src/synth/demo/ in place
    python -m synth.demo.build_demo OUT_DIR    # write the corpus somewhere else

Outputs: ``database/<db_id>/<db_id>.sqlite``, ``tables.json`` (Spider format plus BIRD-style
``column_descriptions``), ``train.json``, ``dev.json`` and ``dev_gold.sql``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from evaluation.errors import SpftError
from evaluation.executor import connect_readonly, connect_writable
from evaluation.fileio import write_atomic
from evaluation.schema import natural_name, sqlite_type_to_column_type

SEED = 20250101
DEFAULT_OUT = Path(__file__).resolve().parent


class DemoBuildError(SpftError):
    """The demo definitions are inconsistent (a gold query fails or returns no rows)."""


# ---- specs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its SQL type drives the Spider coarse type; ``comment`` becomes a description."""

    name: str
    sql_type: str
    comment: str = ""
    references: tuple[str, str] | None = None  # (table, column)
    not_null: bool = False


@dataclass(frozen=True)
class TableSpec:
    """A table with its rows (tuples in column order) and primary key (one or more columns)."""

    name: str
    columns: tuple[ColumnSpec, ...]
    primary_key: tuple[str, ...]
    rows: tuple[tuple, ...]


@dataclass(frozen=True)
class DatabaseSpec:
    db_id: str
    tables: tuple[TableSpec, ...]


@dataclass(frozen=True)
class Pair:
    """A gold question/SQL pair; ``split`` is ``train`` or ``dev``."""

    split: str
    db_id: str
    question: str
    query: str


def _col(name: str, sql_type: str, comment: str = "", ref: str | None = None, not_null: bool = False) -> ColumnSpec:
    references = tuple(ref.split(".")) if ref else None
    return ColumnSpec(name, sql_type, comment, references, not_null)  # type: ignore[arg-type]


def _day(start: date, offset: int) -> str:
    return (start + timedelta(days=offset)).isoformat()


def _pick(rng: random.Random, items: Sequence):
    return items[int(rng.random() * len(items))]


def _between(rng: random.Random, lo: int, hi: int) -> int:
    """An integer in [lo, hi], from ``random()`` only (stable across Python versions)."""
    return lo + int(rng.random() * (hi - lo + 1))


# ---- school_library ---------------------------------------------------------------------------


def school_library(rng: random.Random) -> DatabaseSpec:
    authors = (
        (1, "Maria Okafor", "Nigeria", 1968),
        (2, "James Holloway", "United Kingdom", 1955),
        (3, "Chen Wei", "China", 1972),
        (4, "Lucia Fernandez", "Spain", 1980),
        (5, "Tom Becker", "Germany", 1949),
        (6, "Aiko Tanaka", "Japan", 1985),
        (7, "Samuel Price", "United States", 1962),
        (8, "Ingrid Dahl", "Norway", 1977),
        (9, "Ravi Menon", "India", 1970),
        (10, "Claire Dubois", "France", 1959),
        (11, "Peter van Dijk", "Netherlands", 1990),
        (12, "Amara Nwosu", "Nigeria", None),
    )
    books = (
        (1, "The Quiet River", 1, "Fantasy", 2004, 312, 1),
        (2, "Stars Over Lagos", 1, "Science Fiction", 2011, 420, 0),
        (3, "A Short History of Bridges", 2, "History", 1998, 256, 1),
        (4, "The Lighthouse Keeper", 2, "Mystery", 2003, 288, 1),
        (5, "Letters from the Harbour", 2, "Biography", 2009, 198, 0),
        (6, "Paper Lanterns", 3, "Poetry", 2001, 96, 1),
        (7, "The Jade Algorithm", 3, "Science Fiction", 2015, 376, 1),
        (8, "Winter in Seville", 4, "Mystery", 2012, 301, 1),
        (9, "The Clockmaker's Apprentice", 4, "Fantasy", 2018, 344, 1),
        (10, "Iron and Steam", 5, "History", 1987, 410, 1),
        (11, "The Last Zeppelin", 5, "History", 1993, 365, 0),
        (12, "Moonlit Garden", 6, "Poetry", 2016, 88, 1),
        (13, "Kyoto Nights", 6, "Mystery", 2019, 270, 1),
        (14, "Robots of Route 9", 6, "Science Fiction", 2021, 298, 1),
        (15, "Prairie Voices", 7, "Biography", 2000, 233, 1),
        (16, "The Silent Quarterback", 7, "Mystery", 2006, 318, 0),
        (17, "Northern Lights", 8, "Poetry", 2008, 120, 1),
        (18, "Fjord Tales", 8, "Fantasy", 2013, 402, 1),
        (19, "The Spice Road", 9, "History", 2005, 389, 1),
        (20, "Monsoon Diaries", 9, "Biography", 2017, 215, 1),
        (21, "Code of the Tiger", 9, "Science Fiction", 2020, 333, 0),
        (22, "Paris in the Rain", 10, "Poetry", 1995, 104, 1),
        (23, "The Baker of Lyon", 10, "Biography", 2002, 247, 1),
        (24, "Canals and Kings", 11, "History", 2022, 280, 1),
        (25, "Dragons of the Delta", 11, "Fantasy", 2023, 456, 1),
        (26, "Harmattan Wind", 12, "Poetry", 2014, 92, 1),
        (27, "The Market Detective", 12, "Mystery", 2019, 305, 1),
        (28, "Orbit Nine", 1, "Science Fiction", 2024, 388, 1),
        (29, "Gardens of Stone", 3, "History", 2010, 274, 1),
        (30, "A Year of Small Poems", 8, "Poetry", 2021, 77, 0),
    )
    first = (
        "Emma",
        "Liam",
        "Olivia",
        "Noah",
        "Ava",
        "Ethan",
        "Sofia",
        "Lucas",
        "Mia",
        "Mason",
        "Zara",
        "Omar",
        "Hannah",
        "Leo",
        "Grace",
        "Kofi",
        "Yuki",
        "Diego",
        "Nora",
        "Arjun",
    )
    last = (
        "Smith",
        "Johnson",
        "Brown",
        "Garcia",
        "Miller",
        "Davis",
        "Lopez",
        "Wilson",
        "Anderson",
        "Thomas",
        "Khan",
        "Haddad",
        "Schmidt",
        "Rossi",
        "Kim",
        "Mensah",
        "Sato",
        "Ramirez",
        "Berg",
        "Patel",
    )
    students = tuple(
        (
            i + 1,
            first[i],
            last[i],
            9 + (i * 7) % 4,
            None if i % 6 == 5 else f"{first[i].lower()}.{last[i].lower()}@school.example",
            _day(date(2021, 9, 1), 365 * ((i * 5) % 3) + (i % 4)),
        )
        for i in range(20)
    )
    loans = []
    start = date(2024, 1, 8)
    for i in range(40):
        loan_day = start + timedelta(days=i * 7 + _between(rng, 0, 5))
        returned = rng.random() < 0.8
        loans.append(
            (
                i + 1,
                _between(rng, 1, 20),
                _between(rng, 1, 30),
                loan_day.isoformat(),
                (loan_day + timedelta(days=_between(rng, 5, 30))).isoformat() if returned else None,
            )
        )
    return DatabaseSpec(
        "school_library",
        (
            TableSpec(
                "authors",
                (
                    _col("author_id", "INTEGER"),
                    _col("name", "TEXT", "full name as printed on the cover", not_null=True),
                    _col("country", "TEXT", "country of birth"),
                    _col("birth_year", "INTEGER", "NULL when unknown"),
                ),
                ("author_id",),
                authors,
            ),
            TableSpec(
                "books",
                (
                    _col("book_id", "INTEGER"),
                    _col("title", "TEXT", not_null=True),
                    _col("author_id", "INTEGER", ref="authors.author_id"),
                    _col("genre", "TEXT", "one of Fantasy, Science Fiction, Mystery, History, Biography, Poetry"),
                    _col("published_year", "INTEGER"),
                    _col("pages", "INTEGER"),
                    _col("is_available", "BOOLEAN", "1 if the copy is on the shelf, 0 if lost or in repair"),
                ),
                ("book_id",),
                books,
            ),
            TableSpec(
                "students",
                (
                    _col("student_id", "INTEGER"),
                    _col("first_name", "TEXT", not_null=True),
                    _col("last_name", "TEXT", not_null=True),
                    _col("grade", "INTEGER", "school grade, 9 to 12"),
                    _col("email", "TEXT", "school e-mail; NULL if the student has none"),
                    _col("enrolled_date", "DATE", "first day at the school, YYYY-MM-DD"),
                ),
                ("student_id",),
                students,
            ),
            TableSpec(
                "loans",
                (
                    _col("loan_id", "INTEGER"),
                    _col("student_id", "INTEGER", ref="students.student_id"),
                    _col("book_id", "INTEGER", ref="books.book_id"),
                    _col("loan_date", "DATE", "day the book was borrowed, YYYY-MM-DD"),
                    _col("return_date", "DATE", "NULL while the book is still out"),
                ),
                ("loan_id",),
                tuple(loans),
            ),
        ),
    )


# ---- city_transit -----------------------------------------------------------------------------


def city_transit(rng: random.Random) -> DatabaseSpec:
    lines = (
        (1, "Red Line", "Metro", "red", "1998-05-12", 18.4),
        (2, "Blue Line", "Metro", "blue", "2003-09-01", 22.1),
        (3, "Green Line", "Metro", "green", "2015-03-20", 12.7),
        (4, "Harbour Express", "Bus", "orange", "2010-06-15", 9.8),
        (5, "Night Owl", "Bus", None, "2018-11-02", 25.3),
        (6, "Tram 4", "Tram", "yellow", "1985-04-30", 7.6),
        (7, "Tram 7", "Tram", "purple", "2021-08-23", 8.9),
        (8, "Airport Link", "Rail", "silver", "2012-01-10", 31.5),
        (9, "Tram 9", "Tram", "teal", "2024-02-05", 6.2),
        (10, "Harbour Ferry", "Ferry", "navy", "1992-07-18", 4.3),
    )
    station_defs = (
        ("Central Station", "Old Town", 1, 1),
        ("Cathedral Square", "Old Town", 1, 0),
        ("Market Hall", "Old Town", 1, 1),
        ("Riverside Park", "Riverside", 1, 1),
        ("Mill Bridge", "Riverside", 2, 0),
        ("Boat Yard", "Harbour", 2, 1),
        ("Ferry Terminal", "Harbour", 2, 1),
        ("Fish Market", "Harbour", 2, 0),
        ("University Gate", "University", 2, 1),
        ("Science Park", "University", 2, 1),
        ("Library Corner", "University", 1, 0),
        ("North Park", "North Park", 2, 1),
        ("Oak Avenue", "North Park", 3, 0),
        ("Hospital", "North Park", 2, 1),
        ("Stadium", "Riverside", 2, 1),
        ("Airport Terminal 1", "Airport", 3, 1),
        ("Airport Terminal 2", "Airport", 3, 1),
        ("Cargo Center", "Airport", 3, 0),
        ("Old Mill", "Riverside", 2, 0),
        ("Sunset Hill", "North Park", 3, 1),
    )
    stations = tuple(
        (i + 1, name, district, zone, elevator, _day(date(1985, 4, 30), 397 * i))
        for i, (name, district, zone, elevator) in enumerate(station_defs)
    )
    routes = {
        1: (1, 3, 4, 15, 19),
        2: (12, 14, 11, 1, 2, 6, 7),
        3: (9, 10, 11, 3),
        4: (1, 6, 7),
        5: (1, 2, 4, 20, 12),
        6: (2, 3, 5, 19),
        7: (9, 11, 4, 15),
        8: (1, 10, 16, 17, 18),
        9: (14, 12, 20),
        10: (7, 6),
    }
    line_stops = tuple(
        (line_id, station_id, order + 1) for line_id, stops in routes.items() for order, station_id in enumerate(stops)
    )
    models = {
        "Metro": ("Metropolis 9000", 900),
        "Bus": ("Citaro G", 140),
        "Tram": ("Avenio M", 220),
        "Rail": ("Coradia Link", 400),
        "Ferry": ("Harbour Cat", 250),
    }
    vehicles = []
    for i in range(15):
        line = lines[i % len(lines)]
        model, capacity = models[line[2]]
        vehicles.append((i + 1, line[0], model, capacity, _day(date(2005, 3, 1), 211 * i)))
    trips = []
    for i in range(50):
        vehicle = vehicles[_between(rng, 0, len(vehicles) - 1)]
        hour, minute = _between(rng, 5, 23), 5 * _between(rng, 0, 11)
        trips.append(
            (
                i + 1,
                vehicle[0],
                _day(date(2024, 3, 1), i // 5),
                f"{hour:02d}:{minute:02d}",
                _between(rng, vehicle[3] // 10, vehicle[3] // 2),
                None if rng.random() < 0.15 else _between(rng, 0, 12),
            )
        )
    return DatabaseSpec(
        "city_transit",
        (
            TableSpec(
                "lines",
                (
                    _col("line_id", "INTEGER"),
                    _col("line_name", "TEXT", not_null=True),
                    _col("mode", "TEXT", "Metro, Bus, Tram, Rail or Ferry"),
                    _col("color", "TEXT", "colour on the network map; NULL for night lines"),
                    _col("opened_date", "DATE"),
                    _col("length_km", "REAL", "route length in kilometres"),
                ),
                ("line_id",),
                lines,
            ),
            TableSpec(
                "stations",
                (
                    _col("station_id", "INTEGER"),
                    _col("station_name", "TEXT", not_null=True),
                    _col("district", "TEXT"),
                    _col("zone", "INTEGER", "fare zone, 1 is the city centre"),
                    _col("has_elevator", "BOOLEAN", "1 if step-free access"),
                    _col("opened_date", "DATE"),
                ),
                ("station_id",),
                stations,
            ),
            TableSpec(
                "line_stops",
                (
                    _col("line_id", "INTEGER", ref="lines.line_id"),
                    _col("station_id", "INTEGER", ref="stations.station_id"),
                    _col("stop_order", "INTEGER", "position of the stop on the line, from 1"),
                ),
                ("line_id", "station_id"),
                line_stops,
            ),
            TableSpec(
                "vehicles",
                (
                    _col("vehicle_id", "INTEGER"),
                    _col("line_id", "INTEGER", "line the vehicle is assigned to", ref="lines.line_id"),
                    _col("model", "TEXT"),
                    _col("capacity", "INTEGER", "passengers, seated and standing"),
                    _col("in_service_since", "DATE"),
                ),
                ("vehicle_id",),
                tuple(vehicles),
            ),
            TableSpec(
                "trips",
                (
                    _col("trip_id", "INTEGER"),
                    _col("vehicle_id", "INTEGER", ref="vehicles.vehicle_id"),
                    _col("trip_date", "DATE"),
                    _col("departure_time", "TEXT", "HH:MM, 24-hour clock"),
                    _col("passengers", "INTEGER", "passengers counted on board"),
                    _col("delay_minutes", "INTEGER", "NULL when the delay was not recorded"),
                ),
                ("trip_id",),
                tuple(trips),
            ),
        ),
    )


# ---- clinic -----------------------------------------------------------------------------------


def clinic(rng: random.Random) -> DatabaseSpec:
    departments = (
        (1, "Cardiology", 3, "555-0101"),
        (2, "Pediatrics", 2, "555-0102"),
        (3, "General Medicine", 1, "555-0103"),
        (4, "Dermatology", 2, "555-0104"),
        (5, "Orthopedics", 4, None),
        (6, "Emergency Care", 0, "555-0199"),
        (7, "Neurology", 3, "555-0107"),
        (8, "Radiology", 0, "555-0108"),
        (9, "Oncology", 4, "555-0109"),
        (10, "Sleep Medicine", 2, None),
    )
    doctors = (
        (1, "Dr. Helen Park", "Cardiologist", 1, "2008-02-11", 182000.0),
        (2, "Dr. Marcus Reed", "Cardiologist", 1, "2015-07-01", 165000.0),
        (3, "Dr. Aisha Bello", "Pediatrician", 2, "2012-09-17", 148000.0),
        (4, "Dr. Tomas Novak", "Pediatrician", 2, "2019-01-07", 131000.0),
        (5, "Dr. Linda Chow", "General Practitioner", 3, "2005-05-23", 139000.0),
        (6, "Dr. Omar Haddad", "General Practitioner", 3, "2017-03-13", 127500.0),
        (7, "Dr. Sara Lind", "Dermatologist", 4, "2011-10-03", 158000.0),
        (8, "Dr. Paolo Greco", "Orthopedic Surgeon", 5, "2009-06-29", 201000.0),
        (9, "Dr. Nina Ivanova", "Orthopedic Surgeon", 5, "2020-11-16", 176000.0),
        (10, "Dr. Jake Turner", "Emergency Physician", 6, "2014-04-14", 171000.0),
        (11, "Dr. Mei Ling", "Emergency Physician", 6, "2022-08-01", 150000.0),
        (12, "Dr. Ben Carter", "General Practitioner", 3, "2023-02-20", 118000.0),
    )
    first = (
        "Alice",
        "Bruno",
        "Carmen",
        "David",
        "Elena",
        "Farid",
        "Gloria",
        "Hugo",
        "Irene",
        "Jonas",
        "Kira",
        "Luis",
        "Marta",
        "Nils",
        "Olga",
        "Pablo",
        "Queenie",
        "Rahul",
        "Sina",
        "Tariq",
        "Uma",
        "Victor",
        "Wanda",
        "Xavier",
        "Yara",
    )
    last = (
        "Adams",
        "Baker",
        "Costa",
        "Dunn",
        "Evans",
        "Fischer",
        "Gomez",
        "Hughes",
        "Ito",
        "Jensen",
        "Kowalski",
        "Lee",
        "Moreau",
        "Nash",
        "Olsen",
        "Perez",
        "Quinn",
        "Rao",
        "Silva",
        "Tran",
        "Usman",
        "Vega",
        "Weber",
        "Young",
        "Zimmer",
    )
    cities = ("Springfield", "Riverton", "Lake View", "Fairmont")
    insurers = ("Blue Shield", "Acme Health", "CareFirst Plus", None)
    patients = tuple(
        (
            i + 1,
            f"{first[i]} {last[(i * 7) % 25]}",
            _day(date(1940, 1, 15), 1009 * i + 37 * (i % 5)),
            "F" if i % 2 == 0 else "M",
            cities[(i * 3 + i // 5) % 4],
            insurers[i % 4] if i % 9 != 8 else None,
        )
        for i in range(25)
    )
    reasons = {
        1: ("chest pain", "blood pressure check", "palpitations"),
        2: ("vaccination", "fever", "growth check"),
        3: ("annual checkup", "flu symptoms", "back pain"),
        4: ("skin rash", "mole check", "acne"),
        5: ("knee injury", "back pain", "fracture follow-up"),
        6: ("sprained ankle", "deep cut", "high fever"),
    }
    doctor_dept = {d[0]: d[3] for d in doctors}
    appointments = []
    for i in range(50):
        doctor_id = _between(rng, 1, 12)
        day = _day(date(2024, 1, 2), 3 * i + _between(rng, 0, 2))
        status = "completed" if i < 40 else _pick(rng, ("scheduled", "cancelled", "scheduled"))
        if i < 40 and rng.random() < 0.1:
            status = "cancelled"
        appointments.append(
            (
                i + 1,
                _between(rng, 1, 25),
                doctor_id,
                day,
                _pick(rng, reasons[doctor_dept[doctor_id]]),
                float(40 + 10 * _between(rng, 0, 16)),
                status,
            )
        )
    medications = (
        ("Amoxicillin", 500),
        ("Ibuprofen", 400),
        ("Lisinopril", 10),
        ("Metformin", 850),
        ("Cetirizine", 10),
        ("Paracetamol", 500),
        ("Atorvastatin", 20),
    )
    completed = [a[0] for a in appointments if a[6] == "completed"]
    prescriptions = []
    for i in range(30):
        med, dose = _pick(rng, medications)
        prescriptions.append((i + 1, _pick(rng, completed), med, dose, _between(rng, 3, 30)))
    return DatabaseSpec(
        "clinic",
        (
            TableSpec(
                "departments",
                (
                    _col("department_id", "INTEGER"),
                    _col("name", "TEXT", not_null=True),
                    _col("floor", "INTEGER", "0 is the ground floor"),
                    _col("phone", "TEXT", "front desk extension"),
                ),
                ("department_id",),
                departments,
            ),
            TableSpec(
                "doctors",
                (
                    _col("doctor_id", "INTEGER"),
                    _col("full_name", "TEXT", not_null=True),
                    _col("specialty", "TEXT"),
                    _col("department_id", "INTEGER", ref="departments.department_id"),
                    _col("hire_date", "DATE"),
                    _col("salary", "REAL", "yearly gross salary in dollars"),
                ),
                ("doctor_id",),
                doctors,
            ),
            TableSpec(
                "patients",
                (
                    _col("patient_id", "INTEGER"),
                    _col("full_name", "TEXT", not_null=True),
                    _col("birth_date", "DATE"),
                    _col("gender", "TEXT", "F or M"),
                    _col("city", "TEXT", "city of residence"),
                    _col("insurance", "TEXT", "insurer name; NULL if uninsured"),
                ),
                ("patient_id",),
                patients,
            ),
            TableSpec(
                "appointments",
                (
                    _col("appointment_id", "INTEGER"),
                    _col("patient_id", "INTEGER", ref="patients.patient_id"),
                    _col("doctor_id", "INTEGER", ref="doctors.doctor_id"),
                    _col("appointment_date", "DATE"),
                    _col("reason", "TEXT", "reason for the visit as told at booking"),
                    _col("fee", "REAL", "amount billed in dollars"),
                    _col("status", "TEXT", "completed, scheduled or cancelled"),
                ),
                ("appointment_id",),
                tuple(appointments),
            ),
            TableSpec(
                "prescriptions",
                (
                    _col("prescription_id", "INTEGER"),
                    _col("appointment_id", "INTEGER", ref="appointments.appointment_id"),
                    _col("medication", "TEXT"),
                    _col("dosage_mg", "INTEGER", "dose per intake in milligrams"),
                    _col("days", "INTEGER", "length of the treatment in days"),
                ),
                ("prescription_id",),
                tuple(prescriptions),
            ),
        ),
    )


def databases(seed: int = SEED) -> tuple[DatabaseSpec, ...]:
    """All demo databases; one generator per database, each seeded from ``seed``."""
    builders = (school_library, city_transit, clinic)
    return tuple(b(random.Random(seed + i)) for i, b in enumerate(builders))


# ---- question / SQL pairs ---------------------------------------------------------------------

_T, _D = "train", "dev"
_SL, _CT, _CL = "school_library", "city_transit", "clinic"

PAIRS: tuple[Pair, ...] = (
    # school_library — train
    Pair(_T, _SL, "List the titles of all books.", "SELECT title FROM books"),
    Pair(_T, _SL, "What are the names and countries of all authors?", "SELECT name, country FROM authors"),
    Pair(
        _T,
        _SL,
        "Which books belong to the 'Science Fiction' genre?",
        "SELECT title FROM books WHERE genre = 'Science Fiction'",
    ),
    Pair(
        _T, _SL, "How many books were published after 2010?", "SELECT COUNT(*) FROM books WHERE published_year > 2010"
    ),
    Pair(
        _T,
        _SL,
        "What is the average number of pages of poetry books?",
        "SELECT AVG(pages) FROM books WHERE genre = 'Poetry'",
    ),
    Pair(_T, _SL, "For each genre, how many books are there?", "SELECT genre, COUNT(*) FROM books GROUP BY genre"),
    Pair(_T, _SL, "Show the titles of the three longest books.", "SELECT title FROM books ORDER BY pages DESC LIMIT 3"),
    Pair(
        _T,
        _SL,
        "List each book title with the name of its author.",
        "SELECT T1.title, T2.name FROM books AS T1 JOIN authors AS T2 ON T1.author_id = T2.author_id",
    ),
    Pair(
        _T,
        _SL,
        "Which students borrowed a book written by an author from Nigeria? Give first and last names.",
        "SELECT DISTINCT T1.first_name, T1.last_name FROM students AS T1 JOIN loans AS T2 ON T1.student_id = T2.student_id "
        "JOIN books AS T3 ON T2.book_id = T3.book_id JOIN authors AS T4 ON T3.author_id = T4.author_id "
        "WHERE T4.country = 'Nigeria'",
    ),
    Pair(
        _T,
        _SL,
        "Which books have never been borrowed?",
        "SELECT title FROM books WHERE book_id NOT IN (SELECT book_id FROM loans)",
    ),
    Pair(
        _T,
        _SL,
        "Which authors have written more than two books?",
        "SELECT T2.name FROM books AS T1 JOIN authors AS T2 ON T1.author_id = T2.author_id "
        "GROUP BY T1.author_id HAVING COUNT(*) > 2",
    ),
    Pair(
        _T,
        _SL,
        "Which loans have not been returned yet? Give the loan ids and loan dates.",
        "SELECT loan_id, loan_date FROM loans WHERE return_date IS NULL",
    ),
    Pair(
        _T, _SL, "Find the titles of books that start with 'The'.", "SELECT title FROM books WHERE title LIKE 'The %'"
    ),
    Pair(
        _T,
        _SL,
        "Which loans were made between 2024-03-01 and 2024-05-31?",
        "SELECT loan_id FROM loans WHERE loan_date BETWEEN '2024-03-01' AND '2024-05-31'",
    ),
    # school_library — dev
    Pair(_D, _SL, "How many students are in grade 10?", "SELECT COUNT(*) FROM students WHERE grade = 10"),
    Pair(
        _D,
        _SL,
        "What is the title of the most recently published book?",
        "SELECT title FROM books ORDER BY published_year DESC LIMIT 1",
    ),
    Pair(
        _D,
        _SL,
        "List the titles of books borrowed by students in grade 12.",
        "SELECT DISTINCT T3.title FROM students AS T1 JOIN loans AS T2 ON T1.student_id = T2.student_id "
        "JOIN books AS T3 ON T2.book_id = T3.book_id WHERE T1.grade = 12",
    ),
    Pair(
        _D,
        _SL,
        "Which genres have both books published before 2000 and books published after 2015?",
        "SELECT genre FROM books WHERE published_year < 2000 INTERSECT "
        "SELECT genre FROM books WHERE published_year > 2015",
    ),
    Pair(
        _D,
        _SL,
        "Which students have no e-mail address? Give their first names.",
        "SELECT first_name FROM students WHERE email IS NULL",
    ),
    Pair(
        _D,
        _SL,
        "What is the maximum number of pages for each genre?",
        "SELECT genre, MAX(pages) FROM books GROUP BY genre",
    ),
    Pair(
        _D,
        _SL,
        "Which countries have authors of books that were borrowed at least once?",
        "SELECT DISTINCT country FROM authors WHERE author_id IN "
        "(SELECT T1.author_id FROM books AS T1 JOIN loans AS T2 ON T1.book_id = T2.book_id)",
    ),
    # city_transit — train
    Pair(_T, _CT, "List the names of all lines.", "SELECT line_name FROM lines"),
    Pair(
        _T,
        _CT,
        "Which stations are in the 'Old Town' district?",
        "SELECT station_name FROM stations WHERE district = 'Old Town'",
    ),
    Pair(_T, _CT, "How many stations have an elevator?", "SELECT COUNT(*) FROM stations WHERE has_elevator = 1"),
    Pair(
        _T,
        _CT,
        "What is the average length in kilometres of metro lines?",
        "SELECT AVG(length_km) FROM lines WHERE mode = 'Metro'",
    ),
    Pair(_T, _CT, "How many lines are there of each mode?", "SELECT mode, COUNT(*) FROM lines GROUP BY mode"),
    Pair(
        _T, _CT, "Which lines opened before 2005-01-01?", "SELECT line_name FROM lines WHERE opened_date < '2005-01-01'"
    ),
    Pair(
        _T,
        _CT,
        "List the stations served by the Red Line in stop order.",
        "SELECT T3.station_name FROM lines AS T1 JOIN line_stops AS T2 ON T1.line_id = T2.line_id "
        "JOIN stations AS T3 ON T2.station_id = T3.station_id WHERE T1.line_name = 'Red Line' ORDER BY T2.stop_order",
    ),
    Pair(
        _T,
        _CT,
        "Which stations are served by more than two lines?",
        "SELECT T2.station_name FROM line_stops AS T1 JOIN stations AS T2 ON T1.station_id = T2.station_id "
        "GROUP BY T1.station_id HAVING COUNT(*) > 2",
    ),
    Pair(
        _T,
        _CT,
        "What is the total number of passengers carried by vehicles of each line? Give the line name.",
        "SELECT T3.line_name, SUM(T1.passengers) FROM trips AS T1 JOIN vehicles AS T2 ON T1.vehicle_id = T2.vehicle_id "
        "JOIN lines AS T3 ON T2.line_id = T3.line_id GROUP BY T3.line_id",
    ),
    Pair(
        _T,
        _CT,
        "Which stations are not on any line?",
        "SELECT station_name FROM stations WHERE station_id NOT IN (SELECT station_id FROM line_stops)",
    ),
    Pair(
        _T,
        _CT,
        "Which districts have stations in zone 1 or stations in zone 3?",
        "SELECT district FROM stations WHERE zone = 1 UNION SELECT district FROM stations WHERE zone = 3",
    ),
    Pair(
        _T,
        _CT,
        "Show the five trips with the most passengers.",
        "SELECT trip_id, passengers FROM trips ORDER BY passengers DESC LIMIT 5",
    ),
    Pair(
        _T,
        _CT,
        "Which stations have names containing 'Park'?",
        "SELECT station_name FROM stations WHERE station_name LIKE '%Park%'",
    ),
    # city_transit — dev
    Pair(_D, _CT, "What is the largest vehicle capacity?", "SELECT MAX(capacity) FROM vehicles"),
    Pair(
        _D,
        _CT,
        "List the models of vehicles assigned to the Airport Link.",
        "SELECT T1.model FROM vehicles AS T1 JOIN lines AS T2 ON T1.line_id = T2.line_id "
        "WHERE T2.line_name = 'Airport Link'",
    ),
    Pair(
        _D,
        _CT,
        "Which trips had a delay between 5 and 10 minutes?",
        "SELECT trip_id FROM trips WHERE delay_minutes BETWEEN 5 AND 10",
    ),
    Pair(
        _D,
        _CT,
        "Which districts have stations without an elevator but no station in zone 3?",
        "SELECT district FROM stations WHERE has_elevator = 0 EXCEPT SELECT district FROM stations WHERE zone = 3",
    ),
    Pair(
        _D, _CT, "How many trips were made on 2024-03-05?", "SELECT COUNT(*) FROM trips WHERE trip_date = '2024-03-05'"
    ),
    Pair(
        _D,
        _CT,
        "Which modes have an average trip delay above 5 minutes?",
        "SELECT T3.mode FROM trips AS T1 JOIN vehicles AS T2 ON T1.vehicle_id = T2.vehicle_id "
        "JOIN lines AS T3 ON T2.line_id = T3.line_id GROUP BY T3.mode HAVING AVG(T1.delay_minutes) > 5",
    ),
    Pair(
        _D,
        _CT,
        "Which lines stop at Central Station?",
        "SELECT line_name FROM lines WHERE line_id IN (SELECT T1.line_id FROM line_stops AS T1 "
        "JOIN stations AS T2 ON T1.station_id = T2.station_id WHERE T2.station_name = 'Central Station')",
    ),
    # clinic — train
    Pair(_T, _CL, "List the names of all departments.", "SELECT name FROM departments"),
    Pair(_T, _CL, "Which patients live in 'Lake View'?", "SELECT full_name FROM patients WHERE city = 'Lake View'"),
    Pair(_T, _CL, "How many doctors earn more than 150000?", "SELECT COUNT(*) FROM doctors WHERE salary > 150000"),
    Pair(
        _T,
        _CL,
        "What is the average fee of completed appointments?",
        "SELECT AVG(fee) FROM appointments WHERE status = 'completed'",
    ),
    Pair(
        _T,
        _CL,
        "How many doctors work in each department? Give department names.",
        "SELECT T2.name, COUNT(*) FROM doctors AS T1 JOIN departments AS T2 ON T1.department_id = T2.department_id "
        "GROUP BY T1.department_id",
    ),
    Pair(
        _T,
        _CL,
        "Which doctors were hired after 2015-01-01?",
        "SELECT full_name FROM doctors WHERE hire_date > '2015-01-01'",
    ),
    Pair(
        _T,
        _CL,
        "Which doctors had more than four appointments?",
        "SELECT T2.full_name FROM appointments AS T1 JOIN doctors AS T2 ON T1.doctor_id = T2.doctor_id "
        "GROUP BY T1.doctor_id HAVING COUNT(*) > 4",
    ),
    Pair(
        _T,
        _CL,
        "List the medications prescribed in appointments with cardiology doctors.",
        "SELECT DISTINCT T1.medication FROM prescriptions AS T1 JOIN appointments AS T2 "
        "ON T1.appointment_id = T2.appointment_id JOIN doctors AS T3 ON T2.doctor_id = T3.doctor_id "
        "JOIN departments AS T4 ON T3.department_id = T4.department_id WHERE T4.name = 'Cardiology'",
    ),
    Pair(_T, _CL, "Which patients have no insurance?", "SELECT full_name FROM patients WHERE insurance IS NULL"),
    Pair(
        _T,
        _CL,
        "Which patients have never had an appointment?",
        "SELECT full_name FROM patients WHERE patient_id NOT IN (SELECT patient_id FROM appointments)",
    ),
    Pair(
        _T,
        _CL,
        "Who are the three highest paid doctors?",
        "SELECT full_name, salary FROM doctors ORDER BY salary DESC LIMIT 3",
    ),
    Pair(
        _T,
        _CL,
        "Which patients were born between 1960-01-01 and 1980-12-31?",
        "SELECT full_name, birth_date FROM patients WHERE birth_date BETWEEN '1960-01-01' AND '1980-12-31'",
    ),
    Pair(
        _T,
        _CL,
        "Which cities have female patients and also male patients?",
        "SELECT city FROM patients WHERE gender = 'F' INTERSECT SELECT city FROM patients WHERE gender = 'M'",
    ),
    Pair(
        _T,
        _CL,
        "Which appointments were for some kind of pain? Give the dates and reasons.",
        "SELECT appointment_date, reason FROM appointments WHERE reason LIKE '%pain%'",
    ),
    # clinic — dev
    Pair(_D, _CL, "What is the highest fee charged for an appointment?", "SELECT MAX(fee) FROM appointments"),
    Pair(
        _D,
        _CL,
        "List the names of patients who saw Dr. Linda Chow.",
        "SELECT DISTINCT T1.full_name FROM patients AS T1 JOIN appointments AS T2 ON T1.patient_id = T2.patient_id "
        "JOIN doctors AS T3 ON T2.doctor_id = T3.doctor_id WHERE T3.full_name = 'Dr. Linda Chow'",
    ),
    Pair(
        _D,
        _CL,
        "What is the average salary of doctors in each department?",
        "SELECT T2.name, AVG(T1.salary) FROM doctors AS T1 JOIN departments AS T2 ON T1.department_id = T2.department_id "
        "GROUP BY T2.name",
    ),
    Pair(
        _D,
        _CL,
        "Which doctors work in departments on the second floor?",
        "SELECT full_name FROM doctors WHERE department_id IN (SELECT department_id FROM departments WHERE floor = 2)",
    ),
    Pair(
        _D,
        _CL,
        "How many appointments are still scheduled?",
        "SELECT COUNT(*) FROM appointments WHERE status = 'scheduled'",
    ),
    Pair(
        _D,
        _CL,
        "Which medications were prescribed for longer than 20 days?",
        "SELECT DISTINCT medication FROM prescriptions WHERE days > 20",
    ),
    Pair(
        _D,
        _CL,
        "Which departments have doctors that had appointments in March 2024?",
        "SELECT DISTINCT T3.name FROM appointments AS T1 JOIN doctors AS T2 ON T1.doctor_id = T2.doctor_id "
        "JOIN departments AS T3 ON T2.department_id = T3.department_id "
        "WHERE T1.appointment_date BETWEEN '2024-03-01' AND '2024-03-31'",
    ),
)


# ---- writers ----------------------------------------------------------------------------------


def create_sql(table: TableSpec) -> str:
    """``CREATE TABLE`` with a real ``FOREIGN KEY ... REFERENCES`` clause for every reference."""
    lines = []
    for c in table.columns:
        lines.append(f"    {c.name} {c.sql_type}{' NOT NULL' if c.not_null else ''}")
    lines.append(f"    PRIMARY KEY ({', '.join(table.primary_key)})")
    for c in table.columns:
        if c.references:
            ref_table, ref_col = c.references
            lines.append(f"    FOREIGN KEY ({c.name}) REFERENCES {ref_table} ({ref_col})")
    return f"CREATE TABLE {table.name} (\n" + ",\n".join(lines) + "\n)"


def write_sqlite(spec: DatabaseSpec, path: Path) -> None:
    """Create the database in a temporary file next to ``path``, check FKs, then move it in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".sqlite", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        con = connect_writable(tmp)
        try:
            con.execute("PRAGMA foreign_keys = ON")
            for table in spec.tables:
                con.execute(create_sql(table))
                marks = ", ".join("?" * len(table.columns))
                con.executemany(f"INSERT INTO {table.name} VALUES ({marks})", table.rows)
            con.commit()
            bad = con.execute("PRAGMA foreign_key_check").fetchall()
            if bad:
                raise DemoBuildError(f"{spec.db_id}: foreign key violations {bad[:3]}")
            con.execute("VACUUM")
        finally:
            con.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def tables_json_entry(spec: DatabaseSpec) -> dict:
    """Spider ``tables.json`` entry (column indices count the ``*`` pseudo-column as 0)."""
    names_orig: list[list] = [[-1, "*"]]
    names_nat: list[list] = [[-1, "*"]]
    types = ["text"]
    descriptions = [""]
    index: dict[tuple[str, str], int] = {}
    for ti, table in enumerate(spec.tables):
        for c in table.columns:
            index[(table.name, c.name)] = len(names_orig)
            names_orig.append([ti, c.name])
            names_nat.append([ti, natural_name(c.name)])
            types.append(sqlite_type_to_column_type(c.sql_type))
            descriptions.append(c.comment)
    primary_keys: list = []
    foreign_keys: list[list[int]] = []
    for table in spec.tables:
        pk = [index[(table.name, c)] for c in table.primary_key]
        primary_keys.append(pk[0] if len(pk) == 1 else pk)
        for c in table.columns:
            if c.references:
                foreign_keys.append([index[(table.name, c.name)], index[c.references]])
    return {
        "column_descriptions": descriptions,
        "column_names": names_nat,
        "column_names_original": names_orig,
        "column_types": types,
        "db_id": spec.db_id,
        "foreign_keys": foreign_keys,
        "primary_keys": primary_keys,
        "table_names": [natural_name(t.name) for t in spec.tables],
        "table_names_original": [t.name for t in spec.tables],
    }


def check_pairs(pairs: Sequence[Pair], db_paths: dict[str, Path]) -> None:
    """Run every gold query read-only; each must succeed and return at least one row."""
    for i, pair in enumerate(pairs, start=1):
        con = connect_readonly(db_paths[pair.db_id])
        try:
            rows = con.execute(pair.query).fetchall()
        except sqlite3.Error as e:
            raise DemoBuildError(f"pair {i} ({pair.db_id}): {e}: {pair.query}") from None
        finally:
            con.close()
        if not rows or all(v is None for row in rows for v in row):
            raise DemoBuildError(f"pair {i} ({pair.db_id}) returns no rows: {pair.query}")


def _json(obj) -> str:
    return json.dumps(obj, indent=4) + "\n"


def build(out_dir: str | Path = DEFAULT_OUT, seed: int = SEED) -> dict[str, int]:
    """Write the whole corpus under ``out_dir``; returns counts (databases, train, dev pairs)."""
    out = Path(out_dir)
    specs = databases(seed)
    db_paths = {}
    for spec in specs:
        db_paths[spec.db_id] = out / "database" / spec.db_id / f"{spec.db_id}.sqlite"
        write_sqlite(spec, db_paths[spec.db_id])
    check_pairs(PAIRS, db_paths)
    write_atomic(out / "tables.json", _json([tables_json_entry(s) for s in specs]))
    split = {
        name: [{"db_id": p.db_id, "query": p.query, "question": p.question} for p in PAIRS if p.split == name]
        for name in (_T, _D)
    }
    write_atomic(out / "train.json", _json(split[_T]))
    write_atomic(out / "dev.json", _json(split[_D]))
    write_atomic(out / "dev_gold.sql", "".join(f"{e['query']}\t{e['db_id']}\n" for e in split[_D]))
    return {"databases": len(specs), "train": len(split[_T]), "dev": len(split[_D])}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synth.demo.build_demo", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", nargs="?", default=str(DEFAULT_OUT), help="where to write (default: this package)")
    args = parser.parse_args(argv)
    counts = build(args.out_dir)
    print(
        f"wrote {counts['databases']} databases, {counts['train']} train and {counts['dev']} dev pairs to {args.out_dir}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
