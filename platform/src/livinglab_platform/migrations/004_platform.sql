-- The ecosystem (organisations, people, tokens), trials with their devices and grants, and one
-- audit trail. Access rules live in access.py; the tables only keep what was decided.

CREATE TABLE organisations (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind        text NOT NULL CHECK (kind IN (
                    'city_administration', 'public_institution', 'public_company',
                    'education_research', 'technology_park', 'company', 'ngo',
                    'citizens_initiative', 'other_city', 'regional_national', 'european')),
    description text,
    website     text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE people (
    id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organisation_id text NOT NULL REFERENCES organisations (id),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email           text NOT NULL UNIQUE CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    role            text NOT NULL CHECK (role IN ('operator', 'partner', 'viewer')),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Only a SHA-256 of each token is kept; the token itself is shown once. `prefix` (the first
-- characters) lets a person tell their tokens apart in a list.
CREATE TABLE tokens (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id    integer NOT NULL REFERENCES people (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text NOT NULL,
    hash         bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX tokens_person ON tokens (person_id);

ALTER TABLE sites
    ADD COLUMN host_organisation_id text REFERENCES organisations (id),
    ADD COLUMN photos text[] NOT NULL DEFAULT '{}';

-- The owner registers, rotates and revokes a device and sees all of its data. NULL: the lab.
ALTER TABLE devices
    ADD COLUMN organisation_id text REFERENCES organisations (id),
    ADD COLUMN revoked_at timestamptz,
    ADD COLUMN credentials_issued_at timestamptz NOT NULL DEFAULT now();

CREATE TABLE trials (
    id                     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title                  text NOT NULL CHECK (length(title) BETWEEN 3 AND 200),
    organisation_id        text NOT NULL REFERENCES organisations (id),
    technology             text NOT NULL CHECK (length(technology) BETWEEN 1 AND 200),
    technology_description text NOT NULL DEFAULT '',
    trl_start              smallint NOT NULL CHECK (trl_start BETWEEN 1 AND 9),
    trl_target             smallint NOT NULL CHECK (trl_target BETWEEN 1 AND 9),
    starts_on              date NOT NULL,
    ends_on                date NOT NULL,
    success_criteria       text NOT NULL DEFAULT '',
    data_sharing_terms     text NOT NULL DEFAULT '',
    personal_data          boolean NOT NULL DEFAULT false,
    state                  text NOT NULL DEFAULT 'draft' CHECK (state IN (
                               'draft', 'submitted', 'approved', 'rejected', 'deploying',
                               'running', 'evaluating', 'completed', 'withdrawn')),
    state_reason           text,
    -- Set by the first approval: only trials approved once open their data to partners.
    approved_at            timestamptz,
    created_by             integer REFERENCES people (id),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK (trl_target >= trl_start),
    CHECK (ends_on >= starts_on)
);
CREATE INDEX trials_organisation ON trials (organisation_id);
CREATE INDEX trials_state ON trials (state);

CREATE TABLE trial_sites (
    trial_id integer NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    site_id  text NOT NULL REFERENCES sites (id),
    PRIMARY KEY (trial_id, site_id)
);

CREATE TABLE trial_partners (
    trial_id        integer NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    organisation_id text NOT NULL REFERENCES organisations (id),
    role            text NOT NULL DEFAULT '',
    PRIMARY KEY (trial_id, organisation_id)
);

-- A device works for a trial during [starts_at, ends_at): the trial's data is the readings of its
-- devices inside those sub-periods.
CREATE TABLE trial_devices (
    id        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trial_id  integer NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    device_id text NOT NULL REFERENCES devices (id),
    starts_at timestamptz NOT NULL,
    ends_at   timestamptz NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX trial_devices_trial ON trial_devices (trial_id);
CREATE INDEX trial_devices_device ON trial_devices (device_id);

-- Read access to a trial's data recorded in [starts_at, ends_at), for another organisation.
CREATE TABLE grants (
    id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trial_id        integer NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    organisation_id text NOT NULL REFERENCES organisations (id),
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    reason          text NOT NULL DEFAULT '',
    granted_by      integer REFERENCES people (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    CHECK (ends_at > starts_at)
);
CREATE INDEX grants_organisation ON grants (organisation_id);

-- Who changed what, when and why. `actor` is a person's id, or NULL with `actor_label` set for
-- the command line ("cli:root") and the demo seeder.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time        timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       integer REFERENCES people (id),
    actor_label text NOT NULL,
    object_type text NOT NULL,
    object_id   text NOT NULL,
    action      text NOT NULL,
    reason      text,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, time);
