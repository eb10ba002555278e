#!/usr/bin/python3
"""Turns the project's Markdown into a man page (roff, the man macros), so that the man pages and the docs come
from one source: relay.toml(5) is docs/configuration.md, and qq-gateway-relay(8) is man/qq-gateway-relay.8.md,
which pulls its exit codes and signals from docs/operations.md (`<!-- include docs/FILE.md#section -->`, from
the repository's root).

Only the Markdown the docs use: headings, paragraphs, `*`/`-`/`1.` lists, fenced code, tables, `code`, **bold**,
*italic* and [links](target). A table becomes a tagged list (the first column is the tag): a man page is read in
a terminal, where a wide table does not fit. Standard library only; the build runs it (CMakeLists.txt).

  gen_manpage.py --name relay.toml --section 5 --summary "..." --version 0.1.0 [--skip SECTION]
                [--language zh_CN] SOURCE.md OUT
writes OUT and OUT.gz (gzip -9n: no name, no time stamp, as Debian wants). --language zh_CN makes a Chinese page
from the Chinese docs: the page's own section names (NAME, SYNOPSIS...) and the key tables' words in Chinese, and
CJK line breaking (below).
"""
import argparse
import gzip
import os
import re
import sys
import textwrap
import unicodedata

# The widest verbatim line: 80 columns less the page's indent (7) and the block's (2).
k_code_width = 71

# What the script itself writes into a page, per language: the sections it adds, the header of a configuration
# key table (its columns, lower case) and the line it makes of such a row, and how other table rows join cells.
k_words = {
    "en": {"NAME": "NAME", "SYNOPSIS": "SYNOPSIS", "DESCRIPTION": "DESCRIPTION", "SEE ALSO": "SEE ALSO",
           "key table": ["key", "type", "default", "allowed values", "change needs"],
           "key line": "{type}; default {default}; change needs: {change}.", "cell": "{name}: {value}",
           "cells": "; "},
    # The section names of Debian's Chinese pages (manpages-zh, man-db's own zh_CN pages).
    "zh_CN": {"NAME": "名称", "SYNOPSIS": "概述", "DESCRIPTION": "描述", "SEE ALSO": "参见",
              "key table": ["配置项", "类型", "默认值", "取值", "修改后需要"],
              "key line": "{type}；默认值：{default}；修改后需要：{change}。", "cell": "{name}：{value}",
              "cells": "；"},
}
# Chinese has no spaces to break lines at: groff's zh.tmac lets a line break between CJK characters (keeping
# punctuation off the start of a line). man-db loads it (-mzh) for a page under a zh_CN/ directory; the page loads
# it itself when that did not happen (groff -man, man -l of a page elsewhere), or its paragraphs would not fit.
k_cjk_breaking = [".if !d locale .ds locale", ".if !'\\*[locale]'chinese' .mso zh.tmac"]


# Whether text outside ASCII is written as UTF-8 (a Chinese page) rather than as named glyphs (main() sets it).
utf8_text = False


def escape(text):
    """Roff-escapes plain text (no markup yet); anything outside ASCII as a named glyph, which groff reads whatever
    the input encoding. A Chinese page keeps it UTF-8 instead (and says so in its coding tag): mandb and apropos read
    the NAME line raw, and would index \\[u628A]... for Chinese; man-db's preconv turns it into the same glyphs."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "".join(c if ord(c) < 128 or utf8_text else f"\\[u{ord(c):04X}]" for c in text)


def code_span(code):
    """Literal text in bold. A long one (a metric with labels, a JSON line) may break after a comma, or it would
    not fit an indented paragraph."""
    text = escape(code)
    return "\\fB" + (text.replace(",", ",\\:") if len(code) > 30 else text) + "\\fR"


def inline(text):
    """Markdown inline markup to roff font changes; the result never starts a line with a control character."""
    out = []
    pattern = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])|\[([^\]]+)\]\(([^)]+)\)")
    pos = 0
    for match in pattern.finditer(text):
        out.append(plain(text[pos:match.start()]))
        code, bold, italic, link_text, _ = match.groups()
        if code is not None:
            out.append(code_span(code))
        elif bold is not None:
            out.append("\\fB" + inline(bold) + "\\fR")
        elif italic is not None:
            out.append("\\fI" + inline(italic) + "\\fR")
        else:
            out.append(inline(link_text))
        pos = match.end()
    out.append(plain(text[pos:]))
    return "".join(out)


def plain(text):
    text = text.replace("\\|", "|")
    text = re.sub(r"\\([\\`*_\[\]()#+!<>-])", r"\1", text)
    return escape(text)


def join_lines(lines, language):
    """A paragraph's source lines as one line. Chinese runs on without spaces: a line break between two CJK
    characters, or next to full-width punctuation (which has its own room), is no space."""
    if language == "en":
        return " ".join(lines)

    def wide(c):
        return unicodedata.east_asian_width(c) in "WF"

    joined = lines[0] if lines else ""
    for line in lines[1:]:
        before, after = joined[-1:] or " ", line.lstrip("`*[")[:1] or " "
        run_on = (wide(before) and wide(after)) or any(wide(c) and unicodedata.category(c)[0] == "P"
                                                       for c in (before, after))
        joined += ("" if run_on else " ") + line
    return joined


def line_safe(text):
    """A text line must not start with . or ' (a request) nor be empty-looking."""
    text = text.strip()
    return "\\&" + text if text[:1] in (".", "'") else text


def split_row(line):
    line = line.strip()[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)]


def table(rows, words):
    """A Markdown table as a tagged list. Configuration key tables put type, default and reload in the tag's line."""
    header = [cell.strip("`* ").lower() for cell in rows[0]]
    body = rows[2:]
    out = []
    for row in body:
        row = row + [""] * (len(header) - len(row))
        out.append(".TP")
        out.append(line_safe(inline(row[0])))
        if header[:5] == words["key table"]:
            key_line = escape(words["key line"])
            out.append(line_safe(key_line.format(type=inline(row[1]), default=inline(row[2]), change=inline(row[4]))))
            out.append(".br")
            out.append(line_safe(inline(row[3])))
        elif len(header) == 2:
            out.append(line_safe(inline(row[1])))
        else:
            cell = escape(words["cell"])
            out.append(line_safe(escape(words["cells"]).join(
                cell.format(name=escape(header[i]), value=inline(row[i])) for i in range(1, len(header)))))
    return out


def section_text(path, anchor):
    """The body of the `## ` section of path whose title is anchor (as in a Markdown link: lower case, dashes)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    body, inside = [], False
    for line in lines:
        if line.startswith("## "):
            if inside:
                break
            inside = slug(line[3:]) == anchor
            continue
        if inside:
            body.append(line)
    if not inside and not body:
        sys.exit(f"gen_manpage.py: {path} has no section #{anchor}")
    return body


def slug(title):
    title = re.sub(r"[`*]", "", title.strip().lower())
    return re.sub(r"[^\w\- ]", "", title).replace(" ", "-")


def expand_includes(lines, base):
    out = []
    in_comment = False
    for line in lines:
        match = re.fullmatch(r"<!-- include (\S+)#(\S+) -->", line.strip())
        if match:
            out.extend(section_text(os.path.join(base, match.group(1)), match.group(2)))
        elif in_comment or line.strip().startswith("<!--"):
            in_comment = "-->" not in line
        else:
            out.append(line)
    return out


def convert(lines, skip, words, language):
    out = []
    i = 0
    skipping = False
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            title = line[level:].strip()
            if level == 2:
                skipping = title in skip
            if level == 1 or skipping:
                i += 1
                continue
            if level == 2:
                # Upper case before the escapes: \[u00E9] is a glyph, \[U00E9] is not.
                out.append(".SH " + line_safe(inline(re.sub(r"`", "", title).upper())))
            else:
                out.append(".SS " + line_safe(inline(title)))
            i += 1
            continue
        # An HTML anchor (the Chinese docs keep the English headings' anchors so) is for links, not text.
        if skipping or not stripped or re.fullmatch(r'<a (id|name)="[^"]*"></a>', stripped):
            i += 1
            continue
        if stripped.startswith("```"):
            i += 1
            out.extend([".PP", ".RS 2", ".nf"])
            while i < len(lines) and not lines[i].strip().startswith("```"):
                # A man page is read in a terminal of 80 columns, 9 of them taken by the indent: a longer
                # line goes on, indented, on the next.
                for part in textwrap.wrap(lines[i], k_code_width, subsequent_indent="    ", break_long_words=False,
                                          break_on_hyphens=False) or [""]:
                    out.append("\\&" + escape(part))
                i += 1
            out.extend([".fi", ".RE"])
            i += 1
            continue
        if stripped.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(split_row(lines[i]))
                i += 1
            out.append(".PP")
            out.extend(table(rows, words))
            continue
        bullet = re.match(r"(\s*)([*-]|\d+\.) (.*)", line)
        if bullet:
            marker = "\\(bu" if bullet.group(2) in ("*", "-") else bullet.group(2)
            text = [bullet.group(3)]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip() and \
                    not re.match(r"\s*([*-]|\d+\.) ", lines[i]):
                text.append(lines[i].strip())
                i += 1
            out.append(f".IP {marker} 4")
            out.append(line_safe(inline(join_lines(text, language))))
            continue
        text = []
        while i < len(lines) and lines[i].strip() and not re.match(r"\s*(#|```|\||[*-] |\d+\. )", lines[i]):
            text.append(lines[i].strip())
            i += 1
        out.append(".PP")
        out.append(line_safe(inline(join_lines(text, language))))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--section", required=True)
    parser.add_argument("--summary", required=True, help="the NAME line's text after the dash")
    parser.add_argument("--version", required=True)
    parser.add_argument("--skip", action="append", default=[], help="a `## ` section left out (repeatable)")
    parser.add_argument("--synopsis", action="append", default=[], help="a SYNOPSIS line (repeatable)")
    parser.add_argument("--see-also", default="", help="the SEE ALSO section's text (Markdown)")
    parser.add_argument("--language", default="en", choices=sorted(k_words), help="the page's language")
    parser.add_argument("source")
    parser.add_argument("output")
    args = parser.parse_args()
    with open(args.source, encoding="utf-8") as f:
        lines = expand_includes(f.read().splitlines(), os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    global utf8_text
    utf8_text = args.language != "en"
    page = [f'.\\" Generated by man/gen_manpage.py from {os.path.basename(args.source)}: edit that, not this.']
    if utf8_text:
        page.append('.\\" -*- coding: UTF-8 -*-')  # for preconv (groff -k) and man-db, which look at two lines
    page += [f'.TH "{args.name.upper()}" "{args.section}" "" "qq-gateway-relay {args.version}" "qq-gateway-relay"',
             ".nh", ".ad l"]
    words = k_words[args.language]
    if args.language == "zh_CN":
        page.extend(k_cjk_breaking)
    page.extend([".SH " + escape(words["NAME"]), f"{escape(args.name)} \\- {plain(args.summary)}"])
    if args.synopsis:
        page.append(".SH " + escape(words["SYNOPSIS"]))
        for n, synopsis in enumerate(args.synopsis):
            page.extend(([".br"] if n else []) + [line_safe(inline(synopsis))])
    body = convert(lines, set(args.skip), words, args.language)
    if body and not body[0].startswith(".SH"):
        page.append(".SH " + escape(words["DESCRIPTION"]))  # the text before the source's first section
    page.extend(body)
    if args.see_also:
        page.extend([".SH " + escape(words["SEE ALSO"]), line_safe(inline(args.see_also))])
    text = "\n".join(page) + "\n"
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    with open(args.output + ".gz", "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as packed:
            packed.write(text.encode("utf-8"))


if __name__ == "__main__":
    main()
