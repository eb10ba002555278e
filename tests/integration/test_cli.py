#!/usr/bin/python3
"""The command line: configuration errors, --check-config, --version, and the exit code for refused credentials."""
import os
import subprocess
import time

from harness import RELAY_BIN, Checks, Relay, Sim, relay_config, workdir

SECRET = "s3cr3t-Never-Print-Me"


def run(*args, timeout=10):
    return subprocess.run([RELAY_BIN, *args], capture_output=True, text=True, timeout=timeout)


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


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

    def example_config_is_valid():
        example = os.path.join(os.environ.get("QQ_SOURCE_DIR", "."), "config", "relay.example.toml")
        result = run("--config", example, "--check-config")
        assert result.returncode == 0, result.stderr

    checks.run("config/relay.example.toml passes --check-config", example_config_is_valid)

    def version():
        result = run("--version")
        assert result.returncode == 0 and result.stdout.startswith("qq-gateway-relay "), result

    checks.run("--version", version)

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
    checks.finish()


if __name__ == "__main__":
    main()
