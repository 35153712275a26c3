"""make deploy-check: the README's production notes, followed literally, on a fresh PostgreSQL database.

What an operator does (README "Production notes", docs/security.md "Deployment environment"):

 1. install: ``pip install -r requirements.txt`` into the virtualenv (here: the one running this);
 2. a fresh database (dropped and created: ``cchc_deploy_check``), a fresh VAR_DIR;
 3. ``manage.py migrate``, ``check --deploy``, ``compilemessages``, ``collectstatic`` with ``DEBUG=0``;
 4. the first administrator, non-interactively (``createsuperuser --noinput`` + DJANGO_SUPERUSER_*);
 5. what people need to act: units and demo accounts (``seed_demo --demo-accounts``), the seed
    plan (``import_plan``), a period launched (``launch_period --period Q1``);
 6. gunicorn, 3 workers on 127.0.0.1, with exactly the environment of docs/security.md (read
    from that file) plus EMAIL_URL to a real SMTP server (aiosmtpd) started here; the
    background worker (``manage.py db_worker``) too when the project has one;
 7. over HTTP, playing the TLS proxy (``X-Forwarded-Proto: https``, ``X-Forwarded-For``):
    the login page and a hashed static file (named by the manifest) answer 200, plain HTTP is
    redirected to https, a unit's staff member logs in, opens "Việc của tôi" and the unit's
    queue, claims a lead step and submits it, and a mail about it reaches the SMTP server.

Any command failing, any 500 (or a traceback in the server's log), or no mail fails the check
(exit 1). Every process started here is stopped at the end, whatever happened. Bounded: the
whole run must finish within DEADLINE seconds.

Environment: DEPLOY_CHECK_PG (server, default postgres://postgres@127.0.0.1:5432),
DEPLOY_CHECK_DB (default cchc_deploy_check), DEPLOY_CHECK_PORT (gunicorn; the SMTP server
takes the next port; default 18100).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
DEADLINE = 170.0  # seconds, the whole run
MAIL_TIMEOUT = 30.0
PG_SERVER = os.environ.get("DEPLOY_CHECK_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
DB_NAME = os.environ.get("DEPLOY_CHECK_DB", "cchc_deploy_check")
PORT = int(os.environ.get("DEPLOY_CHECK_PORT", "18100"))
SMTP_PORT = PORT + 1
CLIENT_ADDRESS = "203.0.113.7"  # the address the proxy appends to X-Forwarded-For
SEED_PLAN = "plans/seed/ke-hoach-cchc-2024-phu-luc.txt"
# The two PostgreSQL roles of the production notes (manage.py db_roles): the owner runs the
# migrations; the app (gunicorn, the worker, every other command) may only read and append the
# audit table. Roles are per cluster: names of this check's own.
OWNER_ROLE = os.environ.get("DEPLOY_CHECK_OWNER_ROLE", "cchc_deploy_owner")
APP_ROLE = os.environ.get("DEPLOY_CHECK_APP_ROLE", "cchc_deploy_app")
STAFF = "qlcn.cv"  # a demo account: staff of the QLCN unit (README)
STAFF_PASSWORD = "cchc-demo-2024"  # noqa: S105 - the documented demo password
ADMIN = {"DJANGO_SUPERUSER_USERNAME": "quantri", "DJANGO_SUPERUSER_EMAIL": "quantri@sct.local"}

STARTED = time.monotonic()
_step_no = 0


class CheckFailed(Exception):
    pass


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def step(title: str) -> None:
    global _step_no
    _step_no += 1
    say(f"== {_step_no}. {title}")


def remaining() -> float:
    left = DEADLINE - (time.monotonic() - STARTED)
    if left <= 0:
        raise CheckFailed(f"quá thời gian cho phép ({DEADLINE:.0f} s)")
    return left


# --- the deployment environment (docs/security.md) -----------------------------------------


def deployment_env() -> dict[str, str]:
    """The variables of docs/security.md's "Deployment environment" block, as documented.

    Read from the document itself so that the check and the documentation cannot drift apart;
    the SECRET_KEY placeholder is replaced by a fresh key, as the document says to make one."""
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    section = text.split("## Deployment environment", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    env: dict[str, str] = {}
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, value = line.partition("=")
        env[name.strip()] = value.strip()
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    # The database is this check's own fresh one, reached as the app's role (migrate_with_database_roles).
    env.pop("DATABASE_URL", None)
    if "AUDIT_HMAC_KEY" in env:  # a placeholder too: a fresh key, as the document says to make one
        env["AUDIT_HMAC_KEY"] = secrets.token_hex(32)
    expected = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "BEHIND_TLS_PROXY"}
    if missing := expected - set(env):
        raise CheckFailed(f"docs/security.md không còn khai báo {sorted(missing)}")
    return env


# --- processes ----------------------------------------------------------------------------


class Processes:
    """Every long-running process started here, stopped at the end whatever happens."""

    def __init__(self) -> None:
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.smtp: Any = None

    def start(self, name: str, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 - fixed arguments
                args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running.append((name, process))
        say(f"   đã chạy {name} (pid {process.pid}), nhật ký: {log}")
        return process

    def stop_all(self) -> None:
        for name, process in reversed(self.running):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=5)
                say(f"   đã dừng {name} (pid {process.pid})")
        self.running.clear()
        if self.smtp is not None:
            self.smtp.stop()
            self.smtp = None
            say("   đã dừng máy chủ SMTP")


def run(title: str, args: list[str], env: dict[str, str], timeout: float = 90) -> str:
    """A command that must succeed; its output is shown when it fails."""
    say(f"   $ {' '.join(args)}")
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments
            args,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=min(timeout, remaining()),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"{title}: quá {exc.timeout:.0f} s") from exc
    if result.returncode != 0:
        raise CheckFailed(f"{title}: mã thoát {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def manage(*args: str, env: dict[str, str], timeout: float = 90) -> str:
    return run(f"manage.py {args[0]}", [PYTHON, "manage.py", *args], env, timeout)


# --- the SMTP server ----------------------------------------------------------------------


class Mailbox:
    """What the SMTP server received: (recipients, message)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mails: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.lock:
            self.mails.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.mails)

    def wait_for(self, after: int, matches: Callable[[list[str], EmailMessage], bool], timeout: float) -> Any:
        deadline = time.monotonic() + min(timeout, remaining())
        while time.monotonic() < deadline:
            with self.lock:
                for recipients, message in self.mails[after:]:
                    if matches(recipients, message):
                        return recipients, message
            time.sleep(0.2)
        return None


def start_smtp(processes: Processes, mailbox: Mailbox) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(mailbox, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    processes.smtp = controller
    say(f"   máy chủ SMTP (aiosmtpd) nghe ở 127.0.0.1:{SMTP_PORT}")


# --- HTTP, as the TLS proxy passes it on --------------------------------------------------


class Browser:
    """Requests to gunicorn as the proxy forwards them; cookies kept by hand (they are Secure,
    and this leg is plain HTTP behind the proxy). Every answer is checked for a 500."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.cookies: dict[str, str] = {}
        self.set_cookie_lines: list[str] = []

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, *, https: bool = True
    ) -> tuple[int, dict[str, str], str]:
        headers = {"Host": self.host, "User-Agent": "cchc-deploy-check"}
        if https:
            headers["X-Forwarded-Proto"] = "https"
            headers["X-Forwarded-For"] = CLIENT_ADDRESS
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"https://{self.host}"
            headers["Referer"] = f"https://{self.host}{path}"
        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=min(30, remaining()))
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                self.set_cookie_lines.append(value)
                cookie, _, _ = value.partition(";")
                key, _, val = cookie.partition("=")
                if val and "expires=Thu, 01 Jan 1970" not in value:
                    self.cookies[key.strip()] = val.strip()
                else:
                    self.cookies.pop(key.strip(), None)
        status = response.status
        answer = {k.lower(): v for k, v in response.getheaders()}
        if status >= 500:
            raise CheckFailed(f"{method} {path} trả về {status}:\n{content[:2000].decode(errors='replace')}")
        return status, answer, content.decode("utf-8", errors="replace")

    def get(self, path: str, expect: int = 200, **kwargs: Any) -> tuple[dict[str, str], str]:
        status, headers, body = self.request("GET", path, **kwargs)
        if status != expect:
            raise CheckFailed(f"GET {path}: {status} thay vì {expect}")
        return headers, body

    def post(self, path: str, form: dict[str, str], expect: int = 302) -> tuple[dict[str, str], str]:
        status, headers, body = self.request("POST", path, form)
        if status != expect:
            raise CheckFailed(f"POST {path}: {status} thay vì {expect}\n{visible_text(body)[:1500]}")
        return headers, body


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if match is None:
        raise CheckFailed("trang không có mã CSRF trong biểu mẫu")
    return match.group(1)


def visible_text(page: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def wait_for_http(browser: Browser, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + min(60, remaining())
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CheckFailed(f"gunicorn đã dừng (mã {server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            browser.request("GET", "/dang-nhap/")
            return
        except OSError:
            time.sleep(0.3)
    raise CheckFailed("gunicorn không trả lời sau 60 s")


# --- the check ----------------------------------------------------------------------------


def fresh_database() -> str:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    return f"{PG_SERVER}/{DB_NAME}"


def role_url(role: str) -> str:
    """The database URL of this check's database, connecting as ``role`` (trust auth here; a
    deployment gives each role a password)."""
    scheme, _, rest = PG_SERVER.partition("://")
    host = rest.rpartition("@")[2]
    return f"{scheme}://{role}@{host}/{DB_NAME}"


def migrate_with_database_roles(env: dict[str, str]) -> None:
    """The production notes' steps: the first migrate and the roles by a superuser (the roles'
    set-up hands every table to the owner); later migrations and the app's grants by the owner;
    then everything runs as the app's role."""
    roles = ["--owner", OWNER_ROLE, "--app", APP_ROLE]
    manage("migrate", "--noinput", "-v0", env=env, timeout=120)
    manage("db_roles", *roles, "--setup", "--apply", env=env)
    owner = {**env, "DATABASE_URL": role_url(OWNER_ROLE)}
    step(f"manage.py migrate, db_roles --apply (vai trò sở hữu {OWNER_ROLE}, như mỗi lần cập nhật)")
    manage("migrate", "--noinput", "-v0", env=owner, timeout=120)
    manage("db_roles", *roles, "--apply", env=owner)
    env["DATABASE_URL"] = role_url(APP_ROLE)
    say(f"   từ đây mọi lệnh, gunicorn và db_worker chạy bằng vai trò {APP_ROLE}")


def check(processes: Processes, work: Path) -> None:
    step("Cài đặt: pip install -r requirements.txt")
    run(
        "pip install", [PYTHON, "-m", "pip", "install", "-q", "-r", "requirements.txt"], dict(os.environ), 120
    )
    run("pip check", [PYTHON, "-m", "pip", "check"], dict(os.environ))

    step(f"Cơ sở dữ liệu PostgreSQL mới: {DB_NAME}; VAR_DIR mới: {work / 'var'}")
    deploy = deployment_env()
    host = deploy["ALLOWED_HOSTS"].split(",")[0]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_"))},
        **deploy,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": fresh_database(),
        "VAR_DIR": str(work / "var"),
        "EMAIL_URL": f"smtp://127.0.0.1:{SMTP_PORT}",
    }
    for name in ("TEST_DB_NAME", "SQLITE_TEST_NAME", "STATIC_ROOT", "EVIDENCE_ROOT", "PLAIN_STATIC"):
        env.pop(name, None)
    say("   môi trường triển khai (docs/security.md): " + ", ".join(sorted(deploy)))

    step(f"manage.py migrate, db_roles --setup (superuser): {OWNER_ROLE} sở hữu, {APP_ROLE} cho ứng dụng")
    migrate_with_database_roles(env)

    step("manage.py check --deploy --fail-level WARNING")
    manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    step("manage.py compilemessages")
    manage("compilemessages", "-v0", "--ignore=.venv", env=env)

    step("manage.py collectstatic (DEBUG=0: tên có mã băm, nén; thất bại là dừng)")
    manage("collectstatic", "--noinput", "-v0", env=env, timeout=120)
    manifest_file = work / "var" / "static" / "staticfiles.json"
    if not manifest_file.is_file():
        raise CheckFailed("collectstatic không ghi staticfiles.json")
    static_paths = json.loads(manifest_file.read_text(encoding="utf-8"))["paths"]
    say(f"   manifest: {len(static_paths)} tệp")

    step("Quản trị viên đầu tiên: createsuperuser --noinput (DJANGO_SUPERUSER_*)")
    admin_password = secrets.token_urlsafe(16)
    manage("createsuperuser", "--noinput", env={**env, **ADMIN, "DJANGO_SUPERUSER_PASSWORD": admin_password})

    step("Dữ liệu để làm việc: seed_demo --demo-accounts, import_plan, launch_period --period Q1")
    manage("seed_demo", "--demo-accounts", env=env)
    manage("import_plan", SEED_PLAN, env=env)
    mailbox = Mailbox()
    start_smtp(processes, mailbox)
    say("   " + manage("launch_period", "--period", "Q1", env=env, timeout=120).strip())
    say(f"   thư khi khởi tạo kỳ: {mailbox.count()}")

    step(f"gunicorn config.wsgi -w 3 -b 127.0.0.1:{PORT} (+ db_worker nếu có)")
    gunicorn_log = work / "gunicorn.log"
    server = processes.start(
        "gunicorn",
        # The README's command; the control socket (gunicorn 23+) moved out of ~/.gunicorn so
        # that this check does not take it from another gunicorn on the same machine.
        [str(BIN / "gunicorn"), "config.wsgi", "-w", "3", "-b", f"127.0.0.1:{PORT}"]
        + ["--control-socket", str(work / "gunicorn.ctl")],
        env,
        gunicorn_log,
    )
    has_worker = (
        subprocess.run(  # noqa: S603 - fixed arguments
            [PYTHON, "manage.py", "help", "db_worker"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=min(60, remaining()),
            check=False,
        ).returncode
        == 0
    )
    worker_log = work / "db_worker.log"
    if has_worker:
        worker = processes.start("db_worker", [PYTHON, "manage.py", "db_worker"], env, worker_log)
    else:
        worker = None
        say("   dự án chưa có manage.py db_worker: không chạy tiến trình nền")
    browser = Browser(host)
    wait_for_http(browser, server, gunicorn_log)

    step("Trang đăng nhập và một tệp tĩnh có mã băm (qua proxy TLS giả lập)")
    headers, login_page = browser.get("/dang-nhap/")
    if "strict-transport-security" not in headers:
        raise CheckFailed("thiếu Strict-Transport-Security trên trang đăng nhập")
    css = "/static/" + static_paths["css/app.css"]
    if f'href="{css}"' not in login_page:
        raise CheckFailed(f"trang đăng nhập không dẫn tới {css}")
    static_headers, _ = browser.get(css)
    say(f"   {css}: 200, Cache-Control: {static_headers.get('cache-control')}")

    step("HTTP thường (không có X-Forwarded-Proto) được chuyển sang https")
    status, headers, _ = browser.request("GET", "/dang-nhap/", https=False)
    if status not in (301, 302) or headers.get("location") != f"https://{host}/dang-nhap/":
        raise CheckFailed(f"HTTP thường: {status} {headers.get('location')} thay vì chuyển sang https")
    say(f"   {status} → {headers['location']}")

    step(f"Đăng nhập: {STAFF}")
    headers, _ = browser.post(
        "/dang-nhap/",
        {"csrfmiddlewaretoken": csrf_token(login_page), "username": STAFF, "password": STAFF_PASSWORD},
    )
    if "sessionid" not in browser.cookies:
        raise CheckFailed("đăng nhập không tạo phiên (sessionid)")
    insecure = [c for c in browser.set_cookie_lines if "secure" not in c.lower()]
    if insecure:
        raise CheckFailed(f"cookie không có cờ Secure: {insecure}")
    say(f"   302 → {headers.get('location')}; cookie Secure: {sorted(browser.cookies)}")

    step("Việc của tôi, Việc của đơn vị")
    _, mine = browser.get("/quy-trinh/viec-cua-toi/")
    if "Việc của tôi" not in mine:
        raise CheckFailed("trang Việc của tôi không có tiêu đề")
    _, queue = browser.get("/quy-trinh/viec-cua-don-vi/")
    step_ids = list(dict.fromkeys(re.findall(r'href="/quy-trinh/buoc/(\d+)/"', queue)))
    if not step_ids:
        raise CheckFailed("hàng việc của đơn vị trống: không có bước nào để nhận")
    say(f"   {len(step_ids)} bước trong hàng việc của đơn vị")

    # A step to claim, of a task with one lead unit: its submit opens the next step at once
    # (with several lead units, the run waits for the others) and that step's people get a mail.
    step_path = ""
    for step_id in step_ids:
        _, page = browser.get(f"/quy-trinh/buoc/{step_id}/")
        lead_units = re.search(r"<dt>Chủ trì</dt><dd>(.*?)</dd>", page, re.S)
        if 'value="claim"' in page and lead_units and ";" not in lead_units.group(1):
            step_path = f"/quy-trinh/buoc/{step_id}/"
            break
    if not step_path:
        raise CheckFailed("không có bước chủ trì (một đơn vị chủ trì) nào nhận được")

    step(f"Nhận việc và gửi báo cáo: {step_path}")
    browser.post(step_path, {"csrfmiddlewaretoken": csrf_token(page), "action": "claim"})
    _, page = browser.get(step_path)
    if 'name="report-result"' not in page:
        raise CheckFailed("sau khi nhận việc, trang không có biểu mẫu báo cáo")
    before = mailbox.count()
    headers, _ = browser.post(
        step_path,
        {
            "csrfmiddlewaretoken": csrf_token(page),
            "action": "submit",
            "report-result": "Đã triển khai đầy đủ (kiểm tra triển khai).",
            "report-self_assessment": "done",
            "report-explanation": "Không có tài liệu kiểm chứng: kiểm tra triển khai tự động.",
        },
    )
    if headers.get("location") != "/quy-trinh/viec-cua-toi/":
        raise CheckFailed(f"gửi báo cáo chuyển tới {headers.get('location')} thay vì Việc của tôi")
    _, mine = browser.get("/quy-trinh/viec-cua-toi/")
    if "Đã gửi." not in mine:
        raise CheckFailed("không thấy thông báo “Đã gửi.” sau khi gửi")
    say("   302 → Việc của tôi: “Đã gửi. Bước tiếp theo đã được chuyển đến người xử lý.”")

    step(f"Thư báo bước tiếp theo tới máy chủ SMTP (chờ tối đa {MAIL_TIMEOUT:.0f} s)")
    found = mailbox.wait_for(
        before,
        lambda _rcpt, message: (
            str(message["Subject"]).strip().startswith("[CCHC] Việc mới")
            and "/quy-trinh/buoc/" in message.get_content()
        ),
        MAIL_TIMEOUT,
    )
    if found is None:
        with mailbox.lock:
            arrived = [str(m["Subject"]) for _r, m in mailbox.mails[before:]]
        raise CheckFailed(
            f"không có thư “Việc mới” nào tới máy chủ SMTP trong {MAIL_TIMEOUT:.0f} s sau khi gửi báo cáo "
            f"(thư khác đã tới: {arrived[:3]})"
        )
    recipients, message = found
    say(f"   thư tới {', '.join(recipients)}: {str(message['Subject']).strip()}")

    step("Từ chối: Host lạ → 400, trang của Văn phòng Sở → 403 (mỗi lần một dòng nhật ký, không traceback)")
    stranger = Browser("evil.example.com")
    status, _, page = stranger.request("GET", "/dang-nhap/")
    if status != 400 or "Yêu cầu không hợp lệ" not in page:
        raise CheckFailed(f"Host lạ: {status} thay vì trang 400")
    status, _, _ = browser.request("GET", "/quy-trinh/khoi-tao/")
    if status != 403:
        raise CheckFailed(f"{STAFF} mở trang khởi tạo kỳ: {status} thay vì 403")
    say("   400, 403")

    step("Nhật ký máy chủ: không có lỗi 500, không có traceback; các tiến trình còn chạy")
    for name, process, log in (("gunicorn", server, gunicorn_log), ("db_worker", worker, worker_log)):
        if process is None:
            continue
        if process.poll() is not None:
            raise CheckFailed(
                f"{name} đã dừng giữa chừng (mã {process.returncode}):\n{log.read_text()[-3000:]}"
            )
        text = log.read_text(errors="replace")
        if "Traceback" in text or "Internal Server Error" in text:
            raise CheckFailed(f"nhật ký {name} có lỗi:\n{text[-4000:]}")
    if "Forbidden (Permission denied): /quy-trinh/khoi-tao/" not in gunicorn_log.read_text(errors="replace"):
        raise CheckFailed("nhật ký gunicorn không ghi lần bị từ chối 403")


def main() -> int:
    say(f"Kiểm tra triển khai theo README (thư mục {ROOT})")
    processes = Processes()
    work = Path(tempfile.mkdtemp(prefix="cchc-deploy-check-"))
    ok = False
    try:
        check(processes, work)
        ok = True
    except CheckFailed as failure:
        say(f"THẤT BẠI: {failure}")
    except Exception as error:  # noqa: BLE001 - any surprise is a failure, reported
        say(f"THẤT BẠI (lỗi không lường trước): {error!r}")
        import traceback

        traceback.print_exc()
    finally:
        step("Dừng mọi tiến trình đã chạy")
        processes.stop_all()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            say(f"   giữ lại nhật ký và VAR_DIR để xem: {work}")
    elapsed = time.monotonic() - STARTED
    say(f"{'ĐẠT' if ok else 'KHÔNG ĐẠT'}: kiểm tra triển khai, {elapsed:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
