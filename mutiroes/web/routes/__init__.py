"""The HTTP routes: one blueprint module per domain, each route parses, calls one service function, answers."""

from mutiroes.web.routes import content, events, health, impact, users

BLUEPRINTS = (
    health.blp,
    users.token_blp,
    users.blp,
    events.blp,
    content.blp,
    impact.report_blp,
    impact.user_blp,
    impact.impact_blp,
)
