"""The version of Mutirões, in one place: setup.cfg, the OpenAPI document, /health/ and Consul read it from here."""

__version__ = "0.2.0"
