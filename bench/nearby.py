"""Benchmark of `nearby` at scale (not part of pass/fail).

Loads N events (default 1,000,000) spread over Brazil into a private PostgreSQL started for the run, then measures
with a 10 km radius:
  - the SQL query the service runs (p50/p95 over many random centres), with the GiST index on
    ll_to_earth(latitude, longitude);
  - the HTTP request GET /api/events/nearby/ through the app (Flask test client, in process);
  - the same SQL query with the index dropped (inside a transaction that is rolled back).

    .venv/bin/python bench/nearby.py [--events 1000000] [--queries 300] [--unindexed-queries 10]

Needs the PostgreSQL 15 server binaries (`make tools`). Prints the figures; writes nothing in the repository.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from flask_migrate import upgrade

from bench.common import LOAD_STATEMENT_TIMEOUT_MS, row, write_rows
from mutiroes import create_app
from mutiroes.config import Config
from mutiroes.events import discovery
from mutiroes.models import db
from tests.services import Postgres

# (latitude, longitude, weight): where Brazilians live, so where most mutirões happen
CITIES = [
    (-23.55, -46.63, 12),  # São Paulo
    (-22.91, -43.17, 7),  # Rio de Janeiro
    (-19.92, -43.94, 3),  # Belo Horizonte
    (-15.79, -47.88, 3),  # Brasília
    (-12.97, -38.50, 3),  # Salvador
    (-3.73, -38.53, 3),  # Fortaleza
    (-8.05, -34.88, 3),  # Recife
    (-30.03, -51.23, 3),  # Porto Alegre
    (-25.43, -49.27, 3),  # Curitiba
    (-3.12, -60.02, 2),  # Manaus
    (-1.46, -48.50, 2),  # Belém
    (-16.68, -49.25, 2),  # Goiânia
    (-27.60, -48.55, 1),  # Florianópolis
    (-2.53, -44.30, 1),  # São Luís
    (-9.67, -35.74, 1),  # Maceió
    (-5.79, -35.21, 1),  # Natal
]
BRAZIL_BOX = (-33.7, 5.2, -73.9, -34.8)  # min lat, max lat, min lng, max lng


def load_events(engine: sa.Engine, total: int) -> None:
    """60% around cities (normal, σ≈0.3° ≈ 33 km), 40% uniform over Brazil's bounding box; 90% published, 85% in
    the future. One INSERT ... SELECT per city keeps the load fast; the GiST index is rebuilt afterwards."""
    weights = sum(w for *_c, w in CITIES)
    clustered = int(total * 0.6)
    with engine.begin() as connection:
        organizer_id = connection.execute(
            sa.text(
                "INSERT INTO users (username, email, password_hash, first_name, last_name, is_staff, is_active,"
                " date_joined, phone, bio, city, state, zip_code, interests, notification_preferences,"
                " is_public_profile, show_participation_history, total_events_participated,"
                " total_hours_volunteered, created_at, updated_at) VALUES ('bench', 'bench@example.org', 'x', 'Bench',"
                " '', false, true, now(), '', '', '', '', '', '[]', '{}', true, true, 0, 0, now(), now()) RETURNING id"
            )
        ).scalar_one()
        connection.execute(sa.text("DROP INDEX ix_events_earth"))
        # what the ORM writes when the schema has them (models.Event.refresh_searchable_text): the title folded,
        # then the empty description, address and city, joined by U+001F; the empty city
        searched = ("", "")
        if "searchable_text" in {column["name"] for column in sa.inspect(connection).get_columns("events")}:
            searched = (", searchable_text, searchable_city", ", 'mutirao ' || g || repeat(chr(31), 3), ''")
        insert = (
            "INSERT INTO events (title, description, category_id, organizer_id, address, city, state, latitude,"
            " longitude, start_date, end_date, registration_deadline, max_participants, confirmed_count, status,"
            " is_public, requires_approval, waitlist_enabled, require_check_in_code, check_in_code, required_tools,"
            f" provided_tools, what_to_bring, created_at, updated_at{searched[0]})"
            " SELECT 'Mutirão ' || g, '', 1 + (g % 4), :organizer, '', '', 'SP', {lat}, {lng},"
            " s, s + interval '3 hours', s, 30, 0,"
            " CASE WHEN random() < 0.9 THEN 'published' ELSE 'draft' END, true, false, true, false, 'ABC123',"
            f" '', '', '', now(), now(){searched[1]}"
            " FROM (SELECT g, now() + (random() * 120 - 18) * interval '1 day' AS s"
            " FROM generate_series(1, :n) AS g) AS series"
        )
        # Box-Muller normal offsets around a centre, clamped to valid coordinates
        normal = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
        for lat, lng, weight in CITIES:
            n = clustered * weight // weights
            connection.execute(
                sa.text(
                    insert.format(
                        lat=f"greatest(-90, least(90, {lat} + 0.3 * {normal}))",
                        lng=f"greatest(-180, least(180, {lng} + 0.3 * {normal}))",
                    )
                ),
                {"organizer": organizer_id, "n": n},
            )
        loaded = connection.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
        min_lat, max_lat, min_lng, max_lng = BRAZIL_BOX
        connection.execute(
            sa.text(
                insert.format(
                    lat=f"{min_lat} + random() * {max_lat - min_lat}",
                    lng=f"{min_lng} + random() * {max_lng - min_lng}",
                )
            ),
            {"organizer": organizer_id, "n": total - loaded},
        )
        connection.execute(
            sa.text("CREATE INDEX ix_events_earth ON events USING gist (ll_to_earth(latitude, longitude))")
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE events"))


def centres(count: int, rng: random.Random) -> list[tuple[float, float]]:
    """Query points like the users': mostly in cities, some anywhere in Brazil."""
    points = []
    weights = [w for *_c, w in CITIES]
    min_lat, max_lat, min_lng, max_lng = BRAZIL_BOX
    for _ in range(count):
        if rng.random() < 0.7:
            lat, lng, _w = rng.choices(CITIES, weights)[0]
            points.append((lat + rng.gauss(0, 0.2), lng + rng.gauss(0, 0.2)))
        else:
            points.append((rng.uniform(min_lat, max_lat), rng.uniform(min_lng, max_lng)))
    return points


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def time_sql(connection, points, radius: float) -> tuple[list[float], list[int]]:
    durations, sizes = [], []
    for lat, lng in points:
        statement = discovery.nearby_statement(latitude=lat, longitude=lng, radius=radius, limit=50)
        started = time.perf_counter()
        rows = connection.execute(statement).all()
        durations.append((time.perf_counter() - started) * 1000)
        sizes.append(len(rows))
    return durations, sizes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--unindexed-queries", type=int, default=10)
    parser.add_argument("--radius", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", help="also write the table rows to this file")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    print(f"starting a private PostgreSQL and loading {args.events:,} events over Brazil...", flush=True)
    postgres = Postgres.create()
    try:
        config = Config.from_env(
            {
                "MUTIROES_DATABASE_URL": postgres.url(),
                "MUTIROES_SECRET_KEY": secrets.token_urlsafe(48),
                "MUTIROES_LOG_LEVEL": "WARNING",
                # building an index over a million rows takes minutes: the loader's statements must not be cut off
                "MUTIROES_DB_STATEMENT_TIMEOUT_MS": str(LOAD_STATEMENT_TIMEOUT_MS),
            },
            instance_path=str(postgres.root / "instance"),
        )
        app = create_app(config)
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            load_events(db.engine, args.events)
            print(f"loaded and indexed in {time.perf_counter() - started:.1f} s", flush=True)

        points = centres(args.queries, rng)
        with app.app_context(), db.engine.connect() as connection:
            time_sql(connection, points[:20], args.radius)  # warm the cache
            sql_ms, sizes = time_sql(connection, points, args.radius)
            lat, lng = points[0]
            statement = discovery.nearby_statement(latitude=lat, longitude=lng, radius=args.radius, limit=50)
            compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
            plan = [line for (line,) in connection.exec_driver_sql(f"EXPLAIN ANALYZE {compiled}")]

        # outside any app context, so each request opens and ends its own session, as in production
        client = app.test_client()
        http_ms = []
        for lat, lng in points:
            url = f"/api/events/nearby/?latitude={lat:.5f}&longitude={lng:.5f}&radius={args.radius}"
            started = time.perf_counter()
            response = client.get(url)
            http_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.get_json()

        with app.app_context(), db.engine.connect() as connection:
            transaction = connection.begin()
            connection.execute(sa.text("DROP INDEX ix_events_earth"))
            unindexed_points = points[: args.unindexed_queries]
            time_sql(connection, unindexed_points[:1], args.radius)  # warm
            unindexed_ms, _ = time_sql(connection, unindexed_points, args.radius)
            transaction.rollback()
    finally:
        postgres.destroy()

    sql_p50, sql_p95 = percentiles(sql_ms)
    http_p50, http_p95 = percentiles(http_ms)
    raw_p50, raw_p95 = percentiles(unindexed_ms)
    print()
    print(f"events: {args.events:,}   radius: {args.radius} km   queries: {len(sql_ms)} (limit 50)")
    print(f"results per query: median {statistics.median(sizes):.0f}, max {max(sizes)}")
    print(f"SQL  with GiST index : p50 {sql_p50:7.2f} ms   p95 {sql_p95:7.2f} ms")
    print(f"HTTP GET nearby      : p50 {http_p50:7.2f} ms   p95 {http_p95:7.2f} ms   (Flask test client)")
    print(f"SQL  without index   : p50 {raw_p50:7.2f} ms   p95 {raw_p95:7.2f} ms   ({len(unindexed_ms)} queries)")
    print(f"speed-up at p50      : {raw_p50 / sql_p50:,.0f}x")
    print("\nplan of one indexed query:")
    print("\n".join(f"  {line}" for line in plan))
    write_rows(
        args.json,
        [
            row("nearby", "SQL with GiST index p50", sql_p50, "ms"),
            row("nearby", "HTTP GET nearby p50 (x the SQL)", http_p50, "ms", floor=sql_p50),
            row("nearby", "HTTP GET nearby p95", http_p95, "ms"),
            row("nearby", "SQL without index p50", raw_p50, "ms", floor=sql_p50),
        ],
    )


if __name__ == "__main__":
    main()
