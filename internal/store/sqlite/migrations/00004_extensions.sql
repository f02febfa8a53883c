-- +goose Up
-- An extension request names the active grant whose expiry it moves ('':
-- an ordinary request).
ALTER TABLE requests ADD COLUMN extends_grant_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE requests DROP COLUMN extends_grant_id;
