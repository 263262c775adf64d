package rotatortest

import (
	"crypto/rand"
	"math/big"
	"strings"
)

// The character classes of GetRandomPassword. ExcludePunctuation: "Specifies
// whether to exclude the following punctuation characters from the
// password: ! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \ ] ^ _ ` { | } ~."
const (
	lowerChars = "abcdefghijklmnopqrstuvwxyz"
	upperChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digitChars = "0123456789"
	punctChars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

type getRandomPasswordIn struct {
	PasswordLength          *int64 `json:"PasswordLength"`
	ExcludeCharacters       string `json:"ExcludeCharacters"`
	ExcludeNumbers          bool   `json:"ExcludeNumbers"`
	ExcludePunctuation      bool   `json:"ExcludePunctuation"`
	ExcludeUppercase        bool   `json:"ExcludeUppercase"`
	ExcludeLowercase        bool   `json:"ExcludeLowercase"`
	IncludeSpace            bool   `json:"IncludeSpace"`
	RequireEachIncludedType *bool  `json:"RequireEachIncludedType"`
}

type getRandomPasswordOut struct {
	RandomPassword string `json:"RandomPassword"`
}

func (s *Server) getRandomPassword(body []byte) (any, *apiError) {
	var in getRandomPasswordIn
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	// PasswordLength: "If you don't include this parameter, the default
	// length is 32 characters." (PasswordLengthType: 1 to 4096.)
	length := int64(32)
	if in.PasswordLength != nil {
		length = *in.PasswordLength
	}
	if length < 1 || length > 4096 {
		return nil, errf(errValidation, "1 validation error detected: Value '%d' at 'passwordLength' failed to satisfy constraint: Member must have value between 1 and 4096", length)
	}
	// RequireEachIncludedType: "If you don't include this switch, the
	// password contains at least one of every character type."
	requireEach := in.RequireEachIncludedType == nil || *in.RequireEachIncludedType
	pw, err := randomPassword(int(length), passwordClasses(in), requireEach)
	if err != nil {
		return nil, err
	}
	s.cfg.hygiene.Track(pw)
	return getRandomPasswordOut{RandomPassword: pw}, nil
}

// passwordClasses returns the character classes the request allows, with
// ExcludeCharacters taken out; the space (IncludeSpace) is last and is not
// a required type.
func passwordClasses(in getRandomPasswordIn) []string {
	var classes []string
	add := func(exclude bool, chars string) {
		if exclude {
			return
		}
		chars = strings.Map(func(r rune) rune {
			if strings.ContainsRune(in.ExcludeCharacters, r) {
				return -1
			}
			return r
		}, chars)
		classes = append(classes, chars)
	}
	add(in.ExcludeLowercase, lowerChars)
	add(in.ExcludeUppercase, upperChars)
	add(in.ExcludeNumbers, digitChars)
	add(in.ExcludePunctuation, punctChars)
	add(!in.IncludeSpace, " ")
	return classes
}

func randomPassword(length int, classes []string, requireEach bool) (string, *apiError) {
	var pool strings.Builder
	var required []string
	for i, c := range classes {
		pool.WriteString(c)
		isSpace := i == len(classes)-1 && c == " "
		if c != "" && !isSpace {
			required = append(required, c)
		}
	}
	all := pool.String()
	if all == "" {
		return "", errf(errInvalidParameter, "The password can't be generated: every character type is excluded.")
	}
	out := make([]byte, 0, length)
	if requireEach {
		if length < len(required) {
			return "", errf(errInvalidParameter, "Password length is too short based on the required types.")
		}
		for _, c := range required {
			out = append(out, c[randInt(len(c))])
		}
	}
	for len(out) < length {
		out = append(out, all[randInt(len(all))])
	}
	// Fisher-Yates, so that the required characters are not always first.
	for i := len(out) - 1; i > 0; i-- {
		j := randInt(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

// randInt returns a uniform random int in [0, n) from crypto/rand.
func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err)
	}
	return int(v.Int64())
}
