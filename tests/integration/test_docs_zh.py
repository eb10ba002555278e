#!/usr/bin/python3
"""The Chinese documentation keeps up with the English and with the code; no relay is started.

* every key of daemon/config/key_table.cpp has its row in docs/zh/configuration.md, and the row's last column
  ("修改后需要") says 重载 exactly for the keys the table marks k_reload;
* every intent name of docs/configuration.md is in docs/zh/configuration.md;
* every metric documented in English (a `qq_relay_...` name anywhere in docs/, or a row of the metrics table of
  docs/operations.md, whose names leave out the prefix) is named somewhere in docs/zh/;
* every relative link in README.md, README.zh-CN.md, docs/*.md and docs/zh/*.md names a file that exists, and its
  #anchor, when the target is Markdown, a heading of that file (GitHub's slugs: lowercase, spaces to '-',
  punctuation removed, CJK kept) or an <a id="..."> in it.

QQ_SOURCE_DIR overrides the source tree (to check a copy)."""
import os
import re
import unicodedata

from harness import Checks, expect

SOURCE = os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))

# Pages of docs/zh/ still to be written: links to them are listed, not failed. Empty while every page exists.
PENDING_ZH_PAGES = set()


def read(relative):
    with open(os.path.join(SOURCE, relative), encoding="utf-8") as file:
        return file.read()


def markdown_files():
    files = ["README.md", "README.zh-CN.md"]
    for folder in ("docs", os.path.join("docs", "zh")):
        files += sorted(os.path.join(folder, name) for name in os.listdir(os.path.join(SOURCE, folder))
                        if name.endswith(".md"))
    return [name for name in files if os.path.exists(os.path.join(SOURCE, name))]


def without_code(text):
    """The text with fenced blocks and inline code blanked out, so that examples are not taken for links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def key_table():
    """(section.key, applies on reload) in table order."""
    rows = re.findall(r'KeySpec\{"(\w+)",\s*"(\w+)",[^}]*?\b(k_reload|k_restart)\b', read("daemon/config/key_table.cpp"))
    return [(f"{section}.{key}", change == "k_reload") for section, key, change in rows]


def github_slug(heading):
    """GitHub's anchor for a heading: lowercase; letters, marks, digits, '_', '-' and spaces kept; spaces to '-'."""
    heading = re.sub(r"<[^>]+>", "", heading).strip().lower()
    kept = "".join(c for c in heading
                   if c in " -" or unicodedata.category(c)[0] in "LMN" or unicodedata.category(c) == "Pc")
    return kept.replace(" ", "-")


def anchors(relative):
    text = re.sub(r"^```.*?^```", "", read(relative), flags=re.S | re.M)
    found = set(re.findall(r'<a (?:id|name)="([^"]+)"', text))
    seen = {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, flags=re.M):
        slug = github_slug(heading)
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


def check_every_key_in_chinese():
    zh = read("docs/zh/configuration.md")
    keys = key_table()
    expect(len(keys) >= 50, f"only {len(keys)} keys parsed from key_table.cpp")
    problems = []
    for name, on_reload in keys:
        row = re.search(r"^\| `" + re.escape(name) + r"` \|.*\|$", zh, flags=re.M)
        if not row:
            problems.append(f"{name}: no row")
            continue
        change = row.group(0).rstrip("|").rsplit("|", 1)[1].strip()
        if change.startswith("重载") != on_reload:
            problems.append(f"{name}: change column {change!r}, but the key table says "
                            f"{'reload' if on_reload else 'restart'}")
    expect(not problems, "docs/zh/configuration.md: " + "; ".join(problems))


def check_every_intent_in_chinese():
    english, zh = read("docs/configuration.md"), read("docs/zh/configuration.md")
    intents = set(re.findall(r"^\| `([A-Z0-9_]+)` \| \d+ \| \d+ \|$", english, flags=re.M))
    expect(len(intents) >= 15, f"only {len(intents)} intents in docs/configuration.md")
    missing = sorted(name for name in intents if f"`{name}`" not in zh)
    expect(not missing, f"intents missing from docs/zh/configuration.md: {missing}")


def english_metrics():
    names = set()
    for name in os.listdir(os.path.join(SOURCE, "docs")):
        if name.endswith(".md"):
            names |= set(re.findall(r"qq_relay_[a-z_]*[a-z]", read(os.path.join("docs", name))))
    operations = read("docs/operations.md")
    table = operations[operations.index("## Metrics and health"):]
    table = table[:table.index("\n## ")]
    for row in re.findall(r"^\| (`.+?`) \|", table, flags=re.M):
        names |= {"qq_relay_" + short for short in re.findall(r"`([a-z_]+)(?:\{[^`]*\})?`", row)}
    return names


def check_every_metric_in_chinese():
    metrics = english_metrics()
    expect(len(metrics) >= 50, f"only {len(metrics)} metrics found in the English docs")
    zh = "".join(read(os.path.join("docs", "zh", name))
                 for name in os.listdir(os.path.join(SOURCE, "docs", "zh")) if name.endswith(".md"))
    missing = []
    for full in sorted(metrics):
        short = full[len("qq_relay_"):]
        if not re.search(r"\b" + full + r"\b", zh) and f"`{short}`" not in zh and f"`{short}{{" not in zh:
            missing.append(full)
    expect(not missing, f"metrics documented in English but not in docs/zh/: {missing}")


def check_links():
    broken, pending = [], []
    for page in markdown_files():
        folder = os.path.dirname(page)
        for target in re.findall(r"\]\(([^)\s]+)\)", without_code(read(page))):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(folder, path)) if path else page
            if not os.path.exists(os.path.join(SOURCE, resolved)):
                if os.path.dirname(resolved) == os.path.join("docs", "zh") and \
                        os.path.basename(resolved) in PENDING_ZH_PAGES:
                    pending.append(f"{page} -> {target}")
                else:
                    broken.append(f"{page} -> {target}: no such file")
                continue
            if anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
                broken.append(f"{page} -> {target}: no heading with anchor #{anchor}")
    for link in pending:
        print(f"waiting for a docs/zh page still to be merged: {link}", flush=True)
    expect(not broken, "broken links: " + "; ".join(broken))


def check_readmes_link_each_other():
    head = "\n".join(read("README.md").splitlines()[:5])
    expect("(README.zh-CN.md)" in head, "README.md does not link README.zh-CN.md in its first lines")
    expect("(README.md)" in read("README.zh-CN.md"), "README.zh-CN.md does not link back to README.md")


def check_slugs():
    expect(github_slug("`[gateway]`: the connection to QQ") == "gateway-the-connection-to-qq", "ASCII slug")
    expect(github_slug("`[bot]`：机器人身份") == "bot机器人身份", "CJK slug")
    expect(github_slug("Access control: CURVE") == "access-control-curve", "colon")


checks = Checks()
checks.run("GitHub slugs of headings", check_slugs)
checks.run("every key of key_table.cpp in docs/zh/configuration.md", check_every_key_in_chinese)
checks.run("every intent in docs/zh/configuration.md", check_every_intent_in_chinese)
checks.run("every metric documented in English is in docs/zh/", check_every_metric_in_chinese)
checks.run("every relative link and anchor resolves", check_links)
checks.run("README.md and README.zh-CN.md link each other", check_readmes_link_each_other)
checks.finish()
