package store

import (
	"context"
	"encoding/json"
	"time"
)

// DirectoryQueries are the identity directory's reads and writes: groups,
// SCIM provisioning clients and the attributes an identity provider pushes.
// The SQL adapters implement them in sqldb/directory.go.
//
// A directory user is the SCIM side of a Sesame user (same ID); the Sesame
// fields (email, name, manager, groups, status) stay in access.User and
// are written with UserUpsert by the caller. Directory group membership
// is kept here; the caller mirrors group names into access.User.Groups.
type DirectoryQueries interface {
	// DirectoryLockUser locks the Sesame user's row until the transaction
	// ends (FOR UPDATE on PostgreSQL; a SQLite transaction holds the write
	// lock already), so that a read-merge-write of the user does not lose a
	// concurrent change. ErrNotFound if no user has userID.
	DirectoryLockUser(ctx context.Context, userID string) error

	// DirectoryLockGroup does the same for a directory group's row, so that
	// concurrent PATCHes of one group run one after the other.
	DirectoryLockGroup(ctx context.Context, groupID string) error

	// ScimClientCreate stores c; a second client with c.ID or c.Hash is
	// ErrConflict. Get methods return ErrNotFound.
	ScimClientCreate(ctx context.Context, c *ScimClient) error
	ScimClientGetByHash(ctx context.Context, hash string) (*ScimClient, error)
	ScimClientGetByID(ctx context.Context, id string) (*ScimClient, error)
	// ScimClientList returns every client, newest first.
	ScimClientList(ctx context.Context) ([]*ScimClient, error)
	// ScimClientUpdate saves LastUsedAt and RevokedAt; ErrNotFound if c is
	// not stored.
	ScimClientUpdate(ctx context.Context, c *ScimClient) error

	// DirectoryUserCreate stores u. A second row for u.UserID, or another
	// user with the same UserName (case-insensitive), is ErrConflict.
	DirectoryUserCreate(ctx context.Context, u *DirectoryUser) error
	// DirectoryUserGet returns ErrNotFound if userID has no directory row.
	DirectoryUserGet(ctx context.Context, userID string) (*DirectoryUser, error)
	// DirectoryUserUpdate saves every field but UserID, ClientID and
	// CreatedAt, only if the stored Version equals u.Version (else
	// ErrConflict; ErrNotFound when missing; ErrConflict on a UserName
	// taken by another user), then increments u.Version.
	DirectoryUserUpdate(ctx context.Context, u *DirectoryUser) error
	// DirectoryUserDelete removes the row and the user's memberships;
	// ErrNotFound when missing. The Sesame user is kept.
	DirectoryUserDelete(ctx context.Context, userID string) error
	// DirectoryUserList returns the users matching p ordered by UserID,
	// from p.Offset, at most p.Limit (clamped to [0, 1000]; 0 returns none,
	// only the total), and the number matching p.
	DirectoryUserList(ctx context.Context, p DirectoryListParams) ([]*DirectoryUser, int, error)

	// DirectoryGroupCreate stores g. A second group with g.ID or with the
	// same DisplayName is ErrConflict.
	DirectoryGroupCreate(ctx context.Context, g *DirectoryGroup) error
	// DirectoryGroupGet returns ErrNotFound if no group has id.
	DirectoryGroupGet(ctx context.Context, id string) (*DirectoryGroup, error)
	// DirectoryGroupUpdate has DirectoryUserUpdate's contract; a
	// DisplayName taken by another group is ErrConflict.
	DirectoryGroupUpdate(ctx context.Context, g *DirectoryGroup) error
	// DirectoryGroupDelete removes the group and its memberships;
	// ErrNotFound when missing.
	DirectoryGroupDelete(ctx context.Context, id string) error
	// DirectoryGroupList has DirectoryUserList's contract, ordered by ID.
	// p.UserName and p.Email do not apply; p.Member keeps the groups that
	// user is a member of.
	DirectoryGroupList(ctx context.Context, p DirectoryListParams) ([]*DirectoryGroup, int, error)
	// DirectoryMemberAdd makes userIDs members of groupID (present ones
	// are ignored); DirectoryMemberRemove removes them (absent ones are
	// ignored). Both report the user IDs whose membership changed.
	DirectoryMemberAdd(ctx context.Context, groupID string, userIDs []string) ([]string, error)
	DirectoryMemberRemove(ctx context.Context, groupID string, userIDs []string) ([]string, error)
	// DirectoryMemberList returns the user IDs of groupID's members,
	// sorted.
	DirectoryMemberList(ctx context.Context, groupID string) ([]string, error)

	// GroupList returns every group name Sesame knows (those of users,
	// from the config file or SCIM, and SCIM groups without members)
	// ordered by name, with their member counts.
	GroupList(ctx context.Context, p Page) ([]*Group, string, error)
	// GroupGet returns the group named name, or the SCIM group whose ID is
	// name; ErrNotFound if neither exists.
	GroupGet(ctx context.Context, name string) (*Group, error)
}

// ScimClient is an identity provider allowed to push people and groups
// over SCIM. Only the SHA-256 hash of its bearer token is stored.
type ScimClient struct {
	ID         string
	Name       string
	Hash       string
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt time.Time
	// RevokedAt is zero while the client may push.
	RevokedAt time.Time
}

// DirectoryUser is what an identity provider pushed about one Sesame user.
type DirectoryUser struct {
	// UserID is the Sesame user's ID, and the resource's SCIM id.
	UserID string
	// UserName is unique case-insensitively.
	UserName   string
	ExternalID string
	// ClientID is the SCIM client that created the resource.
	ClientID string
	// Resource is the SCIM resource's attributes as last pushed (a JSON
	// object without id and meta), returned on reads.
	Resource  json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int
}

// DirectoryGroup is a group an identity provider pushed. Its members are
// kept apart (DirectoryMemberList).
type DirectoryGroup struct {
	ID          string
	DisplayName string
	ExternalID  string
	ClientID    string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int
}

// DirectoryListParams filters the directory lists: SCIM's equality filters
// that an index answers. Zero fields do not filter.
type DirectoryListParams struct {
	Offset, Limit int
	IDs           []string
	// UserName matches case-insensitively (SCIM's userName is caseExact
	// false).
	UserName   string
	ExternalID string
	// Email matches the Sesame user's email, case-insensitively.
	Email       string
	DisplayName string
	Member      string
}

// Group is a group name as the API lists it.
type Group struct {
	Name string `json:"name"`
	// ID and ExternalID are set for groups pushed over SCIM.
	ID         string `json:"id,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
	// Source is "scim" for pushed groups, "config" otherwise.
	Source  string `json:"source"`
	Members int    `json:"members"`
}
