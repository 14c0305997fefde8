"""A missing trailing slash answers 307, as Open-Assistant's server (Starlette) does.

Django's ``CommonMiddleware`` answers 301, which clients follow with a GET: a ``POST
/api/v1/tasks`` then ends as a confusing 405, and the website's ``POST /api/v1/text_labels``
(OA's client omits the slash) would lose its body. A 307 keeps the method and the body.
"""

from __future__ import annotations

from django.http.response import HttpResponseRedirectBase
from django.middleware.common import CommonMiddleware
from django.utils.http import escape_leading_slashes


class HttpResponseTemporaryRedirectKeepingMethod(HttpResponseRedirectBase):
    status_code = 307


class SlashRedirectMiddleware(CommonMiddleware):
    """``CommonMiddleware`` with 307 redirects, for every method (also under DEBUG, where
    Django refuses to redirect a POST because a 301 would drop its body)."""

    response_redirect_class = HttpResponseTemporaryRedirectKeepingMethod

    def get_full_path_with_slash(self, request) -> str:
        return escape_leading_slashes(request.get_full_path(force_append_slash=True))
