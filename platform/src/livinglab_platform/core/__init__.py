"""What every part of the platform stands on: settings, the database, errors, schema types, the broker's admin."""
