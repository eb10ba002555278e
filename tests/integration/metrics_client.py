"""Reads the relay's /metrics and /healthz, for the integration tests."""
import re
import urllib.error
import urllib.request

from harness import expect

# Label values are quoted strings that may hold any character (a route template's braces too), with \" and \\
# escaped.
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (\S+)$')


def get(port, path):
    """(status, content type, body); status 0 while nothing listens yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.headers.get("Content-Type"), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read().decode()
    except urllib.error.URLError:
        return 0, None, ""


def parse(text):
    """{(name, labels): value}; fails on any line that is not a comment or a sample."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        match = SAMPLE.match(line)
        expect(match, f"not a Prometheus sample line: {line!r}")
        samples[(match.group(1), match.group(3) or "")] = float(match.group(4))
    return samples


def metrics(port):
    status, _, body = get(port, "/metrics")
    expect(status == 200, f"/metrics answered {status}")
    return parse(body)
