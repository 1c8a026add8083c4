"""Images given to the attestations (the dialog's uploads, export-attestations --logo/--stamp),
issue 23 point 3: the size is read from the header and a huge image refused before it is
decoded; every Pillow error is a sentence; accepted images are stored at most 600 px a side."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from data.models import StoredImage
from exports.attestation_options import IMAGE_MAX_SIDE, AttestationError, check_image, store_image

ROOT = Path(__file__).resolve().parents[3]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def black_rgb_png(width: int, height: int, rows: int | None = None) -> bytes:
    """A real RGB PNG of width x height black pixels, compressed row by row (a 13000 x 13000
    one is about 0.5 MB, like the audit's 657 KB file); rows: write only that many rows (a
    truncated image whose header still says the full size)."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + 3 * width)
    data = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows))
    data += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def test_img001_a_13000_px_png_is_refused_from_its_header_with_little_memory(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(black_rgb_png(13_000, 13_000))
    assert path.stat().st_size < 2 * 1024 * 1024  # under the 2 MB upload limit: only pixels refuse it
    # The peak from /proc (VmHWM, in kB): ru_maxrss would carry the forking worker's own peak.
    probe = (
        "import re\n"
        "from exports.attestation_options import AttestationError, check_image\n"
        "def peak():\n"
        "    return int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "before = peak()\n"
        "try:\n"
        f"    check_image(open({str(path)!r}, 'rb').read(), 'stamp')\n"
        "except AttestationError as error:\n"
        "    print(error)\n"
        "print(before // 1024, peak() // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    sentence, peaks = done.stdout.strip().splitlines()
    assert sentence == "stamp: 13000 × 13000 pixels is not a usable image size", done.stderr
    before, after = (int(x) for x in peaks.split())
    assert after < 400, (before, after)  # MiB; decoding it took 600 MiB more
    assert after - before < 20


def test_img002_a_decompression_bomb_and_broken_files_are_sentences_not_500s():
    with pytest.raises(AttestationError, match=r"^logo: 30000 × 30000 pixels is not a usable image size$"):
        check_image(black_rgb_png(30_000, 30_000, rows=1), "logo")  # Pillow's bomb check at open
    with pytest.raises(AttestationError) as caught:
        check_image(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "logo")
    assert "corrupt or truncated" in str(caught.value) and "<_io" not in str(caught.value)
    assert "object at 0x" not in str(caught.value)
    with pytest.raises(AttestationError, match="corrupt or truncated"):
        check_image(_png(300, 300)[:200], "stamp")  # cut inside its pixel data
    with pytest.raises(AttestationError, match="corrupt or truncated"):
        check_image(b"\xff\xd8\xff\xe0" + b"\0" * 50, "stamp")  # a JPEG signature and nothing else


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 20, 200, 128)).save(out, format="PNG")
    return out.getvalue()


def test_img003_accepted_images_are_stored_at_most_600_px_a_side(db):
    small = _png(400, 100)
    with db.session() as s:
        kept = s.get(StoredImage, store_image(s, small, "logo"))
        assert kept.data == small  # no side over 600 px: stored as given, byte for byte
        wide = s.get(StoredImage, store_image(s, _png(2400, 600), "logo"))
        jpeg = io.BytesIO()
        Image.new("RGB", (1000, 3000), (250, 250, 250)).save(jpeg, format="JPEG")
        tall = s.get(StoredImage, store_image(s, jpeg.getvalue(), "stamp"))
        s.commit()
    with Image.open(io.BytesIO(wide.data)) as image:
        assert (image.format, image.size, image.mode) == ("PNG", (IMAGE_MAX_SIDE, 150), "RGBA")
    with Image.open(io.BytesIO(tall.data)) as image:
        assert image.format == "JPEG" and image.size == (200, IMAGE_MAX_SIDE)
    assert wide.media_type == "image/png" and tall.media_type == "image/jpeg"
