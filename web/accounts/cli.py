"""``directives user add|list|remove|set-role … --data-dir DIR``: accounts from the server's terminal.

The password is asked twice without echo (``getpass``), or read from standard input with
``--password-stdin`` (one line, for scripts); it is never an argument, so it stays out of shell history and
``ps``. Changes are written to the audit log as done by ``cli:<login name>``.
"""

from __future__ import annotations

import getpass
import os
import sys

DEFAULT_DATA_DIR = ".data"


def add_parser(sub) -> None:
    sp = sub.add_parser("user", help="manage accounts (viewer, editor, admin)")
    usub = sp.add_subparsers(dest="user_command", required=True)

    def common(p):
        p.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="the server's data directory (default .data)")
        return p

    p = common(usub.add_parser("add", help="create an account (password asked twice)"))
    p.add_argument("name")
    p.add_argument("--role", choices=["viewer", "editor", "admin"], default="viewer")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_add)
    p = common(usub.add_parser("list", help="list accounts"))
    p.set_defaults(func=cmd_list)
    p = common(usub.add_parser("remove", help="delete an account"))
    p.add_argument("name")
    p.set_defaults(func=cmd_remove)
    p = common(usub.add_parser("set-role", help="change an account's role"))
    p.add_argument("name")
    p.add_argument("role", choices=["viewer", "editor", "admin"])
    p.set_defaults(func=cmd_set_role)


def _db(args):
    from web.datadir import DataDB

    return DataDB(args.data_dir)


def _who() -> str:
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


def _password(args) -> str | None:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass("Mật khẩu: ")
    if getpass.getpass("Nhập lại mật khẩu: ") != first:
        print("error: hai lần nhập mật khẩu không giống nhau", file=sys.stderr)
        return None
    return first


def cmd_add(args) -> int:
    from web.accounts import users
    from web.accounts.passwords import WeakPassword
    from web.audit.log import record

    db = _db(args)
    try:
        users.check_name(args.name)
        password = _password(args)
        if password is None:
            return 1
        u = users.add(db, args.name, password, args.role)
    except (users.AccountError, WeakPassword) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    record(db, actor=_who(), action="user_add", target=u.name, address="local", new={"role": u.role})
    print(f"Đã tạo tài khoản “{u.name}” ({u.role}) trong {db.path}")
    return 0


def cmd_list(args) -> int:
    from web.accounts import users
    from web.page_helpers import when

    db = _db(args)
    rows = users.all_users(db)
    if not rows:
        print(f"Chưa có tài khoản nào trong {db.path}.")
        return 0
    print(f"{'tên':<24} {'vai trò':<8} tạo lúc")
    for u in rows:
        print(f"{u.name:<24} {u.role:<8} {when(u.created_at)}")
    return 0


def cmd_remove(args) -> int:
    from web.accounts import users
    from web.audit.log import record

    db = _db(args)
    try:
        u = users.remove(db, args.name)
    except users.AccountError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    record(db, actor=_who(), action="user_remove", target=u.name, address="local", old={"role": u.role})
    print(f"Đã xóa tài khoản “{u.name}”.")
    return 0


def cmd_set_role(args) -> int:
    from web.accounts import users
    from web.audit.log import record

    db = _db(args)
    try:
        u, old = users.set_role(db, args.name, args.role)
    except users.AccountError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    record(db, actor=_who(), action="role_change", target=u.name, address="local", old={"role": old},
           new={"role": u.role})
    print(f"“{u.name}”: {old} → {u.role}")
    return 0


def first_admin_hint(data_dir: str) -> str:
    return ("Chưa có tài khoản nào: mọi người đọc được, nhưng chưa ai tải lên hay sửa được văn bản.\n"
            "Tạo quản trị viên đầu tiên (mật khẩu được hỏi hai lần):\n"
            f"    .venv/bin/directives user add admin --role admin --data-dir {data_dir}")
