// Package ids makes identifiers: a short prefix naming the kind of thing
// ("req", "grt") and a 26-character, time-ordered, random suffix in
// Crockford base32 (the ULID layout). IDs made later sort after IDs made
// earlier (to the millisecond), which keyset pagination relies on.
package ids

import (
	"crypto/rand"
	"time"
)

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// New returns prefix + "_" + a ULID-shaped suffix for time t.
func New(prefix string, t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	if _, err := rand.Read(b[6:]); err != nil {
		panic("ids: crypto/rand failed: " + err.Error()) // rand.Read never fails on supported platforms
	}
	return prefix + "_" + encode(b)
}

// encode writes 128 bits as 26 base32 characters, most significant first.
func encode(b [16]byte) string {
	out := make([]byte, 26)
	// 130 bits of room: the first character carries the top 3 bits.
	var acc uint64
	bits := 2 // pad so that 128 bits fill 26*5 = 130
	j := 0
	for _, c := range b {
		acc = acc<<8 | uint64(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out[j] = alphabet[(acc>>uint(bits))&31]
			j++
		}
	}
	return string(out)
}

// Token returns n random bytes encoded as lowercase base32 without
// padding, for secrets such as API tokens and login codes.
func Token(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("ids: crypto/rand failed: " + err.Error())
	}
	const lower = "abcdefghijklmnopqrstuvwxyz234567"
	out := make([]byte, 0, n*8/5+1)
	var acc uint32
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, lower[(acc>>uint(bits))&31])
		}
	}
	if bits > 0 {
		out = append(out, lower[(acc<<uint(5-bits))&31])
	}
	return string(out)
}
