"""Reading the readings: access-limited queries, streamed exports and trial dossiers."""
