#!/usr/bin/env bash
# Installs the system packages livinglab needs on Debian 12 / Ubuntu, and builds TimescaleDB from
# Debian's source package when the extension is missing (Debian 12 does not ship it; the trixie
# source package builds against PostgreSQL 15 in about 25 s). Safe to run again: every step is
# skipped when its result is already present.
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
# Pango and a font: WeasyPrint lays out `livinglab report -o report.pdf` with them.
PACKAGES=(mosquitto mosquitto-clients "postgresql-${PG_MAJOR}" "postgresql-server-dev-${PG_MAJOR}"
          cmake gcc make libc6-dev xz-utils libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)
# `--test` adds what only the tests need (demos and deployments do without): Debian's Chromium
# for the browser tests, and g++ to compile the Arduino example against the wire test vectors.
if [ "${1:-}" = "--test" ]; then
    PACKAGES+=(chromium chromium-driver fonts-dejavu-core g++)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-system: run as root or install sudo" >&2; exit 1; }
    SUDO="sudo"
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "install-system: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

pkglibdir="$("$PG_CONFIG" --pkglibdir)"
if [ -f "$pkglibdir/timescaledb.so" ]; then
    exit 0
fi

echo "install-system: building TimescaleDB (Apache-2 edition) from Debian's source package"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial"
# The trixie sources come from the mirror this machine's own apt sources already use: deb822
# `URIs:` lines (Debian 12) or one-line `deb` entries (older systems). No mirror is written here.
mirror="$(grep -hm1 -oE '^URIs: *[^ ]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk '{print $2}' | head -n 1 || true)"
if [ -z "$mirror" ]; then
    mirror="$(grep -hm1 -oE '^deb +(\[[^]]*\] +)?[^ ]+/debian/? ' /etc/apt/sources.list 2>/dev/null \
              | awk '{print $NF}' | head -n 1 || true)"
fi
if [ -z "$mirror" ]; then
    echo "install-system: no Debian mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list;" \
         "install TimescaleDB for PostgreSQL ${PG_MAJOR} by hand" >&2
    exit 1
fi
echo "deb-src ${mirror%/} trixie main" >"$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$work/lists" -o APT::Sandbox::User=root)
$SUDO apt-get "${apt_opts[@]}" update -qq
(cd "$work" && $SUDO apt-get "${apt_opts[@]}" source --download-only timescaledb)
orig="$(ls "$work"/timescaledb_*.orig.tar.* | head -n 1)"
mkdir -p "$work/src"
tar -xf "$orig" -C "$work/src" --strip-components=1
(
    cd "$work/src"
    ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DAPACHE_ONLY=ON -DWARNINGS_AS_ERRORS=OFF \
        -DPG_CONFIG="$PG_CONFIG" -DUSE_TELEMETRY=OFF >"$work/bootstrap.log"
    make -C build -j"$(nproc)" >"$work/build.log"
    $SUDO make -C build install >"$work/install.log"
)
test -f "$pkglibdir/timescaledb.so"
echo "install-system: TimescaleDB installed into $pkglibdir"
