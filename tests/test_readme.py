"""The READMEs are guides a newcomer can follow: the Chinese one is the English one section for
section with the same commands; every figure they quote is in docs/results.md; every command in
them (and in docs/) uses only flags its script has; and the first steps work from a fresh
folder: train, then predict the example the training wrote, then compare the run."""

import re
import shlex
from pathlib import Path

import pytest

from conftest import REPO, run_script

READMES = [REPO / "README.md", REPO / "README_cn.md"]
DOCS = sorted((REPO / "docs").glob("*.md"))


def code_blocks(path: Path, lang: str | None = None) -> list[str]:
    blocks = re.findall(r"^```([^\n]*)\n(.*?)^```", path.read_text(), flags=re.S | re.M)
    return [body for tag, body in blocks if lang is None or tag.strip() == lang]


def prose(path: Path) -> str:
    """The text outside code blocks and link targets: what a reader reads as a statement."""
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    return re.sub(r"\]\([^)]*\)", "]", text)


def headings(path: Path) -> list[tuple[int, list[str]]]:
    """Each heading's level, with the docs pages its section links to."""
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    parts = re.split(r"^(#+) .*$", text, flags=re.M)
    return [(len(level), sorted(set(re.findall(r"\((docs/[\w.-]+\.md)", body))))
            for level, body in zip(parts[1::2], parts[2::2])]


def test_the_chinese_readme_keeps_the_english_ones_code():
    english, chinese = code_blocks(READMES[0]), code_blocks(READMES[1])
    assert len(english) > 10
    assert chinese == english
    # and both start with the same two commands: set up and train, set up and test
    assert english[0].splitlines()[:2] == chinese[0].splitlines()[:2]


def test_the_readmes_have_the_same_sections_one_to_one():
    english, chinese = headings(READMES[0]), headings(READMES[1])
    assert len(english) > 10
    assert chinese == english  # the same levels in the same order, each linking the same docs


def test_the_readmes_are_guides_of_at_most_250_lines():
    for readme in READMES:
        assert len(readme.read_text().splitlines()) <= 250, readme.name


FIGURE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:%|×(?!\d)| ?ms\b| s\b| min\b| MiB\b)")


def test_every_figure_the_readmes_quote_is_in_docs_results():
    results = set(FIGURE.findall((REPO / "docs" / "results.md").read_text()))
    for readme in READMES:
        quoted = set(FIGURE.findall(prose(readme)))
        assert len(quoted) > 5, readme.name
        missing = sorted(f for f in quoted if f not in results)
        assert not missing, f"{readme.name} quotes figures docs/results.md does not hold: {missing}"


def test_the_figure_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("It took 12.5 s and reached 97.1% (1.7× faster) on a 28×28 input.\n"
                    "```\nnot 55.5% in a code block\n```\n[a link](docs/x.md#99.9%)\n")
    assert sorted(FIGURE.findall(prose(page))) == ["1.7×", "12.5 s", "97.1%"]


def parsers():
    from mnist import app, compare, data, export, prediction, report
    from mnist.flags import parse_args

    return {"train.py": parse_args, "predict.py": prediction.build_parser().parse_args,
            "compare.py": compare.build_parser().parse_args,
            "export.py": export.build_parser().parse_args, "app.py": app.build_parser().parse_args,
            "mnist.data": data.build_parser().parse_args,
            "mnist.report": report.build_parser().parse_args}


def commands(path: Path) -> list[tuple[str, list[str]]]:
    """(script, its arguments) of each project command in the file's bash blocks; a launch of
    train.py by paddle.distributed.launch counts as train.py with the arguments after it."""
    found = []
    for block in code_blocks(path, "bash"):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("#")[0].split("&&"):
                words = shlex.split(part)
                if not words or words[0] != "python":
                    continue
                words = words[1:]
                if words[:1] == ["-m"]:
                    words = words[1:]
                scripts = [i for i, w in enumerate(words) if w in parsers()]
                if scripts:
                    found.append((words[scripts[0]], words[scripts[0] + 1:]))
    return found


@pytest.mark.parametrize("page", READMES + DOCS, ids=lambda p: p.name)
def test_every_command_uses_only_flags_its_script_has(page):
    from mnist.cli import CliError

    table = parsers()
    for script, args in commands(page):
        try:
            table[script](args)
        except CliError as exc:
            pytest.fail(f"{page.name}: `{script} {' '.join(args)}`: {exc}")
        except SystemExit:  # --help
            pass


def test_the_readme_commands_are_checked():
    seen = {script for script, _args in commands(READMES[0])}
    assert {"train.py", "predict.py", "compare.py", "export.py", "app.py", "mnist.data"} <= seen
    with pytest.raises(Exception, match="unrecognized arguments: --epoch"):
        parsers()["train.py"](["--epoch", "3"])


def test_a_newcomers_first_steps_work_from_a_fresh_folder(tmp_path, mnist_dir):
    """What the README's quick start does, in a folder with no work/ yet: train (which builds
    the data and writes example pictures), predict the example the README names, compare."""
    env = {"MNIST_DIR": str(mnist_dir)}
    result = run_script("train.py", "--limit", "2000", "--epochs", "1", "--seed", "1",
                        "--run-dir", "work/runs/first", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "work" / "mnist.pdparams").is_file()
    result = run_script("predict.py", "work/examples/digit_7.png", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("work/examples/digit_7.png: "), result.stdout
    result = run_script("compare.py", "work/runs/first", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "work" / "compare.png").is_file()
