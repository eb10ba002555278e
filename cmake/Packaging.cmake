# The Debian package (CPack DEB): `cpack --config <build>/CPackConfig.cmake` writes
# qq-gateway-relay_<version>_<arch>.deb. docs/packaging.md describes what it installs and why;
# tests/integration/test_package.py builds it and checks its contents.
#
# Included at the end of the top-level CMakeLists.txt, after every install() rule: the package holds what
# `cmake --install` installs (prefix /usr, the unit in /lib/systemd/system), plus the conffile
# /etc/qq-gateway-relay/relay.toml, which only the package installs.

set(RELAY_PACKAGE_MAINTAINER "qq-gateway-relay maintainers <maintainers@example.invalid>"
    CACHE STRING "The .deb's Maintainer field: Name <email>")

set(relay_package_dir ${CMAKE_BINARY_DIR}/package)

# /etc/qq-gateway-relay/relay.toml: the example configuration with its [bot] placeholders commented out. Without
# bot.app_id the relay refuses to start (--check-config, the unit's ExecStartPre, exits 78 naming the key) instead of
# logging in with a made-up AppID. Without a credential key (client_secret, client_secret_file, token) it takes the
# AppSecret from the systemd credential client_secret, which the unit loads from /etc/qq-gateway-relay/client_secret;
# a key in the file would win over the credential.
set(relay_example ${CMAKE_SOURCE_DIR}/config/relay.example.toml)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${relay_example})
file(READ ${relay_example} relay_conffile)
string(REGEX REPLACE "(^|\n)((app_id|client_secret|client_secret_file|token) = )" "\\1# \\2" relay_conffile
                     "${relay_conffile}")
string(PREPEND relay_conffile [[
# /etc/qq-gateway-relay/relay.toml, installed by the qq-gateway-relay package. It is the example configuration
# (/usr/share/doc/qq-gateway-relay/examples/relay.example.toml) with its placeholder bot.app_id and
# bot.client_secret commented out. The package neither enables nor starts the service. To run it
# (/usr/share/doc/qq-gateway-relay/packaging.md):
#
#   1. Set bot.app_id below, and review bot.intents and the rest.
#   2. Put the AppSecret in /etc/qq-gateway-relay/client_secret, owned by root, mode 0600:
#        install -m 0600 /dev/null /etc/qq-gateway-relay/client_secret
#        editor /etc/qq-gateway-relay/client_secret
#      The unit hands it to the relay as the systemd credential client_secret, so it stays out of this file.
#   3. Check the configuration, with the credential where the unit puts it:
#        CREDENTIALS_DIRECTORY=/etc/qq-gateway-relay \
#          qq-gateway-relay --config /etc/qq-gateway-relay/relay.toml --check-config
#   4. systemctl enable --now qq-gateway-relay
#
# This file is a conffile: upgrades keep your edits (dpkg asks if the packaged version changed too).

]])
file(WRITE ${relay_package_dir}/relay.toml.tmp "${relay_conffile}")
configure_file(${relay_package_dir}/relay.toml.tmp ${relay_package_dir}/etc/relay.toml COPYONLY)
# Only the package installs it, from a CPack pre-build script that copies it into the package's staging tree:
# `cmake --install` leaves /etc alone whatever the prefix (the unit reads /etc/qq-gateway-relay/relay.toml in any
# case, and an install must not overwrite an edited configuration).
file(CONFIGURE OUTPUT ${relay_package_dir}/stage-conffile.cmake CONTENT [[
# Run by CPack (CPACK_PRE_BUILD_SCRIPTS) between its staging install and building the package.
if(CPACK_GENERATOR STREQUAL "DEB" AND CPACK_TEMPORARY_INSTALL_DIRECTORY)
  file(COPY "@relay_package_dir@/etc/relay.toml"
       DESTINATION "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/etc/qq-gateway-relay"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endif()
]] @ONLY)
# Maintainer scripts. They only tell systemd about the unit: the package never enables, starts or restarts the
# service (a fresh install has no AppID yet, and when the relay reconnects is the operator's call). Under `dpkg --root`
# (DPKG_ROOT set) or without systemd as init they do nothing to the running system.
file(WRITE ${relay_package_dir}/debian/conffiles "/etc/qq-gateway-relay/relay.toml\n")
file(WRITE ${relay_package_dir}/debian/postinst [[
#!/bin/sh
# qq-gateway-relay: load the new or changed unit. The service is not enabled or started (docs/packaging.md); after an
# upgrade a running relay keeps the old binary until `systemctl restart qq-gateway-relay`.
set -e
if [ "$1" = configure ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
exit 0
]])
file(WRITE ${relay_package_dir}/debian/prerm [[
#!/bin/sh
# qq-gateway-relay: stop the service before its binary goes away (on removal only, not on upgrade).
set -e
if [ "$1" = remove ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
    systemctl stop qq-gateway-relay.service >/dev/null 2>&1 || true
fi
exit 0
]])
file(WRITE ${relay_package_dir}/debian/postrm [[
#!/bin/sh
# qq-gateway-relay: forget the removed unit; on purge also the link `systemctl enable` made (systemctl disable cannot
# remove it once the unit is gone). The state in /var/lib/private/qq-gateway-relay and the files you added to
# /etc/qq-gateway-relay (client_secret, keys) are left alone.
set -e
if [ "$1" = remove ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = purge ]; then
    link="${DPKG_ROOT:-}/etc/systemd/system/multi-user.target.wants/qq-gateway-relay.service"
    if [ -L "$link" ]; then
        rm -f "$link"
    fi
fi
exit 0
]])

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME qq-gateway-relay)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${RELAY_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "QQ bot gateway relay: gateway shards and webhooks to ZeroMQ")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "One daemon holds every WebSocket gateway shard of a QQ bot (and optionally receives its signed webhook
callbacks) and republishes every Dispatch event as a three-frame ZeroMQ PUB message, so bots in any language
subscribe to a socket instead of speaking the gateway protocol. Includes the systemd unit (not enabled) and
qq-gateway-sim, a local stand-in for the QQ platform for offline development and tests.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends from the linked libraries: needs dpkg-shlibdeps (Debian package dpkg-dev) and file.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${relay_package_dir}/debian/conffiles ${relay_package_dir}/debian/postinst ${relay_package_dir}/debian/prerm
    ${relay_package_dir}/debian/postrm)
# Maintainer scripts 0755, conffiles 0644, whatever the build tree's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Debian packages ship stripped binaries.
set(CPACK_STRIP_FILES TRUE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PRE_BUILD_SCRIPTS ${relay_package_dir}/stage-conffile.cmake)

include(CPack)
