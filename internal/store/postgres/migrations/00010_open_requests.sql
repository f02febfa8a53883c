-- +goose Up
-- The overlap check at submit reads a requester's open requests for one
-- app: a partial index holds only those, so the check no longer walks the
-- requester's whole history of closed requests (it replaces the index on
-- every request by requester and app, which did).
CREATE INDEX requests_requester_app_open ON requests (requester_id, app_id, id)
    WHERE state IN ('pending', 'approved', 'active');
DROP INDEX requests_requester_app;

-- +goose Down
CREATE INDEX requests_requester_app ON requests (requester_id, app_id, id);
DROP INDEX requests_requester_app_open;
