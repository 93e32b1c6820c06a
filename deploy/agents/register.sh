#!/bin/sh
# Registers the simulated devices once (`livinglab devices add`) and keeps each one's broker
# password in $AGENTS_DIR/DEVICE/password (default /agents), readable only by the agents' user.
# Run again, it skips the devices that already have a password.
set -eu
AGENTS=${AGENTS_DIR:-/agents}

livinglab sites add sim --name "Simulirane postaje" --latitude 46.0511 --longitude 14.5051 2>/dev/null || true
# A device belongs to an organisation (`--org`), or no partner could ever see it.
livinglab orgs add sim-lab --name "Simulirane naprave (the lab's own)" --kind technology_park 2>/dev/null || true

register() {
    device=$1
    shift
    if [ -s "$AGENTS/$device/password" ]; then
        echo "$device: already registered"
        return
    fi
    mkdir -p "$AGENTS/$device"
    # `devices add` prints the password once, on the line "  password  = ...".
    output=$(livinglab devices add "$device" --site sim --org sim-lab "$@")
    (umask 077 && printf '%s\n' "$output" | sed -n 's/^ *password *= *//p' > "$AGENTS/$device/password")
    test -s "$AGENTS/$device/password"
    if id livinglab >/dev/null 2>&1; then chown -R livinglab "$AGENTS/$device"; fi
    echo "$device: registered"
}

register sim-air-01 --sensor air_temperature:air_temperature:degC \
    --sensor relative_humidity:relative_humidity:% --sensor air_pressure:air_pressure:hPa
register sim-pm-01 --sensor pm2_5:pm2_5:ug/m3 --sensor pm10:pm10:ug/m3
register sim-noise-01 --sensor noise_level:noise_level:dBA
