// Package testservers starts real servers for tests: an OpenLDAP slapd
// (StartSlapd) and an OpenSSH sshd (StartSSHD). Each listens on loopback on
// free ports, keeps its files in a t.TempDir(), and is stopped by
// t.Cleanup. Tests never rely on a system service already running.
//
// The servers come from Debian's packages: slapd (/usr/sbin/slapd) and
// openssh-server (/usr/sbin/sshd); the LDAP tests use ldap-utils only for
// debugging by hand. When a binary is missing the test is skipped, unless
// the environment has CI=true, where a missing server is a broken machine
// and the test fails. StartSSHD also needs root (sshd's privilege
// separation and logging in as another user require it); as non-root it
// skips, or fails when CI=true.
//
// The package imports testing and is meant for _test.go files only.
package testservers
