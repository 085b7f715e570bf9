"""The HTTP routes: one blueprint module per domain, each route parses, calls one service function, answers."""

from mutiroes.web.routes import calendar, certificates, content, events, health, impact, moderation, organizing, users

BLUEPRINTS = (
    health.blp,
    users.token_blp,
    users.blp,
    events.blp,
    organizing.blp,
    content.blp,
    moderation.blp,
    impact.report_blp,
    impact.user_blp,
    impact.impact_blp,
    calendar.blp,
    certificates.blp,
)
