"""Events: what comes in and what goes out."""

from __future__ import annotations

import marshmallow as ma


class CategorySchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    description = ma.fields.String()
    icon = ma.fields.String()
    color = ma.fields.String()
