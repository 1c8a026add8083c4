"""Issue 10 point 5: a bundle's files that are symbolic links, FIFOs or outside the folder are
refused without being read (no error message may echo another file's content), and errors are
capped: the first 200 in file order and a count of all."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from data import models as m
from data.importer import MAX_ERRORS, BundleInvalid, import_bundle

SECRET = "root:SECRET-HASH-1234:19000:0:99999:7:::"
USERS = "user_id,email,first_name,last_name\r\nu1,u1@example.org,Ann,Lee\r\n"
TRAININGS = "training_id,name\r\nt1,Safety\r\n"


def import_folder(db, folder):
    with db.session() as s:
        return import_bundle(s, folder, db.tz)


def user_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(m.User))


@pytest.fixture
def bundle(tmp_path):
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "trainings.csv").write_text(TRAININGS)
    return folder


def test_imh001_symbolic_link_to_a_file_elsewhere_is_refused_unread(db, bundle, tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text(SECRET + "\n")
    (bundle / "users.csv").symlink_to(secret)
    with pytest.raises(BundleInvalid) as info:
        import_folder(db, bundle)
    messages = [str(e) for e in info.value.errors]
    assert messages == [
        "users.csv:0: -: is a symbolic link; refused without reading it (bundle files must be "
        "regular files inside the bundle folder)"
    ]
    assert "SECRET" not in str(info.value)
    assert user_count(db) == 0


def test_imh002_symbolic_link_inside_the_folder_is_refused_too(db, bundle):
    (bundle / "real-users.txt").write_text(USERS)
    (bundle / "users.csv").symlink_to(bundle / "real-users.txt")
    with pytest.raises(BundleInvalid) as info:
        import_folder(db, bundle)
    assert info.value.errors[0].message.startswith("is a symbolic link")


def test_imh003_a_dangling_link_or_a_fifo_is_refused_without_hanging(db, bundle):
    (bundle / "users.csv").symlink_to(bundle / "nowhere.csv")
    os.mkfifo(bundle / "classes.csv")  # opening it for reading would wait for a writer forever
    with pytest.raises(BundleInvalid) as info:
        import_folder(db, bundle)
    messages = sorted(str(e) for e in info.value.errors)
    assert messages == [
        "classes.csv:0: -: is not a regular file; refused without reading it",
        "users.csv:0: -: is a symbolic link; refused without reading it (bundle files must be "
        "regular files inside the bundle folder)",
    ]


def test_imh004_a_linked_bundle_folder_is_fine(db, bundle, tmp_path):
    """The folder itself may be reached through a link: its files are still inside it."""
    (bundle / "users.csv").write_text(USERS)
    link = tmp_path / "link-to-bundle"
    link.symlink_to(bundle, target_is_directory=True)
    import_folder(db, link)
    assert user_count(db) == 1


def test_imh005_errors_are_capped_with_a_count(db, bundle, server, tmp_path):
    rows = "".join(f"u{n},not-an-email-{n},Ann,Lee,,,yesterday\r\n" for n in range(5000))
    (bundle / "users.csv").write_text(
        "user_id,email,first_name,last_name,additional_info,labels,created_at\r\n" + rows
    )
    with pytest.raises(BundleInvalid) as info:
        import_folder(db, bundle)
    invalid = info.value
    assert invalid.total == 10_000  # two errors per row: the email and the date
    assert len(invalid.errors) == MAX_ERRORS == 200
    # The first 200 in file order: rows 2 to 101, email then created_at on each.
    assert [e.line for e in invalid.errors] == [line for line in range(2, 102) for _ in range(2)]
    assert [e.column for e in invalid.errors[:2]] == ["email", "created_at"]
    assert str(invalid).splitlines()[-1] == "… and 9,800 more error(s) not listed (the first 200 are shown)"
    assert user_count(db) == 0
    # The command prints the 200, the count of the others, and the total.
    result = server.test_cli_runner().invoke(args=["import-bundle", str(bundle)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 202
    assert lines[0] == str(invalid.errors[0])
    assert lines[-2:] == [
        "… and 9,800 more error(s) not listed (the first 200 are shown)",
        "Import refused: 10,000 error(s); nothing was written.",
    ]


def test_imh006_fewer_errors_are_all_listed(db, bundle):
    (bundle / "users.csv").write_text("user_id,email\r\nu1,bad\r\nu2,worse\r\n")
    with pytest.raises(BundleInvalid) as info:
        import_folder(db, bundle)
    assert info.value.total == len(info.value.errors) == 2
    assert "more error(s)" not in str(info.value)
