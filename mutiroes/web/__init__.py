"""The HTTP edge: the Api and its one error handler, auth, pagination envelopes, request ids, the response cache,
routing helpers, media serving and the routes of every domain. Nothing below this package knows about HTTP.
"""
