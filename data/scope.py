"""What a signed-in user may see (SPEC §6), as an object every data/ function requires.

auth.roles.load_scope builds a Scope from the roles table; data/ functions turn it into SQL
conditions with the methods below, so there is no unscoped path from a page to the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, exists, false, or_, select, true, tuple_
from sqlalchemy.orm import Session, aliased

from data.errors import LearnstatsError
from data.models import ClassMember, ClassTraining, ProgramSession, TrainingLearner


class Forbidden(LearnstatsError):
    """The viewer's scope does not include what was asked for (answered with a 403)."""


@dataclass(frozen=True)
class Scope:
    """The signed-in user's rights.

    is_global: admin, global_user_manager or statistics_manager: everything.
    is_admin, is_statistics_manager: those two roles (pages for them only: Data sources, BPF).
    trainings: trainings the user manages (training_manager).
    classes: classes the user manages (class_manager), with class_trainings giving the
        trainings each of those classes is registered to.
    sessions: program sessions the user teaches (session_instructor).
    Every user may also see their own learner page and module summaries.
    """

    user_id: str
    is_global: bool = False
    is_admin: bool = False
    # statistics_manager (a global role): with admins, the only ones who see the BPF (SPEC §10).
    is_statistics_manager: bool = False
    trainings: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    sessions: frozenset[str] = frozenset()
    class_trainings: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, hash=False)

    # -- what pages the user may open ------------------------------------------------------

    @property
    def is_manager(self) -> bool:
        """May open the global page (filtered to what they manage unless global)."""
        return self.is_global or bool(self.trainings) or bool(self.classes)

    @property
    def is_learner_only(self) -> bool:
        return not (self.is_manager or self.sessions)

    def managed_training_ids(self) -> frozenset[str] | None:
        """Trainings whose figures the user sees on the global page; None means all."""
        if self.is_global:
            return None
        ids = set(self.trainings)
        for class_id in self.classes:
            ids |= self.class_trainings.get(class_id, frozenset())
        return frozenset(ids)

    def can_view_training_page(self, training_id: str) -> bool:
        return self.is_global or training_id in self.trainings

    def can_view_class(self, class_id: str) -> bool:
        return self.is_global or class_id in self.classes

    def can_view_session(self, session: Session, session_id: str) -> bool:
        if self.is_global or session_id in self.sessions:
            return True
        if not self.trainings:
            return False
        training_id = session.scalar(
            select(ProgramSession.training_id).where(ProgramSession.id == session_id)
        )
        return training_id in self.trainings

    def can_view_learner(self, session: Session, user_id: str) -> bool:
        """Own page, or a learner of a managed training, or a member of a managed class."""
        if self.is_global or user_id == self.user_id:
            return True
        if not self.is_manager:
            return False
        return bool(
            session.scalar(
                select(
                    exists().where(
                        TrainingLearner.user_id == user_id,
                        self.pair_filter(TrainingLearner.user_id, TrainingLearner.training_id),
                    )
                )
            )
            or (
                self.classes
                and session.scalar(
                    select(
                        exists().where(ClassMember.user_id == user_id, ClassMember.class_id.in_(self.classes))
                    )
                )
            )
        )

    def require(self, allowed: bool) -> None:
        if not allowed:
            raise Forbidden()

    # -- SQL conditions ----------------------------------------------------------------------

    def pair_filter(self, user_col, training_col, include_self: bool = False) -> ColumnElement[bool]:
        """Condition on (learner, training) pairs the user may see figures of.

        training_manager of T: every learner of T. class_manager of C: C's members in the
        trainings C is registered to. include_self adds the user's own trainings (learner page).
        """
        if self.is_global:
            return true()
        clauses = []
        if self.trainings:
            clauses.append(training_col.in_(sorted(self.trainings)))
        if self.classes:
            # A row-value IN over the managed classes' (member, training) pairs: the database
            # starts from the classes instead of testing every pair of the platform.
            clauses.append(tuple_(user_col, training_col).in_(class_pairs(self.classes)))
        if include_self:
            clauses.append(user_col == self.user_id)
        return or_(*clauses) if clauses else false()

    def training_filter(self, training_col) -> ColumnElement[bool]:
        """Condition on trainings whose figures the user sees (global page's trainings)."""
        ids = self.managed_training_ids()
        if ids is None:
            return true()
        return training_col.in_(sorted(ids)) if ids else false()

    def session_filter(self, session_col, session_training_col) -> ColumnElement[bool]:
        """Condition on program sessions the user may open and export."""
        if self.is_global:
            return true()
        clauses = []
        if self.sessions:
            clauses.append(session_col.in_(sorted(self.sessions)))
        if self.trainings:
            clauses.append(session_training_col.in_(sorted(self.trainings)))
        return or_(*clauses) if clauses else false()


def class_pairs(class_ids) -> Select:
    """(user_id, training_id) of the classes' members in the trainings each class is registered to."""
    member, registration = aliased(ClassMember), aliased(ClassTraining)
    return (
        select(member.user_id, registration.training_id)
        .join(registration, registration.class_id == member.class_id)
        .where(member.class_id.in_(sorted(class_ids)))
    )


def learner_scope(user_id: str) -> Scope:
    """The scope of a user with no manager role (tests, background jobs)."""
    return Scope(user_id=user_id)


def global_scope(user_id: str = "") -> Scope:
    """Everything: the command line and statistics managers."""
    return Scope(user_id=user_id, is_global=True)


__all__ = ["Forbidden", "Scope", "global_scope", "learner_scope"]
