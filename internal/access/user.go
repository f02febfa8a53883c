package access

import (
	"slices"
	"time"
)

// UserStatus is whether a person may use Sesame.
type UserStatus string

// User statuses.
const (
	UserActive     UserStatus = "active"
	UserOffboarded UserStatus = "offboarded"
)

// Role is a Sesame-wide role. Everyone is a requester; approvers come from
// policies, not roles.
type Role string

// Roles.
const (
	RoleAdmin   Role = "admin"
	RoleAuditor Role = "auditor"
)

// User is a person. ID is stable; Email is unique (case-insensitive, stored
// lowercase).
type User struct {
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	ManagerID   string     `json:"manager_id,omitempty"`
	Groups      []string   `json:"groups,omitempty"`
	Roles       []Role     `json:"roles,omitempty"`
	Status      UserStatus `json:"status"`
	SlackUserID string     `json:"slack_user_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Active reports whether the user may request or approve anything.
func (u *User) Active() bool { return u != nil && u.Status == UserActive }

// HasRole reports whether the user holds r.
func (u *User) HasRole(r Role) bool { return u != nil && slices.Contains(u.Roles, r) }

// InGroup reports whether the user is a member of group g.
func (u *User) InGroup(g string) bool { return u != nil && slices.Contains(u.Groups, g) }
