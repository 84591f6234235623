package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// HashParams are the argon2id costs of new password hashes.
type HashParams struct {
	// Time is the number of passes; MemoryKiB the memory used, in KiB;
	// Threads the parallelism.
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultHashParams are RFC 9106's second recommended option with a
// smaller memory cost suited to an interactive login.
var DefaultHashParams = HashParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}

const (
	argonKeyLen  = 32
	argonSaltLen = 16
)

var b64 = base64.RawStdEncoding

// HashPassword returns an argon2id hash of pw in PHC format
// ($argon2id$v=19$m=65536,t=3,p=2$salt$hash) with DefaultHashParams. An
// empty password is refused.
func HashPassword(pw string) (string, error) {
	return DefaultHashParams.Hash(pw)
}

// Hash returns an argon2id hash of pw in PHC format with the costs of p.
// An empty password is refused.
func (p HashParams) Hash(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("hash password: the password is empty; choose a non-empty password")
	}
	if p.Time == 0 || p.MemoryKiB == 0 || p.Threads == 0 {
		return "", fmt.Errorf("hash password: argon2id costs %+v must all be positive", p)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read random salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches hash, an argon2id PHC string or
// a bcrypt hash ($2a$, $2b$, $2y$). Comparison is constant-time; an empty
// password, an empty hash or an unknown format never matches.
func VerifyPassword(hash, pw string) bool {
	if pw == "" || hash == "" {
		return false
	}
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2id(hash, pw)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
	}
	return false
}

func verifyArgon2id(hash, pw string) bool {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
		return false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 {
		return false
	}
	// Refuse absurd costs so a tampered hash cannot exhaust memory.
	if m > 4*1024*1024 || t > 100 {
		return false
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) == 0 {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 1024 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
