#!/usr/bin/python3
"""The man pages (man/CMakeLists.txt) render without a warning, and say what the program and the docs say:
relay.toml(5) describes every key of docs/configuration.md, qq-gateway-relay(8) every option of every --help (the
relay's and each subcommand's), every subcommand, and every exit code and signal of docs/operations.md. The Chinese
pages (zh_CN/, from man/qq-gateway-relay.8.zh.md and docs/zh/) are held to the same: the English docs and the
program, not the Chinese docs, say what they must describe."""
import gzip
import os
import re
import subprocess
import unicodedata

from harness import RELAY_BIN, Checks, expect

BUILD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(RELAY_BIN)))
SOURCE_DIR = os.path.abspath(os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
PAGES = {"relay.toml.5": "RELAY.TOML(5)", "qq-gateway-relay.8": "QQ-GATEWAY-RELAY(8)",
         "zh_CN/man5/relay.toml.5": "RELAY.TOML(5)", "zh_CN/man8/qq-gateway-relay.8": "QQ-GATEWAY-RELAY(8)"}
# The section names of each language's qq-gateway-relay(8) (the headings of man/qq-gateway-relay.8*.md) and how the
# Chinese docs list several signals in one row.
LANGUAGES = {
    "en": {"relay.toml(5)": "relay.toml.5", "qq-gateway-relay(8)": "qq-gateway-relay.8", "OPTIONS": "OPTIONS",
           "SUBCOMMANDS": "SUBCOMMANDS", "EXIT STATUS": "EXIT STATUS", "SIGNALS": "SIGNALS"},
    "zh_CN": {"relay.toml(5)": "zh_CN/man5/relay.toml.5", "qq-gateway-relay(8)": "zh_CN/man8/qq-gateway-relay.8",
              "OPTIONS": "选项", "SUBCOMMANDS": "子命令", "EXIT STATUS": "退出状态", "SIGNALS": "信号"},
}
# Options the page describes as a family: `--curve-*` stands for every --curve-... option of `sub`.
FAMILIES = ("--curve-",)


def page(name):
    return os.path.join(BUILD_DIR, "man", name)


def unescape(line):
    """A roff text line as it reads: fonts, \\- and the break and zero-width escapes removed."""
    line = re.sub(r"\\f[BIRP]", "", line).replace("\\-", "-").replace("\\&", "").replace("\\:", "")
    return line.replace("\\e", "\\")


def sections(name):
    """The page's sections (.SH), each a list of its roff lines."""
    found, current = {}, None
    with open(page(name), encoding="utf-8") as f:
        for line in f.read().splitlines():
            if line.startswith(".SH "):
                current = unescape(line[4:]).strip('"')
                found[current] = []
            elif current:
                found[current].append(line)
    return found


def columns(line):
    """How wide a line of man's output is in a terminal: a Chinese character takes two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def tags(lines):
    """The tags of a section's tagged list (the line after each .TP)."""
    return [unescape(lines[i + 1]) for i, line in enumerate(lines[:-1]) if line == ".TP"]


def entry(lines, tag_start):
    """The text of the tagged paragraph whose tag starts with tag_start, up to the next .TP or .SS."""
    out, inside = [], False
    for i, line in enumerate(lines):
        if line in (".TP", ".SS") or line.startswith(".SS "):
            inside = i + 1 < len(lines) and unescape(lines[i + 1]).startswith(tag_start)
        elif inside and not line.startswith("."):
            out.append(unescape(line))
    return " ".join(out)


def text(lines):
    return " ".join(unescape(line) for line in lines if not line.startswith("."))


def help_text(*command):
    result = subprocess.run([RELAY_BIN, *command, "--help"], capture_output=True, text=True, timeout=10)
    expect(result.returncode == 0, f"{command} --help: {result.returncode}")
    return result.stdout


def help_options(text):
    """Every option name in a --help's Options: section (-h, --help, --config, ...)."""
    names, inside = [], False
    for line in text.splitlines():
        if line.startswith("Options:"):
            inside = True
        elif inside and not line.strip():
            inside = False
        elif inside and re.match(r"  -", line):
            names.extend(re.findall(r"--?[A-Za-z0-9][\w-]*", line.split()[0]))
    return names


def help_subcommands(text):
    names, inside = [], False
    for line in text.splitlines():
        if line.startswith("Subcommands:"):
            inside = True
        elif inside and re.match(r"  \S", line):
            names.append(line.split()[0])
        elif inside and not line.strip():
            inside = False
    return names


def markdown_section(path, title):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    expect(match, f"{path} has no section {title}")
    return match.group(1)


def main():
    checks = Checks()

    def pages_render_without_warnings():
        for name, title in PAGES.items():
            for path in (page(name), page(name) + ".gz"):
                expect(os.path.isfile(path), f"{path} is not built (target man_pages)")
            with open(page(name), encoding="utf-8") as f, gzip.open(page(name) + ".gz", "rt", encoding="utf-8") as z:
                expect(f.read() == z.read(), f"{name}.gz is not {name}")
            # -k: preconv, as man runs it (the Chinese pages are UTF-8; the English ones ASCII).
            result = subprocess.run(["groff", "-k", "-man", "-Tutf8", "-ww", "-z", page(name)], capture_output=True,
                                    text=True, timeout=30, env=dict(os.environ, LC_ALL="C.UTF-8"))
            expect(result.returncode == 0 and not result.stderr, f"groff -ww {name}: {result.stderr}")
            # man(1) as a reader runs it: preprocessors, the gzipped file, an 80-column terminal.
            result = subprocess.run(["man", "--warnings", "-l", page(name) + ".gz"], capture_output=True, text=True,
                                    timeout=30, env=dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80"))
            expect(result.returncode == 0 and not result.stderr, f"man -l {name}: {result.stderr}")
            expect(result.stdout.startswith(title), f"man -l {name}: {result.stdout[:200]!r}")
            wide = [line for line in result.stdout.splitlines() if columns(line) > 80]
            expect(not wide, f"man -l {name} is wider than 80 columns: {wide}")
            lines = len(result.stdout.splitlines())
            # mandb indexes the NAME line as lexgrog reads it (whatis, apropos): the Chinese one too.
            result = subprocess.run(["lexgrog", page(name) + ".gz"], capture_output=True, text=True, timeout=30,
                                    env=dict(os.environ, LC_ALL="C.UTF-8"))
            whatis = os.path.basename(name).rsplit(".", 1)[0] + " - "
            expect(result.returncode == 0 and f': "{whatis}' in result.stdout, f"lexgrog {name}: {result.stdout}"
                   f"{result.stderr}")
            print(f"  {name}: {lines} lines; {result.stdout.split(': ', 1)[1].strip()}")
    checks.run("the four pages (English, Chinese) render with groff -ww and man --warnings -l, without a warning, "
               "in 80 columns, and lexgrog reads their NAME line", pages_render_without_warnings)

    def chinese_pages_are_chinese():
        for name in ("zh_CN/man5/relay.toml.5", "zh_CN/man8/qq-gateway-relay.8"):
            with open(page(name), encoding="utf-8") as f:
                head = f.read().splitlines()[:12]
            expect('.\\" -*- coding: UTF-8 -*-' in head[:2], f"{name}: no coding tag in {head[:2]}")
            # man-db names a page's sections in its language; these are the ones of Debian's Chinese pages.
            expect(".SH 名称" in head and ".SH 概述" in head, f"{name}: {head}")
            # The NAME line in UTF-8, not as \[u...] glyphs, or apropos would find "[u628A]..." for it.
            whatis = subprocess.run(["lexgrog", page(name) + ".gz"], capture_output=True, text=True, timeout=30,
                                    env=dict(os.environ, LC_ALL="C.UTF-8")).stdout
            expect(re.search(r' - [^"]*[\u4e00-\u9fff]', whatis) and "[u" not in whatis, f"lexgrog {name}: {whatis}")
    checks.run("the Chinese pages are UTF-8 with a coding tag, and have Chinese section names and NAME lines",
               chinese_pages_are_chinese)

    def every_configuration_key(language):
        with open(os.path.join(SOURCE_DIR, "docs", "configuration.md"), encoding="utf-8") as f:
            keys = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| (?:string|integer|boolean|array)", f.read(), re.M)
        expect(len(keys) > 50, f"only {len(keys)} keys found in docs/configuration.md")
        name = LANGUAGES[language]["relay.toml(5)"]
        described = set(tag for lines in sections(name).values() for tag in tags(lines))
        missing = [key for key in keys if key not in described]
        expect(not missing, f"{name} does not describe {missing}")
        print(f"  {name}: {len(keys)} keys")
    for language in LANGUAGES:
        checks.run(f"relay.toml(5) ({language}) describes every key of docs/configuration.md",
                   lambda language=language: every_configuration_key(language))

    def every_option_and_subcommand(language):
        words = LANGUAGES[language]
        page_sections = sections(words["qq-gateway-relay(8)"])
        expect(words["OPTIONS"] in page_sections and words["SUBCOMMANDS"] in page_sections,
               f"sections: {list(page_sections)}")
        page_sections["OPTIONS"] = page_sections[words["OPTIONS"]]
        page_sections["SUBCOMMANDS"] = page_sections[words["SUBCOMMANDS"]]
        main_help = help_text()
        commands = help_subcommands(main_help)
        expect({"keygen", "api-key"} <= set(commands), commands)
        subcommand_tags = [tag.split()[0] for tag in tags(page_sections["SUBCOMMANDS"])]
        missing = [name for name in commands if name not in subcommand_tags]
        expect(not missing, f"SUBCOMMANDS lacks {missing}")
        options_text = text(page_sections["OPTIONS"])
        for option in help_options(main_help):
            expect(re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", options_text), f"OPTIONS lacks {option}")
        for name in commands:
            described = entry(page_sections["SUBCOMMANDS"], name + " ") + " " + \
                entry(page_sections["SUBCOMMANDS"], name)
            for option in help_options(help_text(name)):
                if option in ("-h", "--help"):
                    continue  # described once, under OPTIONS
                family = next((f for f in FAMILIES if option.startswith(f)), None)
                expect(re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", described) or
                       (family and family + "*" in described), f"SUBCOMMANDS {name} lacks {option}")
        print(f"  {words['qq-gateway-relay(8)']}: subcommands {', '.join(commands)}")
    for language in LANGUAGES:
        checks.run(f"qq-gateway-relay(8) ({language}) describes every option of every --help and every subcommand",
                   lambda language=language: every_option_and_subcommand(language))

    def every_exit_code_and_signal(language):
        words = LANGUAGES[language]
        page_sections = sections(words["qq-gateway-relay(8)"])
        expect(words["EXIT STATUS"] in page_sections and words["SIGNALS"] in page_sections,
               f"sections: {list(page_sections)}")
        operations = os.path.join(SOURCE_DIR, "docs", "operations.md")
        codes = re.findall(r"^\| \*\*(\d+)\*\* \|", markdown_section(operations, "Exit codes"), re.M)
        expect(sorted(codes) == sorted(["0", "1", "77", "78"]), codes)
        described = tags(page_sections[words["EXIT STATUS"]])
        expect(sorted(described) == sorted(codes), f"EXIT STATUS: {described}")
        signal_rows = re.findall(r"^\| (SIG[A-Z, ]+) \|", markdown_section(operations, "Signals"), re.M)
        signal_names = [name.strip() for row in signal_rows for name in row.split(",")]
        expect(len(signal_names) >= 4, signal_names)
        signal_tags = [name.strip() for tag in tags(page_sections[words["SIGNALS"]])
                       for name in re.split("[,、]", tag)]
        missing = [name for name in signal_names if name not in signal_tags]
        expect(not missing, f"SIGNALS lacks {missing}")
        print(f"  {words['qq-gateway-relay(8)']}: exit codes {', '.join(codes)}; signals {', '.join(signal_names)}")
    for language in LANGUAGES:
        checks.run(f"qq-gateway-relay(8) ({language}) gives every exit code and signal of docs/operations.md",
                   lambda language=language: every_exit_code_and_signal(language))
    checks.finish()


if __name__ == "__main__":
    main()
