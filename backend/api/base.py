"""The Blueprint every resource uses: contract pagination (page_size default 50, max 500)."""
from __future__ import annotations

import flask_smorest
from webargs.flaskparser import FlaskParser

MAX_PAGE = 1_000_000  # x 500 rows: far past any list, and an OFFSET the database can count


class _PaginationParser(FlaskParser):
    """flask-smorest's page number has no upper bound; a page of 10^30 would reach the database as an
    OFFSET it cannot represent. Past MAX_PAGE the answer is 422 naming `page`."""

    def parse(self, *args, **kwargs):
        params = super().parse(*args, **kwargs)
        if params.page > MAX_PAGE:
            flask_smorest.abort(422, errors={"query": {"page": [f"Must be at most {MAX_PAGE}."]}})
        return params


class Blueprint(flask_smorest.Blueprint):
    DEFAULT_PAGINATION_PARAMETERS = {"page": 1, "page_size": 50, "max_page_size": 500}
    PAGINATION_ARGUMENTS_PARSER = _PaginationParser()

    def _make_pagination_metadata(self, page, page_size, item_count):
        """`X-Pagination` always carries `total`, `total_pages`, `page` and `page_size`, also for an
        empty list or a page past the end (CONTRACT.md "Conventions")."""
        metadata = super()._make_pagination_metadata(page, page_size, item_count)
        metadata["page"] = page
        metadata["page_size"] = page_size
        return metadata


def paginate_select(session, stmt, pagination_parameters):
    """Run a paginated SELECT and record the total for the X-Pagination header."""
    import sqlalchemy as sa

    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    pagination_parameters.item_count = total
    page, size = pagination_parameters.page, pagination_parameters.page_size
    return list(session.scalars(stmt.limit(size).offset((page - 1) * size)))
