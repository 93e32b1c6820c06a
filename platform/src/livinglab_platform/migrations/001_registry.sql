-- Registry: the pilot sites, their devices and each device's sensors.
-- Issue "Platform" adds organisations, people, trials and grants in later migrations.

CREATE TABLE sites (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name        text NOT NULL,
    address     text,
    latitude    double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude   double precision CHECK (longitude BETWEEN -180 AND 180),
    description text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    site_id     text NOT NULL REFERENCES sites (id),
    description text,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- sensor_id is what the readings hypertable stores: an int4 keeps each row narrow.
CREATE TABLE sensors (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id   text NOT NULL REFERENCES devices (id),
    key         text NOT NULL CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
    quantity    text NOT NULL,
    unit        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (device_id, key)
);

-- Last heartbeat of each device (retained status topic), kept by the ingest service.
CREATE TABLE device_status (
    device_id        text PRIMARY KEY REFERENCES devices (id),
    online           boolean NOT NULL,
    last_seen        timestamptz NOT NULL,
    uptime_s         double precision,
    outbox_depth     bigint,
    outbox_dropped   bigint,
    agent_version    text,
    config_revision  bigint,
    clock_synced     boolean,
    clock_offset_ns  bigint
);

-- Events devices report (config applied or rejected, outbox purges, errors).
CREATE TABLE device_events (
    time        timestamptz NOT NULL DEFAULT now(),
    device_id   text NOT NULL REFERENCES devices (id),
    type        text NOT NULL,
    revision    bigint,
    count       bigint,
    message     text
);
CREATE INDEX device_events_device_time ON device_events (device_id, time DESC);
