"""One error base (issue 20): every exception whose message a user or an operator reads derives
from data.errors.LearnstatsError, and the commands refuse with CommandFailed (a
click.ClickException printing its message as it is) instead of print + sys.exit."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from auth.callback_checks import BadCallback
from auth.hosts import UntrustedHost
from auth.users import AccountError
from dashboards.access import PageWithoutAccess
from data.config import SettingsError
from data.copy import CopyError
from data.demo import DemoDataError
from data.errors import CommandFailed, LearnstatsError
from data.importer import BundleInvalid
from data.lrs import LrsError, LrsSettingsError, SyncBusy
from data.reports import ScheduleError
from data.scope import Forbidden
from data.session_records import TutorContactError
from data.xapi.ingest import XapiInvalid
from data.xapi.reading import XapiFileError
from exports.attestation_options import AttestationError
from exports.bpf import BpfError
from exports.edof import EdofError
from exports.opco_logs import OpcoLogsError, UnknownField, UnknownSession
from exports.opco_request import BadOpcoRequest
from exports.report_kinds import NothingToSend, ReportKindError
from exports.results import UnknownTraining
from exports.stored import LinkError, LinkExpired, LinkForOtherUser, LinkInvalid
from jobs.mail import MailNotConfigured
from jobs.slots import JobRefused

ROOT = Path(__file__).resolve().parents[3]

PEOPLES_ERRORS = (
    AccountError,
    AttestationError,
    BadCallback,
    BadOpcoRequest,
    BpfError,
    BundleInvalid,
    CopyError,
    DemoDataError,
    EdofError,
    Forbidden,
    JobRefused,
    LinkError,
    LinkExpired,
    LinkForOtherUser,
    LinkInvalid,
    LrsError,
    LrsSettingsError,
    MailNotConfigured,
    NothingToSend,
    OpcoLogsError,
    PageWithoutAccess,
    ReportKindError,
    ScheduleError,
    SettingsError,
    SyncBusy,
    TutorContactError,
    UnknownField,
    UnknownSession,
    UnknownTraining,
    UntrustedHost,
    XapiFileError,
    XapiInvalid,
)


@pytest.mark.parametrize("error", PEOPLES_ERRORS, ids=lambda e: e.__name__)
def test_err001_every_error_for_people_derives_from_the_one_base(error):
    assert issubclass(error, LearnstatsError)


def test_err002_the_classes_that_were_value_or_lookup_errors_still_are():
    for error in (
        SettingsError,
        AttestationError,
        OpcoLogsError,
        MailNotConfigured,
        AccountError,
        UntrustedHost,
    ):
        assert issubclass(error, ValueError)
    assert issubclass(UnknownTraining, LookupError)
    assert issubclass(PageWithoutAccess, RuntimeError)


def test_err003_every_exception_class_of_the_app_is_listed_or_private():
    """A new exception class for people must derive from the base: this test lists them all."""
    declared = set()
    for path in ROOT.glob("[adej]*/**/*.py"):
        if path.parts[len(ROOT.parts)] not in ("auth", "data", "exports", "jobs", "dashboards"):
            continue
        for name, bases in re.findall(r"^class (\w+)\(([^)]*)\):", path.read_text(), flags=re.M):
            if re.search(
                r"Error|Exception|Invalid|Forbidden|Expired|Bad|Unknown|Untrusted|NotConfigured", bases
            ):
                declared.add(name)
    private = {name for name in declared if name.startswith("_")}
    declared -= {"LearnstatsError", "ListedErrors", "CommandFailed"}  # data/errors.py itself
    assert declared - private == {e.__name__ for e in PEOPLES_ERRORS}


def test_err004_a_refused_command_prints_its_message_as_it_is_and_exits_non_zero():
    @click.command()
    @click.option("--code", default=1)
    def refuse(code):
        raise CommandFailed(
            "import-bundle: a.csv:2: id: empty\nImport refused: 1 error(s); nothing was written.", code
        )

    result = CliRunner().invoke(refuse, [])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "import-bundle: a.csv:2: id: empty",
        "Import refused: 1 error(s); nothing was written.",
    ]
    assert result.stdout == ""
    assert CliRunner().invoke(refuse, ["--code", "2"]).exit_code == 2


def test_err005_no_command_prints_and_exits_by_hand():
    for name in ("data/cli.py", "exports/cli.py", "auth/cli.py", "app.py"):
        source = (ROOT / name).read_text()
        assert "sys.exit(" not in source, name
