"""The desk's browser journeys run against a server on either database backend (`tests.helpers.pg_fixtures`)."""

from tests.helpers.pg_fixtures import backend, database_location, pg_cluster  # noqa: F401
