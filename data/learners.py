"""One learner's identity for the learner page (SPEC §5 "Learner"), checked against the scope.

The figures (counters, trends, activity, trainings) come from data.figures with the page's
Population(user_id=..., learners_only=False, include_self=True); this module holds what is
not a figure: name, email, dates, classes, labels, custom fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from data.figures.days import to_local
from data.models import (
    Class,
    ClassMember,
    ClassTraining,
    Connection,
    Login,
    TrainingLearner,
    User,
    UserField,
    UserLabel,
)
from data.scope import Forbidden, Scope
from data.text import fold


@dataclass(frozen=True)
class LearnerProfile:
    user_id: str
    first_name: str
    last_name: str
    email: str
    status: str  # active | blocked
    additional_info: str
    joined: datetime | None  # account creation, platform time zone
    last_access: datetime | None  # latest login or connection start, platform time zone
    classes: tuple[str, ...]  # class names the viewer may know of, in name order
    labels: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]  # (custom field, value), by field name

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


def visible_classes(session: Session, scope: Scope, user_id: str) -> list[tuple[str, str]]:
    """(class id, name) of the learner's classes the viewer may know of, in name order.

    Global viewers and the learner themself: every class. A manager: the classes they manage,
    and the classes registered to a training in which the viewer sees this learner (as the
    training page's results table shows them).
    """
    # Aliases: Scope.pair_filter's exists() names ClassMember and ClassTraining, and would
    # auto-correlate to these queries' rows if they used the same tables (a class manager would
    # then see only the classes they manage).
    member = aliased(ClassMember, name="learner_member")
    registered = aliased(ClassTraining, name="registered_class")
    enrolled = aliased(TrainingLearner, name="seen_enrollment")
    q = select(Class.id, Class.name).join(member, member.class_id == Class.id)
    q = q.where(member.user_id == user_id)
    if not (scope.is_global or user_id == scope.user_id):
        visible_training = (
            select(registered.class_id)
            .join(enrolled, enrolled.training_id == registered.training_id)
            .where(
                enrolled.user_id == user_id,
                scope.pair_filter(enrolled.user_id, enrolled.training_id),
            )
        )
        q = q.where(or_(Class.id.in_(sorted(scope.classes)), Class.id.in_(visible_training)))
    rows = session.execute(q).all()
    return sorted(((r.id, r.name) for r in rows), key=lambda r: (fold(r[1]), r[0]))


def learner_profile(session: Session, scope: Scope, user_id: str, tz: ZoneInfo) -> LearnerProfile:
    """The learner's identity; Forbidden outside the viewer's scope, LookupError if unknown."""
    if not scope.can_view_learner(session, user_id):
        raise Forbidden()
    user = session.get(User, user_id)
    if user is None:
        raise LookupError(f"no user has the id {user_id!r}")
    last_login = session.scalar(select(func.max(Login.logged_in_at)).where(Login.user_id == user_id))
    last_connection = session.scalar(
        select(func.max(Connection.connected_at)).where(Connection.user_id == user_id)
    )
    seen = [v for v in (last_login, last_connection) if v is not None]
    labels = session.scalars(select(UserLabel.label).where(UserLabel.user_id == user_id)).all()
    fields = session.execute(
        select(UserField.field, UserField.value).where(UserField.user_id == user_id)
    ).all()
    return LearnerProfile(
        user_id=user.id,
        first_name=user.first_name or "",
        last_name=user.last_name or "",
        email=user.email,
        status=user.status,
        additional_info=user.additional_info or "",
        joined=to_local(user.created_at, tz),
        last_access=to_local(max(seen), tz) if seen else None,
        classes=tuple(name for _id, name in visible_classes(session, scope, user_id)),
        labels=tuple(sorted(labels, key=lambda label: (fold(label), label))),
        fields=tuple(sorted(((f, v or "") for f, v in fields), key=lambda fv: (fold(fv[0]), fv[0]))),
    )


__all__ = ["LearnerProfile", "learner_profile", "visible_classes"]
