package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/store"
)

func TestUsersAndGroups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	ctx := t.Context()
	require.NoError(t, e.Store.DirectoryGroupCreate(ctx, &store.DirectoryGroup{ID: "grp_1", DisplayName: "scim-only", ExternalID: "x1"}))
	require.NoError(t, e.Store.DirectoryUserCreate(ctx, &store.DirectoryUser{UserID: e.Alice.ID, UserName: "alice@corp", ExternalID: "00u1", ClientID: "scc_1"}))

	type user struct {
		ID      string `json:"id"`
		Email   string `json:"email"`
		Status  string `json:"status"`
		Manager *struct {
			Email string `json:"email"`
		} `json:"manager"`
		SCIM *struct {
			UserName   string `json:"user_name"`
			ExternalID string `json:"external_id"`
		} `json:"scim"`
	}
	var u user
	b.call(t, e.Dave, http.MethodGet, "/users/"+e.Alice.ID, "", http.StatusOK, &u)
	require.Equal(t, "alice@example.com", u.Email)
	require.Equal(t, "bob@example.com", u.Manager.Email)
	require.Equal(t, "alice@corp", u.SCIM.UserName)
	b.call(t, e.Alice, http.MethodGet, "/users/"+e.Alice.ID, "", http.StatusOK, &u)
	b.call(t, e.Erin, http.MethodGet, "/users/"+e.Alice.ID, "", http.StatusNotFound, nil)
	b.call(t, e.Carol, http.MethodGet, "/users/usr_nobody", "", http.StatusNotFound, nil)

	type group struct {
		Name    string `json:"name"`
		ID      string `json:"id"`
		Source  string `json:"source"`
		Members int    `json:"members"`
	}
	var gs pageResp[group]
	b.call(t, e.Carol, http.MethodGet, "/groups?limit=2", "", http.StatusOK, &gs)
	require.Equal(t, []group{{Name: "approvers", Source: "config", Members: 2}, {Name: "eng", Source: "config", Members: 3}}, gs.Items)
	require.NotEmpty(t, gs.NextCursor)
	b.call(t, e.Carol, http.MethodGet, "/groups?limit=2&cursor="+gs.NextCursor, "", http.StatusOK, &gs)
	require.Equal(t, []group{{Name: "scim-only", ID: "grp_1", Source: "scim", Members: 0}}, gs.Items)
	require.Empty(t, gs.NextCursor)
	b.call(t, e.Erin, http.MethodGet, "/groups", "", http.StatusForbidden, nil)

	var g struct {
		Name       string         `json:"name"`
		Members    int            `json:"members"`
		MemberPage pageResp[user] `json:"member_page"`
	}
	b.call(t, e.Dave, http.MethodGet, "/groups/eng?limit=2", "", http.StatusOK, &g)
	require.Equal(t, 3, g.Members)
	require.Len(t, g.MemberPage.Items, 2)
	require.Equal(t, "alice@example.com", g.MemberPage.Items[0].Email)
	require.NotEmpty(t, g.MemberPage.NextCursor)
	b.call(t, e.Dave, http.MethodGet, "/groups/grp_1", "", http.StatusOK, &g)
	require.Equal(t, "scim-only", g.Name)
	b.call(t, e.Dave, http.MethodGet, "/groups/nope", "", http.StatusNotFound, nil)
}

func TestOffboardThroughAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	r := b.submit(t, e.Alice, `{"entitlements":["github:read"],"duration":"1h","reason":"need it now","approvers":["bob@example.com"]}`)

	b.call(t, e.Bob, http.MethodPost, "/users/"+e.Alice.ID+"/offboard", `{}`, http.StatusForbidden, nil)
	b.call(t, e.Carol, http.MethodPost, "/users/"+e.Carol.ID+"/offboard", `{}`, http.StatusUnprocessableEntity, nil)
	b.call(t, e.Carol, http.MethodPost, "/users/"+e.Alice.ID+"/offboard", `{"unknown":1}`, http.StatusBadRequest, nil)
	var res struct {
		User struct {
			Status string `json:"status"`
		} `json:"user"`
		Changed           bool     `json:"changed"`
		CancelledRequests []string `json:"cancelled_requests"`
	}
	b.call(t, e.Carol, http.MethodPost, "/users/"+e.Alice.ID+"/offboard", `{"reason":"left"}`, http.StatusOK, &res)
	require.True(t, res.Changed)
	require.Equal(t, "offboarded", res.User.Status)
	require.Equal(t, []string{r.ID}, res.CancelledRequests)
	b.call(t, e.Carol, http.MethodPost, "/users/"+e.Alice.ID+"/offboard", ``, http.StatusOK, &res)
	require.False(t, res.Changed)
	require.Empty(t, res.CancelledRequests)
	b.call(t, e.Alice, http.MethodGet, "/me", "", http.StatusUnauthorized, nil)
}
