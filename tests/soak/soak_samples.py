"""What the soak run measures of the relay every few seconds (from /proc, its state directory and /metrics), the
least-squares slopes of the resource columns, and the plot."""
import csv
import http.client
import os
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DISK_WINDOW_S = 60

# Metrics kept in the CSV: the name in the file, and the Prometheus family (summed over its labels).
METRICS = [
    ("retained_bytes", "qq_relay_retained_bytes"),
    ("retained_messages", "qq_relay_retained_messages"),
    ("relay_seq", "qq_relay_relay_seq"),
    ("published", "qq_relay_messages_published_total"),
    ("duplicates_dropped", "qq_relay_duplicates_dropped_total"),
    ("resumes", "qq_relay_resumes_total"),
    ("identifies", "qq_relay_identifies_total"),
    ("disconnects", "qq_relay_disconnects_total"),
    ("zombies", "qq_relay_zombie_connections_total"),
    ("token_refreshes", "qq_relay_token_refreshes_total"),
    ("webhook_requests", "qq_relay_webhook_requests_total"),
    ("replay_requests", "qq_relay_replay_requests_total"),
    ("replay_queued_bytes", "qq_relay_replay_queued_bytes"),
    ("downstream_events_sent", "qq_relay_downstream_events_sent_total"),
    ("config_reloads", "qq_relay_config_reloads_total"),
    ("heartbeat_rtt_max_s", "qq_relay_heartbeat_rtt_seconds"),  # the max over shards, not the sum
    ("loop_lag_s", "qq_relay_event_loop_lag_seconds"),  # the largest timer lateness of the last 10 s
]

COLUMNS = (["t_s", "pid", "rss_kib", "fds", "threads", "cpu_s", "journal_bytes", "journal_bytes_now",
            "healthz_ms"] +
           [name for name, _ in METRICS] + ["sim_rss_kib"])


def proc_stats(pid):
    """RSS (KiB), open descriptors, threads and CPU seconds (user + system) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    rss = int(status["VmRSS"].split()[0])
    threads = int(status["Threads"])
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15 of stat)
    return rss, fds, threads, cpu


def directory_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except FileNotFoundError:
                pass  # a segment deleted while we walked
    return total


def http_get(port, path, timeout=5):
    """(body, seconds the answer took), or (None, None)."""
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        body = conn.getresponse().read().decode()
        conn.close()
    except OSError:
        return None, None
    return body, time.monotonic() - started


def parse_metrics(text):
    """{family: value}: counters and gauges summed over their labels, heartbeat RTT as the max."""
    sums = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        family = name_part.split("{", 1)[0]
        try:
            number = float(value)
        except ValueError:
            continue
        if family == "qq_relay_heartbeat_rtt_seconds":
            sums[family] = max(sums.get(family, 0.0), number)
        else:
            sums[family] = sums.get(family, 0.0) + number
    return sums


class Sampler:
    def __init__(self, path, metrics_port, journal_dir):
        self.path = path
        self.metrics_port = metrics_port
        self.journal_dir = journal_dir
        self.rows = []
        self.disk_readings = []
        self.file = open(path, "w", newline="")
        self.writer = csv.DictWriter(self.file, COLUMNS)
        self.writer.writeheader()

    def read_disk(self, t):
        """Called every second. The journal's size saws between the limit less one segment and the limit (a tooth
        takes about 30 s at 1000 events/s), so a sample carries the largest reading of the last DISK_WINDOW_S: the
        top of the teeth, flat while old segments are deleted, rising with anything that is not. A fit over
        single readings would mostly measure where the samples fell on the teeth."""
        self.disk_readings.append((t, directory_bytes(self.journal_dir)))
        while self.disk_readings and self.disk_readings[0][0] < t - DISK_WINDOW_S:
            self.disk_readings.pop(0)

    def sample(self, t, relay_pid, sim_pid):
        row = {column: "" for column in COLUMNS}
        row["t_s"] = round(t, 2)
        stats = proc_stats(relay_pid) if relay_pid else None
        if stats is None:
            return None  # the relay is down (a restart in progress): no row
        row["pid"] = relay_pid
        row["rss_kib"], row["fds"], row["threads"], row["cpu_s"] = stats
        row["journal_bytes_now"] = directory_bytes(self.journal_dir)
        row["journal_bytes"] = max([row["journal_bytes_now"]] + [size for _, size in self.disk_readings])
        # /healthz is answered on the relay's event loop: its round trip is the loop's lag as a client sees it,
        # beside the relay's own measure (loop_lag_s, qq_relay_event_loop_lag_seconds).
        _, took = http_get(self.metrics_port, "/healthz")
        row["healthz_ms"] = round(took * 1000, 2) if took is not None else ""
        text, _ = http_get(self.metrics_port, "/metrics")
        if text:
            values = parse_metrics(text)
            for name, family in METRICS:
                if family in values:
                    row[name] = values[family]
        sim = proc_stats(sim_pid)
        row["sim_rss_kib"] = sim[0] if sim else ""
        self.rows.append(row)
        self.writer.writerow(row)
        self.file.flush()
        return row

    def close(self):
        self.file.close()


def slope(points):
    """Least-squares slope of [(x, y), ...]; None with fewer than 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx


def segments(rows):
    """The rows split by relay process (a restart starts a new segment): [(pid, start_t, [rows])]."""
    out = []
    for row in rows:
        if not out or out[-1][0] != row["pid"]:
            out.append((row["pid"], row["t_s"], []))
        out[-1][2].append(row)
    return out


def plot(rows, events, path, title):
    """RSS, descriptors, CPU and the event loop's lag (the relay's metric and the /healthz round trip) over time,
    with the relay restarts marked. False without matplotlib (python3-matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    t = [r["t_s"] / 60 for r in rows]
    figure, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=True)
    series = [("RSS (MiB)", [r["rss_kib"] / 1024 for r in rows]),
              ("open descriptors", [r["fds"] for r in rows]),
              ("CPU (% of one core)", cpu_percent(rows)),
              ("event loop lag (ms)", [r["healthz_ms"] if r["healthz_ms"] != "" else float("nan")
                                       for r in rows])]
    for axis, (label, values) in zip(axes, series):
        axis.plot(t, values, marker=".", linewidth=1, label="/healthz round trip" if axis is axes[-1] else None)
        axis.set_ylabel(label)
        axis.grid(True, alpha=0.3)
        for at, name in events:
            axis.axvline(at / 60, color="red" if name == "kill -9" else "orange", alpha=0.5, linewidth=1)
    axes[-1].plot(t, [r["loop_lag_s"] * 1000 if r.get("loop_lag_s", "") != "" else float("nan") for r in rows],
                  marker=".", linewidth=1, label="qq_relay_event_loop_lag_seconds (largest of 10 s)")
    axes[-1].legend(loc="upper right", fontsize="small")
    axes[0].set_title(title)
    axes[-1].set_xlabel("minutes (orange: relay restart, red: kill -9)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


def cpu_percent(rows):
    out = []
    for previous, row in zip([None] + rows[:-1], rows):
        if previous is None or previous["pid"] != row["pid"] or row["t_s"] == previous["t_s"]:
            out.append(float("nan"))
        else:
            out.append(100 * (row["cpu_s"] - previous["cpu_s"]) / (row["t_s"] - previous["t_s"]))
    return out
