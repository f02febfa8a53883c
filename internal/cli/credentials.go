package cli

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// credentialsView is the API's answer to POST /grants/{id}/credentials.
type credentialsView struct {
	GrantID  string `json:"grant_id"`
	Kind     string `json:"kind"`
	Username string `json:"username"`
	Secret   string `json:"secret"`
	Hint     string `json:"hint"`
}

func grantCredentials(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("grant credentials", "grant credentials GRANT_ID [--out DIR]",
		"Fetch the credentials Sesame issued for your grant (a temporary database login, an SSH certificate). "+
			"They are handed over once and then deleted. With --out, SSH credentials are written as "+
			"DIR/sesame-GRANT (private key, mode 0600) and DIR/sesame-GRANT-cert.pub (certificate), ready for ssh -i.",
		"sesame grant credentials grt_01J0...\n  sesame grant credentials grt_01J0... --out ~/.ssh")
	out := f.fs.String("out", "", "write SSH key and certificate files into this directory instead of printing them")
	pos, c, err := f.setup(e, args, 1, 1, "GRANT_ID")
	if err != nil {
		return err
	}
	var v credentialsView
	raw, err := c.call(ctx, http.MethodPost, "/grants/"+url.PathEscape(pos[0])+"/credentials", nil, nil, &v)
	if err != nil {
		return err
	}
	if *out != "" {
		return writeSSHFiles(e, *out, v)
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	fmt.Fprintf(e.stdout, "Kind:     %s\n", v.Kind)
	if v.Username != "" {
		fmt.Fprintf(e.stdout, "Username: %s\n", v.Username)
	}
	if strings.Contains(v.Secret, "\n") {
		fmt.Fprintf(e.stdout, "Secret:\n%s\n", strings.TrimRight(v.Secret, "\n"))
	} else {
		fmt.Fprintf(e.stdout, "Secret:   %s\n", v.Secret)
	}
	if v.Hint != "" {
		fmt.Fprintf(e.stdout, "Use:      %s\n", v.Hint)
	}
	fmt.Fprintln(e.stderr, "These are shown once; Sesame has deleted its copy.")
	return nil
}

// writeSSHFiles saves an SSH certificate secret (a private key PEM block
// followed by the certificate line) as two files.
func writeSSHFiles(e *env, dir string, v credentialsView) error {
	if v.Kind != "ssh-certificate" {
		// Keep the secret: print it rather than lose it.
		b, err := json.MarshalIndent(v, "", "  ") //nolint:gosec // printing the secret to its owner is the point
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(b))
		return fmt.Errorf("--out is for SSH certificates; these are %q credentials (printed above, shown once)", v.Kind)
	}
	block, rest := pem.Decode([]byte(v.Secret))
	cert := strings.TrimSpace(string(rest))
	if block == nil || cert == "" {
		return errors.New("the SSH credentials are not a private key followed by a certificate")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key := filepath.Join(dir, "sesame-"+v.GrantID)
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(key+"-cert.pub", []byte(cert+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Wrote %s and %s-cert.pub\n", key, key)
	if v.Hint != "" {
		fmt.Fprintf(e.stdout, "Use: %s\n", strings.ReplaceAll(v.Hint, "<key>", key))
	}
	return nil
}
