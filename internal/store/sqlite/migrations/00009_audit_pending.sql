-- +goose Up
-- Nothing on SQLite: its transactions run one at a time, so audit events
-- are chained as they are appended. (PostgreSQL's 00009 adds the sequence
-- of its deferred chaining; the numbers stay in step.)
SELECT 1;

-- +goose Down
SELECT 1;
