-- +goose Up
-- Credentials a connector issued, sealed, until the holder fetches them once.
ALTER TABLE grants ADD COLUMN credentials TEXT NOT NULL DEFAULT '';
-- The overlap check at submit: a requester's open requests for one app.
CREATE INDEX requests_requester_app ON requests (requester_id, app_id, id);

-- +goose Down
DROP INDEX requests_requester_app;
ALTER TABLE grants DROP COLUMN credentials;
