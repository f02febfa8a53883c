// Package policytest provides an in-memory policy.Directory for tests and
// benchmarks of code that evaluates policies.
package policytest

import (
	"context"
	"fmt"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// Directory is a policy.Directory over users held in memory. It is not
// safe for concurrent writes; reads may run concurrently once it is built.
type Directory struct {
	byID    map[string]*access.User
	byEmail map[string]*access.User
	byGroup map[string][]*access.User
}

// NewDirectory returns a directory holding users.
func NewDirectory(users ...*access.User) *Directory {
	d := &Directory{byID: map[string]*access.User{}, byEmail: map[string]*access.User{}, byGroup: map[string][]*access.User{}}
	for _, u := range users {
		d.Add(u)
	}
	return d
}

// Add stores u (replacing a user with its ID is not supported).
func (d *Directory) Add(u *access.User) {
	d.byID[u.ID] = u
	d.byEmail[strings.ToLower(u.Email)] = u
	for _, g := range u.Groups {
		d.byGroup[g] = append(d.byGroup[g], u)
	}
}

// UserGetByID returns the user or an error wrapping store.ErrNotFound.
func (d *Directory) UserGetByID(_ context.Context, id string) (*access.User, error) {
	if u := d.byID[id]; u != nil {
		return u, nil
	}
	return nil, fmt.Errorf("user %s: %w", id, store.ErrNotFound)
}

// UserGetByEmail returns the user or an error wrapping store.ErrNotFound.
func (d *Directory) UserGetByEmail(_ context.Context, email string) (*access.User, error) {
	if u := d.byEmail[strings.ToLower(email)]; u != nil {
		return u, nil
	}
	return nil, fmt.Errorf("user %s: %w", email, store.ErrNotFound)
}

// UserListByGroup returns the group's members, active or not, in the order
// added. The slice is shared: do not modify it.
func (d *Directory) UserListByGroup(_ context.Context, group string) ([]*access.User, error) {
	return d.byGroup[group], nil
}

// User returns an active user with ID "usr_" + name, email name@example.com
// and the groups given, for tests.
func User(name string, groups ...string) *access.User {
	return &access.User{ID: "usr_" + name, Email: name + "@example.com", Name: strings.ToUpper(name[:1]) + name[1:],
		Groups: groups, Status: access.UserActive}
}
