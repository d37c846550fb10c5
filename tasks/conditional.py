"""Conditional requests: one task's strong ETag, If-Match as a write's precondition, If-None-Match and 304; and
the list's ETag, which a 304 answers without reading a task."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.http import parse_etags
from rest_framework import status
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response

from common.errors import PreconditionFailed

from .models import Task, TaskChangeCounter, TaskQuerySet

# RFC 9110's If-Match: "*", or a comma-separated list of quoted entity tags (printable ASCII), strong or weak
# ("W/"). The same regular expression in Python and in the schema's ECMAScript.
IF_MATCH_PATTERN = r'^[ \t]*(\*|(W/)?"[!#-~]*"([ \t]*,[ \t]*(W/)?"[!#-~]*")*)[ \t]*$'
INVALID_IF_MATCH = (
    'If-Match must be an ETag as this API sent it, e.g. "17-3" with its quotes, a comma-separated list of them, or *.'
)


_OUR_ETAG = re.compile(r'"(?P<id>[1-9][0-9]{0,18})-(?P<version>[1-9][0-9]{0,18})"')


def etag_for(task: Task) -> str:
    """A strong validator, equal exactly when the id and version are: nothing is built or hashed to compare."""
    return f'"{task.pk}-{task.version}"'


@dataclass(frozen=True)
class IfMatch:
    """A write's precondition: the task still has one of these ETags (any, for ``*``)."""

    etags: frozenset[str]

    @classmethod
    def parse(cls, header: str) -> IfMatch:
        # Django's parse_etags drops what it cannot read, which would make a typo a 412 "the task has
        # changed": a header that is not a list of ETags is the client's mistake to fix, not a stale read.
        if not re.fullmatch(IF_MATCH_PATTERN, header):
            raise ValidationError({"If-Match": [ErrorDetail(INVALID_IF_MATCH, code="invalid_if_match")]})
        # RFC 9110 compares If-Match strongly: a weak tag ("W/…") stays as sent and so never matches.
        return cls(frozenset(parse_etags(header)))

    @classmethod
    def version(cls, task: Task, version: int) -> IfMatch:
        """The task as it was at ``version``, e.g. when a form was rendered."""
        return cls(frozenset({f'"{task.pk}-{version}"'}))

    def check(self, task: Task) -> None:
        if "*" not in self.etags and etag_for(task) not in self.etags:
            raise PreconditionFailed()

    def filter(self, tasks: TaskQuerySet) -> TaskQuerySet:
        """``tasks`` narrowed to those whose ETag, as stored now, is one of these: the precondition as a WHERE,
        so that a write's own statement checks it."""
        if "*" in self.etags:
            return tasks
        current = Q()
        for etag in self.etags:
            if match := _OUR_ETAG.fullmatch(etag):
                current |= Q(pk=int(match["id"]), version=int(match["version"]))
        return tasks.filter(current) if current else tasks.none()


def list_etag(user_id: str, query_string: str) -> str:
    """A strong validator of a list answer: the user's change counter, bumped by every write of their tasks, and
    the query that shaped the list. One primary-key read, and no task read."""
    counter = TaskChangeCounter.objects.filter(pk=user_id).values_list("last_seq", flat=True).first() or 0
    # A hash rather than the query itself, which may be 2 KB long; with the user, so that two users' lists
    # never share an ETag even when their counters are equal.
    query = hashlib.blake2b(f"{user_id}?{query_string}".encode(), digest_size=6).hexdigest()
    return f'"L{counter}-{query}"'


def if_none_match_hits(header: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match, weak comparison: true when the client already holds this representation."""
    if header is None:
        return False
    tags = parse_etags(header)
    return tags == ["*"] or etag in (tag.removeprefix("W/") for tag in tags)


class ConditionalRequestMixin:
    """For a task viewset: an ETag on every answer that is one task, a 304 when the client holds the current
    one, and If-Match checked on the task as found, then again in the service's own UPDATE."""

    request: Request
    filter_queryset: Callable[[QuerySet[Task]], QuerySet[Task]]
    paginator: BasePagination
    get_queryset: Callable[[], QuerySet[Task]]

    @property
    def if_match(self) -> IfMatch | None:
        header = self.request.headers.get("If-Match")
        return None if header is None else IfMatch.parse(header)

    def checked(self, task: Task) -> Task:
        """``task``, as the viewset's get_object() found it for this request, once it meets the request's If-Match."""
        # Checked early, so that a stale write is a 412 before its body is even validated (RFC 9110 evaluates
        # preconditions before the method); the service checks again in its UPDATE's WHERE, where it counts. A read
        # ignores If-Match, malformed or not.
        if self.request.method in SAFE_METHODS:
            return task
        if_match = self.if_match
        if if_match is not None:
            if_match.check(task)
        return task

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Filtered, and the page's bounds read, first: a parameter that makes no sense is a 400 before anything
        # is read, whether the client holds the list or not.
        tasks = self.filter_queryset(self.get_queryset())
        self.paginator.get_limit(request), self.paginator.get_offset(request)
        # The counter is read before the tasks: a write committed in between makes this ETag older than the
        # page, which costs the client one full answer more, never a 304 for a list it does not hold.
        etag = list_etag(request.user.id, request.META.get("QUERY_STRING", ""))
        if if_none_match_hits(request.headers.get("If-None-Match"), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        response = self.list_page(tasks)
        response["ETag"] = etag
        return response

    def list_page(self, tasks: QuerySet[Task]) -> Response:
        """The list's answer: a page of ``tasks``, filtered already."""
        raise NotImplementedError

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        task = self.get_object()
        etag = etag_for(task)
        if if_none_match_hits(request.headers.get("If-None-Match"), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(self.get_serializer(task).data, headers={"ETag": etag})

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        etag = etag_of(response)
        if etag is not None and "ETag" not in response:
            response["ETag"] = etag
        return super().finalize_response(request, response, *args, **kwargs)


def etag_of(response: Response) -> str | None:
    """The ETag of the task a successful answer is, if it is one task."""
    # A serializer's data remembers its serializer (DRF's ReturnDict), and so the task it represents:
    # that is what a create, an update or an action answered with. A list page's data does not, and a replayed
    # answer (common/idempotency.py), a plain HttpResponse with its ETag already, has no data.
    task = getattr(getattr(getattr(response, "data", None), "serializer", None), "instance", None)
    if isinstance(task, Task) and status.is_success(response.status_code):
        return etag_for(task)
    return None
