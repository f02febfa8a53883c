package access

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// SystemActor is the ActorID of events caused by Sesame itself (jobs,
// timers, config loading).
const SystemActor = "system"

// Event is one append-only audit record. Seq numbers events from 1 with no
// gaps; Hash chains each event to the one before it, so an edited, removed
// or reordered row is detected by VerifyChain.
type Event struct {
	Seq         int64     `json:"seq"`
	ID          string    `json:"id"`
	Time        time.Time `json:"time"`
	ActorID     string    `json:"actor_id"`
	Action      string    `json:"action"`
	SubjectType string    `json:"subject_type"`
	SubjectID   string    `json:"subject_id"`
	// Before and After are JSON snapshots of the subject (null when absent).
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	// Data is free-form JSON detail (the comment, the rule that matched).
	Data     json.RawMessage `json:"data,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// ComputeHash returns the hex SHA-256 of the event's fields and prevHash.
// Time is hashed at microsecond precision in UTC (what every store keeps).
func (e *Event) ComputeHash(prevHash string) string {
	h := sha256.New()
	field := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	field(strconv.FormatInt(e.Seq, 10))
	field(e.ID)
	field(e.Time.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano))
	field(e.ActorID)
	field(e.Action)
	field(e.SubjectType)
	field(e.SubjectID)
	field(string(e.Before))
	field(string(e.After))
	field(string(e.Data))
	field(prevHash)
	return hex.EncodeToString(h.Sum(nil))
}

// ChainError says where an audit chain breaks.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string {
	return "audit chain broken at seq " + strconv.FormatInt(e.Seq, 10) + ": " + e.Reason
}

// ChainVerifier checks events one at a time, in Seq order. The zero value
// expects the chain to start at Seq 1 with an empty previous hash.
type ChainVerifier struct {
	lastSeq  int64
	lastHash string
	// Count is how many events passed.
	Count int64
}

// Next checks e against the events before it and returns a *ChainError on
// the first problem: a gap or reordering in Seq (a removed or moved row), a
// PrevHash that does not match, or a Hash that does not match the content
// (an edited row).
func (v *ChainVerifier) Next(e *Event) error {
	if e.Seq != v.lastSeq+1 {
		return &ChainError{Seq: e.Seq, Reason: "expected seq " + strconv.FormatInt(v.lastSeq+1, 10) + " (a row was removed or reordered)"}
	}
	if e.PrevHash != v.lastHash {
		return &ChainError{Seq: e.Seq, Reason: "prev_hash does not match the hash of the event before it"}
	}
	if e.ComputeHash(e.PrevHash) != e.Hash {
		return &ChainError{Seq: e.Seq, Reason: "hash does not match the event's content (the row was edited)"}
	}
	v.lastSeq, v.lastHash = e.Seq, e.Hash
	v.Count++
	return nil
}

// Snapshot marshals v for an event's Before or After; nil gives nil.
func Snapshot(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(strconv.Quote("unmarshalable: " + err.Error()))
	}
	return b
}
