"""`residentbot` command line (CONTRACTS.md). `python -m bot` is the same command.

JSON output is one UTF-8 document on stdout; errors are one line on stderr in Chinese
and English with exit status 2. Domain imports are lazy so each command starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn


class CliError(Exception):
    """An error shown to the user as one line: `zh / en` (or one already bilingual)."""

    def __init__(self, zh: str, en: str | None = None) -> None:
        super().__init__(zh if en is None else f"{zh} / {en}")


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"residentbot: {message}\n")
    raise SystemExit(2)


# --- kb ------------------------------------------------------------------------------


def cmd_kb_search(args: argparse.Namespace) -> None:
    from knowledge.search import default_index

    if args.top < 1:
        raise CliError("--top 至少为1", "--top must be at least 1")
    result = default_index().search(args.text, top=args.top)
    if args.json:
        _print_json(result.to_dict())
        return
    from bot.render import render

    sys.stdout.write(render("cli", "kb_search", result=result, index=default_index()))


def cmd_kb_show(args: argparse.Namespace) -> None:
    from knowledge.search import default_index

    index = default_index()
    entry = index.get(args.id)
    if entry is None:
        close = ", ".join(index.close_ids(args.id)) or "-"
        raise CliError(f"没有这个条目：{args.id}（相近：{close}）", f"no entry {args.id}")
    if args.json:
        _print_json(entry.to_dict())
        return
    from bot.render import render

    sys.stdout.write(render("cli", "kb_show", entry=entry, index=index))


def cmd_kb_eval(args: argparse.Namespace) -> None:
    from knowledge.evaluation import evaluate, load_eval_set

    report = evaluate(load_eval_set(args.file) if args.file else load_eval_set())
    if args.json:
        _print_json(report.to_dict())
        return
    from bot.render import render

    sys.stdout.write(render("cli", "kb_eval", report=report, show_misses=args.misses))


def cmd_kb_check(args: argparse.Namespace) -> None:
    from knowledge.kb import load_entries

    entries = load_entries()
    sys.stdout.write(f"ok: {len(entries)} entries\n")


# --- screen and triage -----------------------------------------------------------------


def cmd_screen(args: argparse.Namespace) -> None:
    from knowledge.eligibility import assess
    from knowledge.household import Household, HouseholdError

    try:
        if args.file == "-":
            raw = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8") as fh:
                raw = fh.read()
    except OSError as exc:
        raise CliError(f"无法读取文件 {args.file}", f"cannot read {args.file}: {exc}") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"不是有效的 JSON（第{exc.lineno}行）", f"invalid JSON at line {exc.lineno}"
        ) from exc
    try:
        household = Household.from_dict(data)
        assessment = assess(household)
    except (HouseholdError, LookupError) as exc:
        raise CliError(str(exc)) from exc  # already "zh / en", naming the field
    if args.json:
        _print_json(assessment.to_dict())
        return
    from bot.render import render
    from dialogues.screening import short_source

    sys.stdout.write(render("cli", "screen", assessment=assessment.to_dict(), cite=short_source))


def cmd_triage(args: argparse.Namespace) -> None:
    from knowledge.triage import triage

    result = triage(args.text)
    if args.json:
        _print_json(result.to_dict())
        return
    from bot.render import render

    sys.stdout.write(render("cli", "triage", result=result.to_dict()))


# --- service -------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> None:
    from bot.app import serve

    serve()


def cmd_chat(args: argparse.Namespace) -> None:
    from bot.terminal import chat

    chat()


# --- parser --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="residentbot",
        description="重庆社会救助咨询机器人 / social-assistance chat and SMS bot",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    kb = sub.add_parser("kb", help="knowledge base: search, show, eval, check")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True, metavar="KB_COMMAND")
    search = kb_sub.add_parser("search", help="search the knowledge base")
    search.add_argument("text")
    search.add_argument("--top", type=int, default=3)
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=cmd_kb_search)
    show = kb_sub.add_parser("show", help="print one entry with its sources")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_kb_show)
    ev = kb_sub.add_parser("eval", help="top-1/top-3/out-of-scope against a baseline")
    ev.add_argument("--file", help="evaluation YAML (default: the bundled set)")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--misses", action="store_true", help="list the questions missed")
    ev.set_defaults(func=cmd_kb_eval)
    check = kb_sub.add_parser("check", help="load and validate every entry")
    check.set_defaults(func=cmd_kb_check)

    screen = sub.add_parser("screen", help="pre-screen a household (JSON file or -)")
    screen.add_argument("file")
    screen.add_argument("--json", action="store_true")
    screen.set_defaults(func=cmd_screen)

    tri = sub.add_parser("triage", help="urgency of a message")
    tri.add_argument("text")
    tri.add_argument("--json", action="store_true")
    tri.set_defaults(func=cmd_triage)

    serve = sub.add_parser("serve", help="run the service (web chat, SMS, Telegram, console)")
    serve.set_defaults(func=cmd_serve)
    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.set_defaults(func=cmd_chat)

    from bot.console.cli import register as register_users

    register_users(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        func(args)
    except CliError as exc:
        _fail(str(exc))
    except BrokenPipeError:  # e.g. `residentbot kb search … | head`
        raise SystemExit(0) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
