package awsidc

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The vectors are from the AWS Signature Version 4 test suite
// (aws-sig-v4-test-suite: get-vanilla, post-vanilla,
// get-vanilla-query-order-key-case, post-x-www-form-urlencoded), signed
// with its example credentials at 20150830T123600Z in us-east-1 for the
// service "service".
func TestSignV4AWSTestSuite(t *testing.T) {
	t.Parallel()
	creds := credentials{accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	now := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	const prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	for _, tc := range []struct {
		name, method, url, body string
		headers                 map[string]string
		wantCreq, want          string
	}{
		{
			name: "get-vanilla", method: http.MethodGet, url: "https://example.amazonaws.com/",
			wantCreq: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			want:     prefix + "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		},
		{
			name: "post-vanilla", method: http.MethodPost, url: "https://example.amazonaws.com/",
			want: prefix + "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
		},
		{
			name: "get-vanilla-query-order-key-case", method: http.MethodGet, url: "https://example.amazonaws.com/?Param2=value2&Param1=value1",
			want: prefix + "SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
		},
		{
			name: "post-x-www-form-urlencoded", method: http.MethodPost, url: "https://example.amazonaws.com/", body: "Param1=value1",
			headers:  map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			wantCreq: "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
			want:     prefix + "SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), tc.method, tc.url, bytes.NewReader([]byte(tc.body)))
			require.NoError(t, err)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			creq := signV4(req, []byte(tc.body), creds, "us-east-1", "service", now)
			if tc.wantCreq != "" {
				require.Equal(t, tc.wantCreq, creq)
			}
			require.Equal(t, tc.want, req.Header.Get("Authorization"))
			require.Equal(t, "20150830T123600Z", req.Header.Get("X-Amz-Date"))
		})
	}
}

func TestSignV4SessionTokenIsSigned(t *testing.T) {
	t.Parallel()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://sso.eu-west-1.amazonaws.com/", http.NoBody)
	require.NoError(t, err)
	signV4(req, nil, credentials{accessKeyID: "ASIA", secretAccessKey: "s", sessionToken: "tok"}, "eu-west-1", "sso", time.Unix(0, 0))
	require.Equal(t, "tok", req.Header.Get("X-Amz-Security-Token"))
	require.Contains(t, req.Header.Get("Authorization"), "SignedHeaders=host;x-amz-date;x-amz-security-token,")
}

func TestURIEncode(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a-b_c.d~e%20f%2Fg%3D%C3%A9", uriEncode("a-b_c.d~e f/g=é"))
}
