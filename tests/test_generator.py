"""Tests of the demo-data generator: contract conformance, determinism, calibration, messiness.

The calibration check is a standalone reference computation (DuckDB SQL over the generated
CSV files) of ``contract/metrics.md``, independent of the generator's own bookkeeping.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dagster_project.generator import MessinessRates, generate
from dagster_project.generator.agencies import all_agencies
from dagster_project.generator.schema import ENUM_LABELS, ENUMS, REQUIRED, SOURCES

SOURCES_ALL = list(SOURCES)
MARCH = {"start": date(2025, 3, 1), "end": date(2025, 3, 31)}
# Holidays and compensatory Saturdays of contract/vn-calendar.md, for the reference SQL.
HOLIDAYS = [
    "2025-01-01",
    "2025-01-27",
    "2025-01-28",
    "2025-01-29",
    "2025-01-30",
    "2025-01-31",
    "2025-04-07",
    "2025-04-30",
    "2025-05-01",
    "2025-05-02",
    "2025-09-01",
    "2025-09-02",
    "2026-01-01",
    "2026-01-02",
]
WORKING_SATURDAYS = ["2025-04-26", "2026-01-10"]


# --- helpers ---------------------------------------------------------------------------------


def load(raw: Path, source: str) -> pd.DataFrame:
    """All files of a source as strings, headers mapped to canonical names."""
    lab = {unicodedata.normalize("NFC", label).lower(): c for c, label, _ in SOURCES[source]}
    frames = []
    folder = raw / source
    for p in sorted(folder.iterdir()) if folder.is_dir() else []:
        if p.suffix == ".csv":
            df = pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        elif p.suffix == ".xlsx":
            df = pd.read_excel(p, dtype=str, engine="calamine").fillna("")
        else:
            raise AssertionError(f"unexpected file {p}")
        df.columns = [
            lab.get(unicodedata.normalize("NFC", c).strip().lower(), c) for c in df.columns
        ]
        df["_file"] = str(p)
        df["_row"] = range(len(df))
        frames.append(df)
    cols = [c for c, _, _ in SOURCES[source]] + ["_file", "_row"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def _date_sql(col: str) -> str:
    return (
        f"COALESCE(TRY_STRPTIME(NULLIF(TRIM({col}), ''), '%Y-%m-%d'), "
        f"TRY_STRPTIME(NULLIF(TRIM({col}), ''), '%d/%m/%Y'), "
        f"TRY_STRPTIME(NULLIF(TRIM({col}), ''), '%Y-%m-%d %H:%M:%S'))::DATE"
    )


def reference_agency_month(raw: Path, agency: str, month: str) -> tuple[int, float, int]:
    """staff_count, pooled avg_daily_hours and staff_over of contract/metrics.md."""
    con = duckdb.connect()
    for s in ("staff", "worklog", "tasks", "leave"):
        con.register(f"{s}_raw", load(raw, s))
    status_map = " ".join(
        f"WHEN lower(trim(status)) = '{lbl.lower()}' THEN '{c}'"
        for c, lbl in ENUM_LABELS[("worklog", "status")].items()
    )
    hol = ", ".join(f"DATE '{d}'" for d in HOLIDAYS)
    sat = ", ".join(f"DATE '{d}'" for d in WORKING_SATURDAYS)
    m0 = f"DATE '{month}-01'"
    sql = f"""
    WITH staff AS (
        SELECT staff_id, agency_code, {_date_sql("assignment_start")} AS s,
               COALESCE({_date_sql("assignment_end")}, DATE '9999-12-31') AS e
        FROM staff_raw),
    days AS (SELECT CAST(d AS DATE) AS d
             FROM range({m0}, {m0} + INTERVAL 1 MONTH, INTERVAL 1 DAY) t(d)),
    wd AS (SELECT d FROM days
           WHERE (isodow(d) <= 5 AND d NOT IN ({hol})) OR d IN ({sat})),
    lv AS (SELECT staff_id, {_date_sql("leave_start")} AS s, {_date_sql("leave_end")} AS e,
                  lower(trim(half_day)) IN ('true', '1', 'x', 'có') AS half
           FROM leave_raw
           WHERE lower(trim(leave_type)) IN ('annual', 'sick', 'maternity', 'unpaid', 'other')),
    sd AS (SELECT st.staff_id, wd.d FROM staff st JOIN wd ON wd.d BETWEEN st.s AND st.e
           WHERE st.agency_code = '{agency}'),
    lh AS (SELECT sd.staff_id, sd.d, MAX(CASE WHEN half AND lv.s = lv.e THEN 4 ELSE 8 END) AS h
           FROM sd JOIN lv ON lv.staff_id = sd.staff_id AND sd.d BETWEEN lv.s AND lv.e
                  AND lv.e >= lv.s
           GROUP BY ALL),
    avail AS (SELECT sd.staff_id, SUM(8 - COALESCE(lh.h, 0)) / 8.0 AS fde
              FROM sd LEFT JOIN lh USING (staff_id, d) GROUP BY 1),
    wl AS (SELECT entry_id, COALESCE(TRY_CAST(NULLIF(revision, '') AS INT), 1) AS revision,
                  staff_id, {_date_sql("work_date")} AS work_date, task_code,
                  COALESCE(stage_code, '') AS stage_code,
                  COALESCE(TRY_CAST(replace(NULLIF(quantity, ''), ',', '.') AS DOUBLE), 1) AS q,
                  CASE {status_map} ELSE lower(trim(status)) END AS status, _file, _row
           FROM worklog_raw WHERE NULLIF(TRIM(entry_id), '') IS NOT NULL),
    valid AS (SELECT * FROM wl WHERE work_date IS NOT NULL AND q > 0 AND status IN
              ('draft', 'submitted', 'approved', 'rejected', 'cancelled')),
    cur AS (SELECT * FROM valid QUALIFY row_number() OVER (
              PARTITION BY entry_id ORDER BY revision DESC, _file DESC, _row DESC) = 1),
    tasks AS (SELECT agency_code, task_code, COALESCE(stage_code, '') AS stage_code,
                     TRY_CAST(replace(standard_minutes, ',', '.') AS DOUBLE) AS m,
                     {_date_sql("valid_from")} AS vf FROM tasks_raw),
    matched AS (
        SELECT cur.staff_id, cur.q * t.m / 60.0 AS hours
        FROM cur JOIN staff a ON a.staff_id = cur.staff_id
                 AND cur.work_date BETWEEN a.s AND a.e AND a.agency_code = '{agency}'
        JOIN tasks t ON t.agency_code = a.agency_code AND t.task_code = cur.task_code
             AND t.stage_code = cur.stage_code AND t.vf <= cur.work_date
        WHERE cur.status = 'approved' AND date_trunc('month', cur.work_date) = {m0}
        QUALIFY row_number() OVER (PARTITION BY cur.entry_id ORDER BY t.vf DESC) = 1),
    credited AS (SELECT staff_id, SUM(hours) AS hours FROM matched GROUP BY 1)
    SELECT count(*) FILTER (WHERE fde > 0),
           SUM(COALESCE(hours, 0)) / SUM(fde),
           count(*) FILTER (WHERE fde > 0 AND round(COALESCE(hours, 0) / fde, 2) > 8)
    FROM avail LEFT JOIN credited USING (staff_id)
    """
    n, pooled, over = con.execute(sql).fetchone()
    return int(n), float(pooled), int(over)


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def messy_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("messy") / "raw"
    generate(out, seed=42, formats="csv", **MARCH)
    return out


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mixed") / "raw"
    generate(out, seed=42, formats="mixed", start=date(2025, 6, 26), end=date(2025, 7, 4))
    return out


# --- contract conformance ---------------------------------------------------------------------


def _conformance(raw: Path) -> dict[str, float]:
    """Per source, the share of rows breaking a value rule (those go to quarantine)."""
    bad_share = {}
    for source in SOURCES_ALL:
        df = load(raw, source)
        assert len(df) > 0, source
        canon = [c for c, _, _ in SOURCES[source]]
        assert set(canon) <= set(df.columns), (source, set(canon) - set(df.columns))
        assert not (set(df.columns) - set(canon) - {"_file", "_row"}), source
        bad = pd.Series(False, index=df.index)
        for col, _, kind in SOURCES[source]:
            v = df[col].astype(str).str.strip()
            empty = v.eq("") | v.eq("nan") | v.eq("None")
            if col in REQUIRED[source]:
                bad |= empty
            if kind == "date":
                ok = v.str.fullmatch(r"\d{4}-\d{2}-\d{2}( 00:00:00)?|\d{2}/\d{2}/\d{4}")
                parsed = pd.to_datetime(
                    v.where(v.str.contains("-")).str[:10], errors="coerce", format="%Y-%m-%d"
                ).fillna(
                    pd.to_datetime(v.where(v.str.contains("/")), errors="coerce", format="%d/%m/%Y")
                )
                bad |= ~empty & ~(ok & parsed.notna())
            elif kind == "datetime":
                ok = v.str.fullmatch(r"(\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}) \d{2}:\d{2}(:\d{2})?")
                bad |= ~empty & ~ok
            elif kind in ("decimal", "int"):
                num = pd.to_numeric(v.str.replace(",", ".", regex=False), errors="coerce")
                bad |= ~empty & ~(num >= 0)
            elif kind == "enum":
                allowed = {x.lower() for x in ENUMS[(source, col)]}
                allowed |= {x.lower() for x in ENUM_LABELS.get((source, col), {}).values()}
                bad |= ~empty & ~v.str.lower().isin(allowed)
            elif kind == "bool":
                bad |= ~empty & ~v.str.lower().isin(["true", "false", "1", "0", "x", "có", "không"])
        if source == "worklog":
            bad |= pd.to_numeric(df["quantity"].str.replace(",", "."), errors="coerce") <= 0
        bad_share[source] = float(bad.mean())
    return bad_share


def test_contract_conformance_csv(messy_csv: Path) -> None:
    shares = _conformance(messy_csv)
    for source in ("agencies", "positions", "tasks", "staff", "evaluations"):
        assert shares[source] == 0, source
    # Broken rows are rare: 0.1-0.5% of the worklog.
    assert 0.0005 < shares["worklog"] < 0.005
    for source in ("documents", "events", "leave"):
        assert shares[source] < 0.02, source


def test_contract_conformance_mixed(mixed: Path) -> None:
    forms = {p.suffix for p in mixed.rglob("*.*")}
    assert forms == {".csv", ".xlsx"}
    boms = [p for p in mixed.rglob("*.csv") if p.read_bytes().startswith(b"\xef\xbb\xbf")]
    assert boms
    text = (mixed / "worklog" / "2025-07.csv").read_text("utf-8-sig")
    assert text.startswith("Mã kê khai") and re.search(r"\d{2}/\d{2}/2025", text)
    shares = _conformance(mixed)
    assert shares["worklog"] < 0.005


def test_clean_is_canonical(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    generate(out, seed=3, clean=True, start=date(2025, 3, 1), end=date(2025, 3, 12))
    for p in out.rglob("*"):
        if p.is_file():
            assert p.suffix == ".csv"
            head = p.read_bytes()
            assert not head.startswith(b"\xef\xbb\xbf")
            source = p.parent.name
            assert head.decode().split("\n", 1)[0] == ",".join(c for c, _, _ in SOURCES[source])
    assert max(_conformance(out).values()) == 0
    wl = load(out, "worklog")
    assert set(wl["status"]) == {"approved"}
    assert (wl["revision"] == "1").all()
    assert not wl["work_date"].str.contains("/").any()
    assert not wl["quantity"].str.contains(",").any()


# --- calibration -----------------------------------------------------------------------------


def test_calibration_stc_march_default_seed(messy_csv: Path) -> None:
    n, pooled, over = reference_agency_month(messy_csv, "STC", "2025-03")
    assert n == 84
    assert abs(pooled - 5.5) <= 0.05
    assert over == 6


@pytest.mark.parametrize("seed", [7, 2024])
def test_calibration_holds_for_other_seeds(tmp_path: Path, seed: int) -> None:
    out = tmp_path / "raw"
    generate(out, seed=seed, formats="csv", **MARCH)
    n, pooled, over = reference_agency_month(out, "STC", "2025-03")
    assert (n, over) == (84, 6)
    assert abs(pooled - 5.5) <= 0.05


def test_most_people_elsewhere_under_8_hours(messy_csv: Path) -> None:
    for agency in ("SNV", "UBND-CL", "MTTQ"):
        n, pooled, over = reference_agency_month(messy_csv, agency, "2025-03")
        assert n > 20 and over / n < 0.15 and 3.0 < pooled < 8.0


# --- determinism -------------------------------------------------------------------------------


def test_deterministic_bytes(tmp_path: Path, mixed: Path) -> None:
    again = tmp_path / "raw"
    generate(again, seed=42, formats="mixed", start=date(2025, 6, 26), end=date(2025, 7, 4))
    assert digest(again) == digest(mixed)
    other = tmp_path / "other"
    generate(other, seed=43, formats="mixed", start=date(2025, 6, 26), end=date(2025, 7, 4))
    assert digest(other) != digest(mixed)


# --- messiness rates -----------------------------------------------------------------------------


def test_messiness_appears_at_its_rates(messy_csv: Path) -> None:
    rates = MessinessRates()
    wl = load(messy_csv, "worklog")
    wl = wl[wl["entry_id"].str.len() > 0]
    wl = wl[~wl["entry_id"].str.contains("-L")]
    cur = wl.sort_values(["entry_id", "revision"]).drop_duplicates("entry_id", keep="last")
    core = cur[(cur["status"] == "approved")]
    n = len(core)
    status = cur["status"].value_counts()

    def near(observed: float, rate: float, rel: float = 0.35) -> bool:
        return abs(observed - rate) <= rel * rate + 0.002

    assert near(status.get("rejected", 0) / n, rates.rejection)
    assert near(status.get("draft", 0) / n, rates.draft)
    assert near(status.get("cancelled", 0) / n, rates.cancelled, 0.5)
    assert near((wl["revision"] == "2").sum() / n, rates.revision)
    live = cur[cur["status"].isin(["approved", "submitted"])]
    key = ["staff_id", "work_date", "task_code", "stage_code", "quantity", "description"]
    dup_share = live.duplicated(key, keep="first").sum() / n
    assert near(dup_share, rates.duplicate, 0.5)
    sub = pd.to_datetime(live["submitted_at"], format="%Y-%m-%d %H:%M")
    late = (sub.dt.normalize() - pd.to_datetime(live["work_date"])).dt.days > 7
    assert near(late.mean(), rates.late_submission, 0.5)
    tasks = load(messy_csv, "tasks")
    doc_tasks = set(
        tasks.loc[tasks["evidence_type"] == "document", "agency_code"]
        + "|"
        + tasks.loc[tasks["evidence_type"] == "document", "task_code"]
        + "|"
        + tasks.loc[tasks["evidence_type"] == "document", "stage_code"]
    )
    staff = load(messy_csv, "staff").drop_duplicates("staff_id")
    live = live.merge(staff[["staff_id", "agency_code"]], on="staff_id")
    is_doc = (live["agency_code"] + "|" + live["task_code"] + "|" + live["stage_code"]).isin(
        doc_tasks
    )
    missing = (live.loc[is_doc, "document_ref"] == "").mean()
    assert near(missing, rates.missing_document, 0.4)
    unknown = (~live["task_code"].str.match(r"^[ABCD]\d\d$")).sum() + (
        ~cur["staff_id"].isin(staff["staff_id"])
    ).sum()
    assert 0 < unknown / n < 3 * rates.unknown_reference


def test_messiness_rates_are_configurable(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    generate(
        out,
        seed=1,
        formats="csv",
        start=date(2025, 3, 3),
        end=date(2025, 3, 7),
        rates=MessinessRates(duplicate=0.0, rejection=0.2, broken_row=0.0),
    )
    wl = load(out, "worklog")
    cur = wl.sort_values(["entry_id", "revision"]).drop_duplicates("entry_id", keep="last")
    assert 0.15 < (cur["status"] == "rejected").sum() / (cur["status"] == "approved").sum() < 0.25


# --- append a day and scale ---------------------------------------------------------------------


def test_append_day_writes_new_files_only(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    args = {"seed": 5, "start": date(2025, 12, 1), "end": date(2025, 12, 31), "formats": "csv"}
    generate(out, **args)
    before = digest(out)
    summary = generate(out, **args, append_day=date(2026, 1, 5))
    after = digest(out)
    assert {k: v for k, v in after.items() if k in before} == before
    new = set(after) - set(before)
    assert "worklog/2026-01-05.csv" in new and all("2026-01-05" in k for k in new)
    assert summary.rows["worklog"] > 0
    wl = load(out, "worklog")
    day = wl[wl["_file"].str.contains("2026-01-05")]
    staff = set(load(out, "staff")["staff_id"])
    assert day["staff_id"].isin(staff).mean() > 0.99
    earlier = wl[~wl["_file"].str.contains("2026-01-05") & (wl["entry_id"] != "")]
    assert not day["entry_id"].isin(earlier["entry_id"]).any()
    docs = load(out, "documents")
    docs = docs[
        docs["direction"].str.lower().isin(["outgoing", "đi"]) & (docs["agency_code"] == "STC")
    ]
    num = docs["doc_number"].str.extract(r"^(\d+)/STC-")[0].dropna().astype(int)
    new_docs = docs[docs["_file"].str.contains("2026-01-05")]
    if len(new_docs):
        assert (
            not new_docs["doc_number"]
            .isin(docs[~docs["_file"].str.contains("2026-01-05")]["doc_number"])
            .any()
        )
    assert len(num) > 0
    with pytest.raises(FileExistsError):
        generate(out, **args, append_day=date(2026, 1, 5))


def test_scale_keeps_the_pilot_and_adds_agencies() -> None:
    one = all_agencies(1.0)
    more = all_agencies(3.0)
    assert more[: len(one)] == one
    assert sum(a.size for a in more) >= 3 * sum(a.size for a in one) * 0.98
    pilot = [a for a in one if a.pilot]
    assert len(pilot) == 19
    assert sum(a.code == "STC" and a.size == 84 for a in pilot) == 1
