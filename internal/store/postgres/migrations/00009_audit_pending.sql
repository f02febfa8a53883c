-- +goose Up
-- Events appended inside a transaction are stored unchained with seq =
-- -nextval('audit_pending_seq') and chained after commit in batches, so
-- that transactions appending events do not wait for each other on the
-- audit_head row until commit (sqldb.Dialect.DeferredAuditChain).
CREATE SEQUENCE audit_pending_seq;

-- +goose Down
DROP SEQUENCE audit_pending_seq;
