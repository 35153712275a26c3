"""manage.py bench: the pages, actions and throughput at the size of a whole province.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cchc_bench .venv/bin/python manage.py bench

PostgreSQL only. The database named by DATABASE_URL is created if missing and migrated; a
database whose name contains "bench" is dropped and created again (its data is the
bench's own); any other database must be empty (no plans, no people). Then: generate the
small data set (--small processes), measure, grow it to --processes, measure again,
run the throughput test, and write docs/benchmarks.json and the results part of
docs/benchmarks.md (between the <!-- bench:results --> markers; the rest of the file,
the analysis, is kept).
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from workflow.bench import generator as gen
from workflow.bench import measure

PAGE_MS, PAGE_QUERIES, RATIO_MAX, POST_MS = 60.0, 15, 1.5, 30.0
THROUGHPUT_MIN = 100.0
PDF_TARGETS = {"pdf_plan": 2000.0, "pdf_period": 3000.0, "pdf_dossier": 500.0}
PDF_CACHED_MS = 50.0
IMPORT_TARGETS = {"import_txt": 500.0, "import_docx": 1000.0}
MISSING = "chưa có"
RESULTS_START = "<!-- bench:results:start -->"
RESULTS_END = "<!-- bench:results:end -->"


class Command(BaseCommand):
    help = (
        "Sinh dữ liệu cỡ cả tỉnh (PostgreSQL) và đo các trang, thao tác, thông lượng; ghi docs/benchmarks.*"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--processes", type=int, default=100_000, help="quy trình ở cỡ lớn (100 000)")
        parser.add_argument(
            "--small", type=int, default=1_000, help="quy trình ở cỡ nhỏ, đo trước (0: bỏ qua)"
        )
        parser.add_argument("--runs", type=int, default=20, help="số lần đo mỗi dòng (20)")
        parser.add_argument("--heavy-runs", type=int, default=5, help="số lần khởi tạo kỳ 77 nhiệm vụ (5)")
        parser.add_argument(
            "--launch-tasks", type=int, default=77, help="số nhiệm vụ mỗi lần khởi tạo kỳ (77)"
        )
        parser.add_argument("--throughput-seconds", type=float, default=20.0)
        parser.add_argument(
            "--clients", type=int, default=8, help="tiến trình khách đồng thời khi đo thông lượng (8)"
        )
        parser.add_argument("--seed", type=int, default=20_241_127)
        parser.add_argument(
            "--json", default="docs/benchmarks.json", help="tệp JSON kết quả ('' : không ghi)"
        )
        parser.add_argument(
            "--markdown", default="docs/benchmarks.md", help="tệp Markdown kết quả ('' : không ghi)"
        )
        parser.add_argument("--no-explain", action="store_true", help="không chạy EXPLAIN ANALYZE")
        parser.add_argument("--drop-small", action="store_true", help="xóa cơ sở dữ liệu cỡ nhỏ khi xong")

    # --- the run ------------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        wall = time.monotonic()
        if connection.vendor != "postgresql":
            raise CommandError(
                "bench chỉ chạy trên PostgreSQL (SQLite không có COPY, khóa dòng hay kích thước để đo). "
                "Đặt DATABASE_URL=postgres://postgres@127.0.0.1:5432/cchc_bench rồi chạy lại."
            )
        large = options["processes"]
        small = min(options["small"], large)
        if large < 1:
            raise CommandError("--processes phải lớn hơn 0.")
        self.launch_tasks = options["launch_tasks"]
        main = connections["default"]
        main_name = main.settings_dict["NAME"]
        if main_name in ("postgres", "template0", "template1"):
            raise CommandError(
                f"Không sinh dữ liệu vào cơ sở dữ liệu hệ thống “{main_name}”: đặt DATABASE_URL="
                "postgres://postgres@127.0.0.1:5432/cchc_bench (bench tự tạo và migrate nó)."
            )
        self._prepare_database()
        machine = machine_info()
        self.out(
            f"Máy: {machine['cpu']} · {machine['cores']} lõi · {machine['ram_gib']} GiB · PostgreSQL "
            f"{machine['postgresql']} · tải {machine['load_average']}"
        )
        plan: list[tuple[str, int, Any]] = []
        small_conn = None
        if 0 < small < large:
            # The small data set lives in a database of its own, so that both sizes are measured
            # turn by turn (small, large, small, …) and a change of load falls on both alike.
            small_name = (f"{main_name}_small" if "bench" in main_name else f"{main_name}_bench_small")[:63]
            small_conn = type(main)({**main.settings_dict, "NAME": small_name}, "default")
            measure.use(small_conn)
            self._prepare_database(own=True)
            plan.append(("small", small, small_conn))
        plan.append(("large", large, main))
        sizes_info: dict[str, dict[str, Any]] = {}
        sizes: list[measure.Size] = []
        try:
            for name, count, conn in plan:
                measure.use(conn)
                number = f"{count:,}".replace(",", " ")
                self.out(f"\n== Sinh dữ liệu: {number} quy trình ({name}, {conn.settings_dict['NAME']})")
                # Another seed for the small set: its plans must not be copies of the large set's.
                generator = gen.Generator(total=count, seed=options["seed"] + (1 if name == "small" else 0))
                started = time.monotonic()
                generator.generate_until(count)
                generated = time.monotonic() - started
                started = time.monotonic()
                generator.analyze()
                analyzed = time.monotonic() - started
                problems = gen.integrity_problems()
                if problems:
                    raise CommandError(f"Dữ liệu sinh ra không nhất quán: {problems}")
                rows = gen.database_rows()
                sizes_info[name] = {
                    "processes": count,
                    "database": conn.settings_dict["NAME"],
                    "generation_seconds": round(generated, 1),
                    "vacuum_analyze_seconds": round(analyzed, 1),
                    "rows": rows,
                }
                self.out(
                    f"   {generated:.1f} s (+ VACUUM ANALYZE {analyzed:.1f} s): "
                    + ", ".join(f"{k} {v:,}".replace(",", " ") for k, v in rows.items())
                )
                sizes.append(measure.Size(name=name, conn=conn, generator=generator))
            measurer = measure.Measurer(
                sizes, runs=options["runs"], heavy_runs=options["heavy_runs"], launch_tasks=self.launch_tasks
            )
            self.out(f"\n== Đo ({', '.join(s.name for s in sizes)} xen kẽ, {options['runs']} lần mỗi dòng)")
            results = self._measure(measurer, sizes_info)
            measure.use(main)
            throughput = single = None
            if options["throughput_seconds"] > 0:
                baseline = min(5.0, max(1.0, options["throughput_seconds"] / 4))
                with measure.bench_settings():
                    self.out(f"\n== Thông lượng (large): 1 tiến trình khách, {baseline:.0f} s (đối chứng)")
                    single = measure.throughput(
                        seconds=baseline, clients=1, seed=options["seed"] + 1, log=self.out
                    )
                    self.out(f"   {single.steps_per_second:.1f} bước/s")
                    self.out(
                        f"== Thông lượng (large): {options['clients']} tiến trình khách, {options['throughput_seconds']:.0f} s"
                    )
                    throughput = measure.throughput(
                        seconds=options["throughput_seconds"],
                        clients=options["clients"],
                        seed=options["seed"],
                        log=self.out,
                    )
                    self.out(f"   {throughput.steps_per_second:.1f} bước/s")
            machine["load_average_end"] = machine_info()["load_average"]
            report = build_report(
                sizes=sizes_info,
                results=results,
                throughput=throughput,
                single=single,
                machine=machine,
                options=options,
                explain_rows=not options["no_explain"],
            )
        finally:
            measure.use(main)
            if small_conn is not None:
                small_conn.close()
                if options["drop_small"]:
                    with connection._nodb_cursor() as cursor:
                        cursor.execute(
                            f'DROP DATABASE IF EXISTS "{small_conn.settings_dict["NAME"]}" WITH (FORCE)'
                        )
        report["wall_seconds"] = round(time.monotonic() - wall, 1)
        self.out("")
        self.out(render_table(report))
        if options["json"]:
            path = Path(settings.BASE_DIR) / options["json"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n")
            self.out(f"Đã ghi {options['json']}")
        if options["markdown"]:
            path = Path(settings.BASE_DIR) / options["markdown"]
            write_markdown(path, report)
            self.out(f"Đã ghi {options['markdown']}")
        self.out(f"Tổng thời gian: {report['wall_seconds']:.0f} s")

    def out(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def _prepare_database(self, own: bool = False) -> None:
        """Create (or, for a *bench* database, re-create) the default connection's database and
        migrate it; ``own``: a database the bench names itself (the small one), always re-created."""
        name = connection.settings_dict["NAME"]
        with connection._nodb_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            exists = cursor.fetchone() is not None
        recreate = exists and (own or ("bench" in name and self._has_data()))
        if recreate:
            self.out(f"Xóa và tạo lại cơ sở dữ liệu {name} (dữ liệu của lần đo trước).")
            connection.close()
            with connection._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if recreate or not exists:
            with connection._nodb_cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
            self.out(f"Đã tạo cơ sở dữ liệu {name}; migrate…")
            connection.close()
            call_command("migrate", verbosity=0, interactive=False)
        elif self._has_data():
            raise CommandError(
                f"Cơ sở dữ liệu {name} đã có dữ liệu. bench chỉ dùng một cơ sở dữ liệu trống, hoặc một cơ sở "
                "dữ liệu có tên chứa “bench” (sẽ bị xóa và tạo lại), ví dụ cchc_bench."
            )

    @staticmethod
    def _has_data() -> bool:
        from django.contrib.auth import get_user_model
        from django.db.utils import ProgrammingError

        from plans.models import Plan

        try:
            return Plan.objects.exists() or get_user_model().objects.exists()
        except ProgrammingError:  # not migrated yet
            connection.close()
            return False

    def _measure(
        self, measurer: measure.Measurer, sizes_info: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        results: dict[str, dict[str, Any]] = {size.name: {} for size in measurer.sizes}

        def keep(key: str, label: str, by_size: dict[str, Any]) -> None:
            for name, m in by_size.items():
                results[name][key] = m
            self._line(label, by_size)

        with measure.bench_settings():
            for size in measurer.sizes:
                measure.use(size.conn)
                size.subjects = measure.Subjects.find()
                s = size.subjects
                sizes_info[size.name]["subjects"] = {
                    "staff": s.staff.username,
                    "queue_user": s.queue_user.username,
                    "office": s.office.username,
                    "deputy": s.deputy.username,
                    "director": s.director.username,
                    **s.counts,
                }
            for page in [*measure.OUR_PAGES, *measure.VIEWFLOW_PAGES]:
                keep(page.key, page.label, measurer.page(page))
            keep("submit", "POST gửi báo cáo (submit)", measurer.submits("lead"))
            keep("approve", "POST thẩm định đạt (approve)", measurer.submits("review"))
            keep("import_txt", "Nhập kế hoạch .txt", measurer.plan_import("txt"))
            keep("import_docx", "Nhập kế hoạch .docx", measurer.plan_import("docx"))
            for key, label, name, objects in PDFS:

                def urls_for(
                    size: measure.Size, name: str = name, objects: Callable[[int], list[int]] = objects
                ) -> list[str] | None:
                    return pdf_urls(name, objects(measurer.runs + 1))

                by_size = measurer.pdf(urls_for)
                keep(key, label, {n: (pair[0] if pair else None) for n, pair in by_size.items()})
                keep(
                    f"{key}_cached",
                    label + " (lặp lại)",
                    {n: (pair[1] if pair else None) for n, pair in by_size.items()},
                )
            self._launch_tag = 0

            def clone(size: measure.Size, index: int) -> Any:
                self._launch_tag += 1
                return gen.fresh_plan(size.generator, self._launch_tag)

            keep("launch", f"Khởi tạo kỳ cho {self.launch_tasks} nhiệm vụ", measurer.launch(clone))
        return results

    def _line(self, label: str, by_size: dict[str, measure.Measurement | None]) -> None:
        parts = []
        for name, m in by_size.items():
            if m is None:
                parts.append(f"{name}: {MISSING}")
            elif m.error or not m.times_ms:
                parts.append(f"{name}: LỖI {m.error or 'không đo được'}")
            else:
                parts.append(f"{name}: {m.median:8.1f} ms (p95 {m.p95:.1f}, {m.median_queries} truy vấn)")
        self.out(f"   {label:<50} " + " · ".join(parts))


def _plans_with_runs(count: int) -> list[int]:
    from plans.models import Plan

    return list(
        Plan.objects.filter(periods__period_tasks__isnull=False)
        .distinct()
        .order_by("-pk")
        .values_list("pk", flat=True)[:count]
    )


def _periods_with_runs(count: int) -> list[int]:
    from plans.models import ReportingPeriod

    return list(
        ReportingPeriod.objects.filter(period_tasks__isnull=False)
        .distinct()
        .order_by("-pk")
        .values_list("pk", flat=True)[:count]
    )


def _done_runs(count: int) -> list[int]:
    from workflow.models import PeriodTask

    return list(PeriodTask.objects.filter(stage="done").order_by("-pk").values_list("pk", flat=True)[:count])


# key, label, URL name, the objects (newest first, a different one per run: each first render is one)
PDFS = [
    ("pdf_plan", "PDF kế hoạch", "reports:plan_pdf", _plans_with_runs),
    ("pdf_period", "PDF báo cáo kỳ", "reports:period_pdf", _periods_with_runs),
    ("pdf_dossier", "PDF hồ sơ nhiệm vụ", "reports:dossier_pdf", _done_runs),
]


def pdf_urls(name: str, pks: list[int]) -> list[str] | None:
    try:
        return [reverse(name, args=[pk]) for pk in pks]
    except NoReverseMatch:  # the report does not exist yet
        return None


# --- the report -------------------------------------------------------------------------------

ROWS: list[tuple[str, str, str]] = [
    # key, label, kind
    *[(p.key, p.label, "page") for p in measure.OUR_PAGES],
    ("submit", "POST gửi báo cáo – submit (lead step)", "post"),
    ("approve", "POST thẩm định đạt – approve (review step)", "post"),
    ("launch", "Khởi tạo kỳ, 77 nhiệm vụ (period_launch)", "launch"),
    ("import_txt", "Nhập kế hoạch mẫu .txt (parse + plan_import)", "import"),
    ("import_docx", "Nhập kế hoạch mẫu .docx (parse + plan_import)", "import"),
    ("pdf_plan", "PDF kế hoạch – lần đầu", "pdf"),
    ("pdf_plan_cached", "PDF kế hoạch – lặp lại", "pdf_cached"),
    ("pdf_period", "PDF báo cáo kỳ – lần đầu", "pdf"),
    ("pdf_period_cached", "PDF báo cáo kỳ – lặp lại", "pdf_cached"),
    ("pdf_dossier", "PDF hồ sơ nhiệm vụ – lần đầu", "pdf"),
    ("pdf_dossier_cached", "PDF hồ sơ nhiệm vụ – lặp lại", "pdf_cached"),
    *[(p.key, p.label, "peer") for p in measure.VIEWFLOW_PAGES],
]
PEERS = {p.key: p.peer for p in measure.OUR_PAGES if p.peer}


def _target_text(key: str, kind: str) -> str:
    if kind == "page":
        return f"≤ {PAGE_MS:.0f} ms, ≤ {PAGE_QUERIES} truy vấn, lớn/nhỏ ≤ {RATIO_MAX}"
    if kind == "post":
        return f"≤ {POST_MS:.0f} ms"
    if kind == "import":
        return f"≤ {IMPORT_TARGETS[key]:.0f} ms"
    if kind == "pdf":
        return f"≤ {PDF_TARGETS[key]:.0f} ms"
    if kind == "pdf_cached":
        return f"≤ {PDF_CACHED_MS:.0f} ms"
    return "—"


def _verdict(key: str, kind: str, large: dict[str, Any] | None, ratio: float | None) -> tuple[str, list[str]]:
    if large is None:
        return MISSING, []
    if large.get("error"):
        return "MISS", [f"lỗi: {large['error']}"]
    median, queries = large["median_ms"], large["queries"]
    why: list[str] = []
    if kind == "page":
        if median > PAGE_MS:
            why.append(f"trung vị {median:.0f} ms > {PAGE_MS:.0f} ms")
        if queries is not None and queries > PAGE_QUERIES:
            why.append(f"{queries} truy vấn > {PAGE_QUERIES}")
        if ratio is not None and ratio > RATIO_MAX:
            why.append(f"lớn/nhỏ {ratio:.2f} > {RATIO_MAX}")
    elif kind == "post":
        if median > POST_MS:
            why.append(f"trung vị {median:.0f} ms > {POST_MS:.0f} ms")
    elif kind == "import":
        if median > IMPORT_TARGETS[key]:
            why.append(f"trung vị {median:.0f} ms > {IMPORT_TARGETS[key]:.0f} ms")
    elif kind == "pdf":
        if median > PDF_TARGETS[key]:
            why.append(f"trung vị {median:.0f} ms > {PDF_TARGETS[key]:.0f} ms")
    elif kind == "pdf_cached":
        if median > PDF_CACHED_MS:
            why.append(f"trung vị {median:.0f} ms > {PDF_CACHED_MS:.0f} ms")
    else:
        return "—", []
    return ("MISS" if why else "PASS"), why


def build_report(
    *,
    sizes: dict[str, Any],
    results: dict[str, dict[str, Any]],
    throughput: measure.ThroughputResult | None,
    machine: dict[str, Any],
    single: measure.ThroughputResult | None = None,
    options: dict[str, Any],
    explain_rows: bool = True,
) -> dict[str, Any]:
    small, large = results.get("small", {}), results.get("large", {})
    rows = []
    for key, label, kind in ROWS:
        s = small.get(key)
        l_ = large.get(key)
        sd = s.as_dict() if s is not None else None
        ld = l_.as_dict() if l_ is not None else None
        ratio = None
        if sd and ld and sd["median_ms"] and ld["median_ms"] and not sd["error"] and not ld["error"]:
            ratio = round(ld["median_ms"] / sd["median_ms"], 2)
        peer_key = PEERS.get(key)
        peer = large.get(peer_key) if peer_key else None
        vs = None
        if peer is not None and ld and peer.median and ld["median_ms"] and not peer.error and not ld["error"]:
            vs = round(ld["median_ms"] / peer.median, 2)
        result, why = _verdict(key, kind, ld, ratio)
        row = {
            "key": key,
            "label": label,
            "kind": kind,
            "target": _target_text(key, kind),
            "small": sd,
            "large": ld,
            "ratio_large_small": ratio,
            "peer": peer_key,
            "ratio_ours_theirs": vs,
            "result": result,
            "why": why,
        }
        if explain_rows and l_ is not None and l_.slowest_sql and kind in ("page", "peer"):
            try:
                row["explain_slowest"] = measure.explain(l_.slowest_sql)
            except Exception as exc:  # noqa: BLE001 - an EXPLAIN that fails must not lose the run
                row["explain_slowest"] = f"(EXPLAIN thất bại: {exc})"
        rows.append(row)
    report: dict[str, Any] = {
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "command": "manage.py bench "
        + " ".join(
            f"--{k.replace('_', '-')}={v}"
            for k, v in options.items()
            if k
            in (
                "processes",
                "small",
                "runs",
                "heavy_runs",
                "launch_tasks",
                "throughput_seconds",
                "clients",
                "seed",
            )
        ),
        "machine": machine,
        "targets": {
            "page_median_ms": PAGE_MS,
            "page_queries": PAGE_QUERIES,
            "ratio_large_small": RATIO_MAX,
            "post_median_ms": POST_MS,
            "throughput_steps_per_second": THROUGHPUT_MIN,
            "pdf_first_ms": PDF_TARGETS,
            "pdf_cached_ms": PDF_CACHED_MS,
            "import_ms": IMPORT_TARGETS,
        },
        "sizes": sizes,
        "rows": rows,
    }
    if throughput is not None:
        t = throughput.as_dict()
        why = []
        if throughput.steps_per_second < THROUGHPUT_MIN:
            why.append(f"{throughput.steps_per_second:.0f} bước/s < {THROUGHPUT_MIN:.0f}")
        if throughput.errors:
            why.append(f"{throughput.errors} lỗi")
        if throughput.duplicated_successors:
            why.append(f"{throughput.duplicated_successors} quy trình có bước trùng")
        if throughput.stuck_processes:
            why.append(f"{throughput.stuck_processes} quy trình bị kẹt")
        if not throughput.audit_chain_ok:
            why.append("chuỗi nhật ký hỏng")
        t["result"] = "MISS" if why else "PASS"
        t["why"] = why
        if single is not None:
            t["single_client"] = single.as_dict()
        report["throughput"] = t
    return report


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}".replace(",", " ")


def table_rows(report: dict[str, Any]) -> list[list[str]]:
    lines = []
    for row in report["rows"]:
        s, l_ = row["small"], row["large"]
        lines.append(
            [
                row["label"],
                _fmt(s["median_ms"]) if s else MISSING,
                _fmt(l_["median_ms"]) if l_ else MISSING,
                _fmt(l_["p95_ms"]) if l_ else "",
                str(l_["queries"]) if l_ and l_["queries"] is not None else "",
                _fmt(row["ratio_large_small"], 2),
                (f"{_fmt(row['ratio_ours_theirs'], 2)}" if row["ratio_ours_theirs"] is not None else "—"),
                row["target"],
                row["result"],
            ]
        )
    return lines


HEADERS = [
    "Dòng",
    "nhỏ: trung vị ms",
    "lớn: trung vị ms",
    "lớn: p95 ms",
    "truy vấn",
    "lớn/nhỏ",
    "ta/viewflow",
    "mục tiêu",
    "kết quả",
]


def render_table(report: dict[str, Any]) -> str:
    rows = table_rows(report)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
    sep = "  "
    lines = [sep.join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))]
    lines.append(sep.join("-" * w for w in widths))
    for r in rows:
        lines.append(sep.join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    t = report.get("throughput")
    if t:
        lines.append("")
        lines.append(
            f"Thông lượng: {t['steps_per_second']:.1f} bước/s ({t['steps']} bước, {t['clients']} tiến trình khách, "
            f"{t['seconds']:.1f} s) · lỗi {t['errors']} · xung đột 409 {t['conflicts']} · bước kế tiếp trùng "
            f"{t['duplicated_successors']} · quy trình kẹt {t['stuck_processes']} · nhật ký "
            f"{'nguyên vẹn' if t['audit_chain_ok'] else 'HỎNG'} ({t['audit_events_checked']} sự kiện) · mục tiêu "
            f"≥ {THROUGHPUT_MIN:.0f} bước/s, 0 lỗi, 0 trùng → {t['result']}"
        )
        if t.get("single_client"):
            lines.append(f"   (1 tiến trình khách: {t['single_client']['steps_per_second']:.1f} bước/s)")
    for name, size in report["sizes"].items():
        number = f"{size['processes']:,}".replace(",", " ")
        lines.append(f"Sinh dữ liệu ({name}, {number} quy trình): {size['generation_seconds']:.1f} s")
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown_results(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = [
        RESULTS_START,
        "",
        f"Run of {report['generated_at']}: `{report['command']}` — wall time {report['wall_seconds']:.0f} s.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; PostgreSQL {m['postgresql']}; "
        f"Python {m['python']}, Django {m['django']}, django-viewflow {m['viewflow']}; load average at start "
        f"{m['load_average']} (the machine is shared).",
        "",
        "| data set | processes | viewflow tasks | steps (open) | audit events | generated in | VACUUM ANALYZE |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, size in report["sizes"].items():
        r = size["rows"]
        out.append(
            f"| {name} | {r['processes']:,} | {r['tasks']:,} | {r['steps']:,} ({r['open_steps']:,}) | "
            f"{r['events']:,} | {size['generation_seconds']:.0f} s | {size['vacuum_analyze_seconds']:.0f} s |".replace(
                ",", " "
            )
        )
    out += [
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join(["---"] + ["---:"] * 6 + ["---", "---"]) + "|",
    ]
    for r in table_rows(report):
        out.append("| " + " | ".join(_md_cell(c) for c in r) + " |")
    t = report.get("throughput")
    if t:
        out += [
            "",
            f"**Throughput** ({t['clients']} client processes, each its own connection, claiming and submitting open steps "
            f"through the services for {t['seconds']:.0f} s): **{t['steps_per_second']:.1f} steps/s** "
            f"({t['steps']} steps, {t['claims']} claims), errors {t['errors']}, expected 409 conflicts "
            f"{t['conflicts']}, duplicated successors {t['duplicated_successors']}, stuck processes "
            f"{t['stuck_processes']} (of {t['processes_touched']} touched), audit chain "
            f"{'intact' if t['audit_chain_ok'] else 'BROKEN'} over the {t['audit_events_checked']} new events → "
            f"**{t['result']}**{(' (' + '; '.join(t['why']) + ')') if t['why'] else ''}."
            + (
                f" The same with one client process: {t['single_client']['steps_per_second']:.1f} steps/s."
                if t.get("single_client")
                else ""
            ),
        ]
        if t["error_samples"]:
            out.append("")
            out += [f"- error: `{e}`" for e in t["error_samples"]]
    misses = [r for r in report["rows"] if r["result"] == "MISS"]
    if misses:
        out += ["", "Rows that miss their target (at the large size):", ""]
        out += [f"- {r['label']}: {'; '.join(r['why'])}" for r in misses]
    explained = [
        r
        for r in report["rows"]
        if r.get("explain_slowest") and (r["result"] == "MISS" or r["kind"] == "peer")
    ]
    if explained:
        out += [
            "",
            "<details><summary>EXPLAIN ANALYZE of the slowest query of those rows (large size)</summary>",
            "",
        ]
        for r in explained:
            sql = r["large"]["slowest_sql"]
            out += [
                f"**{r['label']}** — {r['large']['slowest_sql_ms']} ms:",
                "",
                "```sql",
                sql[:1500] + (" …" if len(sql) > 1500 else ""),
                "```",
                "```",
                "\n".join(r["explain_slowest"].splitlines()[:40]),
                "```",
                "",
            ]
        out.append("</details>")
    out += ["", RESULTS_END]
    return "\n".join(out)


MARKDOWN_SKELETON = """# Benchmarks: speed at the size of a whole province

`manage.py bench` (`make bench`) generates a data set of 100 000 processes, measures the pages,
the actions and the throughput on it and on a small one, and writes this file's results part and
`docs/benchmarks.json`. The analysis below the results is written by hand.

{results}

## Analysis

(Written by hand after a full run: why a row misses its target and what would meet it.)
"""


def write_markdown(path: Path, report: dict[str, Any]) -> None:
    results = render_markdown_results(report)
    if path.exists():
        text = path.read_text()
        pattern = re.compile(re.escape(RESULTS_START) + ".*?" + re.escape(RESULTS_END), re.S)
        if pattern.search(text):
            path.write_text(pattern.sub(lambda _: results, text))
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MARKDOWN_SKELETON.format(results=results))


def machine_info() -> dict[str, Any]:
    from importlib.metadata import version

    import django

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram,
        "postgresql": pg,
        "python": platform.python_version(),
        "django": django.get_version(),
        "viewflow": version("django-viewflow"),
        "load_average": load,
        "date": timezone.localdate().isoformat(),
        "platform": sys.platform,
    }
