"""The portal's pure pieces: photos sniffed by their bytes and re-encoded
without metadata, citizens' text and points checked, report statuses."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image

from onemap.core.errors import OneMapError
from onemap.core.registry import load_layers
from onemap.core.settings import Settings
from processes.participation import text
from processes.participation.photos import clean_photo, sniff
from processes.participation.publications import Publication, from_json, publish
from processes.participation.reports import NEXT, STATUSES, tracking_number
from processes.participation.settings import from_gateway

LIMIT = 1024 * 1024


def _jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x0131] = "secret-software"  # Software
    exif[0x8825] = {2: (28.0, 30.0, 0.0)}  # GPS latitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=b"a comment")
    return out.getvalue()


def _problem(call) -> tuple[int, str | None, str, str]:
    with pytest.raises(OneMapError) as caught:
        call()
    p = caught.value.problem
    return p.status, p.field, p.zh, p.en


def test_a_photo_is_re_encoded_without_its_metadata():
    original = _jpeg_with_exif()
    assert b"secret-software" in original and Image.open(io.BytesIO(original)).getexif()
    photo = clean_photo("photos[1]", original, LIMIT)
    assert photo.media_type == "image/jpeg" and b"secret-software" not in photo.content
    cleaned = Image.open(io.BytesIO(photo.content))
    assert not cleaned.getexif() and "comment" not in cleaned.info and cleaned.size == (64, 48)
    assert cleaned.getpixel((32, 24))[0] > 150  # the pixels stay


@pytest.mark.parametrize(("content", "status"), [
    (b"%PDF-1.7 not an image", 415),
    (b"GIF89a" + bytes(100), 415),
    (b"\xff\xd8\xff\xe0" + bytes(200), 422),  # a JPEG header and nothing that decodes
])
def test_what_is_not_a_usable_image_is_refused_naming_the_field(content, status):
    got, field, zh, en = _problem(lambda: clean_photo("photos[2]", content, LIMIT))
    assert (got, field) == (status, "photos[2]") and zh and en and zh != en


def test_a_photo_over_the_limit_is_refused_before_it_is_decoded():
    got, field, zh, en = _problem(lambda: clean_photo("photos[1]", b"\xff\xd8\xff" + bytes(LIMIT), LIMIT))
    assert (got, field) == (413, "photos[1]") and "MB" in zh and "MB" in en


def test_sniffing_reads_the_bytes_not_a_name():
    png = io.BytesIO()
    Image.new("RGB", (2, 2)).save(png, "PNG")
    webp = io.BytesIO()
    Image.new("RGB", (2, 2)).save(webp, "WEBP")
    assert [sniff(png.getvalue()), sniff(webp.getvalue()), sniff(_jpeg_with_exif()), sniff(b"<svg/>")] \
        == ["PNG", "WEBP", "JPEG", None]


def test_text_is_kept_as_it_is_written_and_checked():
    script = "<script>alert(1)</script> 很好"
    assert text.plain_text({"body": f"  {script} "}, "body", "意见", "comment", 100) == script
    assert _problem(lambda: text.plain_text({"body": "x" * 101}, "body", "意见", "comment", 100))[:2] == (400, "body")
    assert _problem(lambda: text.plain_text({"body": "a\x00b"}, "body", "意见", "comment", 100))[:2] == (400, "body")
    assert _problem(lambda: text.plain_text({}, "body", "意见", "comment", 100))[:2] == (400, "body")
    assert text.plain_text({"name": " "}, "name", "姓名", "name", 50, required=False) is None
    assert text.phone({"phone": "+86 737-1234567"}) == "+86 737-1234567"
    assert _problem(lambda: text.phone({"phone": "call me"}))[:2] == (400, "phone")


def test_points():
    assert text.point({"lon": "112.3", "lat": 28.5}, required=True) == (112.3, 28.5)
    assert text.point({}, required=False) is None
    assert _problem(lambda: text.point({}, required=True))[:2] == (400, "location")
    assert _problem(lambda: text.point({"lon": 200, "lat": 0}, required=False))[:2] == (400, "location")


def test_statuses_run_one_way_to_closed():
    assert set(NEXT) == set(STATUSES) and NEXT["closed"] == ()
    reachable, frontier = {"received"}, ["received"]
    while frontier:
        for nxt in NEXT[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(STATUSES)
    numbers = {tracking_number(dt.date(2026, 12, 3)) for _ in range(50)}
    assert len(numbers) == 50 and all(n.startswith("JB20261203-") and len(n) == 21 for n in numbers)


@pytest.mark.parametrize(("change", "field"), [
    ({"layers": ("GHYDYH", "STBHHX")}, "layers"),
    ({"documents": ({"title_zh": "文本", "title_en": "text", "url": "javascript:alert(1)"},)}, "documents[1].url"),
    ({"jzrq": dt.date(2026, 1, 1)}, "jzrq"),
])
def test_a_publication_shows_public_layers_and_safe_links_only(change, field):
    fields = {"gsbh": "GS-1", "gsmc": "公示", "gsmc_en": "notice", "ksrq": dt.date(2026, 2, 1),
              "jzrq": dt.date(2026, 3, 1), "geometry": {"type": "Point", "coordinates": [112, 28]}}
    # refused before the database is asked
    assert _problem(lambda: publish(None, Publication(**{**fields, **change}), load_layers()))[:2] == (400, field)


_STAFF_FORM = {"gsbh": "GS-9", "gsmc": "公示", "gsmc_en": "notice", "ksrq": "2026-02-01", "jzrq": "2026-03-01",
               "geometry": {"type": "Polygon", "coordinates": [[[112, 28], [112.1, 28], [112, 28.1], [112, 28]]]},
               "layers": ["GHYDYH"], "documents": [{"title_zh": "文本", "title_en": "text", "url": "docs/a.pdf"}]}


def test_a_publication_from_the_staff_page_is_read_field_by_field():
    publication = from_json(_STAFF_FORM)
    assert (publication.ksrq, publication.layers, publication.gsnr) == (dt.date(2026, 2, 1), ("GHYDYH",), "")
    assert publication.documents[0]["url"] == "docs/a.pdf"


@pytest.mark.parametrize(("change", "field"), [
    ({"gsbh": " "}, "gsbh"), ({"ksrq": "2026-13-01"}, "ksrq"), ({"jzrq": None}, "jzrq"),
    ({"geometry": {"type": "Point", "coordinates": [112, 28]}}, "geometry"),
    ({"geometry": {"type": "Polygon", "coordinates": [[[112, 28], [112.1, 28.1], [112.1, 28], [112, 28.1], [112, 28]]]}},
     "geometry"),  # a bow tie: not a valid area
    ({"geometry": "POLYGON"}, "geometry"), ({"layers": "GHYDYH"}, "layers"), ({"documents": ["x"]}, "documents"),
])
def test_a_bad_field_of_the_staff_page_is_named(change, field):
    status, named, zh, en = _problem(lambda: from_json({**_STAFF_FORM, **change}))
    assert (status, named) == (400, field) and zh and en


def test_the_participation_settings_are_checked():
    gateway = Settings.from_env().gateway
    config = from_gateway(gateway)
    assert config.photo_max_bytes > 0 and config.posting.burst >= 1
    # who moderates is the roles' permission now: the old role lists are refused, not ignored
    for broken in ({"moderate": ["staff"]}, {"posting_rate": {"per_second": 0, "burst": 5}}, {"photo_max_mb": "x"}):
        with pytest.raises(ValueError, match="participation"):
            from_gateway({**gateway, "participation": {**gateway["participation"], **broken}})
