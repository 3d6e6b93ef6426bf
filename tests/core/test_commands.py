"""Every command the project prints works as written: each ``python -m analysis ...`` quoted in a string of the
source (an error message, a footnote, a page) names a study and step the CLI accepts."""

from __future__ import annotations

import ast
import re
import shlex

import pytest

from analysis import cli
from support.config import ROOT

SRC = ROOT / "src" / "analysis"
COMMAND = re.compile(r"python -m analysis((?: [a-z0-9_./-]+)+)")


def quoted_commands() -> list[tuple[str, str]]:
    """(where, command words) of every ``python -m analysis <words>`` in a string the code builds (docstrings
    and comments left out: they may show a pattern such as ``<study> <step>``)."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                text = node.value
            else:
                continue
            for match in COMMAND.finditer(text):
                out.append((f"{path.relative_to(ROOT)}:{node.lineno}", match.group(1).strip()))
    return out


COMMANDS = quoted_commands()


def test_the_source_quotes_commands():
    assert len(COMMANDS) >= 8, COMMANDS  # the fetch hints, the strobe page, the CLI's own usage line


@pytest.mark.parametrize("where, words", COMMANDS, ids=[f"{w}: {c}" for w, c in COMMANDS])
def test_every_quoted_command_parses_with_the_cli(where, words):
    argv = shlex.split(words)
    args = cli.build_parser().parse_args(argv)
    if args.study == cli.CHECK and not args.step:
        return
    assert args.study and args.step, f"{where}: `python -m analysis {words}` names no study and step"
    cli.resolve(args.study, args.step)  # raises UnknownStep for a study or step the CLI does not have
