-- Least privilege: each service holds only what its queries need. Three group roles that cannot
-- log in; a deployment makes one login user per service and grants it one of them
-- (`livinglab db login NAME --role api|ingest|readonly`, core/roles.py). Migrations keep running
-- as the owner of the schema (`livinglab db upgrade`); no service ever does.
--
--   livinglab_api       the API, its web pages and the operator's commands: the registry, trials,
--                       grants and the audit trail (appended to, never changed); reads the data
--   livinglab_ingest    the ingest service: appends readings, the ledger, the quarantine, device
--                       events and ingest_stats, upserts rollups and device status; reads the
--                       registry's devices and sensors; nothing of people, tokens or trials
--   livinglab_readonly  dashboards (Grafana): reads every table and view except the tokens
--
-- None of them owns a table, so none can ALTER, DROP or TRUNCATE one, and none may create objects.
-- Grants are on whole tables, so columns added later are covered. tests/db/test_roles.py holds
-- the same matrix and fails when a table is added without a row in it.

-- Roles belong to the cluster, not the database: another database on it may have made them.
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['livinglab_api', 'livinglab_ingest', 'livinglab_readonly'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', name);
        END IF;
    END LOOP;
END
$$;

-- Only the owner creates objects (already PostgreSQL 15's default; older versions let anyone).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO livinglab_api, livinglab_ingest, livinglab_readonly;

-- The API: what registry/, trials/, data/, audit.py and access.py read and write.
GRANT SELECT, INSERT ON organisations, people, sites, sensors, audit_log TO livinglab_api;
GRANT SELECT, INSERT, UPDATE ON tokens, devices, trials, grants TO livinglab_api;
GRANT SELECT, INSERT, DELETE ON trial_sites, trial_partners, trial_devices TO livinglab_api;
GRANT SELECT ON readings, readings_1m, readings_1h, device_status, delivery_completeness,
                schema_migrations TO livinglab_api;

-- The ingest service: what ingest/writer.py, rollup.py, stats.py and registry.py do. COPY needs
-- INSERT; ON CONFLICT ... DO UPDATE needs SELECT and UPDATE; RETURNING needs SELECT.
GRANT INSERT ON readings, quarantine, device_events, ingest_stats TO livinglab_ingest;
GRANT SELECT, INSERT ON deliveries TO livinglab_ingest;
GRANT SELECT, INSERT, UPDATE ON readings_1m, readings_1h, device_status TO livinglab_ingest;
GRANT SELECT ON devices, sensors, schema_migrations TO livinglab_ingest;

-- Dashboards read everything but the tokens (their hashes are nobody's business but the API's).
-- Named one by one, so a database migrated from scratch and one upgraded later hold the same.
GRANT SELECT ON schema_migrations, organisations, people, sites, devices, sensors, trials,
                trial_sites, trial_partners, trial_devices, grants, audit_log, readings,
                readings_1m, readings_1h, device_status, device_events, deliveries, delivery_gaps,
                delivery_completeness, quarantine, ingest_stats TO livinglab_readonly;

-- Identity columns draw from their sequences without a grant; a serial column needs one. Tables and
-- sequences this migration does not name (a migration numbered below it that was written at the
-- same time, such as 005) and those created later by the same owner get the API's default: read,
-- add and change, never delete; the other roles nothing. A migration that wants less or more says
-- so with its own grants (after this one: the roles exist from here on).
DO $$
DECLARE
    relation regclass;
BEGIN
    FOR relation IN
        SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v')
           AND NOT has_table_privilege('livinglab_api', c.oid, 'SELECT')
           AND c.relname NOT IN ('deliveries', 'delivery_gaps', 'quarantine', 'device_events',
                                 'ingest_stats')
    LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %s TO livinglab_api', relation);
    END LOOP;
    FOR relation IN
        SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'S'
           AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')
    LOOP
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO livinglab_api', relation);
    END LOOP;
END
$$;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE ON TABLES TO livinglab_api;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO livinglab_api;
