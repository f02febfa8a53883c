package awsidc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
)

// TypeName is the connector type in the catalog.
const TypeName = "awsidc"

const (
	settingRegion          = "region"
	settingInstanceArn     = "instance_arn"
	settingIdentityStoreID = "identity_store_id"
	settingAccountID       = "account_id"
	settingAccessKeyID     = "access_key_id"
	settingSecretKey       = "secret_access_key"
	settingSessionToken    = "session_token"
	settingSSOURL          = "sso_url"
	settingIdentityURL     = "identitystore_url"
	settingPollInterval    = "poll_interval"
	settingPollTimeout     = "poll_timeout"
	settingTimeout         = "timeout"

	defaultPollInterval = 2 * time.Second
	defaultPollTimeout  = 2 * time.Minute
	defaultTimeout      = 30 * time.Second
	pageSize            = 100
)

func knownSettings() []string {
	return []string{settingRegion, settingInstanceArn, settingIdentityStoreID, settingAccountID, settingAccessKeyID,
		settingSecretKey, settingSessionToken, settingSSOURL, settingIdentityURL, settingPollInterval, settingPollTimeout, settingTimeout}
}

var (
	regionRE      = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	instanceArnRE = regexp.MustCompile(`^arn:aws[a-z-]*:sso:::instance/(sso)?ins-[a-zA-Z0-9.-]{16}$`)
	storeIDRE     = regexp.MustCompile(`^(d-[0-9a-f]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)
	accountIDRE   = regexp.MustCompile(`^[0-9]{12}$`)
)

// Options are the dependencies New fills with defaults.
type Options struct {
	// Clock dates request signatures; clock.Real{} when nil.
	Clock clock.Clock
	// HTTPClient sends requests; one with the timeout setting when nil.
	HTTPClient *http.Client
}

// Connector assigns IAM Identity Center permission sets to users in one
// AWS account. Entitlement keys are permission set names (or ARNs).
type Connector struct {
	c                     *client
	sso, ids              service
	instanceArn, storeID  string
	accountID             string
	pollInterval, maxWait time.Duration

	mu       sync.Mutex
	psByName map[string]string // permission set name -> ARN
}

var (
	_ connector.Connector         = (*Connector)(nil)
	_ connector.GrantLister       = (*Connector)(nil)
	_ connector.AccountLister     = (*Connector)(nil)
	_ connector.EntitlementLister = (*Connector)(nil)
	_ connector.HealthChecker     = (*Connector)(nil)
)

// New is the connector.Factory. See the package documentation for the
// settings.
func New(settings map[string]string) (connector.Connector, error) {
	return NewWithOptions(settings, Options{})
}

// NewWithOptions is New with injected dependencies.
func NewWithOptions(settings map[string]string, opts Options) (*Connector, error) {
	p, err := parseSettings(settings)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: p.timeout}
	}
	region := settings[settingRegion]
	return &Connector{
		c: &client{
			creds:  credentials{accessKeyID: settings[settingAccessKeyID], secretAccessKey: settings[settingSecretKey], sessionToken: settings[settingSessionToken]},
			region: region, http: hc, clock: cmp.Or[clock.Clock](opts.Clock, clock.Real{}),
		},
		sso:          service{endpoint: p.ssoURL, signingName: "sso", targetPrefix: "SWBExternalService"},
		ids:          service{endpoint: p.idsURL, signingName: "identitystore", targetPrefix: "AWSIdentityStore"},
		instanceArn:  settings[settingInstanceArn],
		storeID:      settings[settingIdentityStoreID],
		accountID:    settings[settingAccountID],
		pollInterval: p.pollInterval,
		maxWait:      p.pollTimeout,
	}, nil
}

type parsed struct {
	ssoURL, idsURL                     string
	pollInterval, pollTimeout, timeout time.Duration
}

// ValidateSettings checks settings without connecting anywhere.
func ValidateSettings(settings map[string]string) error {
	_, err := parseSettings(settings)
	return err
}

// ValidateSettings implements connector.SettingsValidator.
func (c *Connector) ValidateSettings(settings map[string]string) error {
	return ValidateSettings(settings)
}

func endpoint(name, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("setting %s must be an endpoint URL like https://host, without path", name)
	}
	return u.Scheme + "://" + u.Host, nil
}

func duration(s map[string]string, name string, def time.Duration) (time.Duration, error) {
	v := s[name]
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("setting %s: %q is not a positive duration like 2s", name, v)
	}
	return d, nil
}

func parseSettings(s map[string]string) (parsed, error) {
	var p parsed
	for k := range s {
		if !slices.Contains(knownSettings(), k) {
			return p, fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(knownSettings(), ", "))
		}
	}
	region := s[settingRegion]
	checks := []struct {
		name string
		ok   bool
		want string
	}{
		{settingRegion, regionRE.MatchString(region), "an AWS region like us-east-1"},
		{settingInstanceArn, instanceArnRE.MatchString(s[settingInstanceArn]), "the Identity Center instance ARN, arn:aws:sso:::instance/ssoins-..."},
		{settingIdentityStoreID, storeIDRE.MatchString(s[settingIdentityStoreID]), "the identity store id, d-xxxxxxxxxx"},
		{settingAccountID, accountIDRE.MatchString(s[settingAccountID]), "the 12-digit id of the AWS account access is granted in"},
		{settingAccessKeyID, s[settingAccessKeyID] != "", "the access key id of an IAM principal allowed to manage account assignments"},
		{settingSecretKey, s[settingSecretKey] != "", "the secret access key"},
	}
	for _, c := range checks {
		if !c.ok {
			return p, fmt.Errorf("setting %s is required and must be %s", c.name, c.want)
		}
	}
	var err error
	if p.ssoURL, err = endpoint(settingSSOURL, cmp.Or(s[settingSSOURL], "https://sso."+region+".amazonaws.com")); err != nil {
		return p, err
	}
	if p.idsURL, err = endpoint(settingIdentityURL, cmp.Or(s[settingIdentityURL], "https://identitystore."+region+".amazonaws.com")); err != nil {
		return p, err
	}
	if p.pollInterval, err = duration(s, settingPollInterval, defaultPollInterval); err != nil {
		return p, err
	}
	if p.pollTimeout, err = duration(s, settingPollTimeout, defaultPollTimeout); err != nil {
		return p, err
	}
	if p.timeout, err = duration(s, settingTimeout, defaultTimeout); err != nil {
		return p, err
	}
	return p, nil
}

type permissionSet struct {
	arn, name, description string
}

// permissionSets lists the instance's permission sets with their names.
func (c *Connector) permissionSets(ctx context.Context) ([]permissionSet, error) {
	var arns []string
	next := ""
	for {
		in := map[string]any{"InstanceArn": c.instanceArn, "MaxResults": pageSize}
		if next != "" {
			in["NextToken"] = next
		}
		var out struct {
			PermissionSets []string
			NextToken      string
		}
		if err := c.c.call(ctx, c.sso, "ListPermissionSets", in, &out); err != nil {
			return nil, err
		}
		arns = append(arns, out.PermissionSets...)
		if next = out.NextToken; next == "" {
			break
		}
	}
	sets := make([]permissionSet, 0, len(arns))
	for _, arn := range arns {
		var out struct {
			PermissionSet struct {
				Name, Description string
			}
		}
		if err := c.c.call(ctx, c.sso, "DescribePermissionSet", map[string]any{"InstanceArn": c.instanceArn, "PermissionSetArn": arn}, &out); err != nil {
			return nil, err
		}
		sets = append(sets, permissionSet{arn: arn, name: out.PermissionSet.Name, description: out.PermissionSet.Description})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.psByName = map[string]string{}
	for _, ps := range sets {
		c.psByName[ps.name] = ps.arn
	}
	return sets, nil
}

// permissionSetArn resolves an entitlement key: an ARN as is, a name
// through a cache refreshed on a miss. found is false for an unknown name.
func (c *Connector) permissionSetArn(ctx context.Context, key string) (arn string, found bool, err error) {
	if strings.HasPrefix(key, "arn:") {
		return key, true, nil
	}
	if key == "" {
		return "", false, connector.Permanent(errors.New("awsidc: empty entitlement key"))
	}
	c.mu.Lock()
	arn, found = c.psByName[key]
	c.mu.Unlock()
	if found {
		return arn, true, nil
	}
	if _, err := c.permissionSets(ctx); err != nil {
		return "", false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	arn, found = c.psByName[key]
	return arn, found, nil
}

// userID maps the person to an identity store user by userName = email.
func (c *Connector) userID(ctx context.Context, t connector.Target) (id string, found bool, err error) {
	if t.Email == "" {
		return "", false, connector.Permanent(errors.New("awsidc: the person has no email"))
	}
	in := map[string]any{
		"IdentityStoreId":     c.storeID,
		"AlternateIdentifier": map[string]any{"UniqueAttribute": map[string]string{"AttributePath": "userName", "AttributeValue": t.Email}},
	}
	var out struct{ UserId string } //nolint:revive // AWS's field name
	err = c.c.call(ctx, c.ids, "GetUserId", in, &out)
	if e, ok := asAPIError(err); ok && e.Type == "ResourceNotFoundException" {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return out.UserId, true, nil
}

type assignment struct {
	AccountID        string `json:"AccountId"`
	PermissionSetArn string
	PrincipalID      string `json:"PrincipalId"`
	PrincipalType    string
}

func (c *Connector) assignments(ctx context.Context, psArn string) ([]assignment, error) {
	var all []assignment
	next := ""
	for {
		in := map[string]any{"InstanceArn": c.instanceArn, "AccountId": c.accountID, "PermissionSetArn": psArn, "MaxResults": pageSize}
		if next != "" {
			in["NextToken"] = next
		}
		var out struct {
			AccountAssignments []assignment
			NextToken          string
		}
		if err := c.c.call(ctx, c.sso, "ListAccountAssignments", in, &out); err != nil {
			return nil, err
		}
		all = append(all, out.AccountAssignments...)
		if next = out.NextToken; next == "" {
			return all, nil
		}
	}
}

func (c *Connector) assigned(ctx context.Context, psArn, userID string) (bool, error) {
	as, err := c.assignments(ctx, psArn)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(as, func(a assignment) bool { return a.PrincipalType == "USER" && a.PrincipalID == userID }), nil
}

// operationStatus is AccountAssignmentCreationStatus or
// AccountAssignmentDeletionStatus.
type operationStatus struct {
	RequestID     string `json:"RequestId"`
	Status        string
	FailureReason string
}

// resolve turns the target into (permission set ARN, user id). ok is
// false when either does not exist (with err nil).
func (c *Connector) resolve(ctx context.Context, t connector.Target) (psArn, uid string, ok bool, err error) {
	psArn, found, err := c.permissionSetArn(ctx, t.EntitlementKey)
	if err != nil || !found {
		return "", "", false, err
	}
	uid, found, err = c.userID(ctx, t)
	if err != nil || !found {
		return "", "", false, err
	}
	return psArn, uid, true, nil
}

func (c *Connector) request(psArn, uid string) map[string]any {
	return map[string]any{"InstanceArn": c.instanceArn, "TargetId": c.accountID, "TargetType": "AWS_ACCOUNT",
		"PermissionSetArn": psArn, "PrincipalType": "USER", "PrincipalId": uid}
}

// Grant assigns the permission set to the person's Identity Center user
// in the account, and waits (polling every poll_interval, up to
// poll_timeout) for AWS to finish provisioning it. An assignment that is
// already there is success.
func (c *Connector) Grant(ctx context.Context, t connector.Target) error {
	psArn, found, err := c.permissionSetArn(ctx, t.EntitlementKey)
	if err != nil {
		return err
	}
	if !found {
		return connector.Permanent(fmt.Errorf("awsidc: no permission set named %q", t.EntitlementKey))
	}
	uid, found, err := c.userID(ctx, t)
	if err != nil {
		return err
	}
	if !found {
		return connector.Permanent(fmt.Errorf("awsidc: no Identity Center user with userName %q", t.Email))
	}
	if has, err := c.assigned(ctx, psArn, uid); err != nil || has {
		return err
	}
	var out struct{ AccountAssignmentCreationStatus operationStatus }
	if err := c.c.call(ctx, c.sso, "CreateAccountAssignment", c.request(psArn, uid), &out); err != nil {
		return err
	}
	return c.wait(ctx, "DescribeAccountAssignmentCreationStatus", "AccountAssignmentCreationRequestId", out.AccountAssignmentCreationStatus)
}

// Revoke deletes the assignment and waits for AWS to finish. No
// permission set, no user or no assignment: nothing to revoke.
func (c *Connector) Revoke(ctx context.Context, t connector.Target) error {
	psArn, uid, ok, err := c.resolve(ctx, t)
	if err != nil || !ok {
		return err
	}
	if has, err := c.assigned(ctx, psArn, uid); err != nil || !has {
		return err
	}
	var out struct{ AccountAssignmentDeletionStatus operationStatus }
	err = c.c.call(ctx, c.sso, "DeleteAccountAssignment", c.request(psArn, uid), &out)
	if e, ok := asAPIError(err); ok && e.Type == "ResourceNotFoundException" {
		return nil
	}
	if err != nil {
		return err
	}
	return c.wait(ctx, "DescribeAccountAssignmentDeletionStatus", "AccountAssignmentDeletionRequestId", out.AccountAssignmentDeletionStatus)
}

// wait polls op until the request leaves IN_PROGRESS. Still in progress
// after poll_timeout is retryable (the next attempt finds the assignment,
// or gets ConflictException while AWS is still busy).
func (c *Connector) wait(ctx context.Context, op, idField string, st operationStatus) error {
	polls := int(c.maxWait / c.pollInterval)
	for i := 0; ; i++ {
		switch st.Status {
		case "SUCCEEDED":
			return nil
		case "FAILED":
			return failure(op, st)
		}
		if i >= polls {
			return fmt.Errorf("awsidc: request %s still %s after %s; it will be checked again", st.RequestID, st.Status, c.maxWait)
		}
		if err := sleep(ctx, c.pollInterval); err != nil {
			return fmt.Errorf("awsidc: waiting for request %s: %w", st.RequestID, err)
		}
		var out map[string]operationStatus
		if err := c.c.call(ctx, c.sso, op, map[string]any{"InstanceArn": c.instanceArn, idField: st.RequestID}, &out); err != nil {
			return err
		}
		for _, v := range out {
			st = v
		}
	}
}

// failure classifies a FAILED request by its reason: a missing principal
// or permission set, or a refusal, is permanent; anything else (AWS
// documents internal failures here too) is retryable.
func failure(op string, st operationStatus) error {
	err := fmt.Errorf("awsidc: request %s failed: %s", st.RequestID, cmp.Or(st.FailureReason, "no reason given"))
	r := strings.ToLower(st.FailureReason)
	for _, w := range []string{"does not exist", "not found", "not authorized", "accessdenied", "access denied", "invalid"} {
		if strings.Contains(r, w) {
			return connector.Permanent(fmt.Errorf("%s: %w", op, err))
		}
	}
	return err
}

type idsUser struct {
	UserID      string `json:"UserId"`
	UserName    string
	DisplayName string
	Emails      []struct {
		Value   string
		Primary bool
	}
}

func (u idsUser) email() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	if strings.Contains(u.UserName, "@") {
		return u.UserName
	}
	return ""
}

func (c *Connector) users(ctx context.Context) ([]idsUser, error) {
	var all []idsUser
	next := ""
	for {
		in := map[string]any{"IdentityStoreId": c.storeID, "MaxResults": pageSize}
		if next != "" {
			in["NextToken"] = next
		}
		var out struct {
			Users     []idsUser
			NextToken string
		}
		if err := c.c.call(ctx, c.ids, "ListUsers", in, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Users...)
		if next = out.NextToken; next == "" {
			return all, nil
		}
	}
}

// ListGrants implements connector.GrantLister: the USER assignments of
// every permission set in the account (group assignments are not
// expanded), keyed by permission set name.
func (c *Connector) ListGrants(ctx context.Context) ([]connector.GrantRecord, error) {
	sets, err := c.permissionSets(ctx)
	if err != nil {
		return nil, err
	}
	us, err := c.users(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]idsUser, len(us))
	for _, u := range us {
		byID[u.UserID] = u
	}
	var out []connector.GrantRecord
	for _, ps := range sets {
		as, err := c.assignments(ctx, ps.arn)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			u, ok := byID[a.PrincipalID]
			if a.PrincipalType != "USER" || !ok {
				continue
			}
			out = append(out, connector.GrantRecord{Account: u.UserName, AccountEmail: u.email(), EntitlementKey: ps.name})
		}
	}
	return out, nil
}

// ListAccounts implements connector.AccountLister: the identity store's
// users.
func (c *Connector) ListAccounts(ctx context.Context) ([]connector.Account, error) {
	us, err := c.users(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]connector.Account, 0, len(us))
	for _, u := range us {
		out = append(out, connector.Account{ExternalID: u.UserID, Email: u.email(), Name: cmp.Or(u.DisplayName, u.UserName)})
	}
	return out, nil
}

// ListEntitlements implements connector.EntitlementLister: the
// instance's permission sets, keyed by name.
func (c *Connector) ListEntitlements(ctx context.Context) ([]connector.Entitlement, error) {
	sets, err := c.permissionSets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]connector.Entitlement, 0, len(sets))
	for _, ps := range sets {
		out = append(out, connector.Entitlement{Key: ps.name, Name: ps.name, Description: ps.description})
	}
	return out, nil
}

// HealthCheck implements connector.HealthChecker: both APIs accept the
// signed credentials.
func (c *Connector) HealthCheck(ctx context.Context) error {
	if err := c.c.call(ctx, c.sso, "ListPermissionSets", map[string]any{"InstanceArn": c.instanceArn, "MaxResults": 1}, nil); err != nil {
		return err
	}
	return c.c.call(ctx, c.ids, "ListUsers", map[string]any{"IdentityStoreId": c.storeID, "MaxResults": 1}, nil)
}
