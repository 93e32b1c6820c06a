-- TimescaleDB must be installed and preloaded (shared_preload_libraries = 'timescaledb');
-- db.upgrade checks first and says how to fix it.
CREATE EXTENSION IF NOT EXISTS timescaledb;
