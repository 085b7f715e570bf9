"""The event list at scale, uncached: the default page, every filter, the orderings, search and deep pages.

    .venv/bin/python bench/list_scale.py [--events 1000000] [--repeat 15] [--budget 20] [--explain] [--json FILE]

Loads N events (default 1,000,000) into a private PostgreSQL started for the run — the spread of bench/nearby.py
(60 % around Brazil's big cities, 40 % anywhere; 90 % published), with titles, descriptions, addresses and cities
in Portuguese for search and the city filter to find, 1,000 organizers, creation dates over a year — then times
GET /api/events/?... through the whole app (Flask test client, in process), with the response cache emptied before
every timed request: each figure is a cache miss, the price every write used to make readers pay.

The floor is GET /api/events/categories/ (the same app, one small query, never cached), sent before each timed
request of a scenario: each p50 is also given as a multiple of the floor's p50 over the same minutes. --explain
prints the plan of every SQL statement of one request per scenario.
Targets: list page 1 and every filter p50 <= 20 ms, search p50 <= 50 ms, page 50 <= 50 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from flask_migrate import upgrade

from bench.common import LOAD_STATEMENT_TIMEOUT_MS, p50, percentile, row, write_rows
from bench.nearby import BRAZIL_BOX, CITIES
from mutiroes import create_app
from mutiroes.config import Config
from mutiroes.models import db
from tests.services import Postgres

CITY_NAMES = [
    ("São Paulo", "SP"),
    ("Rio de Janeiro", "RJ"),
    ("Belo Horizonte", "MG"),
    ("Brasília", "DF"),
    ("Salvador", "BA"),
    ("Fortaleza", "CE"),
    ("Recife", "PE"),
    ("Porto Alegre", "RS"),
    ("Curitiba", "PR"),
    ("Manaus", "AM"),
    ("Belém", "PA"),
    ("Goiânia", "GO"),
    ("Florianópolis", "SC"),
    ("São Luís", "MA"),
    ("Maceió", "AL"),
    ("Natal", "RN"),
]
# the 40 % spread over the whole country: towns, one of them rare
TOWNS = [
    ("Cuiabá", "MT"),
    ("Palmas", "TO"),
    ("Porto Velho", "RO"),
    ("Rio Branco", "AC"),
    ("Macapá", "AP"),
    ("Boa Vista", "RR"),
    ("Teresina", "PI"),
    ("João Pessoa", "PB"),
    ("Aracaju", "SE"),
    ("Campo Grande", "MS"),
    ("Vitória", "ES"),
    ("Juazeiro do Norte", "CE"),
    ("Petrolina", "PE"),
    ("Santarém", "PA"),
    ("Marabá", "PA"),
    ("Chapecó", "SC"),
    ("Uberlândia", "MG"),
    ("Ribeirão Preto", "SP"),
    ("Londrina", "PR"),
    ("Caxias do Sul", "RS"),
]
RARE_TOWN = ("Maricá", "RJ")  # one event in 10,000 of the spread
TITLES = [
    "Limpeza da praia",
    "Plantio de mudas nativas",
    "Mutirão de limpeza do rio",
    "Oficina de compostagem",
    "Monitoramento da qualidade da água",
    "Limpeza do parque municipal",
    "Educação ambiental na escola",
    "Coleta de recicláveis no bairro",
]
DESCRIPTIONS = [
    "Vamos recolher plástico, vidro e bitucas; luvas e sacos fornecidos. Traga água e protetor solar.",
    "Plantio de espécies da Mata Atlântica com a associação de moradores; ferramentas para todos.",
    "Retirada de resíduos das margens e registro do que foi encontrado para o relatório de impacto.",
    "Aprenda a montar uma composteira doméstica e leve para casa um minhocário.",
    "Coleta de amostras, medição de pH e oxigênio dissolvido, com orientação de biólogos.",
]
STREETS = ["Rua das Flores", "Avenida Beira-Mar", "Rua da Praia", "Rua Sete de Setembro", "Praça da Matriz"]


def _sql_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def load_events(engine: sa.Engine, total: int, organizers: int = 1000) -> None:
    """The events in a few INSERT ... SELECT statements, the events' secondary indexes dropped meanwhile and
    rebuilt afterwards exactly as the migrations defined them, then VACUUM ANALYZE."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO users (username, email, password_hash, first_name, last_name, is_staff, is_active,"
                " date_joined, phone, bio, city, state, zip_code, interests, notification_preferences,"
                " is_public_profile, show_participation_history, total_events_participated,"
                " total_hours_volunteered, created_at, updated_at)"
                " SELECT 'org' || g, 'org' || g || '@example.org', 'x', 'Organizadora', g::text, false, true, now(),"
                " '', '', '', '', '', '[]', '{}', true, true, 0, 0, now(), now() FROM generate_series(1, :n) AS g"
            ),
            {"n": organizers},
        )
        first_organizer = connection.execute(sa.text("SELECT min(id) FROM users")).scalar_one()
        indexes = connection.execute(
            sa.text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events' AND indexname NOT IN"
                " (SELECT conname FROM pg_constraint WHERE conrelid = 'events'::regclass)"
            )
        ).all()
        for name, _definition in indexes:
            connection.execute(sa.text(f'DROP INDEX "{name}"'))
        columns = (
            "title, description, category_id, organizer_id, address, city, state, latitude, longitude, start_date,"
            " end_date, registration_deadline, max_participants, confirmed_count, status, is_public,"
            " requires_approval, waitlist_enabled, require_check_in_code, check_in_code, required_tools,"
            " provided_tools, what_to_bring, created_at, updated_at"
        )
        searched = ""
        if "searchable_text" in {column["name"] for column in sa.inspect(connection).get_columns("events")}:
            # what the ORM writes (models.Event.refresh_searchable_text); PostgreSQL's unaccent folds this data's
            # Portuguese accents as the app's NFKD folding does
            fields = " || chr(31) || ".join(
                f"mutiroes_search_text({f})" for f in ("title", "description", "address", "city")
            )
            searched = f", {fields}, mutiroes_search_text(city)"
        insert = (
            f"INSERT INTO events ({columns}{', searchable_text, searchable_city' if searched else ''})"
            f" SELECT {columns}{searched} FROM ("
            f" SELECT ({_sql_array(TITLES)})[1 + g % {len(TITLES)}] || ' ' || {{city}} AS title,"
            f" ({_sql_array(DESCRIPTIONS)})[1 + (g / 7) % {len(DESCRIPTIONS)}] AS description,"
            " 1 + (g * 7) % 4 AS category_id, :first_organizer + g % :organizers AS organizer_id,"
            f" ({_sql_array(STREETS)})[1 + (g / 3) % {len(STREETS)}] || ', ' || (g % 2000) AS address,"
            " {city} AS city, {state} AS state, {lat} AS latitude, {lng} AS longitude,"
            " s AS start_date, s + interval '3 hours' AS end_date, s AS registration_deadline,"
            " 30 AS max_participants, (random() * 30)::int AS confirmed_count,"
            " CASE WHEN random() < 0.9 THEN 'published' ELSE 'draft' END AS status, random() < 0.95 AS is_public,"
            " false AS requires_approval, true AS waitlist_enabled, false AS require_check_in_code,"
            " 'ABC123' AS check_in_code, '' AS required_tools, '' AS provided_tools, '' AS what_to_bring,"
            " c AS created_at, c AS updated_at"
            " FROM (SELECT g, now() + (random() * 120 - 18) * interval '1 day' AS s,"
            " now() - random() * interval '365 days' AS c"
            " FROM generate_series(:offset + 1, :offset + :n) AS g) AS series) AS generated"
        )
        weights = sum(w for *_c, w in CITIES)
        clustered = int(total * 0.6)
        normal = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
        offset = 0
        for (lat, lng, weight), (city, state) in zip(CITIES, CITY_NAMES, strict=True):
            n = clustered * weight // weights
            connection.execute(
                sa.text(
                    insert.format(
                        city=f"'{city}'",
                        state=f"'{state}'",
                        lat=f"greatest(-90, least(90, {lat} + 0.3 * {normal}))",
                        lng=f"greatest(-180, least(180, {lng} + 0.3 * {normal}))",
                    )
                ),
                {"first_organizer": first_organizer, "organizers": organizers, "n": n, "offset": offset},
            )
            offset += n
        pick = f"1 + (g * 13) % {len(TOWNS)}"
        towns = f"({_sql_array([town for town, _state in TOWNS])})[{pick}]"
        states = f"({_sql_array([state for _town, state in TOWNS])})[{pick}]"
        min_lat, max_lat, min_lng, max_lng = BRAZIL_BOX
        connection.execute(
            sa.text(
                insert.format(
                    city=f"(CASE WHEN g % 10000 = 0 THEN '{RARE_TOWN[0]}' ELSE {towns} END)",
                    state=f"(CASE WHEN g % 10000 = 0 THEN '{RARE_TOWN[1]}' ELSE {states} END)",
                    lat=f"{min_lat} + random() * {max_lat - min_lat}",
                    lng=f"{min_lng} + random() * {max_lng - min_lng}",
                )
            ),
            {"first_organizer": first_organizer, "organizers": organizers, "n": total - offset, "offset": offset},
        )
        for _name, definition in indexes:
            connection.execute(sa.text(definition))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))


def scenarios(organizer_id: int) -> list[tuple[str, str, float | None]]:
    """(label, query string, target p50 in ms)."""
    week = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    fortnight = (dt.date.today() + dt.timedelta(days=14)).isoformat()
    return [
        ("list page 1", "", 20),
        ("page 50", "page=50", 50),
        ("page 500", "page=500", None),
        ("ordering=start_date", "ordering=start_date", 20),
        ("ordering=-start_date", "ordering=-start_date", 20),
        ("ordering=created_at", "ordering=created_at", 20),
        ("ordering=-participants_count", "ordering=-participants_count", 20),
        ("ordering=participants_count", "ordering=participants_count", 20),
        ("category=2", "category=2", 20),
        ("category=2&ordering=start_date", "category=2&ordering=start_date", 20),
        ("city=Recife", "city=Recife", 20),
        ("city=sao paulo", "city=sao%20paulo", 20),
        ("city=Marica (rare)", "city=Marica", 20),
        ("state=PE", "state=PE", 20),
        ("is_public=false", "is_public=false", 20),
        ("start_date..end_date (1 week)", f"start_date={week}&end_date={fortnight}", 20),
        ("latitude/longitude radius 10", "latitude=-8.05&longitude=-34.88&radius=10", 20),
        ("organizer", f"organizer={organizer_id}", 20),
        ("search=praia", "search=praia", 50),
        ("search=compostagem", "search=compostagem", 50),
        ("search=rio", "search=rio", 50),
        ("search=itaipuacu (none)", "search=itaipuacu", 50),
        ("search=praia&city=Recife", "search=praia&city=Recife", 50),
        ("search=praia page 50", "search=praia&page=50", 50),
    ]


def drop_cache(app) -> None:
    """Empty this process's response cache (the app runs without Redis, so the cache lives in app.extensions)."""
    app.extensions.pop("mutiroes_cache", None)


def timed_get(app, client, url: str) -> tuple[float, object]:
    drop_cache(app)
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code, response.get_data()[:300])
    return elapsed, response


def explain(app, client, url: str) -> list[str]:
    """EXPLAIN ANALYZE of every statement one request of ``url`` runs."""
    statements = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany):
        statements.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        drop_cache(app)
        client.get(url)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    lines = []
    with engine.connect() as connection:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            lines.append("  " + " ".join(statement.split())[:400])
            plan = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).all()
            lines += [f"      {line}" for (line,) in plan]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per scenario (at most)")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per scenario, after at least 3 requests")
    parser.add_argument("--explain", action="store_true", help="print the plans of one request per scenario")
    parser.add_argument("--only", help="run only the scenarios whose label contains one of these (comma-separated)")
    parser.add_argument("--json", help="also write the table rows to this file")
    args = parser.parse_args(argv)

    print(f"starting a private PostgreSQL and loading {args.events:,} events...", flush=True)
    postgres = Postgres.create()
    rows = []
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
            organizer_id = db.session.scalar(sa.text("SELECT min(id) + 17 FROM users"))
            db.session.remove()

        client = app.test_client()
        floor_url = "/api/events/categories/"
        for _ in range(3):
            timed_get(app, client, floor_url)
        print(
            f"\n{'scenario':<34} {'p50 ms':>9} {'p95 ms':>9} {'floor':>7} {'x floor':>8} {'n':>3}  {'count':>9}  target"
        )
        for label, query, target in scenarios(organizer_id):
            if args.only and not any(part in label for part in args.only.split(",")):
                continue
            url = "/api/events/" + (f"?{query}" if query else "")
            _warm, response = timed_get(app, client, url)
            samples, floor_samples, spent = [], [], 0.0
            while len(samples) < args.repeat and (len(samples) < 3 or spent < args.budget * 1000):
                floor_samples.append(timed_get(app, client, floor_url)[0])
                elapsed, response = timed_get(app, client, url)
                samples.append(elapsed)
                spent += elapsed
            floor = p50(floor_samples)
            median, p95 = p50(samples), percentile(samples, 95)
            count = response.get_json()["count"]
            verdict = "" if target is None else ("ok" if median <= target else "MISSED") + f" (<= {target} ms)"
            figures = f"{median:>9.2f} {p95:>9.2f} {floor:>7.2f} {median / floor:>8.1f} {len(samples):>3}"
            print(f"{label:<34} {figures}  {count:>9}  {verdict}", flush=True)
            rows.append(
                row("list_scale", f"{label} p50", median, "ms", floor=floor, target=f"<= {target} ms" if target else "")
            )
            rows.append(row("list_scale", f"{label} p95", p95, "ms"))
            if args.explain:
                print("\n".join(explain(app, client, url)), flush=True)
    finally:
        postgres.destroy()
    write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
