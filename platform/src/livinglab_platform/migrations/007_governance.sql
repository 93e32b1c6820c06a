-- The governance record the strategy's indicators are computed from (GOVERNANCE.md): organisational
-- forms, the Strategic Council, co-financed project applications, and the evidence behind each.
-- Nothing here stores an indicator or a verdict: those are computed from these rows, never typed in.

-- Organisational forms linking stakeholders. A form is active from starts_on to ends_on, both
-- inclusive Ljubljana dates; ends_on NULL: still active. A form may end mid-year.
CREATE TABLE governance_forms (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN (
                    'mol_family', 'horizontal', 'vertical', 'living_lab_partnership')),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    starts_on   date NOT NULL,
    ends_on     date,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);

CREATE TABLE governance_form_members (
    form_id         integer NOT NULL REFERENCES governance_forms (id) ON DELETE CASCADE,
    organisation_id text NOT NULL REFERENCES organisations (id),
    role            text NOT NULL DEFAULT '',
    PRIMARY KEY (form_id, organisation_id)
);

-- Strateški svet za digitalni razvoj MOL: its members and their terms (inclusive dates).
CREATE TABLE council_members (
    id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    organisation_id text REFERENCES organisations (id),
    role            text NOT NULL DEFAULT '',
    term_starts_on  date NOT NULL,
    term_ends_on    date,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (term_ends_on IS NULL OR term_ends_on >= term_starts_on)
);

-- A meeting counts for the Ljubljana calendar year of held_at (31 December 23:30 in Ljubljana is
-- 22:30 UTC the same day, but 1 January 00:30 is 23:30 UTC the day before).
CREATE TABLE council_meetings (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    held_at    timestamptz NOT NULL,
    place      text NOT NULL DEFAULT '',
    agenda     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE council_meeting_attendees (
    meeting_id integer NOT NULL REFERENCES council_meetings (id) ON DELETE CASCADE,
    member_id  integer NOT NULL REFERENCES council_members (id),
    PRIMARY KEY (meeting_id, member_id)
);

-- The council adopts the strategic and programme directions.
CREATE TABLE council_decisions (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meeting_id integer NOT NULL REFERENCES council_meetings (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('strategic', 'programme')),
    text       text NOT NULL CHECK (length(text) BETWEEN 1 AND 10000)
);
CREATE INDEX council_decisions_meeting ON council_decisions (meeting_id);

-- Co-financed project applications. Money in EUR as exact decimals (cents), never floats.
CREATE TABLE applications (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    programme    text NOT NULL CHECK (length(programme) BETWEEN 1 AND 200),
    call         text NOT NULL DEFAULT '',
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    acronym      text NOT NULL DEFAULT '',
    mol_role     text NOT NULL CHECK (mol_role IN ('coordinator', 'partner', 'associated')),
    total_budget numeric(14, 2) NOT NULL CHECK (total_budget >= 0),
    mol_share    numeric(14, 2) NOT NULL CHECK (mol_share >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (mol_share <= total_budget)
);

CREATE TABLE application_partners (
    application_id  integer NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    organisation_id text NOT NULL REFERENCES organisations (id),
    role            text NOT NULL DEFAULT '',
    PRIMARY KEY (application_id, organisation_id)
);

-- The status history: in_preparation -> submitted -> granted / rejected / withdrawn, each with
-- its Ljubljana date; `position` orders entries of one day. applications.py checks the path.
CREATE TABLE application_statuses (
    application_id integer NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    position       smallint NOT NULL,
    status         text NOT NULL CHECK (status IN (
                       'in_preparation', 'submitted', 'granted', 'rejected', 'withdrawn')),
    on_date        date NOT NULL,
    note           text NOT NULL DEFAULT '',
    PRIMARY KEY (application_id, position)
);

CREATE TABLE application_trials (
    application_id integer NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    trial_id       integer NOT NULL REFERENCES trials (id),
    PRIMARY KEY (application_id, trial_id)
);

-- Evidence for one record: a link (documented; verified once a named person checked it on a
-- date) or a statement only (self-reported). The level follows from the row, so it cannot drift.
-- File uploads come later and will add a file column and widen `quality`.
CREATE TABLE evidence (
    id                integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_id           integer REFERENCES governance_forms (id) ON DELETE CASCADE,
    meeting_id        integer REFERENCES council_meetings (id) ON DELETE CASCADE,
    application_id    integer REFERENCES applications (id) ON DELETE CASCADE,
    title             text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    url               text,
    statement         text NOT NULL DEFAULT '',
    verified_by       integer REFERENCES people (id),
    verified_by_label text,
    verified_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    quality           text GENERATED ALWAYS AS (
                          CASE WHEN verified_at IS NOT NULL THEN 'verified'
                               WHEN url IS NOT NULL THEN 'documented'
                               ELSE 'self_reported' END) STORED,
    CHECK (num_nonnulls(form_id, meeting_id, application_id) = 1),
    CHECK (url IS NOT NULL OR statement <> ''),
    CHECK (verified_at IS NULL OR (url IS NOT NULL AND verified_by_label IS NOT NULL))
);
CREATE INDEX evidence_form ON evidence (form_id) WHERE form_id IS NOT NULL;
CREATE INDEX evidence_meeting ON evidence (meeting_id) WHERE meeting_id IS NOT NULL;
CREATE INDEX evidence_application ON evidence (application_id) WHERE application_id IS NOT NULL;

-- The outcome of a completed trial (the lab's first outcome indicator, GOVERNANCE.md): recorded,
-- optionally, by the `complete` transition.
ALTER TABLE trials
    ADD COLUMN outcome text CHECK (outcome IN ('continued', 'scaled', 'procured', 'stopped')),
    ADD CONSTRAINT trials_outcome_completed CHECK (outcome IS NULL OR state = 'completed');

-- What the milestone reads of the delivery ledger: per device and Ljubljana day, the batches
-- received and the seqs they span. A view (run with its owner's rights), so the API's role reads
-- this summary without being granted the ledger itself.
CREATE VIEW deliveries_daily AS
SELECT device_id, (received_at AT TIME ZONE 'Europe/Ljubljana')::date AS day,
       count(*) AS batches, min(seq) AS first_seq, max(seq) AS last_seq
  FROM deliveries GROUP BY 1, 2;

-- The services' roles (migration 006). The API writes the record: the default privileges give it
-- SELECT, INSERT and UPDATE on these tables, and it replaces the link rows of a form or an
-- application whole, which takes DELETE. Dashboards read all of it (the governance dashboard).
GRANT DELETE ON governance_form_members, application_partners, application_trials,
    application_statuses TO livinglab_api;
GRANT SELECT ON governance_forms, governance_form_members, council_members, council_meetings,
    council_meeting_attendees, council_decisions, applications, application_partners,
    application_statuses, application_trials, evidence, deliveries_daily TO livinglab_readonly;
-- SELECT only: the default privileges gave the API's role INSERT and UPDATE on the view too.
REVOKE INSERT, UPDATE ON deliveries_daily FROM livinglab_api;
