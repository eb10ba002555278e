#!/usr/bin/python3
"""Packaging (docs/packaging.md): `cmake --install` lays the relay out under any prefix with a unit that points at
the installed binary, and the .deb that CPack builds has the right control fields, Depends, conffile and maintainer
scripts, only the expected files (root-owned, sane modes), a binary that runs, and installs, upgrades, removes and
purges cleanly into a throwaway dpkg root."""
import glob
import io
import os
import re
import stat
import subprocess
import tarfile

from harness import RELAY_BIN, Checks, expect, tear_down, workdir

BUILD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(RELAY_BIN)))
SOURCE_DIR = os.path.abspath(os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
PACKAGE = "qq-gateway-relay"
DOC = f"share/doc/{PACKAGE}"
CONFFILE = f"/etc/{PACKAGE}/relay.toml"
BINARIES = ("qq-gateway-relay", "qq-gateway-sim")
# The runtime libraries the relay links (Debian 12 package names, without the version constraint).
RUNTIME_LIBS = ("libc6", "libstdc++6", "libwebsockets17", "libzmq5", "libsodium23", "libsystemd0", "libssl3",
                "libspdlog1.10", "libfmt9", "libsimdjson14", "libtomlplusplus3")


def run(*args, env=None, timeout=60, check=True, text=True):
    result = subprocess.run(list(args), capture_output=True, text=text, env=env, timeout=timeout)
    if check:
        expect(result.returncode == 0, f"{' '.join(args)}: exit {result.returncode}: {result.stderr}")
    return result


def project_version():
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        return re.search(r"project\(qq-gateway-relay VERSION ([0-9.]+)", f.read()).group(1)


def read(path):
    with open(path) as f:
        return f.read()


def source_docs():
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(SOURCE_DIR, "docs", "*.md")))


def unit_paths(text):
    return {"ExecStart": re.search(r"^ExecStart=(\S+)", text, re.M).group(1),
            "ExecStartPre": re.search(r"^ExecStartPre=(\S+)", text, re.M).group(1),
            "Documentation": re.search(r"^Documentation=(\S+)", text, re.M).group(1)}


def check_installed_tree(root):
    """Checks the files of an install whose prefix is at root (the prefix, or DESTDIR + prefix)."""
    for name in BINARIES:
        path = os.path.join(root, "bin", name)
        expect(os.path.isfile(path) and os.access(path, os.X_OK), f"no executable {path}")
    docs = os.path.join(root, DOC)
    for name in source_docs():
        expect(os.path.isfile(os.path.join(docs, name)), f"{DOC}/{name} is missing")
    example = os.path.join(docs, "examples", "relay.example.toml")
    expect(read(example) == read(os.path.join(SOURCE_DIR, "config", "relay.example.toml")),
           "the installed example configuration differs from config/relay.example.toml")
    for client in ("python/relay_subscriber.py", "python/pyproject.toml", "python/README.md",
                   "python/README.zh-CN.md", "python/qq_gateway_relay_client/__init__.py",
                   "python/qq_gateway_relay_client/py.typed", "node/relay_subscriber.mjs", "node/index.mjs",
                   "node/index.d.ts", "node/package.json", "node/README.md", "node/README.zh-CN.md",
                   "cpp/relay_subscriber.cpp"):
        expect(os.path.isfile(os.path.join(docs, "examples", "clients", client)), f"no example client {client}")
    expect(not os.path.exists(os.path.join(root, "etc")), "cmake --install must not install a configuration")
    version = run(os.path.join(root, "bin", "qq-gateway-relay"), "--version").stdout.strip()
    expect(version == f"qq-gateway-relay {project_version()}", f"--version: {version!r}")


def main():
    checks = Checks()
    tmp = workdir()
    deb = []
    try:
        def install_with_a_prefix():
            prefix = os.path.join(tmp, "prefix")
            run("cmake", "--install", BUILD_DIR, "--prefix", prefix)
            print(f"  cmake --install {BUILD_DIR} --prefix {prefix}")
            check_installed_tree(prefix)
            unit = os.path.join(prefix, "lib", "systemd", "system", "qq-gateway-relay.service")
            expect(os.path.isfile(unit), f"no unit at {unit}")
            paths = unit_paths(read(unit))
            expect(paths["ExecStart"] == os.path.join(prefix, "bin", "qq-gateway-relay"), f"unit: {paths}")
            expect(paths["ExecStartPre"] == paths["ExecStart"], f"unit: {paths}")
            expect(paths["Documentation"] == f"file://{prefix}/{DOC}/operations.md", f"unit: {paths}")
            expect(os.path.isfile(paths["Documentation"][len("file://"):]), "the unit's Documentation= is missing")
            # Everything this install wrote is under the prefix: nothing in /etc, /lib or elsewhere.
            with open(os.path.join(BUILD_DIR, "install_manifest.txt")) as f:
                written = f.read().split()
            outside = [path for path in written if not path.startswith(prefix + "/")]
            expect(written and not outside, f"installed outside the prefix: {outside}")
        checks.run("cmake --install --prefix: binaries, docs, example, unit pointing at the prefix",
                   install_with_a_prefix)

        def staged_install_to_usr():
            stage = os.path.join(tmp, "stage")
            env = dict(os.environ, DESTDIR=stage)
            run("cmake", "--install", BUILD_DIR, "--prefix", "/usr", env=env)
            check_installed_tree(os.path.join(stage, "usr"))
            expect(sorted(os.listdir(stage)) == ["lib", "usr"], f"DESTDIR holds {os.listdir(stage)}")
            unit = os.path.join(stage, "lib", "systemd", "system", "qq-gateway-relay.service")
            expect(os.path.isfile(unit), "prefix /usr: the unit is not in /lib/systemd/system")
            paths = unit_paths(read(unit))
            expect(paths["ExecStart"] == "/usr/bin/qq-gateway-relay", f"unit: {paths}")
            expect(paths["Documentation"] == f"file:///usr/{DOC}/operations.md", f"unit: {paths}")
        checks.run("DESTDIR=... cmake --install --prefix /usr: the unit in /lib/systemd/system, paths in /usr",
                   staged_install_to_usr)

        def build_the_package():
            config = os.path.join(BUILD_DIR, "CPackConfig.cmake")
            expect(os.path.isfile(config), f"no {config}: is cmake/Packaging.cmake included?")
            out = os.path.join(tmp, "cpack")
            # gzip instead of the package's xz: the same contents, built in a quarter of the time with the large
            # binaries of a Debug or sanitizer build.
            run("cpack", "-D", "CPACK_DEBIAN_COMPRESSION_TYPE=gzip", "--config", config, "-B", out, timeout=240)
            found = glob.glob(os.path.join(out, "*.deb"))
            expect(len(found) == 1, f"cpack made {found}")
            arch = run("dpkg", "--print-architecture").stdout.strip()
            expect(os.path.basename(found[0]) == f"{PACKAGE}_{project_version()}_{arch}.deb", found[0])
            deb.append(found[0])
            print(f"  {found[0]}, {os.path.getsize(found[0])} bytes")
        checks.run("cpack builds qq-gateway-relay_<version>_<arch>.deb", build_the_package)

        def control_fields():
            expect(deb, "no package")
            fields = {}
            for name in ("Package", "Version", "Architecture", "Maintainer", "Section", "Priority", "Depends",
                         "Description", "Installed-Size"):
                fields[name] = run("dpkg-deb", "--field", deb[0], name).stdout.strip()
            expect(fields["Package"] == PACKAGE, fields)
            expect(fields["Version"] == project_version(), fields)
            expect(fields["Architecture"] == run("dpkg", "--print-architecture").stdout.strip(), fields)
            expect(fields["Section"] == "net" and fields["Priority"] == "optional", fields)
            expect(re.fullmatch(r".+ <[^<>@\s]+@[^<>@\s]+>", fields["Maintainer"]), fields["Maintainer"])
            expect(fields["Description"].startswith("QQ bot gateway relay") and "\n" in fields["Description"],
                   fields["Description"])
            print(f"  Depends: {fields['Depends']}")
            depends = [re.match(r"[a-z0-9][a-z0-9.+-]*", alternative.strip()).group(0)
                       for alternative in re.split(r"[,|]", fields["Depends"])]
            for library in RUNTIME_LIBS:
                expect(any(name == library or name.startswith(library + "-") for name in depends),
                       f"Depends lacks {library}: {fields['Depends']}")
            # Only packages of shared libraries (an ASan build adds libasan8, libubsan1 and the like): nothing for
            # building, no systemd or other daemon.
            # A name may be virtual (libspdlog1.10-fmt9 is provided by libspdlog1.10).
            providers = {}
            installed = run("dpkg-query", "--show", "--showformat=${Package}\t${Provides}\n").stdout
            for line in installed.splitlines():
                package, _, provides = line.partition("\t")
                for name in [package] + [p.split()[0] for p in provides.split(",") if p.strip()]:
                    providers.setdefault(name, []).append(package)
            for name in depends:
                expect(name in providers, f"{name} in Depends is not installed here, nor provided by a package")
                files = [path for package in providers[name]
                         for path in run("dpkg", "--listfiles", package).stdout.split()]
                expect(any(re.search(r"/lib[^/]*\.so\.[0-9]", path) for path in files),
                       f"{name} in Depends is not a shared-library package")
        checks.run("control: Package, Version, Architecture, Maintainer, Section, Depends on the runtime libraries",
                   control_fields)

        def control_files():
            expect(deb, "no package")
            control = os.path.join(tmp, "control")
            run("dpkg-deb", "--control", deb[0], control)
            names = sorted(os.listdir(control))
            expect(names == ["conffiles", "control", "md5sums", "postinst", "postrm", "prerm"], names)
            expect(read(os.path.join(control, "conffiles")).split() == [CONFFILE], "conffiles")
            for script in ("postinst", "prerm", "postrm"):
                path = os.path.join(control, script)
                text = read(path)
                code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
                expect(stat.S_IMODE(os.stat(path).st_mode) == 0o755, f"{script} mode")
                expect(text.startswith("#!/bin/sh\n"), f"{script} shebang")
                run("sh", "-n", path)
                # The package never enables, starts or restarts the service, and leaves it alone under dpkg --root.
                for command in ("enable", "start", "restart", "try-restart", "reload-or-restart", "preset"):
                    expect(not re.search(rf"systemctl[^\n]*\s{command}\b", code), f"{script} runs systemctl {command}")
                expect("deb-systemd-invoke" not in code and "deb-systemd-helper" not in code, script)
                if "systemctl" in code:
                    expect('[ -z "${DPKG_ROOT:-}" ]' in code and "/run/systemd/system" in code,
                           f"{script} calls systemctl without checking DPKG_ROOT and a running systemd")
        checks.run("control files: conffiles lists the configuration; maintainer scripts only daemon-reload/stop",
                   control_files)

        def file_list():
            expect(deb, "no package")
            tar = run("dpkg-deb", "--fsys-tarfile", deb[0], text=False).stdout
            members = tarfile.open(fileobj=io.BytesIO(tar)).getmembers()
            listing = {}
            for member in members:
                name = os.path.normpath(member.name)
                path = "/" if name == "." else "/" + name
                listing[path] = member
                expect(member.uid == 0 and member.gid == 0 and member.uname == "root" and member.gname == "root",
                       f"{path} owned by {member.uname}:{member.gname} ({member.uid}:{member.gid})")
                expect(member.isdir() or member.isfile(), f"{path} is neither a file nor a directory")
                mode = stat.S_IMODE(member.mode)
                expect(not mode & 0o7022, f"{path} has mode {mode:o}")
            files = sorted(path for path, member in listing.items() if member.isfile())
            print("  " + "\n  ".join(files))
            usr_doc = f"/usr/{DOC}/"
            allowed = [f"/usr/bin/{name}" for name in BINARIES] + [
                "/lib/systemd/system/qq-gateway-relay.service", "/lib/systemd/system/qq-gateway-relay.socket", CONFFILE]
            surprising = [path for path in files if path not in allowed and not path.startswith(usr_doc)]
            expect(not surprising, f"unexpected files {surprising}")
            for path in allowed:
                expect(path in listing, f"{path} is missing")
            for name in source_docs() + ["examples/relay.example.toml"]:
                expect(usr_doc + name in listing, f"{usr_doc}{name} is missing")
            directories = {path for path, member in listing.items() if member.isdir()}
            expected_dirs = {"/", "/usr", "/usr/bin", "/usr/share", "/usr/share/doc", "/lib", "/lib/systemd",
                             "/lib/systemd/system", "/etc", f"/etc/{PACKAGE}"}
            extra_dirs = [d for d in directories - expected_dirs if not (d + "/").startswith(usr_doc)]
            expect(not extra_dirs, f"unexpected directories {extra_dirs}")
            for path in files:
                mode = stat.S_IMODE(listing[path].mode)
                expected = 0o755 if path.startswith("/usr/bin/") else 0o644
                expect(mode == expected, f"{path} has mode {mode:o}, not {expected:o}")
            for path in directories:
                expect(stat.S_IMODE(listing[path].mode) == 0o755, f"directory {path} has mode "
                       f"{stat.S_IMODE(listing[path].mode):o}")
        checks.run("files: only /usr/bin, /usr/share/doc, the unit and the conffile; root:root; 0755/0644",
                   file_list)

        def extracted_tree():
            expect(deb, "no package")
            root = os.path.join(tmp, "extracted")
            run("dpkg-deb", "--extract", deb[0], root)
            for name in BINARIES:
                run(os.path.join(root, "usr", "bin", name), "--help")
            version = run(os.path.join(root, "usr", "bin", "qq-gateway-relay"), "--version").stdout.strip()
            expect(version == f"qq-gateway-relay {project_version()}", version)
            # No text file mentions the build or source tree, or CPack's staging directory.
            for directory, _, names in os.walk(root):
                for name in names:
                    path = os.path.join(directory, name)
                    if path.startswith(os.path.join(root, "usr", "bin")):
                        continue
                    text = read(path)
                    for leak in (BUILD_DIR, SOURCE_DIR + "/", "/_CPack_Packages/", tmp):
                        expect(leak not in text, f"{path} mentions {leak}")
            unit_text = read(os.path.join(root, "lib", "systemd", "system", "qq-gateway-relay.service"))
            paths = unit_paths(unit_text)
            expect(paths["ExecStart"] == "/usr/bin/qq-gateway-relay", f"unit: {paths}")
            expect(paths["Documentation"] == f"file:///usr/{DOC}/operations.md", f"unit: {paths}")
            expect("/etc/qq-gateway-relay/relay.toml" in unit_text and "LoadCredential=client_secret:" in unit_text,
                   "the unit does not read the packaged configuration and the credential")
            # The unit verifies once its ExecStart points at the extracted binary.
            local = os.path.join(tmp, "qq-gateway-relay.service")
            with open(local, "w") as f:
                f.write(unit_text.replace("/usr/bin/qq-gateway-relay",
                                          os.path.join(root, "usr", "bin", "qq-gateway-relay")))
            result = run("systemd-analyze", "verify", local, check=False)
            expect(result.returncode == 0 and not result.stderr.strip(), f"verify: {result.stderr}")
        checks.run("extracted package: binaries run, no build paths, the unit points at /usr/bin and verifies",
                   extracted_tree)

        def conffile_is_the_example_needing_an_app_id():
            expect(deb, "no package")
            root = os.path.join(tmp, "extracted")
            relay = os.path.join(root, "usr", "bin", "qq-gateway-relay")
            conffile = read(root + CONFFILE)
            example = read(os.path.join(SOURCE_DIR, "config", "relay.example.toml"))
            commented = re.sub(r"^(app_id|client_secret|client_secret_file|token) = ", r"# \1 = ", example, flags=re.M)
            expect(conffile.endswith(commented), "the conffile is not the example with the [bot] placeholders "
                                                 "commented out")
            expect(not re.search(r"^\s*(client_secret|token|app_id)\s*=", conffile, re.M), "a credential is set")
            # Unedited, it is refused (exit 78) with the missing key named: the service cannot start by accident.
            result = run(relay, "--config", root + CONFFILE, "--check-config", check=False)
            expect(result.returncode == 78 and "bot.app_id: required" in result.stderr, result)
            # With an AppID, and the AppSecret as the unit provides it (the credential client_secret), it is valid.
            etc = os.path.join(tmp, "etc")
            os.makedirs(etc)
            with open(os.path.join(etc, "relay.toml"), "w") as f:
                f.write(conffile.replace('# app_id = "', 'app_id = "', 1))
            with open(os.path.join(etc, "client_secret"), "w") as f:
                f.write("an-app-secret\n")
            env = dict(os.environ, CREDENTIALS_DIRECTORY=etc)
            result = run(relay, "--config", os.path.join(etc, "relay.toml"), "--check-config", env=env, check=False)
            expect(result.returncode == 0 and result.stdout.startswith("config ok:"), result)
            expect("an-app-secret" not in result.stdout + result.stderr, "the secret was printed")
        checks.run("conffile: the example without placeholders; refused until bot.app_id is set, then valid",
                   conffile_is_the_example_needing_an_app_id)

        def dpkg_into_a_throwaway_root():
            expect(deb, "no package")
            if os.geteuid() != 0:
                print("  skipped: dpkg --root needs root to give the files their owners")
                return
            root = os.path.join(tmp, "dpkg-root")
            for name in ("updates", "info", "triggers"):
                os.makedirs(os.path.join(root, "var", "lib", "dpkg", name))
            for name in ("status", "available"):
                open(os.path.join(root, "var", "lib", "dpkg", name), "w").close()
            # The dependencies are not in this empty database; the maintainer scripts run on the host with
            # DPKG_ROOT set, where they must leave the running system alone.
            dpkg = ["dpkg", f"--root={root}", f"--log={root}/dpkg.log", "--force-depends",
                    "--force-script-chrootless"]
            run(*dpkg, "--install", deb[0])
            status = run("dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f=${Status} ${Version}",
                         PACKAGE).stdout
            expect(status == f"install ok installed {project_version()}", status)
            installed = root + CONFFILE
            expect(os.path.isfile(root + "/usr/bin/qq-gateway-relay") and os.path.isfile(installed), "not installed")
            expect(os.path.isfile(root + "/lib/systemd/system/qq-gateway-relay.service"), "no unit")
            expect(not os.path.exists(os.path.join(root, "var", "lib", PACKAGE)), "the install made a state dir")
            expect(not os.path.exists(os.path.join(root, "etc", "systemd")), "the install enabled the service")
            # Reinstalling keeps an edited conffile.
            with open(installed, "a") as f:
                f.write("# edited\n")
            run(*dpkg, "--install", deb[0])
            expect(read(installed).endswith("# edited\n"), "reinstalling replaced the edited conffile")
            # Remove keeps the configuration; purge removes it and the link `systemctl enable` would have made.
            wants = os.path.join(root, "etc", "systemd", "system", "multi-user.target.wants")
            os.makedirs(wants)
            os.symlink("/lib/systemd/system/qq-gateway-relay.service", os.path.join(wants, "qq-gateway-relay.service"))
            run(*dpkg, "--remove", PACKAGE)
            expect(os.path.isfile(installed), "remove deleted the conffile")
            expect(not os.path.exists(root + "/usr/bin/qq-gateway-relay"), "remove left the binary")
            run(*dpkg, "--purge", PACKAGE)
            expect(not os.path.exists(os.path.dirname(installed)), "purge left /etc/qq-gateway-relay")
            expect(not os.listdir(wants), "purge left the multi-user.target.wants link")
            left = [os.path.relpath(os.path.join(d, n), root) for d, _, names in os.walk(root) for n in names
                    if not os.path.relpath(d, root).startswith("var/lib/dpkg") and n != "dpkg.log"]
            expect(not left, f"files left after purge: {left}")
        checks.run("dpkg --root: install, reinstall keeping an edited conffile, remove, purge",
                   dpkg_into_a_throwaway_root)
    finally:
        tear_down(checks, tmp)
    checks.finish()


if __name__ == "__main__":
    main()
