"""Impact over HTTP: post-event reports, badges, history, ranking and impact numbers. Parse, call, answer."""

from __future__ import annotations

from flask.views import MethodView

from mutiroes.impact import schemas, service
from mutiroes.schemas import PaginationArgsSchema
from mutiroes.web.auth import allowed, auth_required, caller, current_user, optional_auth
from mutiroes.web.pagination import envelope
from mutiroes.web.parsing import Blueprint

report_blp = Blueprint(
    "reports", __name__, url_prefix="/api/events", description="Relatórios pós-evento (impacto de cada mutirão)."
)
user_blp = Blueprint(
    "user_impact", __name__, url_prefix="/api/users", description="Medalhas, histórico e ranking de voluntários."
)
impact_blp = Blueprint("impact", __name__, url_prefix="/api/impact", description="Números de impacto da plataforma.")


@report_blp.route("/<id:event_id>/report/")
class Report(MethodView):
    @optional_auth
    @report_blp.response(200, schemas.ReportSchema)
    def get(self, event_id):
        """The event's report: anyone who may see the event; 404 until the organizer files it."""
        return service.get_report(event_id=event_id, caller=caller())

    @auth_required
    @allowed(service.authorize_report)
    @report_blp.arguments(schemas.ReportWriteSchema)
    @report_blp.response(201, schemas.ReportSchema)
    @report_blp.alt_response(409, description="Já existe relatório, ou o evento ainda não começou.")
    def post(self, data, event_id):
        """File the report (organizer only, once, after the event started). Numbers ≥ 0. Verified hours, counters
        and badges are computed in the background."""
        return service.create_report(event_id=event_id, caller=current_user, data=data)

    @auth_required
    @allowed(service.authorize_report)
    @report_blp.arguments(schemas.ReportWriteSchema)
    @report_blp.response(200, schemas.ReportSchema)
    def put(self, data, event_id):
        """Replace the report (organizer only); hours, counters and badges are computed again. The report may be
        sent back as it was answered: its read-only fields (`id`, `event_title`, `created_at`...) are ignored."""
        return service.update_report(event_id=event_id, caller=current_user, changes=data)

    @auth_required
    @allowed(service.authorize_report)
    @report_blp.arguments(schemas.ReportUpdateSchema)
    @report_blp.response(200, schemas.ReportSchema)
    def patch(self, changes, event_id):
        """Change some fields of the report (organizer only)."""
        return service.update_report(event_id=event_id, caller=current_user, changes=changes)


@user_blp.route("/badges/", methods=["GET"])
@user_blp.response(200, schemas.BadgeSchema(many=True))
def badges():
    """The badge catalogue (array). Badges are awarded by the system from verified attendance; none can be
    claimed."""
    return service.get_all_badges()


@user_blp.route("/badges/earned/", methods=["GET"])
@auth_required
@user_blp.response(200, schemas.EarnedBadgeSchema(many=True))
def earned_badges():
    """The caller's badges (array), oldest first."""
    return service.earned_badges(user_id=current_user.id)


@user_blp.route("/history/", methods=["GET"])
@auth_required
@user_blp.arguments(PaginationArgsSchema, location="query")
@user_blp.response(200, schemas.HistoryPageSchema)
def history(args):
    """Every participation of the caller, the latest events first, with its verified hours."""
    return envelope(service.history_page(user=current_user, **args), **args)


@user_blp.route("/leaderboard/", methods=["GET"])
@user_blp.arguments(schemas.LeaderboardArgsSchema, location="query")
@user_blp.response(200, schemas.LeaderboardEntrySchema(many=True))
def leaderboard(args):
    """Public profiles ranked by verified volunteer hours (array; ties share a rank; people with no hours are not
    listed)."""
    return service.leaderboard(**args)


@user_blp.route("/rank/", methods=["GET"])
@auth_required
@user_blp.arguments(schemas.RankingArgsSchema, location="query")
@user_blp.response(200, schemas.RankSchema)
def rank(args):
    """The caller's place: 1 + the public profiles with more verified hours under the same filters."""
    return service.rank(user=current_user, **args)


@impact_blp.route("/summary/", methods=["GET"])
@impact_blp.response(200, schemas.ImpactSummarySchema)
def summary():
    """Totals over completed events."""
    return service.summary()


@impact_blp.route("/monthly/", methods=["GET"])
@impact_blp.arguments(schemas.MonthlyArgsSchema, location="query")
@impact_blp.response(200, schemas.MonthlyReportSchema)
def monthly(args):
    """The stored impact report of a month (events count in the month they start, server time zone). Without
    `year`/`month`: the previous month. 404 until the monthly job has produced it."""
    return service.get_monthly(year=args.get("year"), month=args.get("month"))
