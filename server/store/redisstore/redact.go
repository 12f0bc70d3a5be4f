package redisstore

import "strings"

const redacted = "xxxxx"

// Redact returns the Redis URL with its password replaced by "xxxxx": in the
// userinfo (a userinfo without ":" is replaced whole, as it may be a
// password) and in any query parameter whose name contains "password". It
// never fails; a string that is not a URL at all is replaced whole.
func Redact(raw string) string {
	r, ok := splitRaw(raw)
	if !ok {
		if raw == "" {
			return ""
		}
		return redacted
	}
	var b strings.Builder
	b.WriteString(r.scheme + "://")
	if r.hasUser {
		if u, _, hasPassword := strings.Cut(r.userinfo, ":"); hasPassword {
			b.WriteString(u + ":" + redacted)
		} else if r.userinfo != "" {
			b.WriteString(redacted)
		}
		b.WriteString("@")
	}
	b.WriteString(r.hosts + r.path)
	if r.query != "" {
		b.WriteString("?" + redactQuery(r.query))
	}
	return b.String()
}

func redactQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, kv := range parts {
		if k, _, hasValue := strings.Cut(kv, "="); hasValue && isSecretParam(k) {
			parts[i] = k + "=" + redacted
		}
	}
	return strings.Join(parts, "&")
}

// scrub removes every password of raw from msg.
func scrub(raw, msg string) string {
	if raw == "" {
		return msg
	}
	r, ok := splitRaw(raw)
	if !ok {
		return strings.ReplaceAll(msg, raw, redacted)
	}
	msg = strings.ReplaceAll(msg, raw, Redact(raw))
	for _, s := range r.secrets() {
		msg = strings.ReplaceAll(msg, s, redacted)
	}
	return msg
}
