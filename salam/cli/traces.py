"""`salam traces export` and `import`: the study assistant's training examples as files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from salam.cli.arguments import Subcommands


def register(subcommands: Subcommands) -> None:
    traces = subcommands.add_parser(
        "traces", help="training examples of the study assistant: export or import them"
    )
    actions = traces.add_subparsers(dest="traces_command", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        help="write the training examples as JSON Lines",
        description="Every successful trace (a guideline that turned a mistake into a right "
        "answer) is one example: the study-assistant prompt as sent and the output that worked. "
        "Imported examples are written too, unless --run picks one gather run.",
    )
    export.add_argument("--run", type=int, help="only the examples gathered by this run")
    export.add_argument(
        "-o", "--output", type=Path, required=True, help="the .jsonl file to write ('-': stdout)"
    )
    export.add_argument(
        "--format",
        choices=("salam", "paper"),
        default="salam",
        help='salam: prompt, completion, versions, source, question; paper: {"input", "output"}',
    )
    export.set_defaults(handler=export_command)
    imported = actions.add_parser(
        "import",
        help="store examples from the paper's feedback files or JSON Lines",
        description='Reads {"type": "text2text", "instances": [{"input", "output"}]} files (the '
        'paper\'s feedback in data/salam/feedback) or JSON Lines of {"input", "output"} or of '
        "what `salam traces export` writes. The batcher treats them like gathered examples. "
        "Any bad record stores nothing; a file imported twice adds nothing.",
    )
    imported.add_argument("files", type=Path, nargs="+", metavar="FILE")
    imported.set_defaults(handler=import_command)


def export_command(args: argparse.Namespace) -> int:
    from producers.training_data import export_examples

    if str(args.output) == "-":
        count = export_examples(sys.stdout, run_id=args.run, export_format=args.format)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with args.output.open("w", encoding="utf-8") as out:
            count = export_examples(out, run_id=args.run, export_format=args.format)
    where = "stdout" if str(args.output) == "-" else args.output
    print(f"wrote {count} training examples to {where}", file=sys.stderr)
    return 0


def import_command(args: argparse.Namespace) -> int:
    from producers.training_data import import_training_files

    report = import_training_files(args.files)
    print(
        f"imported {report.added} training examples "
        f"({report.read - report.added} of {report.read} were already stored)"
    )
    return 0
