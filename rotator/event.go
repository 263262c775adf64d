package rotator

import (
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Limits of the event's fields, from the Secrets Manager API reference:
// a SecretId is at most 2048 characters, a ClientRequestToken at most 64.
const (
	MaxSecretIDLength = 2048
	MaxTokenLength    = 64
	// MaxSecretSize is the most a SecretString may hold: 65,536 bytes.
	MaxSecretSize = 65536
)

// Names of the event's fields, as Secrets Manager's JSON spells them:
// errors about the event name them so.
const (
	EventFieldStep     = "Step"
	EventFieldSecretID = "SecretId"
	EventFieldToken    = "ClientRequestToken"
)

// ValidateEvent checks a rotation event before anything uses it: Step is
// one of the four steps, SecretId and ClientRequestToken are present,
// within the API's lengths, valid UTF-8 and free of control characters.
// The error names the field, wraps ErrUnknownStep or ErrInvalidEvent, and
// quotes the value with Quote (cut, escaped), never raw.
func ValidateEvent(ev events.SecretsManagerSecretRotationEvent) error {
	if !Step(ev.Step).Valid() {
		if ev.Step == "" {
			return fmt.Errorf("%w: field %s is empty; want createSecret, setSecret, testSecret or finishSecret", ErrUnknownStep, EventFieldStep)
		}
		return fmt.Errorf("%w: field %s is %s; want createSecret, setSecret, testSecret or finishSecret", ErrUnknownStep, EventFieldStep, Quote(ev.Step))
	}
	if err := checkEventField(EventFieldSecretID, ev.SecretID, MaxSecretIDLength); err != nil {
		return err
	}
	return checkEventField(EventFieldToken, ev.ClientRequestToken, MaxTokenLength)
}

func checkEventField(field, v string, max int) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: field %s is empty", ErrInvalidEvent, field)
	case len(v) > max:
		return fmt.Errorf("%w: field %s is %d bytes long (at most %d): %s", ErrInvalidEvent, field, len(v), max, Quote(v))
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: field %s is not valid UTF-8: %s", ErrInvalidEvent, field, Quote(v))
	}
	for _, c := range v {
		if IsControlOrFormat(c) {
			return fmt.Errorf("%w: field %s holds control or format characters: %s", ErrInvalidEvent, field, Quote(v))
		}
	}
	return nil
}

// eventLabel is how a step's error starts: the step and the secret, as
// sent. A field ValidateEvent refuses is left out (the error quotes it
// once, cut), so a hostile one is not printed twice.
func eventLabel(ev events.SecretsManagerSecretRotationEvent) string {
	step := "rotation"
	if Step(ev.Step).Valid() {
		step = ev.Step
	}
	if checkEventField(EventFieldSecretID, ev.SecretID, MaxSecretIDLength) != nil {
		return step
	}
	return step + " " + Printable(ev.SecretID)
}
