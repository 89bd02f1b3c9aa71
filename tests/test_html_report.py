"""The HTML compliance report: built from real gate results (project checks on Terraform JSON, a waiver file with an
active and an expiring waiver), rendered in Debian's headless Chromium, and checked by what the browser laid out:
the text of the tables and that every section is visible, and a screenshot's pixels (not blank, the verdict
and expiry highlights drawn)."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from compliance.gate import Gate, GateResult
from compliance.html_report import render_html

TODAY = dt.date.today()

#: Terraform JSON with two findings of the project checks: a bucket without public access block (and so on), and a
#: *:* IAM policy.
TF_JSON = {
    "resource": {
        "aws_s3_bucket": {"open": {"bucket": "report-open", "tags": {"Name": "open"}}},
        "aws_iam_policy": {"admin": {"name": "admin", "policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})}},
    }
}


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (Debian package)", pytrace=False)
    return path


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[GateResult]:
    work = tmp_path_factory.mktemp("html-report")
    tf = work / "main.tf.json"
    tf.write_text(json.dumps(TF_JSON))
    waivers = work / "waivers.toml"
    soon, later = TODAY + dt.timedelta(days=10), TODAY + dt.timedelta(days=150)
    waivers.write_text(
        "[[waiver]]\ncheck = \"PLAT_IAM_001\"\nresource = \"aws_iam_policy.admin\"\n"
        "reason = \"break-glass <policy> & review\"\nowner = \"security-team\"\n"
        f"expires = {soon.isoformat()}\nenvironments = [\"dev\"]\n\n"
        "[[waiver]]\ncheck = \"PLAT_S3_001\"\nresource = \"aws_s3_bucket.open\"\n"
        "reason = \"scratch bucket of load tests, emptied nightly\"\nowner = \"platform-team\"\n"
        f"expires = {later.isoformat()}\n")
    out = []
    for env in ("dev", "prod"):
        gate = Gate(env, waivers_file=waivers, run_checkov=False)
        out.append(gate.scan_tf_json([tf]))
    return out


class Tables(HTMLParser):
    """Rows of every table by id: list of (row attributes, cell texts)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[dict[str, str], list[str]]]] = {}
        self.probe: str | None = None
        self._table: str | None = None
        self._row: tuple[dict[str, str], list[str]] | None = None
        self._cell: list[str] | None = None
        self._in_probe = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = a.get("id", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = (a, [])
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "pre" and a.get("id") == "probe":
            self._in_probe, self.probe = True, ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row[1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "pre":
            self._in_probe = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_probe:
            self.probe = (self.probe or "") + data


#: Appended to a copy of the report (the report itself has no script): measures, in the browser, that each section
#: was laid out with a non-zero box and that highlighted cells got their colour.
PROBE = """<pre id="probe"></pre><script>
const ids = ["summary", "checks", "waivers", "findings-dev", "findings-prod"];
const out = {};
for (const id of ids) { const el = document.getElementById(id); const r = el ? el.getBoundingClientRect() : null;
  out[id] = r ? {height: r.height, width: r.width, rows: el.querySelectorAll("tbody tr").length} : null; }
const exp = document.querySelector('#waivers tr[data-status="expiring"] td:last-child');
out.expiring_background = exp ? getComputedStyle(exp).backgroundColor : null;
const blocked = document.querySelector('#summary tr[data-verdict="BLOCKED"] td:nth-child(4)');
out.blocked_background = blocked ? getComputedStyle(blocked).backgroundColor : null;
document.getElementById("probe").textContent = JSON.stringify(out);
</script>"""


def render_in_chromium(html: str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    page = folder / "report.html"
    page.write_text(html)
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={folder / 'profile'}",
         *args, page.as_uri()],
        capture_output=True, text=True, timeout=120)


def test_report_content_and_layout_in_headless_chromium(results: list[GateResult], tmp_path: Path) -> None:
    html = render_html(results, today=TODAY)
    assert "<script" not in html and "http" not in html.split("<body>", 1)[1]  # self-contained, no JS
    proc = render_in_chromium(html.replace("</body>", PROBE + "</body>"), tmp_path, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = Tables()
    dom.feed(proc.stdout)

    summary = {a["data-env"]: (a["data-verdict"], cells) for a, cells in dom.tables["summary"] if "data-env" in a}
    assert set(summary) == {"dev", "prod"}
    for r in results:
        verdict, cells = summary[r.environment]
        assert verdict == r.verdict and cells[3] == r.verdict
        assert int(cells[4]) == len(r.blocking)
    assert summary["prod"][0] == "BLOCKED"  # *:* IAM is CRITICAL everywhere and only waived in dev

    checks = {a["data-check"]: cells for a, cells in dom.tables["checks"] if "data-check" in a}
    header = [cells for a, cells in dom.tables["checks"] if "data-check" not in a][0]
    assert header[-2:] == ["dev", "prod"]
    assert checks["PLAT_IAM_001"][-2:] == ["waived (1)", "block (1)"]
    assert checks["PLAT_S3_001"][-2:] == ["waived (1)", "waived (1)"]
    assert checks["PLAT_S3_003"][-1].startswith("block")

    waivers = {(a["data-check"], a["data-status"]): cells for a, cells in dom.tables["waivers"] if "data-check" in a}
    expiring = waivers[("PLAT_IAM_001", "expiring")]
    assert expiring[2] == "dev" and expiring[3] == "security-team"
    assert expiring[4] == "break-glass <policy> & review"  # escaped in HTML, text again in the DOM
    assert expiring[6] == "10"
    active = waivers[("PLAT_S3_001", "active")]
    assert active[2] == "dev, prod" and active[6] == "150"

    prod_findings = [(a["data-level"], cells[2], cells[3]) for a, cells in dom.tables["findings-prod"]
                     if "data-level" in a]
    assert ("block", "PLAT_IAM_001", "aws_iam_policy.admin") in prod_findings

    probe: dict[str, Any] = json.loads(dom.probe or "{}")
    for section in ("summary", "checks", "waivers", "findings-dev", "findings-prod"):
        assert probe[section] and probe[section]["height"] > 20 and probe[section]["width"] > 300, (section, probe)
    assert probe["waivers"]["rows"] == 2
    assert probe["expiring_background"] == "rgb(255, 241, 194)"  # highlighted
    assert probe["blocked_background"] == "rgb(255, 216, 211)"


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB bytes) of an 8-bit non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        rows.append(bytes(line) if bpp == 3 else bytes(v for j, v in enumerate(line) if j % 4 != 3))
    return width, height, rows


def test_report_screenshot(results: list[GateResult], tmp_path: Path) -> None:
    """What a reader sees: the page is drawn (not blank), the BLOCKED verdict cell and the expiring waiver carry their
    highlight colours over a cell-sized area, and the report's text is on the page."""
    proc = render_in_chromium(render_html(results, today=TODAY), tmp_path, "--screenshot=" + str(tmp_path / "r.png"),
                              "--window-size=1280,2000")
    shot = tmp_path / "r.png"
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 2000)
    counts: dict[tuple[int, int, int], int] = {}
    dark = 0
    for row in rows[::2]:  # every other row: enough to count areas, half the work
        for i in range(0, len(row), 6):  # every other pixel
            px = (row[i], row[i + 1], row[i + 2])
            counts[px] = counts.get(px, 0) + 1
            dark += max(px) < 100
    sampled = sum(counts.values())
    background, share = max(counts.items(), key=lambda kv: kv[1])
    assert share < 0.98 * sampled, f"the page is nearly one colour {background}: nothing was drawn"
    assert dark > 500, f"only {dark} dark (text) pixels sampled: the report's text is not on the page"
    # the colours the report's CSS gives a BLOCKED verdict and an expiring waiver (the probe test reads them from the
    # computed style); a cell is at least ~60x18 pixels, so >= 200 of the sampled quarter
    assert counts.get((255, 216, 211), 0) >= 200, "no BLOCKED highlight drawn"
    assert counts.get((255, 241, 194), 0) >= 200, "no expiring-waiver highlight drawn"


def test_report_without_findings_and_with_scanner_error() -> None:
    from compliance.gate import Stage

    clean = GateResult(stage=Stage.STATIC, environment="staging", findings=(), passed_count=12, resources_scanned=3,
                       errors=())
    broken = GateResult(stage=Stage.PLAN, environment=None, findings=(), passed_count=0, resources_scanned=0,
                        errors=("checkov crashed: <boom>",))
    html = render_html([clean, broken], today=TODAY)
    assert 'data-verdict="PASSED"' in html and 'data-verdict="ERROR"' in html
    assert "checkov crashed: &lt;boom&gt;" in html and "No findings." in html and "No waived findings." in html
    # the policy in force is named plainly (no "(none: ...)" to decode): the plan result had no environment
    assert "(none:" not in html
    assert '<tr data-env="policy prod" data-verdict="ERROR">' in html
    assert "<td>no environment given: policy prod (the strictest)</td>" in html
