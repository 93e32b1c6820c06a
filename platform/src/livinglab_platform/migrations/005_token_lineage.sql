-- Which token created each token (NULL: created at the command line, by an operator at the
-- terminal). A token created through the API expires no later than its parent, and revoking a
-- token revokes the tokens it created, down the line (registry/tokens.py).
ALTER TABLE tokens ADD COLUMN parent_id integer REFERENCES tokens (id);
CREATE INDEX tokens_parent ON tokens (parent_id);
