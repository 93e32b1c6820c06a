-- The milestone "a working living lab" (GOVERNANCE.md) as SQL: each criterion's value and whether
-- it is met as of a Ljubljana day, in one function that the platform (governance/milestone.py:
-- API, CLI, web pages, report, exports) and the Governance dashboard both read, so that they
-- cannot disagree. Python keeps what only a person reads: the facts behind a value, the evidence,
-- the day a criterion was first met and what is missing.

-- The thresholds, one row per criterion, with their sources. A table rather than defaults in the
-- function or constants in Python: both readers take the same number from one place, and
-- GOVERNANCE.md asks that each be "configurable with a reason in the configuration's history".
-- That history is the migrations: a deployment changes a threshold with a migration of its own
-- (UPDATE milestone_criteria SET needed = ..., reason = ...), reviewed and kept like code; the API
-- only reads this table. `within` is the window of whole Ljubljana days ending with the day:
-- days d with as_of - within < d <= as_of ('1 day': the day itself, so "as of today" is today so
-- far; '1 year': the days after the same date a year earlier, 29 February giving 28 February).
CREATE TABLE milestone_criteria (
    key         text PRIMARY KEY,
    position    smallint NOT NULL UNIQUE,
    name_sl     text NOT NULL,
    description text NOT NULL,
    needed      numeric NOT NULL CHECK (needed > 0),
    within      interval CHECK (within >= interval '1 day'),
    sectors     text[] CHECK (sectors <@ ARRAY['public', 'research', 'business', 'society']),
    source      text NOT NULL,
    reason      text NOT NULL,
    CHECK ((key = 'multi_stakeholder') = (sectors IS NOT NULL)),
    CHECK (sectors IS NULL OR needed = cardinality(sectors)),
    -- milestone.py searches back for the first day a criterion was met in whole days, and for
    -- completed trials in whole years (29 February as 28 February, as governance/dates.py).
    CHECK ((key IN ('real_life_setting', 'experimentation', 'data_you_can_trust'))
           = (within IS NOT NULL)),
    CHECK (within IS NULL
           OR within = CASE key WHEN 'experimentation'
                                THEN make_interval(years => extract(year FROM within)::int)
                                ELSE make_interval(days => extract(day FROM within)::int) END)
);

INSERT INTO milestone_criteria (key, position, name_sl, description, needed, within, sectors,
                                source, reason) VALUES
    ('education_partnership', 1,
     'Podpisano, veljavno partnerstvo z izobraževalno ustanovo',
     'a signed, active living-lab partnership with an educational institution', 1, NULL, NULL,
     'MOL''s digital strategy (Digitalno mesto in skupnost)',
     'The strategy: "delujoč živi laboratorij (z izobraževalnimi ustanovami ...)".'),
    ('technology_park_partnership', 2,
     'Podpisano, veljavno partnerstvo s Tehnološkim parkom Ljubljana',
     'a signed, active living-lab partnership with Tehnološki park Ljubljana', 1, NULL, NULL,
     'MOL''s digital strategy (Digitalno mesto in skupnost)',
     'The strategy: "... in Tehnološkim parkom Ljubljana".'),
    ('operator', 3,
     'Imenovana oseba, ki upravlja laboratorij',
     'a named operator runs the lab', 1, NULL, NULL,
     'EIT Urban Mobility, "Upscaling living lab activities"',
     'A living lab is run by at least one full-time person.'),
    ('real_life_setting', 4,
     'Pilotne lokacije, katerih naprave so poročale v zadnjih 24 urah',
     'pilot sites whose devices reported in the 24 hours before the date', 1, '1 day', NULL,
     'ENoLL, "What are living labs": real-life setting',
     'A real-life setting: a site with a device that reported on the day (Ljubljana time).'),
    ('experimentation', 5,
     'Poskusi, zaključeni v zadnjih 12 mesecih',
     'trials completed in the 12 months before the date', 1, '1 year', NULL,
     'ENoLL: experimentation and evaluation',
     'Experimentation and evaluation: a trial completed within a year.'),
    ('multi_stakeholder', 6,
     'Partnerji iz vseh štirih sektorjev četverne vijačnice v odprtih poskusih',
     'partners from all four helix sectors active in open trials', 4, NULL,
     ARRAY['business', 'public', 'research', 'society'],
     'ENoLL harmonized KPIs: all four helix sectors represented',
     'ENoLL harmonized KPIs: all four quadruple-helix sectors represented = 100 %.'),
    ('data_you_can_trust', 7,
     'Popolnost dostave podatkov v zadnjih 30 dneh',
     'delivery completeness over the 30 days before the date', 0.999, '30 days', NULL,
     'fablabbcn/smartcitizen-api #238 (completeness users ask for)',
     'Delivery completeness as the delivery_completeness view measures it (batches received /'
     ' batch sequence numbers spanned, per device), the measure Smart Citizen users ask for.');

-- The quadruple-helix sector of an organisation's kind (GOVERNANCE.md; helix.SECTOR_OF, which
-- tests/governance/test_milestone_sql.py holds equal to this).
CREATE FUNCTION helix_sector(kind text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN kind IN ('city_administration', 'public_institution', 'public_company',
                      'other_city', 'regional_national', 'european') THEN 'public'
        WHEN kind = 'education_research' THEN 'research'
        WHEN kind IN ('company', 'technology_park') THEN 'business'
        WHEN kind IN ('ngo', 'citizens_initiative') THEN 'society' END
$$;

-- Each criterion as of the end of the Ljubljana day `as_of`: counts and a ratio, never a name, so
-- the dashboards' login may run it (it reads people and the audit trail with its owner's rights,
-- and returns how many operators there are, not who). Windows are whole Ljubljana days; the
-- ledger is read by its (device_id, received_at) index, one device at a time, over the window's
-- days only, not through deliveries_daily, which groups the whole ledger (the ledger holds only
-- registered devices' batches: the ingest quarantines the others).
CREATE FUNCTION milestone_checklist(as_of date)
RETURNS TABLE ("position" smallint, key text, name_sl text, description text, threshold text,
               value text, met boolean, source text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
WITH c AS (SELECT * FROM milestone_criteria),
day_end AS (
    -- The moment the day ends: the next day's local midnight (23, 24 or 25 hours later).
    SELECT ((as_of + 1)::timestamp AT TIME ZONE 'Europe/Ljubljana') AS moment
),
partnerships AS (
    SELECT k.key, count(f.id) AS n
      FROM (VALUES ('education_partnership', 'education_research'),
                   ('technology_park_partnership', 'technology_park')) AS k (key, kind)
      LEFT JOIN governance_forms f
        ON f.kind = 'living_lab_partnership'
       AND f.starts_on <= as_of AND (f.ends_on IS NULL OR f.ends_on >= as_of)
       AND EXISTS (SELECT FROM governance_form_members m
                     JOIN organisations o ON o.id = m.organisation_id
                    WHERE m.form_id = f.id AND o.kind = k.kind)
       -- Signed: a document (a link or a file, documented or verified), not a statement only.
       AND EXISTS (SELECT FROM evidence e
                    WHERE e.form_id = f.id AND e.quality <> 'self_reported')
     GROUP BY k.key
),
operators AS (
    SELECT count(*) AS n FROM people p JOIN organisations o ON o.id = p.organisation_id
     WHERE p.role = 'operator' AND p.created_at < (SELECT moment FROM day_end)
),
ledger AS (
    -- Per device, the batches received in each window's days and the seqs they span.
    SELECT c.key, v.site_id, w.batches, w.span
      FROM c CROSS JOIN devices v
     CROSS JOIN LATERAL (
        SELECT count(*) AS batches, max(d.seq) - min(d.seq) + 1 AS span FROM deliveries d
         WHERE d.device_id = v.id
           AND d.received_at >= ((as_of - c.within)::date + 1)::timestamp
                                AT TIME ZONE 'Europe/Ljubljana'
           AND d.received_at < (SELECT moment FROM day_end)) w
     WHERE c.key IN ('real_life_setting', 'data_you_can_trust') AND w.batches > 0
),
completed AS (
    SELECT count(*) AS n FROM audit_log a JOIN trials t ON t.id::text = a.object_id
     WHERE a.object_type = 'trial' AND a.action = 'complete'
       AND a.time < (SELECT moment FROM day_end)
       AND a.time >= ((as_of - (SELECT within FROM c WHERE key = 'experimentation'))::date + 1)
                     ::timestamp AT TIME ZONE 'Europe/Ljubljana'
),
open_trials AS (
    -- Each trial's state at the day's end: the last transition before it. Open: approved and not
    -- yet completed, rejected or withdrawn (helix.ACTIVE_STATES).
    SELECT trial_id FROM (
        SELECT DISTINCT ON (object_id) object_id::integer AS trial_id, details->>'to' AS state
          FROM audit_log
         WHERE object_type = 'trial' AND details ? 'to' AND time < (SELECT moment FROM day_end)
         ORDER BY object_id, time DESC, id DESC) s
     WHERE state IN ('approved', 'deploying', 'running', 'evaluating')
),
covered AS (
    -- The sectors of the open trials' own organisations and of the partners they list.
    SELECT coalesce(array_agg(DISTINCT helix_sector(o.kind) ORDER BY helix_sector(o.kind)),
                    '{}') AS sectors
      FROM open_trials ot
      JOIN (SELECT id AS trial_id, organisation_id FROM trials
            UNION SELECT trial_id, organisation_id FROM trial_partners) tp
        ON tp.trial_id = ot.trial_id
      JOIN organisations o ON o.id = tp.organisation_id
),
measured AS (
    SELECT c.key, (SELECT n FROM partnerships p WHERE p.key = c.key)::float8 AS n,
           NULL::text AS shown
      FROM c WHERE c.key IN ('education_partnership', 'technology_park_partnership')
    UNION ALL SELECT 'operator', (SELECT n FROM operators), NULL
    UNION ALL SELECT 'real_life_setting',
                     (SELECT count(DISTINCT site_id) FROM ledger WHERE key = 'real_life_setting'),
                     NULL
    UNION ALL SELECT 'experimentation', (SELECT n FROM completed), NULL
    UNION ALL SELECT 'multi_stakeholder',
                     (SELECT cardinality(sectors) FROM covered),
                     (SELECT coalesce(nullif(array_to_string(sectors, ', '), ''), 'none')
                        FROM covered)
    UNION ALL SELECT 'data_you_can_trust', r.ratio,
                     coalesce(to_char(r.ratio * 100, 'FM990.00') || '%', 'no deliveries')
      FROM (SELECT sum(batches)::float8 / sum(span) AS ratio FROM ledger
             WHERE key = 'data_you_can_trust') r
)
SELECT c.position, c.key, c.name_sl, c.description,
       CASE c.key
         WHEN 'multi_stakeholder' THEN (SELECT string_agg(s, ', ' ORDER BY s)
                                          FROM unnest(c.sectors) s)
         WHEN 'data_you_can_trust' THEN '>= ' || to_char(c.needed * 100, 'FM990.0') || '%'
         ELSE '>= ' || c.needed || CASE c.key
                                     WHEN 'operator' THEN ' person with the operator role'
                                     WHEN 'real_life_setting' THEN ' site'
                                     WHEN 'experimentation' THEN ' trial'
                                     ELSE '' END
       END,
       coalesce(m.shown, m.n::text),
       CASE c.key
         WHEN 'multi_stakeholder' THEN c.sectors <@ (SELECT sectors FROM covered)
         ELSE coalesce(m.n >= c.needed::float8, false)
       END,
       c.source
  FROM c JOIN measured m ON m.key = c.key
 ORDER BY c.position
$$;

-- The grants. Both readers run the function; neither reads people or the audit trail through it
-- more than counts. The API reads the thresholds (milestone.py's facts and first-met dates use
-- them) and never changes them (the default privileges of 006 gave it INSERT and UPDATE); the
-- dashboards' login needs the function only.
REVOKE EXECUTE ON FUNCTION milestone_checklist(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION milestone_checklist(date) TO livinglab_api, livinglab_readonly;
REVOKE INSERT, UPDATE ON milestone_criteria FROM livinglab_api;
