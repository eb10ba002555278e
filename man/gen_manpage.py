#!/usr/bin/python3
"""Turns the project's Markdown into a man page (roff, the man macros), so that the man pages and the docs come
from one source: relay.toml(5) is docs/configuration.md, and qq-gateway-relay(8) is man/qq-gateway-relay.8.md,
which pulls its exit codes and signals from docs/operations.md (`<!-- include docs/FILE.md#section -->`, from
the repository's root).

Only the Markdown the docs use: headings, paragraphs, `*`/`-`/`1.` lists, fenced code, tables, `code`, **bold**,
*italic* and [links](target). A table becomes a tagged list (the first column is the tag): a man page is read in
a terminal, where a wide table does not fit. Standard library only; the build runs it (CMakeLists.txt).

  gen_manpage.py --name relay.toml --section 5 --summary "..." --version 0.1.0 [--skip SECTION] SOURCE.md OUT
writes OUT and OUT.gz (gzip -9n: no name, no time stamp, as Debian wants).
"""
import argparse
import gzip
import os
import re
import sys
import textwrap

# The widest verbatim line: 80 columns less the page's indent (7) and the block's (2).
k_code_width = 71


def escape(text):
    """Roff-escapes plain text (no markup yet); anything outside ASCII (Chinese too) as a named glyph, which groff
    reads whatever the input encoding."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)


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


def line_safe(text):
    """A text line must not start with . or ' (a request) nor be empty-looking."""
    text = text.strip()
    return "\\&" + text if text[:1] in (".", "'") else text


def split_row(line):
    line = line.strip()[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)]


def table(rows):
    """A Markdown table as a tagged list. Configuration key tables put type, default and reload in the tag's line."""
    header = [cell.strip("`* ").lower() for cell in rows[0]]
    body = rows[2:]
    out = []
    for row in body:
        row = row + [""] * (len(header) - len(row))
        out.append(".TP")
        out.append(line_safe(inline(row[0])))
        if header[:5] == ["key", "type", "default", "allowed values", "change needs"]:
            out.append(line_safe(f"{inline(row[1])}; default {inline(row[2])}; change needs: {inline(row[4])}."))
            out.append(".br")
            out.append(line_safe(inline(row[3])))
        elif len(header) == 2:
            out.append(line_safe(inline(row[1])))
        else:
            out.append(line_safe("; ".join(f"{escape(header[i])}: {inline(row[i])}" for i in range(1, len(header)))))
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


def convert(lines, skip):
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
                out.append(".SH " + line_safe(inline(re.sub(r"`", "", title)).upper()))
            else:
                out.append(".SS " + line_safe(inline(title)))
            i += 1
            continue
        if skipping or not stripped:
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
            out.extend(table(rows))
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
            out.append(line_safe(inline(" ".join(text))))
            continue
        text = []
        while i < len(lines) and lines[i].strip() and not re.match(r"\s*(#|```|\||[*-] |\d+\. )", lines[i]):
            text.append(lines[i].strip())
            i += 1
        out.append(".PP")
        out.append(line_safe(inline(" ".join(text))))
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
    parser.add_argument("source")
    parser.add_argument("output")
    args = parser.parse_args()
    with open(args.source, encoding="utf-8") as f:
        lines = expand_includes(f.read().splitlines(), os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    page = [f'.\\" Generated by man/gen_manpage.py from {os.path.basename(args.source)}: edit that, not this.',
            f'.TH "{args.name.upper()}" "{args.section}" "" "qq-gateway-relay {args.version}" "qq-gateway-relay"',
            ".nh", ".ad l",
            ".SH NAME", f"{escape(args.name)} \\- {plain(args.summary)}"]
    if args.synopsis:
        page.append(".SH SYNOPSIS")
        for n, synopsis in enumerate(args.synopsis):
            page.extend(([".br"] if n else []) + [line_safe(inline(synopsis))])
    body = convert(lines, set(args.skip))
    if body and not body[0].startswith(".SH"):
        page.append(".SH DESCRIPTION")  # the text before the source's first section
    page.extend(body)
    if args.see_also:
        page.extend([".SH SEE ALSO", line_safe(inline(args.see_also))])
    text = "\n".join(page) + "\n"
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    with open(args.output + ".gz", "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as packed:
            packed.write(text.encode("utf-8"))


if __name__ == "__main__":
    main()
