package domain

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ParsePhone checks the Atom rule for a phone number: digits only, country
// code first, no "+", and a possible number for that country code. It
// answers the number unchanged. IsPossibleNumber (length per country) is
// used rather than IsValidNumber because the seeds' own example, a Panama
// number, fails the stricter check.
func ParsePhone(s string) (string, error) {
	if s == "" {
		return "", Errorf(KindInvalid, "phoneNumber: required", "phoneNumber")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return "", Errorf(KindInvalid, "phoneNumber: digits only, country code first, without '+' or spaces", "phoneNumber")
		}
	}
	if s[0] == '0' || len(s) < 8 || len(s) > 15 {
		return "", Errorf(KindInvalid, "phoneNumber: must start with the country code and have 8 to 15 digits", "phoneNumber")
	}
	num, err := phonenumbers.Parse("+"+s, "")
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return "", Errorf(KindInvalid, "phoneNumber: not a possible number for its country code", "phoneNumber")
	}
	return s, nil
}

// ParseE164 accepts an international number with or without a leading "+"
// (CloudChat, Wati) and answers it in ParsePhone's form.
func ParseE164(s string) (string, error) {
	return ParsePhone(strings.TrimPrefix(strings.TrimSpace(s), "+"))
}

// ParseNational accepts a national number (emkt's DDD + number) and prefixes
// the channel's default country code; a number that already starts with "+"
// or the country code and is possible as such is taken as international.
func ParseNational(s, countryCode string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "+") {
		return ParseE164(s)
	}
	if p, err := ParsePhone(countryCode + s); err == nil {
		return p, nil
	}
	return ParsePhone(s)
}

// MaskPhone keeps the last four digits, for logs.
func MaskPhone(s string) string {
	if len(s) <= 4 {
		return "****"
	}
	return strings.Repeat("*", len(s)-4) + s[len(s)-4:]
}
