#!/usr/bin/python3
"""The command line: configuration errors, --check-config, --version, the exit code for refused credentials,
--help that fits 80 columns and names the docs, and start-up errors that end with the next step."""
import os
import re
import socket
import subprocess

from harness import RELAY_BIN, SIM_BIN, Checks, Relay, Sim, relay_config, wait_for, workdir
from tls_certs import make_certificate

SECRET = "s3cr3t-Never-Print-Me"


def run(*args, timeout=10):
    return subprocess.run([RELAY_BIN, *args], capture_output=True, text=True, timeout=timeout)


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def subcommands(help_text):
    """The subcommand names listed under "Subcommands:" in a --help."""
    names, inside = [], False
    for line in help_text.splitlines():
        if line.startswith("Subcommands:"):
            inside = True
        elif inside and re.match(r"  \S", line):
            names.append(line.split()[0])
        elif inside and not line.strip():
            inside = False
    return names


def minimal_config(tmp, extra):
    """A configuration that needs nothing from the platform (no gateway), with `extra` appended."""
    return (f'[bot]\napp_id = "1"\nclient_secret = "x"\nintents = 1\n[gateway]\nenabled = false\n'
            f'[state]\ndirectory = "{tmp}/state"\n{extra}')


def taken_port():
    """A listening socket on a loopback port, which the relay's bind then finds in use."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder, holder.getsockname()[1]


def main():
    checks = Checks()
    tmp = workdir()

    def config_errors_exit_78_naming_file_line_and_key():
        cases = {
            "typo.toml": ('[bot]\napp_id = "1"\nclient_secret = "x"\nintents = ["GUILDS"]\n[gateway]\nshard = 2\n',
                          "typo.toml:6: gateway.shard: unknown key (did you mean gateway.shards?)"),
            "intent.toml": ('[bot]\napp_id = "1"\nclient_secret = "x"\nintents = ["GUILD"]\n',
                            'intent.toml:4: bot.intents: unknown intent "GUILD" (did you mean "GUILDS"?)'),
            "type.toml": ('[bot]\napp_id = 1\nclient_secret = "x"\nintents = 1\n',
                          "type.toml:2: bot.app_id: expected a string, got an integer"),
            "missing.toml": ('[bot]\nclient_secret = "x"\nintents = 1\n',
                             "missing.toml:1: bot.app_id: required key is missing"),
        }
        for name, (text, expected) in cases.items():
            path = write(tmp, name, text)
            result = run("--config", path)
            assert result.returncode == 78, (name, result.returncode, result.stderr)
            assert result.stderr.strip() == f"qq-gateway-relay: configuration error: {path[:-len(name)]}{expected}", \
                result.stderr

    checks.run("configuration errors exit 78 and name file:line and key", config_errors_exit_78_naming_file_line_and_key)

    def check_config_prints_a_summary_without_secrets():
        path = write(tmp, "ok.toml", f'[bot]\napp_id = "102000000"\nclient_secret = "{SECRET}"\nintents = 1\n')
        result = run("--config", path, "--check-config")
        assert result.returncode == 0, result
        assert result.stdout.startswith("config ok: app_id=102000000"), result.stdout
        assert SECRET not in result.stdout + result.stderr

    checks.run("--check-config prints one line and no secret", check_config_prints_a_summary_without_secrets)

    def cluster_keys_are_checked_and_the_redis_password_hidden():
        env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
        head = '[bot]\napp_id = "1"\nclient_secret = "x"\nintents = 1\n[gateway]\nshards = 2\n[cluster]\n'
        path = write(tmp, "cluster.toml", head + f'enabled = true\nnode = "n1"\nredis = "redis://:{SECRET}@10.0.0.5"\n')
        result = subprocess.run([RELAY_BIN, "--config", path, "--check-config"], capture_output=True, text=True,
                                timeout=10, env=env)
        assert result.returncode == 0, result
        assert result.stdout.strip().endswith(" cluster=n1 redis=redis://:***@10.0.0.5"), result.stdout
        assert SECRET not in result.stdout + result.stderr
        for name, text, expected in [
                ("rediss.toml", head + f'redis = "rediss://:{SECRET}@h"\n',
                 "rediss.toml:8: cluster.redis: rediss:// is not supported: TLS needs hiredis >= 1.0, "
                 "which Debian 12 does not have"),
                ("noshards.toml", head.replace("shards = 2\n", "") + "enabled = true\n",
                 "noshards.toml:7: cluster.enabled: needs gateway.shards set to a number, not \"auto\": set "
                 "gateway.shards to the same value on every relay (shard leases are keyed by [index, count])")]:
            path = write(tmp, name, text)
            result = subprocess.run([RELAY_BIN, "--config", path, "--check-config"], capture_output=True, text=True,
                                    timeout=10, env=env)
            assert result.returncode == 78, (name, result)
            assert result.stdout.strip() + result.stderr.strip() == \
                f"qq-gateway-relay: configuration error: {path[:-len(name)]}{expected}", result
            assert SECRET not in result.stdout + result.stderr

    checks.run("[cluster]: --check-config hides the Redis password, bad values exit 78",
               cluster_keys_are_checked_and_the_redis_password_hidden)

    def example_config_is_valid():
        example = os.path.join(os.environ.get("QQ_SOURCE_DIR", "."), "config", "relay.example.toml")
        result = run("--config", example, "--check-config")
        assert result.returncode == 0, result.stderr

    checks.run("config/relay.example.toml passes --check-config", example_config_is_valid)

    def version():
        result = run("--version")
        assert result.returncode == 0 and result.stdout.startswith("qq-gateway-relay "), result
        # The second line names the malloc the process really runs on: jemalloc in the default build
        # (RELAY_JEMALLOC, off under the sanitizers), glibc's otherwise.
        allocator = result.stdout.splitlines()[1]
        if os.environ.get("QQ_RELAY_JEMALLOC", "ON").upper() in ("ON", "1", "TRUE", "YES"):
            assert allocator.startswith("memory allocator: jemalloc 5."), result.stdout
        else:
            assert allocator == "memory allocator: glibc malloc", result.stdout

    checks.run("--version names the version and the memory allocator", version)

    def bad_log_level():
        path = write(tmp, "ok2.toml", '[bot]\napp_id = "1"\nclient_secret = "x"\nintents = 1\n')
        result = run("--config", path, "--log-level", "loud")
        assert result.returncode == 78 and "--log-level" in result.stderr, result

    checks.run("an unknown --log-level exits 78", bad_log_level)

    def refused_secret_exits_77_without_logging_it():
        sim = Sim(tmp)
        try:
            relay = Relay(tmp, relay_config(sim, f"ipc://{tmp}/r.sock", f"{tmp}/state", secret=SECRET))
            code = relay.proc.wait(60)
            relay.log.close()
            assert code == 77, code
            log = relay.log_text()
            assert "refusing" in log and SECRET not in log, log[-2000:]
            assert sim.get("/_sim/state")["token_requests"] >= 5
        finally:
            sim.stop()

    checks.run("a token endpoint that keeps refusing the secret exits 77", refused_secret_exits_77_without_logging_it)

    def help_fits_80_columns_and_names_the_docs():
        main_help = run("--help")
        assert main_help.returncode == 0, main_help
        commands = subcommands(main_help.stdout)
        assert {"keygen", "api-key"} <= set(commands), commands
        for command in [[]] + [[name] for name in commands]:
            result = run(*command, "--help")
            assert result.returncode == 0, (command, result)
            lines = result.stdout.splitlines()
            wide = [line for line in lines if len(line) > 80]
            assert not wide, (command, wide)
            usage = next(line for line in lines if line.startswith("Usage:"))
            assert usage.startswith(" ".join(["Usage: qq-gateway-relay"] + command)), usage
            footer = " ".join(lines[-4:])
            for name in ("man 8 qq-gateway-relay", "man 5 relay.toml", "man -L zh_CN", "operations.md",
                         "configuration.md", "docs/zh"):
                assert name in footer, (command, name, lines[-4:])

    checks.run("every --help fits 80 columns and ends naming the man pages and docs, English and Chinese",
               help_fits_80_columns_and_names_the_docs)

    def simulator_help_fits_80_columns():
        result = subprocess.run([SIM_BIN, "--help"], capture_output=True, text=True, timeout=10)
        assert result.returncode == 0, result
        lines = result.stdout.splitlines()
        wide = [line for line in lines if len(line) > 80]
        assert not wide, wide
        assert lines[1].startswith("Usage: qq-gateway-sim "), lines[1]
        assert "simulator.md" in " ".join(lines[-2:]), lines[-2:]

    checks.run("qq-gateway-sim --help fits 80 columns and names docs/simulator.md", simulator_help_fits_80_columns)

    def startup_error(name, extra, code, *hints):
        path = write(tmp, f"{name}.toml", minimal_config(tmp, extra))
        result = run("--config", path, timeout=30)
        assert result.returncode == code, (name, result.returncode, result.stderr[-2000:])
        for hint in hints:
            assert hint in result.stderr, (name, hint, result.stderr[-2000:])

    def taken_listen_port_names_the_key():
        holder, port = taken_port()
        try:
            startup_error("metrics-port", f'[metrics]\nlisten = "127.0.0.1:{port}"\n', 1,
                          f"cannot listen for metrics on 127.0.0.1:{port}: bind: Address already in use; "
                          "another process listens there", "stop it, or change metrics.listen")
        finally:
            holder.close()

    checks.run("a taken metrics port exits 1 and says to stop the other process or change metrics.listen",
               taken_listen_port_names_the_key)

    def taken_publish_endpoint_names_the_key():
        holder, port = taken_port()
        try:
            startup_error("publish-port", f'[publish]\nendpoints = ["tcp://127.0.0.1:{port}"]\n', 1,
                          f"cannot bind publish endpoint tcp://127.0.0.1:{port}: Address already in use;",
                          "stop it, or change publish.endpoints")
        finally:
            holder.close()

    checks.run("a taken publish endpoint exits 1 and names publish.endpoints", taken_publish_endpoint_names_the_key)

    def missing_ipc_directory():
        startup_error("ipc", f'[publish]\nendpoints = ["ipc://{tmp}/no-such-dir/pub.sock"]\n', 1,
                      "the directory of that ipc:// path does not exist: create it, or change publish.endpoints")

    checks.run("an ipc:// endpoint in a missing directory exits 1 and says to create it", missing_ipc_directory)

    def missing_curve_key_file():
        startup_error("curve", '[publish]\ncurve_secret_key_file = "none.key"\ncurve_authorized_keys = "none.txt"\n',
                      78, "publish.curve_secret_key_file: ", "none.key: cannot read",
                      "make a key pair with qq-gateway-relay keygen PREFIX")

    checks.run("a missing CURVE key file exits 78 and says how to make one", missing_curve_key_file)

    def mismatched_tls_pair():
        holder, port = taken_port()
        holder.close()  # a free port: the pair fails to load before anything listens
        cert, _ = make_certificate(tmp, "one")
        _, other_key = make_certificate(tmp, "two")
        startup_error("webhook-tls", f'[webhook]\nenabled = true\nlisten = "127.0.0.1:{port}"\ntls_cert = "{cert}"\n'
                      f'tls_key = "{other_key}"\n', 1,
                      "cannot load webhook.tls_cert/tls_key: check that both are PEM files and that the key belongs "
                      "to the certificate")
        clients = write(tmp, "clients", "bot " + "k" * 40 + "\n")
        startup_error("api-tls", f'[api]\nenabled = true\nlisten = "127.0.0.1:{port}"\nclients_file = "{clients}"\n'
                      f'tls_cert = "{cert}"\ntls_key = "{other_key}"\n', 1,
                      "api.tls_cert/tls_key: ",
                      "check that both are PEM files and that the key belongs to the certificate")

    checks.run("a TLS key that is not the certificate's exits 1 and says what to check", mismatched_tls_pair)

    def unwritable_state_directory_says_what_to_fix():
        # A path below a regular file: not writable whoever runs the test (root included).
        blocker = write(tmp, "not-a-directory", "")
        config = minimal_config(tmp, "").replace(f'directory = "{tmp}/state"', f'directory = "{blocker}/state"')
        relay = Relay(tmp, config, name="unwritable")
        try:
            # Two writers report it, each from its own thread: wait for both lines.
            wait_for(lambda: "or change state.directory" in relay.log_text() and
                     "make state.directory writable for the relay" in relay.log_text(), 20,
                     "the state.directory errors")
            log = relay.log_text()
            assert f"state.directory {blocker}/state: Not a directory; sessions cannot be resumed" in log, log
            assert "make state.directory writable for the relay" in log, log
            # Documented (docs/operations.md, Troubleshooting): the relay keeps relaying; a stop is still clean.
            code = relay.stop()
            assert code == 0, code
        finally:
            relay.close()

    checks.run("an unwritable state.directory is logged with what to fix; the relay keeps running",
               unwritable_state_directory_says_what_to_fix)
    checks.finish()


if __name__ == "__main__":
    main()
